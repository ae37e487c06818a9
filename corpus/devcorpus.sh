# devcorpus.sh - sourced by validate.sh and early.sh: the three development
# corpora. Needs C (the shared corpus folder) and PROG (for messages) set;
# sets T6 and unpacks trec06p once into ${TMPDIR:-/tmp}/bayesd-corpus.
T6=${TMPDIR:-/tmp}/bayesd-corpus/trec06p
if [ ! -f "$T6/index" ]; then
	"$C/unpack" trec06p "${TMPDIR:-/tmp}/bayesd-corpus" >/dev/null || { echo "$PROG: cannot unpack trec06p from $C"; exit 1; }
fi
for f in "$C/spamassassin/index" "$C/csdmc2010/index"; do
	[ -f "$f" ] || { echo "$PROG: no corpus index $f"; exit 1; }
done

# index_of NAME - the TREC index of a development corpus
index_of() {
	case $1 in
	trec06p) echo "$T6/index" ;;
	*) echo "$C/$1/index" ;;
	esac
}

# slice NAME FROM TO - messages FROM..TO (TO 0: to the end) of the index, as
# "label /absolute/path"
slice() {
	idx=$(index_of "$1")
	dir=$(cd "$(dirname "$idx")" && pwd)
	awk -v d="$dir" -v a="$2" -v b="$3" \
		'($1 == "spam" || $1 == "ham") { n++; if (n >= a && (b == 0 || n <= b)) print $1, d "/" $2 }' "$idx"
}
