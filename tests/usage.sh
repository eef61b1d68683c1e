#!/bin/sh
# usage.sh: each program's usage is its man page's SYNOPSIS.  TAP: one test
# per man/bm-*.1 whose program is built (the others are skipped, saying so).
# What `prog -h` prints up to its first blank line, "usage: " removed, must
# equal the SYNOPSIS that mandoc -Tascii renders (overstrike removed), both
# lowercased and with all whitespace removed.  BM_SRCDIR, BM_BUILDDIR and
# MANDOC come from the test harness (Makefile.am's AM_TESTS_ENVIRONMENT);
# run by hand from the source directory, build/ is the build directory.

srcdir=${BM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${BM_BUILDDIR:-$srcdir/build}
if [ -z "${MANDOC+set}" ]; then
	MANDOC=$(command -v mandoc 2>/dev/null)
fi
if [ -z "$MANDOC" ]; then
	echo "1..0 # SKIP mandoc not installed"
	exit 0
fi

bs=$(printf '\b')

# Lowercase, every blank and newline gone.
squeeze() {
	tr '[:upper:]' '[:lower:]' | tr -d ' \t\n'
}

set --
for f in "$srcdir"/man/bm-*.1; do
	[ -f "$f" ] && set -- "$@" "$f"
done
if [ "$#" -eq 0 ]; then
	echo "1..0 # SKIP no man/bm-*.1 under $srcdir"
	exit 0
fi

echo "1..$#"
i=0
for f in "$@"; do
	i=$((i + 1))
	page=${f##*/}
	prog=${page%.1}
	if [ ! -x "$builddir/$prog" ]; then
		echo "ok $i - $prog # SKIP $prog is not built yet"
		continue
	fi
	help=$("$builddir/$prog" -h 2>&1)
	rc=$?
	usage=$(printf '%s\n' "$help" | sed '/^[[:space:]]*$/q' |
	    sed '1s/^usage: //')
	synopsis=$("$MANDOC" -Tascii "$f" | sed "s/.$bs//g" |
	    awk '/^[A-Z]/ { on = ($0 == "SYNOPSIS"); next } on')
	if [ "$rc" -eq 0 ] && [ "$(printf '%s' "$usage" | squeeze)" = \
	    "$(printf '%s' "$synopsis" | squeeze)" ]; then
		echo "ok $i - $prog -h is the SYNOPSIS of man/$page"
	else
		echo "not ok $i - $prog -h is the SYNOPSIS of man/$page"
		printf '%s\n' "$prog -h (exit $rc):" "$usage" "man/$page:" \
		    "$synopsis" |
		    sed 's/^/# /'
	fi
done
exit 0
