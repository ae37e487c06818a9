#!/bin/sh
# controller.sh - bayesd's HTTP controller end to end: a real bayesd -f on
# a temporary config, driven by bayesc (UNIX socket and TCP) and by raw
# requests. Learn -> "learned", again -> "already learned", the other
# class -> "relearned", check shows the change, forget, stat JSON; TCP
# learns need the password (403 without); a 100 MB request is refused with
# 413 without the daemon growing; malformed HTTP gets a 4xx (or the
# connection closed) and the daemon keeps answering /health; SIGTERM stops
# it and removes the socket.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
S=corpus/samples

for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
for c in python3 curl; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
done

t=$(mktemp -d) || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && sleep 0.2
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh
expect() { # expected-exit description command...
	want=$1 what=$2; shift 2
	"$@" >"$t/out" 2>"$t/err"; rc=$?
	if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else
		no "$what: exit $rc, wanted $want: $(head -2 "$t/err") $(head -2 "$t/out")"; fi
}

# sample messages: the project's, or small ones made here
if [ -f $S/spam-1.eml ] && [ -f $S/ham-1.eml ]; then
	SPAM=$S/spam-1.eml HAM=$S/ham-1.eml
	SPAMS=$(ls $S/spam-*.eml) HAMS=$(ls $S/ham-*.eml)
else
	for i in 1 2 3; do
		printf 'From: deals%s@cheap-pills.example\nTo: you@example.org\nSubject: cheap pills %s, best prices\n\nBuy cheap viagra now, no prescription, click http://cheap-pills.example/%s\n' \
			$i $i $i >"$t/spam-$i.eml"
		printf 'From: alice@example.org\nTo: bob@example.org\nSubject: meeting notes %s\n\nHi Bob, the notes from meeting %s are attached. Regards, Alice\n' \
			$i $i >"$t/ham-$i.eml"
	done
	SPAM=$t/spam-1.eml HAM=$t/ham-1.eml
	SPAMS="$t/spam-1.eml $t/spam-2.eml $t/spam-3.eml" HAMS="$t/ham-1.eml $t/ham-2.eml $t/ham-3.eml"
fi

# three free loopback ports: milter, controller TCP
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))') || { echo "SKIP: no free port"; exit 77; }
set -- $ports
MPORT=$1 CPORT=$2
SOCK=$t/run/controller.sock
cat >"$t/bayesd.conf" <<EOF
milter_socket = inet:$MPORT@127.0.0.1
controller_socket = $SOCK
controller_socket_mode = 0660
controller_bind = 127.0.0.1:$CPORT
controller_password = s3cret-pass
max_request_bytes = 4M
controller_timeout = 5
database = $t/bayes.sqlite
min_learns = 0
score_local = yes
pidfile = $t/bayesd.pid
EOF

"$BD" -n -c "$t/bayesd.conf" >"$t/n.out" 2>&1 || { no "bayesd -n: $(cat "$t/n.out")"; exit 1; }
"$BD" -f -c "$t/bayesd.conf" >"$t/bayesd.log" 2>&1 &
pid=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -S "$SOCK" ]; then
	no "bayesd started and made $SOCK"; cat "$t/bayesd.log"; exit 1
fi
ok "bayesd started, controller socket exists"
mode=$(stat -c %a "$SOCK")
[ "$mode" = 660 ] && ok "socket mode 0660" || no "socket mode $mode, wanted 660"

H=http://localhost
ucurl() { curl -s --max-time 20 --unix-socket "$SOCK" "$@"; }

expect 0 "health" ucurl $H/health
grep -q '"status":"ok"' "$t/out" && ok "health says ok" || no "health: $(cat "$t/out")"

# learn, already learned, relearned
expect 0 "learn_spam over the socket" $BC -s "$SOCK" learn_spam $SPAM
grep -q ': learned$' "$t/out" && ok "learned" || no "learned: $(cat "$t/out")"
expect 0 "learn_spam again" $BC -s "$SOCK" learn_spam $SPAM
grep -q ': already learned$' "$t/out" && ok "already learned" || no "already learned: $(cat "$t/out")"
expect 0 "learn more spam and ham" $BC -s "$SOCK" learn_spam $SPAMS
expect 0 "learn ham" $BC -s "$SOCK" learn_ham $HAMS

# import-mbox in client mode: the same messages from an mbox are already learned
nh=0
for f in $HAMS; do
	nh=$((nh + 1))
	echo "From alice@example.org Mon Jan  1 00:00:00 2024"; sed 's/^\(>*From \)/>\1/' "$f"; echo
done >"$t/ham.mbox"
expect 0 "import-mbox --ham over the socket" $BC -s "$SOCK" import-mbox --ham "$t/ham.mbox"
grep -qx "$nh messages: 0 learned, $nh already learned, 0 relearned, 0 failed" "$t/out" &&
	ok "import-mbox summary: $nh already learned" || no "import-mbox summary: $(cat "$t/out") $(cat "$t/err")"

expect 1 "check -E a learned spam: spam" $BC -s "$SOCK" -E --json check $SPAM
before=$(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); print(d["probability"])' "$t/out")
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["spam"] is True and d["action"] in ("add header","reject") and d["probability"]>0.5, d' "$t/out" &&
	ok "check JSON: spam, action, probability $before" || no "check JSON: $(cat "$t/out")"

expect 0 "learn_ham the same message" $BC -s "$SOCK" --json learn_ham $SPAM
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["result"]=="relearned" and d["learned"] is True, d' "$t/out" &&
	ok "relearned (JSON)" || no "relearned: $(cat "$t/out")"
$BC -s "$SOCK" --json check $SPAM >"$t/out" 2>"$t/err"
after=$(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); print(d["probability"])' "$t/out")
python3 -c "import sys; sys.exit(0 if float('$after') < float('$before') else 1)" &&
	ok "check shows the change ($before -> $after)" || no "probability did not fall: $before -> $after"

expect 0 "check a spam without -c: scored, exit 0" $BC -s "$SOCK" check $SPAMS
expect 0 "check text output" $BC -s "$SOCK" check $HAM
grep -q '^Results for file: ' "$t/out" && grep -q '^Probability: 0\.' "$t/out" && grep -q '^Action: ' "$t/out" &&
	ok "rspamc-like lines" || no "text output: $(cat "$t/out")"
expect 0 "symbols (explain) from stdin" sh -c "$BC -s '$SOCK' symbols < $HAM"
grep -q '^Feature: ' "$t/out" && ok "features listed" || no "no features: $(cat "$t/out")"

expect 0 "forget" $BC -s "$SOCK" forget $SPAM
grep -q ': forgotten$' "$t/out" && ok "forgotten" || no "forgotten: $(cat "$t/out")"
expect 0 "forget again" $BC -s "$SOCK" forget $SPAM
grep -q ': not learned$' "$t/out" && ok "not learned" || no "not learned: $(cat "$t/out")"

expect 0 "stat --json" $BC -s "$SOCK" --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["learned_spam"]>=1 and d["learned_ham"]>=1 and d["tokens"]>0, d' "$t/out" &&
	ok "stat JSON parses with counts" || no "stat JSON: $(cat "$t/out")"
expect 0 "per-user learn (-u)" $BC -s "$SOCK" -u alice@example.org learn_spam $SPAM
expect 0 "per-user stat" $BC -s "$SOCK" -u alice@example.org --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["learned_spam"]==1 and d["learned_ham"]==0, d' "$t/out" &&
	ok "per-user statistics" || no "per-user stat: $(cat "$t/out")"
expect 0 "stat lists the users" $BC -s "$SOCK" --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); u={e["user"]:e for e in d["per_user"]}; assert u["alice@example.org"]["learned_spam"]==1 and list(d)[-1]=="per_user", d' "$t/out" &&
	ok "per_user in /stat" || no "per_user in /stat: $(cat "$t/out")"
expect 0 "stat text lists the users" $BC -s "$SOCK" stat
grep -Eq '^  alice@example.org +1 +0 +[1-9]' "$t/out" && ok "per-user table in client mode" || no "client per-user table: $(cat "$t/out")"
expect 0 "BAYESC_SOCKET is used" env BAYESC_SOCKET="$SOCK" $BC check $HAM

# TCP: learns need the password
expect 69 "TCP learn without password refused" $BC -H 127.0.0.1:$CPORT learn_spam $SPAM
grep -q '403' "$t/err" && ok "403 without password" || no "no 403: $(cat "$t/err")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Password: wrong' --data-binary @$SPAM http://127.0.0.1:$CPORT/learn_spam)
[ "$code" = 403 ] && ok "403 with a wrong password" || no "wrong password gave $code"
expect 0 "TCP learn with password" $BC -H 127.0.0.1:$CPORT -P s3cret-pass learn_spam $SPAM
expect 0 "TCP check without password" $BC -H 127.0.0.1:$CPORT check $HAM
# TCP reads of the statistics (/stat, /metrics) need the password unless
# controller_open_reads (issue 17); /health stays open for probes
for ep in stat metrics; do
	code=$(curl -s -o "$t/tstat" -w '%{http_code}' --max-time 20 http://127.0.0.1:$CPORT/$ep)
	[ "$code" = 403 ] && ! grep -q 'alice@example.org' "$t/tstat" &&
		ok "TCP /$ep without password: 403" || no "TCP /$ep without password: $code $(head -c 300 "$t/tstat")"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 http://127.0.0.1:$CPORT/health)
[ "$code" = 200 ] && ok "TCP /health without password: 200" || no "TCP /health without password: $code"
curl -s --max-time 20 -H 'Password: s3cret-pass' http://127.0.0.1:$CPORT/stat >"$t/tstat"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(u["user"]=="alice@example.org" for u in d["per_user"]), d' "$t/tstat" &&
	ok "TCP /stat with the password: per-user list" || no "TCP /stat with password: $(cat "$t/tstat")"
# controller_open_reads = yes (SIGHUP): figures yes, per-user addresses still no
echo "controller_open_reads = yes" >>"$t/bayesd.conf"
n0=$(grep -c 'reload: configuration' "$t/bayesd.log")
kill -HUP $pid
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" = "$n0" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
curl -s --max-time 20 http://127.0.0.1:$CPORT/stat >"$t/tstat"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "per_user" not in d and d["per_user_hidden"] is True and d["learned_spam"] >= 1, d' "$t/tstat" &&
	! grep -q 'alice@example.org' "$t/tstat" &&
	ok "open reads: TCP /stat without password, no per-user list" || no "open reads: TCP /stat without password: $(cat "$t/tstat")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 http://127.0.0.1:$CPORT/metrics)
[ "$code" = 200 ] && ok "open reads: TCP /metrics without password: 200" || no "open reads: TCP /metrics: $code"
# min_learns is 0 in this config: mature, a verdict; the check JSON says so
curl -s --max-time 20 --data-binary @$HAM http://127.0.0.1:$CPORT/check >"$t/tcheck"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mature"] is True and d["min_learns"]==0 and d["verdict"] in ("spam","ham") and "learned_ham" in d, d' "$t/tcheck" &&
	ok "check JSON: mature, min_learns, learned counts" || no "check JSON: $(cat "$t/tcheck")"

# daemon down: one clear line, EX_UNAVAILABLE
expect 69 "no daemon at the socket" $BC -s "$t/none.sock" check $HAM
grep -q 'cannot connect to .*none.sock: No such file or directory (is bayesd running?)' "$t/err" &&
	ok "clear error when the daemon is down" || no "daemon-down message: $(cat "$t/err")"

# a 100 MB request: 413, and the daemon does not grow
hwm() { awk '/^VmHWM/ { print $2 }' /proc/$pid/status; }
if [ -r /proc/$pid/status ]; then
	head -c 104857600 /dev/zero | tr '\0' 'x' >"$t/big"
	h0=$(hwm)
	code=$(ucurl -o /dev/null -w '%{http_code}' --data-binary @"$t/big" $H/learn_spam)
	[ "$code" = 413 ] && ok "100 MB learn refused with 413" || no "100 MB learn gave $code"
	code=$(ucurl -o /dev/null -w '%{http_code}' -H 'Expect:' --data-binary @"$t/big" $H/check)
	# a client that pushes the whole body without waiting may hit the closed
	# socket before it reads the 413 (curl then says 000): either is a refusal,
	# as long as the daemon logged it as one
	case $code in
	413|000) grep -q '/check: request of 104857600 bytes refused' "$t/bayesd.log" &&
		ok "100 MB check (no Expect) refused ($code)" || no "100 MB check gave $code, no refusal logged" ;;
	*) no "100 MB check gave $code" ;;
	esac
	# chunked, no length: refused (413 or connection dropped) once past the cap
	ucurl -o /dev/null -H 'Transfer-Encoding: chunked' --data-binary @"$t/big" $H/check
	h1=$(hwm)
	grow=$(( (h1 - h0) / 1024 ))
	[ "$grow" -le 20 ] && ok "daemon grew ${grow} MB (VmHWM ${h0} -> ${h1} kB)" ||
		no "daemon grew ${grow} MB (VmHWM ${h0} -> ${h1} kB)"
	rm -f "$t/big"
else
	echo "# no /proc/$pid/status: memory growth not measured"
fi

# malformed HTTP: a 4xx (or a closed connection), never a crash
python3 - "$SOCK" >"$t/raw" 2>&1 <<'EOF'
import socket, sys
def raw(data):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(8)
    s.connect(sys.argv[1])
    try:
        s.sendall(data)
    except OSError:
        pass    # the server may answer and close before it has read it all
    out = b''
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    return out.split(b'\r\n')[0].decode('latin-1')
cases = [
    (b'POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n', '4'),
    (b'POST /check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n', '4'),
    (b'GET /health HTTP/1.1\r\nthis is not a header\r\n\r\n', '4'),
    (b'POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', '4'),
    (b'DELETE /learn_spam HTTP/1.1\r\nHost: x\r\n\r\n', '4'),
    (b'GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n', '4'),
    (b'GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ' + b'A' * 300000 + b'\r\n\r\n', '4'),
    (b'\x00\x01\x02garbage\xff\r\n\r\n', None),
    (b'GARBAGE\r\n\r\n', None),
]
bad = 0
for req, want in cases:
    status = raw(req)
    code = status.split(' ')[1] if status.startswith('HTTP/1.') and ' ' in status else ''
    good = code.startswith(want) if want else (code == '' or code.startswith('4'))
    print('%s %r -> %r' % ('good' if good else 'BAD', req[:40], status))
    bad += not good
sys.exit(1 if bad else 0)
EOF
[ $? = 0 ] && ok "malformed requests get 4xx or a closed connection" || no "malformed requests: $(grep -v "^good" "$t/raw")"
expect 0 "still healthy after all that" ucurl $H/health
kill -0 $pid 2>/dev/null && ok "bayesd still running" || no "bayesd died"

expect 0 "metrics" ucurl $H/metrics
grep -q '^bayesd_learns_total{outcome="learned"} [1-9]' "$t/out" && grep -q '^bayesd_scan_seconds_bucket{le="+Inf"}' "$t/out" &&
	grep -q '^bayesd_uptime_seconds ' "$t/out" && ok "Prometheus metrics" || no "metrics: $(head -20 "$t/out")"
grep -q '^bayesd_autolearn_total{class="spam"} 0$' "$t/out" && grep -q '^bayesd_autolearn_skipped_total{reason="authenticated"} 0$' "$t/out" &&
	ok "autolearn series (autolearn off: zero)" || no "autolearn metrics: $(grep autolearn "$t/out")"
# gauges of the statistics (issue 17): they match /stat
ucurl $H/stat >"$t/st"
python3 - "$t/out" "$t/st" <<'PY' && ok "metrics gauges: learned per class, tokens, database bytes, last expiry, build info" || no "metrics gauges: $(grep -E 'learned_messages|bayesd_tokens|database_bytes|last_expire|build_info' "$t/out")"
import json, re, sys
m = open(sys.argv[1]).read(); st = json.load(open(sys.argv[2]))
def g(name):
    r = re.search('^' + re.escape(name) + r' (\S+)$', m, re.M)
    assert r, name
    return float(r.group(1))
assert g('bayesd_learned_messages{class="spam"}') == st['learned_spam'] and st['learned_spam'] > 0
assert g('bayesd_learned_messages{class="ham"}') == st['learned_ham']
assert g('bayesd_tokens') == st['tokens'] and g('bayesd_database_bytes') == st['db_bytes'] > 0
assert g('bayesd_last_expire_timestamp_seconds') == st['last_expire']
assert re.search(r'^bayesd_build_info\{version="[^"]+"\} 1$', m, re.M)
assert '# TYPE bayesd_tokens gauge' in m
PY

# rspamd's names (issue 17): /ping, /checkv2 in points, /learnspam with Deliver-To
[ "$(ucurl $H/ping | tr -d "\r")" = "pong" ] && ok "/ping: pong" || no "/ping: $(ucurl $H/ping | od -c | head -2)"
ucurl --data-binary @$SPAM $H/checkv2 >"$t/v2"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["is_skipped"] is False and d["required_score"]==5.0 and 0<=d["score"]<=10 and d["action"] in ("no action","add header","reject") and isinstance(d["symbols"], dict) and 0<=d["probability"]<=1, d' "$t/v2" &&
	ok "/checkv2: rspamd shape (score in points, required_score, action, symbols)" || no "/checkv2: $(cat "$t/v2")"
ucurl -H 'Deliver-To: dana@example.org' --data-binary @$HAM $H/learnham >"$t/v2"
grep -q '"user":"dana@example.org"' "$t/v2" && ucurl -H 'User: dana@example.org' $H/stat | grep -q '"learned_ham":1' &&
	ok "/learnham with Deliver-To: learned for that user" || no "/learnham Deliver-To: $(cat "$t/v2")"

# min_learns above what was learned (SIGHUP): no verdict, and check, stat
# and health say why; the probability is still the engine's
echo "min_learns = 1000" >>"$t/bayesd.conf"
n0=$(grep -c 'reload: configuration' "$t/bayesd.log")
kill -HUP $pid
i=0
while [ "$(grep -c 'reload: configuration' "$t/bayesd.log")" = "$n0" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ucurl --data-binary @$SPAM $H/check >"$t/imm"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mature"] is False and d["verdict"]=="unknown" and d["action"]=="no action" and d["spam"] is False and d["reason"]=="not enough training" and d["min_learns"]==1000 and 0 <= d["probability"] <= 1, d' "$t/imm" &&
	ok "below min_learns: check says unknown, no action, not enough training" || no "below min_learns check: $(cat "$t/imm")"
ucurl $H/stat >"$t/imm"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mature"] is False and d["reason"]=="not enough training", d' "$t/imm" &&
	ok "below min_learns: stat says not enough training" || no "below min_learns stat: $(cat "$t/imm")"
ucurl $H/health >"$t/imm"
grep -q '"mature":false' "$t/imm" && grep -q '"status":"ok"' "$t/imm" &&
	ok "below min_learns: health ok, mature false" || no "below min_learns health: $(cat "$t/imm")"
$BC -s "$SOCK" check $SPAM >"$t/imm" 2>&1
grep -q '^Reason: not enough training (spam=[0-9]* ham=[0-9]*, min_learns=1000)$' "$t/imm" && grep -q '^Action: no action$' "$t/imm" &&
	ok "below min_learns: bayesc check says why" || no "below min_learns bayesc check: $(cat "$t/imm")"
$BC -s "$SOCK" stat >"$t/imm" 2>&1
grep -q '^Not enough training: bayesd gives no verdict until 1000 spam and 1000 ham' "$t/imm" &&
	ok "below min_learns: bayesc stat says why" || no "below min_learns bayesc stat: $(cat "$t/imm")"

# SIGTERM: stops, removes the socket
kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then no "bayesd still running 10 s after SIGTERM"; else ok "bayesd stopped on SIGTERM"; pid=; fi
[ ! -e "$SOCK" ] && ok "controller socket removed" || no "controller socket left behind"

if [ $fails -gt 0 ]; then
	echo "# bayesd log:"; tail -20 "$t/bayesd.log"
	exit 1
fi
exit 0
