#!/bin/sh
# run-tests.sh - make check: the unit tests, then every integration test
# in tests/integration/ (exit 77 = skipped, with a SKIP line saying why).
# Prints "N passed, N failed, N skipped" last; exits 1 if anything failed.
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0 skip=0
mkdir -p tests/out

echo "== unit tests"
if tests/unit/unit_tests >tests/out/unit.log 2>&1; then
	pass=$((pass + 1)); echo "PASS unit ($(tail -1 tests/out/unit.log))"
else
	fail=$((fail + 1)); echo "FAIL unit"; grep -v '^ok' tests/out/unit.log | tail -40
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
