#!/bin/sh
# valgrind-unit.sh - the unit tests under valgrind memcheck: no invalid
# read or write, no use of uninitialised memory, no definite leak.
# SKIP where valgrind is missing (configure --install-deps installs it).
cd "$(dirname "$0")/../.." || exit 1
command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not installed"; exit 77; }
[ -x tests/unit/unit_tests ] || { echo "tests/unit/unit_tests not built"; exit 1; }
# Sanitizer builds already check memory and do not run under valgrind.
if nm tests/unit/unit_tests 2>/dev/null | grep -q __asan_init; then
	echo "SKIP: sanitizer build (ASan checks memory itself)"
	exit 77
fi
valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite -q tests/unit/unit_tests
rc=$?
[ $rc -eq 0 ] && echo "ok - unit tests clean under valgrind memcheck" || echo "not ok - valgrind exit $rc"
exit $rc
