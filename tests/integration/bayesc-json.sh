#!/bin/sh
# bayesc-json.sh - bayesc --json prints one shape whichever way it runs
# (issue 17, point 8): every verb both modes have - learn_spam, learn_ham,
# forget, check, symbols, stat (with and without -u), import-mbox, and a
# message that fails - is run on a database directly (--db) and through a
# running bayesd (-s SOCKET), and each output line's keys and the types of
# their values (nested in "features" and "per_user" too) must be the same.
# The offline-only expire and the client-only history are not compared.
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
trap 'stop_bayesd; rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
sample_messages "$t/m"
mkdir "$t/d"
start_test_bayesd "$t/d" <<EOF
min_learns = 0
score_local = yes
EOF
: >"$t/m/empty.eml"
for f in "$t"/m/ham-*.eml; do
	echo "From alice@example.org Mon Jan  1 00:00:00 2024"; sed 's/^\(>*From \)/>\1/' "$f"; echo
done >"$t/ham.mbox"

# both NAME ARGS... - bayesc --json ARGS offline into $t/NAME.off, through bayesd into $t/NAME.dmn
both() {
	name=$1; shift
	"$BC" --db "$t/off.sqlite" --json "$@" >"$t/$name.off" 2>"$t/$name.off.err"
	"$BC" -s "$SOCK" --json "$@" >"$t/$name.dmn" 2>"$t/$name.dmn.err"
}
both learn_spam learn_spam "$t"/m/spam-*.eml
both learn_ham learn_ham "$t"/m/ham-*.eml
both learned_again learn_spam "$SPAM"
both learn_user -u alice@example.org learn_ham "$HAM"
both check check "$SPAM" "$HAM"
both check_user -u alice@example.org check "$HAM"
both symbols symbols "$HAM"
both explain --explain check "$SPAM"
both stat stat
both stat_user -u alice@example.org stat
both import import-mbox --ham "$t/ham.mbox"
both empty learn_spam "$t/m/empty.eml"
both forget forget "$HAM"
both not_learned forget "$HAM"

# shape.py OFFLINE DAEMON - compares the lines' key/type trees; prints the differences
cat >"$t/shape.py" <<'PY'
import json, sys

def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        # every element the same shape: one element's (or the empty list's)
        s = [shape(x) for x in v]
        return ["list"] + ([s[0]] if s else [])
    return {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}[type(v)]

def diff(a, b, at, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b: out.append("%s%s only offline" % (at, k))
            elif k not in a: out.append("%s%s only through bayesd" % (at, k))
            else: diff(a[k], b[k], at + k + ".", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) == 2 and len(b) == 2: diff(a[1], b[1], at + "[].", out)
        elif len(a) != len(b): out.append("%s[] empty in one mode only" % at)
    elif a != b:
        out.append("%s %s offline, %s through bayesd" % (at.rstrip("."), a, b))

off = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dmn = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
out = []
if not off or len(off) != len(dmn):
    out.append("%d lines offline, %d through bayesd" % (len(off), len(dmn)))
for a, b in zip(off, dmn):
    diff(shape(a), shape(b), "", out)
print("; ".join(sorted(set(out))) if out else "%d line(s), keys %s" % (len(off), ",".join(off[0])))
sys.exit(1 if out else 0)
PY
for v in learn_spam learn_ham learned_again learn_user check check_user symbols explain stat stat_user \
		import empty forget not_learned; do
	if res=$(python3 "$t/shape.py" "$t/$v.off" "$t/$v.dmn" 2>&1); then
		ok "$v: the same keys and types offline and through bayesd ($res)"
	else
		no "$v: $res [offline: $(head -c 300 "$t/$v.off") $(head -2 "$t/$v.off.err")] [bayesd: $(head -c 300 "$t/$v.dmn") $(head -2 "$t/$v.dmn.err")]"
	fi
done
# the names the documentation promises, in both modes
python3 - "$t" <<'PY' >"$t/keys.out" 2>&1 && ok "the documented keys are there: $(cat "$t/keys.out")" || no "documented keys: $(cat "$t/keys.out")"
import json, sys
t = sys.argv[1]
first = lambda f: json.loads(open(f).readline())
for m in ("off", "dmn"):
    c = first("%s/check.%s" % (t, m))
    assert {"file", "probability", "verdict", "action", "spam", "score", "required", "tokens", "used",
            "mature", "learned_spam", "learned_ham", "min_learns"} <= set(c), (m, c)
    assert "features" in first("%s/symbols.%s" % (t, m)), m
    s = first("%s/stat.%s" % (t, m))
    assert "tok_params" in s and "tokenizer" not in s and isinstance(s["per_user"], list), (m, s)
    assert first("%s/stat_user.%s" % (t, m))["user"] == "alice@example.org", m
    l = first("%s/learn_spam.%s" % (t, m))
    assert l["result"] == "learned" and l["learned"] is True, (m, l)
    f = first("%s/forget.%s" % (t, m))
    assert f["result"] == "forgotten" and f["forgotten"] is True and "learned" not in f, (m, f)
    e = first("%s/empty.%s" % (t, m))
    assert set(e) == {"file", "error"}, (m, e)
print("check, symbols, stat, learn, forget, error")
PY
echo "# $fails failure(s)"
[ "$fails" = 0 ]
