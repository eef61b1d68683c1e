#!/bin/sh
# stub-selftest.sh: start tests/stub/llmstub and check each feature of its
# protocol (tests/stub/README.md) with curl and jq.  TAP output.
STUB=${BM_BUILDDIR:-.}/tests/stub/llmstub
if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
	echo "1..0 # SKIP curl and jq are needed"
	exit 0
fi
T=$(mktemp -d) || exit 1
# Every request is bounded, so a stub bug fails a check instead of hanging
# the suite; a test's own --max-time comes later and wins.
curl() { command curl --max-time 30 "$@"; }
n=0
failed=0
pid=

cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid"; fi
	rm -rf "$T"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

notok() {
	n=$((n + 1))
	failed=1
	echo "not ok $n - $1"
	shift
	for l in "$@"; do echo "# $l"; done
}

# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		notok "$1" "expected: $2" "got:      $3"; fi
}

"$STUB" -P "$T/port" -l "$T/log" -t 2 2>"$T/stderr" &
pid=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
U=http://127.0.0.1:$(cat "$T/port")
echo "1..49"

# post PATH JSON [curl options...]: the body, status code on the last line.
post() {
	p=$1 d=$2
	shift 2
	curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' "$@" \
	    -H 'Content-Type: application/json' --data-binary "$d" "$U$p"
}

# oa TEXT: an OpenAI request with TEXT as the only user message.
oa() {
	jq -nc --arg t "$1" '{model:"gpt-x",messages:[{role:"system",
	    content:"Be brief."},{role:"user",content:$t}]}'
}

# --- OpenAI -------------------------------------------------------------------
code=$(post /v1/chat/completions "$(oa 'What is 6 x 7?')" \
    -H 'Authorization: Bearer sk-test')
check "openai: 200" 200 "$code"
check "openai: arithmetic answer, shape, usage" \
    'chatcmpl-1 chat.completion gpt-x assistant 42 stop 6 1 7' \
    "$(jq -r '[.id, .object, .model, .choices[0].message.role,
    .choices[0].message.content, .choices[0].finish_reason,
    .usage.prompt_tokens, .usage.completion_tokens,
    .usage.total_tokens] | join(" ")' "$T/body")"
post /v1/chat/completions "$(oa '  Hello [[latency=0]] there  ')" >/dev/null
check "openai: echo without directives" 'echo: Hello  there' \
    "$(jq -r '.choices[0].message.content' "$T/body")"
post /v1/chat/completions "$(oa '[[answer=a b c]][[usage=100,7]]')" >/dev/null
check "openai: answer and usage directives" 'a b c 100 7 107' \
    "$(jq -r '[.choices[0].message.content, .usage[]] | join(" ")' \
    "$T/body")"
code=$(post /v1/chat/completions "$(oa '[[latency=x]]')")
check "openai: bad directive is a 400" \
    '400 llmstub: bad directive [[latency=x]]: expected a number from 0 to 86400000' \
    "$code $(jq -r .error.message "$T/body")"
code=$(post /v1/chat/completions '{"model":1}')
check "openai: malformed request is a 400" "400 invalid_request_error" \
    "$code $(jq -r .error.type "$T/body")"

# Streaming: pieces of two words join to the answer, then usage and [DONE].
post /v1/chat/completions "$(jq -nc '{model:"m",stream:true,
    messages:[{role:"user",content:"one two three four five"}]}')" >/dev/null
check "openai stream: event-stream, chunked" "text/event-stream chunked" \
    "$(tr -d '\r' <"$T/head" | awk '/^Content-Type:/ { c = $2 }
    /^Transfer-Encoding:/ { e = $2 } END { print c, e }')"
check "openai stream: pieces" \
    '["echo: one ","two three ","four five"]' \
    "$(sed -n 's/^data: {/{/p' "$T/body" |
    jq -sc '[.[] | .choices[0].delta.content // empty]')"
check "openai stream: finish, usage, done" \
    'stop 6|6|12 data: [DONE]' \
    "$(sed -n 's/^data: {/{/p' "$T/body" | jq -sr '(map(
    .choices[0].finish_reason // empty) | join(",")) + " " + (.[-1].usage |
    "\(.prompt_tokens)|\(.completion_tokens)|\(.total_tokens)")') $(grep -v '^$' "$T/body" | tail -1)"

# --- Anthropic ----------------------------------------------------------------
an='{"model":"claude-x","system":"Sys prompt","max_tokens":10,
    "messages":[{"role":"user","content":[{"type":"text","text":"hi there"}]}]}'
code=$(post /v1/messages "$an")
check "anthropic: anthropic-version is required" \
    "400 error invalid_request_error" \
    "$code $(jq -r '"\(.type) \(.error.type)"' "$T/body")"
code=$(post /v1/messages "$an" -H 'anthropic-version: 2023-06-01')
check "anthropic: message shape" \
    '200 message assistant claude-x text echo: hi there end_turn 5 3' \
    "$code $(jq -r '[.type, .role, .model, .content[0].type,
    .content[0].text, .stop_reason, .usage.input_tokens,
    .usage.output_tokens] | join(" ")' "$T/body")"
check "anthropic: id" msg_ "$(jq -r '.id[:4]' "$T/body")"
post /v1/messages "$(echo "$an" | jq -c '.stream = true')" \
    -H 'anthropic-version: 2023-06-01' >/dev/null
check "anthropic stream: events" \
    'message_start content_block_start ping content_block_delta content_block_delta content_block_stop message_delta message_stop' \
    "$(sed -n 's/^event: //p' "$T/body" | tr '\n' ' ' | sed 's/ $//')"
check "anthropic stream: text and usage" 'echo: hi there|3' \
    "$(sed -n 's/^data: {/{/p' "$T/body" | jq -sr '(map(.delta.text //
    empty) | join("")) + "|" + (.[] | select(.type == "message_delta") |
    .usage.output_tokens | tostring)')"
code=$(post /v1/messages "$(echo "$an" | jq -c \
    '.messages[0].content[0].text = "x [[status=529]]"')" \
    -H 'anthropic-version: 2023-06-01')
check "anthropic: error shape" '529 error overloaded_error' \
    "$code $(jq -r '"\(.type) \(.error.type)"' "$T/body")"

# --- Ollama -------------------------------------------------------------------
ol='{"model":"llama3.2:1b","messages":[{"role":"user","content":"a b c d e"}]}'
code=$(post /api/chat "$(echo "$ol" | jq -c '.stream = false')")
check "ollama: non-streaming shape" \
    '200 llama3.2:1b assistant echo: a b c d e true 3 6' \
    "$code $(jq -r '[.model, .message.role, .message.content, .done,
    .prompt_eval_count, .eval_count] | join(" ")' "$T/body")"
post /api/chat "$ol" >/dev/null
check "ollama: streams NDJSON by default" \
    '["echo: a ","b c ","d e",""] false,false,false,true 6' \
    "$(jq -sc 'map(.message.content)' "$T/body") $(jq -sr \
    'map(.done | tostring) | join(",")' "$T/body") $(jq -sr \
    '.[-1].eval_count' "$T/body")"

# --- errors and retries -------------------------------------------------------
code=$(post /v1/chat/completions "$(oa 'x [[status=429]]')")
check "429: Retry-After defaults to 1, OpenAI error shape" \
    '429 1 requests' "$code $(tr -d '\r' <"$T/head" |
    sed -n 's/^Retry-After: //p') $(jq -r .error.type "$T/body")"
code=$(post /v1/chat/completions "$(oa 'x [[status=503]][[retry-after=7]]')")
check "503 with retry-after" '503 7' "$code $(tr -d '\r' <"$T/head" |
    sed -n 's/^Retry-After: //p')"
post /v1/chat/completions "$(oa 'x [[status=429]][[retry-after-date=30]]')" \
    >/dev/null
ra=$(tr -d '\r' <"$T/head" | sed -n 's/^Retry-After: //p')
want=$(date -u -d @$(($(date +%s) + 30)) '+%a, %d %b %Y %H:%M')
case $ra in
"$want":??" GMT") ok "retry-after-date is an IMF-fixdate 30 s ahead" ;;
*) notok "retry-after-date is an IMF-fixdate 30 s ahead" "got: $ra" ;;
esac
code=$(post /v1/chat/completions \
    "$(oa 'long [[error-code=context_length_exceeded]]')")
check "context_length_exceeded" '400 context_length_exceeded messages' \
    "$code $(jq -r '"\(.error.code) \(.error.param)"' "$T/body")"
r=
for i in 1 2 3 4; do
	r="$r $(post /v1/chat/completions "$(oa 'retry me [[fail-first=2]]')")"
done
check "fail-first=2 fails twice, then succeeds" ' 500 500 200 200' "$r"
r=
for i in 1 2; do
	r="$r $(post /v1/chat/completions \
	    "$(oa 'again [[fail-first=1]][[status=429]]')")"
done
check "fail-first with a status" ' 429 200' "$r"

# --- faults -------------------------------------------------------------------
post /v1/chat/completions "$(oa '[[fault=hang]]')" --max-time 0.5 >/dev/null
check "hang: the client times out (curl exit 28)" 28 "$?"
post /v1/chat/completions "$(oa '[[fault=reset]]')" >/dev/null
rc=$?
case $rc in
52|56) ok "reset: connection reset without a response" ;;
*) notok "reset: connection reset without a response" "curl exit $rc" ;;
esac
code=$(post /v1/chat/completions "$(oa '[[fault=garbage]]')")
if [ "$code" = 200 ] && ! jq . "$T/body" >/dev/null 2>&1; then
	ok "garbage: a 200 that is not JSON"
else
	notok "garbage: a 200 that is not JSON" "status $code"
fi
post /v1/chat/completions "$(oa '[[fault=truncate]]')" >/dev/null
check "truncate: curl sees a partial body (exit 18)" 18 "$?"
code=$(post /v1/chat/completions "$(jq -nc '{model:"m",stream:true,
    messages:[{role:"user",content:"a b c d e f g h [[fault=truncate]]"}]}')")
rc=$?
if [ "$rc" = 18 ] && ! grep -q DONE "$T/body"; then
	ok "truncate while streaming: no final chunk"
else
	notok "truncate while streaming: no final chunk" "curl exit $rc"
fi

# --- latency and concurrency --------------------------------------------------
curl -s -X POST "$U/reset" >/dev/null
start=$(date +%s%N)
post /v1/chat/completions "$(oa "slow [[latency=400]]")" -o /dev/null \
    >"$T/slow"
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$ms" -ge 400 ]; then
	ok "latency: a request of 400 ms takes at least 400 ms"
else
	notok "latency: a request of 400 ms takes at least 400 ms" "took $ms ms"
fi
# Overlap, as the stub counts it: four requests that never answer are all
# in flight at once (waited for, bounded; not a wall time, which a loaded
# machine or ASan stretches), and none is once their clients are gone.
curl -s -X POST "$U/reset" >/dev/null
pids=
for i in 1 2 3 4; do
	curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' \
	    --data-binary "$(oa "hang $i [[fault=hang]]")" \
	    "$U/v1/chat/completions" &
	pids="$pids $!"
done
# flight WANT: the stub's "max_in_flight in_flight requests", once it is
# WANT or after 30 s.
flight() {
	i=0
	while f=$(curl -s "$U/stats" |
	    jq -r '"\(.max_in_flight) \(.in_flight) \(.requests)"') &&
	    [ "$f" != "$1" ] && [ $i -lt 3000 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	echo "$f"
}
check "stats: max_in_flight 4, in_flight 4, 4 requests" '4 4 4' \
    "$(flight '4 4 4')"
kill $pids 2>/dev/null
# Not a bare wait: that would wait for the stub too.
for p in $pids; do wait "$p" 2>/dev/null; done
check "stats: in_flight 0 once the clients are gone" '4 0 4' \
    "$(flight '4 0 4')"
post /v1/chat/completions "$(jq -nc '{model:"m",stream:true,
    messages:[{role:"user",content:"a b c d e f [[sse-delay=150]]"}]}')" \
    -w '%{time_starttransfer} %{time_total}' -o /dev/null >"$T/times"
if awk '{ exit !($2 - $1 >= 0.28 && $2 < 1.5) }' "$T/times"; then
	ok "sse-delay spaces the pieces"
else
	notok "sse-delay spaces the pieces" "times: $(cat "$T/times")"
fi

# --- stats, reset, log, HTTP --------------------------------------------------
curl -s -X POST "$U/reset" >/dev/null
post /v1/chat/completions "$(oa 'q [[answer=1]]')" >/dev/null
post /v1/chat/completions "$(oa 'q [[answer=1]]')" >/dev/null
curl -s "$U/nope" >/dev/null
check "stats: by_message and by_path" \
    '{"requests":3,"max_in_flight":1,"in_flight":0,"by_message":{"q [[answer=1]]":2},"by_path":{"/v1/chat/completions":2,"/nope":1}}' \
    "$(curl -s "$U/stats")"
check "reset answers ok" '{"ok":true}' "$(curl -s -X POST "$U/reset")"
check "reset zeroes the counters" \
    '{"requests":0,"max_in_flight":0,"in_flight":0,"by_message":{},"by_path":{}}' \
    "$(curl -s "$U/stats")"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$U/v2/whatever")
check "unknown path: 404 JSON" \
    '404 llmstub: no endpoint GET /v2/whatever' \
    "$code $(jq -r .error.message "$T/body")"
check "log: first request as sent" \
    '1 POST /v1/chat/completions Bearer sk-test application/json What is 6 x 7? 1 true' \
    "$(head -1 "$T/log" | jq -r '[.n, .method, .path,
    .headers.authorization, .headers["content-type"],
    .body.messages[1].content, .in_flight, (.t_ms > 0)] | join(" ")')"
check "log: one line per request" "$(grep -c . "$T/log")" \
    "$(tail -1 "$T/log" | jq .n)"
curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$U/stats" \
    "$U/stats" >"$T/nc"
check "keep-alive: the second request reuses the connection" '1 0' \
    "$(tr '\n' ' ' <"$T/nc" | sed 's/ $//')"
curl -s -0 -D "$T/head" -o /dev/null "$U/stats"
check "HTTP/1.0: answered, then closed" 'Connection: close' \
    "$(tr -d '\r' <"$T/head" | grep '^Connection:')"
code=$(post /v1/chat/completions "$(oa 'x')" -H 'Transfer-Encoding: chunked')
check "chunked request body: 411" 411 "$code"
code=$(post /v1/chat/completions "$(oa 'x')" -H 'Content-Length: 70000000')
check "body over 64 MiB: 413" 413 "$code"
code=$(post /v1/chat/completions "$(oa 'x [[answer=ok]]')" \
    -H 'Expect: 100-continue' -w '%{http_code} %{time_total}')
case $code in
"200 0."[0-7]*) ok "Expect: 100-continue is answered at once" ;;
*) notok "Expect: 100-continue is answered at once" "got $code" ;;
esac

# --- judges -------------------------------------------------------------------
post /v1/chat/completions "$(oa 'Rubric: ok? [[judge=pass]]')" >/dev/null
check "judge=pass: a JSON verdict" 'true 1 the rubric is met' \
    "$(jq -r '.choices[0].message.content | fromjson |
    [.pass, .score, .reason] | join(" ")' "$T/body")"
post /v1/chat/completions "$(oa 'ok? [[judge=fail]]')" >/dev/null
check "judge=fail: a failing verdict" 'false 0 the rubric is not met' \
    "$(jq -r '.choices[0].message.content | fromjson |
    [.pass, .score, .reason] | join(" ")' "$T/body")"
post /v1/chat/completions "$(oa 'ok? [[judge=garbage]]')" >/dev/null
a=$(jq -r '.choices[0].message.content' "$T/body")
post /v1/chat/completions "$(oa 'ok? [[judge=words]]')" >/dev/null
check "judge=garbage and judge=words" 'I cannot decide.|Verdict: PASS, score 0.8' \
    "$a|$(jq -r '.choices[0].message.content' "$T/body")"
post /v1/chat/completions "$(oa '[[judge=pass]] [[judge-fail-model=gpt-x]]')" \
    >/dev/null
a=$(jq -r '.choices[0].message.content | fromjson | .pass' "$T/body")
post /v1/chat/completions "$(oa '[[judge=pass]] [[judge-fail-model=other]]')" \
    >/dev/null
check "judge-fail-model: only that model dissents" 'false true' \
    "$a $(jq -r '.choices[0].message.content | fromjson | .pass' "$T/body")"
code=$(post /v1/chat/completions "$(oa '[[judge=maybe]]')")
check "judge: a bad value is a 400" \
    '400 llmstub: bad directive [[judge=maybe]]: expected pass, fail, garbage or words' \
    "$code $(jq -r .error.message "$T/body")"

kill -TERM "$pid"
wait "$pid"
check "SIGTERM: exit 0, stderr empty" '0 ' "$? $(cat "$T/stderr")"
pid=
exit $failed
