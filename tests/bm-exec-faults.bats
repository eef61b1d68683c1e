#!/usr/bin/env bats
# bm-exec under faults (issue 10): kill -9 at several moments chosen by
# events, each followed by --resume; a dead provider shown as down in the
# status line while the run goes on.  Every wait is for an event (a line
# on stdout or stderr, a stub counter), bounded; none is for time.
load helper
load stub

setup() {
	stub_env sk-faults-3c5e
}

teardown() {
	stub_stop
}

# FILE holds at least N complete lines, or process PID is gone.
lines_or_gone() {
	local n
	n=$(grep -c '}$' "$1") || true
	[ "${n:-0}" -ge "$2" ] || ! kill -0 "$3" 2>/dev/null
}

# The (case_id, step) pairs of every complete line in FILE, sorted.
printed_pairs() {
	sed '$!b; /}$/!d' "$1" | jq -r '[.case_id, .step] | @tsv' | sort
}

# The (case_id, step) pairs of run RUN's stored results, sorted.
stored_pairs() {
	sqlite3 -separator '	' bm.db \
	    "SELECT case_id, step FROM results WHERE run_id = '$1'" | sort
}

@test "bm-exec: kill -9 at five moments, each then --resume: every printed line committed, one result per case, no request repeated" {
	# Paced (-j 4, 25 ms an answer: at most 160 a second), so that each
	# kill, however late a loaded machine makes it, leaves work to resume.
	stub_start -d 25
	# 500 cases: every 7th gets a 429 first, every 11th two 500s, every
	# 100th a 500 each time (an error, run again by each resume); ten are
	# sequences of three steps.
	awk 'BEGIN { for (i = 0; i < 500; i++) {
	    d = ""
	    if (i % 100 == 99) d = "[[status=500]] "
	    else if (i % 11 == 10) d = "[[fail-first=2]] "
	    else if (i % 7 == 6) d = "[[fail-first=1]] [[status=429]] [[retry-after=0]] "
	    if (i % 50 == 12)
		printf "{\"type\":\"case\",\"case_id\":\"c%03d\",\"model\":\"openai:m\",\"steps\":[{\"prompt\":\"S %d a\"},{\"prompt\":\"S %d b\"},{\"prompt\":\"S %d c\"}]}\n", i, i, i, i
	    else
		printf "{\"type\":\"case\",\"case_id\":\"c%03d\",\"model\":\"openai:m\",\"messages\":[{\"role\":\"user\",\"content\":\"%sWhat is %d + 1?\"}],\"expect\":[{\"equals\":\"%d\"}]}\n", i, d, i, i + 1 } }' >in.jsonl
	# The text the stub counts for each (case, step).
	jq -r 'if .steps then .case_id as $c | .steps | to_entries[]
	    | [$c, .key, .value.prompt] else [.case_id, 0,
	    .messages[-1].content] end | @tsv' in.jsonl | sort >texts
	flags="-q -j 4 --backoff 0.02 --retries 2"
	k=0
	# Killed after the first new result, then further into each attempt
	# (a resume first writes the stored records of what it skips).
	for m in 1 10 20 30 40; do
		if [ -e bm.db ]; then
			sqlite3 -separator '	' bm.db "SELECT case_id, step
			    FROM results WHERE run_id = 'r-c'
			    AND status IN ('pass', 'fail')" | sort >committed.$k
		else
			: >committed.$k
		fi
		at=$(($(wc -l <committed.$k) + m))
		curl -sf "http://127.0.0.1:$PORT/stats" >stats.$k
		if [ $k -eq 0 ]; then set -- --run-id r-c; else set -- --resume r-c; fi
		bm-exec $flags "$@" <in.jsonl >out.$k 2>err.$k &
		pid=$!
		until_true lines_or_gone out.$k "$at" "$pid"
		kill -9 "$pid"
		wait "$pid" || true
		# Killed mid-run, silently, and nothing printed is missing
		# from the database.
		[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id = 'r-c'")" = running ]
		[ ! -s err.$k ]
		[ "$(grep -c '}$' out.$k)" -ge "$at" ]
		printed_pairs out.$k >printed.$k
		stored_pairs r-c >stored.$k
		[ -z "$(comm -23 printed.$k stored.$k)" ]
		k=$((k + 1))
	done
	run --separate-stderr bm-exec $flags --resume r-c <in.jsonl
	# Five cases fail every time: exit 1, quietly under -q.
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(select(.status == "error")) | length' <<<"$output")" = 5 ]
	# Its output is the whole run: stored records and new ones, once each.
	[ "$(jq -sc '[length, (map([.case_id, .step]) | unique | length),
	    (map(.run_id) | unique)]' <<<"$output")" = '[520,520,["r-c"]]' ]
	# Exactly one result per case and step; the run is finished.
	[ "$(sqlite3 bm.db "SELECT count(*), count(DISTINCT case_id || '/' || step),
	    count(DISTINCT case_id), sum(status = 'error')
	    FROM results WHERE run_id = 'r-c'")" = "520|520|500|5" ]
	[ "$(sqlite3 bm.db "SELECT status, resumed FROM runs WHERE id = 'r-c'")" = "finished|5" ]
	# No request again for what was committed before an attempt: its
	# text's counter at the end equals the one before the attempt.
	curl -sf "http://127.0.0.1:$PORT/stats" >stats.end
	awk -F '\t' 'FILENAME == "texts" { t[$1 "/" $2] = $3; next }
	    { k = substr(FILENAME, 11); print k "\t" t[$1 "/" $2] }' \
	    texts committed.[0-4] >again
	[ "$(jq -Rn --slurpfile a <(cat stats.[0-4]) --slurpfile b stats.end '
	    [inputs | split("\t") | ($b[0].by_message[.[1]] // 0)
	     - ($a[.[0] | tonumber].by_message[.[1]] // 0)] | add // 0' <again)" = 0 ]
	# Committed before the later attempts: more than 100 texts, all known.
	[ "$(wc -l <again)" -gt 100 ]
	! grep -q '	$' again || false
}

# The extended regular expression RE matches a line of FILE, or process
# PID is gone.
line_or_gone() {
	grep -Eq "$1" "$2" || ! kill -0 "$3" 2>/dev/null
}

# The lines FILE has once a progress line's redraws (a carriage return
# and an erase to the end of the line) are taken as line ends.
redrawn() {
	tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g'
}

# As line_or_gone, in the redrawn lines of FILE.
redrawn_or_gone() {
	redrawn "$2" | grep -Eq "$1" || ! kill -0 "$3" 2>/dev/null
}

@test "bm-exec -v and --progress: a provider given up on shows as down in the status line while the run goes on" {
	stub_start
	cat >bm.yml <<-EOF
	providers:
	  dead: {type: openai, base_url: "http://127.0.0.1:1/v1"}
	  good: {type: openai, base_url: "http://127.0.0.1:$PORT/v1"}
	EOF
	{
		for i in $(seq 10); do
			printf '{"type":"case","case_id":"z%d","model":"dead:m","messages":[{"role":"user","content":"Z %d"}]}\n' "$i" "$i"
		done
		# Answered in a minute: the run goes on while dead is down.
		echo '{"type":"case","case_id":"g1","model":"good:m","messages":[{"role":"user","content":"[[latency=60000]] G"}]}'
	} >in.jsonl
	running='^bm-exec: 10/11 done: 0 pass, 0 fail, 10 error \| [0-9]+\.[0-9] req/s \| ETA [0-9]+s \| dead down \| good 1/4$'
	flags="--no-db -j 4 --backoff 0.02 --give-up 0.3 --grace 0"
	bm-exec -v $flags --run-id r-v --status-interval 0.05 <in.jsonl >out 2>err &
	pid=$!
	until_true line_or_gone "$running" err "$pid"
	# The dead provider's cases have ended, the other one's is in flight.
	[ "$(jq -sc 'map(select(.case_id != "g1") | .error.class) | [length, unique]' out)" = '[10,["connection"]]' ]
	[ "$(jq -s 'map(select(.error.message == "dead is down: no success for 0.3 s (the last error was connection); not sent")) | length' out)" -ge 1 ]
	stub_at_least in_flight 1
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 130 ]
	[ "$(jq -sc 'map(select(.case_id == "g1") | .error.class)' out)" = '["cancelled"]' ]
	# Status lines on lines of their own, the last one after the stop.
	grep -Eq "$running" err
	[ "$(grep '^bm-exec: [0-9]*/11 done' err | tail -n1 | sed -E 's/[0-9]+\.[0-9] req/R req/')" = \
	    "bm-exec: 11/11 done: 0 pass, 0 fail, 10 error, 1 cancelled | R req/s | dead down | stopping" ]
	[ "$(grep -v '^bm-exec: [0-9]*/11 done' err | sed 's/^bm-exec: case z[0-9]*: connection: .*/Z/' | uniq -c | sed 's/^ *//')" = "1 bm-exec: run r-v
10 Z
1 bm-exec: warning: interrupted: finishing 1 request in flight (0 s)
1 bm-exec: case g1: cancelled: interrupted
1 bm-exec: warning: 11 of 11 results ended in error (connection 10, cancelled 1)" ]
	# --progress, without a terminal: the line redrawn in place says so
	# too.
	bm-exec -q --progress $flags <in.jsonl >out2 2>err2 &
	pid=$!
	until_true redrawn_or_gone "$running" err2 "$pid"
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 130 ]
	redrawn err2 | grep -Eq "$running"
	[ "$(jq -s length out2)" = 11 ]
}

@test "bm-benchmark(5): the entities list markers render as written" {
	[ -n "${MANDOC:-}" ] || skip "mandoc not installed"
	run --separate-stderr "$MANDOC" -Tutf8 "$BM_SRCDIR/man/bm-benchmark.5"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "$(col -b <<<"$output" | tr -s ' \t\n' '   ')" == *"a leading list marker (a hyphen (‘-’), an asterisk (‘*’) or a bullet (‘•’), then a space) and trailing full stops"* ]]
}
