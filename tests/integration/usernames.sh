#!/bin/sh
# usernames.sh - user names the JSON layer cannot hold are refused, on
# every route and in bayesc (issue 19, point 2): a real bayesd -f, raw
# requests with curl over the UNIX socket and TCP. Each of: bytes that are
# not UTF-8 (\xff\xfe), a NUL (?user=a%00b, which used to be cut to "a"),
# a control character, a name over 256 bytes, in the User: header and in
# ?user=, on /check, /learn_spam, /learn_ham, /forget and /stat: 400 with
# a message naming the problem, nothing learned, /stat's user count equal
# to its list; bayesc -u refuses the same names (exit 64) before sending;
# the log holds no raw byte that is not UTF-8 and no control character.
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
pid=
trap 'stop_bayesd; rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
sample_messages "$t/m"

CPORT=$(free_port)
start_test_bayesd "$t" <<EOF
controller_bind = 127.0.0.1:$CPORT
controller_password = pw
log_level = debug
EOF

# req WHERE PATH HEADER... - status code of a POST (GET for /stat) of $SPAM
req() {
	where=$1 path=$2; shift 2
	case $where in
	unix) base="--unix-socket $SOCK http://localhost" ;;
	tcp) base="http://127.0.0.1:$CPORT" ;;
	esac
	case $path in
	/stat*) m="-X GET" d= ;;
	*) m= d="--data-binary @$SPAM" ;;
	esac
	# shellcheck disable=SC2086
	curl -s -o "$t/body" -w '%{http_code}' $m $d -H "Password: pw" "$@" $base$path
}

long=$(python3 -c 'print("a" * 257)')
ok257=$(python3 -c 'print("a" * 256)')
for where in unix tcp; do
	for path in /check /learn_spam /learn_ham /forget /stat; do
		bad=
		# header forms: raw bytes, a control character, too long
		for h in "$(printf 'User: \377\376')" "$(printf 'User: a\033b')" "User: $long"; do
			code=$(req $where $path -H "$h")
			grep -q '"error": *"malformed user: the name' "$t/body" || code="$code(no reason)"
			[ "$code" = 400 ] || bad="$bad header:$code"
		done
		# query forms: NUL, raw bytes, a control character, too long
		for q in 'a%00b' '%ff%fe' 'a%0aINFO' "$long"; do
			code=$(req $where "$path?user=$q")
			grep -q '"error": *"malformed user: the name' "$t/body" || code="$code(no reason)"
			[ "$code" = 400 ] || bad="$bad query($q):$code"
		done
		[ -z "$bad" ] && ok "$where $path: bad user names refused with 400 and a reason" ||
			no "$where $path: $bad"
	done
done
code=$(req unix "/check?user=a%00b"); reason=$(cat "$t/body")
case $reason in *"NUL"*) ok "?user=a%00b: the reason names the NUL ($reason)" ;;
*) no "?user=a%00b: $code $reason" ;; esac

# good names still work: 256 bytes, non-ASCII UTF-8
code=$(req unix /learn_spam -H "User: $ok257")
[ "$code" = 200 ] && ok "a 256-byte user name is learned" || no "256-byte user: $code $(cat "$t/body")"
code=$(req unix /learn_spam -H "$(printf 'User: j\303\274rgen@example.org')")
[ "$code" = 200 ] && ok "a UTF-8 user name (jürgen) is learned" || no "UTF-8 user: $code $(cat "$t/body")"

# nothing else was learned, and /stat's count matches its list
curl -s --unix-socket "$SOCK" http://localhost/stat >"$t/stat.json"
python3 - "$t/stat.json" <<'PY' >"$t/stat.out" 2>&1
import json, sys
o = json.load(open(sys.argv[1]))
names = sorted(u["user"] for u in o["per_user"])
print(o["users"], len(o["per_user"]), " ".join(n[:12] for n in names))
sys.exit(0 if o["users"] == len(o["per_user"]) == 2 and "j\u00fcrgen@example.org" in names else 1)
PY
[ $? = 0 ] && ok "stat: users = 2 = entries listed ($(cat "$t/stat.out"))" ||
	no "stat: $(cat "$t/stat.out")"

# bayesc -u refuses the same names, before sending anything (exit 64)
for u in "$(printf '\377\376')" "$(printf 'a\033b')" "$long" "a b"; do
	"$BC" -s "$SOCK" -u "$u" learn_spam "$SPAM" >"$t/bc.out" 2>&1; rc=$?
	[ $rc = 64 ] && grep -q "user name" "$t/bc.out" || no "bayesc -u $(printf %s "$u" | od -An -c | head -1): exit $rc $(cat "$t/bc.out")"
	"$BC" --db "$t/off.sqlite" -u "$u" learn_spam "$SPAM" >"$t/bc.out" 2>&1; rc2=$?
	[ $rc2 = 64 ] || no "bayesc --db -u (bad name): exit $rc2"
done
[ "$fails" = 0 ] && ok "bayesc -u: invalid UTF-8, control character, 257 bytes, space: exit 64 (controller and --db)"
[ ! -e "$t/off.sqlite" ] && ok "bayesc --db with a bad -u created no database" || no "bayesc --db -u bad created $t/off.sqlite"

# the log: no byte that is not UTF-8, no control character but the newlines
python3 - "$t/bayesd.log" <<'PY' >"$t/log.out" 2>&1
import sys
raw = open(sys.argv[1], "rb").read()
try:
    raw.decode("utf-8")
except UnicodeDecodeError as e:
    print("not UTF-8 at byte", e.start); sys.exit(1)
bad = [c for c in raw if c < 0x20 and c != 0x0a]
if bad:
    print("control bytes:", sorted(set(bad))); sys.exit(1)
PY
[ $? = 0 ] && ok "bayesd's log is valid UTF-8 with no control character" || no "log: $(cat "$t/log.out")"
stop_bayesd
echo "# $fails failure(s)"
[ "$fails" = 0 ]
