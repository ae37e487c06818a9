#!/bin/sh
# security.sh - what SECURITY.md says was checked and can be tested here:
#   - the controller socket gets controller_socket_mode and _group, and a
#     user outside the group cannot connect (EACCES, bayesc exit 69);
#   - no TCP controller unless controller_bind is set; a non-loopback
#     controller_bind is warned about in the log;
#   - a wrong or missing password on TCP learns: 403 (controller.sh covers
#     the 413 for an oversized body);
#   - bayesd started as root with user = nobody has dropped every uid, gid,
#     supplementary group and capability;
#   - the systemd unit keeps its hardening lines;
#   - the Sieve helpers pass a hostile IMAP user name to bayesc as one
#     argument and never to a shell.
# Prints "ok - ..." / "not ok - ..."; exits 1 on any failure, 77 with a
# SKIP line when not root or a tool is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-$PWD/bayesd}
BC=${BAYESC:-$PWD/bayesc}
for p in "$BD" "$BC"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (bayesd dropping to nobody, a second uid)"; exit 77; }
for c in python3 setpriv curl; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
done
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
grp=$(getent group mail >/dev/null && echo mail || echo daemon)

t=$(mktemp -d /tmp/bayesd-security.XXXXXX) || exit 1
chmod 755 "$t"
pid=
cleanup() {
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null; sleep 0.3; kill -9 "$pid" 2>/dev/null; }
	wait 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. tests/tap.sh
start() { # extra config lines
	cat >"$t/bayesd.conf" <<EOF
milter_socket = inet:$(free_port)@127.0.0.1
controller_socket = $t/run/ctl.sock
database = $t/db/db.sqlite
min_learns = 0
score_local = yes
pidfile =
$1
EOF
	: >"$t/bayesd.log"
	"$BD" -f -c "$t/bayesd.conf" </dev/null >>"$t/bayesd.log" 2>&1 &
	pid=$!
	wait_controller "$t/run/ctl.sock" "$pid" && return 0
	no "bayesd did not start: $(tail -3 "$t/bayesd.log")"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null; pid=; rm -f "$t/run/ctl.sock"; }

mkdir -p "$t/run" "$t/db"
chown nobody "$t/db" "$t/run"

# 1. socket mode and group; privileges dropped to nobody
start "user = nobody
controller_socket_mode = 0660
controller_socket_group = $grp"
st=$(stat -c '%a %G' "$t/run/ctl.sock")
[ "$st" = "660 $grp" ] && ok "controller socket mode 660, group $grp" || no "controller socket: $st, wanted 660 $grp"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$BC" -s "$t/run/ctl.sock" stat >"$t/out" 2>&1; rc=$?
[ $rc = 69 ] && grep -q 'Permission denied' "$t/out" && ok "a user outside $grp cannot connect (exit 69): $(head -1 "$t/out")" ||
	no "nobody outside $grp: exit $rc: $(cat "$t/out")"
gid=$(getent group "$grp" | cut -d: -f3)
setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$BC" -s "$t/run/ctl.sock" stat >"$t/out" 2>&1 &&
	ok "a member of $grp can" || no "member of $grp: $(cat "$t/out")"
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$pid/status)
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/$pid/status)
groups=$(awk '/^Groups:/ { $1 = ""; print }' /proc/$pid/status | tr -d ' ')
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/$pid/status) capprm=$(awk '/^CapPrm:/ { print $2 }' /proc/$pid/status)
nu=$(id -u nobody) ng=$(id -g nobody)
[ "$uids" = "$nu $nu $nu $nu" ] && [ "$gids" = "$ng $ng $ng $ng" ] && [ -z "$groups" -o "$groups" = "$ng" ] &&
	[ "$capeff" = 0000000000000000 ] && [ "$capprm" = 0000000000000000 ] &&
	ok "bayesd dropped root: uid $uids, gid $gids, groups '${groups}', no capabilities" ||
	no "bayesd privileges: uid $uids gid $gids groups '$groups' CapEff $capeff CapPrm $capprm"
# no TCP listener without controller_bind
if command -v ss >/dev/null 2>&1; then
	n=$(ss -Hltnp 2>/dev/null | grep -c "pid=$pid,")
	[ "$n" = 1 ] && ok "one TCP listener (the milter), no TCP controller by default" ||
		no "bayesd has $n TCP listeners: $(ss -Hltnp | grep "pid=$pid,")"
fi
stop

# 2. TCP controller: password; a non-loopback bind is warned about
cport=$(free_port)
start "controller_bind = 0.0.0.0:$cport
controller_password = right-one"
grep -q "not a loopback address" "$t/bayesd.log" && ok "non-loopback controller_bind warned: $(grep -m1 'not a loopback' "$t/bayesd.log" | cut -c1-100)" ||
	no "no warning for controller_bind 0.0.0.0"
for pw in "" "wrong" "right-on" "right-one-and-more"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' ${pw:+-H "Password: $pw"} --data-binary @corpus/samples/spam-1.eml \
		"http://127.0.0.1:$cport/learn_spam")
	[ "$code" = 403 ] && ok "TCP learn with password '$pw': 403" || no "TCP learn with password '$pw': $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Password: right-one" --data-binary @corpus/samples/spam-1.eml \
	"http://127.0.0.1:$cport/learn_spam")
[ "$code" = 200 ] && ok "TCP learn with the right password: 200" || no "right password: $code"
stop

# 3. the systemd unit's hardening
for l in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes StateDirectory=bayesd \
	RuntimeDirectory=bayesd User=bayesd CapabilityBoundingSet= RestrictSUIDSGID=yes; do
	grep -qx "$l" milter/bayesd.service || no "bayesd.service lacks $l"
done
grep -q '^ReadWritePaths=' milter/bayesd.service && no "bayesd.service opens more paths for writing" ||
	ok "bayesd.service: read-only system, writes only to its State/RuntimeDirectory"

# 4. Sieve helpers: a hostile user name is one argument, never shell code
mkdir -p "$t/bin"
cat >"$t/bin/bayesc" <<'EOF'
#!/usr/bin/env python3
import os, sys
with open(os.environ['ARGV_LOG'], 'a') as f:
    f.write(repr(sys.argv[1:]) + '\n')
sys.stdin.read()
print('-: learned')
EOF
chmod 755 "$t/bin/bayesc"
for h in trainer/sieve/bayes-learn-spam trainer/sieve/bayes-learn-ham; do
	for u in '$(touch PWNED)' '`touch PWNED`' 'a;touch PWNED' '--db=/tmp/x' "a'b\"c" '-s /tmp/evil.sock'; do
		: >"$t/argv"
		( cd "$t" && ARGV_LOG="$t/argv" PATH="$t/bin:/usr/bin:/bin" BAYESC_SOCKET="$t/run/ctl.sock" \
			sh "$OLDPWD/$h" "$u" <"$OLDPWD/corpus/samples/spam-1.eml" >/dev/null 2>&1 )
		want=$(python3 -c 'import sys; print(repr(["-u", sys.argv[1], "-t", "4", sys.argv[2]]))' "$u" \
			"learn_$(basename "$h" | sed 's/bayes-learn-//')")
		if [ -e "$t/PWNED" ]; then no "$h: user '$u' ran shell code"; rm -f "$t/PWNED"
		elif [ "$(cat "$t/argv")" != "$want" ]; then no "$h: user '$u': argv $(cat "$t/argv"), wanted $want"
		else ok "$h: user '$u' passed as one argument"; fi
	done
done

[ "$fails" -eq 0 ]
