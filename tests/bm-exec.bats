#!/usr/bin/env bats
# bm-exec against the stub LLM server: results, error classes, retries,
# limits, sequences, resume, signals, secrets.
load helper
load stub

KEY=sk-SENTINEL-7f3e9a1c

setup() {
	stub_env "$KEY"
}

teardown() {
	stub_stop
}

# Start the stub (extra arguments: -d DELAY_MS); sets PORT and the base URL.
stub() {
	stub_start "$@"
}

# The number SQL selects from bm.db is at least N.
db_at_least() {
	[ "$(sqlite3 bm.db "$2" 2>/dev/null || echo 0)" -ge "$1" ]
}

# case ID MODEL PROMPT [EXPECT-JSON]: one case record.
case_rec() {
	jq -cn --arg id "$1" --arg m "$2" --arg p "$3" --argjson x "${4:-[]}" \
	    '{type:"case",case_id:$id,benchmark_id:"b0",benchmark:"t",model:$m,
	      variant:null,trial:0,repeat:0,
	      messages:[{role:"user",content:$p}],expect:$x}'
}

# Requests the stub saw whose last message is exactly TEXT.
seen() {
	jq -s --arg t "$1" '[.[] | select(.body.messages[-1].content == $t)]
	    | length' stub.log
}

# Six requests through a bucket holding 2, refilled at 2/s: the first two go
# out together, the sixth at about 2 s (checked on the stub's log).
burst_of_two_then_two_a_second() {
	[ "$(jq -s '(map(.t_ms) | max - min) as $d | $d >= 1900 and $d < 3000' stub.log)" = true ]
	[ "$(jq -s '(sort_by(.t_ms) | .[1].t_ms - .[0].t_ms) < 200' stub.log)" = true ]
}

@test "bm-exec --version and a bad option" {
	run --separate-stderr bm-exec --version
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "bm-exec 0.1.0" ]
	run --separate-stderr bm-exec -j x
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: -j: invalid number 'x'" ]
	run --separate-stderr bm-exec -j 0
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: -j: 0 is out of range (1 to 100000)" ]
	run --separate-stderr bm-exec --resume r-1 --no-db
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: --resume needs the database
usage: bm-exec [-q] [-v] [-j N] [--retries N] [--timeout S] [--stream]
               [--run-id ID | --resume RUN] [--grace S] [--backoff S]
               [--dry-run] [--cache] [--progress] [--status-interval S]
               [--give-up S] [--rescore RUN] [--rejudge] [--no-db]
               [--db PATH] [--config PATH]" ]
	[ "${stderr%%$'\n'*}" = "bm-exec: --resume needs the database" ]
	run --separate-stderr bm-exec --run-id ''
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: --run-id: a run id has 1 to 200 bytes
usage: bm-exec [-q] [-v] [-j N] [--retries N] [--timeout S] [--stream]
               [--run-id ID | --resume RUN] [--grace S] [--backoff S]
               [--dry-run] [--cache] [--progress] [--status-interval S]
               [--give-up S] [--rescore RUN] [--rejudge] [--no-db]
               [--db PATH] [--config PATH]" ]
	[ "${stderr%%$'\n'*}" = "bm-exec: --run-id: a run id has 1 to 200 bytes" ]
	run --separate-stderr bm-exec --run-id 'a b'
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: --run-id: a run id has no blanks or control characters
usage: bm-exec [-q] [-v] [-j N] [--retries N] [--timeout S] [--stream]
               [--run-id ID | --resume RUN] [--grace S] [--backoff S]
               [--dry-run] [--cache] [--progress] [--status-interval S]
               [--give-up S] [--rescore RUN] [--rejudge] [--no-db]
               [--db PATH] [--config PATH]" ]
	[ "${stderr%%$'\n'*}" = "bm-exec: --run-id: a run id has no blanks or control characters" ]
}

@test "bm-exec: one result per case, scored; other records pass through" {
	stub
	{
		case_rec c1 openai:gpt-4o-mini "What is 2 + 2?" '[{"equals":"4"}]'
		echo '{"type":"benchmark","id":"x"}'
		case_rec c2 echo: "hello there" '[{"contains":"there"}]'
		case_rec c3 openai:gpt-4o-mini "What is 2 + 3?" '[{"equals":"6"}]'
		case_rec c4 exec:"jq -r .messages[0].content | tr a-z A-Z" "shout"
	} >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-a <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c . <<<"$output")" = 5 ]
	[ "$(grep -c '"type":"benchmark"' <<<"$output")" = 1 ]
	[ "$(jq -sc 'map(select(.type=="result")) | sort_by(.case_id)
	    | map([.case_id,.status,.output,.attempts,.run_id])' <<<"$output")" = \
	    '[["c1","pass","4",1,"r-a"],["c2","pass","hello there",1,"r-a"],["c3","fail","5",1,"r-a"],["c4","pass","SHOUT",1,"r-a"]]' ]
	[ "$(jq -c 'select(.case_id=="c1") | [.usage.prompt_tokens>0, .latency_ms>=0, .error, .step, .assertions[0].type]' <<<"$output")" = '[true,true,null,0,"equals"]' ]
	[ "$(sqlite3 bm.db "SELECT count(*), count(DISTINCT case_id) FROM results WHERE run_id='r-a'")" = "4|4" ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id='r-a'")" = finished ]
}

@test "bm-exec: 401 is auth and not retried" {
	stub
	case_rec c1 openai:m "[[status=401]] hi" >in.jsonl
	run --separate-stderr bm-exec -q --no-db <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status,.error.class,.error.http_status,.attempts]' <<<"$output")" = '["error","auth",401,1]' ]
	[ "$(seen "[[status=401]] hi")" = 1 ]
}

@test "bm-exec: 429 is retried no sooner than Retry-After" {
	stub
	case_rec c1 openai:m "[[status=429]][[retry-after=1]][[fail-first=1]] What is 1 + 1?" '[{"equals":"2"}]' >in.jsonl
	run --separate-stderr bm-exec -q --no-db --backoff 0.001 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status,.attempts]' <<<"$output")" = '["pass",2]' ]
	gap=$(jq -s '.[1].t_ms - .[0].t_ms' stub.log)
	[ "$(jq -n "$gap >= 1000")" = true ]
}

@test "bm-exec: 500s are retried with backoff, up to --retries" {
	stub
	{
		case_rec c1 openai:m "[[fail-first=2]] What is 1 + 2?" '[{"equals":"3"}]'
		case_rec c2 openai:m "[[status=503]] never"
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db --backoff 0.01 --retries 2 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.status,.attempts,.error.class])' <<<"$output")" = '[["pass",3,null],["error",3,"server"]]' ]
	[ "$(seen "[[status=503]] never")" = 3 ]
	# A provider's retries: count unless --retries says otherwise.
	cat >bm.yml <<-EOF
	providers:
	  flaky: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", retries: 1}
	EOF
	case_rec c3 flaky:m "[[status=503]] again" >in.jsonl
	run --separate-stderr bm-exec -q --no-db --backoff 0.01 <in.jsonl
	[ "$stderr" = "" ]
	[ "$(jq -c '[.error.class,.attempts]' <<<"$output")" = '["server",2]' ]
	run --separate-stderr bm-exec -q --no-db --backoff 0.01 --retries 0 <in.jsonl
	[ "$stderr" = "" ]
	[ "$(jq -c '[.error.class,.attempts]' <<<"$output")" = '["server",1]' ]
	[ "$(seen "[[status=503]] again")" = 3 ]
}

@test "bm-exec: a hang ends as timeout, garbage as parse, too long as context_length" {
	stub
	{
		case_rec c1 openai:m "[[fault=hang]] x"
		case_rec c2 openai:m "[[fault=garbage]] x"
		case_rec c3 openai:m "[[status=400]][[error-code=context_length_exceeded]] x"
		case_rec c4 openai:m "[[fault=reset]] x"
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db --timeout 0.5 --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'sort_by(.case_id) | map(.error.class)' <<<"$output")" = '["timeout","parse","context_length","connection"]' ]
	[ "$(jq -s 'map(select(.case_id=="c1"))[0].latency_ms < 1500' <<<"$output")" = true ]
}

@test "bm-exec: requests in flight never above -j nor the provider's max" {
	stub -d 100
	for i in $(seq 30); do case_rec "a$i" openai:m "A $i"; done >in.jsonl
	run --separate-stderr bm-exec -q --no-db -j 3 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(.in_flight) | max' stub.log)" = 3 ]
	cat >bm.yml <<-EOF
	providers:
	  slow: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", max_concurrency: 2}
	EOF
	: >stub.log
	for i in $(seq 12); do case_rec "b$i" slow:m "B $i"; done >in.jsonl
	run --separate-stderr bm-exec -q --no-db -j 8 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(.in_flight) | max' stub.log)" = 2 ]
	[ "$(grep -c . <<<"$output")" = 12 ]
}

@test "bm-exec: step k of a sequence sends the whole conversation so far" {
	stub
	jq -cn '{type:"case",case_id:"s1",benchmark_id:"b",benchmark:"seq",
	    model:"openai:m",system:"Be brief.",steps:[
	    {prompt:"What is 1 + 1?",expect:[{equals:"2"}]},
	    {prompt:"What is 2 + 2?"},{prompt:"What is 3 + 3?",expect:[{equals:"7"}]}]}' >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-s <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.step,.status,.output])' <<<"$output")" = '[[0,"pass","2"],[1,"pass","4"],[2,"fail","6"]]' ]
	[ "$(jq -sc '.[2].body.messages' stub.log)" = '[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 1 + 1?"},{"role":"assistant","content":"2"},{"role":"user","content":"What is 2 + 2?"},{"role":"assistant","content":"4"},{"role":"user","content":"What is 3 + 3?"}]' ]
	[ "$(sqlite3 bm.db "SELECT group_concat(step) FROM results WHERE run_id='r-s'")" = "0,1,2" ]
}

@test "bm-exec: the context is checked before sending" {
	stub
	cat >bm.yml <<-EOF
	models:
	  tiny: {provider: openai, model: tiny, context: 10}
	EOF
	jq -cn '{type:"case",case_id:"c1",benchmark_id:"b",benchmark:"t",
	    model:"tiny",messages:[{role:"user",content:"0123456789012345678901234567890123456789"}],
	    params:{max_tokens:1}}' >in.jsonl
	run --separate-stderr bm-exec -q --no-db <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.error.class,.error.message,.attempts]' <<<"$output")" = '["context_length","the prompt (about 10 tokens, estimated) and max_tokens 1 exceed the model'"'"'s context of 10 tokens",0]' ]
	[ ! -s stub.log ]
}

@test "bm-exec: kill -9, then --resume: one result per case, no second request for a finished case" {
	stub -d 100
	for i in $(seq 40); do case_rec "k$i" openai:m "K $i"; done >in.jsonl
	bm-exec -q --run-id r-k -j 4 <in.jsonl >out1 2>err1 &
	pid=$!
	until_true db_at_least 5 "SELECT count(*) FROM results WHERE status = 'pass'"
	kill -9 $pid
	wait $pid || true
	sqlite3 bm.db "SELECT case_id FROM results WHERE run_id='r-k' AND status='pass'" | sort >done1
	[ -s done1 ]
	[ "$(wc -l <done1)" -lt 40 ]
	run --separate-stderr bm-exec -q --resume r-k -j 4 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(.case_id) | unique | length' <<<"$output")" = 40 ]
	[ "$(grep -c . <<<"$output")" = 40 ]
	[ "$(sqlite3 bm.db "SELECT count(*), count(DISTINCT case_id), sum(status='pass') FROM results WHERE run_id='r-k'")" = "40|40|40" ]
	while read -r c; do
		[ "$(seen "K ${c#k}")" = 1 ]
	done <done1
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id='r-k'")" = finished ]
}

@test "bm-exec: SIGINT stops, cancels, commits and exits 130" {
	stub -d 3000
	for i in $(seq 10); do case_rec "i$i" openai:m "I $i"; done >in.jsonl
	bm-exec --run-id r-i -j 2 --grace 0.2 <in.jsonl >out 2>err &
	pid=$!
	until_true stub_at_least in_flight 2
	kill -INT $pid
	st=0
	wait $pid || st=$?
	[ "$st" -eq 130 ]
	[ "$(cat err)" = "bm-exec: run r-i
bm-exec: warning: interrupted: finishing 2 requests in flight (0.2 s)
bm-exec: warning: 10 of 10 results ended in error (cancelled 10)
bm-exec: to resume: bm-exec --resume r-i < the same cases" ]
	[ "$(jq -sc 'map(.error.class) | unique' out)" = '["cancelled"]' ]
	[ "$(wc -l <out)" -eq 10 ]
	[ "$(sqlite3 bm.db "SELECT count(*), sum(error_class='cancelled') FROM results WHERE run_id='r-i'")" = "10|10" ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id='r-i'")" = interrupted ]
	[ "$(sqlite3 bm.db 'PRAGMA integrity_check')" = ok ]
	[ "$(jq -s 'map(select(.path != "/stats")) | length' stub.log)" = 2 ]
}

@test "bm-exec: the API key never appears in stdout, stderr or the database" {
	stub
	{
		case_rec c1 openai:m "What is 2 + 2?"
		case_rec c2 openai:m "[[status=401]] x"
		case_rec c3 openai:m "[[fault=garbage]] x"
	} >in.jsonl
	run --separate-stderr bm-exec -v --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$(sed -e 's/^bm-exec: run r-.*/bm-exec: run RUN/' -e '/^bm-exec: [0-9]*\/3 done: /d' <<<"$stderr" | LC_ALL=C sort)" = "bm-exec: case c2: auth: HTTP 401: llmstub: simulated HTTP 401
bm-exec: case c3: parse: response is not a JSON object
bm-exec: run RUN
bm-exec: warning: 2 of 3 results ended in error (auth 1, parse 1)" ]
	grep -q "$KEY" stub.log
	! grep -q "$KEY" <<<"$output$stderr" || false
	! grep -aq "$KEY" bm.db bm.db-wal 2>/dev/null || false
}

@test "bm-exec: malformed input lines are named and skipped" {
	{
		echo '{"type":"case",'
		echo '[1]'
		case_rec c1 echo: "hi"
		echo '{"type":"case","case_id":"x"}'
		echo '{"type":"case","case_id":"y","model":"echo:","steps":[{"prompt":"a"},{"expect":[]}]}'
		echo '{"type":"case","case_id":"z","model":"echo:","messages":[{"content":"a"}]}'
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: <stdin>:1: invalid JSON near column 16
bm-exec: <stdin>:2: expected an object, got an array
bm-exec: <stdin>:4: case needs case_id, model and messages or steps
bm-exec: <stdin>:5: case y: step 1 has no prompt
bm-exec: <stdin>:6: case z: message 0 has no role" ]
	[ "$(jq -c '[.case_id,.status]' <<<"$output")" = '["c1","pass"]' ]
	# --dry-run says the same.
	run --separate-stderr bm-exec -q --dry-run <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: <stdin>:1: invalid JSON near column 16
bm-exec: <stdin>:2: expected an object, got an array
bm-exec: <stdin>:4: case needs case_id, model and messages or steps
bm-exec: <stdin>:5: case y: step 1 has no prompt
bm-exec: <stdin>:6: case z: message 0 has no role" ]
}

@test "bm-exec: exec provider: non-zero exit is exec, a hang is killed by group" {
	{
		case_rec e1 "exec:exit 3" "x"
		# A duration of its own: other tests may run sleeps meanwhile.
		s=30.$$
		case_rec e2 "exec:sleep $s & sleep $s" "x"
	} >in.jsonl
	start=$(date +%s)
	run --separate-stderr bm-exec -q --no-db --timeout 0.5 --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ $(( $(date +%s) - start )) -lt 5 ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.error.class,.error.message])' <<<"$output")" = '[["exec","exec exit 3 exited with status 3"],["timeout","exec sleep '"$s & sleep $s"': no answer within 0.5 s"]]' ]
	! pgrep -fx "sleep $s" >/dev/null || false
}

@test "bm-exec --stream records ttft_ms" {
	stub
	case_rec c1 openai:m "[[sse-delay=50]] What is 4 + 4?" '[{"equals":"8"}]' >in.jsonl
	run --separate-stderr bm-exec -q --no-db --stream <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status,.output,.ttft_ms > 0,.ttft_ms <= .latency_ms]' <<<"$output")" = '["pass","8",true,true]' ]
	[ "$(jq -s '.[0].body.stream' stub.log)" = true ]
}

@test "bm-exec: anthropic and ollama providers" {
	stub
	export ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=ak-x
	export OLLAMA_HOST="http://127.0.0.1:$PORT"
	cat >bm.yml <<-EOF
	providers:
	  claude: {type: anthropic, base_url: "http://127.0.0.1:$PORT", api_key_env: ANTHROPIC_API_KEY}
	  llama: {type: ollama, base_url: "http://127.0.0.1:$PORT"}
	EOF
	{
		case_rec c1 claude:m "What is 5 + 5?" '[{"equals":"10"}]'
		case_rec c2 llama:m "What is 6 + 6?" '[{"equals":"12"}]'
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.status,.output])' <<<"$output")" = '[["pass","10"],["pass","12"]]' ]
	[ "$(jq -sc 'map(.path) | sort' stub.log)" = '["/api/chat","/v1/messages"]' ]
}

@test "bm-exec --cache answers an identical request from the database" {
	stub
	case_rec c1 openai:m "What is 7 + 7?" >in.jsonl
	run --separate-stderr bm-exec -q --cache <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run --separate-stderr bm-exec -q --cache <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.output,.cached]' <<<"$output")" = '["14",true]' ]
	[ "$(jq -s length stub.log)" = 1 ]
}

@test "bm-exec --dry-run checks and estimates without a request" {
	cat >bm.yml <<-EOF
	models:
	  priced: {provider: openai, model: p, context: 100, price: {input: 1000000, output: 2000000}}
	EOF
	{
		jq -cn '{type:"case",case_id:"c1",model:"priced",messages:[{role:"user",content:"12345678"}],params:{max_tokens:3}}'
		case_rec c2 nosuch:m "x"
	} >in.jsonl
	unset OPENAI_API_KEY
	run --separate-stderr bm-exec --dry-run <in.jsonl
	[ "$status" -eq 1 ]
	[ "$output" = '{"type":"estimate","model":"priced","cases":1,"prompt_tokens":2,"completion_tokens":3,"cost_usd":8}' ]
	[[ "$stderr" == *"$(printf '%-32s %8s %14s %18s %12s' priced 1 2 3 8.000000)"* ]]
	[[ "$stderr" == *"<stdin>:1: case c1: OPENAI_API_KEY is not set"* ]]
	[[ "$stderr" == *"<stdin>:2: case c2: "* ]]
	[ ! -e bm.db ]
}

@test "bm-exec: Retry-After as an HTTP date" {
	stub
	case_rec c1 openai:m "[[status=429]][[retry-after-date=2]][[fail-first=1]] What is 2 + 5?" '[{"equals":"7"}]' >in.jsonl
	run --separate-stderr bm-exec -q --no-db --backoff 0.001 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status,.attempts]' <<<"$output")" = '["pass",2]' ]
	# An HTTP date has whole seconds: at least one of the two asked for.
	[ "$(jq -s '.[1].t_ms - .[0].t_ms >= 1000' stub.log)" = true ]
}

@test "bm-exec: rpm is a token bucket holding one second's worth" {
	stub
	cat >bm.yml <<-EOF
	providers:
	  slow: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", rpm: 120}
	EOF
	for i in $(seq 6); do case_rec "r$i" slow:m "R $i"; done >in.jsonl
	run --separate-stderr bm-exec -q --no-db -j 8 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# rpm 120: a burst of 2, then 2 a second.
	burst_of_two_then_two_a_second
}

@test "bm-exec: a 429 storm halves the window and opens the breaker, then recovers" {
	stub
	for i in $(seq 8); do case_rec "w$i" openai:m "[[status=429]][[retry-after=0]][[fail-first=1]] What is $i + 1?"; done >in.jsonl
	run --separate-stderr bm-exec -q --no-db -j 8 --backoff 0.05 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(select(.status=="pass")) | length' <<<"$output")" = 8 ]
	[ "$(jq -s length stub.log)" = 16 ]
}

@test "bm-exec --stream against anthropic: ttft_ms to the first delta, output exact" {
	stub
	export ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=ak-x
	ans="The quick  brown fox, jumps over: the lazy dog."
	case_rec c1 anthropic:claude-x "[[sse-delay=40]][[answer=$ans]] go" \
	    "$(jq -cn --arg a "$ans" '[{equals:$a}]')" >in.jsonl
	run --separate-stderr bm-exec -q --no-db --stream <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c --arg a "$ans" '[.status, .output == $a, .usage.completion_tokens, .error]' <<<"$output")" = '["pass",true,9,null]' ]
	# Three pieces of three words, 40 ms apart: the first token comes
	# well before the last.
	[ "$(jq '.ttft_ms > 0 and .latency_ms - .ttft_ms >= 70' <<<"$output")" = true ]
	[ "$(jq -sc 'map([.path, .body.stream, .headers["anthropic-version"] != null])' stub.log)" = '[["/v1/messages",true,true]]' ]
}

@test "bm-exec: the circuit breaker opens after 5 failures in a row and pauses that provider only" {
	stub
	cat >bm.yml <<-EOF
	providers:
	  good: {type: openai, base_url: "http://127.0.0.1:$PORT/v1"}
	EOF
	{
		for i in $(seq 7); do case_rec "f$i" openai:m "[[status=500]] f$i"; done
		case_rec g1 good:m "What is 1 + 1?" '[{"equals":"2"}]'
		case_rec g2 good:m "What is 2 + 1?" '[{"equals":"3"}]'
	} >in.jsonl
	# --backoff 0.15: the breaker stays open 10 x 0.15 s = 1.5 s.
	bm-exec -q --no-db -j 1 --retries 0 --backoff 0.15 <in.jsonl >out 2>err &
	pid=$!
	until_true stub_at_least requests 7
	curl -sf "http://127.0.0.1:$PORT/stats" >stats
	st=0
	wait $pid || st=$?
	[ "$st" -eq 1 ]
	[ ! -s err ]
	# In the cool-down: five failures sent, f6 and f7 held back, the
	# other provider's cases sent meanwhile.
	[ "$(jq -c '[.requests, (.by_message | keys
	    | map(select(startswith("[[status=500]]"))))]' stats)" = \
	    '[7,["[[status=500]] f1","[[status=500]] f2","[[status=500]] f3","[[status=500]] f4","[[status=500]] f5"]]' ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.case_id, .status, .error.class, .attempts])' out)" = \
	    '[["f1","error","server",1],["f2","error","server",1],["f3","error","server",1],["f4","error","server",1],["f5","error","server",1],["f6","error","server",1],["f7","error","server",1],["g1","pass",null,1],["g2","pass",null,1]]' ]
	# f6 is the probe after the cool-down; it fails, so f7 waits again.
	[ "$(jq -s '[.[] | select(.body.messages[-1].content? // "" | startswith("[[status=500]]"))]
	    | (.[4].t_ms - .[0].t_ms < 1000) and (.[5].t_ms - .[4].t_ms >= 1500)
	      and (.[6].t_ms - .[5].t_ms >= 1500)' stub.log)" = true ]
}

@test "bm-exec: a progress line on a terminal, and messages do not run into it" {
	stub -d 300
	{
		for i in $(seq 6); do case_rec "p$i" openai:m "What is $i + 1?"; done
		case_rec p7 openai:m "[[status=401]] no"
	} >in.jsonl
	st=0
	NO_COLOR= script -qfec "bm-exec -v --no-db -j 2 <in.jsonl >out" /dev/null >tty || st=$?
	[ "$st" -eq 1 ]
	[ "$(grep -c . out)" = 7 ]
	# Redrawn in place: each line starts with a carriage return and an
	# erase, and errors are in red.
	grep -q $'\r\e\\[Kbm-exec: 0/7 done: 0 pass, 0 fail, 0 error | 0.0 req/s | openai 2/2' tty
	tr '\r' '\n' <tty | sed 's/\x1b\[K//g' >lines
	grep -Eq $'^bm-exec: [2-5]/7 done: [1-5] pass, 0 fail, (0 error|\e\\[31m1 error\e\\[0m) \\| [0-9]+\\.[0-9] req/s \\| ETA [0-9]+s \\| openai [12]/2$' lines
	grep -q $'^bm-exec: 7/7 done: 6 pass, 0 fail, \e\\[31m1 error\e\\[0m | [0-9.]* req/s$' lines
	# The -v message about p7 has a line of its own.
	grep -q 'case p7: auth' lines
	! grep 'case p7' lines | grep -q 'req/s' || false
	# Records on the terminal too get lines of their own.
	script -qfec "bm-exec -q --no-db -j 4 <in.jsonl" /dev/null >tty || true
	[ "$(tr '\r' '\n' <tty | sed 's/\x1b\[K//g' | grep -c '^{"type":"result"')" = 7 ]
	[ "$(grep -c 'req/s.*"type":"result"' tty)" = 0 ]
	# --progress forces the line without a terminal.
	run --separate-stderr bm-exec -q --progress --no-db -j 2 <in.jsonl
	[ "$status" -eq 1 ]
	[[ "$stderr" == *$'\r\e[Kbm-exec: 7/7 done: 6 pass, 0 fail, 1 error | '*' req/s' ]]
}

@test "bm-exec -v without a terminal: a plain status line every --status-interval" {
	stub -d 200
	for i in $(seq 6); do case_rec "v$i" openai:m "What is $i + 2?"; done >in.jsonl
	run --separate-stderr bm-exec -v --no-db -j 1 --status-interval 0.3 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$(grep -v '^bm-exec: [0-9]*/6 done' <<<"$stderr" | sed 's/^bm-exec: run r-.*/bm-exec: run RUN/')" = "bm-exec: run RUN" ]
	[[ "$stderr" != *$'\r'* && "$stderr" != *$'\e'* ]]
	grep '^bm-exec: [0-9]*/6 done' <<<"$stderr" >status
	[ "$(wc -l <status)" -ge 3 ]
	grep -Eq '^bm-exec: [1-5]/6 done: [1-5] pass, 0 fail, 0 error \| [0-9.]+ req/s \| ETA [0-9]+s \| openai 1/1$' status
	[[ "$(tail -n1 status)" =~ ^bm-exec:\ 6/6\ done:\ 6\ pass,\ 0\ fail,\ 0\ error\ \|\ [0-9.]+\ req/s$ ]]
	# No line twice in a row.
	[ -z "$(uniq -d status)" ]
	# Without -v (and no terminal), no status line.
	run --separate-stderr bm-exec --no-db --run-id r-x <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-x" ]
	run --separate-stderr bm-exec --status-interval 0 <in.jsonl
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: --status-interval: 0 is out of range (0.01 to 86400)" ]
}

@test "bm-exec: a second signal (SIGINT, then SIGTERM) cancels at once" {
	stub -d 3000
	for i in $(seq 6); do case_rec "d$i" openai:m "D $i"; done >in.jsonl
	bm-exec --run-id r-d -j 2 --grace 10 <in.jsonl >out 2>err &
	pid=$!
	until_true stub_at_least in_flight 2
	kill -INT $pid
	until_true grep -q 'finishing 2 requests' err
	t0=$(date +%s%N)
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	[ "$st" -eq 130 ]
	# Not the 10 s of grace, nor the 3 s the stub takes.
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1500 ]
	[ "$(cat err)" = "bm-exec: run r-d
bm-exec: warning: interrupted: finishing 2 requests in flight (10 s)
bm-exec: warning: interrupted again: cancelling 2 requests in flight
bm-exec: warning: 6 of 6 results ended in error (cancelled 6)
bm-exec: to resume: bm-exec --resume r-d < the same cases" ]
	[ "$(jq -sc 'map(.error.class) | unique' out)" = '["cancelled"]' ]
	[ "$(sqlite3 bm.db "SELECT count(*), sum(error_class='cancelled') FROM results WHERE run_id='r-d'")" = "6|6" ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id='r-d'")" = interrupted ]
	[ "$(jq -s 'map(select(.path != "/stats")) | length' stub.log)" = 2 ]
}

@test "bm-exec --resume of a sequence rebuilds the conversation from the stored steps" {
	stub
	jq -cn '{type:"case",case_id:"q1",benchmark_id:"b",benchmark:"seq",
	    model:"openai:m",system:"Be brief.",steps:[
	    {prompt:"What is 1 + 1?"},{prompt:"[[fail-first=1]] What is 2 + 2?"},
	    {prompt:"What is 3 + 3?",expect:[{equals:"6"}]}]}' >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-q --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.step,.status,.error.class])' <<<"$output")" = '[[0,"pass",null],[1,"error","server"],[2,"error","server"]]' ]
	# The stored answer, not a fresh one, is what the resumed steps see.
	sqlite3 bm.db "UPDATE results SET output='TWO', record=json_set(record,'\$.output','TWO') WHERE run_id='r-q' AND step=0"
	: >stub.log
	run --separate-stderr bm-exec -q --resume r-q <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map([.step,.status,.output,.run_id])' <<<"$output")" = '[[0,"pass","TWO","r-q"],[1,"pass","4","r-q"],[2,"pass","6","r-q"]]' ]
	[ "$(jq -s 'map(select(.path != "/stats")) | length' stub.log)" = 2 ]
	[ "$(jq -sc '.[0].body.messages' stub.log)" = '[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 1 + 1?"},{"role":"assistant","content":"TWO"},{"role":"user","content":"[[fail-first=1]] What is 2 + 2?"}]' ]
	[ "$(jq -sc '.[1].body.messages[2:]' stub.log)" = '[{"role":"assistant","content":"TWO"},{"role":"user","content":"[[fail-first=1]] What is 2 + 2?"},{"role":"assistant","content":"4"},{"role":"user","content":"What is 3 + 3?"}]' ]
	[ "$(sqlite3 bm.db "SELECT group_concat(step || status) FROM results WHERE run_id='r-q'")" = "0pass,1pass,2pass" ]
	# Resumed again: everything finished, no request at all.
	: >stub.log
	run --separate-stderr bm-exec -q --resume r-q <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c . <<<"$output")" = 3 ]
	[ ! -s stub.log ]
}

@test "bm-exec: a 429 halves the provider's window, which grows back by one per success" {
	stub -d 100
	{
		for i in $(seq 4); do case_rec "w$i" openai:m "[[status=429]][[retry-after=0]][[fail-first=1]] W $i"; done
		for i in $(seq 8); do case_rec "n$i" openai:m "N $i"; done
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db -j 4 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(select(.status=="pass")) | length' <<<"$output")" = 12 ]
	# Four 429s take the window from 4 to 1: the next request goes out
	# alone, the one after it with one more, then up to 4 again.
	[ "$(jq -sc 'sort_by(.n) | map(.in_flight) | [(.[0:4] | max), .[4], .[5], (.[6:] | max)]' stub.log)" = '[4,1,1,4]' ]
}

@test "bm-exec: tpm is a token bucket of estimated tokens holding one second's worth" {
	stub
	cat >bm.yml <<-EOF
	providers:
	  slow: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", tpm: 1200}
	EOF
	# "T i" is 1 token, max_tokens 9: 10 a request; tpm 1200 holds 20.
	for i in $(seq 6); do
		jq -cn --arg i "$i" '{type:"case",case_id:("t"+$i),model:"slow:m",
		    messages:[{role:"user",content:("T "+$i)}],params:{max_tokens:9}}'
	done >in.jsonl
	run --separate-stderr bm-exec -q --no-db -j 8 <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	burst_of_two_then_two_a_second
}

@test "bm-exec: OPENAI_BASE_URL and OPENAI_API_KEY as the SDK reads them" {
	stub
	[ ! -e bm.yml ]
	case_rec c1 openai:gpt-4o-mini "What is 3 + 4?" '[{"equals":"7"}]' >in.jsonl
	run --separate-stderr bm-exec -q --no-db <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.status,.output]' <<<"$output")" = '["pass","7"]' ]
	[ "$(jq -c '[.path, .headers.authorization, .body.model]' stub.log)" = "[\"/v1/chat/completions\",\"Bearer $KEY\",\"gpt-4o-mini\"]" ]
	# Unset, the key is a setup error found before any request: one
	# message naming the variable and the models, and no run.
	unset OPENAI_API_KEY
	: >stub.log
	case_rec c2 openai:m "x" >>in.jsonl
	case_rec c3 openai:m "y" >>in.jsonl
	case_rec c4 echo: "z" >>in.jsonl
	run --separate-stderr bm-exec <in.jsonl
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "bm-exec: OPENAI_API_KEY is not set (needed by openai:gpt-4o-mini, openai:m)" ]
	[ ! -s stub.log ]
	[ ! -e bm.db ]
}

@test "bm-exec: a result has every field of DESIGN.md §4, null where it does not apply" {
	stub
	{
		jq -cn '{type:"case",case_id:"f1",model:"echo:",messages:[{role:"user",content:"hi"}],tags:["x"]}'
		case_rec f2 openai:m "[[status=400]] bad"
		case_rec f3 openai:m "What is 2 + 9?" '[{"entities":{"expected":["11"]}}]'
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	fields='["type","run_id","case_id","benchmark_id","benchmark","model","variant","trial","repeat","step","status","error","output","latency_ms","ttft_ms","attempts","usage","cost_usd","score","assertions","metrics","started_at","finished_at"]'
	# In this order, then the case's other fields.
	[ "$(jq -sc --argjson f "$fields" 'map(keys_unsorted[:($f|length)] == $f) | unique' <<<"$output")" = '[true]' ]
	[ "$(jq -c 'select(.case_id=="f1") | [.benchmark_id,.benchmark,.variant,.trial,.repeat,.error,.ttft_ms,.usage,.cost_usd,.metrics,.tags]' <<<"$output")" = '[null,null,null,null,null,null,null,null,null,null,["x"]]' ]
	[ "$(jq -c 'select(.case_id=="f2") | [.status,.error.class,.error.http_status,.output,.score,.assertions,.usage]' <<<"$output")" = '["error","bad_request",400,null,null,[],null]' ]
	[ "$(jq -c 'select(.case_id=="f3") | [.status,.metrics.f1,.usage.completion_tokens]' <<<"$output")" = '["pass",1,1]' ]
}

@test "bm-exec --dry-run: tokens and cost per model, a total, sequences counted step by step" {
	cat >bm.yml <<-EOF
	models:
	  a: {provider: echo, model: a, price: {input: 1000000, output: 1000000}}
	  b: {provider: echo, model: b, chars_per_token: 2}
	EOF
	{
		jq -cn '{type:"case",case_id:"c1",model:"a",messages:[{role:"user",content:"12345678"}],params:{max_tokens:3}}'
		jq -cn '{type:"case",case_id:"c2",model:"a",steps:[{prompt:"1234"},{prompt:"1234"}],params:{max_tokens:1}}'
		jq -cn '{type:"case",case_id:"c3",model:"b",messages:[{role:"user",content:"12345678"}]}'
		echo '{"type":"benchmark","id":"x"}'
	} >in.jsonl
	run --separate-stderr bm-exec --dry-run <in.jsonl
	[ "$status" -eq 0 ]
	# c1: 2 + 3; c2: 1 + 1, then 2 + 1; c3: 4 at 2 characters a token.
	[ "$stderr" = "$(printf '%-32s %8s %14s %18s %12s\n' model cases prompt_tokens max_output_tokens cost_usd \
	    a 2 5 5 10.000000 b 1 4 0 - total 3 9 5 -)" ]
	# Records on stdout, so | jq works; -q keeps the table for itself.
	[ "$(jq -c '[.type, .model, .cases, .prompt_tokens, .completion_tokens, .cost_usd]' <<<"$output")" = '["estimate","a",2,5,5,10]
["estimate","b",1,4,0,null]' ]
	run --separate-stderr bm-exec -q --dry-run <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c estimate <<<"$output")" = 2 ]
}

@test "bm-exec reads a piped case stream ahead into a temporary file, not into memory" {
	stub -d 1000
	pad=$(printf '%04000d' 0)
	# 400 cases of 4 KB through a pipe: read to the end before the first
	# request (keys checked, total known), kept in an unlinked file.
	for i in $(seq 400); do
		printf '{"type":"case","case_id":"b%d","model":"openai:m","messages":[{"role":"user","content":"B %d %s"}]}\n' "$i" "$i" "$pad"
	done | bm-exec -v --no-db -j 1 --grace 0 --status-interval 0.1 >out 2>err &
	pid=$!
	until_true stub_at_least requests 1
	until_true grep -q '^bm-exec: 0/400 done' err
	size=$(stat -L -c %s /proc/$pid/fd/* 2>/dev/null | sort -n | tail -n1)
	[ "$size" -gt 1600000 ]
	[ "$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)" -lt 60000 ]
	kill -INT $pid
	st=0
	wait $pid || st=$?
	[ "$st" -eq 130 ]
	# Only the cases taken up (2 x -j + 16) have results.
	[ "$(jq -s 'length' out)" -lt 40 ]
	[ "$(jq -s 'map(select(.path != "/stats")) | length' stub.log)" -le 2 ]
}

@test "bm-exec: when the reader goes away, no more requests" {
	stub -d 200
	for i in $(seq 10); do case_rec "h$i" openai:m "H $i"; done >in.jsonl
	st=$( { bm-exec --run-id r-h -j 1 <in.jsonl 2>err; echo $? >st; } | head -c 10 >/dev/null; cat st)
	[ "$st" -eq 2 ]
	[ "$(tail -n1 err)" = "bm-exec: stdout: Broken pipe" ]
	[ "$(jq -s length stub.log)" -le 3 ]
	# What ran is stored; the rest is cancelled, for --resume.
	[ "$(sqlite3 bm.db "SELECT count(*), sum(status='pass') + sum(error_class='cancelled') FROM results WHERE run_id='r-h'")" = "10|10" ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id='r-h'")" = interrupted ]
}

@test "bm-exec: redaction rewrites no data: a key of null, EMPTY or ollama leaves records valid and answers exact" {
	stub
	{
		case_rec r1 openai:m "[[answer=null EMPTY test]] x" '[{"equals":"null EMPTY test"}]'
		case_rec r2 echo: "say null"
		case_rec r3 openai:m "[[status=null]] x"
	} >in.jsonl
	OPENAI_API_KEY=null run --separate-stderr bm-exec -v --retries 0 --run-id r-n <in.jsonl
	[ "$status" -eq 1 ]
	# Every line is JSON; null is null, answers are what was scored.
	[ "$(jq -sc 'sort_by(.case_id) | map([.case_id, .variant, .status, .output])' <<<"$output")" = \
	    '[["r1",null,"pass","null EMPTY test"],["r2",null,"pass","say null"],["r3",null,"error",null]]' ]
	# The server's message quotes the key: that string value is redacted.
	[ "$(jq -r 'select(.case_id == "r3") | .error.message' <<<"$output")" = \
	    "HTTP 400: llmstub: bad directive [[status=[REDACTED]]]: expected an HTTP status from 400 to 599" ]
	[[ "$stderr" == *"case r3: bad_request: HTTP 400: llmstub: bad directive [[status=[REDACTED]]]"* ]]
	[ "$(sqlite3 bm.db "SELECT count(*), sum(json_valid(record)) FROM results WHERE run_id = 'r-n'")" = "3|3" ]
	[ "$(sqlite3 bm.db "SELECT output FROM results WHERE case_id = 'r1'")" = "null EMPTY test" ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id = 'r-n'")" = finished ]
}

@test "bm-exec: every result line printed is committed, and flushed at once into a regular file" {
	stub -d 40
	for i in $(seq 300); do case_rec "w$i" openai:m "W $i"; done >in.jsonl
	case_rec slow openai:m "[[latency=60000]] slow" >>in.jsonl
	bm-exec -q --run-id r-w -j 8 <in.jsonl >out 2>err &
	pid=$!
	until_true stub_at_least requests 120
	kill -9 $pid
	wait $pid || true
	[ -s out ]
	jq -r .case_id out | sort >printed
	sqlite3 bm.db "SELECT case_id FROM results WHERE run_id = 'r-w'" | sort >stored
	[ -z "$(comm -23 printed stored)" ]
	# A regular file gets each line at once: the fast case is there while
	# the slow one still runs.
	{
		case_rec f1 echo: "fast"
		case_rec f2 openai:m "[[fault=hang]] slow"
	} >in2.jsonl
	bm-exec -q --no-db <in2.jsonl >out2 2>err2 &
	pid=$!
	until_true grep -q '"case_id":"f1"' out2
	kill -9 $pid
	wait $pid || true
	[ "$(cat err)" = "" ]
	[ "$(cat err2)" = "" ]
}

@test "bm-exec: a database locked past the busy timeout stops the spending; results stay on stdout; exit 2" {
	stub -d 100
	for i in $(seq 60); do case_rec "l$i" openai:m "L $i"; done >in.jsonl
	BM_BUSY_TIMEOUT_MS=500 bm-exec --run-id r-l -j 2 <in.jsonl >out 2>err &
	pid=$!
	until_true db_at_least 2 "SELECT count(*) FROM results"
	mkfifo ctl
	sqlite3 bm.db <ctl >lock.out &
	lock=$!
	exec 7>ctl
	# The lock is taken between two of bm-exec's commits (waiting for
	# one in progress: a loaded machine may meet one).
	echo ".timeout 20000
	BEGIN IMMEDIATE; SELECT 'locked';" >&7
	until_true grep -q locked lock.out
	until_true grep -q 'cannot store results' err
	echo "ROLLBACK;" >&7
	exec 7>&-
	wait $lock
	st=0
	wait $pid || st=$?
	[ "$st" -eq 2 ]
	[ "$(sed -n 2,3p err)" = "bm-exec: $BM_DB: database is locked (tried for 0.5 s)
bm-exec: cannot store results: no more requests are sent; results go to stdout only" ]
	# Every case taken up has its line; the ones not sent say why.
	n=$(wc -l <out)
	[ "$(jq -s 'map(.case_id) | unique | length' out)" = "$n" ]
	[ "$n" -lt 60 ]
	[ "$(jq -s 'map(select(.error.message == "not sent: the database failed")) | length' out)" -gt 5 ]
	[ "$(curl -sf "http://127.0.0.1:$PORT/stats" | jq .requests)" -lt 45 ]
	[ "$(sqlite3 bm.db "SELECT count(*) < 60 FROM results WHERE run_id = 'r-l'")" = 1 ]
	[ "$(sqlite3 bm.db "SELECT status, pid FROM runs WHERE id = 'r-l'")" = "failed|" ]
	[ "$(tail -n1 err)" = "bm-exec: to resume: bm-exec --resume r-l < the same cases" ]
}

@test "bm-exec: a full disk mid-run stops the spending, the run is marked failed, exit 2" {
	stub -d 20
	for i in $(seq 400); do case_rec "d$i" openai:m "D $i $(printf '%0500d' 0)"; done >in.jsonl
	BM_TEST_DB_GROW=3 run --separate-stderr bm-exec -q --run-id r-f -j 4 <in.jsonl
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-exec: $BM_DB: database or disk is full" ]
	[[ "$stderr" == *"bm-exec: cannot store results: no more requests are sent; results go to stdout only"* ]]
	n=$(grep -c . <<<"$output")
	[ "$(jq -s 'map(.case_id) | unique | length' <<<"$output")" = "$n" ]
	[ "$(curl -sf "http://127.0.0.1:$PORT/stats" | jq .requests)" -lt 300 ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id = 'r-f'")" = failed ]
	[ "$(sqlite3 bm.db 'PRAGMA integrity_check')" = ok ]
}

@test "bm-exec: a run is locked while it runs: a second --resume exits 2 naming the holder; a dead holder is taken over" {
	stub
	for i in $(seq 6); do case_rec "o$i" openai:m "[[latency=60000]] O $i"; done >in.jsonl
	bm-exec -q --run-id r-o -j 6 <in.jsonl >out 2>err &
	pid=$!
	until_true stub_at_least in_flight 6
	run --separate-stderr bm-exec -q --resume r-o <in.jsonl
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-exec: $BM_DB: run 'r-o' is being run by pid $pid on $(hostname)" ]
	[ "$output" = "" ]
	kill -9 $pid
	wait $pid || true
	# The holder is gone: taken over, by any RUN spec.
	for i in $(seq 6); do case_rec "o$i" openai:m "O $i"; done >in.jsonl
	run --separate-stderr bm-exec -q --resume r- <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c '"pass"' <<<"$output")" = 6 ]
	run --separate-stderr bm-exec -q --resume last <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 bm.db "SELECT status, pid IS NULL, resumed FROM runs WHERE id = 'r-o'")" = "finished|1|2" ]
}

@test "bm-exec: a signal during start-up is not lost" {
	stub
	for i in $(seq 20); do case_rec "s$i" openai:m "S $i"; done >in.jsonl
	case_rec e1 echo: x | bm-exec -q >/dev/null
	# Make start-up slow: the database is locked while the run row is
	# written.
	mkfifo ctl
	sqlite3 bm.db <ctl >lock.out &
	lock=$!
	exec 7>ctl
	echo "BEGIN IMMEDIATE; SELECT 'locked';" >&7
	until_true grep -q locked lock.out
	bm-exec --run-id r-s <in.jsonl >out 2>err &
	pid=$!
	until_true sh -c "ls -l /proc/$pid/fd | grep -q 'bm.db$'"
	kill -INT $pid
	echo "ROLLBACK;" >&7
	exec 7>&-
	wait $lock
	st=0
	wait $pid || st=$?
	[ "$st" -eq 130 ]
	[ "$(curl -sf "http://127.0.0.1:$PORT/stats" | jq .requests)" = 0 ]
	[ ! -s out ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id = 'r-s'")" = interrupted ]
}

@test "bm-exec: the circuit breaker does not starve healthy cases: the probe is the next case in line" {
	stub
	{
		for i in $(seq 40); do case_rec "x$i" openai:m "[[status=500]] x$i"; done
		for i in $(seq 200); do case_rec "h$i" openai:m "What is $i + 1?" "[{\"equals\":\"$((i + 1))\"}]"; done
	} >in.jsonl
	# The breaker stays open 10 x 0.05 s; 40 failing cases with 3 retries
	# each would need 160 probes if a failing case were the probe.
	run --separate-stderr timeout 60 bm-exec -q --no-db -j 8 --backoff 0.05 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(select(.status == "pass")) | length' <<<"$output")" = 200 ]
	[ "$(jq -s 'map(select(.error.class == "server")) | length' <<<"$output")" = 40 ]
	# Every failing case had its retries, no more.
	[ "$(jq -s 'map(select(.error.class == "server") | .attempts) | unique' <<<"$output" | jq -c .)" = '[4]' ]
}

@test "bm-exec --give-up: a dead provider's cases end at once, and the status line says it is down" {
	cat >bm.yml <<-EOF
	providers:
	  dead: {type: openai, base_url: "http://127.0.0.1:1/v1"}
	EOF
	for i in $(seq 30); do case_rec "z$i" dead:m "Z $i"; done >in.jsonl
	run --separate-stderr timeout 60 bm-exec -v --no-db --run-id r-z -j 2 --backoff 0.02 --give-up 0.5 --status-interval 0.05 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$(grep -v -e '^bm-exec: [0-9]*/30 done' -e '^bm-exec: case z[0-9]*: connection: ' <<<"$stderr")" = "bm-exec: run r-z
bm-exec: warning: 30 of 30 results ended in error (connection 30)" ]
	[ "$(jq -s 'length' <<<"$output")" = 30 ]
	[ "$(jq -sc 'map(.error.class) | unique' <<<"$output")" = '["connection"]' ]
	[ "$(jq -s 'map(select(.error.message == "dead is down: no success for 0.5 s (the last error was connection); not sent")) | length' <<<"$output")" -gt 15 ]
	grep -q '^bm-exec: [0-9]*/30 done: 0 pass, 0 fail, [0-9]* error | [0-9.]* req/s.* | dead down$' <<<"$stderr"
}

@test "bm-exec: NUL in an answer is an error naming it; invalid UTF-8 becomes U+FFFD and the result says so" {
	stub
	{
		case_rec u1 openai:m "[[fault=nul]] x" '[{"equals":"before"}]'
		case_rec u2 openai:m "[[fault=bad-utf8]] x"
		case_rec u3 "exec:printf 'before\\0after'" "x"
		case_rec u4 "exec:printf 'na\\357ve'" "x"
		printf '%s\n' '{"type":"case","case_id":"u5","model":"echo:","messages":[{"role":"user","content":"a\u0000b"}]}'
	} >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-u --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = 'bm-exec: <stdin>:5: a NUL character (\u0000) cannot be kept: the record is skipped' ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.case_id, .status, .error.class, .error.message, .output, .output_repaired])' <<<"$output")" = \
	    '[["u1","error","parse","the answer holds a NUL character (\\u0000), which cannot be kept",null,null],["u2","pass",null,null,"caf� ok",true],["u3","error","exec","exec printf '"'before\\\\0after'"': the answer holds a NUL byte, which cannot be kept",null,null],["u4","pass",null,null,"na�ve",true]]' ]
	# Every line, and every stored record, is valid UTF-8.
	iconv -f UTF-8 -t UTF-8 <<<"$output" >/dev/null
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE run_id = 'r-u' AND record LIKE '%\"output_repaired\":true%'")" = 2 ]
}

@test "bm-exec: max_response_bytes bounds an answer; at most 4 KiB of an error body is kept" {
	stub
	big=$(printf 'w%.0s ' $(seq 600))
	# The defaults: 16 MiB of answer, 4 KiB of an error body.
	{
		case_rec m3 openai:m "[[answer=$big]] x"
		case_rec m4 openai:m "[[status=$(printf 'x%.0s' $(seq 20000))]] x"
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.case_id, .status, .error.class, (.error.message | length < 4200)])' <<<"$output")" = \
	    '[["m3","pass",null,true],["m4","error","bad_request",true]]' ]
	[ "$(jq -r 'select(.case_id == "m3") | .output' <<<"$output")" = "$big" ]
	cat >bm.yml <<-EOF
	providers:
	  small: {type: openai, base_url: "http://127.0.0.1:$PORT/v1", max_response_bytes: 1000}
	EOF
	{
		case_rec m1 small:m "[[answer=$big]] x"
		case_rec m2 small:m "[[answer=short]] x"
	} >in.jsonl
	run --separate-stderr bm-exec -q --no-db --retries 0 <in.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'sort_by(.case_id) | map([.case_id, .status, .error.class, .error.message])' <<<"$output")" = \
	    '[["m1","error","parse","answer larger than 1000 bytes"],["m2","pass",null,null]]' ]
}

@test "bm-exec: --resume fed a different stream warns and leaves the run unfinished; no input, no run" {
	for i in $(seq 6); do case_rec "q$i" echo: "Q $i"; done >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-q <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 bm.db "SELECT length(stream_sha256), status FROM runs WHERE id = 'r-q'")" = "64|finished" ]
	head -n 4 in.jsonl >part.jsonl
	run --separate-stderr bm-exec --resume r-q <part.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: run r-q
bm-exec: warning: the case stream differs from run r-q's: 2 of its cases are not in it, so the run stays unfinished
bm-exec: to resume: bm-exec --resume r-q < the same cases" ]
	[ "$(grep -c . <<<"$output")" = 4 ]
	[ "$(sqlite3 bm.db "SELECT status FROM runs WHERE id = 'r-q'")" = interrupted ]
	run --separate-stderr bm-exec -q --resume r-q <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 bm.db "SELECT status, resumed FROM runs WHERE id = 'r-q'")" = "finished|2" ]
	# Nothing to run: no run, nothing written.
	run --separate-stderr bm-exec </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(sqlite3 bm.db 'SELECT count(*) FROM runs')" = 1 ]
}

@test "bm-exec: a sequence on echo runs its steps without waiting for a timer; content_sha256 is kept" {
	jq -cn '{type:"case",case_id:"s1",model:"echo:",content_sha256:("ab" * 32),steps:[{prompt:"one"},{prompt:"two"},{prompt:"three"},{prompt:"four"}]}' >in.jsonl
	run --separate-stderr bm-exec -q --run-id r-e <in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -sc 'map(.output)' <<<"$output")" = '["one","two","three","four"]' ]
	# Each step starts once the one before has its answer (never before
	# it), and at once: the three waits together are far from the 3 x 1 s
	# a timer took (the records' times, so start-up does not count).
	[ "$(jq -s 'def ms: (.[:19] + "Z" | fromdate) * 1000
	    + (.[20:23] | tonumber);
	    [range(1; length) as $k | (.[$k].started_at | ms)
	     - (.[$k - 1].finished_at | ms)]
	    | all(. >= 0) and add < 1000' <<<"$output")" = true ]
	[ "$(jq -s 'map(.content_sha256 == ("ab" * 32)) | all' <<<"$output")" = true ]
	[ "$(sqlite3 bm.db "SELECT count(*) FROM results WHERE content_sha256 = '$(printf 'ab%.0s' $(seq 32))'")" = 4 ]
}

@test "bm-exec: an exec child gets no other provider's key unless its env: lists it" {
	# Least privilege: there is nothing for it to print.
	case_rec e1 "exec:printenv OPENAI_API_KEY" "x" >in.jsonl
	run --separate-stderr bm-exec -v --cache <in.jsonl
	[ "$status" -eq 1 ]
	[ "$(sed -e 's/^bm-exec: run r-.*/bm-exec: run RUN/' -e '/^bm-exec: [0-9]*\/1 done: /d' <<<"$stderr")" = "bm-exec: run RUN
bm-exec: case e1: exec: exec printenv OPENAI_API_KEY exited with status 1
bm-exec: warning: 1 of 1 results ended in error (exec 1)" ]
	[ "$(jq -c '[.error.class, .error.message, .output]' <<<"$output")" = '["exec","exec printenv OPENAI_API_KEY exited with status 1",null]' ]
	! grep -q "$KEY" <<<"$output$stderr" || false
	! grep -aq "$KEY" bm.db bm.db-wal 2>/dev/null || false
	cat >bm.yml <<-EOF
	providers:
	  tool: {type: exec, command: "printenv OPENAI_API_KEY ANTHROPIC_API_KEY; true", env: [ANTHROPIC_API_KEY]}
	EOF
	ANTHROPIC_API_KEY=ak-visible run --separate-stderr bm-exec -q --no-db < <(case_rec t1 tool: x)
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r .output <<<"$output")" = "ak-visible" ]
}

@test "bm-exec: an exec child's stderr lines are named by their case and redacted" {
	case_rec x1 "exec:echo working >&2; echo key=\$BM_X >&2; printf 'no newline' >&2; echo answer" x >in.jsonl
	cat >bm.yml <<-EOF
	providers:
	  other: {type: openai, api_key_env: BM_X}
	EOF
	BM_X=secret-value-x run --separate-stderr bm-exec -q --no-db <in.jsonl
	[ "$status" -eq 0 ]
	[ "$(jq -r .output <<<"$output")" = answer ]
	[ "$stderr" = "bm-exec: case x1: working
bm-exec: case x1: key=
bm-exec: case x1: no newline" ]
	# A key it may see (env:) is redacted when printed.
	cat >bm.yml <<-EOF
	providers:
	  other: {type: openai, api_key_env: BM_X}
	  tool: {type: exec, command: "echo key=\$BM_X >&2; echo ok", env: [BM_X]}
	EOF
	BM_X=secret-value-x run --separate-stderr bm-exec -q --no-db < <(case_rec x2 tool: x)
	[ "$status" -eq 0 ]
	[ "$stderr" = "bm-exec: case x2: key=[REDACTED]" ]
}
