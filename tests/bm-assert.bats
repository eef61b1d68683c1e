#!/usr/bin/env bats
# Assertions (DESIGN.md §6, bm-exec(1) ASSERTIONS) through
# bm-ingest | bm-exec: each type passing and failing with its reason, not:
# and weight, entities metrics, {{var}} values, bad assertions caught before
# any request, and the built-in price table.  The echo: model answers the
# last user message, so a benchmark's prompt is its answer; the stub server
# gives latency and token counts.
load helper
load stub

setup() {
	cd "$BATS_TEST_TMPDIR"
	unset BM_CONFIG BM_DB OPENAI_BASE_URL ANTHROPIC_BASE_URL
	export OPENAI_API_KEY=sk-test ANTHROPIC_API_KEY=sk-ant-test
	mkdir b
}

teardown() {
	stub_stop
}

# Start the stub; sets PORT and the base URLs.
stub() {
	stub_start
	export ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT"
}

# bench [MODEL...] < YAML: ingest the benchmark for the models (default
# echo:) and run it, with nothing on stderr; the results in $output,
# sorted by model and trial.
bench() {
	local m args=()
	for m in "${@:-echo:}"; do
		args+=(-m "$m")
	done
	cat >b/t.yml
	bm-ingest -q --no-db "${args[@]}" b >cases.jsonl
	run --separate-stderr bm-exec -q --no-db <cases.jsonl
	[ "$stderr" = "" ]
	output=$(jq -cs 'sort_by(.model, .trial) | .[]' <<<"$output")
}

# One line per result: status, score and the reasons of its failed entries.
verdicts() {
	jq -r '"\(.status) \(.score)" + ([.assertions[] | .reason // empty]
	    | if length > 0 then " " + join("; ") else "" end)' <<<"$output"
}

@test "equals: trimmed answer; the reason quotes both" {
	bench <<'EOF'
prompt: "{{a}}"
vars: [{a: " 4 "}, {a: "5"}]
expect: [{equals: "4"}]
EOF
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(verdicts)" = 'pass 1
fail 0 expected "4", got "5"' ]
}

@test "equals: a long answer is shortened with an ellipsis" {
	bench <<'EOF'
prompt: "Four, as everyone who has ever counted apples on a table knows by heart"
expect: [{equals: "4"}]
EOF
	[ "$status" -eq 0 ]
	[ "$(verdicts)" = 'fail 0 expected "4", got "Four, as everyone who has ever counted apples on a table kno…"' ]
}

@test "contains, icontains, not-contains, starts-with" {
	bench <<'EOF'
prompt: "{{a}}"
vars: [{a: "Yes, xyz"}, {a: "No, abc"}]
expect:
  - contains: "x"
  - icontains: "YES"
  - not-contains: "abc"
  - starts-with: "Yes"
EOF
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(verdicts)" = 'pass 1
fail 0 contains "x": not found; icontains "YES": not found; not-contains "abc": found; starts-with "Yes": got "No, abc"' ]
}

@test "regex" {
	bench <<'EOF'
prompt: "{{a}}"
vars: [{a: "42"}, {a: "4x"}]
expect: [{regex: '^\d+$'}]
EOF
	[ "$status" -eq 0 ]
	[ "$(verdicts)" = "pass 1
fail 0 regex '^\\d+\$' did not match" ]
}

@test "json: plain, in a fence, and the parser's message" {
	bench <<'EOF'
prompt: "{{a}}"
vars:
  - {a: '{"a": 1}'}
  - {a: "Here it is:\n```json\n{\"a\": 1}\n```\nAnything else?"}
  - {a: '{"a": }'}
  - {a: "no JSON here"}
expect: [{json: true}]
EOF
	[ "$status" -eq 0 ]
	[ "$(verdicts)" = "pass 1
pass 1
fail 0 json: unmatched '}' at line 1, column 7
fail 0 json: invalid literal at line 1, column 3" ]
}

@test "jq: first output true; false, non-JSON and errors explained" {
	bench <<'EOF'
prompt: "{{a}}"
vars:
  - {a: '{"items": [1, 2, 3]}'}
  - {a: "```json\n{\"items\": [1, 2, 3]}\n```"}
  - {a: '{"items": [1]}'}
  - {a: 'three items'}
  - {a: '{"items": true}'}
expect: [{jq: '.items | length > 2'}]
EOF
	[ "$status" -eq 0 ]
	[ "$(verdicts)" = 'pass 1
pass 1
fail 0 jq: .items | length > 2 gave false
fail 0 jq: the answer is not JSON: invalid literal at line 1, column 6
fail 0 jq: .items | length > 2 failed: boolean (true) has no length' ]
}

@test "entities: the hand-computed case (P 1, R 2/3, F1 0.8)" {
	bench <<'EOF'
prompt: "{{a}}"
vars: [{a: "aspirin, ibuprofen"}, {a: "- naproxen\n- Aspirin\n- ibuprofen\n"}]
expect:
  - entities: {expected: [aspirin, ibuprofen, naproxen]}
EOF
	[ "$status" -eq 0 ]
	[ "$(verdicts)" = 'fail 0.8 entities: f1 0.8 < 1
fail 0.6666666666666666 entities: f1 0.6667 < 1' ]
	[ "$(jq -c 'select(.trial == 0) | [.metrics, .assertions[0].missing,
	    .assertions[0].extra]' <<<"$output")" = \
	    '[{"precision":1,"recall":0.6666666666666666,"f1":0.8,"tp":2,"fp":0,"fn":1},["naproxen"],[]]' ]
	[ "$(jq -c 'select(.trial == 1) | [.metrics.tp, .metrics.fp,
	    .metrics.fn, .assertions[0].missing, .assertions[0].extra]' \
	    <<<"$output")" = '[2,1,1,["aspirin"],["Aspirin"]]' ]
}

@test "entities: case-insensitive, normalized, min_f1" {
	bench <<'EOF'
prompt: "{{a}}"
vars: [{a: '"Aspirin"; IBUPROFEN.'}]
variants:
  exact: {expect: [{entities: {expected: [aspirin, ibuprofen]}}]}
  ci: {expect: [{entities: {expected: [aspirin, ibuprofen], match: case-insensitive}}]}
  norm: {expect: [{entities: {expected: [aspirin, ibuprofen], match: normalized}}]}
  half: {expect: [{entities: {expected: [aspirin, ibuprofen], match: case-insensitive, min_f1: 0.5}}]}
EOF
	[ "$status" -eq 0 ]
	[ "$(jq -r '"\(.variant) \(.status) \(.score) \(.assertions[0].extra)"' \
	    <<<"$output" | sort)" = 'ci fail 0.5 ["\"Aspirin\""]
exact fail 0 ["\"Aspirin\"","IBUPROFEN"]
half pass 0.5 ["\"Aspirin\""]
norm pass 1 []' ]
}

@test "max-latency-ms and max-tokens against the stub" {
	stub
	bench openai:gpt-4o-mini <<'EOF'
prompt: "{{a}}"
vars: [{a: "[[answer=ok]][[usage=10,5]]"}, {a: "[[answer=ok]][[usage=10,90]][[latency=300]]"}]
expect: [{max-latency-ms: 250}, {max-tokens: 64}]
EOF
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(verdicts | sed -n 1p)" = "pass 1" ]
	[[ "$(verdicts | sed -n 2p)" =~ ^"fail 0 latency "[0-9.]+" ms > 250; completion tokens 90 > 64"$ ]]
	[ "$(jq -s '.[1].latency_ms > 250' <<<"$output")" = true ]
}

@test "exit-code: the exec provider's status; none on other providers" {
	bench 'exec:cat >/dev/null' echo: <<'EOF'
prompt: "x"
variants:
  zero: {expect: [{exit-code: 0}]}
  three: {expect: [{exit-code: 3}]}
EOF
	[ "$status" -eq 0 ]
	[ "$(jq -r '"\(.model) \(.variant) \(.status)" + ([.assertions[]
	    | .reason // empty] | map(" " + .) | add // "")' <<<"$output" \
	    | sort)" = 'echo: three fail no exit code (not an exec provider), expected 3
echo: zero fail no exit code (not an exec provider), expected 0
exec:cat >/dev/null three fail exit code 0, expected 3
exec:cat >/dev/null zero pass' ]
}

@test "not: inverts the verdict and the score; weight weighs the mean" {
	bench <<'EOF'
prompt: "{{a}}"
vars: [{a: "4"}, {a: "5"}, {a: "no"}]
expect:
  - {equals: "4", weight: 3}
  - {regex: '^no', not: true}
EOF
	[ "$status" -eq 0 ]
	[ "$(verdicts)" = "pass 1
fail 0.25 expected \"4\", got \"5\"
fail 0 expected \"4\", got \"no\"; not: regex '^no' passed" ]
	[ "$(jq -c '[.assertions[] | [.pass, .score]]' <<<"$output")" = \
	    '[[true,1],[true,1]]
[[false,0],[true,1]]
[[false,0],[false,0]]' ]
}

@test "{{var}} values are rendered per trial by bm-ingest" {
	bench <<'EOF'
prompt: "{{answer}}"
vars:
  - {answer: "4", expected: "4"}
  - {answer: "15", expected: "15"}
  - {answer: "7", expected: "8"}
expect: [{equals: "{{expected}}"}, {contains: "{{answer}}"}]
EOF
	[ "$status" -eq 0 ]
	[ "$(jq -c .expect cases.jsonl)" = '[{"equals":"4"},{"contains":"4"}]
[{"equals":"15"},{"contains":"15"}]
[{"equals":"8"},{"contains":"7"}]' ]
	[ "$(verdicts)" = 'pass 1
pass 1
fail 0.5 expected "8", got "7"' ]
}

@test "a bad assertion is a config error before any request" {
	stub
	q() {
		jq -cn --arg id "$1" --argjson x "$2" '{type:"case",case_id:$id,
		    benchmark_id:"b0",benchmark:"sum-two-numbers",
		    model:"openai:gpt-4o-mini",variant:null,trial:0,repeat:0,
		    messages:[{role:"user",content:"What is 2 + 2?"}],expect:$x}'
	}
	{
		q c1 '[{"equals":"4"},{"regex":"(a"}]'
		q c2 '[{"equals":"4"},{"regex":"(a"}]'
		q c3 '[{"jq":".a |||"}]'
		q c4 '[{"regx":"a"}]'
		q c5 '[{"max-tokens":"x"}]'
		q c6 '[{"equals":"4"}]'
	} >cases.jsonl
	run --separate-stderr bm-exec -q --no-db <cases.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: sum-two-numbers: expect[1]: regex: missing closing parenthesis at offset 2
bm-exec: sum-two-numbers: expect[0]: jq: syntax error, unexpected '|'
bm-exec: sum-two-numbers: expect[0]: unknown assertion 'regx' (did you mean 'regex'?)
bm-exec: sum-two-numbers: expect[0]: max-tokens: expected an integer >= 0" ]
	[ "$(jq -r '[.case_id, .status, .error.class // "-", .attempts]
	    | join(" ")' <<<"$output" | sort)" = 'c1 error config 0
c2 error config 0
c3 error config 0
c4 error config 0
c5 error config 0
c6 pass - 1' ]
	[ "$(curl -sf "http://127.0.0.1:$PORT/stats" | jq -c \
	    '[.requests, .by_message]')" = '[1,{"What is 2 + 2?":1}]' ]
	# A sequence: every step ends so, and --dry-run says why.
	jq -cn '{type:"case",case_id:"s1",benchmark:"story",model:"echo:",
	    steps:[{prompt:"a"},{prompt:"b",expect:[{"jq":"("}]}]}' >seq.jsonl
	run --separate-stderr bm-exec -q --no-db <seq.jsonl
	[ "$status" -eq 1 ]
	[ "${stderr%%$'\n'*}" = "bm-exec: story: step 1: expect[0]: jq: syntax error, unexpected \$end" ]
	[ "$(jq -r '"\(.step) \(.error.class)"' <<<"$output")" = '0 config
1 config' ]
	run --separate-stderr bm-exec --dry-run -q <seq.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-exec: <stdin>:1: case s1: story: step 1: expect[0]: jq: syntax error, unexpected \$end" ]
}

@test "costs: the built-in price table, and bm.yml's price over it" {
	stub
	bench openai:gpt-4o-mini openai:gpt-4o-mini-2024-07-18 \
	    anthropic:claude-3-5-haiku-latest openai:my-finetune <<'EOF'
prompt: "[[answer=ok]][[usage=1000,500]]"
EOF
	[ "$status" -eq 0 ]
	# (1000 * input + 500 * output) / 1e6 with the table's prices
	[ "$(jq -r '"\(.model) \(.cost_usd)"' <<<"$output")" = \
	    'anthropic:claude-3-5-haiku-latest 0.0028
openai:gpt-4o-mini 0.00045
openai:gpt-4o-mini-2024-07-18 0.00045
openai:my-finetune null' ]
	cat >bm.yml <<'EOF'
models:
  mini: {provider: openai, model: gpt-4o-mini, price: {input: 1, output: 2}}
  haiku: {provider: anthropic, model: claude-3-5-haiku-20241022}
EOF
	bench mini haiku openai:gpt-4o-mini <<'EOF'
prompt: "[[answer=ok]][[usage=1000,500]]"
EOF
	[ "$status" -eq 0 ]
	[ "$(jq -r '"\(.model) \(.cost_usd)"' <<<"$output")" = 'haiku 0.0028
mini 0.002
openai:gpt-4o-mini 0.002' ]
}
