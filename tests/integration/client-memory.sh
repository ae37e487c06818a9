#!/bin/sh
# client-memory.sh - bayesc's memory is bounded by what bayesd takes, not
# by the file (issue 19, point 5): "bayesc check" of a 2 GB file held
# 2.1 GB before the controller refused it. Now bayesc asks GET /limits
# and sends a check no more than scan_limit bytes (what bayesd scans
# anyway), and refuses unread a learn larger than max_request_bytes.
# Input: a sparse 2 GB file (truncate -s 2G) behind a real message; max
# RSS measured with /usr/bin/time -v.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
. tests/tap.sh
need_built "$BD" "$BC"
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time not installed (apt-get install time)"; exit 77; }
t=$(mktemp -d) || exit 1
pid=
trap 'stop_bayesd; rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
sample_messages "$t/m"

start_test_bayesd "$t" <<EOF
scan_limit = 2M
max_request_bytes = 8M
EOF
"$BC" -s "$SOCK" learn_spam "$t/m"/spam-*.eml >/dev/null && "$BC" -s "$SOCK" learn_ham "$t/m"/ham-*.eml >/dev/null ||
	no "training failed"

# a real message, then 2 GB of holes
cp "$SPAM" "$t/big.eml"
truncate -s 2G "$t/big.eml" || { echo "SKIP: truncate -s 2G failed here"; exit 77; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

# the yardstick: bayesc checking the small message itself (a sanitizer build starts higher)
/usr/bin/time -v "$BC" -s "$SOCK" --json check "$SPAM" >/dev/null 2>"$t/base.time"
base=$(rss "$t/base.time")
cap=$((base + 16384))	# + 16 MB: eight times scan_limit, and 1/128 of the file
/usr/bin/time -v "$BC" -s "$SOCK" --json check "$t/big.eml" >"$t/check.out" 2>"$t/check.time"; rc=$?
kb=$(rss "$t/check.time")
[ $rc = 0 ] && grep -q '"probability"' "$t/check.out" && ok "check of a 2 GB file is scored (exit 0)" ||
	no "check of the 2 GB file: exit $rc $(grep bayesc: "$t/check.time") $(cat "$t/check.out")"
# bounded by scan_limit (2 MB) plus the program itself, far from 2 GB
[ -n "$kb" ] && [ "$kb" -lt "$cap" ] && ok "check of 2 GB: max RSS ${kb} KB (a small check: $base KB; cap $cap KB)" ||
	no "check of 2 GB: max RSS ${kb:-?} KB (cap $cap KB)"
# what it sent is what bayesd scans: the same probability as the file cut at scan_limit
head -c 2097152 "$t/big.eml" >"$t/cut.eml"
p1=$(sed -n 's/.*"probability": *\([0-9.e-]*\).*/\1/p' "$t/check.out")
p2=$("$BC" -s "$SOCK" --json check "$t/cut.eml" | sed -n 's/.*"probability": *\([0-9.e-]*\).*/\1/p')
[ -n "$p1" ] && [ "$p1" = "$p2" ] && ok "the 2 GB check scores as its first scan_limit bytes ($p1)" ||
	no "2 GB check probability $p1, its first 2 MB $p2"

# stdin: cut the same way, the rest read and dropped (the writer is not cut off)
/usr/bin/time -v sh -c "head -c 300000000 '$t/big.eml' | '$BC' -s '$SOCK' --json check" >"$t/stdin.out" 2>"$t/stdin.time"; rc=$?
kb=$(rss "$t/stdin.time")
[ $rc = 0 ] && grep -q '"probability"' "$t/stdin.out" && [ "${kb:-999999999}" -lt "$cap" ] &&
	ok "check of 300 MB on stdin: scored, max RSS ${kb} KB" || no "stdin check: exit $rc, RSS ${kb:-?} KB"

# a learn larger than max_request_bytes is refused without being read
/usr/bin/time -v "$BC" -s "$SOCK" learn_spam "$t/big.eml" >"$t/learn.out" 2>"$t/learn.time"; rc=$?
kb=$(rss "$t/learn.time")
[ $rc = 65 ] && grep -q 'more than bayesd takes' "$t/learn.time" && [ "${kb:-999999999}" -lt "$cap" ] &&
	ok "learn of 2 GB: refused before sending (exit 65), max RSS ${kb} KB" ||
	no "learn of 2 GB: exit $rc, RSS ${kb:-?} KB: $(grep bayesc: "$t/learn.time")"
head -c 9000000 /dev/zero >>"$t/nine.eml"
{ cat "$HAM"; cat "$t/nine.eml"; } | "$BC" -s "$SOCK" learn_ham >"$t/l2.out" 2>&1; rc=$?
[ $rc = 65 ] && grep -q 'more than bayesd takes' "$t/l2.out" && ok "learn of 9 MB on stdin (max 8 MB): refused, exit 65" ||
	no "stdin learn of 9 MB: exit $rc $(cat "$t/l2.out")"
# a message under the limits is sent whole and learned as before
"$BC" -s "$SOCK" learn_ham "$HAM" | grep -q 'already learned' && ok "small learns unchanged" || no "small learn"
echo "# $fails failure(s)"
[ "$fails" = 0 ]
