#!/bin/sh
# crash-storm.sh - crash safety of learning (issue 5).
#
# Three concurrent clients learn distinct generated messages through the
# controller (bayesc -s SOCK learn_spam / learn_ham, one message per call,
# retrying a message until bayesd answers), while bayesd is killed with
# SIGKILL at random moments CRASH_KILLS times (default 20) and restarted
# each time. Afterwards:
#   - PRAGMA integrity_check is "ok";
#   - every learn bayesd acknowledged ("learned") is present: learning the
#     message again (offline, into a copy of the database) says "already
#     learned". A learn committed but not acknowledged because of a kill
#     may be present too: the retry then says "already learned";
#   - each present message counts exactly once: the database's message
#     totals equal the number of present messages of each class.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77 with
# a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
KILLS=${CRASH_KILLS:-20}
PER_CLIENT=${CRASH_MESSAGES:-150}

for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }

t=$(mktemp -d) || exit 1
chmod 755 "$t"
bpid= cpids=
cleanup() {
	for p in $cpids; do kill "$p" 2>/dev/null; done
	[ -n "$bpid" ] && kill -9 "$bpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$t/bayesd.conf" <<EOC
milter_socket = inet:$port@127.0.0.1
controller_socket = $t/ctl.sock
database = $t/db.sqlite
min_learns = 0
score_local = yes
pidfile = $t/bayesd.pid
EOC

# distinct messages, one folder per client: clients 0 and 2 learn spam, 1 ham
python3 - "$t" "$PER_CLIENT" <<'PY'
import os, random, sys
t, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(11)
words = ['cheap', 'meds', 'offer', 'meeting', 'report', 'invoice', 'project', 'winner', 'loan', 'notes',
         'budget', 'casino', 'prize', 'schedule', 'review', 'urgent', 'account', 'lunch', 'deal', 'draft']
for k in range(3):
    d = os.path.join(t, 'msgs%d' % k)
    os.makedirs(d)
    for i in range(n):
        body = ' '.join(rnd.choice(words) + str(rnd.randrange(100000)) for _ in range(60))
        with open(os.path.join(d, 'm%04d.eml' % i), 'w') as f:
            f.write('From: c%d@example.net\nTo: x@example.org\nSubject: storm %d/%d %s\n'
                    'Message-ID: <storm-%d-%d@example.net>\n\n%s\n' % (k, k, i, rnd.choice(words), k, i, body))
PY

start() {
	"$BD" -f -c "$t/bayesd.conf" </dev/null >>"$t/bayesd.log" 2>&1 &
	bpid=$!
	wait_controller "$t/ctl.sock" "$bpid"
}
start || { no "bayesd did not start: $(tail -3 "$t/bayesd.log")"; exit 1; }

# client K: learn each message of msgsK until bayesd answers; log acks
client() {
	k=$1 verb=learn_spam
	[ "$k" = 1 ] && verb=learn_ham
	for m in "$t/msgs$k"/*.eml; do
		tries=0
		while [ $tries -lt 300 ]; do
			tries=$((tries + 1))
			out=$("$BC" -s "$t/ctl.sock" -t 10 "$verb" "$m" 2>/dev/null) || { sleep 0.05; continue; }
			case $out in
			*": learned") echo "$m" >>"$t/acked.$k" ;;
			*": already learned") echo "$m" >>"$t/unacked.$k" ;;	# committed, the ack lost to a kill
			*) echo "$m $out" >>"$t/odd.$k" ;;
			esac
			break
		done
		[ $tries -ge 300 ] && echo "$m" >>"$t/gaveup.$k"
	done
}
for k in 0 1 2; do
	client $k &
	cpids="$cpids $!"
done

n=0
while [ $n -lt "$KILLS" ]; do
	sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 1.0), 2))')"
	kill -9 "$bpid" 2>/dev/null
	wait "$bpid" 2>/dev/null
	n=$((n + 1))
	start || { no "bayesd did not restart after kill $n: $(tail -3 "$t/bayesd.log")"; exit 1; }
done
ok "$KILLS SIGKILLs during the storm, bayesd restarted each time"

# let the clients finish against a daemon that stays up (bounded)
for p in $cpids; do
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
	kill "$p" 2>/dev/null
done
wait $cpids 2>/dev/null
cpids=
kill "$bpid"
i=0
while kill -0 "$bpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$bpid" 2>/dev/null
wait "$bpid" 2>/dev/null
bpid=

cat "$t"/acked.* 2>/dev/null | sort >"$t/acked"
cat "$t"/unacked.* 2>/dev/null | sort >"$t/unacked"
acked=$(wc -l <"$t/acked")
[ "$acked" -gt 100 ] && ok "$acked learns acknowledged, $(wc -l <"$t/unacked") found committed on retry" ||
	no "only $acked learns acknowledged"
[ -s "$t/odd.0" ] || [ -s "$t/odd.1" ] || [ -s "$t/odd.2" ] && no "unexpected answers: $(cat "$t"/odd.* | head -3)"
[ -n "$(cat "$t"/gaveup.* 2>/dev/null)" ] && no "clients gave up on: $(cat "$t"/gaveup.* | head -3)"

ic=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$t/db.sqlite" 2>&1)
[ "$ic" = ok ] && ok "PRAGMA integrity_check: ok" || no "PRAGMA integrity_check: $ic"

# totals of the database as bayesd left it
st=$("$BC" --db "$t/db.sqlite" --json stat 2>&1)
spam_total=$(echo "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_spam"])' 2>/dev/null)
ham_total=$(echo "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_ham"])' 2>/dev/null)

# which messages are present: learn all of them again into a copy
mkdir "$t/copy"
cp "$t"/db.sqlite* "$t/copy/"
: >"$t/present"
for k in 0 1 2; do
	verb=learn_spam
	[ "$k" = 1 ] && verb=learn_ham
	"$BC" --db "$t/copy/db.sqlite" "$verb" "$t/msgs$k"/*.eml >"$t/again.$k" 2>&1
	sed -n 's/: already learned$//p' "$t/again.$k" >>"$t/present"
done
sort -o "$t/present" "$t/present"
missing=$(comm -23 "$t/acked" "$t/present" | wc -l)
[ "$missing" -eq 0 ] && ok "every acknowledged learn is present after recovery" ||
	no "$missing acknowledged learns missing after recovery: $(comm -23 "$t/acked" "$t/present" | head -3)"
pspam=$(grep -c -v '/msgs1/' "$t/present")
pham=$(grep -c '/msgs1/' "$t/present")
if [ "$spam_total" = "$pspam" ] && [ "$ham_total" = "$pham" ]; then
	ok "each learn counted once: totals spam $spam_total, ham $ham_total = messages present"
else
	no "totals spam ${spam_total:-?}, ham ${ham_total:-?} but present spam $pspam, ham $pham: $st"
fi
echo "$KILLS kills; integrity_check: $ic; acknowledged: $acked; missing: $missing"
[ "$fails" -eq 0 ]
