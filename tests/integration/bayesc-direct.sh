#!/bin/sh
# bayesc-direct.sh - bayesc on the statistics themselves, each path with
# a check that fails when it breaks (issue 19, point 7):
#  (a) bayesc eval on a TREC index of the sample messages made here: the
#      figures add up (n, spam, ham, unreadable; percentages in 0..100),
#      --results has one line per message with the index's class; a
#      missing index fails (exit 66) and a missing message is counted.
#  (b) dump / restore / expire through -c CONFIG (SQLite): the dump is the
#      one --db gives, a restore through -c holds the same statistics,
#      expire 400 days on (BAYESD_NOW) removes tokens and learned messages.
#  (c) the same through --redis HOST:PORT and -c with backend = redis, on
#      a private redis-server on loopback: redis_password (right: works;
#      wrong or missing: refused) and redis_db (the keys land in that
#      database and no other).
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BC=${BAYESC:-./bayesc}
[ -x "$BC" ] || { echo "SKIP: $BC not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }
t=$(mktemp -d) || exit 1
rpid= rpid2=
. tests/tap.sh
trap '[ -n "$rpid" ] && stop_pid "$rpid"; [ -n "$rpid2" ] && stop_pid "$rpid2"; rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
sample_messages "$t/m"
NOW=$(date +%s)
LATER=$((NOW + 400 * 86400))

# (a) eval
for f in "$t"/m/*.eml; do
	case ${f##*/} in spam-*) echo "spam $f" ;; *) echo "ham $f" ;; esac
done >"$t/index"
nmsg=$(wc -l <"$t/index")
nspam=$(grep -c '^spam' "$t/index")
"$BC" --db "$t/eval.sqlite" --results "$t/results" eval "$t/index" >"$t/eval.out" 2>&1; rc=$?
python3 - "$t/eval.out" "$t/results" "$t/index" "$nmsg" "$nspam" <<'PY' >"$t/eval.check" 2>&1
import re, sys
out = open(sys.argv[1]).read()
n, nspam = int(sys.argv[4]), int(sys.argv[5])
f = dict(re.findall(r"([A-Za-z()0-9%-]+)=([0-9.]+)", out))
errs = []
if int(f.get("n", -1)) != n: errs.append("n=%s, want %d" % (f.get("n"), n))
if int(f.get("spam", -1)) != nspam: errs.append("spam=%s, want %d" % (f.get("spam"), nspam))
if int(f.get("ham", -1)) != n - nspam: errs.append("ham=%s, want %d" % (f.get("ham"), n - nspam))
if int(f.get("unreadable", -1)) != 0: errs.append("unreadable=%s" % f.get("unreadable"))
if not 0 < int(f.get("learned", -1)) <= n: errs.append("learned=%s" % f.get("learned"))
for k in ("(1-ROCA)%", "hm%", "sm%", "lam%"):
    if k not in f or not 0 <= float(f[k]) <= 100: errs.append("%s=%s" % (k, f.get(k)))
want = {l.split()[1]: l.split()[0] for l in open(sys.argv[3])}
rows = [dict(x.split("=", 1) for x in l.split()) for l in open(sys.argv[2])]
if len(rows) != n: errs.append("%d result lines, want %d" % (len(rows), n))
for r in rows:
    # TREC's result line: judge = the index's (true) class, class = the filter's verdict
    if want.get(r.get("file")) != r.get("judge") or r.get("class") not in ("spam", "ham") \
            or not 0 <= float(r.get("score", -1)) <= 1:
        errs.append("bad result line %s" % r); break
print("; ".join(errs) if errs else " ".join("%s=%s" % (k, f[k]) for k in ("n", "learned", "(1-ROCA)%", "lam%")))
sys.exit(1 if errs else 0)
PY
erc=$?
[ $rc = 0 ] && [ $erc = 0 ] &&
	ok "eval on $nmsg samples: figures add up ($(cat "$t/eval.check"))" || no "eval: exit $rc: $(cat "$t/eval.check") $(cat "$t/eval.out")"
"$BC" --db "$t/eval2.sqlite" eval "$t/no-such-index" >"$t/e2.out" 2>&1; rc=$?
[ $rc = 66 ] && grep -q 'cannot open index' "$t/e2.out" && ok "eval of a missing index fails (exit 66)" ||
	no "eval of a missing index: exit $rc $(cat "$t/e2.out")"
# --windows in the JSON summary: the windows cover the stream in order
"$BC" --db "$t/eval4.sqlite" --json --windows 3 --results "$t/r4" eval "$t/index" >"$t/e4.out" 2>&1
python3 - "$t/e4.out" "$nmsg" <<'PY' >"$t/e4.check" 2>&1 &&
import json, sys
j = json.loads(open(sys.argv[1]).read().splitlines()[-1]); n = int(sys.argv[2])
w = j["windows"]
assert j["n"] == n and j["window"] == 3, j
assert [x["first"] for x in w] == list(range(1, n + 1, 3)), w
assert sum(x["n"] for x in w) == n and all(x["n"] == 3 for x in w[:-1]), w
assert sum(x["spam"] for x in w) == j["spam"] and sum(x["ham"] for x in w) == j["ham"], w
print(len(w), "windows")
PY
	ok "eval --windows 3 --json: $(cat "$t/e4.check") covering all $nmsg" ||
	no "eval --windows: $(cat "$t/e4.check") $(tail -1 "$t/e4.out")"
# transfer: --train-only learns all and scores none; --score-only scores all and learns none
"$BC" --db "$t/eval5.sqlite" --train-only eval "$t/index" >"$t/e5.out" 2>&1; rc=$?
"$BC" --db "$t/eval5.sqlite" --json stat >"$t/s5a" 2>&1
"$BC" --db "$t/eval5.sqlite" --score-only --results "$t/r5" eval "$t/index" >"$t/e6.out" 2>&1; rc2=$?
"$BC" --db "$t/eval5.sqlite" --json stat >"$t/s5b" 2>&1
learned=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["learned_spam"]+j["learned_ham"])' "$t/s5a")
[ $rc = 0 ] && [ "$learned" = "$nmsg" ] && grep -q "^n=0 .*learned=$nmsg .*mode=train-only" "$t/e5.out" &&
	ok "eval --train-only learns all $nmsg and scores none" || no "eval --train-only: rc $rc learned $learned $(cat "$t/e5.out")"
[ $rc2 = 0 ] && cmp -s "$t/s5a" "$t/s5b" && [ "$(wc -l <"$t/r5")" = "$nmsg" ] &&
	grep -q "^n=$nmsg .*learned=0 .*mode=score-only" "$t/e6.out" &&
	ok "eval --score-only scores all $nmsg and leaves the database as it was" ||
	no "eval --score-only: rc $rc2 $(cat "$t/e6.out") $(diff "$t/s5a" "$t/s5b")"
"$BC" --db "$t/none.sqlite" --score-only eval "$t/index" >"$t/e7.out" 2>&1; rc=$?
[ $rc = 66 ] && [ ! -e "$t/none.sqlite" ] && ok "eval --score-only on a missing database fails (exit 66), creates none" ||
	no "eval --score-only, no database: exit $rc $(cat "$t/e7.out")"
{ cat "$t/index"; echo "spam $t/m/not-there.eml"; } >"$t/index2"
"$BC" --db "$t/eval3.sqlite" eval "$t/index2" >"$t/e3.out" 2>&1
grep -q 'unreadable=1' "$t/e3.out" && ok "eval counts a missing message as unreadable" ||
	no "eval with a missing message: $(head -2 "$t/e3.out")"

# (b) -c CONFIG with the SQLite backend
cat >"$t/sq.conf" <<EOF
database = $t/sq.sqlite
min_learns = 0
score_local = yes
EOF
cat >"$t/sq2.conf" <<EOF
database = $t/sq2.sqlite
min_learns = 0
score_local = yes
EOF
"$BC" -c "$t/sq.conf" learn_spam "$t"/m/spam-*.eml >/dev/null && "$BC" -c "$t/sq.conf" learn_ham "$t"/m/ham-*.eml >/dev/null ||
	no "learn through -c"
"$BC" -c "$t/sq.conf" dump >"$t/c.dump" 2>"$t/err"; rc=$?
"$BC" --db "$t/sq.sqlite" dump >"$t/d.dump"
[ $rc = 0 ] && [ -s "$t/c.dump" ] && cmp -s "$t/c.dump" "$t/d.dump" && grep -q "^n 0 $nspam $((nmsg - nspam))\$" "$t/c.dump" &&
	ok "dump through -c: the file's statistics ($(wc -l <"$t/c.dump") lines, n 0 $nspam $((nmsg - nspam)))" ||
	no "dump through -c: exit $rc $(cat "$t/err")"
"$BC" -c "$t/sq2.conf" restore <"$t/c.dump" >"$t/r.out" 2>&1; rc=$?
"$BC" -c "$t/sq2.conf" dump >"$t/c2.dump" 2>/dev/null
[ $rc = 0 ] && cmp -s "$t/c.dump" "$t/c2.dump" && ok "restore through -c: dumps again identically" ||
	no "restore through -c: exit $rc $(cat "$t/r.out")"
"$BC" -c "$t/sq2.conf" restore <"$t/c.dump" >"$t/r2.out" 2>&1; rc=$?
[ $rc != 0 ] && ok "restore through -c into a database that has statistics is refused (exit $rc)" ||
	no "a second restore through -c was accepted"
BAYESD_NOW=$LATER "$BC" -c "$t/sq2.conf" expire >"$t/x.out" 2>&1; rc=$?
tok=$(sed -n 's/^expired \([0-9]*\) tokens.*/\1/p' "$t/x.out")
lm=$(sed -n 's/.*, \([0-9]*\) learned messages.*/\1/p' "$t/x.out")
[ $rc = 0 ] && [ "${tok:-0}" -gt 0 ] && [ "${lm:-0}" = "$nmsg" ] &&
	ok "expire through -c, 400 days on: $tok tokens and $lm learned messages removed" ||
	no "expire through -c: exit $rc $(cat "$t/x.out")"
"$BC" -c "$t/sq2.conf" dump | grep -q '^t ' && no "tokens left after expiring everything" ||
	ok "expire through -c left no token row"

# (c) Redis: --redis, -c with backend = redis, redis_password, redis_db
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "# Redis part not run: redis-server / redis-cli not installed"
	echo "SKIP: redis-server not installed (apt-get install redis-server): eval and -c parts passed"
	[ "$fails" = 0 ] && exit 77
	exit 1
fi
RPORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --dir "$t" --requirepass 'r3dis pw' \
	>"$t/redis.log" 2>&1 &
rpid=$!
i=0; while ! redis-cli -p "$RPORT" -a 'r3dis pw' --no-auth-warning ping 2>/dev/null | grep -q PONG; do
	i=$((i + 1)); [ $i -gt 50 ] && { no "redis-server did not start: $(tail -2 "$t/redis.log")"; exit 1; }; sleep 0.1
done
rcli() { redis-cli -p "$RPORT" -a 'r3dis pw' --no-auth-warning "$@"; }
rconf() { # FILE DB PASSWORD-LINE
	printf 'database = %s/unused.sqlite\nbackend = redis\nredis_servers = 127.0.0.1:%s\nredis_db = %s\n%s\nredis_timeout_ms = 2000\nredis_connect_timeout_ms = 2000\n' \
		"$t" "$RPORT" "$2" "$3" >"$1"
}
rconf "$t/r.conf" 3 "redis_password = r3dis pw"
rconf "$t/rwrong.conf" 3 "redis_password = wrong"
rconf "$t/rnone.conf" 3 ""
"$BC" -c "$t/r.conf" learn_spam "$t"/m/spam-*.eml >"$t/rl.out" 2>&1 &&
	"$BC" -c "$t/r.conf" learn_ham "$t"/m/ham-*.eml >>"$t/rl.out" 2>&1 && ok "learn through -c with backend = redis and redis_password" ||
	no "learn through -c (redis): $(tail -2 "$t/rl.out")"
n3=$(rcli -n 3 dbsize) n0=$(rcli -n 0 dbsize)
[ "${n3:-0}" -gt 0 ] && [ "$n0" = 0 ] && ok "redis_db = 3: $n3 keys in database 3, none in 0" ||
	no "redis_db = 3: database 3 has ${n3:-?} keys, database 0 ${n0:-?}"
"$BC" -c "$t/rwrong.conf" learn_spam "$SPAM" >"$t/rw.out" 2>&1; rc=$?
[ $rc != 0 ] && ok "a wrong redis_password is refused (exit $rc: $(head -1 "$t/rw.out"))" || no "a wrong redis_password was accepted"
"$BC" -c "$t/rnone.conf" dump >"$t/rn.out" 2>&1; rc=$?
[ $rc != 0 ] && ok "no redis_password on a server that needs one: refused (exit $rc)" || no "dump without the password succeeded"
"$BC" -c "$t/r.conf" dump >"$t/r.dump" 2>"$t/err"; rc=$?
if [ $rc = 0 ] && grep -q "^n 0 $nspam $((nmsg - nspam))\$" "$t/r.dump" &&
	[ "$(grep -c '^t ' "$t/r.dump")" = "$(grep -c '^t ' "$t/d.dump")" ]; then
	ok "dump through -c (redis): the same counts and token rows as the SQLite run"
else
	no "dump through -c (redis): exit $rc $(cat "$t/err") $(grep '^n ' "$t/r.dump")"
fi
# --redis: the server needs the password, which only a config can give: use a second, open server
RPORT2=$(free_port)
redis-server --bind 127.0.0.1 --port "$RPORT2" --save '' --appendonly no --dir "$t" >"$t/redis2.log" 2>&1 &
rpid2=$!
i=0; while ! redis-cli -p "$RPORT2" ping 2>/dev/null | grep -q PONG; do
	i=$((i + 1)); [ $i -gt 50 ] && break; sleep 0.1
done
"$BC" --redis "127.0.0.1:$RPORT2" --redis-prefix copy: restore <"$t/r.dump" >"$t/rr.out" 2>&1; rc=$?
"$BC" --redis "127.0.0.1:$RPORT2" --redis-prefix copy: dump >"$t/rr.dump" 2>/dev/null
[ $rc = 0 ] && [ "$(grep -c '^t ' "$t/rr.dump")" = "$(grep -c '^t ' "$t/r.dump")" ] && grep -q "^n 0 $nspam $((nmsg - nspam))\$" "$t/rr.dump" &&
	ok "restore and dump through --redis (prefix copy:): the same statistics" ||
	no "restore through --redis: exit $rc $(cat "$t/rr.out")"
redis-cli -p "$RPORT2" --scan --pattern 'copy:*' | head -1 | grep -q '^copy:' && ok "--redis-prefix: the keys start with copy:" ||
	no "--redis-prefix copy: put no copy:* key"
BAYESD_NOW=$LATER "$BC" --redis "127.0.0.1:$RPORT2" --redis-prefix copy: expire >"$t/rx.out" 2>&1; rc=$?
tok=$(sed -n 's/^expired \([0-9]*\) tokens.*/\1/p' "$t/rx.out")
[ $rc = 0 ] && [ "${tok:-0}" -gt 0 ] && ok "expire through --redis, 400 days on: $tok tokens removed" ||
	no "expire through --redis: exit $rc $(cat "$t/rx.out")"
BAYESD_NOW=$LATER "$BC" -c "$t/r.conf" expire >"$t/rcx.out" 2>&1; rc=$?
tok=$(sed -n 's/^expired \([0-9]*\) tokens.*/\1/p' "$t/rcx.out")
[ $rc = 0 ] && [ "${tok:-0}" -gt 0 ] && ok "expire through -c (redis, password, db 3): $tok tokens removed" ||
	no "expire through -c (redis): exit $rc $(cat "$t/rcx.out")"
stop_pid "$rpid2"; rpid2=
echo "# $fails failure(s)"
[ "$fails" = 0 ]
