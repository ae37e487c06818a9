#!/bin/bash
# bench.sh [CORPUS_DIR] - make bench: bayesc check/learn throughput as the
# database grows, with bogofilter (-B) and spamprobe on the same messages.
#
# Corpus: a TREC corpus (default trec06p, unpacked by ../shared/corpus/unpack
# into /tmp/bayesd-corpus when its index is missing). For each database size
# N (BENCH_SIZES, default "1000 10000 37000"), the first N messages of the
# index are learned (each size learns only the messages the smaller one has
# not: the database grows in place), then BENCH_NCHECK (2,000) messages are
# checked: those right after the first N, or, when fewer than that remain
# (37,000 of trec06p's 37,821), the LAST 2,000 of the index (for 37k: 821
# held out, 1,179 learned - a learned message costs the same to check).
#
# bayesd: `bayesc --db DB learn_spam|learn_ham DIR` (timed: learn msgs/s) and
# `bayesc --db DB check DIR`, pinned to one core (taskset -c $CORE, default 0),
# wall time best of BENCH_REPEAT (3) runs after the files are in the page
# cache; peak RSS from /usr/bin/time -f %M.
# Stages: the same check against a tiny database (one spam and one ham
# learned) costs parse + decode + tokenize + near-free lookups, so
#   parse+tokenize     = time(tiny db)
#   table load         = time(real db, 1 message) - time(tiny db, 1 message)
#			 (bayesc reads the token table into memory once)
#   lookups+scoring    = time(real db) - time(tiny db) - table load
# in CPU time (user+sys, best of the runs: less disturbed by other load than
# wall time; at 1k learned the difference is within the noise).
# Scoring is a few hundred log additions, so the last is mostly the store;
# it is the per-message cost whose growth with the database matters.
# Peers, trained on the same first N messages (in the background on the other
# core while bayesc learns; BENCH_SERIAL=1 to train them one after the other)
# and timed on the same messages and core: bogofilter -d DIR -T -B FILES,
# spamprobe -d DIR score FILES (train-spam/train-good to train). ratio =
# bayesd msgs/s / peer msgs/s. Peers not installed are left out.
#
# Prints a table; writes JSON to $BENCH_OUT (default
# tests/bench/out/bench-DATE.json). Measures, never asserts; not part of
# make check.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
H=${1:-/tmp/bayesd-corpus/trec06p}
if [[ ! -f $H/index ]]; then
	if [[ $# -eq 0 ]]; then
		../shared/corpus/unpack trec06p /tmp/bayesd-corpus >/dev/null || { echo "no corpus at $H"; exit 1; }
	fi
	[[ -f $H/index ]] || { echo "no TREC index at $H/index"; exit 1; }
fi
BC=${BAYESC:-$ROOT/bayesc}
[[ -x $BC ]] || { echo "no $BC: run make first"; exit 1; }
CORE=${CORE:-0}
NCPU=$(nproc)
OCORE=$(((CORE + 1) % NCPU))
SIZES=${BENCH_SIZES:-"1000 10000 37000"}
NCHECK=${BENCH_NCHECK:-2000}
REPEAT=${BENCH_REPEAT:-3}
DATE=$(date +%Y%m%d-%H%M%S)
OUT=${BENCH_OUT:-$ROOT/tests/bench/out/bench-$DATE.json}
mkdir -p "$(dirname "$OUT")"
HAVE_BF=0; command -v bogofilter >/dev/null && HAVE_BF=1
HAVE_SP=0; command -v spamprobe >/dev/null && HAVE_SP=1

t=$(mktemp -d /tmp/bayesd-bench.XXXXXX)
trap 'rm -rf "$t"' EXIT
TOTAL=$(grep -c . "$H/index")

now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

# setup_sets - hard links under unique names (trec basenames repeat across
# folders): $t/learn-N/{spam,ham} the messages (prev, N], $t/check-N the
# messages checked at size N; prints "N first last bytes" per check set.
python3 - "$H" "$t" "$NCHECK" $SIZES >"$t/sets" <<'EOF' || { echo "setup failed"; exit 1; }
import os, sys
h, t, ncheck = sys.argv[1], sys.argv[2], int(sys.argv[3])
sizes = [int(s) for s in sys.argv[4:]]
idx = [l.split() for l in open(os.path.join(h, "index")) if l.strip()]
total, prev = len(idx), 0
for n in sizes:
    n = min(n, total)
    for c in ("spam", "ham"):
        os.makedirs(f"{t}/learn-{n}/{c}", exist_ok=True)
    for i in range(prev, n):
        c, p = idx[i]
        os.link(os.path.join(h, p), f"{t}/learn-{n}/{c}/{i:05d}")
    prev = n
    first = n if total - n >= ncheck else max(0, total - ncheck)
    last = min(total, first + ncheck)
    d = f"{t}/check-{n}"
    os.makedirs(d)
    size = 0
    for i in range(first, last):
        src = os.path.join(h, idx[i][1])
        os.link(src, f"{d}/{i:05d}")
        size += os.path.getsize(src)
    print(n, first + 1, last, size)
EOF
# tiny database: one spam, one ham
sp1=$(awk '$1=="spam"{print $2; exit}' "$H/index"); hm1=$(awk '$1=="ham"{print $2; exit}' "$H/index")
"$BC" --db "$t/tiny.db" learn_spam "$H/$sp1" >/dev/null 2>&1 && "$BC" --db "$t/tiny.db" learn_ham "$H/$hm1" >/dev/null 2>&1 ||
	{ echo "learning the tiny database failed"; exit 1; }
mkdir -p "$t/bf" "$t/sp"

# best_time OUTFILE CMD... - runs CMD (stdout+stderr to OUTFILE) REPEAT
# times on $CORE; sets SECS (best wall time), CPU (best user+sys time) and
# RSS (peak kB of the best run)
best_time() {
	local o=$1 s e d r c; shift
	SECS=; RSS=; CPU=
	for ((r = 0; r < REPEAT; r++)); do
		s=$(now)
		/usr/bin/time -f '%M %U %S' -o "$t/rss" taskset -c "$CORE" "$@" >"$o" 2>&1
		e=$(now)
		d=$(calc "$e - $s")
		c=$(tail -1 "$t/rss" | awk '{print $2 + $3}')
		if [[ -z $SECS ]] || (($(calc "int($d < $SECS)"))); then SECS=$d; RSS=$(tail -1 "$t/rss" | cut -d' ' -f1); fi
		if [[ -z $CPU ]] || (($(calc "int($c < $CPU)"))); then CPU=$c; fi
	done
}

train_peers() {	# train_peers DIR (spam/, ham/ inside), on $OCORE
	local d=$1
	if ((HAVE_BF)); then
		(cd "$d/spam" && ls | taskset -c "$OCORE" xargs -r bogofilter -d "$t/bf" -s -B) >/dev/null 2>&1
		(cd "$d/ham" && ls | taskset -c "$OCORE" xargs -r bogofilter -d "$t/bf" -n -B) >/dev/null 2>&1
	fi
	if ((HAVE_SP)); then
		(cd "$d/spam" && ls | taskset -c "$OCORE" xargs -r spamprobe -d "$t/sp" train-spam) >/dev/null 2>&1
		(cd "$d/ham" && ls | taskset -c "$OCORE" xargs -r spamprobe -d "$t/sp" train-good) >/dev/null 2>&1
	fi
	return 0
}

JSON_ROWS=()
TABLE=()
row() {	# row N FILTER MSGS_S MB_S RSS DB LEARN RATIO
	TABLE+=("$(printf '%-7s %-22s %9s %8s %9s %10s %9s %7s' "$@")")
}

# time_peer NAME LABEL DBDIR CMD... - time CMD (a peer's bulk check, given
# the file names) over the messages checked at this size, as bayesd was,
# and add its table row (as LABEL) and JSON row with the ratio bayesd / peer.
time_peer() {
	local name=$1 label=$2 dir=$3 got r ratio
	shift 3
	cd "$t/check-$n" || exit 1
	ls >"$t/names"
	best_time "$t/$name.out" xargs -a "$t/names" "$@"
	cd "$ROOT" || exit 1
	got=$(grep -c . "$t/$name.out")
	[[ $got == "$nchk" ]] || echo "($name printed $got lines, expected $nchk)"
	r=$(calc "$nchk / $SECS"); ratio=$(calc "$bc_rate / $r")
	row "" "$label" "$(calc "round($r)")" "$(calc "f'{$bytes / 1048576 / $SECS:.1f}'")" "$RSS" "$(fmt_db "$(du -sb "$dir" | cut -f1)")" "" "$(calc "f'{$ratio:.1f}x'")"
	JSON_ROWS+=("{\"learned\": $n, \"filter\": \"$name\", \"checked\": $nchk, \"check_s\": $SECS, \"msgs_per_s\": $r, \"mb_per_s\": $(calc "$bytes / 1048576 / $SECS"), \"peak_rss_kb\": $RSS, \"db_bytes\": $(du -sb "$dir" | cut -f1), \"bayesd_ratio\": $ratio}")
}
fmt_db() { calc "f'{$1/1048576:.1f} MB'"; }

echo "bayesd bench: corpus $H ($TOTAL messages), sizes $SIZES, $NCHECK checked, core $CORE"
for n0 in $SIZES; do
	n=$((n0 < TOTAL ? n0 : TOTAL))
	read -r _ first last bytes < <(grep "^$n " "$t/sets")
	nchk=$((last - first + 1))
	ld=$t/learn-$n
	nlearn=$(($(ls "$ld/spam" | wc -l) + $(ls "$ld/ham" | wc -l)))
	echo "== $n learned ($nlearn more), checking messages $first-$last ($bytes bytes)"
	if [[ ${BENCH_SERIAL:-0} == 1 ]]; then :; else train_peers "$ld" & PEERS=$!; fi
	s=$(now)
	taskset -c "$CORE" "$BC" --db "$t/db" learn_spam "$ld/spam" >/dev/null 2>&1 &&
		taskset -c "$CORE" "$BC" --db "$t/db" learn_ham "$ld/ham" >/dev/null 2>&1 || { echo "bayesc learn failed"; exit 1; }
	e=$(now)
	learn_s=$(calc "$e - $s")
	learn_rate=$(calc "round($nlearn / $learn_s)")
	if [[ ${BENCH_SERIAL:-0} == 1 ]]; then train_peers "$ld"; else wait "$PEERS"; fi
	dbsize=$(cat "$t"/db "$t"/db-wal 2>/dev/null | wc -c)
	cat "$t/check-$n"/* >/dev/null	# page cache

	best_time "$t/tiny.out" "$BC" --db "$t/tiny.db" check "$t/check-$n"
	tiny_s=$SECS tiny_cpu=$CPU
	mkdir -p "$t/one-$n" && ln -f "$t/check-$n/$(ls "$t/check-$n" | head -1)" "$t/one-$n/"
	best_time "$t/one.out" "$BC" --db "$t/tiny.db" check "$t/one-$n"
	one_tiny_cpu=$CPU
	best_time "$t/one.out" "$BC" --db "$t/db" check "$t/one-$n"
	load_ms=$(calc "max(0.0, $CPU - $one_tiny_cpu) * 1e3")
	best_time "$t/bc.out" "$BC" --db "$t/db" check "$t/check-$n"
	bc_s=$SECS bc_rss=$RSS bc_cpu=$CPU
	got=$(grep -c '^Results for file' "$t/bc.out")
	[[ $got == "$nchk" ]] || echo "(bayesc check printed $got results, expected $nchk)"
	bc_rate=$(calc "$nchk / $bc_s")
	bc_mbs=$(calc "$bytes / 1048576 / $bc_s")
	parse_us=$(calc "$tiny_cpu * 1e6 / $nchk")
	lookup_us=$(calc "($bc_cpu - $tiny_cpu - $load_ms / 1e3) * 1e6 / $nchk")	# may be < 0 within the noise
	row "$n" "bayesd" "$(calc "round($bc_rate)")" "$(calc "f'{$bc_mbs:.1f}'")" "$bc_rss" "$(fmt_db "$dbsize")" "$learn_rate" ""
	TABLE+=("$(printf '%-7s   stages: parse+tokenize %.0f us/msg, lookups+scoring %.0f us/msg, table load %.0f ms once' "" "$parse_us" "$(calc "max(0.0, $lookup_us)")" "$load_ms")")
	JSON_ROWS+=("{\"learned\": $n, \"filter\": \"bayesd\", \"checked\": $nchk, \"check_first\": $first, \"check_last\": $last, \"check_bytes\": $bytes, \"check_s\": $bc_s, \"msgs_per_s\": $bc_rate, \"mb_per_s\": $bc_mbs, \"peak_rss_kb\": $bc_rss, \"db_bytes\": $dbsize, \"learned_now\": $nlearn, \"learn_s\": $learn_s, \"learn_msgs_per_s\": $learn_rate, \"parse_tokenize_us_per_msg\": $parse_us, \"lookup_scoring_us_per_msg\": $lookup_us, \"table_load_ms\": $load_ms, \"check_cpu_s\": $bc_cpu, \"tiny_db_check_s\": $tiny_s, \"tiny_db_check_cpu_s\": $tiny_cpu}")
	JSON_ROWS[-1]=${JSON_ROWS[-1]/\$learn_rate/$learn_rate}

	((HAVE_BF)) && time_peer bogofilter "bogofilter -B" "$t/bf" bogofilter -d "$t/bf" -T -B
	((HAVE_SP)) && time_peer spamprobe spamprobe "$t/sp" spamprobe -d "$t/sp" score
done

echo
printf '%-7s %-22s %9s %8s %9s %10s %9s %7s\n' learned filter "check/s" "MB/s" "RSS kB" "db size" "learn/s" "ratio"
printf '%s\n' "${TABLE[@]}"
echo "(check/s, MB/s: single core, best of $REPEAT; ratio = bayesd check/s / peer check/s)"
{
	printf '{"date": "%s", "corpus": "%s", "corpus_messages": %s, "core": %s, "repeat": %s, "commit": "%s", "rows": [\n' \
		"$DATE" "$H" "$TOTAL" "$CORE" "$REPEAT" "$(git rev-parse --short HEAD 2>/dev/null)"
	for ((i = 0; i < ${#JSON_ROWS[@]}; i++)); do
		printf '  %s%s\n' "${JSON_ROWS[i]}" "$( ((i + 1 < ${#JSON_ROWS[@]})) && echo ,)"
	done
	printf ']}\n'
} >"$OUT"
python3 -m json.tool "$OUT" >/dev/null || echo "(warning: $OUT is not valid JSON)"
echo "wrote $OUT"
