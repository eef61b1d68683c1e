#!/usr/bin/env bats
# scripts/quickstart's tour (issue 10 item 21), run as a new user meets
# it, on the programs already built: its install and build steps are
# replaced by no-ops in a copy of the tree, so the test needs no network
# and no root.  The tour must end by saying how to put the programs on
# PATH, and leave no file behind in examples/.
load helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	unset BM_DB BM_CONFIG OPENAI_BASE_URL ANTHROPIC_BASE_URL OLLAMA_HOST
	mkdir -p top/scripts top/build
	cp "$BM_SRCDIR/scripts/quickstart" top/scripts/
	printf '#!/bin/sh\nexit 0\n' >top/scripts/deps
	printf '#!/bin/sh\nexit 0\n' >top/scripts/build
	chmod +x top/scripts/deps top/scripts/build
	cp -R "$BM_SRCDIR/examples" top/examples
	chmod -R u+w top/examples
	for p in bm-hash bm-ingest bm-exec bm-runs bm-stats bm-report \
	    bm-push; do
		ln -s "$BM_BUILDDIR/$p" "top/build/$p"
	done
}

@test "quickstart: the tour runs, says how to put bm on PATH, leaves examples/ as it was" {
	(cd top/examples && find . | sort) >before
	run --separate-stderr env PATH=/usr/bin:/bin top/scripts/quickstart
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ ${stderr_lines[0]} =~ ^bm-ingest:\ [0-9]+\ valid\ benchmarks\ \(([0-9]+)\ new,\ 0\ updated,\ 0\ unchanged\),\ 0\ invalid\;\ [0-9]+\ cases$ ]]
	[[ ${stderr_lines[1]} =~ ^bm-exec:\ run\ r-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$ ]]
	top=$(cd top && pwd)
	[ "${lines[${#lines[@]} - 2]}" = \
	    "    export PATH=$top/build:\$PATH" ]
	[ "${lines[${#lines[@]} - 1]}" = \
	    "quickstart: (or install them: make -C build install)" ]
	grep -q '^quickstart: [0-9][0-9]* results in build/quickstart/results.jsonl' \
	    <<<"$output"
	(cd top/examples && find . | sort) >after
	diff before after
	# The README's next command, with the PATH the tour printed.
	run --separate-stderr env PATH="$top/build:/usr/bin:/bin" \
	    bm-hash -t "$top/examples/benchmarks"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -ge 1 ]
	# A second run finds the catalog unchanged and says the same.
	run --separate-stderr env PATH=/usr/bin:/bin top/scripts/quickstart
	[ "$status" -eq 0 ]
	[[ ${stderr_lines[0]} =~ \(0\ new,\ 0\ updated,\ [0-9]+\ unchanged\) ]]
	(cd top/examples && find . | sort) >after
	diff before after
}
