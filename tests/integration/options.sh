#!/bin/sh
# options.sh - options that mean something only together are refused
# alone, with a one-line reason, and so are bad values and stray
# arguments (issue 19, point 3): bayesd -v without -n used to start the
# daemon in the background, silently; bayesc -t abc and "bayesc stat
# extra" were ignored. Each must exit 64 with one line on stderr, and
# bayesd -v must not leave a daemon behind.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
. tests/tap.sh
need_built "$BD" "$BC"
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
sample_messages "$t/m"
MPORT=$(free_port)
cat >"$t/bayesd.conf" <<EOF
milter_socket = inet:$MPORT@127.0.0.1
controller_socket = $t/controller.sock
database = $t/bayes.sqlite
min_learns = 0
score_local = yes
pidfile = $t/bayesd.pid
EOF

# refused WHAT REASON-WORD CMD... - exit 64, exactly one stderr line naming REASON-WORD, no stdout
refused() {
	what=$1 word=$2; shift 2
	timeout 10 "$@" >"$t/out" 2>"$t/err" </dev/null; rc=$?
	lines=$(wc -l <"$t/err")
	if [ $rc = 64 ] && [ "$lines" = 1 ] && grep -q -- "$word" "$t/err" && [ ! -s "$t/out" ]; then
		ok "$what: exit 64: $(cat "$t/err")"
	else
		no "$what: exit $rc, $lines stderr line(s): $(head -3 "$t/err") $(head -2 "$t/out")"
	fi
}

refused "bayesd -v (without -n)" "-v goes with -n" "$BD" -v -c "$t/bayesd.conf"
sleep 0.3
if [ -e "$t/bayesd.pid" ] || [ -e "$t/controller.sock" ] ||
	python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$MPORT"; then
	no "bayesd -v left a daemon behind (pid file, socket or milter port)"
	[ -f "$t/bayesd.pid" ] && kill "$(cat "$t/bayesd.pid")" 2>/dev/null
else
	ok "bayesd -v started no daemon"
fi
refused "bayesd -f -n" "give one" "$BD" -f -n -c "$t/bayesd.conf"
refused "bayesd stray argument" "unexpected argument" "$BD" -n -c "$t/bayesd.conf" extra
"$BD" -n -v -c "$t/bayesd.conf" >"$t/out" 2>&1 && grep -q '^milter_socket' "$t/out" &&
	ok "bayesd -n -v still prints the configuration" || no "bayesd -n -v: $(head -3 "$t/out")"
# issue 17: the password is never printed; trailing comments, include and conf.d are read
printf 'include pw.conf   # the secret in its own file\nmin_learns = 7  # a trailing comment\n' >"$t/sec.conf"
cat "$t/bayesd.conf" >>"$t/sec.conf"
echo 'controller_password = Hunter2-s3cret' >"$t/pw.conf"
mkdir -p "$t/sec.conf.d" && echo 'scan_limit = 2M' >"$t/sec.conf.d/10-scan.conf"
"$BD" -n -v -c "$t/sec.conf" >"$t/out" 2>&1
if ! grep -q 'Hunter2' "$t/out" && grep -q '^controller_password = # (set, not shown)$' "$t/out" &&
	grep -q '^scan_limit = 2097152$' "$t/out" && grep -q '^score_local = yes$' "$t/out"; then
	ok "bayesd -n -v: password not shown; include, trailing comments and sec.conf.d read"
else
	no "bayesd -n -v with a password: $(grep -E 'password|scan_limit|min_learns' "$t/out")"
fi

S=$t/controller.sock
refused "bayesc -t abc" "-t wants a number" "$BC" -s "$S" -t abc stat
refused "bayesc -t 0" "-t wants a number" "$BC" -s "$S" -t 0 stat
refused "bayesc -t 5x" "-t wants a number" "$BC" -s "$S" -t 5x stat
refused "bayesc stat extra" "stat takes no argument" "$BC" -s "$S" stat extra
refused "bayesc --db dump extra" "dump takes no argument" "$BC" --db "$t/x.sqlite" dump extra
refused "bayesc --db restore FILE" "restore reads standard input" "$BC" --db "$t/x.sqlite" restore dump.txt
refused "bayesc --db expire extra" "expire takes no argument" "$BC" --db "$t/x.sqlite" expire extra
refused "bayesc eval without INDEX" "eval INDEX" "$BC" --db "$t/x.sqlite" eval
refused "bayesc eval with two INDEXes" "eval INDEX" "$BC" --db "$t/x.sqlite" eval a b
refused "bayesc -P without -H" "-P" "$BC" -s "$S" -P secret learn_spam "$SPAM"
refused "bayesc -H and -s" "give one" "$BC" -s "$S" -H 127.0.0.1:1 stat
refused "bayesc --db with -H" "give one way" "$BC" --db "$t/x.sqlite" -H 127.0.0.1:1 stat
refused "bayesc --redis-prefix alone" "--redis-prefix goes with" "$BC" --db "$t/x.sqlite" --redis-prefix p stat
refused "bayesc --windows without eval" "go with eval" "$BC" --db "$t/x.sqlite" --windows 10 check "$SPAM"
refused "bayesc --windows 0" "--windows wants" "$BC" --db "$t/x.sqlite" --windows 0 eval i
refused "bayesc --train-only and --score-only" "--score-only" "$BC" --db "$t/x.sqlite" --train-only --score-only eval i
refused "bayesc --windows with --train-only" "not --train-only" "$BC" --db "$t/x.sqlite" --windows 5 --train-only eval i
refused "bayesc --classifier bogus" "--classifier" "$BC" --db "$t/x.sqlite" --classifier bogus eval i
refused "bayesc --score-param bogus=1" "--score-param wants" "$BC" --db "$t/x.sqlite" --score-param bogus=1 eval i
refused "bayesc --score-param min_dev=0.7" "--score-param wants" "$BC" --db "$t/x.sqlite" --score-param min_dev=0.7 eval i
refused "bayesc --classifier with the controller" "go with --db" "$BC" -s "$S" --classifier fisher stat
refused "bayesc --results without eval" "--results goes with eval" "$BC" --db "$t/x.sqlite" --results r check "$SPAM"
refused "bayesc --max-age-days without expire" "--max-age-days goes with expire" "$BC" --db "$t/x.sqlite" --max-age-days 3 stat
refused "bayesc -E with learn_spam" "-E and --explain go with check" "$BC" --db "$t/x.sqlite" -E learn_spam "$SPAM"
refused "bayesc --train-mode with the controller" "--train-mode works on a database" "$BC" -s "$S" --train-mode all learn_spam "$SPAM"
refused "bayesc --train-mode with check" "--train-mode goes with" "$BC" --db "$t/x.sqlite" --train-mode all check "$SPAM"
[ ! -e "$t/x.sqlite" ] && ok "no refused command created a database" || no "a refused command created $t/x.sqlite"
# what is allowed still runs
"$BC" --db "$t/y.sqlite" -t 5 learn_spam "$SPAM" >/dev/null 2>&1 && ok "bayesc -t 5 with a valid command runs" ||
	no "bayesc --db -t 5 learn_spam failed"
echo "# $fails failure(s)"
[ "$fails" = 0 ]
