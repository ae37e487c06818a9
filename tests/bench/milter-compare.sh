#!/bin/bash
# milter-compare.sh BUILTIN_BAYESD [ROUNDS] - Postfix alone, bayesd on
# libmilter (./bayesd) and another bayesd binary (BUILTIN_BAYESD: one built
# from a commit with the built-in protocol layer, milter/milter_wire.c,
# e.g. a250f00), in one run: ROUNDS (default 5) interleaved rounds of the
# perf-postfix workload (2,000 trec06p messages, 20 SMTP sessions, the
# same messages, both daemons on the same database trained on the first
# 200 spam + 200 ham). Each round runs ../shared/check/tools/
# postfix-throughput.sh once against each daemon (each with its own
# Postfix-alone round), libmilter first in odd rounds, built-in first in
# even ones. Prints every round, then the medians and ratios; then one
# round at 100 sessions on libmilter and bayesd's p50/p99 time per message
# from its log. Needs root (private Postfix instances). Measures, does not
# assert; not part of make check.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
B=${1:?usage: milter-compare.sh BUILTIN_BAYESD [ROUNDS]}
ROUNDS=${2:-5}
T=$(cd ../shared/check/tools 2>/dev/null && pwd) || { echo "no ../shared/check/tools"; exit 1; }
H=$("$T/dev-corpus.sh") || exit 1
t=$(mktemp -d /tmp/milter-compare.XXXXXX); chmod 755 "$t"
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sed -n '20001,22000p' "$H/index" | awk -v h="$H" '{print h"/"$2}' >"$t/load.list"
awk '$1=="spam"{print $2}' "$H/index" | head -200 | sed "s|^|$H/|" >"$t/spam"
awk '$1=="ham"{print $2}' "$H/index" | head -200 | sed "s|^|$H/|" >"$t/ham"
./bayesc --db "$t/db.sqlite" -q learn_spam $(cat "$t/spam") && ./bayesc --db "$t/db.sqlite" -q learn_ham $(cat "$t/ham") || exit 1

start() { # NAME BINARY: a bayesd on its own port; prints the port
	local p; p=$(port)
	mkdir -p "$t/$1"
	printf 'milter_socket = inet:%s@127.0.0.1\ncontroller_socket = %s/%s/ctl.sock\ndatabase = %s/db.sqlite\npidfile = %s/%s/bayesd.pid\n' \
		"$p" "$t" "$1" "$t" "$t" "$1" >"$t/$1/bayesd.conf"
	"$2" -f -c "$t/$1/bayesd.conf" >"$t/$1/bayesd.log" 2>&1 &
	PIDS="$PIDS $!"
	echo "$p"
}
lp=$(start libmilter ./bayesd)
bp=$(start builtin "$B")
sleep 1

run() { # NAME PORT [SESSIONS]: one round; prints "alone-rate milter-rate"
	"$T/postfix-throughput.sh" -n 2000 -c "${3:-20}" --msgdir "$t/load.list" --milter "inet:$2@127.0.0.1" \
		--rounds 1 --dir "$t/tp-$1" >"$t/$1.out" 2>&1 || { tail -3 "$t/$1.out" >&2; return 1; }
	echo "$(awk '/^without milter:/ {print $3}' "$t/$1.out") $(awk '/^with milter:/ {print $3}' "$t/$1.out")"
}

echo "milter-compare: $ROUNDS interleaved rounds, 2,000 messages, 20 sessions; libmilter = ./bayesd, built-in = $B"
: >"$t/rates"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order="libmilter builtin"; else order="builtin libmilter"; fi
	for n in $order; do
		[ $n = libmilter ] && p=$lp || p=$bp
		out=$(run "$n" "$p") || exit 1
		echo "round $r $n: Postfix alone ${out% *} msgs/s, with bayesd ${out#* } msgs/s"
		echo "$n $out" >>"$t/rates"
	done
done
python3 - "$t/rates" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
alone = [float(r[1]) for r in rows]
m = {n: statistics.median(float(r[2]) for r in rows if r[0] == n) for n in ("libmilter", "builtin")}
ra = {n: statistics.median(float(r[2]) / float(r[1]) for r in rows if r[0] == n) for n in m}
a = statistics.median(alone)
print(f"Postfix alone:        {a:.1f} msgs/s (median of {len(alone)})")
for n in ("libmilter", "builtin"):
    print(f"bayesd on {n:10s}  {m[n]:.1f} msgs/s, median ratio to its Postfix-alone round {ra[n]:.3f}")
print(f"built-in / libmilter: {m['builtin'] / m['libmilter']:.3f} (medians of msgs/s)")
PY

# the 100-session p99 on libmilter: bayesd's own time per message (ms= in
# its log line) over one round of 2,000 messages
before=$(wc -l <"$t/libmilter/bayesd.log")
run libmilter-100 "$lp" 100 >/dev/null || exit 1
tail -n +"$((before + 1))" "$t/libmilter/bayesd.log" | grep -o 'ms=[0-9.]*' | cut -d= -f2 | sort -n | awk '{ v[NR] = $1 }
	END { if (NR) printf "libmilter, 100 sessions: bayesd time per message p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d messages, warm-up included)\n",
		v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1], v[NR], NR }'
