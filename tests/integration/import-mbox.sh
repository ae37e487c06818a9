#!/bin/sh
# import-mbox.sh - bayesc import-mbox and learn_* --mbox on a database file:
# an mbox written here from the sample messages (mboxrd-quoted "From "
# lines, CRLF, no final newline) is split into the very messages it was
# made of - learning the sample files afterwards answers "already
# learned" - with a summary line (text and JSON); a file that is not an
# mbox is refused; the progress line appears on a terminal (script(1))
# and never in a pipe; a maildir learn on a terminal ends with a summary.
# Client mode (through bayesd) is in controller.sh.
cd "$(dirname "$0")/../.." || exit 1
BC=${BAYESC:-./bayesc}
S=corpus/samples
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }
expect() { # expected-exit description command...
	want=$1 what=$2; shift 2
	"$@" >"$t/out" 2>"$t/err"; rc=$?
	if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else no "$what: exit $rc, wanted $want: $(head -2 "$t/err")"; fi
}

# mboxrd: each message after a "From " line, its own "From " lines quoted
# with one more '>', a blank line after it
for f in $S/spam-1.eml $S/spam-2.eml $S/spam-3.eml; do
	echo "From spammer@example.com Mon Jan  1 00:00:00 2024"
	sed 's/^\(>*From \)/>\1/' "$f"
	echo
done >"$t/spam.mbox"
# a message whose body has "From " lines, and one that is CRLF with no final newline
printf 'From: a@example.org\nSubject: from lines\n\nFrom the desk of a friend\n>From quoted already\n' >"$t/fromlines.eml"
printf 'From: b@example.org\r\nSubject: crlf\r\n\r\nlast line without a newline' >"$t/crlf.eml"
{
	for f in $S/ham-1.eml $S/ham-2.eml "$t/fromlines.eml"; do
		echo "From alice@example.org Mon Jan  1 00:00:00 2024"
		sed 's/^\(>*From \)/>\1/' "$f"
		echo
	done
	printf 'From bob@example.org Mon Jan  1 00:00:00 2024\r\n'
	cat "$t/crlf.eml"
} >"$t/ham.mbox"

expect 0 "import-mbox --spam" $BC --db "$t/db" import-mbox --spam "$t/spam.mbox"
grep -qx '3 messages: 3 learned, 0 already learned, 0 relearned, 0 failed' "$t/out" &&
	ok "summary line: 3 learned" || no "summary line: $(cat "$t/out")"
[ ! -s "$t/err" ] && ok "nothing on stderr in a pipe (no progress line)" || no "stderr not empty: $(cat -A "$t/err" | head -3)"
expect 0 "import-mbox --ham --json" $BC --db "$t/db" --json import-mbox --ham "$t/ham.mbox"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["messages"]==4 and d["learned"]==4 and d["failed"]==0, d' "$t/out" &&
	ok "JSON summary: 4 learned" || no "JSON summary: $(cat "$t/out")"

# the split gave back the very messages: learning the files is "already learned"
expect 0 "learn the spam files" $BC --db "$t/db" learn_spam $S/spam-1.eml $S/spam-2.eml $S/spam-3.eml
[ "$(grep -c ': already learned$' "$t/out")" = 3 ] && ok "mbox spam messages = the files" || no "spam split: $(cat "$t/out")"
expect 0 "learn the ham files" $BC --db "$t/db" learn_ham $S/ham-1.eml $S/ham-2.eml "$t/fromlines.eml" "$t/crlf.eml"
[ "$(grep -c ': already learned$' "$t/out")" = 4 ] &&
	ok "mbox ham messages = the files (From-line unquoting, CRLF, no final newline)" || no "ham split: $(cat "$t/out")"

expect 0 "import-mbox again" $BC --db "$t/db" import-mbox --spam "$t/spam.mbox"
grep -qx '3 messages: 0 learned, 3 already learned, 0 relearned, 0 failed' "$t/out" &&
	ok "summary: 3 already learned" || no "summary again: $(cat "$t/out")"
expect 0 "learn_ham --mbox: a line per message" $BC --db "$t/db" learn_ham --mbox "$t/spam.mbox"
grep -qx "$t/spam.mbox#2: relearned" "$t/out" && ok "FILE#N names, relearned" || no "--mbox lines: $(cat "$t/out")"
expect 0 "stat" $BC --db "$t/db" --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["learned_spam"]==0 and d["learned_ham"]==7, d' "$t/out" &&
	ok "counts: 0 spam, 7 ham" || no "counts: $(cat "$t/out")"

# errors
expect 65 "a file that is not an mbox" $BC --db "$t/db" import-mbox --ham $S/ham-3.eml
grep -q 'not an mbox' "$t/err" && ok "says not an mbox" || no "not an mbox: $(cat "$t/err")"
expect 64 "import-mbox without a class" $BC --db "$t/db" import-mbox "$t/spam.mbox"
expect 64 "--spam with another verb" $BC --db "$t/db" --spam learn_ham "$t/spam.mbox"

# the progress line and the summary on a terminal (script gives a pty)
if command -v script >/dev/null 2>&1; then
	mkdir -p "$t/md/cur" "$t/md/new"
	i=0; for f in $S/*.eml; do i=$((i + 1)); cp "$f" "$t/md/cur/$i:2,S"; done
	script -qec "$BC --db '$t/db2' learn_spam '$t/md' >'$t/md.out'" "$t/tty" >/dev/null 2>&1
	grep -q 'messages, .* of .* MB (.*%), .* msg/s, ETA' "$t/tty" && ok "progress line on a terminal" ||
		no "progress line: $(cat -A "$t/tty" | head -3)"
	grep -q "$i messages: $i learned, 0 already learned" "$t/tty" && ok "summary on a terminal" ||
		no "terminal summary: $(cat -A "$t/tty" | head -3)"
	[ "$(grep -c ': learned$' "$t/md.out")" = "$i" ] && ok "per-message lines still on stdout" || no "stdout: $(cat "$t/md.out")"
	script -qec "$BC --db '$t/db3' import-mbox --spam '$t/spam.mbox' >/dev/null" "$t/tty2" >/dev/null 2>&1
	grep -q 'messages, .* MB' "$t/tty2" && ok "import-mbox progress line" || no "import-mbox progress: $(cat -A "$t/tty2" | head -3)"
else
	echo "# script(1) missing: progress on a terminal not tested"
fi

[ $fails -eq 0 ]
