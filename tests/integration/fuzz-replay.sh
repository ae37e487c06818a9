#!/bin/sh
# fuzz-replay.sh - replay every kept fuzz input (tests/fuzz/seeds/TARGET/
# and tests/fuzz/regress/TARGET/) through the same target code that make
# fuzz runs, built without libFuzzer (tests/fuzz/replay-TARGET, built by
# make check). Every input that ever crashed stays fixed.
cd "$(dirname "$0")/../.." || exit 1
fail=0
for t in mime decode charset html tokenize config controller restore mbox; do
	bin=tests/fuzz/replay-$t
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin not built (make fuzz-replay)"; fail=1; continue
	fi
	if out=$("$bin" "tests/fuzz/seeds/$t" "tests/fuzz/regress/$t" 2>&1); then
		echo "ok $t: $(echo "$out" | tail -1)"
	else
		echo "FAIL $t"; echo "$out" | tail -30; fail=1
	fi
done
exit $fail
