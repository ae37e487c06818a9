#!/bin/sh
# dovecot.sh - learning from the Junk folder end to end: the shipped Sieve
# scripts (trainer/sieve/report-spam.sieve, report-ham.sieve) and pipe
# helpers (bayes-learn-spam, bayes-learn-ham) in a private, loopback-only
# Dovecot with imapsieve (tests/harness/dovecot-harness), with a
# real bayesd running as the Dovecot mail user (nobody). Over IMAP
# (imap-move.py, Python's imaplib), for user alice:
#   - MOVE INBOX->Junk learns spam for alice (stat -u alice), bob unchanged
#   - MOVE Junk->INBOX relearns it as ham: counts move, not doubled
#   - COPY INBOX->Junk learns spam too
#   - the same message moved to Junk again: "already learned", no change
#   - MOVE Junk->Trash learns nothing (the ham helper does not even run)
#   - bayesd stopped: the MOVE still succeeds quickly, the message is in
#     Junk, the helper logged the failure and exited 0
# and measures (prints, does not assert) the MOVE round trip with and
# without Sieve reporting and the time of 500 moves in a row each way.
#
# Each helper is called through a small wrapper (like the official check
# does) that sets BAYESC_SOCKET and PATH, since Dovecot gives pipe programs
# an almost empty environment, and records the calls.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77 with
# a SKIP line when root, Dovecot, Pigeonhole or the harness are missing.
# KEEP=1 keeps the work directory. MOVES=N changes the 500.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
TOOLS=${CHECK_TOOLS:-tests/harness}
DH=$TOOLS/dovecot-harness
MV=$TOOLS/imap-move
SV=trainer/sieve
S=corpus/samples
MOVES=${MOVES:-500}
MUSER=nobody
PY=/usr/bin/python3; [ -x $PY ] || PY=python3

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (private Dovecot master)"
for c in dovecot doveadm sievec setpriv timeout $PY; do
	command -v "$c" >/dev/null 2>&1 || skip "$c not installed (apt-get install dovecot-imapd dovecot-sieve)"
done
[ -f /usr/lib/dovecot/modules/lib95_imap_sieve_plugin.so ] || skip "imap_sieve plugin missing (apt-get install dovecot-sieve)"
[ -x /usr/lib/dovecot/lmtp ] || skip "dovecot-lmtpd not installed (the harness's Dovecot serves LMTP too)"
# Dovecot caps the address space of pipe programs (default_vsz_limit, 256 MB);
# an AddressSanitizer build of bayesc cannot map its shadow memory under it.
if nm ./bayesc 2>/dev/null | grep -q __asan_init; then
	skip "sanitizer build: Dovecot's vsz limit leaves no room for ASan's shadow memory"
fi
[ -x "$DH" ] && [ -f "$MV" ] || skip "Dovecot harness not found at $TOOLS"
for p in "$BD" "$BC"; do [ -x "$p" ] || skip "$p not built"; done
for f in report-spam.sieve report-ham.sieve bayes-learn-spam bayes-learn-ham 90-imapsieve.conf; do
	[ -f $SV/$f ] || { echo "not ok - $SV/$f missing"; exit 1; }
done
for f in spam-1 spam-2 spam-3 ham-2; do [ -f $S/$f.eml ] || skip "$S/$f.eml missing"; done
MUID=$(id -u $MUSER) && MGID=$(id -g $MUSER) || skip "no user $MUSER"

t=$(mktemp -d /tmp/bayesd-dovecot.XXXXXX) || exit 1
chmod 755 "$t"
pid='' DC=0
cleanup() {
	[ "$DC" = 1 ] && "$DH" stop "$t/dc" >/dev/null 2>&1
	stop_bayesd
	if [ "${KEEP:-0}" = 1 ]; then echo "(kept $t)"; else rm -rf "$t"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh
die() { no "$1"; [ -f "$t/dc/dovecot.log" ] && tail -15 "$t/dc/dovecot.log"; exit 1; }

# Binaries the mail user can run (the checkout may not be reachable by it).
mkdir -p "$t/bin" "$t/helpers" "$t/sieve" "$t/cap" "$t/bayesd"
cp "$BD" "$t/bin/bayesd" && cp "$BC" "$t/bin/bayesc" || exit 1
chmod 755 "$t/bin/bayesd" "$t/bin/bayesc"
chown "$MUID:$MGID" "$t/cap" "$t/bayesd"
BC=$t/bin/bayesc
SOCK=$t/bayesd/controller.sock

# The two helpers differ in their CLASS line only.
if [ "$(diff $SV/bayes-learn-spam $SV/bayes-learn-ham | grep -c '^[<>]')" = 2 ] &&
	diff $SV/bayes-learn-spam $SV/bayes-learn-ham | grep -q '^> CLASS=ham$'; then
	ok "bayes-learn-spam and bayes-learn-ham differ only in CLASS"
else
	no "bayes-learn-spam and bayes-learn-ham drifted apart: $(diff $SV/bayes-learn-spam $SV/bayes-learn-ham | head -3 | tr '\n' ' ')"
fi

# Sieve dir: the shipped scripts, and wrappers in front of the shipped helpers.
cp $SV/report-spam.sieve $SV/report-ham.sieve "$t/sieve/"
for p in bayes-learn-spam bayes-learn-ham; do
	cp "$SV/$p" "$t/helpers/$p"
	cat >"$t/sieve/$p" <<EOF
#!/bin/sh
# dovecot.sh test wrapper: environment for, and a record of, the shipped $p
BAYESC_SOCKET='$SOCK'; export BAYESC_SOCKET
PATH='$t/bin:/usr/bin:/bin'; export PATH
echo "start $p args=[\$*]" >>'$t/cap/calls.log'
'$t/helpers/$p' "\$@" >>'$t/cap/$p.out' 2>&1
rc=\$?
echo "end $p rc=\$rc" >>'$t/cap/calls.log'
exit \$rc
EOF
done
chmod -R a+rX "$t/sieve" "$t/helpers"
chmod 755 "$t/sieve"/bayes-learn-* "$t/helpers"/*

# bayesd, as the mail user, on a temporary config.
MPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') ||
	skip "no free port"
cat >"$t/bayesd/bayesd.conf" <<EOF
milter_socket = inet:$MPORT@127.0.0.1
controller_socket = $SOCK
database = $t/bayesd/bayes.sqlite
min_learns = 0
score_local = yes
EOF
chown "$MUID:$MGID" "$t/bayesd/bayesd.conf"
"$t/bin/bayesd" -n -c "$t/bayesd/bayesd.conf" >"$t/n.out" 2>&1 || die "bayesd -n: $(tail -1 "$t/n.out")"
setpriv --reuid="$MUID" --regid="$MGID" --clear-groups "$t/bin/bayesd" -f -c "$t/bayesd/bayesd.conf" \
	</dev/null >"$t/bayesd.log" 2>&1 &
pid=$!
i=0; while [ ! -S "$SOCK" ] && [ $i -lt 150 ]; do
	kill -0 "$pid" 2>/dev/null || die "bayesd exited at start: $(tail -1 "$t/bayesd.log")"
	sleep 0.1; i=$((i + 1))
done
[ -S "$SOCK" ] || die "bayesd made no controller socket in 15 s"
ok "bayesd runs as $MUSER"

# The private Dovecot (compiles the shipped Sieve scripts with sievec first).
if "$DH" start "$t/dc" --sieve-dir "$t/sieve" --mail-user $MUSER >"$t/dc.start" 2>&1; then
	DC=1; ok "private Dovecot started, shipped Sieve scripts compile"
else
	die "private Dovecot: $(grep -v '^$' "$t/dc.start" | tail -3 | tr '\n' ' ')"
fi
PORT=$("$DH" port "$t/dc")
for f in spam-1 spam-2 spam-3 ham-2; do
	"$DH" deliver "$t/dc" alice $S/$f.eml >/dev/null || die "could not deliver $f.eml to alice"
done

# helpers
stat_of() { # USER -> "SPAM HAM"
	"$BC" -s "$SOCK" -u "$1" --json stat 2>/dev/null |
		$PY -c 'import json,sys; o=json.load(sys.stdin); print(o["learned_spam"], o["learned_ham"])' 2>/dev/null ||
		echo "? ?"
}
calls() { grep -c "^start $1 args=\[alice\]" "$t/cap/calls.log" 2>/dev/null; }
waitcalls() { # until every helper call has ended (Dovecot's pipe is synchronous; be safe)
	i=0; while [ $i -lt 50 ]; do
		[ "$(grep -c '^start' "$t/cap/calls.log" 2>/dev/null)" = "$(grep -c '^end' "$t/cap/calls.log" 2>/dev/null)" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
LASTMS=
move() { # SUBJECT FROM TO [--copy|--all] -> sets LASTMS; 1 on failure
	o=$(timeout 60 $PY "$MV" --port "$PORT" --user alice --subject "$1" --from "$2" --to "$3" ${4:+"$4"} --json 2>&1) ||
		{ echo "$o" >"$t/move.err"; return 1; }
	LASTMS=$(echo "$o" | $PY -c 'import json,sys; print(json.load(sys.stdin)["ms"])')
	waitcalls
}
inbox_has() { # MAILBOX SUBJECT
	timeout 60 $PY "$MV" --port "$PORT" --user alice --list "$1" | grep -qF "$2"
}
lastout() { tail -1 "$t/cap/$1.out" 2>/dev/null; }
expect_stat() { # USER "SPAM HAM" what
	got=$(stat_of "$1")
	if [ "$got" = "$2" ]; then ok "$3 ($1: learned_spam/ham $got)"; else no "$3: $1 has learned_spam/ham $got, want $2"; fi
}

B0=$(stat_of bob)
expect_stat alice "0 0" "alice starts empty"

# 1. MOVE INBOX -> Junk: spam for alice
if move "Cheap meds" INBOX Junk; then ok "MOVE INBOX->Junk succeeded ($LASTMS ms)"; else die "MOVE INBOX->Junk: $(tail -1 "$t/move.err")"; fi
[ "$(calls bayes-learn-spam)" = 1 ] && ok "spam helper ran once with [alice]" ||
	no "spam helper calls with [alice]: $(calls bayes-learn-spam) ($(tail -3 "$t/dc/dovecot.log" | tr '\n' ' '))"
case $(lastout bayes-learn-spam) in
*": learned"*) ok "spam helper: $(lastout bayes-learn-spam)" ;;
*) no "spam helper said: $(lastout bayes-learn-spam)" ;;
esac
expect_stat alice "1 0" "MOVE to Junk learned spam for alice"
[ "$(stat_of bob)" = "$B0" ] && ok "bob's statistics unchanged ($B0)" || no "bob's statistics changed: $B0 -> $(stat_of bob)"

# 2. MOVE Junk -> INBOX: relearned as ham, counts moved
move "Cheap meds" Junk INBOX || die "MOVE Junk->INBOX: $(tail -1 "$t/move.err")"
ok "MOVE Junk->INBOX succeeded ($LASTMS ms)"
case $(lastout bayes-learn-ham) in
*relearned*) ok "ham helper: $(lastout bayes-learn-ham)" ;;
*) no "ham helper said: $(lastout bayes-learn-ham) (want relearned)" ;;
esac
expect_stat alice "0 1" "MOVE out of Junk relearned as ham, not doubled"
inbox_has INBOX "Cheap meds" && ok "message back in INBOX" || no "message not in INBOX after MOVE Junk->INBOX"

# 3. COPY INBOX -> Junk learns spam too
move "WON" INBOX Junk --copy || die "COPY INBOX->Junk: $(tail -1 "$t/move.err")"
ok "COPY INBOX->Junk succeeded ($LASTMS ms)"
expect_stat alice "1 1" "COPY to Junk learned spam"

# 4. the same message (the original left in INBOX) moved to Junk: already learned
move "WON" INBOX Junk || die "MOVE INBOX->Junk (again): $(tail -1 "$t/move.err")"
case $(lastout bayes-learn-spam) in
*"already learned"*) ok "same message to Junk again: $(lastout bayes-learn-spam)" ;;
*) no "same message to Junk again: helper said $(lastout bayes-learn-spam) (want already learned)" ;;
esac
expect_stat alice "1 1" "repeated report changed no counts"

# 5. MOVE Junk -> Trash (both copies): nothing learned as ham
nham=$(calls bayes-learn-ham)
move "WON" Junk Trash --all || die "MOVE Junk->Trash: $(tail -1 "$t/move.err")"
ok "MOVE Junk->Trash succeeded ($LASTMS ms)"
[ "$(calls bayes-learn-ham)" = "$nham" ] && ok "MOVE Junk->Trash did not run the ham helper" ||
	no "MOVE Junk->Trash ran the ham helper: $(lastout bayes-learn-ham)"
expect_stat alice "1 1" "MOVE Junk->Trash learned nothing"
inbox_has Trash "WON" && ok "message in Trash" || no "message not in Trash"

if grep -i 'error' "$t/dc/dovecot.log" | grep -qi 'sieve\|pipe'; then
	no "Sieve errors in dovecot.log: $(grep -i 'error' "$t/dc/dovecot.log" | grep -i 'sieve\|pipe' | tail -1)"
else
	ok "no Sieve/pipe errors in dovecot.log"
fi
grep -q 'rc=[^0]' "$t/cap/calls.log" && no "a helper exited non-zero: $(grep 'rc=[^0]' "$t/cap/calls.log" | head -1)" ||
	ok "every helper run exited 0"

# Measurements (not asserted): MOVE round trip without reporting
# (INBOX<->Trash, no imapsieve rule) and with it (INBOX<->Junk: every move
# runs a Sieve script and a helper that learns or relearns), MOVES in a row
# each, in one IMAP session.
$PY - "$PORT" "$MOVES" >"$t/bench.out" 2>&1 <<'PY'
import imaplib, statistics, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def run(subject, a, b):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    m.login("alice", "alice")
    src, dst, ms = a, b, []
    t0 = time.perf_counter()
    for _ in range(n):
        m.select(src)
        typ, d = m.uid("SEARCH", None, "SUBJECT", '"%s"' % subject)
        uid = d[0].split()[0].decode()
        t1 = time.perf_counter()
        typ, d = m.uid("MOVE", uid, dst)
        ms.append((time.perf_counter() - t1) * 1000)
        if typ != "OK":
            sys.exit("MOVE %s->%s failed: %s" % (src, dst, d))
        src, dst = dst, src
    total = time.perf_counter() - t0
    m.logout()
    return statistics.mean(ms), statistics.median(ms), total
plain = run("off-by-one", "INBOX", "Trash")
rep = run("off-by-one", "INBOX", "Junk")
print("without reporting (INBOX<->Trash): %d moves in %.2f s, MOVE mean %.2f ms, median %.2f ms"
      % (n, plain[2], plain[0], plain[1]))
print("with Sieve reporting (INBOX<->Junk): %d moves in %.2f s (%.0f moves/s), MOVE mean %.2f ms, median %.2f ms"
      % (n, rep[2], n / rep[2], rep[0], rep[1]))
print("added by reporting: %.2f ms per MOVE (mean), %.2f ms (median)" % (rep[0] - plain[0], rep[1] - plain[1]))
PY
if [ $? = 0 ]; then
	ok "benchmark ran ($MOVES moves each way)"
	sed 's/^/# /' "$t/bench.out"
else
	no "benchmark failed: $(tail -1 "$t/bench.out")"
fi
waitcalls

# 6. bayesd stopped: the move still succeeds, the message lands in Junk
stop_bayesd
start=$(date +%s%N)
if move "Urgent business" INBOX Junk; then
	el=$((($(date +%s%N) - start) / 1000000))
	ok "with bayesd stopped, MOVE INBOX->Junk succeeded ($LASTMS ms MOVE, ${el} ms in all)"
	[ "$LASTMS" != "" ] && [ "${LASTMS%%.*}" -lt 10000 ] || no "MOVE with bayesd stopped took $LASTMS ms"
else
	no "with bayesd stopped, MOVE INBOX->Junk failed: $(tail -1 "$t/move.err")"
fi
inbox_has Junk "Urgent business" && ok "with bayesd stopped, the message is in Junk" ||
	no "with bayesd stopped, the message is not in Junk"
case $(lastout bayes-learn-spam) in
*failed*) ok "helper logged the failure: $(lastout bayes-learn-spam)" ;;
*) no "helper did not log a failure: $(lastout bayes-learn-spam)" ;;
esac
tail -1 "$t/cap/calls.log" | grep -q 'end bayes-learn-spam rc=0' && ok "helper exited 0 with bayesd stopped" ||
	no "helper with bayesd stopped: $(tail -1 "$t/cap/calls.log")"

[ $fails = 0 ] || { echo "# dovecot.log tail:"; tail -10 "$t/dc/dovecot.log" | sed 's/^/# /'; }
echo "$fails failure(s)"
[ $fails = 0 ]
