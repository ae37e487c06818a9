#!/bin/sh
# unit-paths.sh SBINDIR RUNDIR STATEDIR <bayesd.service >installed.service
#
# The systemd unit with a build's paths, for make install. bayesd.service
# is written for a package (/usr/sbin, /run/bayesd, /var/lib/bayesd: the
# directories systemd makes from RuntimeDirectory= and StateDirectory=).
# A build with other paths compiled in (the default prefix /usr/local has
# /usr/local/var/run/bayesd and /usr/local/var/lib/bayesd) would start
# bayesd in a sandbox (ProtectSystem=strict) where its own directories are
# missing or read-only, and it exits 71. For such a build the unit makes
# those directories, owned by the unit's user, before bayesd starts
# (ExecStartPre=+, outside the sandbox) and lets bayesd write there
# (ReadWritePaths=).
sbindir=$1 rundir=$2 statedir=$3
[ -n "$sbindir" ] && [ -n "$rundir" ] && [ -n "$statedir" ] || {
	echo "usage: unit-paths.sh SBINDIR RUNDIR STATEDIR <unit >unit" >&2; exit 64; }
extra=
if [ "$rundir" != /run/bayesd ]; then
	extra="${extra}ExecStartPre=+/usr/bin/install -d -o bayesd -g bayesd -m 0755 $rundir
ReadWritePaths=-$rundir
"
fi
if [ "$statedir" != /var/lib/bayesd ]; then
	extra="${extra}ExecStartPre=+/usr/bin/install -d -o bayesd -g bayesd -m 0750 $statedir
ReadWritePaths=-$statedir
"
fi
EXTRA=$extra awk -v sbin="$sbindir" '
{ gsub("/usr/sbin/bayesd", sbin "/bayesd") }
/^ExecStartPre=/ && !done && ENVIRON["EXTRA"] != "" {
	print "# this build'"'"'s directories, not systemd'"'"'s /run and /var/lib (make install)"
	printf "%s", ENVIRON["EXTRA"]
	done = 1
}
{ print }'
