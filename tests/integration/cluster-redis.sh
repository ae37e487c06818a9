#!/bin/sh
# cluster-redis.sh - three bayesd nodes sharing their statistics in one
# real redis-server on loopback (issue 7).
#
#   - 3 nodes x 4 concurrent learning clients, each message learned once
#     per call through the controller; a set of messages is learned by
#     every client of every node at once. Afterwards the message totals
#     equal the number of distinct messages learned, exactly, whichever
#     node is asked;
#   - a learn on node A is seen by scoring on node B;
#   - the scan history is a list on the same Redis: a message through A's
#     milter is a row of B's /history, and B learns it by its digest;
#   - Redis stopped mid-stream: mail still flows through the milter within
#     bounded time (on_error = accept), learns fail with a clear error;
#     after Redis is started again, learning and scoring work again
#     without restarting any bayesd;
#   - a read-only replica listed second in redis_servers: with the primary
#     down, a node scores from it, and learns fail clearly.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when redis-server (or python3) is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
PER_CLIENT=${CLUSTER_MESSAGES:-20}

for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server not installed (apt-get install redis-server)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }

t=$(mktemp -d) || exit 1
chmod 755 "$t"
rpid= npids= cpids= replpid=
cleanup() {
	for p in $cpids $npids $rpid $replpid; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $cpids $npids $rpid $replpid; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh

rport=$(free_port)
start_redis() {
	redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$t" \
		>>"$t/redis.log" 2>&1 &
	rpid=$!
	for i in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $rport), 0.2)" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "redis-server did not start:"; tail -5 "$t/redis.log"; exit 1
}
start_redis

for n in A B C; do
	mport=$(free_port)
	echo "$mport" >"$t/$n.mport"
	cat >"$t/$n.conf" <<EOC
milter_socket = inet:$mport@127.0.0.1
controller_socket = $t/$n.sock
database = $t/$n.sqlite
history_database = $t/$n.history.sqlite
min_learns = 0
score_local = yes
pidfile = $t/$n.pid
backend = redis
redis_servers = 127.0.0.1:$rport
redis_prefix = cluster:
redis_timeout_ms = 1000
redis_connect_timeout_ms = 1000
on_error = accept
EOC
	"$BD" -n -c "$t/$n.conf" >"$t/$n.check" 2>&1 || { no "node $n: bayesd -n rejects the config: $(tail -1 "$t/$n.check")"; exit 1; }
	"$BD" -f -c "$t/$n.conf" </dev/null >"$t/$n.log" 2>&1 &
	npids="$npids $!"
done
for i in $(seq 100); do
	[ -S "$t/A.sock" ] && [ -S "$t/B.sock" ] && [ -S "$t/C.sock" ] && break
	sleep 0.1
done
[ -S "$t/A.sock" ] && [ -S "$t/B.sock" ] && [ -S "$t/C.sock" ] || { no "nodes did not start"; tail -3 "$t"/*.log; exit 1; }

# messages: one folder per client (distinct), and "shared" ones every client learns
python3 - "$t" "$PER_CLIENT" <<'PY'
import os, random, sys
t, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
spamw = ['cheap', 'meds', 'offer', 'winner', 'loan', 'casino', 'prize', 'deal', 'viagra', 'bonus']
hamw = ['meeting', 'report', 'invoice', 'project', 'notes', 'budget', 'schedule', 'review', 'lunch', 'draft']
def msg(path, cls, tag):
    w = spamw if cls == 'spam' else hamw
    body = ' '.join(rnd.choice(w) for _ in range(40)) + ' ' + tag
    with open(path, 'w') as f:
        f.write('From: x%s@example.org\nTo: y@example.org\nSubject: %s %s\nMessage-ID: <%s@example.org>\n\n%s\n'
                % (tag, rnd.choice(w), tag, tag, body))
for node in 'ABC':
    for c in range(4):
        d = os.path.join(t, 'm', node + str(c))
        os.makedirs(d)
        cls = 'spam' if c % 2 == 0 else 'ham'
        for i in range(n):
            msg(os.path.join(d, '%s-%03d' % (cls, i)), cls, 'u%s%d%03d' % (node, c, i))
d = os.path.join(t, 'm', 'shared')
os.makedirs(d)
for i in range(10):
    cls = 'spam' if i % 2 == 0 else 'ham'
    msg(os.path.join(d, '%s-%03d' % (cls, i)), cls, 'shared%03d' % i)
msg(os.path.join(t, 'probe.eml'), 'spam', 'probe')
PY

# a minimal milter client (protocol 6): one message, prints the final action letter
cat >"$t/milter.py" <<'PY'
import socket, struct, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(('127.0.0.1', port), 10)
s.settimeout(10)
def send(cmd, data=b''):
    s.sendall(struct.pack('!I', len(data) + 1) + cmd + data)
def recv():
    n = b''
    while len(n) < 4:
        n += s.recv(4 - len(n))
    n = struct.unpack('!I', n)[0]
    d = b''
    while len(d) < n:
        d += s.recv(n - len(d))
    return d[:1], d[1:]
def final():
    while True:
        c, d = recv()
        if c in (b'a', b'c', b'r', b't', b'd', b'y'):
            return c
send(b'O', struct.pack('!III', 6, 0x1ff, 0))
recv()
msg = open(path, 'rb').read()
head, _, body = msg.partition(b'\n\n')
send(b'C', b'client.example\0' + b'4' + struct.pack('!H', 25) + b'192.0.2.1\0'); final()
send(b'H', b'client.example\0'); final()
send(b'M', b'<x@example.org>\0'); final()
send(b'R', b'<y@example.org>\0'); final()
for line in head.split(b'\n'):
    k, _, v = line.partition(b':')
    send(b'L', k + b'\0' + v.strip() + b'\0'); final()
send(b'N'); final()
send(b'B', body.replace(b'\n', b'\r\n')); final()
send(b'E')
print(final().decode())
send(b'Q')
PY
mail() { python3 "$t/milter.py" "$(cat "$t/$1.mport")" "$2" 2>&1; }
prob() { "$BC" -s "$t/$1.sock" --json check "$2" 2>/dev/null | sed -n 's/.*"probability": *\([0-9.eE+-]*\).*/\1/p'; }

p0=$(prob B "$t/probe.eml")

# 12 clients (4 per node) learn at once: their own messages, and every shared one
for node in A B C; do
	for c in 0 1 2 3; do
		(
			for f in "$t/m/$node$c"/* "$t/m/shared"/*; do
				case ${f##*/} in spam-*) v=learn_spam ;; *) v=learn_ham ;; esac
				"$BC" -s "$t/$node.sock" $v "$f" >>"$t/learn.$node$c" 2>&1 ||
					echo "FAILED $f" >>"$t/learn.$node$c"
			done
		) &
		cpids="$cpids $!"
	done
done
wait $cpids
cpids=
failed=$(cat "$t"/learn.* | grep -c FAILED)
[ "$failed" -eq 0 ] && ok "12 concurrent clients on 3 nodes: every learn answered" ||
	no "$failed learns failed: $(grep -h -B1 FAILED "$t"/learn.* | head -4)"
want_spam=$(find "$t/m" -name 'spam-*' -printf '%f %h\n' | awk '$2 !~ /shared/ || !seen[$1]++' | wc -l)
want_ham=$(find "$t/m" -name 'ham-*' -printf '%f %h\n' | awk '$2 !~ /shared/ || !seen[$1]++' | wc -l)
for n in A B C; do
	st=$("$BC" -s "$t/$n.sock" --json stat 2>&1)
	gs=$(echo "$st" | sed -n 's/.*"spam_messages": *\([0-9]*\).*/\1/p')
	gh=$(echo "$st" | sed -n 's/.*"ham_messages": *\([0-9]*\).*/\1/p')
	if [ "$gs" = "$want_spam" ] && [ "$gh" = "$want_ham" ]; then
		ok "node $n: totals $gs spam, $gh ham = the distinct messages learned"
	else
		no "node $n: totals '$gs' spam, '$gh' ham; learned $want_spam spam, $want_ham ham distinct ($st)"
	fi
done
sharedlog=$(cat "$t"/learn.* | grep -c 'shared.*: learned')
[ "$sharedlog" -eq 10 ] && ok "each shared message reported learned once of 12 tries" ||
	no "shared messages reported learned $sharedlog times (want 10)"

# learned through A, B, C: scored on B
p1=$(prob B "$t/probe.eml")
python3 -c "import sys; sys.exit(0 if float('$p0') == 0.5 and float('$p1') > 0.9 else 1)" 2>/dev/null &&
	ok "scoring on B sees the learns: probe $p0 before, $p1 after" ||
	no "probe scored '$p0' before and '$p1' after learning"
"$BC" -s "$t/A.sock" learn_spam "$t/probe.eml" >/dev/null 2>&1
st=$("$BC" -s "$t/B.sock" --json stat 2>&1)
echo "$st" | grep -q "\"spam_messages\": *$((want_spam + 1))[,}]" &&
	ok "a learn on A is counted on B at once" || no "B after a learn on A: $st"

# the scan history is a capped list on the same Redis (history_store = auto):
# a message through A's milter is a row on B's /history, and B learns it by digest
act=$(mail A "$t/m/C0/spam-003")
sleep 0.5	# the writer thread pushes the row off the scan's path
hrow=$(curl -s --unix-socket "$t/B.sock" 'http://l/history?text=uC0003' | python3 -c '
import json, sys
r = json.load(sys.stdin)["rows"]
print(len(r), r[0]["digest"] if r else "-", r[0]["learnable"] if r else "-")' 2>&1)
case $hrow in
"1 "*" True") ok "a message through node A ($act) is a row on node B's /history: $hrow" ;;
*) no "node B's /history after a message through A: $hrow" ;;
esac
tok=$(curl -s --unix-socket "$t/B.sock" http://l/csrf | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
b0=$("$BC" -s "$t/A.sock" --json stat | sed -n 's/.*"ham_messages": *\([0-9]*\).*/\1/p')
dl=$(curl -s -X POST -H "X-CSRF-Token: $tok" --unix-socket "$t/B.sock" \
	"http://l/learn_ham?digest=$(echo "$hrow" | cut -d' ' -f2)")
b1=$("$BC" -s "$t/A.sock" --json stat | sed -n 's/.*"ham_messages": *\([0-9]*\).*/\1/p')
[ -n "$b0" ] && [ "$b1" = $((b0 + 1)) ] && ok "B learns A's row by digest: ham $b0 -> $b1 ($dl)" ||
	no "learn by digest of A's row on B: ham '$b0' -> '$b1' ($dl)"
hl=$(redis-cli -p "$rport" llen cluster:history)
[ "$hl" -ge 1 ] && [ ! -e "$t/B.history.sqlite" ] && ok "the rows live in cluster:history ($hl), no history file" ||
	no "cluster:history holds '$hl' rows"

# Redis stops mid-stream: mail flows (on_error = accept) in bounded time, learns fail clearly
kill "$rpid"; wait "$rpid" 2>/dev/null; rpid=
s0=$(date +%s)
for n in A B C; do
	act=$(mail "$n" "$t/m/A0/spam-000")
	[ "$act" = a ] || [ "$act" = c ] && ok "node $n, Redis down: the milter answers '$act' (mail flows)" ||
		no "node $n, Redis down: milter answered '$act'"
done
s1=$(date +%s)
[ $((s1 - s0)) -le 6 ] && ok "three messages with Redis down took $((s1 - s0)) s" ||
	no "three messages with Redis down took $((s1 - s0)) s"
out=$("$BC" -s "$t/A.sock" learn_ham "$t/m/B1/ham-000" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -qi redis && ! echo "$out" | grep -qi learned; then
	ok "a learn with Redis down fails clearly: $out"
else
	no "a learn with Redis down: exit $rc: $out"
fi
grep -q 'on_error\|redis' "$t/B.log" && ok "node B logs the Redis failure" || no "node B logged nothing about Redis"

# Redis back (empty: it kept nothing): no restart of any bayesd needed
start_redis
sleep 0.5
out=$("$BC" -s "$t/C.sock" --json learn_spam "$t/m/A0/spam-001" 2>&1)
echo "$out" | grep -q '"result": *"learned"' && ok "after Redis restart, C learns again: $out" ||
	no "after Redis restart, C: $out"
p2=$(prob A "$t/m/A0/spam-001")
[ -n "$p2" ] && ok "after Redis restart, A scores again (p=$p2)" || no "after Redis restart, A does not score"
act=$(mail B "$t/m/A0/spam-002")
[ "$act" = a ] || [ "$act" = c ] && ok "after Redis restart, B's milter answers '$act'" || no "after Redis restart, B's milter answered '$act'"

# a replica, listed second: node D scores from it while the primary is down
replport=$(free_port)
redis-server --bind 127.0.0.1 --port "$replport" --save '' --appendonly no --dir "$t" \
	--replicaof 127.0.0.1 "$rport" >>"$t/replica.log" 2>&1 &
replpid=$!
sed -e "s/^redis_servers = .*/redis_servers = 127.0.0.1:$rport, 127.0.0.1:$replport/" \
    -e "s|$t/C\.|$t/D.|g" -e "s/^milter_socket = .*/milter_socket = inet:$(free_port)@127.0.0.1/" \
	"$t/C.conf" >"$t/D.conf"
"$BD" -f -c "$t/D.conf" </dev/null >"$t/D.log" 2>&1 &
npids="$npids $!"
for i in $(seq 100); do
	[ -S "$t/D.sock" ] && [ "$(redis-cli -p "$replport" info replication 2>/dev/null | tr -d '\r' |
		sed -n 's/^master_link_status://p')" = up ] && break
	sleep 0.1
done
sleep 0.5	# the last writes reach the replica
pd=$(prob D "$t/m/A0/spam-001")
kill "$rpid"; wait "$rpid" 2>/dev/null; rpid=
pr=$(prob D "$t/m/A0/spam-001")
[ -n "$pr" ] && [ "$pr" = "$pd" ] && ok "primary down: D scores from the replica (p=$pr, as before)" ||
	no "primary down: D scored '$pr' (before: '$pd')"
out=$("$BC" -s "$t/D.sock" learn_ham "$t/m/B1/ham-001" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "127.0.0.1:$rport" && ok "primary down: a learn on D fails clearly" ||
	no "primary down: a learn on D: exit $rc: $out"

[ "$fails" -eq 0 ] || { for n in A B C; do echo "--- $n.log"; tail -5 "$t/$n.log"; done; exit 1; }
exit 0
