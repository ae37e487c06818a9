#!/bin/sh
# slowloris.sh - the TCP controller under 3,000 slow clients (issue 19,
# point 1). Each sends a POST head with "Content-Length: 100000" and 3
# bytes of body, then waits; closed ones are opened again
# (tests/harness/slowloris.py, loopback only, bounded in time and count).
# Before, /health on TCP was refused for as long as they stayed open.
# Now, with libmicrohttpd's limits (controller_max_connections,
# controller_max_per_ip) and the oldest slow client dropped near them,
# /health and a learn over TCP, from the same address as the attackers,
# get through while they hold; so do the UNIX socket and the milter port.
# A client trickling its request a byte at a time is dropped after
# controller_timeout even though it is never idle.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
. tests/tap.sh
need_built "$BD" "$BC"
need_cmds python3 curl
t=$(mktemp -d) || exit 1
pid= apid=
trap '[ -n "$apid" ] && kill "$apid" 2>/dev/null; stop_bayesd; rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
sample_messages "$t/m"

CPORT=$(free_port)
start_test_bayesd "$t" <<EOF
controller_bind = 127.0.0.1:$CPORT
controller_password = pw
controller_timeout = 6
EOF
"$BD" -n -v -c "$t/bayesd.conf" | grep -q '^controller_max_connections = 64' && "$BD" -n -v -c "$t/bayesd.conf" |
	grep -q '^controller_max_per_ip = 16' && ok "defaults: controller_max_connections 64, controller_max_per_ip 16" ||
	no "defaults not shown by bayesd -n -v"

N=${SLOWLORIS_N:-3000}
python3 tests/harness/slowloris.py "$CPORT" "$N" 25 --ready "$t/ready" >"$t/attack.out" 2>&1 &
apid=$!
i=0; while [ ! -f "$t/ready" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$t/ready" ] && ok "$N slow POSTs sent ($(cat "$t/ready") still open on the client's side)" ||
	no "the attacker did not get its $N connections out"
sleep 2	# past the first wave: every slot the server has is a slow client's

# the honest clients, from 127.0.0.1 as the attackers, each with a 5 s budget
h_ok=0 h_n=0 l_ok=0 l_n=0 worst=0
for k in 1 2 3 4 5 6 7 8 9 10; do
	h_n=$((h_n + 1))
	r=$(curl -s -m 5 -o "$t/h.out" -w '%{http_code} %{time_total}' "http://127.0.0.1:$CPORT/health")
	case $r in 200*) h_ok=$((h_ok + 1)) ;; esac
	ms=$(echo "$r" | awk '{ printf "%d", $2 * 1000 }')
	[ "$ms" -gt "$worst" ] && worst=$ms
	if [ $k -le 3 ]; then
		l_n=$((l_n + 1))
		"$BC" -H "127.0.0.1:$CPORT" -P pw -t 5 learn_spam "$t/m/spam-$k.eml" >"$t/l.out" 2>&1 &&
			l_ok=$((l_ok + 1))
	fi
	sleep 0.3
done
[ $h_ok = $h_n ] && ok "TCP /health under attack: $h_ok of $h_n answered 200 (slowest ${worst} ms)" ||
	no "TCP /health under attack: $h_ok of $h_n answered (slowest ${worst} ms)"
[ $l_ok = $l_n ] && ok "TCP learns under attack: $l_ok of $l_n learned" || no "TCP learns under attack: $l_ok of $l_n ($(cat "$t/l.out"))"
"$BC" -s "$SOCK" -t 5 stat >/dev/null 2>&1 && ok "UNIX socket answers under attack" || no "UNIX socket stat failed under attack"
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),5)' "$MPORT" 2>/dev/null &&
	ok "milter port accepts under attack" || no "milter port refused under attack"
nfd=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
thr=$(awk '/^Threads/ { print $2 }' /proc/$pid/status 2>/dev/null)
[ "${thr:-9999}" -lt 200 ] && ok "bayesd bounded under attack: $nfd fds, $thr threads" ||
	no "bayesd under attack: $nfd fds, ${thr:-?} threads"
kill "$apid" 2>/dev/null; wait "$apid" 2>/dev/null; apid=
echo "# attacker: $(cat "$t/attack.out")"
grep -q 'dropped the oldest client still sending its request' "$t/bayesd.log" &&
	ok "the drops are logged (rate-limited): $(grep -c 'dropped the oldest' "$t/bayesd.log") line(s)" ||
	no "no log line about dropped slow clients"

# a trickler: one byte a second is never idle, but must finish in controller_timeout (6 s)
python3 - "$CPORT" >"$t/trickle.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
t0 = time.time()
try:
    while time.time() - t0 < 20:
        s.sendall(b"x")
        time.sleep(1)
        s.setblocking(False)
        try:
            if s.recv(100) == b"":
                break
        except BlockingIOError:
            pass
        s.setblocking(True)
except OSError:
    pass
print("%.1f" % (time.time() - t0))
PY
secs=$(tail -1 "$t/trickle.out")
awk -v s="$secs" 'BEGIN { exit !(s >= 5 && s < 12) }' && ok "a trickling request is dropped after controller_timeout (${secs} s)" ||
	no "trickling request lasted ${secs:-?} s (want about 6)"
curl -s -m 5 "http://127.0.0.1:$CPORT/health" | grep -q ok && ok "TCP /health after the attack" || no "TCP /health after the attack"
stop_bayesd
echo "# $fails failure(s)"
[ "$fails" = 0 ]
