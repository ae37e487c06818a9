#!/bin/sh
# bayesc-offline.sh - bayesc --db on a real database file: learn the sample
# messages, check them, already learned / relearned / forget, stat, and
# the clear errors for bad input (missing or corrupt database, unreadable
# file, a directory without mail, an incompatible database); per-user
# figures in stat; import-mbox (mbox splitting end to end, summary,
# progress line on a terminal).
cd "$(dirname "$0")/../.." || exit 1
BC=${BAYESC:-./bayesc}
S=corpus/samples
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
. tests/tap.sh
expect() { # expected-exit description command...
	want=$1 what=$2; shift 2
	"$@" >"$t/out" 2>"$t/err"; rc=$?
	if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else no "$what: exit $rc, wanted $want: $(cat "$t/err" | head -2)"; fi
}

expect 0 "learn_spam the samples" $BC --db "$t/db" learn_spam $S/spam-1.eml $S/spam-2.eml $S/spam-3.eml $S/spam-4.eml $S/spam-5.eml
grep -c ': learned$' "$t/out" | grep -qx 5 && ok "5 learned" || no "5 learned: $(cat "$t/out")"
expect 0 "learn_ham the samples" $BC --db "$t/db" learn_ham $S/ham-1.eml $S/ham-2.eml $S/ham-3.eml $S/ham-4.eml $S/ham-5.eml
expect 0 "learn again" $BC --db "$t/db" learn_spam $S/spam-1.eml
grep -q 'already learned' "$t/out" && ok "already learned" || no "already learned: $(cat "$t/out")"

# five messages of each class are little evidence: an unseen spam must lean
# spam; scored, check exits 0 whatever the verdict (rspamc style)
expect 0 "check an unseen spam" $BC --db "$t/db" --json check $S/spam-6.eml
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["probability"]>0.5 and (d["verdict"]=="spam")==(d["probability"]>=0.9), d' "$t/out" &&
	ok "unseen spam leans spam" || no "unseen spam leans spam: $(cat "$t/out")"
expect 0 "check a learned spam: scored, exit 0" $BC --db "$t/db" check $S/spam-1.eml
grep -q '^Verdict: spam' "$t/out" && ok "a learned spam is spam" || no "learned spam: $(cat "$t/out")"
# -E (spamc -c style): the exit status says spam (1) or ham (0)
expect 1 "check -E a learned spam" $BC --db "$t/db" -E check $S/spam-1.eml
expect 1 "check --exit-code -q: no output" $BC --db "$t/db" --exit-code -q check $S/spam-1.eml
[ -s "$t/out" ] && no "-q printed: $(cat "$t/out")" || ok "-q prints nothing"
expect 0 "check -E a ham" $BC --db "$t/db" -E check $S/ham-1.eml
# an error is never 1, with or without -E
expect 66 "check -E on a missing database" $BC --db "$t/nothere" -E check $S/spam-1.eml
expect 0 "check an unseen ham is ham" $BC --db "$t/db" --json check $S/ham-6.eml
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["verdict"]=="ham" and 0<=d["probability"]<0.5, d' "$t/out" &&
	ok "json verdict ham" || no "json verdict ham: $(cat "$t/out")"
expect 0 "check --explain" $BC --db "$t/db" --explain check $S/spam-1.eml
grep -Eq '^Feature: .+ \(prob 0\.[0-9]+, spam [0-9]+, ham [0-9]+\)$' "$t/out" && ok "explain lists words" || no "explain lists words: $(cat "$t/out")"

expect 0 "relearn a spam as ham" $BC --db "$t/db" learn_ham $S/spam-1.eml
grep -q 'relearned' "$t/out" && ok "relearned" || no "relearned: $(cat "$t/out")"
expect 0 "stat --json" $BC --db "$t/db" --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["learned_spam"]==4 and d["learned_ham"]==6, d' "$t/out" &&
	ok "counts moved (4 spam, 6 ham)" || no "counts moved: $(cat "$t/out")"
expect 0 "forget" $BC --db "$t/db" forget $S/spam-1.eml
grep -q 'forgotten' "$t/out" && ok "forgotten" || no "forgotten: $(cat "$t/out")"
expect 0 "learn from stdin" sh -c "$BC --db '$t/db' learn_spam < $S/spam-6.eml"

# maildir
mkdir -p "$t/md/cur" "$t/md/new" "$t/md/tmp"; cp $S/ham-6.eml "$t/md/cur/1:2,S"; cp $S/ham-5.eml "$t/md/new/2"
expect 0 "learn a maildir" $BC --db "$t/db" learn_ham "$t/md"
grep -c 'learned' "$t/out" | grep -qx 2 && ok "2 maildir messages" || no "2 maildir messages: $(cat "$t/out")"

# per-user figures in stat: global first, then each user's own
$BC --db "$t/udb" -q -u alice learn_spam $S/spam-1.eml $S/spam-2.eml
$BC --db "$t/udb" -q -u bob learn_ham $S/ham-1.eml
$BC --db "$t/udb" -q learn_ham $S/ham-2.eml
expect 0 "stat with users" $BC --db "$t/udb" stat
grep -q '^Per-user statistics (2 users):' "$t/out" &&
	grep -Eq '^  alice +2 +0 +[1-9][0-9]*$' "$t/out" && grep -Eq '^  bob +0 +1 +[1-9][0-9]*$' "$t/out" &&
	ok "per-user table: alice 2 spam, bob 1 ham" || no "per-user table: $(cat "$t/out")"
expect 0 "stat --json with users" $BC --db "$t/udb" --json stat
python3 - "$t/out" <<'PY' && ok "per_user JSON after the global counts" || no "per_user JSON: $(cat "$t/out")"
import json, re, sys
txt = open(sys.argv[1]).read(); d = json.loads(txt)
assert d["learned_spam"] == 2 and d["learned_ham"] == 2, d       # global: learn_global_too
u = {e["user"]: e for e in d["per_user"]}
assert u["alice"]["learned_spam"] == 2 and u["alice"]["learned_ham"] == 0 and u["alice"]["tokens"] > 0, u
assert u["bob"]["learned_spam"] == 0 and u["bob"]["learned_ham"] == 1, u
assert list(d)[-1] == "per_user", list(d)
m = re.search(r'"(?:learned_)?spam[a-z_]*"\s*:\s*([0-9]+)', txt)
assert m and int(m.group(1)) == 2, m                            # the first spam count is the global one
PY
expect 0 "stat -u alice" $BC --db "$t/udb" -u alice --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["learned_spam"]==2 and "per_user" not in d, d' "$t/out" &&
	ok "one user's stat" || no "one user's stat: $(cat "$t/out")"

# errors: one clear line, nothing written
expect 66 "missing database" $BC --db "$t/none.db" check $S/ham-1.eml
[ ! -e "$t/none.db" ] && ok "missing database not created by check" || no "check created a database"
printf 'garbage garbage garbage garbage garbage garbage\n' >"$t/bad.db"
expect 76 "corrupt database" $BC --db "$t/bad.db" learn_spam $S/spam-1.eml
grep -q 'not a bayesd database' "$t/err" && ok "corrupt database message" || no "corrupt message: $(cat "$t/err")"
mkdir "$t/empty"
expect 65 "directory without mail" $BC --db "$t/db" learn_spam "$t/empty"
grep -q 'no mail found' "$t/err" && ok "no mail message" || no "no mail message: $(cat "$t/err")"
expect 65 "unreadable file" $BC --db "$t/db" learn_spam "$t/does-not-exist"
before=$($BC --db "$t/db" --json stat)
expect 64 "unknown command" $BC --db "$t/db" learn_eggs $S/spam-1.eml
after=$($BC --db "$t/db" --json stat)
[ "$before" = "$after" ] && ok "nothing written on errors" || no "database changed on errors"
sqlite3 "$t/db" "PRAGMA integrity_check" | grep -qx ok && ok "integrity_check ok" || no "integrity_check"
sqlite3 "$t/db" "UPDATE meta SET value = 'v=0 other' WHERE key = 'tokenizer'"
expect 76 "incompatible tokenizer" $BC --db "$t/db" check $S/ham-1.eml
grep -q 'incompatible tokenizer' "$t/err" && ok "incompatible message" || no "incompatible message: $(cat "$t/err")"

# import-mbox and learn_* --mbox: an mbox written here from the sample
# messages (mboxrd-quoted "From " lines, CRLF, no final newline) is split
# into the very messages it was made of - learning the sample files
# afterwards answers "already learned" - with a summary line (text and
# JSON); a file that is not an mbox is refused; the progress line appears
# on a terminal (script(1)) and never in a pipe; a maildir learn on a
# terminal ends with a summary. Client mode is in controller.sh.
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

expect 0 "import-mbox --spam" $BC --db "$t/mdb" import-mbox --spam "$t/spam.mbox"
grep -qx '3 messages: 3 learned, 0 already learned, 0 relearned, 0 failed' "$t/out" &&
	ok "summary line: 3 learned" || no "summary line: $(cat "$t/out")"
[ ! -s "$t/err" ] && ok "nothing on stderr in a pipe (no progress line)" || no "stderr not empty: $(cat -A "$t/err" | head -3)"
expect 0 "import-mbox --ham --json" $BC --db "$t/mdb" --json import-mbox --ham "$t/ham.mbox"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["messages"]==4 and d["learned"]==4 and d["failed"]==0, d' "$t/out" &&
	ok "JSON summary: 4 learned" || no "JSON summary: $(cat "$t/out")"

# the split gave back the very messages: learning the files is "already learned"
expect 0 "learn the spam files" $BC --db "$t/mdb" learn_spam $S/spam-1.eml $S/spam-2.eml $S/spam-3.eml
[ "$(grep -c ': already learned$' "$t/out")" = 3 ] && ok "mbox spam messages = the files" || no "spam split: $(cat "$t/out")"
expect 0 "learn the ham files" $BC --db "$t/mdb" learn_ham $S/ham-1.eml $S/ham-2.eml "$t/fromlines.eml" "$t/crlf.eml"
[ "$(grep -c ': already learned$' "$t/out")" = 4 ] &&
	ok "mbox ham messages = the files (From-line unquoting, CRLF, no final newline)" || no "ham split: $(cat "$t/out")"

expect 0 "import-mbox again" $BC --db "$t/mdb" import-mbox --spam "$t/spam.mbox"
grep -qx '3 messages: 0 learned, 3 already learned, 0 relearned, 0 failed' "$t/out" &&
	ok "summary: 3 already learned" || no "summary again: $(cat "$t/out")"
expect 0 "learn_ham --mbox: a line per message" $BC --db "$t/mdb" learn_ham --mbox "$t/spam.mbox"
grep -qx "$t/spam.mbox#2: relearned" "$t/out" && ok "FILE#N names, relearned" || no "--mbox lines: $(cat "$t/out")"
expect 0 "stat" $BC --db "$t/mdb" --json stat
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["learned_spam"]==0 and d["learned_ham"]==7, d' "$t/out" &&
	ok "counts: 0 spam, 7 ham" || no "counts: $(cat "$t/out")"

# errors
expect 65 "a file that is not an mbox" $BC --db "$t/mdb" import-mbox --ham $S/ham-3.eml
grep -q 'not an mbox' "$t/err" && ok "says not an mbox" || no "not an mbox: $(cat "$t/err")"
expect 64 "import-mbox without a class" $BC --db "$t/mdb" import-mbox "$t/spam.mbox"
expect 64 "--spam with another verb" $BC --db "$t/mdb" --spam learn_ham "$t/spam.mbox"

# the progress line and the summary on a terminal (script gives a pty)
if command -v script >/dev/null 2>&1; then
	mkdir -p "$t/mmd/cur" "$t/mmd/new"
	i=0; for f in $S/*.eml; do i=$((i + 1)); cp "$f" "$t/mmd/cur/$i:2,S"; done
	script -qec "$BC --db '$t/mdb2' learn_spam '$t/mmd' >'$t/md.out'" "$t/tty" >/dev/null 2>&1
	grep -q 'messages, .* of .* MB (.*%), .* msg/s, ETA' "$t/tty" && ok "progress line on a terminal" ||
		no "progress line: $(cat -A "$t/tty" | head -3)"
	grep -q "$i messages: $i learned, 0 already learned" "$t/tty" && ok "summary on a terminal" ||
		no "terminal summary: $(cat -A "$t/tty" | head -3)"
	[ "$(grep -c ': learned$' "$t/md.out")" = "$i" ] && ok "per-message lines still on stdout" || no "stdout: $(cat "$t/md.out")"
	script -qec "$BC --db '$t/mdb3' import-mbox --spam '$t/spam.mbox' >/dev/null" "$t/tty2" >/dev/null 2>&1
	grep -q 'messages, .* MB' "$t/tty2" && ok "import-mbox progress line" || no "import-mbox progress: $(cat -A "$t/tty2" | head -3)"
else
	echo "# script(1) missing: progress on a terminal not tested"
fi

[ $fails -eq 0 ]
