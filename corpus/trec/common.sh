# common.sh - shared by the TREC toolkit filter scripts: where the state is
# and which bayesc runs. State lives in $EVAL_STATE/bayesd (EVAL_STATE
# defaults to /tmp/bayesd-trec); bayesc is found on PATH or next to the
# source tree when built in place.
STATE=${EVAL_STATE:-/tmp/bayesd-trec}/bayesd
DB=$STATE/bayes.sqlite
here=$(cd "$(dirname "$0")" && pwd)
if command -v bayesc >/dev/null 2>&1; then
	BAYESC=bayesc
elif [ -x "$here/../../bayesc" ]; then
	BAYESC=$here/../../bayesc
else
	echo "bayesc not found (install it or build the tree)" >&2
	exit 1
fi
