#!/bin/sh
# bayesc-maildir-tree.sh - "bayesc learn_spam ~/Maildir" walks the whole
# tree (issue 17, point 11): a Maildir++ maildir's .Junk and .Archive.2023
# subfolders, a layout=fs Junk/ inside a maildir, and nested plain folders
# (like rspamc and bogofilter), and never tmp/, dot files or a maildir's
# own files (dovecot-uidlist). It used to print "no mail found in
# directory" for a Maildir++ tree whose INBOX was empty. --no-recurse reads
# a directory's own mail only; a tree with no mail anywhere is exit 65.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BC=${BAYESC:-./bayesc}
. tests/tap.sh
need_built "$BC"
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
sample_messages "$t/m"
M=$t/Maildir
mkdir -p "$M/cur" "$M/new" "$M/tmp" "$M/.Junk/cur" "$M/.Junk/new" "$M/.Junk/tmp" \
	"$M/.Archive.2023/cur" "$M/.Archive.2023/new" "$M/Junk/cur" "$M/Junk/new"
cp "$t/m/spam-1.eml" "$M/.Junk/cur/1700000001.M1.host:2,S"
cp "$t/m/spam-2.eml" "$M/.Junk/new/1700000002.M2.host"
cp "$t/m/spam-3.eml" "$M/Junk/cur/1700000003.M3.host:2,S"
cp "$t/m/ham-1.eml" "$M/.Archive.2023/cur/1700000004.M4.host:2,S"
cp "$t/m/spam-4.eml" "$M/.Junk/tmp/1700000005.M5.host"      # being delivered: never read
cp "$t/m/spam-5.eml" "$M/tmp/1700000006.M6.host"
printf '3 V1700000000 N1\n' >"$M/dovecot-uidlist"
printf '3 V1700000000 N1\n' >"$M/.Junk/dovecot-uidlist"
touch "$M/.Junk/maildirfolder"

"$BC" --db "$t/a.sqlite" learn_spam "$M" >"$t/out" 2>"$t/err"; rc=$?
n=$(grep -c ': learned' "$t/out")
if [ $rc = 0 ] && [ "$n" = 4 ] && ! grep -q 'tmp/17\|uidlist\|maildirfolder' "$t/out"; then
	ok "learn_spam on a Maildir++ tree with an empty INBOX: the 4 messages of .Junk, Junk/, .Archive.2023"
else
	no "learn_spam Maildir++ tree: exit $rc, $n learned: $(head -6 "$t/out") $(head -3 "$t/err")"
fi
"$BC" --db "$t/a.sqlite" --no-recurse learn_spam "$M" >"$t/out" 2>"$t/err"; rc=$?
[ $rc = 65 ] && grep -q 'no mail found' "$t/err" && [ ! -s "$t/out" ] &&
	ok "--no-recurse: the empty INBOX alone is no mail (exit 65)" ||
	no "--no-recurse: exit $rc: $(head -2 "$t/out") $(head -2 "$t/err")"
cp "$t/m/ham-2.eml" "$M/cur/1700000007.M7.host:2,S"
"$BC" --db "$t/a.sqlite" --no-recurse learn_ham "$M" >"$t/out" 2>"$t/err"; rc=$?
[ $rc = 0 ] && [ "$(grep -c ': learned' "$t/out")" = 1 ] && grep -q '/cur/1700000007' "$t/out" &&
	ok "--no-recurse reads the maildir's own cur/ and nothing under it" ||
	no "--no-recurse with INBOX mail: exit $rc: $(head -4 "$t/out") $(head -2 "$t/err")"

# nested plain folders (MH-like, or a saved tree): every level; dot folders skipped
F=$t/Mail
mkdir -p "$F/lists/2023/q1" "$F/lists/.git" "$F/empty/deeper"
cp "$t/m/ham-3.eml" "$F/lists/2023/q1/1"
cp "$t/m/ham-4.eml" "$F/lists/2023/2"
cp "$t/m/ham-5.eml" "$F/lists/.git/config"
cp "$t/m/ham-6.eml" "$F/.hidden" 2>/dev/null || cp "$t/m/ham-1.eml" "$F/.hidden"
ln -s .. "$F/lists/2023/q1/loop"       # a loop: not followed
"$BC" --db "$t/b.sqlite" learn_ham "$F" >"$t/out" 2>"$t/err"; rc=$?
if [ $rc = 0 ] && [ "$(grep -c ': learned' "$t/out")" = 2 ] && ! grep -q '\.git\|\.hidden\|loop' "$t/out"; then
	ok "nested folders: the 2 messages two and three levels down, no dot folder, no loop"
else
	no "nested folders: exit $rc: $(head -5 "$t/out") $(head -3 "$t/err")"
fi

# a tree with no mail anywhere is an error, not exit 0
E=$t/Empty
mkdir -p "$E/cur" "$E/new" "$E/.Junk/cur" "$E/.Junk/new" "$E/sub/deeper"
for verb in learn_spam check; do
	"$BC" --db "$t/b.sqlite" $verb "$E" >"$t/out" 2>"$t/err"; rc=$?
	[ $rc = 65 ] && grep -q "$E: no mail found" "$t/err" && ok "$verb on a tree with no mail: exit 65: $(cat "$t/err")" ||
		no "$verb on an empty tree: exit $rc: $(head -2 "$t/out") $(head -2 "$t/err")"
done
# the same walk through the controller client (the inputs are shared): -s to nowhere fails on
# connecting, not with "no mail found"
"$BC" -s "$t/none.sock" -t 2 learn_spam "$M" >"$t/out" 2>"$t/err"; rc=$?
! grep -q 'no mail found' "$t/err" && [ $rc = 69 ] && ok "the client walks the same tree (exit 69 with no bayesd, not no mail)" ||
	no "client on the tree: exit $rc: $(head -2 "$t/err")"

[ $fails = 0 ] || exit 1
