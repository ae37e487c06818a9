#!/bin/bash
# history-p99.sh [ROUNDS] - the scan history's cost, measured in one run
# (issue 18): two bayesd daemons from ./bayesd on the same database
# (trained on the first 200 spam + 200 ham of trec06p), one with
# history = yes (its own history file) and one with history = no, take
# one warm-up round each, then ROUNDS (default 3) interleaved rounds of
# 2,000 trec06p messages over 100 SMTP sessions through a private Postfix
# (../shared/check/tools/postfix-throughput.sh), history-on first in odd
# rounds. Per round:
# messages/s with bayesd (and Postfix alone), and bayesd's own time per
# message (ms= of its log line, which ends before the row is handed to
# the writer) p50/p99; then the medians of each side. Measures, does not
# assert; not part of make check. Needs root.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
ROUNDS=${1:-3}
T=$(cd ../shared/check/tools 2>/dev/null && pwd) || { echo "no ../shared/check/tools"; exit 1; }
H=$("$T/dev-corpus.sh") || exit 1
t=$(mktemp -d /tmp/history-p99.XXXXXX); chmod 755 "$t"
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sed -n '20001,22000p' "$H/index" | awk -v h="$H" '{print h"/"$2}' >"$t/load.list"
awk '$1=="spam"{print $2}' "$H/index" | head -200 | sed "s|^|$H/|" >"$t/spam"
awk '$1=="ham"{print $2}' "$H/index" | head -200 | sed "s|^|$H/|" >"$t/ham"
./bayesc --db "$t/db.sqlite" -q learn_spam $(cat "$t/spam") && ./bayesc --db "$t/db.sqlite" -q learn_ham $(cat "$t/ham") || exit 1

start() { # NAME HISTORY: a bayesd on its own port; prints the port
	local p; p=$(port)
	mkdir -p "$t/$1"
	printf 'milter_socket = inet:%s@127.0.0.1\ncontroller_socket = %s/%s/ctl.sock\ndatabase = %s/db.sqlite\npidfile = %s/%s/bayesd.pid\nhistory = %s\nhistory_database = %s/%s/history.sqlite\nreject_threshold = off\nscore_local = yes\n' \
		"$p" "$t" "$1" "$t" "$t" "$1" "$2" "$t" "$1" >"$t/$1/bayesd.conf"
	./bayesd -f -c "$t/$1/bayesd.conf" >"$t/$1/bayesd.log" 2>&1 &
	PIDS="$PIDS $!"
	echo "$p"
}
onp=$(start on yes)
offp=$(start off no)
sleep 1

round() { # NAME PORT: one round; prints "alone-rate milter-rate p50 p99"
	local before; before=$(wc -l <"$t/$1/bayesd.log")
	"$T/postfix-throughput.sh" -n 2000 -c 100 --msgdir "$t/load.list" --milter "inet:$2@127.0.0.1" \
		--rounds 1 --dir "$t/tp-$1" >"$t/$1.out" 2>&1 || { tail -3 "$t/$1.out" >&2; return 1; }
	printf '%s %s ' "$(awk '/^without milter:/ {print $3}' "$t/$1.out")" "$(awk '/^with milter:/ {print $3}' "$t/$1.out")"
	tail -n +"$((before + 1))" "$t/$1/bayesd.log" | grep -o 'ms=[0-9.]*' | cut -d= -f2 | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1] }'
}

echo "history-p99: $ROUNDS interleaved rounds, 2,000 trec06p messages, 100 SMTP sessions, history on and off"
# a warm-up round for each, not counted: whichever daemon took the first
# mail paid for the cold start (caches, the history file's creation), a
# p99 of 50 ms against 5 in the later rounds
for n in on off; do
	[ $n = on ] && p=$onp || p=$offp
	round "$n" "$p" >/dev/null || exit 1
done
: >"$t/rows"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order="on off"; else order="off on"; fi
	for n in $order; do
		[ $n = on ] && p=$onp || p=$offp
		out=$(round "$n" "$p") || exit 1
		set -- $out
		echo "round $r history $n: Postfix alone $1 msgs/s, with bayesd $2 msgs/s, bayesd p50 $3 ms, p99 $4 ms"
		echo "$n $out" >>"$t/rows"
	done
done
rows=$(curl -s --unix-socket "$t/on/ctl.sock" 'http://localhost/history?limit=1' |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])' 2>/dev/null)
python3 - "$t/rows" "${rows:-?}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for n in ("on", "off"):
    r = [x for x in rows if x[0] == n]
    med = lambda i: statistics.median(float(x[i]) for x in r)
    ratio = statistics.median(float(x[2]) / float(x[1]) for x in r)
    print(f"history {n:3s}: {med(2):.1f} msgs/s (ratio to Postfix alone {ratio:.3f}), "
          f"bayesd p50 {med(3):.2f} ms, p99 {med(4):.2f} ms (medians of {len(r)} rounds)")
print(f"rows in the history-on ring at the end: {sys.argv[2]}")
PY
