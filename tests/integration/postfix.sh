#!/bin/sh
# postfix.sh - bayesd as a milter in a real Postfix, end to end.
#
# A private loopback-only Postfix (../shared/check/tools/postfix-harness.sh)
# relays to smtp-sink; its smtpd_milters points at a bayesd -f started here
# (as nobody when setpriv exists, as the packaged daemon runs) on a
# database trained offline with bayesc --db. Asserts:
#   - bayesd -n: "configuration OK"; a bad key is exit 78 naming file:line
#   - delivered messages carry X-Spam-Status: Yes|No, score=..., and
#     X-Spam-Flag: YES exactly on Yes; a trained spam is Yes, a ham No
#   - forged incoming X-Spam-Status / X-Spam-Flag headers are gone: only
#     bayesd's own remain, and the forged ones are kept as
#     X-Upstream-Spam-* (upstream_headers = rename, the default)
#   - one log line per message: queue id, client, score, action, ms
#   - after SIGHUP with reject_threshold = 0.5 the spam gets 550 5.7.1 at SMTP
#   - after SIGHUP with quarantine_threshold = 0.5 the spam is accepted and
#     lands in Postfix's hold queue (smfi_quarantine), logged action=quarantine
#   - after SIGHUP with trusted_networks = 127.0.0.0/8 a message is not
#     scored: bayesd adds no X-Spam-* header at all (absence = not scored;
#     its log line says "not scored: trusted network"), and forged X-Spam-*
#     headers are still removed
#   - graceful stop: after a SIGTERM during a slow SMTP DATA a new milter
#     connection is turned away at negotiation, yet bayesd waits for that
#     message, scores it (it is
#     delivered with X-Spam-Status) and only then exits
#   - SIGTERM stops bayesd within 10 s and removes its pid file; with bayesd
#     stopped, mail still flows (milter_default_action = accept)
#   - a stale UNIX socket left by a dead bayesd is reclaimed at start
#   - on a UNIX milter socket (mode 0666) a second Postfix gets the same
#     verdict header, and the socket file goes when bayesd stops
#   - a second bayesd on the same inet or UNIX milter socket refuses to
#     start (exit 71, saying why) and the first goes on
# (A SASL-authenticated sender takes the same not-scored path as a trusted
# one; the harness has no SASL, so that is left to the unit level.)
#
# Prints "ok - ..." / "not ok - ..." per assertion; exits 1 on any failure,
# 77 with a SKIP line when Postfix is missing or not running as root.
# KEEP=1 keeps the work directory.
PH="$(cd "$(dirname "$0")/../harness" 2>/dev/null && pwd)/postfix-harness"
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (a private Postfix master)"; exit 77; fi
PATH=$PATH:/usr/sbin:/sbin
for c in postfix smtp-sink python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed (apt-get install postfix python3)"; exit 77; }
done
[ -x "$PH" ] || { echo "SKIP: Postfix harness not found at $PH"; exit 77; }
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-$PWD/bayesd}
BC=${BAYESC:-$PWD/bayesc}
for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done

t=$(mktemp -d /tmp/bayesd-postfix.XXXXXX) || exit 1
chmod 755 "$t"
pid= pf=0 pf2=0
cleanup() {
	[ $pf = 1 ] && "$PH" stop "$t/pf" >/dev/null 2>&1
	[ $pf2 = 1 ] && "$PH" stop "$t/pf2" >/dev/null 2>&1
	stop_bayesd
	if [ "${KEEP:-0}" = 1 ]; then echo "(kept $t)"; else rm -rf "$t"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh
port_open() { python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(0.3); sys.exit(s.connect_ex(("127.0.0.1",int(sys.argv[1]))))' "$1"; }
# delivered_field RCPT COLUMN: a column of the sink's listing for the message to RCPT
# (columns: 3 X-Spam-Status, 4 X-Spam-Flag, 5 X-Spam-Bayesd, 6 Subject,
# 7 X-Spam-Score, 8 X-Spam-Level)
delivered_field() {
	"$PH" delivered "$t/pf" -H X-Spam-Status -H X-Spam-Flag -H X-Spam-Bayesd -H Subject \
		-H X-Spam-Score -H X-Spam-Level \
		-H X-Upstream-Spam-Status -H X-Upstream-Spam-Flag -H X-Upstream-Spam-Bayesd |
		awk -F '\t' -v r="<$1>" -v c="$2" '$2 == r { print $c }'
}
send() { # FILE RCPT: prints the SMTP reply
	"$PH" send "$t/pf" "$1" --to "$2" 2>&1
}
n_sent=0
wait_delivered() { # N: wait for N messages in the sink
	"$PH" wait "$t/pf" "$1" --timeout 60 >/dev/null
}

# messages: the project's samples, or 6 + 6 tiny ones made here
m=$t/msgs
mkdir -p "$t/bd"
sample_messages "$m"

# a spam with a forged "not spam" verdict on top
{ printf 'X-Spam-Status: No, score=-100.0 required=5.0\nX-Spam-Flag: NO\nx-spam-bayesd: p=0.00000\n'; grep -v '^From ' "$SPAM"; } >"$m/forged.eml"

db=$t/bd/db.sqlite
"$BC" --db "$db" learn_spam "$m"/spam-*.eml >"$t/learn.out" 2>&1 &&
	"$BC" --db "$db" learn_ham "$m"/ham-*.eml >>"$t/learn.out" 2>&1
rc=$?
if [ $rc = 0 ]; then ok "trained $db offline"; else no "offline training failed (exit $rc): $(tail -1 "$t/learn.out")"; exit 1; fi

mport=$(free_port)
conf=$t/bd/bayesd.conf
write_conf() { # extra lines
	cat >"$conf" <<EOF
# written by tests/integration/postfix.sh
milter_socket = inet:$mport@127.0.0.1
controller_socket = $t/bd/ctl.sock
database = $db
min_learns = 0
score_local = yes
pidfile = $t/bd/bayesd.pid
reject_threshold = off
$1
EOF
}
write_conf ""

# bayesd -n
out=$("$BD" -n -c "$conf" 2>&1); rc=$?
if [ $rc = 0 ] && [ "$out" = "configuration OK" ]; then ok "bayesd -n: configuration OK"; else no "bayesd -n: exit $rc: $out"; fi
printf 'spam_threshold = 0.9\nno_such_key = 1\n' >"$t/bad.conf"
out=$("$BD" -n -c "$t/bad.conf" 2>&1); rc=$?
case "$rc:$out" in
78:*"$t/bad.conf:2: unknown key 'no_such_key'"*) ok "bayesd -n on a bad key: exit 78, names file:line" ;;
*) no "bayesd -n on a bad key: exit $rc: $out" ;;
esac

# start bayesd as nobody, the way a packaged daemon runs after dropping root
run_as=""
if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	chown -R "$(id -u nobody):$(id -g nobody)" "$t/bd"
	run_as="setpriv --reuid=$(id -u nobody) --regid=$(id -g nobody) --clear-groups"
fi
$run_as "$BD" -f -c "$conf" </dev/null >"$t/bayesd.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 150 ]; do
	kill -0 "$pid" 2>/dev/null || { no "bayesd exited at start: $(tail -2 "$t/bayesd.log")"; pid=; exit 1; }
	port_open "$mport" && break
	sleep 0.1; i=$((i + 1))
done
if [ $i -lt 150 ]; then ok "bayesd listens on inet:$mport@127.0.0.1"; else no "bayesd did not listen in 15 s"; exit 1; fi
if [ "$(cat "$t/bd/bayesd.pid" 2>/dev/null)" = "$pid" ]; then ok "pid file holds bayesd's pid"; else no "pid file: '$(cat "$t/bd/bayesd.pid" 2>/dev/null)', pid $pid"; fi

# a second bayesd on the same milter socket (its own controller socket and
# pid file) must refuse to start, saying why, and leave the first serving
second_refused() { # WHAT EXPECTED-TEXT
	sed -e "s|^controller_socket = .*|controller_socket = $t/second.sock|" \
		-e "s|^pidfile = .*|pidfile = $t/second.pid|" "$conf" >"$t/second.conf"
	out=$(timeout 10 "$BD" -f -c "$t/second.conf" 2>&1 </dev/null); rc=$?
	case "$rc:$out" in
	71:*"$2"*) ok "$1: a second bayesd refuses (exit 71): $(echo "$out" | grep -m1 "$2" | sed 's/^[^:]*: //')" ;;
	*) no "$1: a second bayesd: exit $rc: $(echo "$out" | tail -1)" ;;
	esac
	kill -0 "$pid" 2>/dev/null && ok "$1: the first still runs" || no "$1: the first bayesd died"
}
second_refused "inet:$mport@127.0.0.1" "Address already in use"

# --untrusted: the harness's mynetworks is irrelevant to bayesd, but an
# untrusted client is what a real MX sees
if "$PH" start "$t/pf" --untrusted --milter "inet:$mport@127.0.0.1" \
	--set milter_command_timeout=10s --set milter_content_timeout=30s >"$t/pf.start" 2>&1; then
	pf=1; ok "private Postfix started: $(tail -1 "$t/pf.start")"
else
	no "private Postfix failed: $(tail -2 "$t/pf.start")"; exit 1
fi

# 1. scored messages
r_spam=$(send "$SPAM" spam-1@example.net)
r_ham=$(send "$HAM" ham-1@example.net)
r_forged=$(send "$m/forged.eml" forged-1@example.net)
for r in "$r_spam" "$r_ham" "$r_forged"; do
	case $r in 250*) n_sent=$((n_sent + 1)) ;; esac
done
if [ $n_sent = 3 ]; then ok "3 messages accepted (250)"; else no "SMTP replies: $r_spam / $r_ham / $r_forged"; fi
wait_delivered 3 || no "only $("$PH" delivered "$t/pf" --count) of 3 reached the sink"

check_verdict() { # RCPT EXPECTED(Yes|No)
	st=$(delivered_field "$1" 3) fl=$(delivered_field "$1" 4) de=$(delivered_field "$1" 5)
	case $st in
	"$2, score="[0-9]*.[0-9]" required=5.0 tests=BAYES_"[0-9]*" autolearn="[a-z]*" version=bayesd-"?*)
		ok "$1: X-Spam-Status: $st" ;;
	*) no "$1: X-Spam-Status '$st', expected '$2, score=S.S required=5.0 tests=BAYES_NN autolearn=A version=bayesd-V'" ;;
	esac
	if [ "$2" = Yes ] && [ "$fl" = YES ]; then ok "$1: X-Spam-Flag: YES on Yes"
	elif [ "$2" = No ] && [ "$fl" = - ]; then ok "$1: no X-Spam-Flag on No"
	else no "$1: X-Spam-Flag '$fl' with X-Spam-Status '$st'"; fi
	case $de in
	"p="*" tokens="*" version="*) ok "$1: X-Spam-Bayesd: $de" ;;
	*) no "$1: X-Spam-Bayesd '$de'" ;;
	esac
}
check_verdict spam-1@example.net Yes
check_verdict ham-1@example.net No
# SpamAssassin-style points and stars (issue 17): spam has >= 5 points and
# as many stars as whole points; ham fewer than 5
sc=$(delivered_field spam-1@example.net 7) lv=$(delivered_field spam-1@example.net 8)
hs=$(delivered_field ham-1@example.net 7) hl=$(delivered_field ham-1@example.net 8)
if python3 -c 'import sys; s,l,h,hl=sys.argv[1:]; assert 5<=float(s)<=10 and l=="*"*int(float(s)) and float(h)<5 and (hl=="-" or hl=="*"*int(float(h)))' "$sc" "$lv" "$hs" "$hl"; then
	ok "X-Spam-Score/X-Spam-Level: spam $sc '$lv', ham $hs '$hl'"
else no "X-Spam-Score/X-Spam-Level: spam '$sc' '$lv', ham '$hs' '$hl'"; fi
# forged: exactly one X-Spam-Status (ours, Yes) and one X-Spam-Flag (YES)
check_verdict forged-1@example.net Yes
case $(delivered_field forged-1@example.net 5) in
*"|"*) no "forged X-Spam-Bayesd header left in place" ;;
*) ok "forged X-Spam-Bayesd header removed" ;;
esac
# upstream_headers = rename (the default): each forged header kept, once,
# under X-Upstream-Spam-*, with its value
us=$(delivered_field forged-1@example.net 9) uf=$(delivered_field forged-1@example.net 10)
ub=$(delivered_field forged-1@example.net 11)
if [ "$us" = "No, score=-100.0 required=5.0" ] && [ "$uf" = NO ] && [ "$ub" = "p=0.00000" ]; then
	ok "forged headers renamed: X-Upstream-Spam-Status: $us, X-Upstream-Spam-Flag: $uf, X-Upstream-spam-bayesd: $ub"
else no "X-Upstream-Spam-*: Status '$us', Flag '$uf', Bayesd '$ub'"; fi
[ "$(delivered_field spam-1@example.net 9)" = - ] && ok "no X-Upstream-Spam-* on a message that came without X-Spam-*" ||
	no "spam-1 got X-Upstream-Spam-Status '$(delivered_field spam-1@example.net 9)'"

# one log line per message: queue id first, client, score, action, ms
qid=$(echo "$r_spam" | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p')
line=$(grep "$qid: client=" "$t/bayesd.log" | head -1)
case $line in
*"$qid: client=127.0.0.1, score=0."*", action=flag, "*"ms="*) ok "log line: ${line#*]: }" ;;
*) no "no log line for $qid like 'QID: client=..., score=..., action=flag, ..., ms=...': '$line'" ;;
esac

# 2. reload with reject_threshold = 0.5: the spam is refused at SMTP
write_conf "reject_threshold = 0.5"
kill -HUP "$pid"
i=0
while ! grep -q 'reload: configuration' "$t/bayesd.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
r=$(send "$SPAM" spam-2@example.net)
case $r in
"550 5.7.1"*) ok "after SIGHUP (reject_threshold = 0.5) spam refused: $r" ;;
*) no "after SIGHUP (reject_threshold = 0.5) spam got: $r (wanted 550 5.7.1)" ;;
esac
r=$(send "$HAM" ham-2@example.net)
case $r in
250*) n_sent=$((n_sent + 1)); ok "ham still accepted: $r" ;;
*) no "ham after the reload got: $r" ;;
esac
kill -0 "$pid" 2>/dev/null && ok "bayesd still running after SIGHUP" || no "bayesd died on SIGHUP"
# postmaster@ (RFC 2142, exempt_recipients by default) gets the spam, unscored
r=$(send "$SPAM" postmaster@example.net)
case $r in
250*) n_sent=$((n_sent + 1)); ok "postmaster@ exempt: spam accepted despite reject_threshold 0.5: $r" ;;
*) no "postmaster@ got: $r" ;;
esac
grep -q 'not scored: exempt recipient' "$t/bayesd.log" && ok "log says: not scored: exempt recipient" ||
	no "no 'not scored: exempt recipient' log line"

# 2b. reload with quarantine_threshold = 0.5: the spam is accepted, then held
# by Postfix (smfi_quarantine), not delivered
write_conf "quarantine_threshold = 0.5"
kill -HUP "$pid"
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" -lt 2 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
r=$(send "$SPAM" held-1@example.net)
case $r in
250*) ok "after SIGHUP (quarantine_threshold = 0.5) spam accepted: $r" ;;
*) no "after SIGHUP (quarantine_threshold = 0.5) spam got: $r (wanted 250)" ;;
esac
qid=$(echo "$r" | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p')
i=0
while [ -z "$(find "$t/pf/queue/hold" -type f 2>/dev/null)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -n "$qid" ] && [ -n "$(find "$t/pf/queue/hold" -type f -name "$qid*" 2>/dev/null)" ]; then
	ok "quarantined: $qid is in Postfix's hold queue"
else
	no "quarantine: $qid not in $t/pf/queue/hold ($(find "$t/pf/queue/hold" -type f 2>/dev/null | wc -l) held)"
fi
grep -q "$qid: client=.*action=quarantine" "$t/bayesd.log" && ok "log says: action=quarantine" ||
	no "no 'action=quarantine' log line for $qid"

# 3. a trusted network is not scored
write_conf "reject_threshold = 0.5
trusted_networks = 127.0.0.0/8"
kill -HUP "$pid"
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" -lt 3 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
r=$(send "$m/forged.eml" trusted-1@example.net)
case $r in
250*) n_sent=$((n_sent + 1)); ok "trusted client: spam accepted, not rejected: $r" ;;
*) no "trusted client got: $r" ;;
esac
wait_delivered $n_sent || no "trusted message not delivered"
st=$(delivered_field trusted-1@example.net 3) fl=$(delivered_field trusted-1@example.net 4)
if [ "$st" = - ] && [ "$fl" = - ]; then ok "trusted client: not scored, no X-Spam-* header (forged ones removed)"
else no "trusted client: X-Spam-Status '$st', X-Spam-Flag '$fl' (wanted none)"; fi
grep -q 'not scored: trusted network' "$t/bayesd.log" && ok "log says: not scored: trusted network" ||
	no "no 'not scored: trusted network' log line"

# 3b. min_learns (issue 17): the few messages learned above are below 200
# of each class, so even with reject_threshold = 0.5 the spam is neither
# rejected nor flagged: "Unknown, not enough training", and the log says why
write_conf "reject_threshold = 0.5
min_learns = 200"
kill -HUP "$pid"
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" -lt 4 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
r=$(send "$SPAM" immature-1@example.net)
case $r in
250*) n_sent=$((n_sent + 1)); ok "below min_learns: spam accepted, not rejected: $r" ;;
*) no "below min_learns: spam got: $r" ;;
esac
wait_delivered $n_sent || no "below min_learns: message not delivered"
st=$(delivered_field immature-1@example.net 3) fl=$(delivered_field immature-1@example.net 4)
de=$(delivered_field immature-1@example.net 5)
if [ "$st" = "Unknown, not enough training" ] && [ "$fl" = - ]; then ok "below min_learns: X-Spam-Status: $st, no flag"
else no "below min_learns: X-Spam-Status '$st', X-Spam-Flag '$fl'"; fi
case $de in
"not enough training: spam="*" min_learns=200 "*) ok "below min_learns: X-Spam-Bayesd: $de" ;;
*) no "below min_learns: X-Spam-Bayesd '$de'" ;;
esac
grep -q 'action=none (not enough training: spam=[0-9]* ham=[0-9]*, min_learns=200)' "$t/bayesd.log" &&
	ok "log says: action=none (not enough training ...)" || no "no 'not enough training' log line"

# 3c. score_local = no (the default) leaves mail that did not come over
# SMTP unscored (Postfix's pickup: no address, or loopback with no port;
# the unit test milter_min_learns drives that case). A loopback SMTP
# client, as Postfix's test client here (fetchmail, a reinjection), has a
# port and carries mail from outside: it is scored, and rejected
write_conf "reject_threshold = 0.5
score_local = no"
kill -HUP "$pid"
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" -lt 5 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
r=$(send "$SPAM" local-1@example.net)
case $r in
550*) ok "loopback SMTP client with score_local = no: scored, spam rejected: $r" ;;
250*) n_sent=$((n_sent + 1)); no "loopback SMTP client with score_local = no: accepted unscored: $r" ;;
*) no "loopback SMTP client got: $r" ;;
esac
grep -q 'not scored: local submission' "$t/bayesd.log" && no "loopback SMTP client logged as a local submission" ||
	ok "no 'local submission' log line for a loopback SMTP client"

# 4. graceful stop: SIGTERM while a message is in flight (a client trickles
# its DATA). The milter port closes, bayesd waits for the message, scores
# it, then exits; the message is delivered with bayesd's verdict.
write_conf ""
kill -HUP "$pid"
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" -lt 6 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
pport=$(. "$t/pf/harness.env"; echo "$PORT")
python3 - "$pport" "$HAM" "$t/slow" >"$t/slow.out" 2>&1 <<'PY' &
import os, socket, sys, time
port, path, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = open(path, "rb").read().replace(b"\r\n", b"\n")
if msg.startswith(b"From "): msg = msg.split(b"\n", 1)[1]
msg = msg.replace(b"\n.", b"\n..").replace(b"\n", b"\r\n")
s = socket.create_connection(("127.0.0.1", port), 30); f = s.makefile("rb")
def cmd(c):
    if c: s.sendall(c + b"\r\n")
    while True:
        l = f.readline()
        if l[3:4] != b"-": return l.decode().strip()
cmd(None); cmd(b"EHLO slow.example"); cmd(b"MAIL FROM:<slow@example.org>")
cmd(b"RCPT TO:<drain-1@example.net>"); cmd(b"DATA")
s.sendall(msg[:len(msg) // 2])
open(flag + ".mid", "w").close()		# the message is in flight now
for _ in range(300):
    if os.path.exists(flag + ".go"): break
    time.sleep(0.1)
s.sendall(msg[len(msg) // 2:] + b"\r\n.\r\n"); print(cmd(b"")); cmd(b"QUIT")
PY
slow=$!
i=0
while [ ! -e "$t/slow.mid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill "$pid"
sleep 0.5
# a new MTA connection now is turned away at negotiation (the MTA then takes
# milter_default_action), while the message in flight goes on
r=$(timeout 20 python3 tests/integration/milter-send.py "127.0.0.1:$mport" "$HAM" 2>&1)
case $r in
error*) ok "graceful stop: a new milter connection is turned away ($r)" ;;
*) no "graceful stop: a new milter connection after SIGTERM got: $r" ;;
esac
kill -0 "$pid" 2>/dev/null && ok "graceful stop: bayesd waits for the message in flight" ||
	no "graceful stop: bayesd exited with a message in flight"
touch "$t/slow.go"
wait $slow
r=$(tail -1 "$t/slow.out")
case $r in
250*) n_sent=$((n_sent + 1)); ok "graceful stop: the message in flight accepted: $r" ;;
*) no "graceful stop: the message in flight got: $r" ;;
esac
wait_delivered $n_sent || no "graceful stop: the message in flight not delivered"
st=$(delivered_field drain-1@example.net 3)
case $st in
No,*|Yes,*) ok "graceful stop: the message in flight was scored: X-Spam-Status: $st" ;;
*) no "graceful stop: the message in flight has X-Spam-Status '$st' (not scored)" ;;
esac

# 4b. SIGTERM done: bayesd exits; mail flows without bayesd
stop_bayesd
if [ "$STOPPED_IN" != never ]; then ok "bayesd stopped on SIGTERM in $((STOPPED_IN / 10)).$((STOPPED_IN % 10)) s"; else no "bayesd ignored SIGTERM for 10 s"; fi
[ -e "$t/bd/bayesd.pid" ] && no "pid file left behind" || ok "pid file removed"
grep -q 'stopped' "$t/bayesd.log" && ok "log says: stopped" || no "no 'stopped' log line"
r=$(send "$HAM" down-1@example.net)
case $r in
250*) n_sent=$((n_sent + 1)); ok "with bayesd stopped: $r" ;;
*) no "with bayesd stopped: $r" ;;
esac
if wait_delivered $n_sent; then
	st=$(delivered_field down-1@example.net 3)
	[ "$st" = - ] && ok "with bayesd stopped: delivered, without X-Spam-Status" ||
		no "with bayesd stopped: X-Spam-Status '$st'"
else
	no "with bayesd stopped: not delivered"
fi

# 5. a UNIX milter socket (bayesd's own listener, mode 0666 for Postfix's
# user), through a second private Postfix; the socket goes at SIGTERM
sock=$t/bd/milter.sock
write_conf
sed -i "s|^milter_socket = .*|milter_socket = unix:$sock|" "$conf"
# a dead bayesd's socket file is there: it must be reclaimed, not refused
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
[ -S "$sock" ] || no "could not make a stale socket at $sock"
[ -n "$run_as" ] && chown -R "$(id -u nobody):$(id -g nobody)" "$t/bd"
$run_as "$BD" -f -c "$conf" </dev/null >"$t/bayesd-unix.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 150 ] && [ ! -S "$sock" ]; do sleep 0.1; i=$((i + 1)); done
while [ $i -lt 150 ] && ! python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$sock" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1; i=$((i + 1))
done
if [ -S "$sock" ] && kill -0 "$pid" 2>/dev/null; then ok "stale socket reclaimed: bayesd listens on unix:$sock (mode $(stat -c %a "$sock"))"; else no "no UNIX socket after 15 s: $(tail -2 "$t/bayesd-unix.log")"; fi
second_refused "unix:$sock" "is in use"
if "$PH" start "$t/pf2" --untrusted --milter "unix:$sock" --set milter_command_timeout=10s >"$t/pf2.start" 2>&1; then
	pf2=1
	r=$("$PH" send "$t/pf2" "$SPAM" --to unix-1@example.net 2>&1)
	case $r in 250*) ok "over the UNIX socket: $r" ;; *) no "over the UNIX socket: $r" ;; esac
	"$PH" wait "$t/pf2" 1 --timeout 60 >/dev/null
	st=$("$PH" delivered "$t/pf2" -H X-Spam-Status | awk -F '\t' '$2 == "<unix-1@example.net>" { print $3 }')
	case $st in Yes,*) ok "over the UNIX socket: X-Spam-Status: $st" ;; *) no "over the UNIX socket: X-Spam-Status '$st'" ;; esac
	"$PH" stop "$t/pf2" >/dev/null 2>&1; pf2=0
else
	no "second Postfix failed: $(tail -2 "$t/pf2.start")"
fi
stop_bayesd
[ -e "$sock" ] && no "UNIX socket left behind at stop" || ok "UNIX socket removed at stop"

grep -E 'fatal|error:' "$t/bayesd.log" | grep -v 'reload' | head -3 | while IFS= read -r l; do echo "# bayesd: $l"; done
if [ $fails -gt 0 ]; then
	echo "# bayesd log:"; sed 's/^/#   /' "$t/bayesd.log" | tail -20
	echo "$fails assertion(s) failed"
	exit 1
fi
echo "all passed"
exit 0
