#!/usr/bin/env bats
# bm-report: every format from hand-written records (DESIGN.md §4), the
# history from a real database, and the dashboard in headless Chromium.
load helper

R="$FIX/report"
PY=/usr/bin/python3

setup() {
	cd "$BATS_TEST_TMPDIR"
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG
}

# A database: the catalog of bench/math.yml (ingested from "bench", so
# its path is relative), runs r-1..r-3 with results (run_models counts
# them), a stored stat of r-3, and a run with no results.
mkdb() {
	cp -r "$R/bench" .
	bm-ingest bench > /dev/null 2>&1
	{
		echo "BEGIN;"
		echo "INSERT INTO runs (id, started_at, status, label) VALUES
		    ('r-1', '2026-11-20T10:00:00.000Z', 'finished', NULL),
		    ('r-2', '2026-11-21T10:00:00.000Z', 'finished', 'nightly'),
		    ('r-3', '2026-11-22T10:00:00.000Z', 'interrupted', NULL),
		    ('r-4', '2026-11-23T10:00:00.000Z', 'running', NULL);"
		# run model case status latency
		while read -r run model c st lat; do
			echo "INSERT INTO results (run_id, case_id, step, model,
			    status, latency_ms, cost_usd, record) VALUES
			    ('$run', '$c', 0, '$model', '$st', $lat, 0.5,
			    json_object('type', 'result', 'run_id', '$run',
			    'case_id', '$c', 'benchmark', 'sum-two-numbers',
			    'model', '$model', 'variant', NULL, 'trial', 0,
			    'repeat', 0, 'step', 0, 'status', '$st',
			    'latency_ms', $lat));"
		done <<-EOF
			r-1 m/a c1 pass 100
			r-1 m/a c2 fail 200
			r-1 m/b c3 pass 300
			r-2 m/a c1 pass 110
			r-2 m/a c2 pass 210
			r-2 m/b c3 fail 310
			r-3 m/a c1 pass 120
			r-3 m/a c2 fail 220
			r-3 m/b c3 pass 320
		EOF
		echo "INSERT INTO stats (run_id, group_key, record) VALUES
		    ('r-3', '{\"model\":\"m/a\"}', '{\"type\":\"stat\",
		    \"group\":{\"model\":\"m/a\"},\"n\":2,\"pass\":1,\"fail\":1,
		    \"error\":0,\"pass_rate\":0.5,\"pass_rate_ci\":[0.1,0.9],
		    \"latency_ms\":{\"p50\":170,\"p95\":215},\"cost_usd\":1}'),
		    ('r-3', '{\"model\":\"m/a\",\"variant\":null}', '{\"type\":
		    \"stat\",\"group\":{\"model\":\"m/a\",\"variant\":null},
		    \"n\":2,\"pass_rate\":0.5}');"
		echo "COMMIT;"
	} | sqlite3 "$BM_DB"
}

@test "bm-report: usage equals the man page's SYNOPSIS; -h, --version, bad options" {
	run --separate-stderr bm-report -h
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	synopsis=$("$MANDOC" -Tascii -O width=300 "$BM_SRCDIR/man/bm-report.1" |
	    col -b | sed -n '/^SYNOPSIS/{n;p;}')
	usage=$(sed -n '1,/^$/p' <<<"$output" | sed 's/^usage: //')
	[ "$(tr -d ' \n' <<<"${usage,,}")" = "$(tr -d ' \n' <<<"${synopsis,,}")" ]
	[[ "$output" == *"    -f, --format FORMAT   console md csv json junit github bencher html"* ]]
	run --separate-stderr bm-report --version
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "bm-report 0.1.0" ]
	run --separate-stderr bm-report --bogus
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr%%$'\n'*}" = "bm-report: unrecognized option '--bogus'" ]
	run --separate-stderr bm-report -f xml
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-report: -f: unknown format 'xml'" ]
	run --separate-stderr bm-report --no-db --history 3
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-report: --no-db cannot be combined with --history" ]
	run --separate-stderr bm-report --history=x
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-report: --history: invalid number 'x'" ]
}

@test "bm-report: md is GitHub tables and a verdict, exactly" {
	run --separate-stderr bm-report -f md --title 'nightly <eval> | main' "$R/stats.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(cat "$R/expected.md")" ]
}

@test "bm-report: md from results alone counts them per model and lists the failures" {
	run --separate-stderr bm-report -f md "$R/results.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "## bm report

| model | n | pass | fail | error | pass rate |
|:--|--:|--:|--:|--:|--:|
| openai:gpt-4o-mini | 4 | 3 | 1 | 0 | 75.0% |
| anthropic:claude-3-5-haiku-latest | 3 | 1 | 1 | 1 | 50.0% |

### Failed cases

| benchmark | model | case | status | why |
|:--|:--|:--|:--|:--|
| sum-two-numbers | openai:gpt-4o-mini | -/1/0/0 | fail | expected \"15\", got \"16 &lt;/script\\>&lt;b\\>&amp;amp;\" |
| &lt;script\\>alert(1)&lt;/script\\> | anthropic:claude-3-5-haiku-latest | tools/0/0/0 | error | no answer within 60 s |
| &lt;script\\>alert(1)&lt;/script\\> | anthropic:claude-3-5-haiku-latest | tools/0/1/0 | fail | contains failed; the answer, says the judge, is wrong |

**Verdict:** FAIL: 4 of 7 results passed, 2 failed, 1 error" ]
}

@test "bm-report: console fits 80 columns, cuts names, bars, arrows, verdict" {
	run --separate-stderr bm-report -f console "$R/stats.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# Width in characters, as a terminal counts these.
	[ "$($PY -c 'import sys; print(max(len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")))' <(printf '%s\n' "$output"))" -le 80 ]
	[[ "$output" != *$'\033'* ]]
	[ "${lines[0]}" = "model                  n pass rate (95% interval)       p95 latency         cost" ]
	[ "${lines[1]}" = "openai:gpt-4o-mi…    300 ███████░    72.2% [66.7, 77.0] ███▎     812ms   \$0.0123" ]
	[ "${lines[2]}" = "anthropic:claude…    300 ████████▓   85.0% [80.5, 88.6] ██████  1500ms   \$0.0456" ]
	[[ "${lines[4]}" == *"70.0% →  78.0%  ▲  +8.0 pp *  lat ▼ -12.0%"* ]]
	[ "${lines[6]}" = "openai:gpt-4o-mini pass_rate            ▼ 80.0% → 70.0% (-12.5%) p=0.003" ]
	[ "${lines[-1]}" = "FAIL: 1 regression (pass_rate of openai:gpt-4o-mini: 80.0% → 70.0%)" ]
}

@test "bm-report: console with comparisons alone, and with nothing" {
	sed -n 3p "$R/stats.jsonl" > cmp.jsonl
	run --separate-stderr bm-report -f console cmp.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "comparisons (* significant at 0.05)" ]
	[ "${lines[-1]}" = "OK: no regressions in 1 comparison; 1 significant change" ]
	run --separate-stderr bm-report -f console < /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "no records to report" ]
}

@test "bm-report: colour only on a terminal and never with NO_COLOR" {
	command -v script > /dev/null || skip "script(1) not installed"
	run --separate-stderr script -qec "env -u NO_COLOR bm-report $R/stats.jsonl" /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "$output" == *$'\033[1m'* ]]
	[[ "$output" == *$'\033[32m\u25b2'* ]]
	NO_COLOR= run --separate-stderr script -qec "bm-report $R/stats.jsonl" /dev/null
	[ "$stderr" = "" ]
	[[ "$output" == *$'\033[0m'* ]]
	# Not a terminal: no colour even without NO_COLOR.
	run --separate-stderr env -u NO_COLOR bm-report -f console "$R/stats.jsonl"
	[ "$stderr" = "" ]
	[[ "$output" != *$'\033'* ]]
	# The default on a terminal is console; NO_COLOR=1 takes colour away.
	NO_COLOR=1 run --separate-stderr script -qec "bm-report $R/stats.jsonl" /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "$output" == *"pass rate (95% interval)"* ]]
	[[ "$output" != *$'\033'* ]]
}

@test "bm-report: csv is RFC 4180 with dotted names, read back by python3's csv" {
	printf '%s\n' '{"type":"stat","group":{"model":"a,\"b\"\nc","variant":null},"n":2,"pass":1,"fail":1,"error":0,"pass_rate":0.5,"pass_rate_ci":[0.1,0.9]}' > odd.jsonl
	run --separate-stderr bm-report -f csv "$R/stats.jsonl" "$R/cases.jsonl" odd.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "$output" == "type,group.model,n,pass,fail,error,pass_rate,pass_rate_ci.0,pass_rate_ci.1,latency_ms.mean,"* ]]
	printf '%s' "$output" > out.csv
	[ "$(head -1 out.csv | grep -c $'\r$')" -eq 1 ]
	run --separate-stderr $PY - out.csv "$R/stats.jsonl" <<-'EOF'
		import csv, json, sys
		rows = list(csv.DictReader(open(sys.argv[1], newline="")))
		recs = [json.loads(l) for l in open(sys.argv[2])]
		assert [r["type"] for r in rows] == ["stat", "stat", "stat",
		    "comparison", "regression", "case_stat", "case_stat"], rows
		for r, j in zip(rows[:2] + rows[3:5], recs):
		    assert r["group.model"] == j["group"]["model"]
		assert float(rows[0]["latency_ms.p95"]) == recs[0]["latency_ms"]["p95"]
		assert float(rows[0]["pass_rate_ci.1"]) == recs[0]["pass_rate_ci"][1]
		assert rows[1]["ttft_ms.p95"] == ""
		assert rows[2]["group.model"] == 'a,"b"\nc'
		assert "group.variant" not in rows[2]
		assert rows[3]["pass_rate.significant"] == "true"
		assert rows[3]["candidate"] == "tools"
		assert rows[4]["metric"] == "pass_rate" and rows[4]["rel"] == "-0.125"
		assert rows[5]["label"] == "flaky"
		print(len(rows), len(rows[0]))
	EOF
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "7 91" ]
	# A list of cases is one cell of JSON, not a column per case.
	printf '%s\n' '{"type":"regression","group":{"model":"m"},"metric":"pass_rate","flipped":["c1","c2","c3","c4","c5"],"ci":[1,2]}' > flip.jsonl
	run --separate-stderr bm-report -f csv flip.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = $'type,group.model,metric,flipped,ci.0,ci.1\r\nregression,m,pass_rate,"[""c1"",""c2"",""c3"",""c4"",""c5""]",1,2\r' ]
}

@test "bm-report: json is one document with the records grouped by type" {
	run --separate-stderr bm-report -f json "$R/stats.jsonl" "$R/results.jsonl" "$R/cases.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -c '[keys_unsorted, (.stat|length), (.comparison|length), (.regression|length), (.case_stat|length), (.result|length), (.history|length)]' <<<"$output")" = '[["title","run","stat","comparison","regression","case_stat","result","history"],2,1,1,2,7,0]' ]
	[ "$(jq -c '.stat[0]' <<<"$output")" = "$(head -1 "$R/stats.jsonl" | jq -c .)" ]
	[ "$(jq -c '.result[3]' <<<"$output")" = "$(sed -n 4p "$R/results.jsonl" | jq -c .)" ]
}

@test "bm-report: json keeps every result of a large input, in order" {
	jq -cn 'range(6000) | {type:"result",run_id:"r",case_id:"c\(.)",
	    model:"m",status:"pass",output:("x" * 300),trial:.}' > big.jsonl
	run --separate-stderr bm-report -f json big.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[(.result|length), .result[0].trial, .result[5999].trial, ([.result[].trial] == [range(6000)])]' <<<"$output")" = '[6000,0,5999,true]' ]
}

@test "bm-report: json writes each result compact, as bm_json_put would" {
	printf '%s\n' '{ "type": "result", "status": "fail", "model": "m",  "why": "a \"q\"\n\ttab\\ \/ \u00e9 \u0001", "latency_ms": 1234.50, "cost_usd": 1e-7, "trial": 2, "x": [ 1.0, -0, 0.00012 ] }' > esc.jsonl
	run --separate-stderr bm-report -f json esc.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = '{"title":"bm report","run":[],"stat":[],"comparison":[],"regression":[],"case_stat":[],"result":[{"type":"result","status":"fail","model":"m","why":"a \"q\"\n\ttab\\ / é \u0001","latency_ms":1234.5,"cost_usd":1e-07,"trial":2,"x":[1,-0,0.00012]}],"history":[]}' ]
}

@test "bm-report: json's strings with an escape or a control byte at every offset" {
	# Strings are scanned 8 bytes at a time: each special byte at each
	# position of a word, up to the line's end; as Python prints them.
	$PY - > esc.jsonl 3> want.json <<-'EOF'
		import json, os
		out = os.fdopen(3, "w")
		sp = ['\\"', '\\\\', '\\/', '\\n', '\\u00e9', '\\u0001', '\t', '\u00e9']
		lines, recs = [], []
		for k in range(18):
		    for c in sp:
		        s = "a" * k + c + "b" * (17 - k)
		        lines.append('{"type":"result","status":"pass","s":"%s"}' % s)
		for l in lines:
		    print(l)
		    recs.append(json.dumps(json.loads(l, strict=False), ensure_ascii=False, separators=(",", ":")))
		out.write('{"title":"bm report","run":[],"stat":[],"comparison":[],"regression":[],"case_stat":[],"result":[%s],"history":[]}\n' % ",".join(recs))
	EOF
	run --separate-stderr bm-report -f json esc.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(cat want.json)" ]
}

@test "bm-report: junit times are the latencies in seconds as %.3f prints them" {
	lat='1234.5 0.4 2500.5 999.9996 0.5 1 812.25 60000 1e7 123456789.5'
	for l in $lat; do
		printf '{"type":"result","status":"pass","model":"m","latency_ms":%s}\n' "$l"
	done > lat.jsonl
	run --separate-stderr bm-report -f junit lat.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	got=$(grep -o '<testcase [^>]*time="[^"]*"' <<<"$output" | sed 's/.*time="//; s/"//' | tr '\n' ' ')
	want=$($PY -c 'import sys; print(" ".join("%.3f" % (float(l) / 1000) for l in sys.argv[1:]), end=" ")' $lat)
	[ "$got" = "$want" ]
}

@test "bm-report: junit read by junitparser: suites, cases, failures, errors" {
	command -v xmllint > /dev/null || skip "xmllint not installed"
	$PY -c 'import junitparser' 2> /dev/null || skip "python3-junitparser not installed"
	run --separate-stderr bm-report -f junit -o junit.xml "$R/results.jsonl" "$R/stats.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
	xmllint --noout junit.xml
	run --separate-stderr $PY - junit.xml "$R/results.jsonl" <<-'EOF'
		import json, sys
		from junitparser import JUnitXml, Failure, Error
		res = [json.loads(l) for l in open(sys.argv[2])]
		xml = JUnitXml.fromfile(sys.argv[1])
		suites = list(xml)
		cases = [c for s in suites for c in s]
		fails = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
		errs = [c for c in cases if any(isinstance(r, Error) for r in c.result)]
		assert [s.name for s in suites] == list(dict.fromkeys(r["model"] for r in res))
		assert len(cases) == len(res)
		assert len(fails) == sum(r["status"] == "fail" for r in res)
		assert len(errs) == sum(r["status"] == "error" for r in res)
		assert sum(s.tests for s in suites) == len(res)
		assert sum(s.failures for s in suites) == len(fails)
		assert sum(s.errors for s in suites) == len(errs)
		f = fails[1]
		assert f.classname == "<script>alert(1)</script>", f.classname
		assert f.name == "tools/0/1/0"
		assert f.result[0].message == "contains failed; the answer, says the judge,\nis wrong" or \
		    f.result[0].message == "contains failed; the answer, says the judge, is wrong"
		e = errs[0]
		assert e.result[0].type == "timeout"
		assert e.result[0].message == "no answer within 60 s"
		assert abs(cases[3].time - 1.25) < 1e-9
		print(len(suites), len(cases), len(fails), len(errs))
	EOF
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "2 7 2 1" ]
}

@test "bm-report: github annotations point at the benchmark's YAML document" {
	mkdb
	run --separate-stderr bm-report -f github "$R/results.jsonl" "$R/stats.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = '::error title=bm regression%3A pass_rate::openai:gpt-4o-mini got worse: 80.0%25 → 70.0%25 (-12.5%25, p=0.003)
::error file=bench/math.yml,line=7,title=sum-two-numbers failed::openai:gpt-4o-mini -/1/0/0: expected "15", got "16 </script><b>&amp;"
::error title=<script>alert(1)</script> failed::anthropic:claude-3-5-haiku-latest tools/0/1/0: contains failed; the answer, says the judge,%0Ais wrong
::warning title=<script>alert(1)</script> error::anthropic:claude-3-5-haiku-latest tools/0/0/0: timeout: no answer within 60 s
::notice title=bm::7 results: 4 passed, 2 failed, 1 error; 1 regression' ]
	# Without the database: the same, without file= and line=.
	run --separate-stderr bm-report -f github --no-db "$R/results.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = '::error title=sum-two-numbers failed::openai:gpt-4o-mini -/1/0/0: expected "15", got "16 </script><b>&amp;"' ]
	[ ! -e nothere.db ]
	BM_DB=nothere.db run --separate-stderr bm-report -f github "$R/results.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ ! -e nothere.db ]
}

@test "bm-report: github: at most 50 annotations, then a summary line" {
	for i in $(seq 60); do
		jq -cn --argjson i "$i" '{type:"result",run_id:"r",case_id:("c\($i)"),
		    benchmark:"b",model:"m",variant:null,trial:$i,repeat:0,step:0,
		    status:(if $i % 2 == 0 then "fail" else "error" end),
		    error:(if $i % 2 == 0 then null else {class:"server",message:"HTTP 500"} end),
		    latency_ms:1,assertions:[{type:"equals",pass:false}]}'
	done > many.jsonl
	run --separate-stderr bm-report -f github --no-db many.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 51 ]
	[ "$(grep -c '^::error ' <<<"$output")" -eq 30 ]
	[ "$(grep -c '^::warning ' <<<"$output")" -eq 20 ]
	[ "${lines[0]}" = "::error title=b failed::m -/2/0/0: equals failed" ]
	[ "${lines[30]}" = "::warning title=b error::m -/1/0/0: server: HTTP 500" ]
	[ "${lines[50]}" = "::notice title=bm::60 results: 0 passed, 30 failed, 30 errors; 0 regressions; 10 more annotations not shown" ]
}

@test "bm-report: bencher is Bencher Metric Format" {
	run --separate-stderr bm-report -f bencher "$R/stats.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '.["openai:gpt-4o-mini"]' <<<"$output")" = '{"pass-rate":{"value":0.7216,"lower_value":0.667,"upper_value":0.77},"latency-p50":{"value":612},"latency-p95":{"value":812},"cost-usd":{"value":0.0123}}' ]
	[ "$(jq -c 'keys_unsorted' <<<"$output")" = '["openai:gpt-4o-mini","anthropic:claude-3-5-haiku-latest-with-a-very-long-name"]' ]
}

@test "bm-report: html is self-contained, escaped, with the data embedded" {
	run --separate-stderr bm-report -o report.html --title '<b>T</b>' "$R/stats.jsonl" "$R/results.jsonl" "$R/cases.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "" ]
	[ "$(head -c 15 report.html)" = "<!DOCTYPE html>" ]
	grep -q "<title>&lt;b&gt;T&lt;/b&gt;</title>" report.html
	grep -q "Content-Security-Policy\" content=\"default-src 'none'" report.html
	# Only the page's scripts (code, data: the heat map is built from
	# the data); record text is never markup.
	[ "$(grep -o '<script' report.html | wc -l)" -eq 2 ]
	# ASCII only (browsers parse it as 8-bit text): other characters are
	# references in markup, \u escapes in the data.
	! LC_ALL=C grep -q '[^ -~[:space:]]' report.html
	grep -q '3 cases &#xd7; 2 runs' report.html
	! grep -q '<script>alert' report.html
	! grep -Eq '(src|href)="?(https?:)?//' report.html
	data=$(sed -n 's/.*<script type="application\/json" id="bm-data">\(.*\)<\/script>$/\1/p' report.html)
	[[ "$data" != *"<"* ]]
	[[ "$data" == *'"sum-two-numbers #0 \u00b7 openai:gpt-4o-mini"'* ]]
	# The heat map's labels come from the data, escaped by the page
	# (the Chromium test reads them back as text).
	[[ "$data" == *'"\u003cscript>alert(1)\u003c/script> / tools #0'* ]]
	[ "$(jq -c '[(.stat|length), (.cells|length), (.cases|length), (.runs|length)]' <<<"$data")" = '[2,5,3,2]' ]
	[ "$(jq -r '.cells[] | select(.[2] == "f") | .[3][0][1]' <<<"$data")" = '16 </script><b>&amp;' ]
	# No temporary file is left next to it.
	[ -z "$(ls -A | grep '^\.bm-report')" ]
}

@test "bm-report: -o replaces the file atomically; an unwritable one is exit 2" {
	echo old > out.md
	run --separate-stderr bm-report -o out.md "$R/stats.jsonl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(head -1 out.md)" = "## bm report" ]
	[ -z "$(ls -A | grep '^\.bm-report')" ]
	run --separate-stderr bm-report -o nodir/out.md "$R/stats.jsonl"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-report: nodir/out.md: No such file or directory" ]
	run --separate-stderr bash -c "bm-report -f md $R/stats.jsonl > /dev/full"
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-report: stdout: No space left on device" ]
}

@test "bm-report: malformed lines are reported, the report still written, exit 1" {
	{ head -1 "$R/stats.jsonl"; echo 'not json'; echo '[1]';
	  echo '{"type":"benchmark","id":"x"}'; } > mixed.jsonl
	run --separate-stderr bm-report -f md -v mixed.jsonl
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "## bm report" ]
	[ "$stderr" = "bm-report: mixed.jsonl:2: invalid JSON near column 1
bm-report: mixed.jsonl:3: expected an object, got an array
bm-report: 1 records of other types ignored" ]
	run --separate-stderr bm-report nosuch.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-report: nosuch.jsonl: No such file or directory" ]
}

@test "bm-report: --history reads runs from run_models and stats, oldest first" {
	mkdb
	run --separate-stderr bm-report -f json --history 2 < /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.history[] | [.id, .status, .models, .cases, .pass, .fail]]' <<<"$output")" = '[["r-2","finished",2,3,2,1],["r-3","interrupted",2,3,2,1]]' ]
	[ "$(jq -c '.history[1].by_model' <<<"$output")" = '{"m/a":{"pass_rate":0.5,"p95":215,"cost_usd":1,"n":2},"m/b":{"pass_rate":1,"cost_usd":0.5,"n":1}}' ]
	# Default N; a RUN spec (a label) ends the history.
	run --separate-stderr bm-report -f json --history --run nightly
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.history[].id]' <<<"$output")" = '["r-1","r-2"]' ]
	run --separate-stderr bm-report -f json --history=1 --run last~1 < /dev/null
	[ "$stderr" = "" ]
	[ "$(jq -c '[.history[].id]' <<<"$output")" = '["r-3"]' ]
}

@test "bm-report: with --history the heat map's columns are the stored runs, then the input's" {
	mkdb
	# heat FILE: the page's cases, runs and cells (row, column, status,
	# results' statuses and answers).
	heat() {
		sed -n 's/.*<script type="application\/json" id="bm-data">\(.*\)<\/script>$/\1/p' "$1" |
		    jq -c '[.cases, .runs, [.cells[] | [.[0], .[1], .[2], [.[3][] | .[0:2]]]]]'
	}
	run --separate-stderr bm-report -f html -o h.html --history 3 < /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# r-4 has no results; a case is benchmark, variant, trial and model,
	# so c1 and c2 of m/a share a row (the cell takes the worse status).
	[ "$(heat h.html)" = '[[["sum-two-numbers #0 · m/a",true],["sum-two-numbers #0 · m/b",true]],["r-1","r-2","r-3"],[[0,0,"f",[["p",null],["f",null]]],[1,0,"p",[["p",null]]],[0,1,"p",[["p",null],["p",null]]],[1,1,"f",[["f",null]]],[0,2,"f",[["p",null],["f",null]]],[1,2,"p",[["p",null]]]]]' ]
	run --separate-stderr bm-report -f html -o h.html --history 1 < /dev/null
	[ "$stderr" = "" ]
	[ "$(heat h.html | jq -c '.[1]')" = '["r-3"]' ]
	# A run of the input takes its column from the input (answers and
	# all), not from the database; the input's other runs come last.
	printf '%s\n' '{"type":"result","run_id":"r-3","case_id":"c1","benchmark":"sum-two-numbers","model":"m/b","variant":null,"trial":0,"repeat":0,"step":0,"status":"fail","output":"5"}' \
	    '{"type":"result","run_id":"r-9","case_id":"c1","benchmark":"sum-two-numbers","model":"m/b","variant":null,"trial":0,"repeat":0,"step":0,"status":"pass","output":"4"}' > in.jsonl
	run --separate-stderr bm-report -f html -o h.html --history 2 in.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(heat h.html)" = '[[["sum-two-numbers #0 · m/b",true],["sum-two-numbers #0 · m/a",false]],["r-2","r-3","r-9"],[[0,1,"f",[["f","5"]]],[0,2,"p",[["p","4"]]],[1,0,"p",[["p",null],["p",null]]],[0,0,"f",[["f",null]]]]]' ]
	# Without --history, the input's runs alone.
	run --separate-stderr bm-report -f html -o h.html in.jsonl
	[ "$stderr" = "" ]
	[ "$(heat h.html | jq -c '.[1]')" = '["r-3","r-9"]' ]
}

@test "bm-report: --run reads a run's stored stats and results" {
	mkdb
	run --separate-stderr bm-report -f json --run r-3
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[(.stat|length), (.result|length), .stat[0].pass_rate, [.result[].status]]' <<<"$output")" = '[2,3,0.5,["pass","fail","pass"]]' ]
	run --separate-stderr bm-report -f junit --run last~1
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c '<testcase' <<<"$output")" -eq 3 ]
	run --separate-stderr bm-report --run r-9
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-report: $BM_DB: no run 'r-9'" ]
	run --separate-stderr bm-report --run r-3 x.jsonl
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-report: --run takes no FILE arguments" ]
	BM_DB=missing.db run --separate-stderr bm-report --history 3
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-report: missing.db: No such file or directory" ]
	[ ! -e missing.db ]
}

@test "bm-report: the dashboard in headless Chromium, offline" {
	chrome=${CHROMIUM:-/usr/bin/chromium}
	[ -x "$chrome" ] || skip "chromium is not installed (scripts/deps test installs it): the dashboard is not tested"
	command -v node > /dev/null || skip "node is not installed: the dashboard is not tested"
	mkdb
	cat "$R/stats.jsonl" "$R/results.jsonl" "$R/cases.jsonl" |
	    bm-report -o dash.html --history 5
	run --separate-stderr node --experimental-websocket \
	    "$BM_SRCDIR/tests/chromium/dashboard.mjs" dash.html --shots shots --loads 3
	echo "$stderr"
	[ "$status" -eq 0 ]
	r=$output
	# Nothing left the page, nothing went wrong in it.
	[ "$(jq -c '[.requests, .console_errors, .exceptions]' <<<"$r")" = '[[],[],[]]' ]
	# Bars, rows and cells equal the data.
	[ "$(jq -c '.dom | [.bars, .stat_rates, .snap_rows, .cmp_rows, .reg_rows, .run_rows, .trend_series, .data_history]' <<<"$r")" = '[[72.16,85],[0.7216,0.85],2,1,1,3,4,3]' ]
	# The heat map: the input's 5 cells, and 6 of the history's runs r-1
	# to r-3 in the database (2 cases, both flaky), r-1 to r-3 first.
	[ "$(jq -c '.dom | [.heat_before_tab, .heat_cells, .data_cells, .heat_match, .flaky, .data_flaky, .scripts]' <<<"$r")" = '[0,11,11,true,4,4,2]' ]
	[ "$(jq -r '.dom.heat_labels[2]' <<<"$r")" = "◆ <script>alert(1)</script> / tools #0 · anth…" ]
	# Each tab shows its panel alone, by click and by keyboard.
	[ "$(jq -c '.tabs.click' <<<"$r")" = '[["p-snapshot"],["p-trends"],["p-comparison"],["p-regressions"],["p-cases"],["p-runs"]]' ]
	[ "$(jq -c '.tabs.keys' <<<"$r")" = '[["t-trends","p-trends"],["t-comparison","p-comparison"],["t-runs","p-runs"],["t-snapshot","p-snapshot"],["t-runs","p-runs"]]' ]
	# A failed cell shows its answer and the failed assertion.
	[ "$(jq -c '.cell.pre' <<<"$r")" = '["16 </script><b>&amp;"]' ]
	[[ "$(jq -r '.cell.text' <<<"$r")" == *'expected "15", got "16 </script><b>&amp;"'* ]]
	# By keyboard: one cell in the tab order, arrows move, Enter opens.
	[ "$(jq -c '.cellkeys | [.tabbable, .after_right, .after_end, .last, .now, .selected, .title == .want]' <<<"$r")" = '[1,1,10,10,1,1,true]' ]
	[ "$(jq -c '.sort' <<<"$r")" = '{"up":[2,2,2],"down":[2,2,2]}' ]
	# Readable at phone width: nothing wider than the screen.
	[ "$(jq -c '[.width_390, .width_1280]' <<<"$r")" = '[390,1280]' ]
	[ -s shots/dashboard-390.png ] && [ -s shots/dashboard-1280.png ]
	[ "$(jq '.load_ms | length' <<<"$r")" -eq 3 ]
	[ "$(jq '.load_median_ms < 1000' <<<"$r")" = true ]
}

# big.sha256: each format's output of big.awk's 20,000 results (7 blocks
# of the threaded reader, with lines for the slow path among them), as
# bm-report wrote it before junit was written while reading, before md,
# console, csv, github and bencher kept only a few results, and before
# json and junit copied their spill file with sendfile.
@test "bm-report: every format of 20,000 results, byte for byte as before" {
	awk -f "$R/big.awk" > big.jsonl
	[ "$(wc -l < big.jsonl)" -eq 20012 ]
	while read -r sum f; do
		run --separate-stderr bm-report --no-db -f "$f" -o "out.$f" \
		    big.jsonl
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ]
		echo "$f"
		[ "$(sha256sum < "out.$f" | cut -d' ' -f1)" = "$sum" ]
	done < "$R/big.sha256"
	# To a pipe and from one, as to and from a file.
	for f in json junit md; do
		cat big.jsonl | bm-report --no-db -f "$f" | cmp - "out.$f"
	done
}

@test "bm-report: html of results alone keeps the heat map's first 5000 cases and counts the rest" {
	# 6000 cases (each its own row), in run r-1 then in r-2.
	awk 'BEGIN { for (i = 0; i < 12000; i++) { c = i % 6000
		st = i % 7 == 0 ? "error" : i % 5 == 0 ? "fail" : "pass"
		printf "{\"type\":\"result\",\"run_id\":\"r-%d\",\"benchmark_id\":\"id-%d\",\"benchmark\":\"b-%d\",\"model\":\"m-%d\",\"variant\":null,\"trial\":0,\"repeat\":0,\"step\":%d,\"status\":\"%s\",\"output\":\"a%d\",\"latency_ms\":100}\n", 1 + int(i / 6000), c, c, c % 2, i % 3 == 2, st, i } }' > res.jsonl
	run --separate-stderr bm-report --no-db -f html -o r.html res.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	grep -q '5000 cases &#xd7; 2 runs; .* 2000 results of further cases not shown\.' r.html
	data=$(sed -n 's/.*<script type="application\/json" id="bm-data">\(.*\)<\/script>$/\1/p' r.html)
	[ "$(jq -c '[(.cases|length), .runs, (.cells|length), .cases[4999][0], .cells[0][3], .cells[9999]]' <<<"$data")" = '[5000,["r-1","r-2"],10000,"b-4999 #0 · m-1",[["e","a0",null,"error"]],[4999,1,"p",[["p","a10999",null,null]]]]' ]
	# The snapshot and the runs tab count every result.
	for m in 0 1; do
		jq -r --arg m "m-$m" 'select(.model == $m) | .status' res.jsonl | sort | uniq -c |
		    awk -v m="m-$m" '{ n[$2] = $1 } END { printf "<th scope=\"row\" title=\"%s\">%s</th><td class=\"n\" data-l=\"n\">%d</td><td data-l=\"pass rate\">\n", m, m, n["pass"] + n["fail"] + n["error"]; printf "%s\n", sprintf("%.1f%%", 100 * n["pass"] / (n["pass"] + n["fail"])) }' > want
		grep -qF "$(head -1 want)" r.html
		grep -qF "</svg>$(tail -1 want)" r.html
	done
	for r in 1 2; do
		want=$(jq -r --arg r "r-$r" 'select(.run_id == $r) | [.status, .step] | @tsv' res.jsonl |
		    awk '{ n[$1]++; c += $2 == 0 } END { printf "data-v=\"%d\">%d</td><td class=\"n\" data-v=\"%d\">%d</td><td class=\"n\" data-v=\"%d\">%d</td><td class=\"n\" data-v=\"%d\">%d</td>", c, c, n["pass"], n["pass"], n["fail"], n["fail"], n["error"], n["error"] }')
		grep "<tr><td data-v=\"r-$r\">" r.html | grep -qF "$want"
	done
}
