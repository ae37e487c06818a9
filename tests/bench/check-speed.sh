#!/bin/bash
# check-speed.sh [CORPUS_DIR] - bayesc --db check throughput, single core:
# learn the first 20,000 messages of a TREC corpus (default: trec06p
# unpacked by ../shared/corpus/unpack into /tmp/bayesd-corpus), then time
# `bayesc --db DB check DIR` over the next 10,000 (each under a unique name),
# with peak RSS; bogofilter's bulk mode (-B) on the same messages and core
# when installed. Prints one line per filter. Not part of make check: it
# measures, it does not assert.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
H=${1:-/tmp/bayesd-corpus/trec06p}
if [[ ! -f $H/index ]]; then
	../shared/corpus/unpack trec06p /tmp/bayesd-corpus >/dev/null || { echo "no corpus at $H"; exit 1; }
fi
BC=${BAYESC:-$PWD/bayesc}
CORE=${CORE:-0}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir -p "$t/spam" "$t/ham" "$t/test"
head -20000 "$H/index" | while read -r c p; do ln "$H/$p" "$t/$c/${p//\//_}"; done
sed -n '20001,30000p' "$H/index" | while read -r c p; do ln "$H/$p" "$t/test/${p//\//_}"; done
s=$(date +%s.%N)
taskset -c "$CORE" "$BC" --db "$t/db" learn_spam "$t/spam" >/dev/null 2>&1 &&
	taskset -c "$CORE" "$BC" --db "$t/db" learn_ham "$t/ham" >/dev/null 2>&1 || { echo "learn failed"; exit 1; }
e=$(date +%s.%N)
echo "bayesc learn: 20000 messages in $(printf %.1f "$(echo "$e - $s" | bc)") s ($(echo "20000 / ($e - $s)" | bc) msgs/s), db $(stat -c %s "$t/db") bytes"
s=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$t/rss" taskset -c "$CORE" "$BC" --db "$t/db" check "$t/test" >"$t/out" 2>&1
e=$(date +%s.%N)
n=$(grep -c '^Results for file' "$t/out")
echo "bayesc check: $n messages in $(printf %.2f "$(echo "$e - $s" | bc)") s = $(echo "$n / ($e - $s)" | bc) msgs/s, peak RSS $(tail -1 "$t/rss") kB"
if command -v bogofilter >/dev/null; then
	mkdir -p "$t/bf"
	# bogofilter's bulk mode takes file names (given a directory it reads nothing)
	(cd "$t/spam" && ls | xargs bogofilter -d "$t/bf" -s -B) >/dev/null 2>&1
	(cd "$t/ham" && ls | xargs bogofilter -d "$t/bf" -n -B) >/dev/null 2>&1
	s=$(date +%s.%N); (cd "$t/test" && ls | taskset -c "$CORE" xargs bogofilter -d "$t/bf" -T -B) >"$t/bfout" 2>&1; e=$(date +%s.%N)
	grep -c . "$t/bfout" | grep -qx 10000 || echo "(bogofilter printed $(grep -c . "$t/bfout") lines)"
	echo "bogofilter -B: 10000 messages in $(printf %.2f "$(echo "$e - $s" | bc)") s = $(echo "10000 / ($e - $s)" | bc) msgs/s"
fi
