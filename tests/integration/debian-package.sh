#!/bin/sh
# debian-package.sh - the Debian package (issue 17, point 3): there was
# none, the system user was made by hand, and the unit's man:bayesd(8) did
# not exist.
#  (a) dpkg-buildpackage -us -uc -b builds bayesd_*.deb from a copy of the
#      tree (debian/rules cleans the tree it builds in);
#  (b) its contents: bayesd, bayesc, the OpenSMTPD filter, the Sieve
#      helpers and scripts, the systemd unit in /lib/systemd/system, the
#      man pages, /etc/bayesd/bayesd.conf as a conffile, /var/lib/bayesd;
#      the packaged bayesd has the unit's paths compiled in; postinst makes
#      the bayesd user; lintian reports no error or warning (when installed);
#  (c) installed in a clean Debian 12 chroot (../shared/check/tools/
#      fresh-debian.sh, or $FRESH_DEBIAN; as root only): apt installs it
#      with its dependencies, the bayesd user and /var/lib/bayesd 0750 are
#      there, bayesd -n accepts the shipped configuration, bayesd starts
#      from the installed paths, bayesc trains and scores through the
#      default controller socket, and apt-get purge leaves no file, no
#      /etc/bayesd and no /var/lib/bayesd behind. Without the tool or root,
#      (c) is reported as not run (a "#" line), not as passed.
#
# Prints "ok - ..." / "not ok - ..." lines; exits 1 on any failure, 77
# with a SKIP line when something it needs is missing.
cd "$(dirname "$0")/../.." || exit 1
. tests/tap.sh
need_cmds dpkg-buildpackage dpkg-deb dh git
top=$(pwd)
t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
ver=$(sed -n '1s/^bayesd (\([^)]*\)).*/\1/p' debian/changelog)
src=$t/bayesd-$ver
mkdir -p "$src"
# the tree as it is (committed or not), without build products
git ls-files -co --exclude-standard | grep -vx Makefile | tar -cf - -T - | tar -xf - -C "$src" ||
	{ no "copy of the tree"; exit 1; }

# (a)
(cd "$src" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b) \
	>"$t/build.log" 2>&1; rc=$?
deb=$(ls "$t"/bayesd_"$ver"_*.deb 2>/dev/null | head -1)
if [ $rc = 0 ] && [ -n "$deb" ]; then
	ok "dpkg-buildpackage -us -uc -b built ${deb##*/}"
else
	no "dpkg-buildpackage: exit $rc: $(grep -E 'error|Error' "$t/build.log" | head -3) $(tail -3 "$t/build.log")"
	exit 1
fi
# the compiler's warnings, not make's (make -j under make check: "jobserver unavailable")
grep -v '^make\[[0-9]*\]: warning:' "$t/build.log" | grep -q 'warning:' &&
	no "compiler warnings: $(grep -v '^make\[[0-9]*\]: warning:' "$t/build.log" | grep 'warning:' | head -2)" ||
	ok "no compiler warning in the package build"

# (b)
# the path of each entry (field 6; a symlink's line goes on with "-> TARGET":
# dh_installman turns bayes-learn-ham.8's ".so" into one)
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$t/contents"
missing=
for f in /usr/sbin/bayesd /usr/bin/bayesc /usr/libexec/bayesd/bayesd-smtpd-filter \
	/usr/libexec/bayesd/bayes-learn-spam /usr/libexec/bayesd/bayes-learn-ham \
	/usr/share/bayesd/report-spam.sieve /usr/share/bayesd/report-ham.sieve \
	/usr/share/bayesd/90-imapsieve.conf /usr/share/bayesd/postfix-main.cf.snippet \
	/usr/share/bayesd/bayesd.conf.example /lib/systemd/system/bayesd.service \
	/etc/bayesd/bayesd.conf /var/lib/bayesd/ /usr/share/man/man8/bayesd.8.gz \
	/usr/share/man/man1/bayesc.1.gz /usr/share/man/man5/bayesd.conf.5.gz \
	/usr/share/man/man8/bayes-learn-spam.8.gz /usr/share/man/man8/bayes-learn-ham.8.gz \
	/usr/share/doc/bayesd/copyright; do
	grep -qx "$f" "$t/contents" || missing="$missing $f"
done
[ -z "$missing" ] && ok "the .deb holds the programs, Sieve helpers and scripts, unit, man pages, conffile ($(wc -l <"$t/contents") entries)" ||
	no "the .deb lacks:$missing"
dpkg-deb -e "$deb" "$t/ctl"
grep -qx /etc/bayesd/bayesd.conf "$t/ctl/conffiles" && ok "/etc/bayesd/bayesd.conf is a conffile" ||
	no "conffiles: $(cat "$t/ctl/conffiles" 2>/dev/null)"
grep -q 'adduser --system' "$t/ctl/postinst" && grep -q 'deb-systemd-helper' "$t/ctl/postinst" &&
	ok "postinst makes the bayesd system user and enables the unit" || no "postinst: $(head -20 "$t/ctl/postinst")"
dpkg-deb -x "$deb" "$t/x"
"$t/x/usr/sbin/bayesd" --help >"$t/help" 2>&1
U=$t/x/lib/systemd/system/bayesd.service
if grep -q '^    /etc/bayesd/bayesd.conf ' "$t/help" && grep -q '^    /var/lib/bayesd/bayes.sqlite ' "$t/help" &&
	grep -q '^    /run/bayesd/controller.sock ' "$t/help" && grep -qx 'RuntimeDirectory=bayesd' "$U" &&
	grep -qx 'StateDirectory=bayesd' "$U" && grep -qx 'ExecStart=/usr/sbin/bayesd -f' "$U" &&
	grep -qx 'User=bayesd' "$U"; then
	ok "the packaged bayesd has the unit's paths compiled in (/etc/bayesd, /var/lib/bayesd, /run/bayesd)"
else
	no "packaged paths: $(grep -A4 '^FILES' "$t/help" | tr '\n' ' ') unit: $(grep -E '^(Exec|Runtime|State)' "$U" | tr '\n' ' ')"
fi
if command -v lintian >/dev/null 2>&1; then
	lintian --tag-display-limit 0 "$deb" >"$t/lintian" 2>&1
	grep -E '^[EW]: ' "$t/lintian" >"$t/lintian.ew"
	[ ! -s "$t/lintian.ew" ] && ok "lintian: no error, no warning ($(grep -c '^[IPX]: ' "$t/lintian") notes)" ||
		no "lintian: $(head -5 "$t/lintian.ew" | tr '\n' ' ')"
else
	echo "# lintian not installed: not run"
fi

# (c) a clean Debian 12
tool=${FRESH_DEBIAN:-$top/../shared/check/tools/fresh-debian.sh}
if [ "$(id -u)" != 0 ] || [ ! -f "$tool" ]; then
	echo "# install in a clean Debian 12 not run: needs root and $tool"
	[ $fails = 0 ] || exit 1
	exit 0
fi
c=$t/chroot-src
mkdir -p "$c/samples"
cp "$deb" "$c/"
sample_messages "$c/samples"
cat >"$c/inside.sh" <<'INSIDE'
#!/bin/sh
# runs in the clean chroot, as root, in the directory holding the .deb
fails=0
ok() { echo "ok - chroot: $1"; }
no() { echo "not ok - chroot: $1"; fails=$((fails + 1)); }
export DEBIAN_FRONTEND=noninteractive
apt-get -qq update >/dev/null 2>&1
if apt-get -y -q install ./bayesd_*.deb >apt.log 2>&1; then ok "apt-get install ./bayesd_*.deb (with its dependencies)"
else no "apt-get install: $(tail -3 apt.log)"; exit 1; fi
getent passwd bayesd | grep -q ':/var/lib/bayesd:/usr/sbin/nologin$' && ok "the bayesd system user: $(getent passwd bayesd)" ||
	no "no bayesd user: $(getent passwd bayesd)"
[ "$(stat -c '%U:%G %a' /var/lib/bayesd)" = "bayesd:bayesd 750" ] && ok "/var/lib/bayesd bayesd:bayesd 0750" ||
	no "/var/lib/bayesd: $(stat -c '%U:%G %a' /var/lib/bayesd)"
bayesd -n >n.out 2>&1 && grep -q 'configuration OK' n.out && ok "bayesd -n accepts the shipped /etc/bayesd/bayesd.conf" ||
	no "bayesd -n: $(cat n.out)"
# no systemd in a chroot: start it as root the documented way (user = bayesd drops privileges),
# on a UNIX milter socket so that no port of the host is taken
printf 'user = bayesd\nmilter_socket = unix:/run/bayesd/milter.sock\n' >test.conf
bayesd -c test.conf >start.log 2>&1; rc=$?
i=0; while [ ! -S /run/bayesd/controller.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(cat /run/bayesd/bayesd.pid 2>/dev/null)
if [ $rc = 0 ] && [ -S /run/bayesd/controller.sock ] && [ -n "$pid" ] && [ "$(stat -c %U /proc/"$pid")" = bayesd ]; then
	ok "bayesd started from /usr/sbin/bayesd, runs as bayesd, made /run/bayesd (pid $pid)"
else
	no "bayesd start: exit $rc: $(cat start.log)"; exit 1
fi
bayesc learn_spam samples/spam-* >learn.out 2>&1 && bayesc learn_ham samples/ham-* >>learn.out 2>&1 &&
	[ "$(grep -c ': learned' learn.out)" -ge 2 ] && ok "bayesc learned $(grep -c ': learned' learn.out) messages over /run/bayesd/controller.sock" ||
	no "bayesc learn: $(head -3 learn.out)"
bayesc check samples/spam-1.eml >check.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q '^Results for file' check.out && ok "bayesc check scored a message: $(sed -n 2p check.out)" ||
	no "bayesc check: exit $rc: $(head -3 check.out)"
[ -s /var/lib/bayesd/bayes.sqlite ] && [ "$(stat -c %U /var/lib/bayesd/bayes.sqlite)" = bayesd ] &&
	ok "the statistics in /var/lib/bayesd/bayes.sqlite, owned by bayesd" || no "no /var/lib/bayesd/bayes.sqlite"
kill "$pid"; i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$pid" 2>/dev/null && { no "bayesd did not stop on SIGTERM"; kill -9 "$pid"; } || ok "bayesd stopped on SIGTERM"
dpkg -L bayesd | sort >files
if apt-get -y -q purge bayesd >purge.log 2>&1; then ok "apt-get purge bayesd"; else no "purge: $(tail -3 purge.log)"; fi
left=
while read -r f; do [ -f "$f" ] && left="$left $f"; done <files
[ -e /etc/bayesd ] && left="$left /etc/bayesd"
[ -e /var/lib/bayesd ] && left="$left /var/lib/bayesd"
[ -e /run/bayesd ] && left="$left /run/bayesd"
dpkg -s bayesd >/dev/null 2>&1 && left="$left (dpkg still knows bayesd)"
[ -z "$left" ] && ok "purge left no file behind (the bayesd user stays, as Debian does)" || no "purge left:$left"
[ $fails = 0 ]
INSIDE
bash "$tool" run --timeout 1200 --no-shared --tail 40 "$c" 'sh ./inside.sh' >"$t/chroot.out" 2>&1; rc=$?
grep -E '^(not )?ok - ' "$t/chroot.out"
n_ok=$(grep -c '^ok - ' "$t/chroot.out") n_no=$(grep -c '^not ok - ' "$t/chroot.out")
fails=$((fails + n_no))
if [ $rc = 0 ] && [ "$n_ok" -ge 10 ]; then
	ok "installed, started, trained, scored and purged in a clean Debian 12 chroot"
else
	no "clean Debian 12 install: exit $rc, $n_ok ok: $(grep -v '^\(not \)\{0,1\}ok - ' "$t/chroot.out" | tail -8 | tr '\n' ' ')"
fi

[ $fails = 0 ] || exit 1
