#!/bin/sh
# faults.sh - a real bayesd on real files when the file system lets it
# down (issue 5):
#   (a) disk full: the database on a small tmpfs, filled up; learning
#       through the controller fails with a clear error (HTTP 503, "disk
#       is full" in the reply and the log), checks and mail go on being
#       scored; after space is freed learning works again; afterwards
#       PRAGMA integrity_check is ok and every acknowledged learn is
#       present (each message once in the totals);
#   (b) the database removed, then replaced by garbage, under the running
#       daemon: clear errors in the log, mail follows on_error (tempfail:
#       451 4.7.1; accept: "X-Spam-Status: Unknown"), learns are refused
#       and not acknowledged into the lost file, no crash; a restored file
#       is used again without a restart;
#   (c) a read-only database (file mode 0444, bayesd running as nobody):
#       scoring works, learning is refused clearly, and the token cache is
#       not reloaded over and over;
#   (d) a database on a read-only mount: readers open it immutable (no
#       -shm index can be made there), so scoring works; learns are
#       refused naming the read-only file system.
# Mail is played to the milter port by milter-send.py (the milter protocol
# as Postfix speaks it), checks and learns go through bayesc -s.
#
# Prints "ok - ..." / "not ok - ..."; exits 1 on any failure. Runs as root
# (mount, bayesd's user = nobody); exits 77 with a SKIP line when not root,
# and when mounting a tmpfs is not permitted (a container without
# CAP_SYS_ADMIN), after running the parts that need no mount. FAULTS_TRACE=1
# prints the seconds since the start before each part.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-$PWD/bayesd}
BC=${BAYESC:-$PWD/bayesc}
MS=$PWD/tests/integration/milter-send.py
S=$PWD/corpus/samples
for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (tmpfs mounts, bayesd dropping to nobody)"; exit 77; }

t=$(mktemp -d /tmp/bayesd-faults.XXXXXX) || exit 1
chmod 755 "$t"
pid= mounts=
cleanup() {
	stop_bayesd
	for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ]; then echo "(kept $t)"; else rm -rf "$t"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

. tests/tap.sh
skipped= T0=$(date +%s)
part() { [ "${FAULTS_TRACE:-0}" = 1 ] && echo "# $(( $(date +%s) - T0 )) s: $1"; }

# start DIR DB [EXTRA]: bayesd -f with its config in DIR (controller DIR/ctl.sock)
start() {
	d=$1 port=$(free_port)
	cat >"$d/bayesd.conf" <<EOF
milter_socket = inet:$port@127.0.0.1
controller_socket = $d/ctl.sock
database = $2
min_learns = 0
score_local = yes
pidfile =
$3
EOF
	"$BD" -f -c "$d/bayesd.conf" </dev/null >>"$d/bayesd.log" 2>&1 &
	pid=$!
	MILTER=127.0.0.1:$port SOCK=$d/ctl.sock LOG=$d/bayesd.log
	wait_controller "$SOCK" "$pid" && return 0
	no "bayesd did not start: $(tail -3 "$d/bayesd.log")"
	exit 1
}
alive() { kill -0 "$pid" 2>/dev/null && ok "$1: bayesd still running" || no "$1: bayesd died: $(tail -3 "$LOG")"; }
mail() { python3 "$MS" "$MILTER" "$1" 2>&1; }	# the milter's decision, one line
# learn VERB FILE: the learn's result or the error (bayesc's stdout + stderr)
learn() { "$BC" -s "$SOCK" -t 20 "$1" "$2" 2>&1; }
check_scored() { # WHAT: a check over the controller gives a probability
	"$BC" -s "$SOCK" check "$S/spam-6.eml" >"$t/out" 2>&1 && grep -q '^Probability: 0\.' "$t/out" &&
		ok "$1: check scored ($(grep '^Probability' "$t/out"))" || no "$1: check: $(cat "$t/out")"
}
mail_scored() { # WHAT
	r=$(mail "$S/spam-6.eml")
	case $r in
	"accept X-Spam-Status: Yes"* | "accept X-Spam-Status: No"*) ok "$1: mail scored (${r%% |*})" ;;
	*) no "$1: mail not scored: $r" ;;
	esac
}
# a trained database to start from
"$BC" --db "$t/trained.sqlite" learn_spam "$S"/spam-[1-5].eml >/dev/null 2>&1 &&
	"$BC" --db "$t/trained.sqlite" learn_ham "$S"/ham-[1-5].eml >/dev/null 2>&1 ||
	{ no "offline training failed"; exit 1; }
# distinct messages with many new words each, so every learn needs space
python3 - "$t/msgs" 400 <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(5)
os.makedirs(d)
for i in range(n):
    body = ' '.join('w%010x' % rnd.randrange(1 << 40) for _ in range(300))
    with open(os.path.join(d, 'm%04d.eml' % i), 'w') as f:
        f.write('From: f%d@example.net\nTo: x@example.org\nSubject: fault %d\n'
                'Message-ID: <fault-%d@example.net>\n\n%s\n' % (i, i, i, body))
PY

part a
# (a) disk full ---------------------------------------------------------------
a=$t/a
mkdir -p "$a/mnt"
if ! mount -t tmpfs -o size=3m,mode=755 bayesd-faults "$a/mnt" 2>"$t/mount.err"; then
	skipped="mounting a tmpfs is not permitted here ($(head -1 "$t/mount.err"))"
	echo "skip - (a) disk full: $skipped"
else
	mounts="$a/mnt"
	cp "$t/trained.sqlite" "$a/mnt/db.sqlite"
	start "$a" "$a/mnt/db.sqlite" "on_error = tempfail"
	# fill all but ~150 kB
	dd if=/dev/zero of="$a/mnt/filler" bs=1k count=$(( $(df -k --output=avail "$a/mnt" | tail -1) - 150 )) \
		2>/dev/null
	: >"$a/acked" ; : >"$a/refused"
	n=0
	for m in "$t"/msgs/m0*.eml; do
		n=$((n + 1))
		[ $n -gt 300 ] && break
		r=$(learn learn_spam "$m")
		case $r in
		*": learned") echo "$m" >>"$a/acked" ;;
		*"disk is full"*) echo "$m" >>"$a/refused"; echo "$r" >"$a/reply"
			[ "$(wc -l <"$a/refused")" -ge 3 ] && break ;;
		*) echo "$m $r" >>"$a/odd" ;;
		esac
	done
	nack=$(wc -l <"$a/acked") nref=$(wc -l <"$a/refused")
	[ "$nref" -ge 1 ] && ok "(a) disk full: learns refused after $nack acknowledged: $(cat "$a/reply")" ||
		no "(a) no learn refused for a full disk ($nack learned, df: $(df -k --output=avail "$a/mnt" | tail -1) kB free)"
	[ -s "$a/odd" ] && no "(a) odd learn replies: $(head -2 "$a/odd")"
	grep -q 'disk is full' "$a/bayesd.log" && ok "(a) the log says: $(grep -m1 'disk is full' "$a/bayesd.log" | cut -c1-120)" ||
		no "(a) no 'disk is full' in the log"
	check_scored "(a) disk full"
	mail_scored "(a) disk full"
	alive "(a) disk full"
	rm -f "$a/mnt/filler"
	again=0
	for m in $(cat "$a/refused"); do
		r=$(learn learn_spam "$m")
		case $r in *": learned") again=$((again + 1)) ;; *) echo "$m: $r" ;; esac
	done
	[ "$again" = "$nref" ] && ok "(a) space freed: the $nref refused learns are learned now" ||
		no "(a) after freeing space only $again of $nref learned"
	r=$(learn learn_ham "$t/msgs/m0399.eml")
	case $r in *": learned") ok "(a) a new learn works" ;; *) no "(a) a new learn: $r" ;; esac
	stop_bayesd
	ic=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$a/mnt/db.sqlite" 2>&1)
	[ "$ic" = ok ] && ok "(a) integrity_check: ok" || no "(a) integrity_check: $ic"
	# every acknowledged learn is there (learning it again, into a copy: already learned)
	cp "$a/mnt/db.sqlite" "$t/copy.sqlite"
	lost=0
	for m in $(cat "$a/acked" "$a/refused"); do
		"$BC" --db "$t/copy.sqlite" learn_spam "$m" 2>&1 | grep -q ': already learned$' || lost=$((lost + 1))
	done
	[ "$lost" = 0 ] && ok "(a) all $((nack + nref)) acknowledged learns present" || no "(a) $lost acknowledged learns lost"
	spam=$("$BC" --db "$a/mnt/db.sqlite" --json stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_spam"])')
	[ "$spam" = $((5 + nack + nref)) ] && ok "(a) each counted once: learned_spam $spam = 5 + $nack + $nref" ||
		no "(a) learned_spam $spam, wanted $((5 + nack + nref))"
fi

part b
# (b) removed, replaced by garbage ---------------------------------------------
b=$t/b
mkdir -p "$b"
cp "$t/trained.sqlite" "$b/db.sqlite"
start "$b" "$b/db.sqlite" "on_error = tempfail"
mail_scored "(b) before"
rm -f "$b/db.sqlite"
r=$(mail "$S/spam-6.eml")
case $r in "tempfail 451 4.7.1"*) ok "(b) removed, on_error=tempfail: $r" ;; *) no "(b) removed: mail got: $r" ;; esac
"$BC" -s "$SOCK" check "$S/spam-6.eml" >"$t/out" 2>&1; rc=$?
[ $rc -ge 64 ] && grep -q 'removed\|does not exist\|unable to open' "$t/out" && ok "(b) removed: check fails clearly (exit $rc): $(head -1 "$t/out")" ||
	no "(b) removed: check exit $rc: $(cat "$t/out")"
r=$(learn learn_spam "$t/msgs/m0390.eml")
case $r in *"removed while bayesd ran"*) ok "(b) removed: learn refused: $r" ;; *) no "(b) removed: learn: $r" ;; esac
[ -e "$b/db.sqlite" ] && no "(b) an empty database was created in its place" || ok "(b) no empty database made in its place"
grep -q 'database file was removed while in use\|db.sqlite does not exist' "$LOG" &&
	ok "(b) the log says: $(grep -m1 'was removed while\|db.sqlite does not exist' "$LOG" | cut -c1-140)" ||
	no "(b) log: $(tail -3 "$LOG")"
alive "(b) removed"
# restored by moving a copy into place: used at once, no restart
cp "$t/trained.sqlite" "$b/restore.tmp" && mv "$b/restore.tmp" "$b/db.sqlite"
mail_scored "(b) restored"
r=$(learn learn_spam "$t/msgs/m0390.eml")
case $r in *": learned") ok "(b) restored: learning works" ;; *) no "(b) restored: learn: $r" ;; esac
# replaced by garbage; on_error = accept by SIGHUP
head -c 200000 /dev/urandom >"$b/garbage.tmp" && mv "$b/garbage.tmp" "$b/db.sqlite"
sed -i 's/^on_error = tempfail/on_error = accept/' "$b/bayesd.conf"
kill -HUP "$pid"
i=0; while ! grep -q 'reload: configuration' "$LOG" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
r=$(mail "$S/spam-6.eml")
case $r in "accept X-Spam-Status: Unknown, score=unknown"*) ok "(b) garbage, on_error=accept: ${r%% |*}" ;;
*) no "(b) garbage: mail got: $r" ;; esac
r=$(learn learn_spam "$t/msgs/m0391.eml")
case $r in *"refused"*"HTTP 503"*) ok "(b) garbage: learn refused: $r" ;; *) no "(b) garbage: learn: $r" ;; esac
grep -q 'not a bayesd database\|file is not a database\|was replaced while in use' "$LOG" &&
	ok "(b) the log says: $(grep -m1 'was replaced while in use\|not a bayesd database\|file is not a database' "$LOG" | cut -c1-140)" ||
	no "(b) garbage: log: $(tail -3 "$LOG")"
alive "(b) garbage"
# garbage written into the same file (same inode): no crash, no learn acknowledged
cp "$t/trained.sqlite" "$b/restore.tmp" && mv "$b/restore.tmp" "$b/db.sqlite"
mail_scored "(b) restored again"
head -c 65536 /dev/urandom | dd of="$b/db.sqlite" conv=notrunc 2>/dev/null
r=$(mail "$S/spam-6.eml")
case $r in accept*) ok "(b) overwritten in place: mail flows: ${r%% |*}" ;; *) no "(b) overwritten in place: $r" ;; esac
r=$(learn learn_spam "$t/msgs/m0392.eml")
case $r in *"overwritten while in use"*|*"not a bayesd database"*|*"malformed"*) ok "(b) overwritten in place: learn refused: $r" ;;
*) no "(b) overwritten in place: learn: $r" ;; esac
alive "(b) overwritten in place"
stop_bayesd

part c
# (c) read-only ---------------------------------------------------------------
c=$t/c
mkdir -p "$c/db"
cp "$t/trained.sqlite" "$c/db/db.sqlite"
chmod 444 "$c/db/db.sqlite"
chown nobody "$c/db"
start "$c" "$c/db/db.sqlite" "user = nobody"
grep -q 'running as user nobody' "$LOG" || no "(c) bayesd did not drop to nobody: $(head -2 "$LOG")"
check_scored "(c) mode 0444"
mail_scored "(c) mode 0444"
r=$(learn learn_spam "$t/msgs/m0393.eml")
case $r in *"readonly database"*) ok "(c) mode 0444: learn refused: $r" ;; *) no "(c) mode 0444: learn: $r" ;; esac
sleep 1.5	# the failed learn closed the writer's handle: one reload
n0=$(grep -c 'token cache: loaded' "$LOG")
sleep 3	# the writer looks at the token cache each second
n1=$(grep -c 'token cache: loaded' "$LOG")
[ "$n1" = "$n0" ] && ok "(c) the token cache is not reloaded while idle ($n1 loads)" ||
	no "(c) the token cache was reloaded $((n1 - n0)) times in 3 s"
alive "(c) mode 0444"
stop_bayesd

part d
# (d) on a read-only mount ----------------------------------------------------
d=$t/d
mkdir -p "$d/mnt"
if mount -t tmpfs -o size=16m tmpfs "$d/mnt" 2>"$d/mount.err"; then
	mounts="$mounts $d/mnt"
	cp "$t/trained.sqlite" "$d/mnt/db.sqlite"
	mount -o remount,ro "$d/mnt"
	start "$d" "$d/mnt/db.sqlite"
	check_scored "(d) read-only mount"
	mail_scored "(d) read-only mount"
	r=$(learn learn_spam "$t/msgs/m0394.eml")
	case $r in *"read-only file system"*) ok "(d) read-only mount: learn refused: $r" ;;
	*) no "(d) read-only mount: learn: $r" ;; esac
	alive "(d) read-only mount"
	stop_bayesd
else
	skipped="${skipped:+$skipped; }read-only mount: $(cat "$d/mount.err")"
fi
[ "$fails" -eq 0 ] || exit 1
[ -n "$skipped" ] && { echo "SKIP: disk full part: $skipped"; exit 77; }
exit 0
