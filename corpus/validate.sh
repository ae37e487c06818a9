#!/bin/sh
# validate.sh - make eval: judge the classifier on every development corpus
# at once, the way a change to features, scoring or training must be judged
# (issue 15): never on one corpus alone.
#
#   online   bayesc eval (immediate feedback) on trec06p, spamassassin and
#            csdmc2010: (1-ROCA)%, hm%, sm% of the whole stream and of each
#            window (trec06p 5,000 messages, the others 1,000);
#   transfer every ordered pair: bayesc eval --train-only on one corpus,
#            --score-only on another (no feedback; trec06p as the scored
#            corpus is its first 10,000 messages, as ../shared/eval/crosscorpus.py).
#
# Prints one line per run and, last, the geometric mean of the (1-ROCA)%
# figures of all nine runs, and of the worst windows: a change is kept
# only when it lowers the mean without a run getting clearly worse.
#
# Usage: sh corpus/validate.sh [BAYESC_OPTION ...]
#   e.g. sh corpus/validate.sh --classifier fisher --byte-ngrams 0
# Environment: BAYESC (default ./bayesc), EVAL_CORPUS (the folder holding
# spamassassin/ and csdmc2010/ and trec06p.tar.xz; default ../shared/corpus),
# EVAL_OUT (default /tmp/bayesd-eval: databases, results, one JSON per run).
# Measures, never asserts; not part of make check.
BC=${BAYESC:-./bayesc}
C=${EVAL_CORPUS:-../shared/corpus}
OUT=${EVAL_OUT:-/tmp/bayesd-eval}
[ -x "$BC" ] || { echo "validate: $BC not built (make)"; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "validate: needs python3"; exit 1; }
PROG=validate
. "$(dirname "$0")/devcorpus.sh"
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1

# absolute NAME LIMIT - the index with absolute paths, its first LIMIT lines
absolute() {
	slice "$1" 1 "$2"
}

echo "bayesd validation: $("$BC" --version 2>/dev/null | head -1) options: ${*:-(defaults)}"
for name in trec06p spamassassin csdmc2010; do
	win=1000
	[ $name = trec06p ] && win=5000
	"$BC" --db "$OUT/$name.db" "$@" --json --windows $win --results "$OUT/$name.res" \
		eval "$(index_of $name)" >"$OUT/online-$name.json" 2>"$OUT/online-$name.err" ||
		{ echo "online $name: eval failed: $(tail -1 "$OUT/online-$name.err")"; exit 1; }
done
for train in trec06p spamassassin csdmc2010; do
	"$BC" --db "$OUT/train-$train.db" "$@" --train-only eval "$(index_of $train)" >/dev/null 2>"$OUT/train-$train.err" ||
		{ echo "train $train: failed: $(tail -1 "$OUT/train-$train.err")"; exit 1; }
	for test in trec06p spamassassin csdmc2010; do
		[ $test = $train ] && continue
		limit=0
		[ $test = trec06p ] && limit=10000
		absolute $test $limit >"$OUT/index-$test"
		"$BC" --db "$OUT/train-$train.db" "$@" --json --score-only --results "$OUT/$train-$test.res" \
			eval "$OUT/index-$test" >"$OUT/transfer-$train-$test.json" 2>"$OUT/$train-$test.err" ||
			{ echo "transfer $train -> $test: failed: $(tail -1 "$OUT/$train-$test.err")"; exit 1; }
	done
done
python3 - "$OUT" <<'PY'
import glob, json, math, os, sys
out = sys.argv[1]
runs = []
for kind in ("online", "transfer"):
    for f in sorted(glob.glob(os.path.join(out, kind + "-*.json"))):
        j = json.loads(open(f).read().splitlines()[-1])
        name = os.path.basename(f)[len(kind) + 1:-5].replace("-", " -> ")
        wins = [w["one_minus_roca_pct"] for w in j.get("windows", []) if w["one_minus_roca_pct"] is not None]
        runs.append((kind, name, j, max(wins) if wins else None))
print("%-9s %-26s %9s %7s %7s %11s" % ("run", "corpus", "(1-ROCA)%", "hm%", "sm%", "worst win"))
for kind, name, j, worst in runs:
    print("%-9s %-26s %9.4f %7.3f %7.3f %11s" % (kind, name, j["one_minus_roca_pct"], j["hm_pct"], j["sm_pct"],
                                              "%.4f" % worst if worst is not None else "-"))
g = math.exp(sum(math.log(max(j["one_minus_roca_pct"], 1e-6)) for _, _, j, _ in runs) / len(runs))
ws = [w for _, _, _, w in runs if w is not None]
gw = math.exp(sum(math.log(max(w, 1e-6)) for w in ws) / len(ws))
print("geometric mean (1-ROCA)%% of the %d runs: %.4f; of the online worst windows: %.4f" % (len(runs), g, gw))
json.dump({"runs": [{"kind": k, "corpus": n, **j, "worst_window": w} for k, n, j, w in runs],
           "geomean_one_minus_roca_pct": g, "geomean_worst_window_pct": gw},
          open(os.path.join(out, "validate.json"), "w"), indent=1)
PY
echo "(databases, results and validate.json in $OUT)"
