#!/bin/sh
# manlint.sh: every man page must be clean under mandoc -Tlint -W warning.
# TAP: one test per man/*.[1-9]; mandoc's complaints follow a failure as
# "# " comments.  MANDOC and BM_SRCDIR come from the test harness
# (Makefile.am's AM_TESTS_ENVIRONMENT); run by hand, the defaults below let
# "sh tests/manlint.sh" work from the source directory.

srcdir=${BM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "${MANDOC+set}" ]; then
	MANDOC=$(command -v mandoc 2>/dev/null)
fi

if [ -z "$MANDOC" ]; then
	echo "1..0 # SKIP mandoc not installed"
	exit 0
fi

# Gather the pages first (as positional parameters, so that a source
# directory with spaces in its name works): the plan line needs their number.
set --
for f in "$srcdir"/man/*.[1-9]; do
	[ -f "$f" ] && set -- "$@" "$f"
done
n=$#

if [ "$n" -eq 0 ]; then
	echo "1..0 # SKIP no man pages under $srcdir/man"
	exit 0
fi

echo "1..$n"
i=0
for f in "$@"; do
	i=$((i + 1))
	name=man/${f##*/}
	# From the source directory, so that messages say man/x.1:LINE:COL.
	out=$(cd "$srcdir" && "$MANDOC" -Tlint -W warning "$name" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		echo "ok $i - $name"
	else
		echo "not ok $i - $name"
		printf '%s\n' "$out" | sed 's/^/# /'
		echo "# mandoc exit status $rc"
	fi
done
exit 0
