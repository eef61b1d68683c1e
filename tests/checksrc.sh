#!/bin/sh
# checksrc: house rules a grep can check (STYLE.md), as TAP.
cd "${BM_SRCDIR:-.}" || exit 1
n=0
fail=0
check() {	# check "what" command...
	n=$((n + 1))
	what=$1
	shift
	out=$("$@" 2>&1)
	if [ -z "$out" ]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		printf '%s\n' "$out" | sed 's/^/# /'
		fail=1
	fi
}
src=$(ls cmd/*.c lib/*.c lib/*.h tests/unit/*.c tests/unit/*.h \
	tests/stub/*.c tests/fuzz/*.c tests/pgrest/*.c 2>/dev/null)

check "no unsafe or unchecked libc calls" \
	grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|gets|atoi|atol|atof|system)[[:space:]]*\(' $src
check "no line wider than 80 columns in cmd/ and lib/" \
	sh -c 'for f in cmd/*.c lib/*.[ch]; do [ -f "$f" ] || continue;
		expand "$f" | awk -v f="$f" "length > 80 { print f \":\" NR \": \" length \" columns\" }"; done'
check "only lib/http.[ch] includes curl" \
	sh -c 'grep -ln "#include <curl/" $0 "$@" | grep -v "^lib/http\.[ch]$"' $src
check "only lib/db.[ch] includes sqlite" \
	sh -c 'grep -ln "#include <sqlite3.h>" $0 "$@" | grep -v "^lib/db\.[ch]$"' $src
check "only lib/pg.[ch] includes libpq" \
	sh -c 'grep -ln "#include <libpq-fe.h>" $0 "$@" | grep -v "^lib/pg\.[ch]$"' $src
check "no umbrella header: lib headers include no more than they use" \
	grep -lE '#include "(bm|all|common)\.h"' $src
check "every program has a man page and a bats suite" \
	sh -c 'for f in cmd/bm-*.c; do p=$(basename "$f" .c);
		[ -f "man/$p.1" ] || echo "$p: no man/$p.1";
		[ -f "tests/$p.bats" ] || echo "$p: no tests/$p.bats"; done'
echo "1..$n"
exit 0
