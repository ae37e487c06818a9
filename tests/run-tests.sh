#!/bin/sh
# run-tests.sh - make check: the unit tests, then every integration test
# in tests/integration/ (exit 77 = skipped, with a SKIP line saying why).
# Every unit test counts as one (a skipped one as a skip), the layering
# check (tests/layering.sh) as one, every integration script as one.
# Prints "N passed, N failed, N skipped" last; exits 1 if anything failed.
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0 skip=0
mkdir -p tests/out

echo "== unit tests"
# each unit test counts: a skipped one (Redis missing) is a skip, never a pass
if tests/unit/unit_tests >tests/out/unit.log 2>&1; then
	ok=1
else
	ok=0
fi
u=$(tail -1 tests/out/unit.log)
up=$(echo "$u" | sed -n 's/^unit: \([0-9]*\) passed.*/\1/p')
uf=$(echo "$u" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
us=$(echo "$u" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
if [ -z "$up" ] || [ -z "$uf" ]; then
	fail=$((fail + 1)); echo "FAIL unit (no summary line: crashed?)"; tail -40 tests/out/unit.log
else
	pass=$((pass + up)); fail=$((fail + uf)); skip=$((skip + ${us:-0}))
	[ "$ok" = 1 ] && [ "$uf" = 0 ] || { [ "$uf" = 0 ] && fail=$((fail + 1)); echo "FAIL unit"; grep -v '^ok' tests/out/unit.log | tail -40; }
	echo "unit: $up passed, $uf failed, ${us:-0} skipped"
	grep '^SKIP' tests/out/unit.log | sed 's/^/  /'
fi

# the include directions between the source rooms (ARCHITECTURE.md)
echo "== layering"
if sh tests/layering.sh >tests/out/layering.log 2>&1; then
	pass=$((pass + 1)); echo "PASS layering"
else
	fail=$((fail + 1)); echo "FAIL layering"; tail -30 tests/out/layering.log
fi

for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	echo "== $name"
	sh "$t" >"tests/out/$name.log" 2>&1
	rc=$?
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(grep -m1 '^SKIP' "tests/out/$name.log" | sed 's/^SKIP:* *//')" ;;
	*) fail=$((fail + 1)); echo "FAIL $name (exit $rc)"; tail -30 "tests/out/$name.log" ;;
	esac
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
