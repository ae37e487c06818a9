#!/bin/sh
# bayesc-rspamc.sh - bayesc's options mean what they mean in rspamc
# (issue 17, point 2): -h/--connect HOST[:PORT] is the controller host
# (it used to print the help and exit 0, having learned nothing), -d and
# --deliver-to the per-user key (it used to be an undocumented --db), a
# bare "bayesc FILE" or "bayesc < FILE" runs symbols (check), and the help
# is --help, -i/--ip and --helo pass the connection's meta. Against a
# bayesd with a TCP controller on loopback.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
. tests/tap.sh
need_built "$BD" "$BC"
need_cmds python3
t=$(mktemp -d) || exit 1
pid=
trap 'stop_bayesd; [ -n "$KEEP" ] || rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
sample_messages "$t/m"
MPORT=$(free_port) CPORT=$(free_port)
SOCK=$t/controller.sock
cat >"$t/bayesd.conf" <<CONF
milter_socket = inet:$MPORT@127.0.0.1
controller_socket = $SOCK
controller_bind = 127.0.0.1:$CPORT
controller_password = pw-17
database = $t/bayes.sqlite
pidfile = $t/bayesd.pid
CONF
"$BD" -f -c "$t/bayesd.conf" >"$t/bayesd.log" 2>&1 &
pid=$!
wait_controller "$SOCK" "$pid" || { no "bayesd started: $(tail -3 "$t/bayesd.log")"; exit 1; }

# spam_learned [-u USER] - the learned spam count stat shows
learned() { "$BC" -s "$SOCK" --json "$@" stat | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["learned_spam"], d["learned_ham"])'; }

"$BC" -h "127.0.0.1:$CPORT" -P pw-17 stat >"$t/out" 2>"$t/err"; rc=$?
if [ $rc = 0 ] && ! grep -q '^Usage' "$t/out" && [ -s "$t/out" ]; then
	ok "bayesc -h HOST:PORT stat: the host, exit 0: $(head -1 "$t/out")"
else
	no "bayesc -h HOST:PORT stat: exit $rc: $(head -2 "$t/out") $(head -2 "$t/err")"
fi
"$BC" -h "127.0.0.1:$CPORT" -P pw-17 learn_spam "$SPAM" >"$t/out" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(learned)" = "1 0" ] && ok "bayesc -h HOST:PORT -P learn_spam learned it" ||
	no "bayesc -h learn_spam: exit $rc, stat $(learned): $(head -2 "$t/out")"
"$BC" --connect "127.0.0.1:$CPORT" -P pw-17 learn_ham "$HAM" >"$t/out" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(learned)" = "1 1" ] && ok "bayesc --connect HOST:PORT learn_ham learned it" ||
	no "bayesc --connect learn_ham: exit $rc, stat $(learned): $(head -2 "$t/out")"
"$BC" -h "127.0.0.1:$CPORT" -P pw-17 -d alice@example.org learn_spam "$t/m/spam-2.eml" >"$t/out" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(learned -u alice@example.org)" = "1 0" ] && ok "bayesc -d USER learns for USER (deliver-to)" ||
	no "bayesc -d USER: exit $rc, alice's stat $(learned -u alice@example.org): $(head -2 "$t/out")"
"$BC" -s "$SOCK" --deliver-to bob@example.org learn_ham "$t/m/ham-2.eml" >"$t/out" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(learned -u bob@example.org)" = "0 1" ] && ok "bayesc --deliver-to USER learns for USER" ||
	no "bayesc --deliver-to USER: exit $rc, bob's stat $(learned -u bob@example.org): $(head -2 "$t/out")"
# -h HOST without a port: the default port, named in the error when nothing listens there
"$BC" -h 127.0.0.1 -t 2 stat >"$t/out" 2>"$t/err"; rc=$?
if grep -q '127.0.0.1:11334' "$t/err" || [ $rc = 0 ]; then
	ok "bayesc -h HOST (no port) goes to port 11334 (exit $rc)"
else
	no "bayesc -h HOST: exit $rc: $(head -2 "$t/err") $(head -2 "$t/out")"
fi

# the default command: symbols of the FILEs, or of standard input
"$BC" -s "$SOCK" symbols "$SPAM" "$HAM" >"$t/check" 2>&1
"$BC" -s "$SOCK" "$SPAM" "$HAM" >"$t/bare" 2>&1; rc=$?
[ $rc = 0 ] && [ -s "$t/check" ] && cmp -s "$t/check" "$t/bare" &&
	ok "bare 'bayesc FILE FILE' is symbols (check with its features): $(head -1 "$t/bare")" ||
	no "bare bayesc FILE: exit $rc: $(head -2 "$t/bare") (symbols said $(head -1 "$t/check"))"
"$BC" -s "$SOCK" symbols <"$SPAM" >"$t/check" 2>&1
"$BC" -s "$SOCK" <"$SPAM" >"$t/bare" 2>&1; rc=$?
[ $rc = 0 ] && [ -s "$t/check" ] && cmp -s "$t/check" "$t/bare" &&
	ok "bare 'bayesc < FILE' is symbols of standard input: $(head -1 "$t/bare")" ||
	no "bare bayesc < FILE: exit $rc: $(head -2 "$t/bare") (symbols said $(head -1 "$t/check"))"
"$BC" --db "$t/off.sqlite" learn_spam "$SPAM" >/dev/null 2>&1
"$BC" --db "$t/off.sqlite" "$SPAM" >"$t/bare-db" 2>&1; rc=$?
[ $rc = 0 ] && [ -s "$t/bare-db" ] && ok "bare 'bayesc --db DB FILE' checks it" ||
	no "bare bayesc --db DB FILE: exit $rc: $(head -2 "$t/bare")"
"$BC" --db "$t/off.sqlite" learn_eggs "$SPAM" >/dev/null 2>"$t/err"; rc=$?
[ $rc = 64 ] && grep -q "unknown command 'learn_eggs'" "$t/err" &&
	ok "a word that is neither a command nor a file is still an unknown command (64)" ||
	no "learn_eggs: exit $rc: $(cat "$t/err")"

# the help is --help; -h wants its host
"$BC" --help >"$t/out" 2>&1; rc=$?
[ $rc = 0 ] && grep -q '^Usage: bayesc' "$t/out" && grep -q -- '-h, --connect' "$t/out" &&
	grep -q -- '-d, --deliver-to' "$t/out" && ok "bayesc --help: exit 0, documents -h/--connect and -d/--deliver-to" ||
	no "bayesc --help: exit $rc: $(head -2 "$t/out")"
"$BC" -h >"$t/out" 2>"$t/err"; rc=$?
[ $rc = 64 ] && ! grep -q '^Usage' "$t/out" && ok "bayesc -h without a host: exit 64, no help" ||
	no "bayesc -h alone: exit $rc: $(head -1 "$t/out") $(head -1 "$t/err")"
# --db (no short option now) keeps working
"$BC" --db "$t/off.sqlite" stat >"$t/out" 2>&1 && ok "--db still works" || no "--db: $(head -2 "$t/out")"

# -i IP and --helo NAME reach the scoring as the milter's connection meta
# (through bayesd: the IP: and Helo: headers; offline: directly): the
# message gets its client-ip and helo features, so it has more tokens
tokens() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["tokens"])'; }
m1=$(ls "$t/m"/* | head -1)
for how in "-h 127.0.0.1:$CPORT -P pw-17" "--db $t/off.sqlite"; do
	plain=$("$BC" $how --json check "$m1" | tokens)
	meta=$("$BC" $how --json -i 192.0.2.55 --helo mail.example.net check "$m1" | tokens)
	ip=$("$BC" $how --json --ip 192.0.2.55 check "$m1" | tokens)
	[ -n "$plain" ] && [ "${meta:-0}" -gt "$plain" ] && [ "${ip:-0}" -gt "$plain" ] && [ "$meta" -gt "$ip" ] &&
		ok "bayesc ${how%% *} -i IP --helo NAME: scored with the meta ($plain tokens, $ip with -i, $meta with both)" ||
		no "bayesc ${how%% *} -i/--helo: tokens plain '$plain', -i '$ip', both '$meta'"
done
"$BC" --db "$t/off.sqlite" -i 192.0.2.55 learn_spam "$m1" >"$t/out" 2>&1; rc=$?
[ $rc = 64 ] && grep -q -- '-i and --helo go with check' "$t/out" && ok "-i with learn_spam: exit 64, says why" ||
	no "-i with learn_spam: exit $rc: $(head -1 "$t/out")"
"$BC" --db "$t/off.sqlite" -i '192.0.2.55
IP: 1' check "$m1" >"$t/out" 2>&1; rc=$?
[ $rc = 64 ] && ok "-i with a line break: refused (exit 64)" || no "-i with a line break: exit $rc"

[ $fails = 0 ] || exit 1
