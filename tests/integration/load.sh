#!/bin/sh
# load.sh - bayesd under load (issue 5): LOAD_SESSIONS (default 200)
# concurrent SMTP sessions from Postfix's smtp-source into a private Postfix
# (tests/harness/postfix-harness) whose smtpd_milters is a real
# bayesd, relaying to smtp-sink, for LOAD_SECONDS (default 60), while two
# clients learn distinct messages through the controller the whole time.
# Asserts:
#   - every message smtp-source sent reached smtp-sink, scored (an
#     X-Spam-Status: Yes|No header) - none accepted by milter_default_action;
#   - zero milter errors in Postfix's log (no "milter" warning, timeout or
#     "milter-reject"/tempfail of any kind);
#   - zero lost learns: every learn bayesd acknowledged is in the database
#     (learning it again offline says "already learned") and the totals
#     count each exactly once;
#   - bayesd's RSS is bounded and flat, sampled every 2 s. While it learns,
#     the database grows and so do SQLite's page caches (up to the file's
#     size per handle), so RSS may rise, but by at most LOAD_RSS_BOUND_KB
#     (default 65536 kB) over the daemon at the start. Then the learners
#     stop and mail alone goes on for LOAD_SETTLE_SECONDS (default 24):
#     after the first half of that (the caches settle on the final file),
#     RSS may grow by at most LOAD_RSS_SLACK_KB (default 4096 kB), so a
#     leak per message would show.
# Prints the numbers (sessions, messages, learns, RSS samples) and "ok - "
# / "not ok - " lines; exits 1 on any failure, 77 with a SKIP line when
# Postfix is missing or not root. KEEP=1 keeps the work directory.
PH="$(cd "$(dirname "$0")/../harness" 2>/dev/null && pwd)/postfix-harness"
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (a private Postfix master)"; exit 77; fi
PATH=$PATH:/usr/sbin:/sbin
for c in postfix smtp-sink smtp-source python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed (apt-get install postfix python3)"; exit 77; }
done
[ -x "$PH" ] || { echo "SKIP: Postfix harness not found at $PH"; exit 77; }
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-$PWD/bayesd}
BC=${BAYESC:-$PWD/bayesc}
S=$PWD/corpus/samples
for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
SESSIONS=${LOAD_SESSIONS:-200}
SECONDS_=${LOAD_SECONDS:-60}
SETTLE=${LOAD_SETTLE_SECONDS:-24}
BOUND=${LOAD_RSS_BOUND_KB:-65536}
SLACK=${LOAD_RSS_SLACK_KB:-4096}

t=$(mktemp -d /tmp/bayesd-load.XXXXXX) || exit 1
chmod 755 "$t"
pid= pf=0 lpids= spid=
cleanup() {
	for p in $lpids $spid; do kill "$p" 2>/dev/null; done
	[ $pf = 1 ] && "$PH" stop "$t/pf" >/dev/null 2>&1
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "(kept $t)"; else rm -rf "$t"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null; }

mkdir -p "$t/bd"
"$BC" --db "$t/bd/db.sqlite" learn_spam "$S"/spam-*.eml >/dev/null 2>&1 &&
	"$BC" --db "$t/bd/db.sqlite" learn_ham "$S"/ham-*.eml >/dev/null 2>&1 || { no "offline training failed"; exit 1; }
# distinct messages for the learners (more than a run can use)
python3 - "$t/learn" 4000 <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
words = ['cheap', 'meds', 'offer', 'meeting', 'report', 'invoice', 'project', 'winner', 'loan', 'notes']
for k in (0, 1):
    os.makedirs(os.path.join(d, str(k)))
    for i in range(n // 2):
        body = ' '.join(rnd.choice(words) + str(rnd.randrange(10**6)) for _ in range(80))
        with open(os.path.join(d, str(k), 'm%05d.eml' % i), 'w') as f:
            f.write('From: l%d@example.net\nTo: x@example.org\nSubject: load %d/%d\n'
                    'Message-ID: <load-%d-%d@example.net>\n\n%s\n' % (k, k, i, k, i, body))
PY

mport=$(free_port)
cat >"$t/bd/bayesd.conf" <<EOF
milter_socket = inet:$mport@127.0.0.1
controller_socket = $t/bd/ctl.sock
database = $t/bd/db.sqlite
min_learns = 0
score_local = yes
pidfile =
log_level = warning
EOF
"$BD" -f -c "$t/bd/bayesd.conf" </dev/null >"$t/bayesd.log" 2>&1 &
pid=$!
wait_controller "$t/bd/ctl.sock" "$pid" || { no "bayesd did not start: $(tail -3 "$t/bayesd.log")"; exit 1; }

# 200 sessions need smtpd processes (default_process_limit 100) and no
# per-client limit (all sessions come from 127.0.0.1)
if "$PH" start "$t/pf" --untrusted --milter "inet:$mport@127.0.0.1" \
	--set default_process_limit=$((SESSIONS + 50)) --set smtpd_client_connection_count_limit=0 \
	--set smtpd_client_connection_rate_limit=0 --set smtpd_client_message_rate_limit=0 \
	--set milter_connect_timeout=10s --set milter_command_timeout=30s --set milter_content_timeout=60s \
	--set in_flow_delay=0 >"$t/pf.start" 2>&1; then
	pf=1; ok "private Postfix started: $(tail -1 "$t/pf.start")"
else
	no "private Postfix failed: $(tail -2 "$t/pf.start")"; exit 1
fi
port=$(. "$t/pf/harness.env"; echo "$PORT")

# the learners: one message per call, until told to stop
learner() { # K VERB
	for m in "$t/learn/$1"/*.eml; do
		[ -e "$t/stop" ] && break
		out=$("$BC" -s "$t/bd/ctl.sock" -t 30 "$2" "$m" 2>&1)
		case $out in
		*": learned") echo "$m" >>"$t/acked.$1" ;;
		*) echo "$m $out" >>"$t/failed.$1" ;;
		esac
	done
}
: >"$t/acked.0"; : >"$t/acked.1"
learner 0 learn_spam & lpids="$!"
learner 1 learn_ham & lpids="$lpids $!"
# RSS every 2 s
( while kill -0 "$pid" 2>/dev/null && ! [ -e "$t/stop-rss" ]; do rss; sleep 2; done >"$t/rss" ) &
spid=$!

# smtp-source rounds of SESSIONS concurrent sessions, one message each
# session, for $1 seconds
rounds=0 sent=0
send_for() {
	start=$(date +%s)
	while [ $(( $(date +%s) - start )) -lt "$1" ]; do
		n=$((SESSIONS * 5))
		if smtp-source -c -s "$SESSIONS" -m "$n" -l 3000 -f load@example.net -t rcpt@example.org \
			-S "load test" "127.0.0.1:$port" >"$t/source.out" 2>&1; then
			sent=$((sent + n)) rounds=$((rounds + 1))
		else
			no "smtp-source failed: $(tail -2 "$t/source.out")"; break
		fi
	done
}
send_for "$SECONDS_"
touch "$t/stop"
for p in $lpids; do wait "$p"; done
lpids=
echo "# $rounds rounds of smtp-source -s $SESSIONS while learning: $sent messages in $SECONDS_ s"
# then mail alone: the database stops growing, and RSS must stop too
learning_samples=$(wc -l <"$t/rss")
send_for "$SETTLE"
touch "$t/stop-rss"
wait "$spid" 2>/dev/null
spid=
echo "# then mail alone for $SETTLE s: $sent messages in all"

got=$("$PH" wait "$t/pf" "$sent" --timeout 120)
[ "$got" = "$sent" ] && ok "all $sent messages reached smtp-sink" || no "$got of $sent messages reached smtp-sink"
unscored=$(find "$t/pf/sink" -type f -exec grep -L '^X-Spam-Status: \(Yes\|No\), score=' {} + | wc -l)
[ "$unscored" = 0 ] && ok "every delivered message was scored" || no "$unscored delivered messages were not scored"
grep -i 'milter' "$t/pf/log/postfix.log" | grep -iv 'milter-discard' >"$t/milter-errors"
merr=$(wc -l <"$t/milter-errors")
[ "$merr" = 0 ] && ok "zero milter errors in Postfix's log" || no "$merr milter lines in Postfix's log: $(head -2 "$t/milter-errors")"

nack=$(cat "$t/acked.0" "$t/acked.1" | wc -l)
nfail=$(cat "$t/failed."* 2>/dev/null | wc -l)
[ "$nfail" = 0 ] && ok "$nack learns acknowledged, none failed" || no "$nfail learns failed: $(cat "$t/failed."* | head -2)"
kill "$pid"; i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pid=
cp "$t/bd/db.sqlite" "$t/copy.sqlite"
lost=0
for k in 0 1; do
	verb=learn_spam; [ $k = 1 ] && verb=learn_ham
	"$BC" --db "$t/copy.sqlite" $verb $(cat "$t/acked.$k") 2>&1 | grep -vc ': already learned$' >"$t/lost.$k"
	lost=$((lost + $(cat "$t/lost.$k")))
done
[ "$lost" = 0 ] && ok "zero lost learns: all $nack acknowledged learns present" || no "$lost acknowledged learns lost"
tot=$("$BC" --db "$t/bd/db.sqlite" --json stat | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["learned_spam"] + d["learned_ham"])')
[ "$tot" = $((12 + nack)) ] && ok "each learn counted once: $tot = 12 + $nack" || no "totals $tot, wanted $((12 + nack))"

# RSS: bounded while learning, flat once the database stops growing
n=$(wc -l <"$t/rss")
echo "# bayesd RSS samples (kB, every 2 s; learning ends after sample $learning_samples): $(tr '\n' ' ' <"$t/rss")"
first=$(head -1 "$t/rss") peak=$(sort -n "$t/rss" | tail -1)
# ASan keeps freed memory in quarantine and maps shadow memory: its RSS
# says nothing about bayesd's own (ASan reports leaks itself, at exit)
if nm "$BD" 2>/dev/null | grep -q __asan_init; then
	BOUND=$((BOUND * 16)) SLACK=$((SLACK * 16))
	echo "# sanitizer build: RSS bounds x16 ($BOUND kB, $SLACK kB)"
fi
if [ -n "$first" ] && [ "$n" -ge $((learning_samples + 4)) ]; then
	[ $((peak - first)) -le "$BOUND" ] && ok "RSS bounded: $first kB at the start, at most $peak kB (+$((peak - first)) kB <= $BOUND kB)" ||
		no "RSS unbounded: $first kB at the start, $peak kB at most (+$((peak - first)) kB > $BOUND kB)"
	w=$(( learning_samples + (n - learning_samples) / 2 ))
	base=$(sed -n "${w}p" "$t/rss") max=$(tail -n +"$w" "$t/rss" | sort -n | tail -1)
	[ $((max - base)) -le "$SLACK" ] && ok "RSS flat with mail alone: $base kB -> at most $max kB (+$((max - base)) kB <= $SLACK kB)" ||
		no "RSS grew with mail alone: $base kB -> $max kB (+$((max - base)) kB > $SLACK kB)"
else
	no "too few RSS samples ($n, $learning_samples while learning)"
fi
echo "# sessions $SESSIONS, messages $sent, milter errors $merr, learns $nack, lost $lost"
[ "$fails" -eq 0 ]
