# tap.sh - what the integration tests share, sourced from the project
# root: "ok - " / "not ok - " lines counted in $fails, a free loopback
# TCP port (the kernel's choice, released before use; the tests run one at
# a time, so nobody takes it in between), waiting for bayesd's controller
# and stopping a daemon, and sample messages.
fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }
# stop_pid PID - SIGTERM, up to 10 s for PID to exit, then SIGKILL; reaps
# it. STOPPED_IN: the tenths of a second it took, or "never" (killed).
stop_pid() {
	kill "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	if kill -0 "$1" 2>/dev/null; then kill -9 "$1"; STOPPED_IN=never; else STOPPED_IN=$_i; fi
	wait "$1" 2>/dev/null
}
# wait_controller SOCK PID - up to 10 s for bayesd (PID) to answer a stat
# on its controller socket SOCK; 1 when it exits first or stays silent.
wait_controller() {
	_i=0
	while [ $_i -lt 100 ]; do
		[ -S "$1" ] && "$BC" -s "$1" -t 2 stat >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
# stop_bayesd - stop_pid for the bayesd whose pid is in $pid, if any
stop_bayesd() {
	[ -n "$pid" ] || return 0
	stop_pid "$pid"
	pid=
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# sample_messages DIR - spam-N.eml and ham-N.eml in DIR: the project's own
# samples (corpus/samples), or, where they are missing, six of each made up
# here; sets SPAM and HAM to the first of each.
sample_messages() {
	mkdir -p "$1"
	if ls corpus/samples/spam-*.eml >/dev/null 2>&1 && ls corpus/samples/ham-*.eml >/dev/null 2>&1; then
		cp corpus/samples/spam-*.eml corpus/samples/ham-*.eml "$1/"
	else
		for i in 1 2 3 4 5 6; do
			printf 'From: deals%s@cheap-pills.example\nTo: you@example.org\nSubject: cheap pills %s, 80%% off today only\n\nBuy cheap viagra and cialis now, no prescription needed, lowest prices, click http://cheap-pills.example/%s and win a free prize, limited offer, act now\n' \
				$i $i $i >"$1/spam-$i.eml"
			printf 'From: alice@example.org\nTo: bob@example.org\nSubject: meeting notes %s\n\nHi Bob, the notes from our project meeting %s are below. We agreed to review the budget on Thursday and send the report to Carol. Regards, Alice\n' \
				$i $i >"$1/ham-$i.eml"
		done
	fi
	SPAM=$1/spam-1.eml
	HAM=$1/ham-1.eml
}

# need_built PROG... / need_cmds CMD... - exit 77 with a SKIP line when a
# program of the project is not built or a command is not installed
need_built() {
	for _p in "$@"; do [ -x "$_p" ] || { echo "SKIP: $_p not built"; exit 77; }; done
}
need_cmds() {
	for _c in "$@"; do command -v "$_c" >/dev/null 2>&1 || { echo "SKIP: $_c not installed"; exit 77; }; done
}
# start_test_bayesd DIR [KEY = VALUE lines on stdin] - a bayesd -f on a
# config of its own in DIR: the milter on a free loopback port, the
# controller on DIR/controller.sock ($SOCK), database and pid file in DIR,
# plus the lines read from standard input; its log in DIR/bayesd.log, its
# pid in $pid. Counts a failure and exits when it does not answer.
start_test_bayesd() {
	SOCK=$1/controller.sock
	{
		echo "milter_socket = inet:$(free_port)@127.0.0.1"
		echo "controller_socket = $SOCK"
		echo "database = $1/bayes.sqlite"
		echo "pidfile = $1/bayesd.pid"
		cat
	} >"$1/bayesd.conf"
	MPORT=$(sed -n 's/^milter_socket = inet:\([0-9]*\)@.*/\1/p' "$1/bayesd.conf")
	"$BD" -f -c "$1/bayesd.conf" >"$1/bayesd.log" 2>&1 &
	pid=$!
	wait_controller "$SOCK" "$pid" || { no "bayesd did not start: $(tail -3 "$1/bayesd.log")"; exit 1; }
}
