#!/bin/sh
# corpus/demo.sh - bayesd from the build tree, end to end, on its embedded
# defaults (no config file): start it, train it through its controller with
# bayesc, score messages it has not seen, show its statistics, stop it.
#
#   ./configure --install-deps && make && sh corpus/demo.sh     (as root)
#
# Messages: ../shared/corpus/spamassassin next to the tree when present
# (the first 300 spam and 300 ham of its index are learned, the next 10 of
# each are scored), else corpus/samples (4 of each learned, 2 scored).
# BAYESD_DEMO_CORPUS=DIR names another TREC-format folder (DIR/index).
# The database persists: a second run finds the messages "already learned".
# Exit status 0, or 1 with a message saying what failed.
set -u

cd "$(dirname "$0")/.." || exit 1
unset BAYESC_SOCKET
NLEARN=300
NTEST=10

say() { printf '%s\n' "$*"; }
fail() { printf 'demo: FAILED: %s\n' "$*" >&2; stop_bayesd; exit 1; }

for f in bayesd bayesc; do
	[ -x "./$f" ] || { say "demo: ./$f is not built; run ./configure && make first" >&2; exit 1; }
done

# What the embedded defaults are (bayesd -n -v prints every key).
conf=$(./bayesd -n -v 2>/dev/null) || { say "demo: ./bayesd -n -v failed" >&2; ./bayesd -n >&2; exit 1; }
key() { printf '%s\n' "$conf" | sed -n "s/^$1 = //p"; }
pidfile=$(key pidfile)
socket=$(key controller_socket)
database=$(key database)
milter=$(key milter_socket)
if ./bayesd -n 2>&1 | grep -q 'no configuration file'; then
	say "== bayesd on its embedded defaults (no configuration file)"
else
	say "== bayesd on its defaults; note: the default configuration file exists and is read"
fi
say "   milter $milter, controller $socket, database $database"

started=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bayesd-demo.XXXXXX") || exit 1

stop_bayesd() {
	if [ -n "$started" ]; then
		started=
		pid=$(cat "$pidfile" 2>/dev/null)
		if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 450 ]; do
				sleep 0.1; i=$((i + 1))
			done
			if kill -0 "$pid" 2>/dev/null; then
				say "demo: bayesd (pid $pid) did not stop within 45 s" >&2
				rm -rf "$tmp"
				return 1
			fi
			say "== bayesd (pid $pid) stopped"
		else
			say "demo: no bayesd to stop (pid file $pidfile: '${pid:-missing}')" >&2
			rm -rf "$tmp"
			return 1
		fi
	fi
	rm -rf "$tmp"
	return 0
}
trap 'stop_bayesd; exit 1' INT TERM HUP

# Already running? Then say so rather than fight over the sockets.
if ./bayesc -t 2 stat >/dev/null 2>&1; then
	say "demo: a bayesd is already running and answers on $socket" >&2
	say "      (pid $(cat "$pidfile" 2>/dev/null || echo unknown)); stop it first, e.g." >&2
	say "      kill \$(cat $pidfile)" >&2
	rm -rf "$tmp"
	exit 1
fi
port=$(printf '%s\n' "$milter" | sed -n 's/^inet6\{0,1\}:\([0-9]*\)@.*/\1/p')
if [ -n "$port" ] && command -v ss >/dev/null 2>&1 &&
   ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
	say "demo: TCP port $port (milter_socket $milter) is already in use:" >&2
	say "      another bayesd or milter is running on the default ports; stop it first" >&2
	rm -rf "$tmp"
	exit 1
fi

# Start: bayesd binds its sockets, then detaches; startup errors reach the
# terminal and make it exit non-zero.
./bayesd 2>"$tmp/start.err"
rc=$?
grep -v ': created /' "$tmp/start.err" >&2
if [ $rc -ne 0 ]; then
	[ "$(id -u)" -ne 0 ] && say "demo: (not root: the default directories under $(dirname "$(dirname "$database")") need root)" >&2
	rm -rf "$tmp"
	say "demo: FAILED: ./bayesd did not start (exit $rc)" >&2
	exit 1
fi
started=yes
i=0
until ./bayesc -t 2 stat >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -ge 100 ] && fail "bayesd started but its controller ($socket) does not answer after 10 s"
	sleep 0.1
done
say "== bayesd running (pid $(cat "$pidfile" 2>/dev/null || echo '?')), controller answers"

# The messages: TREC index lines "spam PATH" / "ham PATH".
corpus=${BAYESD_DEMO_CORPUS:-../shared/corpus/spamassassin}
if [ -r "$corpus/index" ]; then
	corpus=$(cd "$corpus" && pwd)
	T=$tmp; export T
	awk -v d="$corpus" -v n="$NLEARN" -v t="$NTEST" '
		$1 == "spam" || $1 == "ham" {
			k = ++seen[$1]
			if (k <= n) print d "/" $2 > (ENVIRON["T"] "/learn_" $1)
			else if (k <= n + t) print $1, d "/" $2 > (ENVIRON["T"] "/test")
		}' "$corpus/index"
	say "== messages: $corpus (index order)"
else
	say "== messages: corpus/samples ($corpus/index not found)"
	for c in spam ham; do
		ls corpus/samples/$c-*.eml | head -n 4 > "$tmp/learn_$c"
		ls corpus/samples/$c-*.eml | tail -n +5 | sed "s/^/$c /" >> "$tmp/test"
	done
fi
for c in spam ham; do
	[ -s "$tmp/learn_$c" ] || fail "no $c messages to learn"
done
[ -s "$tmp/test" ] || fail "no messages to score"

# Learn through the controller.
for c in spam ham; do
	n=$(wc -l < "$tmp/learn_$c")
	t0=$(date +%s)
	xargs ./bayesc learn_$c < "$tmp/learn_$c" > "$tmp/out_$c" 2> "$tmp/err_$c"
	rc=$?
	t1=$(date +%s)
	summary=$(sed -n 's/.*: \([a-z ]*learned\)$/\1/p' "$tmp/out_$c" | sort | uniq -c |
		awk '{ c = $1; $1 = ""; printf "%s%d%s", (NR > 1 ? ", " : ""), c, $0 }')
	say "== bayesc learn_$c: $n messages in $((t1 - t0)) s: ${summary:-nothing learned}"
	if [ $rc -ne 0 ]; then
		head -n 5 "$tmp/err_$c" >&2
		fail "bayesc learn_$c failed (xargs exit $rc)"
	fi
done

# Score messages it has not learned.
cut -d' ' -f2- "$tmp/test" | xargs ./bayesc check > "$tmp/check" 2> "$tmp/check.err"
rc=$?
if [ $rc -ne 0 ]; then	# check exits 0 for spam and ham alike
	head -n 5 "$tmp/check.err" >&2
	fail "bayesc check failed (exit $rc)"
fi
say "== bayesc check on $(wc -l < "$tmp/test") messages not learned:"
awk '
	FNR == NR { truth[$2] = $1; next }
	/^Results for file: / { f = substr($0, 19) }
	/^Probability: / { p[f] = $2 }
	/^Verdict: / { v[f] = $2; order[++n] = f }
	END {
		for (i = 1; i <= n; i++) {
			f = order[i]; t = truth[f]; ok = (v[f] == t)
			m = split(f, parts, "/"); name = parts[m - 1] "/" parts[m]
			printf "   %-4s %.5f  %-6s %s  %s\n", v[f], p[f], "(" t ")", ok ? "ok   " : "WRONG", name
			tot[t]++; right[t] += ok
		}
		printf "== right: spam %d/%d, ham %d/%d\n", right["spam"], tot["spam"], right["ham"], tot["ham"]
		if (n == 0) exit 1
	}' "$tmp/test" "$tmp/check" || fail "bayesc check printed no verdicts"

say "== ./bayesc stat"
./bayesc stat | sed 's/^/   /' || fail "bayesc stat failed"

stop_bayesd || { trap - INT TERM HUP; exit 1; }
trap - INT TERM HUP
say "== demo OK"
exit 0
