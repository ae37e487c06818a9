#!/bin/sh
# opensmtpd.sh - bayesd-smtpd-filter in a real OpenSMTPD, end to end.
#
# 1. The protocol alone (no root needed): the filter is fed a scripted
#    smtpd conversation on stdin, with no controller behind it, and must
#    register only after config|ready, rename incoming X-Spam-* headers to
#    X-Upstream-Spam-* (upstream_headers' default; remove drops them with
#    their continuations, keep leaves them), leave mail to postmaster@ and
#    from an exempt_senders address unscored (tx-mail, tx-rcpt), echo
#    dot-stuffed lines and the final "." as they
#    came, answer "proceed" to a phase it never asked for, log and survive
#    garbage, use TOKEN|SESSION order for protocol 0.4, skip scoring for an
#    authenticated session, and add "X-Spam-Status: Unknown" (on_error =
#    accept) when bayesd is not there.
# 2. A private loopback-only OpenSMTPD 6.8 from Debian's opensmtpd package,
#    fetched with `apt-get download` and unpacked with `dpkg-deb -x` (it
#    conflicts with Postfix, so it is never installed), run in its own mount
#    namespace by tests/harness/opensmtpd-harness, relaying to
#    smtp-sink, with the filter attached as proc-exec running as nobody,
#    and bayesd (as nobody) on a database trained offline with bayesc --db:
#      - spam and ham arrive with X-Spam-Status Yes|No, score=...,
#        X-Spam-Flag: YES exactly on Yes, and X-Spam-Bayesd; forged
#        incoming X-Spam-* headers are gone, kept as X-Upstream-Spam-*;
#        mail to postmaster@ is not scored
#      - with reject_threshold = 0.5 the spam gets 550 5.7.1, ham 250
#      - with bayesd stopped mail flows, marked X-Spam-Status: Unknown,
#        and smtpd stays up; with on_error = tempfail it gets 451 4.7.1
#      - messages/s through OpenSMTPD with and without the filter (printed;
#        the target is >= 90%)
# The package is kept in $OPENSMTPD_ROOT (default: the harness's
# /opt/opensmtpd-6.8 when already there, else /var/cache/bayesd-test/
# opensmtpd-6.8). Prints "ok - ..." / "not ok - ..."; exit 1 on a failure,
# 77 with a SKIP line when part 2 cannot run (not root, no unshare or
# smtp-sink, package not downloadable). KEEP=1 keeps the work directory.
cd "$(dirname "$0")/../.." || exit 1
OH="$PWD/tests/harness/opensmtpd-harness"
BD=${BAYESD:-$PWD/bayesd}
BC=${BAYESC:-$PWD/bayesc}
SF=${SMTPD_FILTER:-$PWD/bayesd-smtpd-filter}
PATH=$PATH:/usr/sbin:/sbin

. tests/tap.sh
finish() {
	if [ $fails -gt 0 ]; then echo "$fails assertion(s) failed"; exit 1; fi
	if [ -n "${1:-}" ]; then echo "SKIP: $1"; exit 77; fi
	echo "all passed"; exit 0
}
[ -x "$SF" ] || { echo "SKIP: $SF not built"; exit 77; }

t=$(mktemp -d /tmp/bayesd-opensmtpd.XXXXXX) || exit 1
chmod 755 "$t"
pid= os=
stop_os() {
	[ -n "$os" ] || return 0
	"$OH" stop "$os" >/dev/null 2>&1
	os=
}
cleanup() {
	stop_os
	stop_bayesd
	if [ "${KEEP:-0}" = 1 ]; then echo "(kept $t)"; else rm -rf "$t"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- 1. the protocol, scripted
S=aaaaaaaaaaaaaaaa
E=eeeeeeeeeeeeeeee
F="filter|0.6|1700000000.000001|smtp-in"
R="report|0.6|1700000000.000001|smtp-in"
cat >"$t/proto.in" <<EOF
config|smtpd-version|6.8.0p2
config|smtp-session-timeout|300
config|subsystem|smtp-in
config|ready
$R|link-connect|$S|localhost|pass|192.0.2.7:40000|127.0.0.1:25
$R|link-identify|$S|EHLO|client.example
$R|tx-begin|$S|0badcafe
$F|data-line|$S|1111|X-Spam-Status: No,
$F|data-line|$S|1111|	score=-100.0
$F|data-line|$S|1111|Subject: a|b
$F|data-line|$S|1111|x-spam-flag: NO
$F|data-line|$S|1111|
$F|data-line|$S|1111|..dot-stuffed
$F|data-line|$S|1111|X-Spam-Flag: body text, kept
$F|data-line|$S|1111|.
$F|commit|$S|2222|
$F|helo|$S|3333|client.example
this is not the protocol
filter|0.6|short
$R|link-auth|$S|bob|pass
$R|tx-begin|$S|0badcaff
$F|data-line|$S|4444|X-Spam-Flag: YES
$F|data-line|$S|4444|Subject: from bob
$F|data-line|$S|4444|
$F|data-line|$S|4444|.
$F|commit|$S|5555|
$R|link-disconnect|$S
$R|link-connect|$E|localhost|pass|192.0.2.8:40001|127.0.0.1:25
$R|tx-begin|$E|0e0e0e01
$R|tx-mail|$E|0e0e0e01|ok|<bounce@example.net>
$R|tx-rcpt|$E|0e0e0e01|ok|<joe@example.org>
$F|data-line|$E|e001|Subject: to joe
$F|data-line|$E|e001|
$F|data-line|$E|e001|.
$F|commit|$E|e002|
$R|tx-begin|$E|0e0e0e02
$R|tx-mail|$E|0e0e0e02|ok|<someone@example.net>
$R|tx-rcpt|$E|0e0e0e02|ok|<joe@example.org>
$R|tx-rcpt|$E|0e0e0e02|ok|<Postmaster@example.org>
$F|data-line|$E|e003|X-Spam-Flag: YES
$F|data-line|$E|e003|Subject: to postmaster
$F|data-line|$E|e003|
$F|data-line|$E|e003|.
$F|commit|$E|e004|
$R|link-disconnect|$E
filter|0.4|1700000000.000001|smtp-in|data-line|bbbbbbbbbbbbbbbb|6666|.
EOF
"$SF" -s "$t/no-such.sock" -t 2 <"$t/proto.in" >"$t/proto.out" 2>"$t/proto.err"
rc=$?
[ $rc = 0 ] && ok "protocol: exit 0 at EOF" || no "protocol: exit $rc: $(tail -1 "$t/proto.err")"
expect() { # DESCRIPTION LINE...: these lines, in this order, somewhere in the output
	d=$1; shift
	printf '%s\n' "$@" >"$t/want"
	if python3 - "$t/want" "$t/proto.out" <<'PY'
import sys
want = open(sys.argv[1]).read().splitlines()
got = open(sys.argv[2]).read().splitlines()
i = 0
for l in got:
    if i < len(want) and l == want[i]:
        i += 1
sys.exit(0 if i == len(want) else 1)
PY
	then ok "protocol: $d"; else no "protocol: $d; output:"; sed 's/^/#   /' "$t/proto.out"; fi
}
[ "$(head -1 "$t/proto.out")" = "register|report|smtp-in|link-connect" ] &&
	[ "$(grep -n '^register|ready$' "$t/proto.out" | cut -d: -f1)" = "$(grep -c '^register|' "$t/proto.out")" ] &&
	ok "protocol: registers after config|ready, register|ready last" ||
	no "protocol: registration: $(head -3 "$t/proto.out" | tr '\n' ' ')"
expect "unscored (no bayesd): Unknown header first, X-Spam-* renamed (upstream_headers = rename), dots kept" \
	"filter-dataline|$S|1111|X-Spam-Status: Unknown, score=unknown (controller unavailable)" \
	"filter-dataline|$S|1111|X-Upstream-Spam-Status: No," \
	"filter-dataline|$S|1111|	score=-100.0" \
	"filter-dataline|$S|1111|Subject: a|b" \
	"filter-dataline|$S|1111|X-Upstream-spam-flag: NO" \
	"filter-dataline|$S|1111|" \
	"filter-dataline|$S|1111|..dot-stuffed" \
	"filter-dataline|$S|1111|X-Spam-Flag: body text, kept" \
	"filter-dataline|$S|1111|." \
	"filter-result|$S|2222|proceed" \
	"filter-result|$S|3333|proceed"
grep -q -- '1111|X-Spam-Status: No\|1111|x-spam-flag: NO' "$t/proto.out" && no "protocol: a forged header got through" ||
	ok "protocol: forged X-Spam-Status and x-spam-flag not left under their own names"
# exemptions, as in the milter: mail to postmaster@ (exempt_recipients'
# default) is not scored; bounce@ is scored until exempt_senders names it
expect "exempt recipient: not scored, incoming X-Spam-* still renamed" \
	"filter-dataline|$E|e001|X-Spam-Status: Unknown, score=unknown (controller unavailable)" \
	"filter-dataline|$E|e003|X-Upstream-Spam-Flag: YES" "filter-dataline|$E|e003|Subject: to postmaster" \
	"filter-dataline|$E|e003|" "filter-dataline|$E|e003|." "filter-result|$E|e004|proceed"
grep -q "e003|X-Spam" "$t/proto.out" && no "protocol: mail to postmaster@ got an X-Spam-* header" ||
	ok "protocol: mail to postmaster@ got no X-Spam-* header"
grep -q '0e0e0e02: client=192.0.2.8, score=none, action=accept (not scored: exempt recipient)' "$t/proto.err" &&
	ok "protocol: log says not scored: exempt recipient" || no "protocol: no 'exempt recipient' log line: $(grep 0e0e0e02 "$t/proto.err")"
# upstream_headers = remove, and an exempt sender, from a config file
printf 'upstream_headers = remove\nexempt_senders = bounce@\n' >"$t/remove.conf"
"$SF" -c "$t/remove.conf" -s "$t/no-such.sock" -t 2 <"$t/proto.in" >"$t/proto.rm" 2>"$t/proto.rmerr"
cp "$t/proto.out" "$t/proto.default"; cp "$t/proto.rm" "$t/proto.out"
expect "upstream_headers = remove: forged X-Spam-* dropped with continuations" \
	"filter-dataline|$S|1111|X-Spam-Status: Unknown, score=unknown (controller unavailable)" \
	"filter-dataline|$S|1111|Subject: a|b" "filter-dataline|$S|1111|" \
	"filter-dataline|$S|1111|X-Spam-Flag: body text, kept"
grep -q -- '-100\|spam-flag: NO\|X-Upstream' "$t/proto.rm" && no "protocol: remove: a forged header got through" ||
	ok "protocol: remove: forged X-Spam-Status (with continuation) and x-spam-flag dropped"
grep -q "e001|X-Spam" "$t/proto.rm" && no "protocol: exempt sender got an X-Spam-* header" ||
	ok "protocol: exempt sender got no X-Spam-* header"
grep -q '0e0e0e01: client=192.0.2.8, score=none, action=accept (not scored: exempt sender)' "$t/proto.rmerr" &&
	ok "protocol: log says not scored: exempt sender" || no "protocol: no 'exempt sender' log line: $(grep 0e0e0e01 "$t/proto.rmerr")"
# upstream_headers = keep: left as they came
printf 'upstream_headers = keep\n' >"$t/keep.conf"
"$SF" -c "$t/keep.conf" -s "$t/no-such.sock" -t 2 <"$t/proto.in" >"$t/proto.out" 2>/dev/null
expect "upstream_headers = keep: incoming X-Spam-* left beside ours" \
	"filter-dataline|$S|1111|X-Spam-Status: Unknown, score=unknown (controller unavailable)" \
	"filter-dataline|$S|1111|X-Spam-Status: No," "filter-dataline|$S|1111|	score=-100.0" \
	"filter-dataline|$S|1111|Subject: a|b" "filter-dataline|$S|1111|x-spam-flag: NO"
cp "$t/proto.default" "$t/proto.out"
expect "authenticated session: not scored, no X-Spam-* at all" \
	"filter-dataline|$S|4444|Subject: from bob" "filter-dataline|$S|4444|" \
	"filter-dataline|$S|4444|." "filter-result|$S|5555|proceed"
grep -q "4444|X-Spam" "$t/proto.out" && no "protocol: authenticated message got an X-Spam-* header" || true
expect "protocol 0.4: TOKEN|SESSION order" "filter-dataline|6666|bbbbbbbbbbbbbbbb|."
grep -q 'unexpected line from smtpd: this is not the protocol' "$t/proto.err" &&
	grep -q 'malformed filter line' "$t/proto.err" && ok "protocol: garbage logged, not fatal" ||
	no "protocol: garbage not logged: $(cat "$t/proto.err")"
grep -q '0badcafe: client=192.0.2.7, score=unknown, action=accept' "$t/proto.err" &&
	ok "protocol: log line: $(grep 0badcafe "$t/proto.err" | sed 's/^[^:]*: //' | cut -c1-90)..." ||
	no "protocol: no log line for 0badcafe: $(cat "$t/proto.err")"
grep -q '0badcaff: client=192.0.2.7, score=none, action=accept (not scored: authenticated as bob)' "$t/proto.err" &&
	ok "protocol: log says not scored: authenticated as bob" || no "protocol: no 'authenticated as bob' log line"

# ---- 1b. per-user scoring and autolearn, scripted, with a real bayesd (no root needed)
# Three transactions, autolearn thresholds at 0.5 so every scored message is
# confident: one recipient (mapped to its user as the milter maps it: the
# +extension dropped, lowercased), two recipients (global), and an
# authenticated sender (scored with score_authenticated, never autolearned).
pu_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PU=$t/pu
mkdir -p "$PU"
cat >"$PU/bayesd.conf" <<EOF
milter_socket = inet:$pu_port@127.0.0.1
controller_socket = $PU/run/controller.sock
database = $PU/bayes.sqlite
min_learns = 0
score_local = yes
pidfile = $PU/bayesd.pid
per_user = yes
autolearn = yes
autolearn_spam_threshold = 0.5
autolearn_ham_threshold = 0.5
score_authenticated = yes
EOF
"$BC" --db "$PU/bayes.sqlite" -q learn_spam corpus/samples/spam-1.eml && "$BC" --db "$PU/bayes.sqlite" -q learn_ham corpus/samples/ham-1.eml
"$BD" -f -c "$PU/bayesd.conf" >"$PU/bayesd.log" 2>&1 &
pid=$!
i=0
while [ ! -S "$PU/run/controller.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -S "$PU/run/controller.sock" ]; then
	P=cccccccccccccccc
	{
		cat <<EOF
config|smtpd-version|6.8.0p2
config|ready
$R|link-connect|$P|localhost|pass|192.0.2.9:40000|127.0.0.1:25
$R|tx-begin|$P|0000aaaa
$R|tx-rcpt|$P|0000aaaa|fail|nobody@example.org
$R|tx-rcpt|$P|0000aaaa|ok|<Joe+lists@Example.ORG>
EOF
		tr -d '\r' <corpus/samples/spam-2.eml | sed -e 's/^\./../' -e "s/^/$F|data-line|$P|7001|/"
		cat <<EOF
$F|data-line|$P|7001|.
$F|commit|$P|7002|
$R|tx-begin|$P|0000bbbb
$R|tx-rcpt|$P|0000bbbb|ok|joe@example.org
$R|tx-rcpt|$P|0000bbbb|ok|ann@example.org
$F|data-line|$P|7003|Subject: meeting
$F|data-line|$P|7003|
$F|data-line|$P|7003|The meeting moves to Tuesday.
$F|data-line|$P|7003|.
$F|commit|$P|7004|
$R|link-auth|$P|carol|pass
$R|tx-begin|$P|0000cccc
$R|tx-rcpt|$P|0000cccc|ok|joe@example.org
$F|data-line|$P|7005|Subject: lunch
$F|data-line|$P|7005|
$F|data-line|$P|7005|Lunch tomorrow? Carol.
$F|data-line|$P|7005|.
$F|commit|$P|7006|
$R|link-disconnect|$P
EOF
	} >"$PU/proto.in"
	"$SF" -c "$PU/bayesd.conf" -t 10 <"$PU/proto.in" >"$PU/proto.out" 2>"$PU/proto.err"
	grep -q '0000aaaa: client=192.0.2.9, score=[0-9.]*, action=[a-z]*, .*user=joe@example.org, autolearn=' "$PU/proto.err" &&
		ok "per-user: one recipient scored as joe@example.org and autolearned" ||
		no "per-user: one recipient: $(cat "$PU/proto.err")"
	grep '0000bbbb: client' "$PU/proto.err" | grep -q 'autolearn=' && ! grep '0000bbbb: client' "$PU/proto.err" | grep -q 'user=' &&
		ok "per-user: two recipients scored global, autolearned" || no "per-user: two recipients: $(grep 0000bbbb "$PU/proto.err")"
	grep '0000cccc: client=192.0.2.9, score=[0-9]' "$PU/proto.err" | grep -q 'user=joe@example.org' &&
		! grep '0000cccc: client' "$PU/proto.err" | grep -q 'autolearn=' &&
		ok "per-user: authenticated sender scored as the user, never autolearned" ||
		no "per-user: authenticated: $(grep 0000cccc "$PU/proto.err")"
	# the writer runs posted autolearns in its turn: wait for them
	i=0
	while [ $i -lt 50 ]; do
		"$BC" -s "$PU/run/controller.sock" --json stat >"$PU/stat" 2>/dev/null
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["learned_spam"]+d["learned_ham"]>=4 else 1)' "$PU/stat" 2>/dev/null && break
		sleep 0.1; i=$((i + 1))
	done
	python3 - "$PU/stat" <<'PY' && ok "per-user: joe learned 1 (autolearn), ann none, global 2 trained + 2" || no "per-user stat: $(cat "$PU/stat")"
import json, sys
d = json.load(open(sys.argv[1])); u = {e["user"]: e for e in d["per_user"]}
assert d["learned_spam"] + d["learned_ham"] == 4, d
assert list(u) == ["joe@example.org"], u
assert u["joe@example.org"]["learned_spam"] + u["joe@example.org"]["learned_ham"] == 1, u
PY
	curl -s --max-time 10 --unix-socket "$PU/run/controller.sock" http://localhost/metrics >"$PU/metrics"
	python3 - "$PU/metrics" <<'PY' && ok "metrics: 2 autolearned, 1 skipped (authenticated)" || no "metrics: $(grep autolearn "$PU/metrics")"
import re, sys
m = dict((k, float(v)) for k, v in re.findall(r'^(bayesd_autolearn\S+) (\S+)$', open(sys.argv[1]).read(), re.M))
assert m['bayesd_autolearn_total{class="spam"}'] + m['bayesd_autolearn_total{class="ham"}'] == 2, m
assert m['bayesd_autolearn_skipped_total{reason="authenticated"}'] == 1, m
PY
else
	no "per-user: bayesd did not start: $(tail -3 "$PU/bayesd.log")"
fi
stop_bayesd

# ---- 2. a real OpenSMTPD
[ "$(id -u)" = 0 ] || finish "part 2 needs root (a private smtpd in its own mount namespace)"
for c in unshare smtp-sink setpriv python3 apt-get dpkg-deb; do
	command -v $c >/dev/null 2>&1 || finish "part 2 needs $c (apt-get install util-linux postfix python3)"
done
[ -x "$OH" ] || finish "OpenSMTPD harness not found at $OH"
for p in "$BD" "$BC"; do [ -x "$p" ] || finish "$p not built"; done
if [ -z "${OPENSMTPD_ROOT:-}" ]; then
	if [ -x /opt/opensmtpd-6.8/usr/sbin/smtpd ]; then OPENSMTPD_ROOT=/opt/opensmtpd-6.8
	else OPENSMTPD_ROOT=/var/cache/bayesd-test/opensmtpd-6.8; fi
fi
export OPENSMTPD_ROOT
if ! "$OH" setup >"$t/setup.out" 2>&1; then
	finish "OpenSMTPD not available: $(tail -1 "$t/setup.out")"
fi
ok "OpenSMTPD: $(tail -1 "$t/setup.out")"

m=$t/msgs
mkdir -p "$t/bd"
sample_messages "$m"
{ printf 'X-Spam-Status: No, score=-100.0\n required=5.0\nX-Spam-Flag: NO\nx-spam-bayesd: p=0.00000\n'; grep -v '^From ' "$SPAM"; } >"$m/forged.eml"

db=$t/bd/db.sqlite
if "$BC" --db "$db" learn_spam "$m"/spam-*.eml >"$t/learn.out" 2>&1 &&
	"$BC" --db "$db" learn_ham "$m"/ham-*.eml >>"$t/learn.out" 2>&1; then
	ok "trained $db offline"
else
	no "offline training failed: $(tail -1 "$t/learn.out")"; finish
fi
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
sock=$t/bd/ctl.sock
write_conf() { # FILE EXTRA-LINES
	cat >"$1" <<EOF
# written by tests/integration/opensmtpd.sh
milter_socket = inet:$mport@127.0.0.1
controller_socket = $sock
database = $db
min_learns = 0
score_local = yes
pidfile = $t/bd/bayesd.pid
$2
EOF
}
write_conf "$t/bd/bayesd.conf" "reject_threshold = off"
write_conf "$t/bd/reject.conf" "reject_threshold = 0.5"
write_conf "$t/bd/tempfail.conf" "on_error = tempfail"
chown -R "$(id -u nobody):$(id -g nobody)" "$t/bd"
out=$("$SF" -n -c "$t/bd/bayesd.conf" 2>&1) && [ "$out" = "configuration OK" ] &&
	ok "bayesd-smtpd-filter -n: configuration OK" || no "bayesd-smtpd-filter -n: $out"
setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
	"$BD" -f -c "$t/bd/bayesd.conf" </dev/null >"$t/bayesd.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 150 ]; do
	kill -0 "$pid" 2>/dev/null || { no "bayesd exited at start: $(tail -2 "$t/bayesd.log")"; pid=; finish; }
	[ -S "$sock" ] && break
	sleep 0.1; i=$((i + 1))
done
[ $i -lt 150 ] && ok "bayesd up, controller at $sock" || { no "no controller socket in 15 s"; finish; }

start_os() { # NAME CONFIG|none
	os=$t/os-$1
	if [ "$2" = none ]; then f=none; else f="$SF -c $2"; fi
	if "$OH" start "$os" --filter "$f" --filter-user nobody >"$t/os-$1.start" 2>&1; then
		ok "private smtpd ($1): $(tail -1 "$t/os-$1.start" | cut -c1-120)"
	else
		no "private smtpd ($1) failed: $(tail -2 "$t/os-$1.start")"; os=; finish
	fi
}
send() { "$OH" send "$os" "$1" --to "$2" 2>&1; }
field() { # RCPT COLUMN (3 X-Spam-Status, 4 X-Spam-Flag, 5 X-Spam-Bayesd)
	"$OH" delivered "$os" -H X-Spam-Status -H X-Spam-Flag -H X-Spam-Bayesd |
		awk -F '\t' -v r="<$1>" -v c="$2" '$2 == r { print $c }'
}
smtpd_up() { case $("$OH" status "$os" 2>&1) in *"smtpd pid="*" running"*) return 0 ;; esac; return 1; }

# scored messages
start_os scored "$t/bd/bayesd.conf"
n=0
for x in "$SPAM spam-1" "$HAM ham-1" "$m/forged.eml forged-1" "$SPAM postmaster"; do
	set -- $x
	r=$(send "$1" "$2@example.net")
	case $r in 250*) n=$((n + 1)) ;; *) no "$2: $r" ;; esac
done
[ $n = 4 ] && ok "4 messages accepted (250)"
"$OH" wait "$os" 4 --timeout 60 >/dev/null || no "only $("$OH" delivered "$os" --count) of 4 reached the sink"
# exempt_recipients (postmaster@ by default): not scored, no X-Spam-* header
[ "$(field postmaster@example.net 3)" = - ] && ok "postmaster@: not scored, no X-Spam-Status" ||
	no "postmaster@: X-Spam-Status '$(field postmaster@example.net 3)'"
grep -q 'client=127.0.0.1, score=none, action=accept (not scored: exempt recipient)' "$os/log/smtpd.log" &&
	ok "postmaster@: smtpd's log says not scored: exempt recipient" || no "postmaster@: no 'exempt recipient' log line"
# upstream_headers = rename (the default): the forged verdict kept under X-Upstream-
up=$("$OH" delivered "$os" -H X-Upstream-Spam-Status | awk -F '\t' '$2 == "<forged-1@example.net>" { print $3 }')
case $up in *"score=-100.0"*) ok "forged-1: X-Upstream-Spam-Status: $up" ;; *) no "forged-1: X-Upstream-Spam-Status '$up'" ;; esac
verdict() { # RCPT Yes|No
	st=$(field "$1@example.net" 3) fl=$(field "$1@example.net" 4) de=$(field "$1@example.net" 5)
	case $st in
	"$2, score="[0-9]*.[0-9]" required=5.0 tests=BAYES_"[0-9]*" autolearn="[a-z]*" version=bayesd-"?*)
		ok "$1: X-Spam-Status: $st" ;;
	*) no "$1: X-Spam-Status '$st', wanted '$2, score=S.S required=5.0 tests=BAYES_NN autolearn=A version=bayesd-V'" ;;
	esac
	if { [ "$2" = Yes ] && [ "$fl" = YES ]; } || { [ "$2" = No ] && [ "$fl" = - ]; }; then
		ok "$1: X-Spam-Flag '$fl' on $2"
	else no "$1: X-Spam-Flag '$fl' with X-Spam-Status '$st'"; fi
	case $de in "p="*" tokens="*" version="*) ok "$1: X-Spam-Bayesd: $de" ;; *) no "$1: X-Spam-Bayesd '$de'" ;; esac
}
verdict spam-1 Yes
verdict ham-1 No
verdict forged-1 Yes
grep -q '[0-9a-f]\{8\}: client=127.0.0.1, score=0\.[0-9]*, action=flag' "$os/log/smtpd.log" &&
	ok "log line in smtpd's log: $(grep -m1 'action=flag' "$os/log/smtpd.log" | sed 's/.*: \([0-9a-f]\{8\}: \)/\1/')" ||
	no "no 'MSGID: client=127.0.0.1, score=..., action=flag' line in smtpd's log"
stop_os

# reject above reject_threshold
start_os reject "$t/bd/reject.conf"
r=$(send "$SPAM" spam-2@example.net)
case $r in "550 5.7.1"*) ok "reject_threshold = 0.5: spam refused: $r" ;; *) no "reject_threshold = 0.5: spam got '$r'" ;; esac
r=$(send "$HAM" ham-2@example.net)
case $r in 250*) ok "reject_threshold = 0.5: ham accepted" ;; *) no "reject_threshold = 0.5: ham got '$r'" ;; esac

# bayesd down: on_error = accept (this instance), then tempfail
stop_bayesd
r=$(send "$HAM" down-1@example.net)
case $r in 250*) ok "bayesd down: accepted: $r" ;; *) no "bayesd down: '$r'" ;; esac
# wait for this very message (a count of delivered files can be reached by
# an earlier one still on its way)
st= i=0
while [ $i -lt 300 ]; do
	st=$(field down-1@example.net 3)
	[ -n "$st" ] && break
	sleep 0.1; i=$((i + 1))
done
if [ -n "$st" ]; then
	case $st in "Unknown, score=unknown"*) ok "bayesd down: delivered with X-Spam-Status: $st" ;;
	*) no "bayesd down: X-Spam-Status '$st'" ;; esac
else
	no "bayesd down: not delivered"
fi
smtpd_up && ok "smtpd still up" || no "smtpd went down: $(grep -E 'lost processor|fatal' "$os/log/smtpd.log" | tail -1)"
stop_os
start_os tempfail "$t/bd/tempfail.conf"
r=$(send "$HAM" down-2@example.net)
case $r in "451 4.7.1"*) ok "bayesd down, on_error = tempfail: $r" ;; *) no "on_error = tempfail: '$r'" ;; esac
smtpd_up && ok "smtpd still up" || no "smtpd went down"
stop_os

# throughput with and without the filter (bayesd up again)
setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
	"$BD" -f -c "$t/bd/bayesd.conf" </dev/null >>"$t/bayesd.log" 2>&1 &
pid=$!
i=0; while [ ! -S "$sock" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
N=${PERF_MESSAGES:-200}
rate() { # NAME CONFIG|none: messages/s from first connect until all are in the sink
	start_os "perf-$1" "$2"
	. "$os/harness.env"
	python3 - "$PORT" "$os/sink" "$N" "$m" <<'PY'
import os, re, smtplib, sys, threading, time
port, sink, n, md = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
msgs = []
for f in sorted(os.listdir(md)):
    d = open(os.path.join(md, f), "rb").read()
    if d.startswith(b"From "):
        d = d.split(b"\n", 1)[1]
    msgs.append(re.sub(rb"\r?\n", b"\r\n", d))
def worker(k, count):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.localdomain", timeout=60)
    for i in range(count):
        s.sendmail("sender@example.org", [f"perf-{k}-{i}@example.net"], msgs[(k + i) % len(msgs)])
    s.quit()
start = time.time()
th = [threading.Thread(target=worker, args=(k, n // 4)) for k in range(4)]
for x in th: x.start()
for x in th: x.join()
while sum(len(fs) for _, _, fs in os.walk(sink)) < (n // 4) * 4 and time.time() - start < 120:
    time.sleep(0.02)
print(f"{(n // 4) * 4 / (time.time() - start):.1f}")
PY
	stop_os
}
plain=$(rate plain none | tail -1)
filt=$(rate filter "$t/bd/bayesd.conf" | tail -1)
pct=$(python3 -c "import sys; print(round(100 * float(sys.argv[2]) / float(sys.argv[1])))" "$plain" "$filt" 2>/dev/null)
echo "# throughput: $plain msg/s without the filter, $filt msg/s with it (${pct:-?}%; target >= 90%)"
# the assertion is the target the line above names, not merely that a figure came out
if [ -z "$pct" ]; then
	no "throughput not measured ($plain / $filt)"
elif [ "$pct" -ge 90 ]; then
	ok "throughput with the filter: ${pct}% of plain OpenSMTPD (>= 90%)"
else
	no "throughput with the filter: ${pct}% of plain OpenSMTPD, under the 90% target"
fi

finish
