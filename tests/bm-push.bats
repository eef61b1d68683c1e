#!/usr/bin/env bats
# bm-push against a real PostgreSQL 15 (initdb and pg_ctl in a temporary
# directory, on a free port on 127.0.0.1), the project's PostgREST-protocol
# server (tests/pgrest) in front of it, and other bm databases.
load helper
# Poll interval of the bounded waits (never a wait for time).
TICK=0.05

PGBIN=/usr/lib/postgresql/15/bin
PGREST="$BM_BUILDDIR/tests/pgrest/pgrest"
KEY=sk-PUSHKEY-5b1d77e0

# Run a PostgreSQL tool as a user that initdb accepts (never root).
pgrun() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	pgrun "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -t 60 -l "$PGDIR/log" \
	    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off" \
	    start >/dev/null
}

pg_stop() {
	pgrun "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -m fast stop >/dev/null
}

setup_file() {
	[ -x "$PGBIN/initdb" ] || return 0
	PGDIR=$(mktemp -d /tmp/bm-push-pg.XXXXXX)
	[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
	pgrun "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres \
	    >/dev/null
	# A free port: nothing answers there.
	for _ in $(seq 50); do
		PGPORT=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null || break
	done
	export PGDIR PGPORT
	pg_start
}

teardown_file() {
	[ -n "${PGDIR:-}" ] || return 0
	pg_stop || true
	rm -rf "$PGDIR"
}

setup() {
	[ -n "${PGDIR:-}" ] || skip "PostgreSQL 15 not installed"
	cd "$BATS_TEST_TMPDIR"
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG GITHUB_SHA BM_PUSH_KEY SUPABASE_SERVICE_ROLE_KEY
	# One database per test, with the schema.
	DB=t$BATS_SUITE_TEST_NUMBER
	URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB"
	psql -q "postgresql://postgres@127.0.0.1:$PGPORT/postgres" \
	    -c "CREATE DATABASE $DB" >/dev/null
	schema
}

teardown() {
	if [ -n "${REST_PID:-}" ]; then
		kill "$REST_PID" 2>/dev/null || true
		wait "$REST_PID" 2>/dev/null || true
	fi
}

schema() {
	psql -q -X -v ON_ERROR_STOP=1 "$URL" \
	    -f "$BM_SRCDIR/scripts/remote-schema.sql"
}

# SQL on the test's database, unaligned, tuples only.
q() {
	psql -X -At "$URL" -c "$1"
}

# run_rows ID N [MODEL...]: a finished run ID with N results per model
# (models default to m1), written with sqlite3 as bm-exec writes them.
run_rows() {
	local id=$1 n=$2
	shift 2
	[ $# -gt 0 ] || set -- m1
	bm-push --status >/dev/null || true	# creates the schema
	{
		echo "INSERT INTO runs (id, status, finished_at) VALUES"
		echo " ('$id', 'finished', strftime('%Y-%m-%dT%H:%M:%fZ'));"
		for m in "$@"; do
			echo "WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL"
			echo " SELECT k + 1 FROM i WHERE k + 1 < $n)"
			echo "INSERT INTO results (run_id, case_id, step, model,"
			echo " status, latency_ms, output, record)"
			echo " SELECT '$id', printf('%s-c%05d', '$m', k), 0, '$m',"
			echo " CASE WHEN k % 4 THEN 'pass' ELSE 'fail' END,"
			echo " 100 + k, 'answer ' || k,"
			echo " json_object('type', 'result', 'run_id', '$id',"
			echo "  'case_id', printf('%s-c%05d', '$m', k), 'model', '$m',"
			echo "  'status', CASE WHEN k % 4 THEN 'pass' ELSE"
			echo "  'fail' END, 'output', 'answer ' || k) FROM i;"
		done
	} | sqlite3 "$BM_DB"
}

# A run made by bm-ingest | bm-exec against the echo: provider.
echo_run() {
	bm-ingest -q "$BM_SRCDIR/examples/benchmarks" -m echo:a -m echo:b \
	    "$@" | bm-exec -q -j 4 >/dev/null 2>&1 || true
}

@test "bm-push --version, -h equals the man page, bad options" {
	run --separate-stderr bm-push --version
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "bm-push 0.1.0" ]
	run --separate-stderr bm-push -h
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	if command -v mandoc >/dev/null; then
		syn=$(mandoc -Tascii "$BM_SRCDIR/man/bm-push.1" | col -b |
		    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d')
		use=$(sed -n '1,/^$/p' <<<"$output" | sed 's/^usage: //')
		[ "$(tr -d '[:space:]' <<<"$syn" | tr A-Z a-z)" = \
		    "$(tr -d '[:space:]' <<<"$use" | tr A-Z a-z)" ]
	fi
	run --separate-stderr bm-push
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-push: --to URL is needed" ]
	run --separate-stderr bm-push --to ftp://x
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-push: ftp://x: not a postgresql://, http(s):// or sqlite: URL" ]
	run --separate-stderr bm-push --to https://example.com/api
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-push: https://example.com/api: not a PostgREST base (.../rest/v1) or a Supabase project URL" ]
	run --separate-stderr bm-push --to "$URL" --batch 0
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-push: --batch: 0 is out of range (1 to 1000000)" ]
	run --separate-stderr bm-push --to "$URL" --snapshot
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-push: --snapshot needs --run or --all" ]
	run --separate-stderr bm-push --to sqlite:x.db --run last --snapshot
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-push: --snapshot: sqlite:x.db keeps no snapshots" ]
	run --separate-stderr bm-push --to https://abc.supabase.co --run last
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-push: https://abc.supabase.co: no key: set BM_PUSH_KEY or SUPABASE_SERVICE_ROLE_KEY" ]
}

@test "remote-schema.sql applies twice, cleanly" {
	run --separate-stderr schema
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(q 'SELECT bm_schema_version()')" = 1 ]
	[ "$(q "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bm\_%' AND rowsecurity")" = 6 ]
}

@test "a run pushed twice: no duplicates, the second push writes nothing" {
	echo_run
	run --separate-stderr bm-push --to "$URL" --run last
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[70,70]' ]
	[ "$(jq -c 'select(.table=="bm_benchmarks") | [.rows,.written]' <<<"$output")" = '[15,15]' ]
	[ "$(jq -c 'select(.table=="bm_runs") | [.rows,.written]' <<<"$output")" = '[1,1]' ]
	[ "$(q 'SELECT count(*), count(DISTINCT (run_id, case_id, step)) FROM bm_results')" = '70|70' ]
	# Every field of the local row, and the record as jsonb.
	id=$(sqlite3 "$BM_DB" 'SELECT id FROM runs')
	[ "$(q "SELECT count(*) FROM bm_results WHERE run_id = '$id' AND record->>'run_id' = run_id AND model IN ('echo:a', 'echo:b')")" = 70 ]
	[ "$(sqlite3 "$BM_DB" "SELECT case_id, model, status FROM results" | LC_ALL=C sort | md5sum)" = \
	    "$(q "SELECT case_id, model, status FROM bm_results" | LC_ALL=C sort | md5sum)" ]
	[ "$(q 'SELECT count(*) FROM bm_benchmark_versions')" = 15 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" "SELECT target, run_id, snapshot_version IS NULL FROM pushes")" = "$URL|$id|1" ]
	before=$(q "SELECT md5(string_agg(xmin::text, ',' ORDER BY case_id, model)) FROM bm_results")
	# --resend: the results are sent again (unchanged, they are not
	# otherwise: see "an unchanged run ..." below).
	run --separate-stderr bm-push --to "$URL" --run "$id" --resend
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -sc 'map(.written) | add' <<<"$output")" = 0 ]
	[ "$(jq -c 'select(.table=="bm_results") | .rows' <<<"$output")" = 70 ]
	[ "$(q "SELECT md5(string_agg(xmin::text, ',' ORDER BY case_id, model)) FROM bm_results")" = "$before" ]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 70 ]
	# A changed row is written again, and only it.
	sqlite3 "$BM_DB" "UPDATE results SET output = 'changed' WHERE rowid = (SELECT min(rowid) FROM results)"
	run --separate-stderr bm-push --to "$URL" --run "$id"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[70,1]' ]
	[ "$(q "SELECT count(*) FROM bm_results WHERE output = 'changed'")" = 1 ]
}

@test "records on stdin: results, stats and runs; other types ignored" {
	run_rows r-in 3
	sqlite3 "$BM_DB" 'SELECT record FROM results' >in.jsonl
	echo '{"type":"stat","run_id":"r-in","group":{"model":"m1"},"n":3,"pass_rate":0.5}' >>in.jsonl
	echo '{"type":"case","case_id":"x"}' >>in.jsonl
	rm -f "$BM_DB"
	run --separate-stderr bm-push --to "$URL" <in.jsonl
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c '[.table,.rows,.written]' <<<"$output")" = '["bm_results",3,3]
["bm_stats",1,1]' ]
	[ "$(q "SELECT count(*) FROM bm_results WHERE run_id = 'r-in'")" = 3 ]
	[ "$(q "SELECT group_key, record->'pass_rate' FROM bm_stats")" = '{"model": "m1"}|0.5' ]
	echo 'not json' | {
		run --separate-stderr bm-push --to "$URL"
		[ "$status" -eq 1 ]
		[ "$stderr" = "bm-push: <stdin>:1: expected a JSON object" ] ||
		    [[ "$stderr" == "bm-push: <stdin>:1: "* ]]
	}
}

@test "remote down: the outbox keeps everything, exit 1; up again: sent" {
	run_rows r-down 10
	pg_stop
	run --separate-stderr bm-push --to "$URL" --run r-down --retries 1 --backoff 0.01
	pg_start
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "bm-push: $URL: 11 records wait in the outbox: bm_runs: connection to server at \"127.0.0.1\", port $PGPORT failed: Connection refused" ]
	# The run's row, and one entry for its 10 results.
	[ "$(sqlite3 "$BM_DB" "SELECT kind, key, attempts FROM push_outbox ORDER BY abs(id)")" = 'run|["r-down"]|1
results|["r-down"]|0' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM pushes')" = 0 ]
	run --separate-stderr bm-push --status
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[ "$(jq -c '[.type,.target,.pending,.failed,.attempts,.kinds]' <<<"$output")" = "[\"outbox\",\"$URL\",11,1,1,{\"result\":10,\"run\":1}]" ]
	[[ "$(jq -r .last_error <<<"$output")" == "bm_runs: connection to server at"* ]]
	# Up again: the failed batch first, then the rest; nothing left.
	run --separate-stderr bm-push --to "$URL" -v </dev/null
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.table,.rows,.written]' <<<"$output")" = '["bm_runs",1,1]
["bm_results",10,10]' ]
	[ "$(grep -n 'bm_runs: 1 records sent\|bm_results: 10 records sent' <<<"$stderr" | cut -c1)" = '1
2' ] || [[ "$stderr" == *"bm_runs: 1 records sent"*"bm_results: 10 records sent"* ]]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 10 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT run_id FROM pushes')" = r-down ]
	run --separate-stderr bm-push --status
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "the outbox holds keys: a result is sent as it is when sent, one deleted is not" {
	run_rows r-keys 4
	pg_stop
	run --separate-stderr bm-push --to "$URL" --run r-keys --retries 0
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-push: $URL: 5 records wait in the outbox: bm_runs: connection to server at \"127.0.0.1\", port $PGPORT failed: Connection refused" ]
	echo '{"type":"result","run_id":"r-in","case_id":"c1","model":"m1","status":"pass","output":"from stdin"}' | {
		run --separate-stderr bm-push --to "$URL" --retries 0
		[ "$status" -eq 1 ]
		[ "$stderr" = "bm-push: $URL: 6 records wait in the outbox: bm_runs: connection to server at \"127.0.0.1\", port $PGPORT failed: Connection refused" ]
	}
	pg_start
	# A run's results are one entry, its cursor at the start (they are
	# read from the results table when sent); the run row and a line
	# from stdin keep their record.
	[ "$(sqlite3 "$BM_DB" "SELECT kind, key, CASE kind WHEN 'results' THEN record ELSE record <> '' END FROM push_outbox ORDER BY abs(id)")" = 'run|["r-keys"]|1
results|["r-keys"]|{"run_id":"r-keys"}
result|["r-in","c1",0]|1' ]
	sqlite3 "$BM_DB" "UPDATE results SET output = 'changed' WHERE case_id = 'm1-c00001'; DELETE FROM results WHERE case_id = 'm1-c00002'"
	run --separate-stderr bm-push --to "$URL"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c '[.table,.rows,.written]' <<<"$output")" = '["bm_runs",1,1]
["bm_results",4,4]' ]
	[ "$(q "SELECT case_id, output FROM bm_results ORDER BY 1")" = 'c1|from stdin
m1-c00000|answer 0
m1-c00001|changed
m1-c00003|answer 3' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT run_id FROM pushes ORDER BY 1')" = 'r-in
r-keys' ]
}

@test "a missing remote schema is named, with what to run" {
	run_rows r-s 2
	q 'DROP FUNCTION bm_schema_version()'
	run --separate-stderr bm-push --to "$URL" --run r-s
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "bm-push: $URL: 3 records wait in the outbox: bm_runs: no bm schema there: run psql URL -f scripts/remote-schema.sql" ]
}

@test "kill -9 in the middle of a push, then push again: every row once" {
	run_rows r-kill 20000
	bm-push --to "$URL" --run r-kill --batch 200 >out 2>err &
	pid=$!
	for _ in $(seq 600); do
		n=$(q 'SELECT count(*) FROM bm_results')
		[ "$n" -gt 0 ] && break; sleep "$TICK"
	done
	kill -9 "$pid"
	wait "$pid" || true
	sent=$(q 'SELECT count(*) FROM bm_results')
	left=$(bm-push --status | jq '.kinds.result // 0')
	[ "$sent" -gt 0 ]
	# What the remote has and what waits cover every result; at most
	# the batch in flight (committed there, not yet confirmed here) is
	# in both.
	[ $((sent + left)) -ge 20000 ]
	[ $((sent + left)) -le 20200 ]
	run --separate-stderr bm-push --to "$URL" </dev/null
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# Resumed from the cursor: only the rows after it were sent.
	[ "$(jq -sc 'map(select(.table=="bm_results") | .rows) | add // 0' <<<"$output")" = "$left" ]
	[ "$(q 'SELECT count(*), count(DISTINCT case_id) FROM bm_results')" = '20000|20000' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT run_id FROM pushes')" = r-kill ]
}

@test "snapshots: versions increase per model and environment, one current" {
	run_rows r-1 4 m1 m2
	sqlite3 "$BM_DB" "UPDATE runs SET started_at = '2026-01-01T00:00:00Z'"
	run_rows r-2 8 m1
	# r-2 regresses: 4 of 8 pass where r-1 had 3 of 4.
	sqlite3 "$BM_DB" "UPDATE results SET status = 'fail' WHERE run_id = 'r-2' AND case_id IN ('m1-c00001', 'm1-c00002')"
	GITHUB_SHA=abc123 run --separate-stderr bm-push --to "$URL" --run r-1 --snapshot --env ci
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c 'select(.type=="snapshot") | [.model,.environment,.commit_sha,.snapshot_version]' <<<"$output")" = '["m1","ci","abc123",1]
["m2","ci","abc123",1]' ]
	run --separate-stderr bm-push --to "$URL" --run r-2 --snapshot --env ci --commit-sha def456
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c 'select(.type=="snapshot") | [.model,.snapshot_version]' <<<"$output")" = '["m1",2]' ]
	# Pushed again: the same version, no new snapshot.
	run --separate-stderr bm-push --to "$URL" --run r-2 --snapshot --env ci
	[ "$stderr" = "" ]
	[ "$(jq -c 'select(.type=="snapshot") | .snapshot_version' <<<"$output")" = 2 ]
	run --separate-stderr bm-push --to "$URL" --run r-2 --snapshot --env prod
	[ "$stderr" = "" ]
	[ "$(jq -c 'select(.type=="snapshot") | .snapshot_version' <<<"$output")" = 1 ]
	[ "$(q "SELECT model, environment, snapshot_version, is_current, commit_sha, run_id, metrics->'pass_rate' FROM bm_snapshots ORDER BY model, environment, snapshot_version")" = 'm1|ci|1|f|abc123|r-1|0.75
m1|ci|2|t|def456|r-2|0.5
m1|prod|1|t||r-2|0.5
m2|ci|1|t|abc123|r-1|0.75' ]
	[ "$(q "SELECT model, environment, snapshot_version, previous_pass_rate, pass_rate FROM bm_regressions")" = 'm1|ci|2|0.75|0.5' ]
	[ "$(q "SELECT model, environment, snapshot_version FROM bm_current_snapshots ORDER BY 1, 2")" = 'm1|ci|2
m1|prod|1
m2|ci|1' ]
	[ "$(q "SELECT model, run_id, pass, fail, latency_p95_ms FROM bm_run_model_stats ORDER BY 1, 2")" = 'm1|r-1|3|1|102.85
m1|r-2|4|4|106.65
m2|r-1|3|1|102.85' ]
	[ "$(sqlite3 "$BM_DB" "SELECT run_id, snapshot_version FROM pushes ORDER BY 1, 2")" = 'r-1|1
r-2|1
r-2|2' ]
}

@test "row level security: anon reads and cannot write" {
	run_rows r-rls 2
	bm-push -q --to "$URL" --run r-rls --snapshot >/dev/null
	run --separate-stderr psql -q -X -At "$URL" -c 'SET ROLE anon' -c 'SELECT count(*) FROM bm_results' -c 'SELECT count(*) FROM bm_current_snapshots'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = $'2\n1' ]
	run --separate-stderr psql -q -X -At "$URL" -c 'SET ROLE anon' -c "INSERT INTO bm_runs (id) VALUES ('x')"
	[ "$status" -ne 0 ]
	[ "$stderr" = "ERROR:  permission denied for table bm_runs" ]
	run --separate-stderr psql -q -X -At "$URL" -c 'SET ROLE anon' -c "SELECT bm_snapshot('{}')"
	[ "$status" -ne 0 ]
	[ "$stderr" = "ERROR:  permission denied for function bm_snapshot" ]
	run --separate-stderr psql -q -X -At "$URL" -c 'SET ROLE service_role' -c "UPDATE bm_runs SET label = 'l'"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
}

@test "--all pushes every run not yet pushed; --dry-run sends nothing" {
	run_rows r-a 3
	run_rows r-b 2
	run --separate-stderr bm-push --to "$URL" --all --dry-run
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c '[.table,.rows,.dry_run]' <<<"$output")" = '["bm_runs",2,true]
["bm_results",5,true]' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(q 'SELECT count(*) FROM bm_runs')" = 0 ]
	run --separate-stderr bm-push --to "$URL" --all
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 5 ]
	run_rows r-c 1
	run --separate-stderr bm-push --to "$URL" --all
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.table,.rows]' <<<"$output")" = '["bm_runs",1]
["bm_results",1]' ]
}

@test "a password in the URL is never shown or stored" {
	run_rows r-pw 1
	pw="postgresql://postgres:hunter2secret@127.0.0.1:$PGPORT/$DB?sslmode=disable&password=other2secret"
	run --separate-stderr bm-push --to "$pw" --run r-pw -v
	[ "$status" -eq 0 ]
	[[ "$output$stderr" != *secret* ]]
	[ "$(jq -r .target <<<"${output%%$'\n'*}")" = "postgresql://postgres@127.0.0.1:$PGPORT/$DB?sslmode=disable" ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM pushes WHERE target LIKE "%secret%"')" = 0 ]
}

@test "shards merged into one sqlite file: no duplicates, counts add up" {
	for k in 1 2; do
		BM_DB=shard$k.db bm-ingest -q "$BM_SRCDIR/examples/benchmarks" \
		    -m echo:a --shard $k/2 | BM_DB=shard$k.db bm-exec -q \
		    --run-id r-shards >/dev/null 2>&1 || true
	done
	a=$(sqlite3 shard1.db 'SELECT count(*) FROM results')
	b=$(sqlite3 shard2.db 'SELECT count(*) FROM results')
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ]
	for k in 1 2; do
		run --separate-stderr env BM_DB=shard$k.db bm-push --to sqlite:all.db --run r-shards
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
	done
	[ "$(sqlite3 all.db 'SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT case_id, step FROM results)) FROM results')" = "$((a + b))|$((a + b))" ]
	[ "$(sqlite3 all.db 'SELECT results, pass + fail + error + cancelled FROM run_models')" = \
	    "$((a + b))|$((a + b))" ]
	[ "$(sqlite3 all.db 'SELECT sum(pass) FROM run_models')" = \
	    "$(( $(sqlite3 shard1.db 'SELECT sum(pass) FROM run_models') + $(sqlite3 shard2.db 'SELECT sum(pass) FROM run_models') ))" ]
	[ "$(sqlite3 all.db 'SELECT count(*) FROM benchmarks')" -gt 0 ]
	# Pushed again: the results are there already.  (The shards' runs
	# rows and catalogs differ, as each shard wrote its own.)
	run --separate-stderr env BM_DB=shard2.db bm-push --to sqlite:all.db --run r-shards
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.written) | add' <<<"$output")" = 0 ]
	run --separate-stderr env BM_DB=shard1.db bm-push --to sqlite:all.db --run r-shards --resend
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c 'select(.table == "results") | .written' <<<"$output")" = 0 ]
	[ "$(sqlite3 all.db 'SELECT count(*) FROM results')" = $((a + b)) ]
}

# Start tests/pgrest in front of the test's database (extra arguments:
# faults); sets REST, the base URL, and the key bm-push sends.
rest() {
	[ -x "$PGREST" ] || skip "pgrest not built"
	PGREST_KEY=$KEY PGREST_ANON_KEY=anon-key "$PGREST" -d "$URL" \
	    -P port -l rest.log "$@" &
	REST_PID=$!
	for _ in $(seq 200); do [ -s port ] && break; sleep "$TICK"; done
	REST="http://127.0.0.1:$(cat port)/rest/v1"
	export BM_PUSH_KEY=$KEY
}

@test "PostgREST: batched upserts with the headers, the rows land, the key is never shown" {
	run_rows r-rest 1200
	rest
	run --separate-stderr bm-push --to "$REST" --run r-rest --snapshot -v
	[ "$status" -eq 0 ]
	[[ "$output$stderr" != *"$KEY"* ]]
	! grep -q "$KEY" rest.log
	[ "$(jq -c '[.table,.rows]' <<<"$(grep '"push"' <<<"$output")")" = '["bm_runs",1]
["bm_results",1200]
["bm_snapshots",1]' ]
	[ "$(jq -c 'select(.type=="snapshot") | [.model,.snapshot_version]' <<<"$output")" = '["m1",1]' ]
	[ "$(jq -c '[.method,.path,.query,.status]' rest.log)" = '["GET","/rest/v1/rpc/bm_schema_version","",200]
["POST","/rest/v1/bm_runs","on_conflict=id",201]
["POST","/rest/v1/bm_results","on_conflict=run_id,case_id,step",201]
["POST","/rest/v1/bm_results","on_conflict=run_id,case_id,step",201]
["POST","/rest/v1/rpc/bm_snapshot","",200]' ]
	[ "$(jq -sc 'map(select(.path=="/rest/v1/bm_results") | .body | fromjson | length)' rest.log)" = '[1000,200]' ]
	[ "$(jq -c 'select(.method=="POST") | .headers | [.apikey,.authorization,.prefer,."content-type"]' rest.log | sort -u)" = \
	    '["***","***","resolution=merge-duplicates,return=minimal","application/json"]' ]
	[ "$(jq -c 'select(.path=="/rest/v1/rpc/bm_snapshot") | .body | fromjson | .p | [.run_id,.model,.metrics.pass,.metrics.fail]' rest.log)" = '["r-rest","m1",900,300]' ]
	[ "$(q 'SELECT count(*), count(DISTINCT case_id), sum(latency_ms) FROM bm_results')" = '1200|1200|839400' ]
	[ "$(q "SELECT record->>'output' FROM bm_results WHERE case_id = 'm1-c00007'")" = 'answer 7' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" "SELECT target, snapshot_version FROM pushes")" = "$REST|1" ]
	# -v traces each request, without its headers.
	[[ "$stderr" == *"bm-push: POST $REST/bm_results?on_conflict=run_id,case_id,step: 1000 rows, "*" bytes: HTTP 201"* ]]
}

@test "PostgREST: a 413 halves the batch, 5xx and 429 are retried (Retry-After)" {
	run_rows r-413 40
	rest -m 3000 -F 503:2
	run --separate-stderr bm-push --to "$REST" --run r-413 --backoff 0.01
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# Halved until a request fits: every row in a 201, none twice.
	[ "$(jq -sc 'map(select(.path=="/rest/v1/bm_results" and .status==201) | .body | fromjson | .[].case_id) | [length, (unique | length)]' rest.log)" = '[40,40]' ]
	[ "$(jq -sc 'map(select(.path=="/rest/v1/bm_results") | .body | length) | max' rest.log)" -gt 3000 ]
	[ "$(jq -sc 'map(select(.status==201) | .body | length) | max' rest.log)" -le 3000 ]
	[ "$(jq -sc 'map(.status) | map(select(. == 503)) | length' rest.log)" = 2 ]
	[ "$(jq -sc 'map(select(.path=="/rest/v1/bm_results") | .status) | map(select(. == 413)) | length' rest.log)" -ge 1 ]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 40 ]
	kill "$REST_PID"; wait "$REST_PID" || true
	rm -f port rest.log
	run_rows r-429 1
	rest -F 429:1
	run --separate-stderr bm-push --to "$REST" --run r-429
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.path,.status]' rest.log)" = '["/rest/v1/rpc/bm_schema_version",200]
["/rest/v1/bm_runs",429]
["/rest/v1/bm_runs",201]
["/rest/v1/bm_results",201]' ]
	[ "$(jq -s '.[2].t_ms - .[1].t_ms >= 1000' rest.log)" = true ]
}

@test "PostgREST: a 4xx is final, names the table and the server's message" {
	run_rows r-anon 2
	rest
	BM_PUSH_KEY=anon-key run --separate-stderr bm-push --to "$REST" --run r-anon
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "bm-push: $REST: 3 records wait in the outbox: bm_runs: HTTP 401: permission denied for table bm_runs" ]
	[ "$(jq -c '[.path,.status]' rest.log)" = '["/rest/v1/rpc/bm_schema_version",200]
["/rest/v1/bm_runs",401]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT kind, attempts, last_error FROM push_outbox WHERE attempts > 0")" = 'run|1|bm_runs: HTTP 401: permission denied for table bm_runs' ]
	q 'DROP FUNCTION bm_schema_version()'
	run --separate-stderr bm-push --to "$REST" </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-push: $REST: 3 records wait in the outbox: bm_runs: no bm schema there: run scripts/remote-schema.sql in its SQL editor" ]
	schema
	run --separate-stderr bm-push --to "$REST" </dev/null
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 2 ]
}

# A trigger on the test's database (URL, or $1) that refuses the result
# of case $2: the batch holding it fails.
refuse() {
	psql -q -X "$1" -c "CREATE FUNCTION refuse() RETURNS trigger
	    LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'refused %',
	    NEW.case_id; END \$\$" -c "CREATE TRIGGER refuse BEFORE INSERT
	    ON bm_results FOR EACH ROW WHEN (NEW.case_id = '$2')
	    EXECUTE FUNCTION refuse()" >/dev/null
}

@test "PostgREST: a run's results stopped mid-way resume from their cursor; each row once, one deleted meanwhile not sent" {
	run_rows r-mid 1000
	rest
	refuse "$URL" m1-c00450
	run --separate-stderr bm-push --to "$REST" --run r-mid --batch 100
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-push: $REST: 600 records wait in the outbox: bm_results: HTTP 400: refused m1-c00450" ]
	[ "$(jq -c '[.table,.rows]' <<<"$output")" = '["bm_runs",1]
["bm_results",400]' ]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 400 ]
	# One entry, its cursor at the last row confirmed, the attempt kept.
	[ "$(sqlite3 "$BM_DB" 'SELECT kind, key, record, attempts FROM push_outbox')" = 'results|["r-mid"]|{"run_id":"r-mid","after":["m1-c00399",0]}|1' ]
	run --separate-stderr bm-push --status
	[ "$status" -eq 1 ]
	[ "$(jq -c '[.pending,.failed,.attempts,.kinds,.last_error]' <<<"$output")" = '[600,600,1,{"result":600},"bm_results: HTTP 400: refused m1-c00450"]' ]
	# Meanwhile a row after the cursor is deleted: it is not sent.
	sqlite3 "$BM_DB" "DELETE FROM results WHERE case_id = 'm1-c00700'"
	q 'DROP TRIGGER refuse ON bm_results' >/dev/null
	n=$(wc -l <rest.log)
	run --separate-stderr bm-push --to "$REST" --batch 100 </dev/null
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c '[.table,.rows]' <<<"$output")" = '["bm_results",599]' ]
	# This push sent the rows after the cursor, each once.
	[ "$(tail -n +$((n + 1)) rest.log | jq -sc 'map(select(.path=="/rest/v1/bm_results") | .body | fromjson | .[].case_id) | [length, (unique | length), min, max]')" = '[599,599,"m1-c00400","m1-c00999"]' ]
	[ "$(q 'SELECT count(*), count(DISTINCT case_id) FROM bm_results')" = '999|999' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT run_id FROM pushes')" = r-mid ]
}

@test "two targets: each its own cursor; one that fails mid-way keeps its rows, the other completes" {
	run_rows r-both 500
	URL2=${URL}b
	psql -q "postgresql://postgres@127.0.0.1:$PGPORT/postgres" \
	    -c "CREATE DATABASE ${DB}b" >/dev/null
	psql -q -X -v ON_ERROR_STOP=1 "$URL2" \
	    -f "$BM_SRCDIR/scripts/remote-schema.sql"
	refuse "$URL2" m1-c00250
	run --separate-stderr bm-push --to "$URL2" --run r-both --batch 100
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-push: $URL2: 300 records wait in the outbox: bm_results: refused m1-c00250" ]
	run --separate-stderr bm-push --to "$URL" --run r-both --batch 100
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[500,500]' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT target, kind, record FROM push_outbox')" = "$URL2|results|{\"run_id\":\"r-both\",\"after\":[\"m1-c00199\",0]}" ]
	[ "$(sqlite3 "$BM_DB" 'SELECT target FROM pushes')" = "$URL" ]
	psql -q -X "$URL2" -c 'DROP TRIGGER refuse ON bm_results' >/dev/null
	run --separate-stderr bm-push --to "$URL2" </dev/null
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c '[.table,.rows,.written]' <<<"$output")" = '["bm_results",300,300]' ]
	[ "$(psql -X -At "$URL2" -c 'SELECT count(*), count(DISTINCT case_id) FROM bm_results')" = '500|500' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" 'SELECT target FROM pushes ORDER BY 1')" = "$URL
$URL2" ]
}

# The remote's results, every column, in key order (for comparisons).
remote_rows() {
	q "SELECT md5(string_agg(r::text, E'\\n' ORDER BY run_id, case_id, step)) FROM bm_results r"
}

@test "a run the remote has none of is copied straight in; one it has rows of is upserted" {
	run_rows r-new 6
	run --separate-stderr bm-push --to "$URL" --run r-new -v -v
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"bm_results: 6 rows copied (new runs)"* ]]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[6,6]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT case_id, output, status FROM results ORDER BY 1")" = \
	    "$(q "SELECT case_id, output, status FROM bm_results ORDER BY 1")" ]
	[ "$(sqlite3 "$BM_DB" "SELECT run_id FROM pushes")" = r-new ]
	copied=$(remote_rows)
	# The remote loses two rows and one is edited there: pushed again,
	# the run has rows there, so the upsert writes those three only,
	# the same rows as the COPY wrote (--resend: the repair of a remote
	# that lost rows).
	q "DELETE FROM bm_results WHERE case_id IN ('m1-c00001', 'm1-c00004')" >/dev/null
	q "UPDATE bm_results SET output = 'edited' WHERE case_id = 'm1-c00002'" >/dev/null
	run --separate-stderr bm-push --to "$URL" --run r-new -v -v --resend
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"rows copied"* ]]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[6,3]' ]
	[ "$(remote_rows)" = "$copied" ]
	# Records on stdin take the same path: a new run is copied.
	sqlite3 "$BM_DB" "SELECT replace(record, 'r-new', 'r-stdin') FROM results" >in.jsonl
	run --separate-stderr bm-push --to "$URL" -v -v <in.jsonl
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"bm_results: 6 rows copied (new runs)"* ]]
	[ "$(q "SELECT count(*) FROM bm_results WHERE run_id = 'r-stdin' AND record->>'run_id' = 'r-stdin'")" = 6 ]
}

@test "a row of a new run that lands meanwhile: the COPY is rolled back, the batch upserted" {
	run_rows r-race 4
	# Another pusher, as a trigger: when the first row of the run lands,
	# a different version of the fourth one lands too (in the next
	# batch, which bm-push believes new).
	q "CREATE FUNCTION race() RETURNS trigger LANGUAGE plpgsql AS \$\$
	    BEGIN INSERT INTO bm_results (run_id, case_id, model, status,
	    record) VALUES (NEW.run_id, 'm1-c00003', 'other', 'error', '{}')
	    ON CONFLICT DO NOTHING; RETURN NULL; END \$\$" >/dev/null
	q "CREATE TRIGGER race AFTER INSERT ON bm_results FOR EACH ROW
	    WHEN (NEW.case_id = 'm1-c00000') EXECUTE FUNCTION race()" >/dev/null
	run --separate-stderr bm-push --to "$URL" --run r-race --batch 2 -v
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"bm_results: duplicate key value violates unique constraint \"bm_results_pkey\"; the batch goes through the upsert"* ]]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[4,4]' ]
	[ "$(q "SELECT case_id, model, status, output FROM bm_results ORDER BY 1")" = 'm1-c00000|m1|fail|answer 0
m1-c00001|m1|pass|answer 1
m1-c00002|m1|pass|answer 2
m1-c00003|m1|pass|answer 3' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 "$BM_DB" "SELECT run_id FROM pushes")" = r-race ]
}

@test "two pushes of the same new run at once: every row once, both succeed" {
	run_rows r-two 3000
	sqlite3 "$BM_DB" "VACUUM INTO 'other.db'"
	bm-push --to "$URL" --run r-two --batch 100 >out1 2>err1 &
	p1=$!
	BM_DB=other.db bm-push --to "$URL" --run r-two --batch 100 >out2 2>err2 &
	p2=$!
	s1=0 s2=0
	wait "$p1" || s1=$?
	wait "$p2" || s2=$?
	[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ]
	[ ! -s err1 ] && [ ! -s err2 ]
	[ "$(jq -c 'select(.table=="bm_results") | .rows' out1 out2)" = '3000
3000' ]
	[ "$(q 'SELECT count(*), count(DISTINCT case_id) FROM bm_results')" = '3000|3000' ]
	[ "$(sqlite3 "$BM_DB" "SELECT case_id, output, status FROM results ORDER BY 1" | md5sum)" = \
	    "$(q "SELECT case_id, output, status FROM bm_results ORDER BY 1" | md5sum)" ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	[ "$(sqlite3 other.db 'SELECT count(*) FROM push_outbox')" = 0 ]
}

@test "an unchanged run is not sent again; a changed one is; --resend repairs a remote that lost rows" {
	run_rows r-same 5
	run --separate-stderr bm-push --to "$URL" --run r-same
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[5,5]' ]
	# Confirmed, unchanged: the results are not read or sent again.
	run --separate-stderr bm-push --to "$URL" --run r-same -v
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-push: run r-same: results unchanged since $URL confirmed them: not sent again (--resend sends them)
bm-push: run r-same: 1 records queued
bm-push: $URL: bm_runs: 1 records sent, 0 rows written" ]
	[ "$(jq -c '[.table,.rows,.written]' <<<"$output")" = '["bm_runs",1,0]' ]
	[ "$(sqlite3 "$BM_DB" 'SELECT count(*) FROM push_outbox')" = 0 ]
	# The remote loses a row behind bm's back: --resend repairs it.
	q "DELETE FROM bm_results WHERE case_id = 'm1-c00003'" >/dev/null
	run --separate-stderr bm-push --to "$URL" --run r-same
	[ "$status" -eq 0 ]
	[ "$(q 'SELECT count(*) FROM bm_results')" = 4 ]
	run --separate-stderr bm-push --to "$URL" --run r-same --resend
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[5,1]' ]
	[ "$(q "SELECT count(*) FROM bm_results WHERE case_id = 'm1-c00003'")" = 1 ]
	# Changed locally (a row edited, one added): sent whole again, and
	# only those two written.
	sqlite3 "$BM_DB" "UPDATE results SET output = 'edited' WHERE case_id = 'm1-c00001';
	    INSERT INTO results (run_id, case_id, model, status, record)
	    VALUES ('r-same', 'm1-c00009', 'm1', 'pass', '{}')"
	run --separate-stderr bm-push --to "$URL" --run r-same
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[6,2]' ]
	[ "$(q "SELECT count(*) FROM bm_results WHERE output = 'edited' OR case_id = 'm1-c00009'")" = 2 ]
	# A push that failed confirmed nothing: the next one sends the run.
	sqlite3 "$BM_DB" "DELETE FROM results WHERE case_id = 'm1-c00009'"
	sqlite3 "$BM_DB" "UPDATE results SET output = 'again' WHERE case_id = 'm1-c00002'"
	q 'ALTER TABLE bm_results RENAME TO bm_results_away' >/dev/null
	run --separate-stderr bm-push --to "$URL" --run r-same --retries 0
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-push: $URL: 6 records wait in the outbox: bm_runs: relation \"bm_results\" does not exist" ]
	q 'ALTER TABLE bm_results_away RENAME TO bm_results' >/dev/null
	run --separate-stderr bm-push --to "$URL" --run r-same
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[5,1]' ]
	[ "$(q "SELECT count(*) FROM bm_results WHERE output = 'again'")" = 1 ]
	run --separate-stderr bm-push --to "$URL" --run r-same
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.table=="bm_results")' <<<"$output")" = '' ]
	# --all: runs pushed already are left; with --resend, taken again.
	run --separate-stderr bm-push --to "$URL" --all
	[ "$status" -eq 0 ]
	[ "$output" = '' ]
	run --separate-stderr bm-push --to "$URL" --all --resend
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.table=="bm_results") | [.rows,.written]' <<<"$output")" = '[5,0]' ]
}

@test "PostgREST: every column's value is sent as stored: escaped strings, numbers, nulls, the record as it is" {
	run_rows r-json 2
	sqlite3 "$BM_DB" "UPDATE results SET output = 'say \"hi\"' || char(9) || 'tab' || char(10) || 'line \\ é ✓' || char(1),
	    latency_ms = 12.5, ttft_ms = NULL, prompt_tokens = 7, cost_usd = 1e-07, score = 1,
	    error_class = 'x' || char(13) WHERE case_id = 'm1-c00001'"
	rest
	run --separate-stderr bm-push --to "$REST" --run r-json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# The body's object is the local row, column by column, as SQLite's
	# own JSON functions render it.
	[ "$(jq -cS 'select(.path=="/rest/v1/bm_results") | .body | fromjson | .[] | select(.case_id=="m1-c00001")' rest.log)" = \
	    "$(sqlite3 "$BM_DB" "SELECT json_object('run_id', run_id, 'case_id', case_id, 'step', step, 'benchmark_id', benchmark_id, 'model', model, 'variant', variant, 'trial', trial, 'repeat', repeat, 'status', status, 'content_sha256', content_sha256, 'error_class', error_class, 'latency_ms', latency_ms, 'ttft_ms', ttft_ms, 'prompt_tokens', prompt_tokens, 'completion_tokens', completion_tokens, 'cost_usd', cost_usd, 'score', score, 'output', output, 'record', json(record), 'created_at', created_at) FROM results WHERE case_id = 'm1-c00001'" | jq -cS .)" ]
	[ "$(q "SELECT output, latency_ms, ttft_ms IS NULL, prompt_tokens, cost_usd, score, error_class FROM bm_results WHERE case_id = 'm1-c00001'")" = \
	    "$(sqlite3 "$BM_DB" "SELECT output, latency_ms, 't', prompt_tokens, '1e-07', '1', error_class FROM results WHERE case_id = 'm1-c00001'")" ]
}
