#!/usr/bin/env bats
# The pipeline of DESIGN.md on the example suite, each stage reading what
# the one before wrote: bm-ingest | bm-exec | bm-stats | bm-report, then the
# run as bm-runs lists it, bm-stats --run from the database, and bm-push
# merging it into another bm database.
load helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	# examples/bm.yml names its agent ./agents/agent.sh: run from a copy.
	cp -R "$BM_SRCDIR/examples" ex
	chmod -R u+w ex
	cd ex
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG
}

# Counts of a results file: "n pass fail error".
counts() {
	jq -s -r '[length, (map(select(.status == "pass")) | length),
	    (map(select(.status == "fail")) | length),
	    (map(select(.status == "error")) | length)] | @tsv' "$1"
}

@test "pipeline: ingest | exec | stats | report on the example suite" {
	run --separate-stderr sh -c 'bm-ingest -q --profile light benchmarks |
	    bm-exec -q -j4 | tee ../results.jsonl | bm-stats |
	    tee ../stats.jsonl | bm-report -f md'
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	n=$(jq -s length ../results.jsonl)
	[ "$n" -gt 0 ]
	# One stat per model of the light profile, whose counts add up to
	# the results that went through.
	[ "$(jq -s -r 'map(.group.model) | sort | join(",")' ../stats.jsonl)" \
	    = "$(jq -s -r 'map(.model) | unique | join(",")' ../results.jsonl)" ]
	[ "$(jq -s -r '[(map(.n) | add), (map(.pass) | add), (map(.fail) | add),
	    (map(.error) | add)] | @tsv' ../stats.jsonl)" = "$(counts ../results.jsonl)" ]
	# The report has a row per model and a verdict.
	for m in $(jq -r '.group.model' ../stats.jsonl); do
		printf '%s\n' "$output" | grep -q "^| $m |"
	done
	printf '%s\n' "$output" | grep -q '^\*\*Verdict:\*\*'
}

@test "pipeline: the run as bm-runs lists it, and bm-stats --run equals the stream" {
	bm-ingest -q --profile light benchmarks | bm-exec -q -j4 >../results.jsonl
	run --separate-stderr bm-runs -f json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	[ "$(jq -r .status <<<"$output")" = finished ]
	[ "$(jq -r '.id' <<<"$output")" = "$(jq -s -r '.[0].run_id' ../results.jsonl)" ]
	[ "$(jq -r '[.cases, .pass, .fail, .error] | @tsv' <<<"$output")" \
	    = "$(counts ../results.jsonl)" ]
	# From the database, the same numbers as from the stream.
	bm-stats <../results.jsonl | jq -S 'del(.wall_ms, .throughput_rps)' >a
	run --separate-stderr bm-stats --run last
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	jq -S 'del(.wall_ms, .throughput_rps)' <<<"$output" >b
	diff a b
}

@test "pipeline: bm-push --to sqlite merges the run into another database" {
	bm-ingest -q --profile light benchmarks | bm-exec -q -j4 >../results.jsonl
	run --separate-stderr bm-push --to sqlite:../all.db --run last
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(sqlite3 ../all.db 'SELECT count(*) FROM results')" \
	    -eq "$(jq -s length ../results.jsonl)" ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" -eq 0 ]
	# The merged file answers bm-stats as the original does.
	bm-stats --run last | jq -S 'del(.wall_ms, .throughput_rps)' >a
	run --separate-stderr bm-stats --db ../all.db --run last
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	jq -S 'del(.wall_ms, .throughput_rps)' <<<"$output" >b
	diff a b
}
