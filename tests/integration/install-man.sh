#!/bin/sh
# install-man.sh - make install puts the manual pages bayesd(8),
# bayesc(1), bayesd.conf(5) and bayes-learn-spam(8) (with its .so link
# bayes-learn-ham(8)) where man finds them, they render with
# man -l and no groff warning, and they document what the programs have
# (every bayesc long option, every bayesd.conf key); the installed
# systemd unit names a man page that exists (Documentation=man:bayesd(8))
# and gives bayesd the directories compiled into it (issue 17, point 3):
# with the default prefix /usr/local the unit's /run/bayesd and
# /var/lib/bayesd were not bayesd's /usr/local/var/... and it exited 71.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-./bayesd}
BC=${BAYESC:-./bayesc}
. tests/tap.sh
need_built "$BD" "$BC"
need_cmds man groff
[ -f Makefile ] || { echo "SKIP: not configured (no Makefile)"; exit 77; }
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
R=$t/root
make -s install DESTDIR="$R" >"$t/install.log" 2>&1 || { no "make install: $(tail -3 "$t/install.log")"; exit 1; }
var() { sed -n "s|^$1 = ||p" Makefile; }
mandir=$(var mandir) datadir=$(var datadir) sbindir=$(var sbindir)

for page in man1/bayesc.1 man5/bayesd.conf.5 man8/bayesd.8 man8/bayes-learn-spam.8 man8/bayes-learn-ham.8; do
	f=$R$mandir/$page
	if [ ! -f "$f" ]; then no "make install: no $mandir/$page"; continue; fi
	# from the mandir: a .so link (bayes-learn-ham.8) names its page relative to it
	(cd "$R$mandir" && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page") >"$t/page" 2>"$t/warn"
	(cd "$R$mandir" && groff -man -ww -z "$page") 2>>"$t/warn"
	if grep -q '^NAME' "$t/page" && grep -q '^SEE ALSO' "$t/page" && [ ! -s "$t/warn" ] && [ "$(wc -l <"$t/page")" -gt 30 ]; then
		ok "$page installed and renders with man -l ($(wc -l <"$t/page") lines, no warning)"
	else
		no "$page: $(head -3 "$t/warn") $(grep -c . "$t/page") lines"
	fi
	MANPATH=$R$mandir man -w "$(basename "$page" | sed 's/\.\([0-9]\)$/(\1)/')" >/dev/null 2>&1 &&
		ok "man finds $(basename "$page") in the installed mandir" || no "man -w does not find $page"
done

# bayes-learn-spam(8) says what the pipe helpers do: their syslog tag,
# timeout, socket variable and bayesc call, as trainer/sieve/ has them
LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$R$mandir/man8/bayes-learn-spam.8" 2>/dev/null | sed 's/‐/-/g' >"$t/helper.txt"
missing=
tmo=$(sed -n 's/^TIMEOUT=\([0-9]*\).*/\1/p' trainer/sieve/bayes-learn-spam)
for w in "$(sed -n "s/^TAG=//p" trainer/sieve/bayes-learn-spam)" "timeout -k 1 $tmo" "-t $((tmo - 1))" BAYESC_SOCKET \
		controller_socket_group sieve_pipe_bin_dir report-ham.sieve "Always 0"; do
	grep -q -- "$w" "$t/helper.txt" || missing="$missing '$w'"
done
[ -z "$missing" ] && ok "bayes-learn-spam(8) documents the helpers' tag, timeout, socket and Dovecot settings" ||
	no "bayes-learn-spam(8) lacks:$missing"

# every long option of bayesc --help is in bayesc(1)
LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$R$mandir/man1/bayesc.1" 2>/dev/null | sed 's/‐/-/g' >"$t/bayesc.txt"
missing=
for opt in $("$BC" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "$opt" "$t/bayesc.txt" || missing="$missing $opt"
done
[ -z "$missing" ] && ok "bayesc(1) documents every long option of bayesc --help" || no "bayesc(1) lacks:$missing"
grep -q -- '-h, --connect' "$t/bayesc.txt" && grep -q -- '-d, --deliver-to' "$t/bayesc.txt" &&
	ok "bayesc(1): -h is the host, -d the user" || no "bayesc(1) does not document -h/--connect, -d/--deliver-to"
# every key bayesd -n -v prints is in bayesd.conf(5)
LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$R$mandir/man5/bayesd.conf.5" 2>/dev/null >"$t/conf.txt"
"$BD" -n -v -c /dev/null >"$t/keys" 2>&1
missing=
for k in $(awk '/ = /{print $1}' "$t/keys"); do
	grep -q "^ *$k = " "$t/conf.txt" || missing="$missing $k"
done
[ -s "$t/keys" ] && [ -z "$missing" ] && ok "bayesd.conf(5) has every key bayesd -n -v prints ($(grep -c ' = ' "$t/keys"))" ||
	no "bayesd.conf(5) lacks:$missing"

# the installed unit gives bayesd the directories compiled into it
U=$R$datadir/bayesd/bayesd.service
"$BD" --help >"$t/help" 2>&1
rundir=$(sed -n 's|^ *\(/[^ ]*\)/controller.sock .*|\1|p' "$t/help")
statedir=$(sed -n 's|^ *\(/[^ ]*\)/bayes.sqlite .*|\1|p' "$t/help")
unit_has_dirs() { # UNIT RUNDIR STATEDIR - the unit makes and opens both
	for d in "$2:/run/bayesd:RuntimeDirectory=bayesd" "$3:/var/lib/bayesd:StateDirectory=bayesd"; do
		dir=${d%%:*} rest=${d#*:} sysd=${rest%%:*} line=${rest#*:}
		if [ "$dir" = "$sysd" ]; then
			grep -qx "$line" "$1" || return 1
		else
			grep -q "^ExecStartPre=+/usr/bin/install -d -o bayesd -g bayesd -m 07[0-7][0-7] $dir\$" "$1" &&
				grep -qx "ReadWritePaths=-$dir" "$1" || return 1
		fi
	done
}
if [ -n "$rundir" ] && [ -n "$statedir" ] && unit_has_dirs "$U" "$rundir" "$statedir" &&
	grep -q "^ExecStart=$sbindir/bayesd -f\$" "$U"; then
	ok "the installed unit makes and opens bayesd's compiled-in $rundir and $statedir"
else
	no "the installed unit does not match bayesd's paths (run $rundir, state $statedir): $(grep -E '^(ExecStart|Runtime|State|ReadWrite)' "$U" | tr '\n' ' ')"
fi
# both kinds of build, whatever this one is configured with
sh milter/unit-paths.sh /usr/local/sbin /usr/local/var/run/bayesd /usr/local/var/lib/bayesd \
	<milter/bayesd.service >"$t/local.service"
unit_has_dirs "$t/local.service" /usr/local/var/run/bayesd /usr/local/var/lib/bayesd &&
	grep -q '^ExecStart=/usr/local/sbin/bayesd -f$' "$t/local.service" &&
	ok "a /usr/local build's unit: /usr/local/var/run/bayesd and /usr/local/var/lib/bayesd" ||
	no "a /usr/local build's unit: $(grep -E '^(Exec|ReadWrite)' "$t/local.service" | tr '\n' ' ')"
sh milter/unit-paths.sh /usr/sbin /run/bayesd /var/lib/bayesd <milter/bayesd.service >"$t/pkg.service"
cmp -s milter/bayesd.service "$t/pkg.service" && ok "a package build's unit is bayesd.service unchanged" ||
	no "a package build's unit differs from milter/bayesd.service"
# systemd's own check, with the paths moved under DESTDIR; it runs "man bayesd(8)" for Documentation=
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$t/unit"
	sed -e "s|$sbindir/|$R$sbindir/|g" "$U" >"$t/unit/bayesd.service"
	if MANPATH=$R$mandir timeout 60 systemd-analyze verify "$t/unit/bayesd.service" >"$t/verify" 2>&1; then
		ok "systemd-analyze verify: the unit is valid and man:bayesd(8) exists"
	else
		no "systemd-analyze verify: $(head -3 "$t/verify")"
	fi
else
	echo "# systemd-analyze not installed: unit not verified"
fi

[ $fails = 0 ] || exit 1
