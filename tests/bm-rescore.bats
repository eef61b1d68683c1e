#!/usr/bin/env bats
# bm-exec --rescore RUN: the answers RUN stored, scored against a new case
# stream's expectations, with no model request (the stub's counters prove
# it), as a new run whose runs row records rescored_from.
load helper
load stub

setup() {
	stub_env sk-rescore
}

teardown() {
	stub_stop
}

# Start the stub; sets PORT and the base URL.
stub() {
	stub_start
}

# Model requests the stub has answered so far.
requests() {
	curl -sf "http://127.0.0.1:$PORT/stats" | jq .requests
}

# cases N WANT: N cases "What is i + 1?" expecting equals WANT(i), a jq
# expression of i (the stub answers the sum).
cases() {
	jq -cn --argjson n "$1" "range(\$n) | {type:\"case\",
	    case_id:(\"c\" + (. | tostring)),benchmark_id:\"b0\",
	    benchmark:\"t\",model:\"openai:m\",variant:null,trial:0,repeat:0,
	    messages:[{role:\"user\",content:\"What is \(.) + 1?\"}],
	    expect:[{equals:($2 | tostring)}]}"
}

# The base run r-base: 1,000 cases, every one passing.
base() {
	stub
	cases 1000 '. + 1' >in.jsonl
	bm-exec -q -j 16 --run-id r-base <in.jsonl >base.jsonl
	[ "$(jq -s 'map(select(.status == "pass")) | length' base.jsonl)" = 1000 ]
}

@test "bm-exec --rescore: 1,000 results, no request, a new run rescored from RUN" {
	base
	before=$(requests)
	[ "$before" = 1000 ]
	# Ten expectations changed: those ten now fail.
	cases 1000 'if . < 10 then . + 2 else . + 1 end' >new.jsonl
	run --separate-stderr bm-exec -j 16 --run-id r-new --rescore r-base <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-new: re-scoring run r-base" ]
	[ "$(requests)" = "$before" ]
	[ "$(jq -s 'length' <<<"$output")" = 1000 ]
	[ "$(jq -s 'map(select(.status == "fail")) | map(.case_id) | sort | join(",")' <<<"$output")" = '"c0,c1,c2,c3,c4,c5,c6,c7,c8,c9"' ]
	[ "$(jq -sc 'map(select(.case_id == "c3")) | .[0] | [.run_id, .output, .score, .expect, (.assertions | map([.type, .pass, .score]))]' <<<"$output")" = '["r-new","4",0,[{"equals":"5"}],[["equals",false,0]]]' ]
	# The answer and how it came are the stored ones.
	[ "$(jq -sc 'map(select(.case_id == "c500")) | .[0] | [.output, .latency_ms, .attempts, .usage, .started_at, .finished_at]' base.jsonl)" = \
	    "$(jq -sc 'map(select(.case_id == "c500")) | .[0] | [.output, .latency_ms, .attempts, .usage, .started_at, .finished_at]' <<<"$output")" ]
	[ "$(sqlite3 bm.db "SELECT count(*), sum(status = 'pass'), sum(status = 'fail') FROM results WHERE run_id = 'r-new'")" = "1000|990|10" ]
	run --separate-stderr bm-runs show r-new
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.id, .status, .rescored_from, .results, .pass, .fail, .error]' <<<"$output")" = '["r-new","finished","r-base",1000,990,10,0]' ]
	# The stream digest is the one bm-exec records for these case ids.
	[ "$(sqlite3 bm.db "SELECT count(DISTINCT stream_sha256) FROM runs WHERE stream_sha256 IS NOT NULL")" = 1 ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM runs WHERE stream_sha256 IS NOT NULL AND pid IS NULL")" = 2 ]
}

@test "bm-exec --rescore: stored errors stay errors; unanswered cases are counted, not run" {
	stub
	{
		cases 3 '. + 1'
		jq -cn '{type:"case",case_id:"bad",benchmark_id:"b0",benchmark:"t",
		    model:"openai:m",messages:[{role:"user",content:"[[status=400]]"}],
		    expect:[{contains:"x"}]}'
	} >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-base <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	before=$(requests)
	{
		cat in.jsonl
		cases 5 '. + 1' | tail -n 2 | sed 's/"c3"/"n3"/; s/"c4"/"n4"/'
		echo '{"type":"note","text":"passed on"}'
	} >new.jsonl
	run --separate-stderr bm-exec --run-id r-new --rescore r-base <new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-new: re-scoring run r-base
bm-exec: 2 cases were not answered by run r-base; not run
bm-exec: warning: 1 of 4 results ended in error (bad_request 1)" ]
	[ "$(requests)" = "$before" ]
	[ "$(jq -sc 'map(select(.type == "result")) | map([.case_id, .status]) | sort' <<<"$output")" = '[["bad","error"],["c0","pass"],["c1","pass"],["c2","pass"]]' ]
	[ "$(jq -sc 'map(select(.type == "note"))' <<<"$output")" = '[{"type":"note","text":"passed on"}]' ]
	[ "$(jq -c 'select(.case_id == "bad") | [.error.class, .error.http_status, .score, .assertions]' <<<"$output")" = '["bad_request",400,null,[]]' ]
	[ "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-base' AND case_id = 'bad'" | jq -c .error)" = \
	    "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-new' AND case_id = 'bad'" | jq -c .error)" ]
	# -v names them.
	run --separate-stderr bm-exec -v --run-id r-v --rescore r-base <new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-v: re-scoring run r-base
bm-exec: case n3: not answered by run r-base
bm-exec: case n4: not answered by run r-base
bm-exec: 2 cases were not answered by run r-base; not run
bm-exec: warning: 1 of 4 results ended in error (bad_request 1)" ]
}

@test "bm-exec --rescore: a sequence is scored per step" {
	stub
	jq -cn '{type:"case",case_id:"s1",benchmark_id:"b",benchmark:"seq",
	    model:"openai:m",steps:[
	    {prompt:"What is 1 + 1?",expect:[{equals:"2"}]},
	    {prompt:"What is 2 + 2?"},{prompt:"What is 3 + 3?",expect:[{equals:"7"}]}]}' >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-s <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.step, .status])' <<<"$output")" = '[[0,"pass"],[1,"pass"],[2,"fail"]]' ]
	before=$(requests)
	jq -cn '{type:"case",case_id:"s1",benchmark_id:"b",benchmark:"seq",
	    model:"openai:m",steps:[
	    {prompt:"What is 1 + 1?",expect:[{equals:"3"}]},
	    {prompt:"What is 2 + 2?",expect:[{regex:"^4$"}]},
	    {prompt:"What is 3 + 3?",expect:[{equals:"6"}]}]}' >new.jsonl
	run --separate-stderr bm-exec -q --run-id r-s2 --rescore r-s <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(requests)" = "$before" ]
	[ "$(jq -sc 'map([.step, .status, .output, (.assertions | map(.type))])' <<<"$output")" = '[[0,"fail","2",["equals"]],[1,"pass","4",["regex"]],[2,"pass","6",["equals"]]]' ]
	[ "$(sqlite3 bm.db "SELECT group_concat(step || status) FROM results WHERE run_id = 'r-s2'")" = "0fail,1pass,2pass" ]
}

@test "bm-exec --rescore: RUN as last, a label, a prefix; an unknown RUN exits 2" {
	stub
	cases 2 '. + 1' >in.jsonl
	bm-exec -q --run-id r-base-1 <in.jsonl >/dev/null
	bm-runs -q label r-base-1 golden
	cases 2 '. + 2' >new.jsonl
	run --separate-stderr bm-exec --run-id r-a --rescore last <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-a: re-scoring run r-base-1" ]
	[ "$(jq -sc 'map(.status)' <<<"$output")" = '["fail","fail"]' ]
	run --separate-stderr bm-exec --run-id r-b --rescore golden <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-b: re-scoring run r-base-1" ]
	run --separate-stderr bm-exec --run-id r-c --rescore r-base <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-c: re-scoring run r-base-1" ]
	# last~1 is r-b's run now, re-scored again: a chain.
	run --separate-stderr bm-exec -q --run-id r-d --rescore last~1 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.status)' <<<"$output")" = '["pass","pass"]' ]
	[ "$(sqlite3 bm.db "SELECT id || '<' || rescored_from FROM runs WHERE rescored_from IS NOT NULL ORDER BY rowid")" = "r-a<r-base-1
r-b<r-base-1
r-c<r-base-1
r-d<r-b" ]
	run --separate-stderr bm-exec --rescore nope <new.jsonl
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-exec: $BM_DB: no run 'nope'" ]
	run --separate-stderr bm-exec --rescore r- <new.jsonl
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: $BM_DB: run 'r-' is ambiguous: 5 runs match (r-d, r-c, r-b, r-a, r-base-1)" ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM runs")" = 5 ]
}

@test "bm-exec --rescore: usage errors" {
	usage=$(bm-exec -h 2>&1 | sed -n '/^$/q;p')
	run --separate-stderr bm-exec --rejudge </dev/null
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-exec: --rejudge needs --rescore
$usage" ]
	for o in --resume=r-x --cache --dry-run; do
		run --separate-stderr bm-exec --rescore last "$o" </dev/null
		[ "$status" -eq 2 ]
		[ "$stderr" = "bm-exec: --rescore and ${o%=*} exclude each other
$usage" ]
	done
	run --separate-stderr bm-exec --no-db --rescore last </dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: --rescore needs the database
$usage" ]
	run --separate-stderr bm-exec --rescore last --run-id 'a b' </dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: --run-id: a run id has no blanks or control characters
$usage" ]
	[ ! -e bm.db ]
}

@test "bm-exec --rescore: committed while the input waits; a signal stops it, exit 130" {
	stub
	cases 3 '. + 1' >in.jsonl
	bm-exec -q --run-id r-base <in.jsonl >/dev/null
	mkfifo fifo
	# The writer keeps the pipe open until told.
	{ cat in.jsonl; for i in $(seq 600); do [ -e go ] && break; sleep "$TICK"; done; } >fifo &
	writer=$!
	bm-exec --run-id r-new --rescore r-base <fifo >out.jsonl 2>err.txt &
	pid=$!
	for i in $(seq 600); do
		[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-new'" 2>/dev/null)" = 3 ] && break
		sleep "$TICK"
	done
	# Stored and printed before the input ended.
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-new'")" = 3 ]
	for i in $(seq 600); do [ "$(wc -l <out.jsonl)" = 3 ] && break; sleep "$TICK"; done
	[ "$(jq -sc 'map(.status)' out.jsonl)" = '["pass","pass","pass"]' ]
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	touch go
	wait "$writer"
	[ "$rc" -eq 130 ]
	[ "$(cat err.txt)" = "bm-exec: run r-new: re-scoring run r-base" ]
	[ "$(wc -l <out.jsonl)" = 3 ]
	[ "$(sqlite3 bm.db "SELECT status, pid IS NULL, rescored_from FROM runs WHERE id = 'r-new'")" = "interrupted|1|r-base" ]
	[ "$(requests)" = 3 ]
}

# A stored result of run r-j with a judge entry, written as bm-exec with
# judges writes it.
judged_run() {
	# A real run first: the file and its schema.
	echo '{"type":"case","case_id":"e","model":"echo:","messages":[{"role":"user","content":"hi"}]}' |
	    bm-exec -q --run-id r-seed >/dev/null
	sqlite3 bm.db "INSERT INTO runs (id, started_at, finished_at, status)
	    VALUES ('r-j', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z', 'finished')"
	rec='{"type":"result","run_id":"r-j","case_id":"j1","benchmark_id":"b0","benchmark":"t","model":"openai:m","variant":null,"trial":0,"repeat":0,"step":0,"status":"fail","error":null,"output":"Paris is in Spain","latency_ms":12.5,"ttft_ms":null,"attempts":1,"usage":{"prompt_tokens":7,"completion_tokens":4},"cost_usd":null,"score":0.5,"assertions":[{"type":"contains","pass":true,"score":1},{"type":"judge","pass":false,"score":0.2,"reason":"Paris is in France","agreement":0.6666666666666666}],"metrics":null,"started_at":"2026-01-01T00:00:00.100Z","finished_at":"2026-01-01T00:00:00.200Z","expect":[{"contains":"Spain"},{"judge":{"rubric":"correct geography"}}],"judge_usage":{"prompt_tokens":50,"completion_tokens":9}}'
	sqlite3 bm.db "INSERT INTO results (run_id, case_id, step, model, status, output, record)
	    VALUES ('r-j', 'j1', 0, 'openai:m', 'fail', 'Paris is in Spain', '$rec')"
}

@test "bm-exec --rescore: a judge entry's stored verdict is reused, not asked again" {
	judged_run
	jq -cn '{type:"case",case_id:"j1",benchmark_id:"b0",benchmark:"t",
	    model:"openai:m",messages:[{role:"user",content:"Where is Paris?"}],
	    expect:[{contains:"Spain"},{judge:{rubric:"correct geography"}}]}' >new.jsonl
	run --separate-stderr bm-exec -q --run-id r-j2 --rescore r-j <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status, .score, .assertions, .judge_usage, .latency_ms, .usage]' <<<"$output")" = \
	    '["fail",0.6,[{"type":"contains","pass":true,"score":1},{"type":"judge","pass":false,"score":0.2,"agreement":0.6666666666666666,"reason":"Paris is in France"}],{"prompt_tokens":50,"completion_tokens":9},12.5,{"prompt_tokens":7,"completion_tokens":4}]' ]
	# not: inverts the stored verdict's meaning, not the verdict.
	jq -cn '{type:"case",case_id:"j1",benchmark_id:"b0",benchmark:"t",
	    model:"openai:m",messages:[{role:"user",content:"Where is Paris?"}],
	    expect:[{contains:"Paris"},{judge:{rubric:"correct geography"},not:true}]}' >neg.jsonl
	run --separate-stderr bm-exec -q --run-id r-j3 --rescore r-j <neg.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status, (.assertions | map([.type, .pass, .score]))]' <<<"$output")" = \
	    '["pass",[["contains",true,1],["judge",true,0.8]]]' ]
	# A judge the stored result never asked (another rubric): no verdict,
	# an error.
	jq -cn '{type:"case",case_id:"j1",benchmark_id:"b0",benchmark:"t",
	    model:"openai:m",messages:[{role:"user",content:"Where is Paris?"}],
	    expect:[{contains:"Spain"},{judge:{rubric:"brief"}}]}' >moved.jsonl
	run --separate-stderr bm-exec -q --run-id r-j4 --rescore r-j <moved.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status, .error, .score, .assertions, .output]' <<<"$output")" = \
	    '["error",{"class":"judge","message":"judge: no verdict","http_status":null},null,[],"Paris is in Spain"]' ]
}

# Chat requests the stub got, per model: {"m": N, ...}.
by_model() {
	jq -sc 'map(select(.path == "/v1/chat/completions") | .body.model) |
	    group_by(.) | map({(.[0]): length}) | add // {}' stub.log
}

@test "bm-exec --rescore --rejudge: judges are asked again" {
	stub
	judged_run
	err='{"type":"result","run_id":"r-j","case_id":"j2","benchmark_id":"b0","benchmark":"t","model":"openai:m","variant":null,"trial":0,"repeat":0,"step":0,"status":"error","error":{"class":"server","message":"HTTP 500","http_status":500},"output":null,"latency_ms":3,"ttft_ms":null,"attempts":4,"usage":null,"cost_usd":null,"score":null,"assertions":[],"metrics":null,"started_at":"2026-01-01T00:00:00.100Z","finished_at":"2026-01-01T00:00:00.200Z"}'
	sqlite3 bm.db "INSERT INTO results (run_id, case_id, step, model, status, output, record)
	    VALUES ('r-j', 'j2', 0, 'openai:m', 'error', NULL, '$err')"
	for c in j1 j2 n1; do
		jq -cn --arg c "$c" '{type:"case",case_id:$c,benchmark_id:"b0",
		    benchmark:"t",model:"openai:m",
		    messages:[{role:"user",content:"Where is Paris?"}],
		    expect:[{contains:"Spain"},
		      {judge:{rubric:"correct geography [[judge=pass]] [[usage=30,3]]",model:"openai:judge"}},
		      {judge:{rubric:"brief [[judge=fail]] [[usage=20,2]]",model:"openai:judge"}}]}'
	done >new.jsonl
	run --separate-stderr bm-exec -j 4 --run-id r-j2 --rescore r-j --rejudge <new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j2: re-scoring run r-j
bm-exec: 1 case was not answered by run r-j; not run
bm-exec: warning: 1 of 2 results ended in error (server 1)" ]
	# The model under test never asked; the judge once per judge entry
	# of the answered case (none for the stored error).
	[ "$(by_model)" = '{"judge":2}' ]
	[ "$(jq -c 'select(.case_id == "j1") | [.status, .score, (.assertions | map([.type, .pass, .score])), .assertions[2].reason, .judge_usage, .judge_cost_usd, .output, .latency_ms, .attempts, .usage]' <<<"$output")" = \
	    '["fail",0.6666666666666666,[["contains",true,1],["judge",true,1],["judge",false,0]],"the rubric is not met",{"prompt_tokens":50,"completion_tokens":5},null,"Paris is in Spain",12.5,1,{"prompt_tokens":7,"completion_tokens":4}]' ]
	[ "$(jq -c 'select(.case_id == "j2") | [.status, .error, .judge_usage, .attempts]' <<<"$output")" = \
	    '["error",{"class":"server","message":"HTTP 500","http_status":500},null,4]' ]
	[ "$(jq -sc 'map(.case_id)' <<<"$output")" = '["j1","j2"]' ] ||
	    [ "$(jq -sc 'map(.case_id)' <<<"$output")" = '["j2","j1"]' ]
	[ "$(sqlite3 bm.db "SELECT rescored_from, status FROM runs WHERE id = 'r-j2'")" = "r-j|finished" ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-j2'")" = 2 ]
	# The stored verdicts, without --rejudge: no request at all.
	run --separate-stderr bm-exec -q --run-id r-j3 --rescore r-j2 <new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(by_model)" = '{"judge":2}' ]
	[ "$(jq -c 'select(.case_id == "j1") | [.status, .score, .judge_usage]' <<<"$output")" = \
	    '["fail",0.6666666666666666,{"prompt_tokens":50,"completion_tokens":5}]' ]
}

# The base run r-x: an exec provider answering "out" with status 4,
# checked by exit-code and by the exec scorer ./scorer, which logs its
# stdin to seen.jsonl.
exec_run() {
	printf '#!/bin/sh\ncat >>seen.jsonl\nexit 0\n' >scorer
	chmod +x scorer
	jq -cn '{type:"case",case_id:"x1",benchmark_id:"b0",benchmark:"t",
	    model:"exec:echo out; exit 4",messages:[{role:"user",content:"x"}],
	    expect:[{"exit-code":4},{exec:"./scorer"}]}' >in.jsonl
	bm-exec -q --run-id r-x <in.jsonl >base.jsonl
	[ "$(jq -c '[.status, .exit_code]' base.jsonl)" = '["pass",4]' ]
	[ "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-x'" | jq .exit_code)" = 4 ]
	[ "$(jq -s length seen.jsonl)" = 1 ]
}

@test "bm-exec --rescore: exec scorers run again, on the stored record" {
	exec_run
	# A changed scorer applies: it fails now, with its reason.
	printf '#!/bin/sh\ncat >>seen.jsonl\necho "{\\"reason\\": \\"changed\\"}"\nexit 1\n' >scorer
	run --separate-stderr bm-exec --run-id r-x2 --rescore r-x <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-x2: re-scoring run r-x" ]
	[ "$(jq -c '[.run_id, .status, .score, (.assertions | map([.type, .pass])), .assertions[1].reason, .output, .exit_code]' <<<"$output")" = \
	    '["r-x2","fail",0.5,[["exit-code",true],["exec",false]],"changed","out",4]' ]
	# Its stdin: the stored answer as the new run's result, unscored.
	[ "$(jq -s length seen.jsonl)" = 2 ]
	[ "$(jq -s last seen.jsonl | jq -c '[.run_id, .output, .exit_code, .attempts, has("assertions"), has("status")]')" = \
	    '["r-x2","out",4,1,false,false]' ]
	[ "$(jq -s last seen.jsonl | jq .latency_ms)" = "$(jq .latency_ms base.jsonl)" ]
	[ "$(sqlite3 bm.db "SELECT rescored_from, status FROM runs WHERE id = 'r-x2'")" = "r-x|finished" ]
	[ "$(sqlite3 bm.db "SELECT status FROM results WHERE run_id = 'r-x2'")" = fail ]
}

@test "bm-exec --rescore: exit-code is scored again from the stored exit_code" {
	exec_run
	sed 's/"exit-code":4/"exit-code":3/; s|,{"exec":"./scorer"}||' in.jsonl >three.jsonl
	run --separate-stderr bm-exec -q --run-id r-x3 --rescore r-x <three.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status, .score, (.assertions | map([.type, .pass])), .exit_code]' <<<"$output")" = \
	    '["fail",0,[["exit-code",false]],4]' ]
	# No scorer in the stream: the fast loop; none ran.
	[ "$(jq -s length seen.jsonl)" = 1 ]
	sed 's|,{"exec":"./scorer"}||' in.jsonl >four.jsonl
	run --separate-stderr bm-exec -q --run-id r-x4 --rescore r-x <four.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status, .exit_code]' <<<"$output")" = '["pass",4]' ]
}

@test "bm-exec --rescore --rejudge: a sequence is scored per step, with no request" {
	jq -cn '{type:"case",case_id:"s1",model:"echo:",steps:[
	    {prompt:"a",expect:[{contains:"a"}]},
	    {prompt:"b",expect:[{contains:"b"}]}]}' >in.jsonl
	bm-exec -q --run-id r-s <in.jsonl >/dev/null
	jq -c '.steps[1].expect = [{contains:"zzz"}]' in.jsonl >new.jsonl
	run --separate-stderr bm-exec --run-id r-s2 --rescore r-s --rejudge <new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-s2: re-scoring run r-s" ]
	[ "$(jq -sc 'map([.step, .status, .output, .started_at])' <<<"$output")" = \
	    "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-s' ORDER BY step" |
	    jq -sc 'map([.step, (if .step == 1 then "fail" else .status end), .output, .started_at])')" ]
	[ "$(sqlite3 bm.db "SELECT rescored_from FROM runs WHERE id = 'r-s2'")" = r-s ]
}

@test "bm-exec --rescore: an assertion that does not compile is the case's config error" {
	echo '{"type":"case","case_id":"e","benchmark":"bb","model":"echo:","messages":[{"role":"user","content":"hi"}]}' >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-base <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	jq -c '.expect = [{contains: "hi"}, {regex: "(("}]' in.jsonl >new.jsonl
	run --separate-stderr bm-exec -q --run-id r-new --rescore r-base <new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status, .error.class, .error.message, .output]' <<<"$output")" = \
	    '["error","config","bb: expect[1]: regex: missing closing parenthesis at offset 2","hi"]' ]
}

# run_models of run $1 against the counts of its results rows.
models_exact() {
	[ "$(sqlite3 bm.db "SELECT model, results, cases, pass, fail, error,
	    cancelled FROM run_models WHERE run_id = '$1' ORDER BY model")" = \
	    "$(sqlite3 bm.db "SELECT model, count(*), total(step = 0), total(status = 'pass'),
	    total(status = 'fail'), total(status = 'error' AND error_class IS NOT 'cancelled'),
	    total(error_class IS 'cancelled') FROM results WHERE run_id = '$1'
	    GROUP BY model ORDER BY model" | sed 's/\.0\b//g')" ]
}

@test "bm-exec --rescore: rows stored in groups; run_models exact; records valid; duplicates replaced" {
	# 300 cases on two models, three of them stored errors.
	jq -cn 'range(300) | {type:"case",case_id:("c\(.)"),
	    model:(if . % 3 == 0 then "echo:" else "echo:x" end),
	    messages:[{role:"user",content:"n \(.)"}],expect:[{contains:"n"}]}' >in.jsonl
	bm-exec -q --run-id r-base <in.jsonl >/dev/null
	sqlite3 bm.db "UPDATE results SET status = 'error', error_class = 'timeout',
	    record = json_set(record, '\$.status', 'error', '\$.error',
	    json('{\"class\":\"timeout\",\"message\":\"t\",\"http_status\":null}'))
	    WHERE run_id = 'r-base' AND case_id IN ('c1', 'c2', 'c200')"
	# c5 twice (its second verdict wins): 301 results, 300 rows.
	{ jq -c '.expect = [{contains:"n 1"}]' in.jsonl
	  grep '"c5"' in.jsonl | jq -c '.expect = [{contains:"zzz"}]'; } >new.jsonl
	run --separate-stderr bm-exec -q --run-id r-new --rescore r-base <new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'length' <<<"$output")" = 301 ]
	# Printed in input order; stored as printed, the last c5 winning.
	[ "$(jq -r .case_id <<<"$output" | head -3 | paste -sd,)" = c0,c1,c2 ]
	[ "$(sqlite3 bm.db "SELECT count(*), total(json_valid(record)) FROM results WHERE run_id = 'r-new'")" = "300|300.0" ]
	[ "$(sqlite3 bm.db "SELECT status FROM results WHERE run_id = 'r-new' AND case_id = 'c5'")" = fail ]
	[ "$(grep -v '"case_id":"c5"' <<<"$output" | md5sum)" = \
	    "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-new' AND case_id != 'c5' ORDER BY rowid" | md5sum)" ]
	# run_models: as the printed results count, and as the rows do.
	[ "$(sqlite3 bm.db "SELECT model, pass, fail, error FROM run_models WHERE run_id = 'r-new' ORDER BY model" | paste -sd' ')" = \
	    "$(sed '6d' <<<"$output" | jq -sr 'group_by(.model) | map("\(.[0].model)|\(map(select(.status == "pass")) | length)|\(map(select(.status == "fail")) | length)|\(map(select(.status == "error")) | length)") | join(" ")')" ]
	models_exact r-new
	models_exact r-base
}

@test "bm-exec --rescore: a result breaking a CHECK of results fails as it would, nothing stored" {
	jq -cn 'range(3) | {type:"case",case_id:("c\(.)"),model:"echo:",trial:0,
	    messages:[{role:"user",content:"n \(.)"}],expect:[{contains:"n"}]}' >in.jsonl
	bm-exec -q --run-id r-base <in.jsonl >/dev/null
	jq -c 'if .case_id == "c1" then .trial = -1 else . end' in.jsonl >new.jsonl
	run --separate-stderr bm-exec -q --run-id r-new --rescore r-base <new.jsonl
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: $BM_DB: CHECK constraint failed: trial >= 0" ]
	[ "$(jq -r .case_id <<<"$output" | paste -sd,)" = c0,c1 ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-new'")" = 0 ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM run_models WHERE run_id = 'r-new'")" = 0 ]
	# The CHECKs hold again for what comes after the rescore.
	run --separate-stderr sqlite3 bm.db "INSERT INTO results (run_id, case_id, model, status, record)
	    VALUES ('x', 'y', 'm', 'pass', 'not json')"
	[ "$status" -ne 0 ]
	[ "$stderr" = "Error: stepping, CHECK constraint failed: json_valid(record) (19)" ]
}

@test "bm-exec --rescore: killed (-9) mid-rescore, what was printed is stored and run_models is exact" {
	jq -cn 'range(5000) | {type:"case",case_id:("c\(.)"),model:"echo:",
	    messages:[{role:"user",content:"n \(.)"}],expect:[{contains:"n 1"}]}' >in.jsonl
	bm-exec -q -j 64 --run-id r-base <in.jsonl >/dev/null
	bm-exec -q --run-id r-new --rescore r-base <in.jsonl >out.jsonl 2>err.txt &
	pid=$!
	# Killed once some results are out, most likely mid-batch.
	for i in $(seq 3000); do
		[ "$(wc -l <out.jsonl)" -ge 1000 ] && break
		sleep "$TICK"
	done
	kill -9 "$pid" 2>/dev/null || true	# or it was done
	wait "$pid" || true
	[ "$(wc -l <out.jsonl)" -ge 1000 ]
	# A printed line is a committed row (the last may be cut by the kill).
	jq -R -r 'fromjson? | .case_id' out.jsonl | sort >printed
	sqlite3 bm.db "SELECT case_id FROM results WHERE run_id = 'r-new'" | sort >stored
	[ "$(wc -l <printed)" -ge 1000 ]
	[ "$(comm -23 printed stored | wc -l)" = 0 ]
	[ "$(sqlite3 bm.db "SELECT count(*) = total(json_valid(record)) FROM results WHERE run_id = 'r-new'")" = 1 ]
	models_exact r-new
	models_exact r-base
	[ "$(sqlite3 bm.db 'PRAGMA integrity_check')" = ok ]
}

# The columns of run RUN's rows that are not their record (NULL as -).
columns() {
	sqlite3 -nullvalue - bm.db "SELECT case_id, step, benchmark_id, model,
	    variant, trial, repeat, status, error_class, latency_ms, ttft_ms,
	    prompt_tokens, completion_tokens, cost_usd, score, output,
	    content_sha256 FROM results WHERE run_id = '$1' ORDER BY case_id, step"
}

@test "bm-exec --rescore: the same expectations give the stored records again, run_id aside; rows as bm-exec stores them" {
	stub
	# Two providers (the stub's usage), a variant with escapes, extra
	# fields, weights, not:, json, jq, entities (metrics), a sequence.
	jq -cn 'range(60) | {type:"case",case_id:"c\(.)",
	    benchmark_id:"b\(. % 3)",benchmark:"t",
	    model:(if . % 2 == 0 then "echo:" else "openai:m" end),
	    variant:(if . % 4 == 0 then "v\u00e9 \"q\"\t" else null end),
	    trial:(. % 2),repeat:0,content_sha256:"abc",
	    messages:[{role:"user",content:(if . % 5 == 0 then
	    "[\"aspirin\",\"ibuprofen\"]" else "What is \(.) + 1?" end)}],
	    expect:[{contains:"1"},{regex:"[0-9]+",weight:2},
	    {not:true,icontains:"ZZZ"},{json:true},{jq:". > 3"},
	    {entities:{expected:["aspirin","naproxen"],
	    match:"case-insensitive",min_f1:0.5}}],
	    params:{temperature:0.5},meta:{x:[1,2.5,null,true],s:"t\u00e9"}}' >in.jsonl
	jq -cn '{type:"case",case_id:"s1",model:"openai:m",steps:[
	    {prompt:"What is 1 + 1?",expect:[{equals:"2"}]},
	    {prompt:"What is 2 + 2?",expect:[{equals:"5"}]}]}' >>in.jsonl
	bm-exec -q -j 8 --run-id r-base <in.jsonl >base.jsonl || true
	[ "$(wc -l <base.jsonl)" = 62 ]
	run --separate-stderr bm-exec -q --run-id r-same --rescore r-base <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sort <<<"$output" | md5sum)" = \
	    "$(sed 's/"run_id":"r-base"/"run_id":"r-same"/' base.jsonl | sort | md5sum)" ]
	# Each row's record is its printed line, its columns the base run's.
	[ "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-same' ORDER BY rowid" | md5sum)" = \
	    "$(md5sum <<<"$output")" ]
	[ "$(columns r-same | md5sum)" = "$(columns r-base | md5sum)" ]
	[ "$(columns r-same | grep -c '|abc$')" = 60 ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-same' AND prompt_tokens > 0")" = 32 ]
	models_exact r-same
}

@test "bm-exec --rescore: a record of megabytes among small ones is printed whole and stored as printed" {
	printf '%*s' 3000000 '' | tr ' ' a >big.txt
	jq -cn --rawfile big big.txt 'range(5) | {type:"case",case_id:"c\(.)",
	    model:"echo:",messages:[{role:"user",
	    content:(if . == 2 then $big else "n \(.)" end)}],
	    expect:[{contains:"n"}]}' >in.jsonl
	bm-exec -q --run-id r-base <in.jsonl >/dev/null || true
	sed 's/"contains":"n"/"regex":"^a+$"/' in.jsonl >new.jsonl
	run --separate-stderr bm-exec -q --run-id r-new --rescore r-base <new.jsonl
	[ "$status" -eq 0 ] && [ "$stderr" = "" ]
	[ "$(jq -sc 'map([.case_id, .status, (.output | length)])' <<<"$output")" = \
	    '[["c0","fail",3],["c1","fail",3],["c2","pass",3000000],["c3","fail",3],["c4","fail",3]]' ]
	[ "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-new' ORDER BY rowid" | md5sum)" = \
	    "$(md5sum <<<"$output")" ]
	[ "$(sqlite3 bm.db "SELECT length(output), status FROM results WHERE run_id = 'r-new' AND case_id = 'c2'")" = "3000000|pass" ]
	models_exact r-new
}

@test "bm-exec --rescore: a stored record written otherwise (spacing, escapes, numbers, an escaped key) is printed as bm-exec prints it" {
	jq -cn 'range(3) | {type:"case",case_id:"c\(.)",model:"echo:",
	    messages:[{role:"user",content:"4/\(.) é"}],
	    expect:[{contains:"4"},{regex:"^[0-9]"}]}' >in.jsonl
	bm-exec -q --run-id r-base <in.jsonl >base.jsonl
	run --separate-stderr bm-exec -q --run-id r-a --rescore r-base <in.jsonl
	[ "$status" -eq 0 ] && [ "$stderr" = "" ]
	sed 's/"run_id":"r-a"//' <<<"$output" >a.jsonl
	# The same values, as another writer would put them.
	sqlite3 bm.db "UPDATE results SET record = replace(replace(replace(
	    replace(replace(record, '\"attempts\":1', '\"attempts\" : 1.0'),
	    '\"output\":\"4/0', '\"output\":\"\\u0034\\/0'),
	    '\"error\":null', ' \"error\":  null'), ' é', ' \\u00e9'),
	    '{\"type\"', '{ \"type\"') WHERE run_id = 'r-base' AND case_id = 'c0'"
	sqlite3 bm.db "UPDATE results SET record = replace(record, '\"output\"',
	    '\"\\u006futput\"') WHERE run_id = 'r-base' AND case_id = 'c1'"
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-base' AND (record LIKE '%\\u0034\\/%' OR record LIKE '%\\u006futput%')")" = 2 ]
	run --separate-stderr bm-exec -q --run-id r-b --rescore r-base <in.jsonl
	[ "$status" -eq 0 ] && [ "$stderr" = "" ]
	[ "$(sed 's/"run_id":"r-b"//' <<<"$output")" = "$(cat a.jsonl)" ]
	[ "$(sqlite3 bm.db "SELECT record FROM results WHERE run_id = 'r-b' ORDER BY rowid" | md5sum)" = \
	    "$(md5sum <<<"$output")" ]
}
