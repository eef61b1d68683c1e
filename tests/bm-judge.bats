#!/usr/bin/env bats
# bm-exec's judges (a second model call through the scheduler), panels,
# exit-code of exec providers and exec scorers, against the stub server.
load helper
load stub

setup() {
	stub_env sk-test
	unset JUDGE_KEY
}

teardown() {
	stub_stop
}

# Start the stub and write bm.yml: the model m (priced 1 and 2 USD per 1M
# tokens), the judges judge (10 and 20), judge-b and judge-c (unpriced);
# extra lines (EXTRA) are appended.
stub() {
	stub_start "$@"
	cat >bm.yml <<EOF
providers:
  stub: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", retries: 1}
  other: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: JUDGE_KEY}
models:
  m: {provider: stub, model: m, price: {input: 1, output: 2}}
  judge: {provider: stub, model: judge, price: {input: 10, output: 20}}
  judge-b: {provider: stub, model: judge-b}
  judge-c: {provider: stub, model: judge-c}
  keyless: {provider: other, model: keyless}
${EXTRA:-judge: {model: judge\}}
EOF
}

# case ID MODEL PROMPT [EXPECT-JSON]: one case record.
case_rec() {
	jq -cn --arg id "$1" --arg m "$2" --arg p "$3" --argjson x "${4:-[]}" \
	    '{type:"case",case_id:$id,benchmark_id:"b0",benchmark:"t",model:$m,
	      variant:null,trial:0,repeat:0,
	      messages:[{role:"user",content:$p}],expect:$x}'
}

# The stub's counter FIELD.
stat() {
	curl -sf "http://127.0.0.1:$PORT/stats" | jq ".$1"
}

# Requests the stub saw for model M.
asked() {
	jq -s --arg m "$1" '[.[] | select(.body.model? == $m)] | length' stub.log
}

run_exec() {
	run --separate-stderr bm-exec --no-db --run-id r-j --config bm.yml \
	    --backoff 0 "$@" <in.jsonl
}

@test "judge: pass, fail with its reason; the judge's tokens and cost apart" {
	stub
	{
		case_rec p1 m 'What is 2 + 2? [[usage=7,1]]' \
		    '[{"judge":"Is it 4? [[judge=pass]] [[usage=100,10]]"}]'
		case_rec f1 m 'What is 2 + 3? [[usage=7,1]]' \
		    '[{"judge":"Is it 4? [[judge=fail]] [[usage=50,5]]"},{"contains":"5"}]'
	} >in.jsonl
	run_exec
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -sc 'map({case_id,status,score,assertions,usage,cost_usd,
	    judge_usage,judge_cost_usd})' <<<"$output")" = \
	    '[{"case_id":"p1","status":"pass","score":1,"assertions":[{"type":"judge","pass":true,"score":1}],"usage":{"prompt_tokens":7,"completion_tokens":1},"cost_usd":9e-06,"judge_usage":{"prompt_tokens":100,"completion_tokens":10},"judge_cost_usd":0.0012},{"case_id":"f1","status":"fail","score":0.5,"assertions":[{"type":"judge","pass":false,"score":0,"reason":"the rubric is not met"},{"type":"contains","pass":true,"score":1}],"usage":{"prompt_tokens":7,"completion_tokens":1},"cost_usd":9e-06,"judge_usage":{"prompt_tokens":50,"completion_tokens":5},"judge_cost_usd":0.0006}]' ]
	# The judge was sent the question, the answer and the rubric.
	[ "$(jq -rs '[.[] | select(.body.model? == "judge")][0]
	    .body.messages[0].content' stub.log)" = "You are grading an answer to a question against a rubric.

Question:
What is 2 + 2? [[usage=7,1]]

Answer:
4

Rubric:
Is it 4? [[judge=pass]] [[usage=100,10]]

Reply with only a JSON object, no other text:
{\"pass\": true or false, \"score\": a number from 0 to 1, \"reason\": \"one short sentence\"}" ]
}

@test "judge: an unparseable answer is an error of class judge, not a fail" {
	stub
	case_rec g1 m 'What is 2 + 3?' '[{"judge":"Is it 5? [[judge=garbage]]"}]' \
	    >in.jsonl
	run_exec
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: 1 of 1 results ended in error (judge 1)" ]
	[ "$(jq -c '[.status, .error, .output, .score]' <<<"$output")" = \
	    '["error",{"class":"judge","message":"judge judge: no verdict in the judge'"'"'s answer \"I cannot decide.\"","http_status":null},"5",null]' ]
}

@test "judge: PASS and a number in words are read" {
	stub
	case_rec w1 m 'What is 2 + 3?' '[{"judge":"Is it 5? [[judge=words]]"}]' \
	    >in.jsonl
	run_exec
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -c '[.status, .assertions]' <<<"$output")" = \
	    '["pass",[{"type":"judge","pass":true,"score":0.8}]]' ]
}

@test "judge: a judge call that fails after its retries is an error of class judge" {
	stub
	case_rec s1 m 'What is 2 + 3?' '[{"judge":"Is it 5? [[status=500]]"}]' \
	    >in.jsonl
	run_exec --retries 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: 1 of 1 results ended in error (judge 1)" ]
	[ "$(jq -c '[.status, .error.class, .error.message, .output, .judge_usage]' \
	    <<<"$output")" = '["error","judge","judge judge: server: HTTP 500: llmstub: simulated HTTP 500","5",null]' ]
	[ "$(asked judge)" -eq 2 ]
	[ "$(asked m)" -eq 1 ]
}

@test "judge: a panel of three with one dissent passes with agreement 0.6667" {
	EXTRA='judge: {models: [judge, judge-b, judge-c]}' stub
	case_rec q1 m 'What is 2 + 3? [[usage=4,1]]' \
	    '[{"judge":"Is it 5? [[judge=pass]] [[judge-fail-model=judge-c]] [[usage=10,2]]"}]' \
	    >in.jsonl
	run_exec
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -c '[.status, .score, .assertions, .usage, .judge_usage,
	    .judge_cost_usd]' <<<"$output")" = \
	    '["pass",0.6666666666666666,[{"type":"judge","pass":true,"score":0.6666666666666666,"agreement":0.6667}],{"prompt_tokens":4,"completion_tokens":1},{"prompt_tokens":30,"completion_tokens":6},null]' ]
	[ "$(asked judge) $(asked judge-b) $(asked judge-c)" = "1 1 1" ]
}

@test "judge: a panel whose majority fails gives the majority's reason" {
	EXTRA='judge: {models: [judge, judge-c]}' stub
	case_rec q2 m 'What is 2 + 3?' \
	    '[{"judge":"Is it 5? [[judge=pass]] [[judge-fail-model=judge-c]]"}]' \
	    >in.jsonl
	run_exec
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -c '[.status, .assertions]' <<<"$output")" = \
	    '["fail",[{"type":"judge","pass":false,"score":0.5,"agreement":0.5,"reason":"the rubric is not met"}]]' ]
}

@test "judge: judges are counted in -j" {
	stub
	for i in 1 2 3 4; do
		case_rec "c$i" m "What is $i + 1? [[latency=100]]" \
		    '[{"judge":"ok? [[judge=pass]] [[latency=100]]"}]'
	done >in.jsonl
	run_exec -j 1
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -s 'map(.status) | unique' -c <<<"$output")" = '["pass"]' ]
	[ "$(stat requests)" -eq 8 ]
	# A judge not counted would overlap the next case's request.
	[ "$(stat max_in_flight)" -eq 1 ]
}

@test "judge: a judge that is the model under test is warned about once" {
	EXTRA='judge: {model: m}' stub
	for i in 1 2 3; do
		case_rec "s$i" m "What is $i + 1?" '[{"judge":"ok? [[judge=pass]]"}]'
	done >in.jsonl
	run_exec
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: judge model m is the model under test" ]
	[ "$(jq -s 'map(.status) | unique' -c <<<"$output")" = '["pass"]' ]
}

@test "judge: no judge or an unknown judge: config errors, no request" {
	EXTRA=' ' stub
	{
		case_rec n1 m 'What is 1 + 1?' '[{"judge":"ok?"}]'
		case_rec n2 m 'What is 1 + 1?' '[{"judge":{"rubric":"ok?","model":"nope"}}]'
	} >in.jsonl
	run_exec
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: 2 of 2 results ended in error (config 2)" ]
	[ "$(jq -c '[.case_id, .status, .error.class, .error.message, .output]' \
	    <<<"$output")" = '["n1","error","config","judge: no judge model (give the assertion a model: or bm.yml a judge:)",null]
["n2","error","config","judge: unknown model '"'"'nope'"'"'",null]' ]
	[ "$(stat requests)" -eq 0 ]
}

@test "judge: a judge whose API key is unset stops the run before any request" {
	EXTRA='judge: {model: judge}' stub
	{
		case_rec u1 m 'What is 1 + 1?' '[{"judge":{"rubric":"ok?","model":"keyless"}}]'
		jq -cn '{type:"case",case_id:"u2",benchmark_id:"b",benchmark:"t",
		    model:"m",variant:null,trial:0,repeat:0,steps:[{prompt:"a"},
		    {prompt:"b",expect:[{judge:{rubric:"x",model:"keyless"}}]}]}'
	} >in.jsonl
	run_exec
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: JUDGE_KEY is not set (needed by keyless)" ]
	[ "$output" = "" ]
	[ "$(stat requests)" -eq 0 ]
}

@test "judge: a sequence's next step waits for the judged result" {
	stub
	jq -cn '{type:"case",case_id:"q",benchmark_id:"b",benchmark:"t",
	    model:"m",variant:null,trial:0,repeat:0,steps:[
	    {prompt:"What is 1 + 1?",expect:[{judge:"two? [[judge=pass]]"}]},
	    {prompt:"What is 2 + 2?",expect:[{judge:"four? [[judge=fail]]"}]},
	    {prompt:"What is 3 + 3?"}]}' >in.jsonl
	run_exec
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -c '[.step, .status]' <<<"$output")" = '[0,"pass"]
[1,"fail"]
[2,"pass"]' ]
	# m, judge, m, judge, m: each step after its judge answered
	[ "$(jq -rs '[.[] | select(.body.model?) | .body.model] | join(" ")' \
	    stub.log)" = "m judge m judge m" ]
}

@test "judge: an answer from --cache is judged again" {
	stub
	case_rec k1 m 'What is 2 + 2?' '[{"judge":"four? [[judge=pass]]"}]' >in.jsonl
	run --separate-stderr bm-exec --run-id r-1 --cache --config bm.yml <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-1" ]
	run --separate-stderr bm-exec --run-id r-2 --cache --config bm.yml <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-2" ]
	[ "$(jq -c '[.status, .cached, .cost_usd, .judge_cost_usd]' \
	    <<<"$output")" = '["pass",true,null,0.00083]' ]
	[ "$(asked m) $(asked judge)" = "1 2" ]
}

@test "exit-code: the exit status of an exec provider is an answer" {
	{
		case_rec 3f2a9c1d 'exec:echo out; echo oops >&2; exit 3' x \
		    '[{"exit-code":3}]'
		case_rec 3f2a9c1e 'exec:echo out; exit 4' x '[{"exit-code":3}]'
		case_rec 3f2a9c1f 'exec:echo out; exit 4' x '[{"contains":"out"}]'
	} >in.jsonl
	run --separate-stderr bm-exec --no-db --run-id r-j <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: case 3f2a9c1d: oops
bm-exec: warning: 1 of 3 results ended in error (exec 1)" ]
	[ "$(jq -c '[.case_id, .status, .output, .assertions, .error.message]' \
	    <<<"$output" | sort)" = '["3f2a9c1d","pass","out",[{"type":"exit-code","pass":true,"score":1}],null]
["3f2a9c1e","fail","out",[{"type":"exit-code","pass":false,"score":0,"reason":"exit code 4, expected 3"}],null]
["3f2a9c1f","error",null,[],"exec echo out; exit 4 exited with status 4"]' ]
}

@test "exit-code: an agent killed by a signal or timed out stays an error" {
	{
		case_rec k1 'exec:kill -9 $$' x '[{"exit-code":0}]'
		case_rec k2 'exec:exec tail -f /dev/null' x '[{"exit-code":0}]'
	} >in.jsonl
	run --separate-stderr bm-exec --no-db --run-id r-j --timeout 0.3 \
	    --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: 2 of 2 results ended in error (timeout 1, exec 1)" ]
	[ "$(jq -c '[.case_id, .status, .error.class, .error.message]' \
	    <<<"$output" | sort)" = '["k1","error","exec","exec kill -9 $$ killed by signal 9"]
["k2","error","timeout","exec exec tail -f /dev/null: no answer within 0.3 s"]' ]
}

@test "exec providers: at most 5 stderr lines a case reach stderr, named by the case" {
	case_rec 3f2a9c1d 'exec:for i in 1 2 3 4 5 6 7; do echo "line $i" >&2; done; echo ok' x \
	    >in.jsonl
	run --separate-stderr bm-exec --no-db --run-id r-j <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: case 3f2a9c1d: line 1
bm-exec: case 3f2a9c1d: line 2
bm-exec: case 3f2a9c1d: line 3
bm-exec: case 3f2a9c1d: line 4
bm-exec: case 3f2a9c1d: line 5
bm-exec: case 3f2a9c1d: (2 more lines on stderr)" ]
	[ "$(jq -r .output <<<"$output")" = ok ]
}

@test "exec providers: an answer larger than max_response_bytes is refused" {
	cat >bm.yml <<'EOF'
providers:
  agent: {type: exec, command: "head -c 5000 /dev/zero | tr '\\0' x", max_response_bytes: 1000, retries: 0}
models:
  a: {provider: agent}
EOF
	case_rec b1 a x >in.jsonl
	run --separate-stderr bm-exec --no-db --run-id r-j --config bm.yml <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: 1 of 1 results ended in error (parse 1)" ]
	[ "$(jq -c '[.status, .error.class, .error.message, .output]' \
	    <<<"$output")" = "[\"error\",\"parse\",\"exec head -c 5000 /dev/zero | tr '\\\\0' x: answer larger than 1000 bytes\",null]" ]
}

@test "exec scorer: pass, fail, score and reason from stdout, reason from stderr" {
	{
		case_rec e1 echo:x 'hello' '[{"exec":"jq -e \".output == \\\"hello\\\"\" >/dev/null"}]'
		case_rec e2 echo:x 'hello' '[{"exec":"echo too short >&2; exit 1"}]'
		case_rec e3 echo:x 'hello' '[{"exec":"echo \"{\\\"score\\\":0.7,\\\"reason\\\":\\\"close\\\"}\"; exit 1"}]'
		case_rec e4 echo:x 'hello' '[{"exec":"echo not json; exit 0"},{"exec":"jq -e \".status == null and .assertions == null and .model == \\\"echo:x\\\"\" >/dev/null"}]'
	} >in.jsonl
	run --separate-stderr bm-exec --no-db --run-id r-j <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-j" ]
	[ "$(jq -c '[.case_id, .status, .score, .assertions]' <<<"$output" | sort)" = \
	    '["e1","pass",1,[{"type":"exec","pass":true,"score":1}]]
["e2","fail",0,[{"type":"exec","pass":false,"score":0,"reason":"too short"}]]
["e3","fail",0.7,[{"type":"exec","pass":false,"score":0.7,"reason":"close"}]]
["e4","pass",1,[{"type":"exec","pass":true,"score":1},{"type":"exec","pass":true,"score":1}]]' ]
}

@test "exec scorer: a scorer that times out or is killed is an error of class exec" {
	{
		case_rec t1 echo:x 'hello' '[{"exec":"exec tail -f /dev/null"}]'
		case_rec t2 echo:x 'hello' '[{"exec":"kill -9 $$"}]'
	} >in.jsonl
	run --separate-stderr bm-exec --no-db --run-id r-j --timeout 0.5 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: run r-j
bm-exec: warning: 2 of 2 results ended in error (exec 2)" ]
	[ "$(jq -c '[.case_id, .status, .error.class, .error.message, .output]' \
	    <<<"$output" | sort)" = '["t1","error","exec","exec scorer exec tail -f /dev/null: no verdict within 0.5 s","hello"]
["t2","error","exec","exec scorer kill -9 $$ killed by signal 9","hello"]' ]
}
