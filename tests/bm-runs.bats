#!/usr/bin/env bats
# bm-runs over real runs (bm-ingest | bm-exec with the echo: and exec:
# providers) and rows made with sqlite3 where many or odd states are needed.
load helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG
	HOST=$(hostname)
}

# A benchmark whose alpha trial passes with echo: and beta trial fails.
bench() {
	mkdir -p benchmarks
	cat >benchmarks/echo.yml <<-'EOF'
	name: say
	prompt: "Say {{word}}"
	vars:
	  - {word: alpha, want: alpha}
	  - {word: beta, want: zzz}
	expect:
	  - contains: "{{want}}"
	EOF
}

# exec_run ID MODEL...: a real run of the benchmark on the models.
exec_run() {
	local id=$1 m args=()
	shift
	for m in "$@"; do args+=(-m "$m"); done
	bench
	bm-ingest -q "${args[@]}" benchmarks | bm-exec -q --run-id "$id" >/dev/null || true
}

# run_row ID STARTED [STATUS [PID [HOST [LABEL]]]]: a runs row by hand.
run_row() {
	local label=NULL
	[ -z "${6:-}" ] || label="'$6'"
	sqlite3 "$BM_DB" "INSERT INTO runs (id, started_at, status, pid, host,
	    label, argv) VALUES ('$1', '$2', '${3:-finished}', ${4:-NULL},
	    '${5:-$HOST}', $label, '[\"bm-exec\",\"-j4\",\"--run-id\",\"$1\"]')"
}

# results_rows ID N [MODEL]: N result rows of run ID (through the triggers).
results_rows() {
	sqlite3 "$BM_DB" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL
	    SELECT i + 1 FROM n WHERE i < $2 - 1)
	    INSERT INTO results (run_id, case_id, step, model, status,
	    latency_ms, cost_usd, output, record)
	    SELECT '$1', printf('%016x', i) || '${3:-echo:}', 0, '${3:-echo:}',
	    CASE WHEN i % 4 = 3 THEN 'fail' ELSE 'pass' END, i, 0.001,
	    'answer ' || i, json_object('type', 'result', 'run_id', '$1',
	    'output', 'answer ' || i, 'pad', hex(randomblob(64))) FROM n"
}

# An empty database with the schema.
empty_db() {
	# bm-exec writes no run (and no file) for an empty stream: run one
	# case, then take it away.
	jq -cn '{type:"case",case_id:"c0",benchmark_id:"b0",benchmark:"t",
	    model:"echo:",variant:null,trial:0,repeat:0,expect:[],
	    messages:[{role:"user",content:"x"}]}' |
	    bm-exec -q --run-id r-0 >/dev/null
	sqlite3 "$BM_DB" "DELETE FROM results; DELETE FROM runs"
}

@test "bm-runs: usage, --version, the synopsis, bad command lines" {
	run --separate-stderr bm-runs --version
	[ "$status" -eq 0 ]
	[ "$output" = "bm-runs 0.1.0" ]
	[ "$stderr" = "" ]
	run --separate-stderr bm-runs -h
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "usage: bm-runs [list] [-n N] [--since WHEN] [--model MODEL] [--status STATUS]" ]
	usage=$output
	# The usage, up to its blank line, is the man page's SYNOPSIS.
	if [ -n "${MANDOC:-}" ]; then
		syn=$("$MANDOC" -Tascii "$BM_SRCDIR/man/bm-runs.1" | col -b |
		    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
		    tr -d ' \t\n' | tr A-Z a-z)
		use=$(printf '%s\n' "$usage" | sed '/^$/,$d' |
		    sed 's/^usage://' | tr -d ' \t\n' | tr A-Z a-z)
		[ "$syn" = "$use" ]
	fi
	run --separate-stderr bm-runs --bogus
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: unrecognized option '--bogus'" ]
	run --separate-stderr bm-runs frobnicate
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: unknown command 'frobnicate'" ]
	run --separate-stderr bm-runs rm --keep 3 last
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: --keep does not apply to rm" ]
	run --separate-stderr bm-runs show
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: show: missing operand" ]
	run --separate-stderr bm-runs label last
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: label: missing operand" ]
	run --separate-stderr bm-runs prune
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: prune needs --keep or --older-than" ]
	run --separate-stderr bm-runs -f yaml
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: -f: unknown format 'yaml' (json or table)" ]
	run --separate-stderr bm-runs --status done
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: --status: unknown status 'done' (running, finished, interrupted or failed)" ]
	run --separate-stderr bm-runs --since yesterday
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: --since: invalid time 'yesterday' (a date such as 2026-11-23 or 2026-11-23T10:15Z, or an age such as 30d, 12h, 2w)" ]
	run --separate-stderr bm-runs -n x
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-runs: -n: invalid number 'x'" ]
	run --separate-stderr bm-runs --no-db
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-runs: --no-db: bm-runs reads the database" ]
	# No database: an error, and none is created.
	run --separate-stderr bm-runs
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-runs: $BM_DB: No such file or directory" ]
	[ ! -e "$BM_DB" ]
}

@test "bm-runs: real runs listed newest first with their counters" {
	exec_run r-one echo:
	exec_run r-two echo: "exec:false"
	run --separate-stderr bm-runs
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -sc 'map([.type, .id, .status, .models, .cases, .results, .pass, .fail, .error, .cancelled, .label, .rescored_from, .resumed])' <<<"$output")" = \
	    '[["run","r-two","finished",["echo:","exec:false"],4,4,1,1,2,0,null,null,0],["run","r-one","finished",["echo:"],2,2,1,1,0,0,null,null,0]]' ]
	# Every field of DESIGN.md §4, in order.
	[ "$(jq -c 'keys_unsorted' <<<"${lines[0]}")" = \
	    '["type","id","label","started_at","finished_at","status","models","cases","results","pass","fail","error","cancelled","cost_usd","git_sha","environment","host","argv","rescored_from","resumed"]' ]
	[ "$(jq -c --arg h "$HOST" '[.argv[0], .argv[-1], .host == $h, (.started_at | test("^[0-9-]{10}T[0-9:.]{12}Z$"))]' <<<"${lines[1]}")" = '["bm-exec","r-one",true,true]' ]
	# The counters agree with the results.
	[ "$(sqlite3 "$BM_DB" "SELECT count(*), total(status = 'pass') FROM results WHERE run_id = 'r-two'")" = "4|1.0" ]
	run --separate-stderr bm-runs -n 1
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r .id <<<"$output")" = r-two ]
	run --separate-stderr bm-runs --model exec:false
	[ "$stderr" = "" ]
	[ "$(jq -r .id <<<"$output")" = r-two ]
	run --separate-stderr bm-runs --model nope:
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
	run --separate-stderr bm-runs --since 2099-01-01
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
	run --separate-stderr bm-runs --since 1h
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-two","r-one"]' ]
	run --separate-stderr bm-runs list --status finished -n 5
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-two","r-one"]' ]
}

@test "bm-runs: the table for people" {
	empty_db
	run_row r-b 2026-11-02T09:30:00.000Z finished "" "" base
	run_row r-a 2026-11-01T08:00:00.000Z
	results_rows r-b 4
	results_rows r-b 2 openai:gpt-4o-mini
	run --separate-stderr bm-runs -f table
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "ID   LABEL  STARTED           STATUS    MODELS    CASES  PASS  FAIL  ERROR    COST
r-b  base   2026-11-02 09:30  finished  echo: +1      6     5     1      0  0.0060
r-a  -      2026-11-01 08:00  finished  -             0     0     0      0  0.0000" ]
	run --separate-stderr bm-runs -f table --since 2099-01-01
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
}

@test "bm-runs: a running run whose process is gone is interrupted" {
	empty_db
	# A live pid on this host; a pid that cannot exist; another host.
	run_row r-live 2026-11-01T00:00:00.000Z running $$
	run_row r-dead 2026-11-02T00:00:00.000Z running 2147483647
	run_row r-away 2026-11-03T00:00:00.000Z running 2147483647 elsewhere.invalid
	run_row r-none 2026-11-04T00:00:00.000Z running
	run_row r-fail 2026-11-05T00:00:00.000Z failed
	run --separate-stderr bm-runs
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.id, .status])' <<<"$output")" = \
	    '[["r-fail","failed"],["r-none","interrupted"],["r-away","running"],["r-dead","interrupted"],["r-live","running"]]' ]
	run --separate-stderr bm-runs --status interrupted
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-none","r-dead"]' ]
	run --separate-stderr bm-runs --status running -n 1
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-away"]' ]
}

@test "bm-runs show: per-model summary, percentiles, the resume command" {
	exec_run r-one echo: "exec:false"
	run --separate-stderr bm-runs show r-one
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.id, .status, .resume, (.summary | map([.model, .cases, .pass, .fail, .error]))]' <<<"$output")" = \
	    '["r-one","finished",null,[["echo:",2,1,1,0],["exec:false",2,0,0,2]]]' ]
	# Latency over answered results, interpolated as numpy does.
	want=$(sqlite3 "$BM_DB" "SELECT latency_ms FROM results WHERE run_id = 'r-one' AND model = 'echo:' ORDER BY latency_ms" |
	    jq -sc '[.[0] + 0.5 * (.[1] - .[0]), .[0] + 0.95 * (.[1] - .[0])]')
	[ "$(jq -c --argjson w "$want" '.summary[0].latency_ms | [.p50 - $w[0], .p95 - $w[1]] | map(fabs < 1e-9)' <<<"$output")" = '[true,true]' ]
	[ "$(jq -c '.summary[1].latency_ms' <<<"$output")" = null ]
	# Interrupted: the command that resumes it, its own argv with --resume.
	sqlite3 "$BM_DB" "UPDATE runs SET status = 'interrupted', argv = '[\"bm-exec\",\"-j4\",\"--run-id\",\"r-one\",\"--timeout\",\"1 0\"]' WHERE id = 'r-one'"
	run --separate-stderr bm-runs show last
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r .resume <<<"$output")" = "bm-exec -j4 --timeout '1 0' --resume r-one" ]
	run --separate-stderr bm-runs show -f table r-one
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "run       r-one" ]
	[ "${lines[2]}" = "status    interrupted" ]
	[ "$(grep -c '^MODEL  *CASES  *PASS  *FAIL  *ERROR  *CANCELLED  *P50_MS  *P95_MS  *COST$' <<<"$output")" = 1 ]
	[ "$(grep -c '^exec:false  *2  *0  *0  *2  *0  *-  *-  *0.0000$' <<<"$output")" = 1 ]
	[ "${lines[-1]}" = "  bm-exec -j4 --timeout '1 0' --resume r-one" ]
}

@test "bm-runs: RUN is an id, a prefix, last, last~N or a label" {
	empty_db
	run_row r-20261101T000000Z-aaaa 2026-11-01T00:00:00.000Z
	run_row r-20261102T000000Z-bbbb 2026-11-02T00:00:00.000Z
	run_row r-20261102T000000Z-bbbc 2026-11-03T00:00:00.000Z
	run_row custom 2026-11-04T00:00:00.000Z finished "" "" good
	for spec in r-20261101T000000Z-aaaa:r-20261101T000000Z-aaaa \
	    r-20261101:r-20261101T000000Z-aaaa last:custom \
	    last~1:r-20261102T000000Z-bbbc last~3:r-20261101T000000Z-aaaa \
	    good:custom cus:custom; do
		run --separate-stderr bm-runs show "${spec%%:*}"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ]
		[ "$(jq -r .id <<<"$output")" = "${spec#*:}" ]
	done
	run --separate-stderr bm-runs show r-20261102
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-runs: $BM_DB: run 'r-20261102' is ambiguous: 2 runs match (r-20261102T000000Z-bbbc, r-20261102T000000Z-bbbb)" ]
	run --separate-stderr bm-runs show last~4
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-runs: $BM_DB: last~4: there are not 4 runs before the latest" ]
	run --separate-stderr bm-runs show nope
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-runs: $BM_DB: no run 'nope'" ]
}

@test "bm-runs label: set, shown, used; unique; moved with --force; removed" {
	exec_run r-one echo:
	exec_run r-two echo:
	run --separate-stderr bm-runs label r-one baseline
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run --separate-stderr bm-runs show baseline
	[ "$stderr" = "" ]
	[ "$(jq -c '[.id, .label]' <<<"$output")" = '["r-one","baseline"]' ]
	run --separate-stderr bm-runs
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.label)' <<<"$output")" = '[null,"baseline"]' ]
	# Labelling again replaces the run's label.
	run --separate-stderr bm-runs label baseline release-1.4
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 "$BM_DB" "SELECT id || ' ' || label FROM runs WHERE label IS NOT NULL")" = "r-one release-1.4" ]
	# Unique: refused, then moved.
	run --separate-stderr bm-runs label r-two release-1.4
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-runs: label 'release-1.4' is on run r-one (--force moves it)" ]
	[ "$(sqlite3 "$BM_DB" "SELECT id FROM runs WHERE label = 'release-1.4'")" = r-one ]
	run --separate-stderr bm-runs label --force r-two release-1.4
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 "$BM_DB" "SELECT id || ' ' || coalesce(label, '-') FROM runs ORDER BY id")" = "r-one -
r-two release-1.4" ]
	run --separate-stderr bm-runs label -d release-1.4
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM runs WHERE label IS NOT NULL")" = 0 ]
	# What would read as something else is not a label.
	for bad in "last:label 'last': 'last' and 'last~N' name the latest runs" \
	    "last~2:label 'last~2': 'last' and 'last~N' name the latest runs" \
	    "r-20261101T1:label 'r-20261101T1' looks like a run id" \
	    "r-two:label 'r-two' is a run id" \
	    "r-t:label 'r-t' is a prefix of run id r-two" \
	    "a b:label 'a b': a label has no blanks or control characters"; do
		run --separate-stderr bm-runs label r-one "${bad%%:*}"
		[ "$status" -eq 2 ]
		[ "$stderr" = "bm-runs: ${bad#*:}" ]
	done
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM runs WHERE label IS NOT NULL")" = 0 ]
}

@test "bm-runs rm: a run with its results, stats and outbox rows; --dry-run" {
	exec_run r-one echo:
	exec_run r-two echo: "exec:false"
	sqlite3 "$BM_DB" "INSERT INTO stats VALUES ('r-two', '{\"model\":\"echo:\"}', '{\"type\":\"stat\"}');
	    INSERT INTO stats VALUES ('r-one', '{\"model\":\"echo:\"}', '{\"type\":\"stat\"}');
	    INSERT INTO push_outbox (target, kind, key, record) VALUES
	    ('pg', 'result', 'k1', '{\"type\":\"result\",\"run_id\":\"r-two\"}'),
	    ('pg', 'run', 'k2', '{\"type\":\"run\",\"id\":\"r-two\"}'),
	    ('pg', 'result', 'k3', '{\"type\":\"result\",\"run_id\":\"r-one\"}'),
	    ('pg', 'result', 'k4', 'not json');
	    INSERT INTO exec_cache (key, output) VALUES ('abc', 'kept');"
	before=$(sqlite3 "$BM_DB" "SELECT (SELECT count(*) FROM results), (SELECT count(*) FROM stats), (SELECT count(*) FROM push_outbox), (SELECT count(*) FROM run_models)")
	run --separate-stderr bm-runs rm --dry-run -v r-two
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.type, .id, .results]' <<<"$output")" = '["run","r-two",4]' ]
	[ "$stderr" = "bm-runs: would remove r-two
bm-runs: would remove 1 run: 4 results, 1 stats, 2 outbox rows" ]
	[ "$(sqlite3 "$BM_DB" "SELECT (SELECT count(*) FROM results), (SELECT count(*) FROM stats), (SELECT count(*) FROM push_outbox), (SELECT count(*) FROM run_models)")" = "$before" ]
	run --separate-stderr bm-runs rm r-two
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.id, .status, .results]' <<<"$output")" = '["r-two","finished",4]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT (SELECT count(*) FROM runs WHERE id = 'r-two'), (SELECT count(*) FROM results WHERE run_id = 'r-two'), (SELECT count(*) FROM stats WHERE run_id = 'r-two'), (SELECT group_concat(key) FROM push_outbox), (SELECT count(*) FROM run_models WHERE run_id = 'r-two'), (SELECT count(*) FROM exec_cache)")" = "0|0|0|k3,k4|0|1" ]
	# The other run is whole.
	run --separate-stderr bm-runs
	[ "$stderr" = "" ]
	[ "$(jq -c '[.id, .cases, .pass, .fail]' <<<"$output")" = '["r-one",2,1,1]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM results WHERE run_id = 'r-one'")" = 2 ]
}

@test "bm-runs rm: all RUNs resolve first; a running run refuses the whole removal" {
	empty_db
	run_row r-old 2026-11-01T00:00:00.000Z
	run_row r-live 2026-11-02T00:00:00.000Z running $$
	results_rows r-old 10
	results_rows r-live 10
	run --separate-stderr bm-runs rm r-old nope
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-runs: $BM_DB: no run 'nope'" ]
	run --separate-stderr bm-runs rm r-old r-live
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-runs: run r-live is running on $HOST: nothing removed" ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM results")" = 20 ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM runs")" = 2 ]
	# Named twice, removed once.
	run --separate-stderr bm-runs rm r-old last~1
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-old"]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM results")" = 10 ]
}

@test "bm-runs rm: kill -9 mid-transaction leaves all or nothing" {
	empty_db
	run_row r-big 2026-11-01T00:00:00.000Z
	run_row r-small 2026-11-02T00:00:00.000Z
	results_rows r-big 20000
	results_rows r-small 50
	sqlite3 "$BM_DB" "INSERT INTO stats VALUES ('r-big', '{}', '{}')"
	counts() {
		sqlite3 "$BM_DB" "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM results), (SELECT count(*) FROM stats), (SELECT total(results) FROM run_models)"
	}
	before=$(counts)
	[ "$before" = "2|20050|1|20050.0" ]
	# The hook holds the transaction open after the first run's rows are
	# deleted and says so on a FIFO; the kill lands there.
	mkfifo hold
	exec 8<>hold
	BM_TEST_RM_HOLD=hold bm-runs rm r-big r-small >out 2>err &
	pid=$!
	read -r -t 120 -u 8 said
	[ "$said" = "held r-big" ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM results WHERE run_id = 'r-big'")" = 20000 ]
	kill -9 "$pid"
	wait "$pid" || true
	[ "$(counts)" = "$before" ]
	[ "$(sqlite3 "$BM_DB" "PRAGMA integrity_check")" = ok ]
	trigger=$(sqlite3 "$BM_DB" "SELECT sql FROM sqlite_schema WHERE name = 'results_count_delete'")
	[ -n "$trigger" ]
	[ ! -s out ]
	# And without the kill, all of it goes.
	run --separate-stderr bm-runs rm r-big r-small
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.id, .results])' <<<"$output")" = '[["r-big",20000],["r-small",50]]' ]
	[ "$(counts)" = "0|0|0|0.0" ]
	# The trigger that keeps run_models is back, and works.
	[ "$(sqlite3 "$BM_DB" "SELECT sql FROM sqlite_schema WHERE name = 'results_count_delete'")" = "$trigger" ]
	run_row r-new 2026-11-03T00:00:00.000Z
	results_rows r-new 5
	sqlite3 "$BM_DB" "DELETE FROM results WHERE case_id = printf('%016x', 0) || 'echo:'"
	[ "$(sqlite3 "$BM_DB" "SELECT results || ' ' || pass FROM run_models")" = "4 3" ]
}

@test "bm-runs prune: --keep and --older-than; labelled and running runs stay" {
	empty_db
	run_row r-1 2026-01-01T00:00:00.000Z finished "" "" keepme
	run_row r-2 2026-01-02T00:00:00.000Z
	run_row r-3 2026-01-03T00:00:00.000Z running $$
	run_row r-4 2026-01-04T00:00:00.000Z interrupted
	now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
	run_row r-5 "$now"
	run_row r-6 "$now"
	for r in 1 2 3 4 5 6; do results_rows r-$r 3; done
	run --separate-stderr bm-runs prune --keep 2 --dry-run
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-4","r-2"]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM runs")" = 6 ]
	# Both rules: a run either keeps stays.
	run --separate-stderr bm-runs prune --keep 1 --older-than 30d
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.id)' <<<"$output")" = '["r-4","r-2"]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT group_concat(id) FROM (SELECT id FROM runs ORDER BY id)")" = "r-1,r-3,r-5,r-6" ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM results")" = 12 ]
	run --separate-stderr bm-runs prune --older-than 2026-06-01
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
	run --separate-stderr bm-runs prune --older-than 2026-06-01 --labelled
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.id, .label])' <<<"$output")" = '[["r-1","keepme"]]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT group_concat(id) FROM (SELECT id FROM runs ORDER BY id)")" = "r-3,r-5,r-6" ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM results")" = 9 ]
}

@test "bm-runs gc: old unreferenced versions, expired cache, the file shrinks" {
	empty_db
	# Benchmark b: 13 versions, the oldest first; v2 ran, v12 is current.
	sqlite3 "$BM_DB" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 12)
	    INSERT INTO benchmark_versions SELECT printf('%032d', 0), printf('%064d', i), 'v' || i, printf('2026-01-%02dT00:00:00.000Z', i + 1) FROM n;
	    INSERT INTO benchmarks (id, name, prompt, content, content_sha256) VALUES (printf('%032d', 0), 'b', 'p', 'v12', printf('%064d', 12));
	    INSERT INTO runs (id) VALUES ('r-x');
	    INSERT INTO results (run_id, case_id, benchmark_id, model, status, content_sha256, record) VALUES ('r-x', 'c', printf('%032d', 0), 'echo:', 'pass', printf('%064d', 2), '{}');
	    INSERT INTO exec_cache (key, output, created_at) VALUES ('old', 'a', '2020-01-01T00:00:00.000Z'), ('new', 'b', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
	run_row r-big 2026-11-01T00:00:00.000Z
	results_rows r-big 5000
	run --separate-stderr bm-runs gc --dry-run
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.type, .versions, .cache, .bytes_before == .bytes_after, .vacuumed, .dry_run]' <<<"$output")" = '["gc",2,1,true,false,true]' ]
	[ "$(sqlite3 "$BM_DB" "SELECT count(*) FROM benchmark_versions")" = 13 ]
	bm-runs rm r-big >/dev/null
	run --separate-stderr bm-runs gc
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.versions, .cache, .vacuumed, .dry_run]' <<<"$output")" = '[2,1,true,false]' ]
	# v0 and v1 went: beyond the newest 10 and unreferenced; v2 ran.
	[ "$(sqlite3 "$BM_DB" "SELECT group_concat(content) FROM (SELECT content FROM benchmark_versions ORDER BY first_seen_at LIMIT 2)")" = "v2,v3" ]
	[ "$(sqlite3 "$BM_DB" "SELECT group_concat(key) FROM exec_cache")" = new ]
	size=$(stat -c %s "$BM_DB")
	wal=$(stat -c %s "$BM_DB-wal" 2>/dev/null || echo 0)
	[ "$(jq -r .bytes_after <<<"$output")" -eq $((size + wal)) ]
	# 5,000 results of about 250 bytes went: at least a megabyte.
	[ "$(jq '.bytes_before - .bytes_after >= 1000000' <<<"$output")" = true ]
	# While a run is running, no VACUUM: it would hold the write lock.
	run_row r-live 2026-11-05T00:00:00.000Z running $$
	run --separate-stderr bm-runs gc --keep-versions 0 -f table
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-runs: warning: run r-live is running: not vacuumed" ]
	[ "$(grep -c '^benchmark versions dropped  *9$' <<<"$output")" = 1 ]
	[ "$(sqlite3 "$BM_DB" "SELECT group_concat(content) FROM benchmark_versions")" = "v2,v12" ]
}

@test "bm-runs du: bytes per table and per run, largest first" {
	empty_db
	run_row r-a 2026-11-01T00:00:00.000Z finished "" "" small
	run_row r-b 2026-11-02T00:00:00.000Z
	results_rows r-a 100
	results_rows r-b 1000
	run --separate-stderr bm-runs du
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc '.[0] | [.type, .table, .rows]' <<<"$output")" = '["du","results",1100]' ]
	# Tables, then runs, each largest first.
	[ "$(jq -sc 'map(select(.table)) | (map(.bytes) == (map(.bytes) | sort | reverse))' <<<"$output")" = true ]
	[ "$(jq -sc 'map(select(.run_id) | [.run_id, .label, .results])' <<<"$output")" = '[["r-b",null,1000],["r-a","small",100]]' ]
	# The runs share out the results table's bytes.
	[ "$(jq -sc '(map(select(.table == "results"))[0].bytes) as $t | map(select(.run_id) | .bytes) | add | . > 0.99 * $t and . < 1.01 * $t' <<<"$output")" = true ]
	run --separate-stderr bm-runs du -f table
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c '^TABLE  *ROWS  *BYTES$' <<<"$output")" = 1 ]
	[ "$(grep -c '^r-b  *-  *1000  *0  *[0-9.]*[KM]$' <<<"$output")" = 1 ]
}
