#!/bin/bash
# size-curve.sh - does the database stop growing under a steady stream of
# learning once expiry runs? (issue 4; README "Expiry: the size curve")
#
# usage: tests/bench/size-curve.sh [TREC_DIR]      (default: trec06p via
#        /work/shared/check/tools/dev-corpus.sh, or $SIZE_CORPUS)
#
# Learns the corpus PASSES times over (default 2) with bayesc --db
# learn_spam/learn_ham - train on everything, every message learned - into
# a database where "bayesc expire" (the default rules) runs every EVERY
# messages, and once over into a database without expiry, for comparison.
# Every EVERY messages it records the database file's size (bayesc has
# closed it, so the WAL is checkpointed into the file) and the token rows.
#
# Expiry is by age, so the run needs a clock that moves with the mail: the
# environment variable BAYESD_NOW (classifier/util.h, stats_clock) dates
# learns and expiry runs, advancing one day per MSGS_PER_DAY messages
# (default 100, a busy personal mailbox). At that rate one pass over
# trec06p (37,822 messages) spans 378 days, longer than the learned-message
# memory keeps a digest (365 days): the second pass is learned again as new
# mail, not answered "already learned" from the first. Within a day the
# day's spam is learned before its ham (one bayesc run per class and day).
#
# After the runs it times bayesc dump and bayesc restore of the database
# without expiry (all of the corpus learned once) and of the one with.
# Output: a table on stdout, the raw rows in $OUT/size-curve.tsv
# (OUT default tests/bench/out). Measures, never asserts.
set -eu
cd "$(dirname "$0")/../.."
here=$(pwd)
corpus=${1:-${SIZE_CORPUS:-$(/work/shared/check/tools/dev-corpus.sh)}}
PASSES=${PASSES:-2}
EVERY=${EVERY:-1000}
MSGS_PER_DAY=${MSGS_PER_DAY:-100}
LIMIT=${LIMIT:-0}			# >0: only the first LIMIT messages (a quick try)
OUT=${OUT:-tests/bench/out}
T0=1700000000				# 2023-11-14: the simulated first day
index=$corpus/full/index
[[ -f $index ]] || { echo "size-curve: no $index" >&2; exit 1; }
(( EVERY % MSGS_PER_DAY == 0 )) || { echo "size-curve: EVERY must be a multiple of MSGS_PER_DAY" >&2; exit 1; }
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/size-curve.XXXXXX")
trap 'rm -rf "$work"' EXIT
# a copy of bayesc, so a rebuild during the run changes nothing
cp "$here/bayesc" "$work/bayesc"
bayesc=$work/bayesc

# the index as two parallel arrays of class and path
classes=() paths=()
while read -r cls rel; do
	classes+=("$cls")
	paths+=("$corpus/full/$rel")
done <"$index"
n=${#paths[@]}
(( LIMIT > 0 && LIMIT < n )) && n=$LIMIT

# run DB EXPIRE PASSES TSV: learn, expire, record
run() {
	local db=$1 expire=$2 passes=$3 tsv=$4 done=0 day=0 p i j
	rm -f "$db" "$db-wal" "$db-shm"
	: >"$tsv"
	for ((p = 1; p <= passes; p++)); do
		for ((i = 0; i < n; i += MSGS_PER_DAY)); do
			local spam=() ham=()
			for ((j = i; j < i + MSGS_PER_DAY && j < n; j++)); do
				if [[ ${classes[j]} == spam ]]; then spam+=("${paths[j]}"); else ham+=("${paths[j]}"); fi
			done
			export BAYESD_NOW=$((T0 + day * 86400))
			(( ${#spam[@]} )) && { "$bayesc" --db "$db" -q learn_spam "${spam[@]}" || echo "size-curve: learn_spam failed at $done" >&2; }
			(( ${#ham[@]} )) && { "$bayesc" --db "$db" -q learn_ham "${ham[@]}" || echo "size-curve: learn_ham failed at $done" >&2; }
			done=$((done + j - i))
			day=$((day + 1))
			if (( j % EVERY == 0 || j == n )); then
				[[ $expire == yes ]] && "$bayesc" --db "$db" -q expire
				local tokens
				tokens=$("$bayesc" --db "$db" --json stat | sed 's/.*"tokens":\([0-9]*\).*/\1/')
				printf '%d\t%d\t%d\t%d\t%d\n' "$p" "$done" "$day" "$(stat -c %s "$db")" "$tokens" >>"$tsv"
			fi
		done
	done
	unset BAYESD_NOW
}

# timed LABEL CMD... - run CMD, print LABEL and its wall-clock seconds
timed() {
	local label=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	printf '%s %.2f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}

echo "size-curve: $n messages of $corpus, $PASSES passes with expiry every $EVERY," \
	"$MSGS_PER_DAY messages a simulated day" >&2
start=$(date +%s)
run "$work/expire.db" yes "$PASSES" "$work/expire.tsv" &
run "$work/plain.db" no 1 "$work/plain.tsv" &
wait
echo "size-curve: learning took $(( $(date +%s) - start )) s" >&2

{
	printf 'pass\tlearned\tday\texpire_bytes\texpire_tokens\tplain_bytes\tplain_tokens\n'
	join -t $'\t' -a 1 -1 2 -2 2 -o 1.1,1.2,1.3,1.4,1.5,2.4,2.5 \
		<(sort -t $'\t' -k2,2 "$work/expire.tsv") \
		<(sort -t $'\t' -k2,2 "$work/plain.tsv") |
		sort -t $'\t' -k2,2n
} >"$OUT/size-curve.tsv"

echo
printf '%-5s %9s %5s %12s %10s %12s %10s\n' pass learned day "expiry MB" tokens "no-exp MB" tokens
tail -n +2 "$OUT/size-curve.tsv" | awk -F'\t' '{
	printf "%-5s %9d %5d %12.1f %10d %12s %10s\n", $1, $2, $3, $4 / 1048576, $5,
		$6 == "" ? "-" : sprintf("%.1f", $6 / 1048576), $7 == "" ? "-" : $7 }'

echo
for db in plain expire; do
	timed "dump of $db ($(stat -c %s "$work/$db.db") bytes):" \
		sh -c "'$bayesc' --db '$work/$db.db' dump >'$work/$db.dump'"
	echo "  dump text: $(stat -c %s "$work/$db.dump") bytes"
	timed "restore of $db:" sh -c "'$bayesc' --db '$work/$db.restored' restore <'$work/$db.dump'"
	echo "  restored file: $(stat -c %s "$work/$db.restored") bytes"
done
