#!/bin/bash
# milter-floor.sh [ROUNDS] - what a milter costs Postfix on this machine,
# and how much of it is bayesd's own work. Runs
# ../shared/check/tools/postfix-throughput.sh (2,000 trec06p messages, 20
# sessions, ROUNDS rounds, default 3; the same messages as the perf-postfix
# check) three times: against tests/bench/null-milter (libmilter, the same
# negotiation as bayesd, one added header, no scoring), against bayesd
# with every client trusted (its protocol layer, nothing scored), and
# against bayesd (trained on the first 200 spam + 200 ham, as the check
# does), each against Postfix without a milter in the same run. Prints the
# ratios and bayesd's CPU time per message; then one round at 100 sessions
# and bayesd's p50/p99 time per message from its log. Needs root (a private Postfix), the postfix package and libmilter.
# Not part of make check: it measures, it does not assert.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
T=$(cd ../shared/check/tools 2>/dev/null && pwd) || { echo "no ../shared/check/tools"; exit 1; }
H=$("$T/dev-corpus.sh") || exit 1
ROUNDS=${1:-3}
t=$(mktemp -d /tmp/milter-floor.XXXXXX); chmod 755 "$t"
NPID="" BPID=""
cleanup() { for p in $NPID $BPID; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cc -O2 -Wall -Wextra -o "$t/null-milter" tests/bench/null-milter.c -lmilter -pthread || exit 1
sed -n '20001,22000p' "$H/index" | awk -v h="$H" '{print h"/"$2}' >"$t/load.list"
awk '$1=="spam"{print $2}' "$H/index" | head -200 | sed "s|^|$H/|" >"$t/spam"
awk '$1=="ham"{print $2}' "$H/index" | head -200 | sed "s|^|$H/|" >"$t/ham"
./bayesc --db "$t/db.sqlite" -q learn_spam $(cat "$t/spam") && ./bayesc --db "$t/db.sqlite" -q learn_ham $(cat "$t/ham")

run() { # NAME SPEC: 2,000 messages over $CONC (20) sessions
	"$T/postfix-throughput.sh" -n 2000 -c "${CONC:-20}" --msgdir "$t/load.list" --milter "$2" --rounds "$ROUNDS" \
		--dir "$t/tp-$1" >"$t/$1.out" 2>&1 || { tail -3 "$t/$1.out"; return 1; }
	echo "$1: $(grep -E '^with(out)? milter' "$t/$1.out" | tr -s ' ' | tr '\n' ' ')ratio $(tail -1 "$t/$1.out" | awk '{print $NF}')"
}

np=$(port)
"$t/null-milter" "inet:$np@127.0.0.1" & NPID=$!
sleep 0.5
run null-milter "inet:$np@127.0.0.1"
kill "$NPID"; wait "$NPID" 2>/dev/null; NPID=""

bayesd_run() { # NAME [CONFIG LINE]: bayesd, its CPU seconds per message after the run
	local bp; bp=$(port)
	printf 'milter_socket = inet:%s@127.0.0.1\ncontroller_socket = %s/ctl.sock\ndatabase = %s/db.sqlite\npidfile = %s/bayesd.pid\n%s\n' \
		"$bp" "$t" "$t" "$t" "${2:-}" >"$t/bayesd.conf"
	./bayesd -f -c "$t/bayesd.conf" >"$t/$1.log" 2>&1 & BPID=$!
	sleep 1
	run "$1" "inet:$bp@127.0.0.1"
	awk -v n="$(grep -c 'action=' "$t/$1.log")" '{ printf "%s: bayesd CPU %.3f ms per message (user %.2f s, system %.2f s, %d messages)\n", \
		"'"$1"'", ($14 + $15) * 10 / n, $14 / 100, $15 / 100, n }' "/proc/$BPID/stat"
	kill "$BPID"; wait "$BPID" 2>/dev/null; BPID=""
}
# the protocol alone: every client trusted, so nothing is scored
bayesd_run bayesd-no-scoring "trusted_networks = 127.0.0.0/8"
bayesd_run bayesd
# the p99 target is at 100 sessions: bayesd's own time per message (ms= in
# its log line) over one round of 2,000 messages
CONC=100 ROUNDS=1 bayesd_run bayesd-100-sessions
grep -o 'ms=[0-9.]*' "$t/bayesd-100-sessions.log" | cut -d= -f2 | sort -n | awk '{ v[NR] = $1 }
	END { if (NR) printf "bayesd-100-sessions: milter time per message p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d messages)\n",
		v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1], v[NR], NR }'
