#!/bin/sh
# run-fuzz.sh SECONDS TARGET... - make fuzz: run each libFuzzer target
# (tests/fuzz/obj/fuzz_TARGET, built by make fuzz-build) for SECONDS of
# wall time, niced, one after the other, on a working corpus in
# tests/fuzz/corpus/TARGET (not kept in git) seeded from
# tests/fuzz/seeds/TARGET, with the dictionary tests/fuzz/TARGET.dict.
#
# A crash is minimized and the minimized input is kept in
# tests/fuzz/regress/TARGET/ (commit it: make check replays it forever).
# Prints, per target, the CPU seconds used and what was found; exits 1 if
# any target crashed. FUZZ_ARGS adds libFuzzer options (e.g. -jobs=2).
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-60}
shift
found=0
mkdir -p tests/fuzz/out
for t in "$@"; do
	bin=tests/fuzz/obj/fuzz_$t
	[ -x "$bin" ] || { echo "run-fuzz: $bin missing (make fuzz-build)"; exit 1; }
	corpus=tests/fuzz/corpus/$t crashes=tests/fuzz/out/$t
	mkdir -p "$corpus" "$crashes" "tests/fuzz/regress/$t"
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	log=tests/fuzz/out/$t.log
	# The controller target runs a threaded daemon in-process: memory held by
	# its pools and threads between inputs is not a per-input leak.
	extra=
	[ "$t" = controller ] && extra=-detect_leaks=0
	# shellcheck disable=SC2086
	/usr/bin/time -f '%U %S' -o "tests/fuzz/out/$t.time" \
		nice -n 10 "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" $dict \
		$extra ${FUZZ_ARGS:-} "$corpus" "tests/fuzz/seeds/$t" >"$log" 2>&1
	rc=$?
	cpu=$(tail -1 "tests/fuzz/out/$t.time" | awk '{printf "%.0f", $1 + $2}')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	n=0
	for c in "$crashes"/crash-* "$crashes"/leak-* "$crashes"/timeout-* "$crashes"/oom-*; do
		[ -f "$c" ] || continue
		n=$((n + 1))
		keep=tests/fuzz/regress/$t/$(basename "$c")
		# shellcheck disable=SC2086
		nice -n 10 "$bin" -minimize_crash=1 -max_total_time=60 -runs=100000 \
			-exact_artifact_path="$keep.min" "$c" >"$crashes/minimize.log" 2>&1
		if [ -s "$keep.min" ]; then mv "$keep.min" "$keep"; else cp "$c" "$keep"; fi
		rm -f "$c"
		echo "run-fuzz: $t: kept $keep"
	done
	[ "$n" -gt 0 ] && found=1
	echo "fuzz_$t: ${cpu:-?} s CPU, ${execs:-?} runs, ${cov:-cov: ?}, exit $rc, $n new crashing inputs"
done
exit $found
