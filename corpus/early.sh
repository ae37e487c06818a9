#!/bin/sh
# early.sh - how a new install does: on each development corpus, learn the
# first N messages (N = 100, 400, 1000, in corpus order, labels as given),
# then score the next 2,000 with no feedback, and count how many of those
# each filter gets right at its default threshold: bayesd (bayesc eval
# --train-only, then --score-only) and bogofilter (-s/-n -B to learn, -T -B
# to score; "U", unsure, is not spam). Measures, does not assert; not part
# of make check. Usage: sh corpus/early.sh [bayesc options...]
# Environment: BAYESC (./bayesc), EVAL_CORPUS (../shared/corpus),
# EARLY_OUT (/tmp/bayesd-early), EARLY_SCORE (2000).
BC=${BAYESC:-./bayesc}
C=${EVAL_CORPUS:-../shared/corpus}
OUT=${EARLY_OUT:-/tmp/bayesd-early}
M=${EARLY_SCORE:-2000}
[ -x "$BC" ] || { echo "early: $BC not built (make)"; exit 1; }
command -v bogofilter >/dev/null 2>&1 || { echo "early: needs bogofilter (apt-get install bogofilter)"; exit 1; }
PROG=early
. "$(dirname "$0")/devcorpus.sh"
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1

# count LABELFILE SAIDFILE: right, ham called spam, spam let through
count() {
	paste -d' ' "$1" "$2" | awk '{ n++; if ($1 == $2) r++; else if ($1 == "ham") hm++; else sm++ }
		END { printf "%5d/%d right (%.1f%%), %3d ham as spam, %4d spam missed", r, n, 100 * r / n, hm, sm }'
}

printf '%-13s %5s  %-58s %s\n' corpus learned bayesd bogofilter
for name in trec06p spamassassin csdmc2010; do
	for n in 100 400 1000; do
		w=$OUT/$name-$n
		mkdir -p "$w/bf"
		slice $name 1 $n >"$w/train"
		slice $name $((n + 1)) $((n + M)) >"$w/test"
		awk '{ print $1 }' "$w/test" >"$w/labels"
		"$BC" --db "$w/db" "$@" --train-only eval "$w/train" >/dev/null 2>"$w/train.err" ||
			{ echo "$name $n: bayesc train failed: $(tail -1 "$w/train.err")"; exit 1; }
		"$BC" --db "$w/db" "$@" --score-only --results "$w/res" eval "$w/test" >/dev/null 2>"$w/test.err" ||
			{ echo "$name $n: bayesc score failed: $(tail -1 "$w/test.err")"; exit 1; }
		sed -n 's/.* class=\([a-z]*\) .*/\1/p' "$w/res" >"$w/bayesd"
		awk '$1 == "spam" { print $2 }' "$w/train" | xargs bogofilter -d "$w/bf" -s -B 2>/dev/null
		awk '$1 == "ham" { print $2 }' "$w/train" | xargs bogofilter -d "$w/bf" -n -B 2>/dev/null
		awk '{ print $2 }' "$w/test" | xargs bogofilter -d "$w/bf" -T -B 2>/dev/null |
			awk '{ print ($2 == "S") ? "spam" : "ham" }' >"$w/bogofilter"
		[ "$(wc -l <"$w/bayesd")" = "$(wc -l <"$w/labels")" ] && [ "$(wc -l <"$w/bogofilter")" = "$(wc -l <"$w/labels")" ] ||
			{ echo "$name $n: a filter did not score every message"; exit 1; }
		printf '%-13s %5d  %-58s %s\n' $name $n "$(count "$w/labels" "$w/bayesd")" "$(count "$w/labels" "$w/bogofilter")"
	done
done
