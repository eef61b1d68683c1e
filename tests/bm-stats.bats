#!/usr/bin/env bats
# bm-stats: stat, comparison, regression and case_stat records, checked
# against a reference computed here with python3's standard library.
load helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	export BM_DB="$BATS_TEST_TMPDIR/bm.db"
	unset BM_CONFIG
}

# gen N SEED: N seeded result lines over three models, with ties, errors,
# a single-result group and an all-error group.
gen() {
	python3 - "$1" "$2" <<'PY'
import json, random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
def rec(i, model, status, lat):
    r = {"type": "result", "run_id": "r-1", "case_id": "c%d" % i,
         "benchmark_id": "b%d" % (i % 7), "benchmark": "bench-%d" % (i % 7),
         "model": model, "variant": None, "trial": 0, "repeat": i // 7,
         "step": 0, "status": status, "error": None,
         "latency_ms": lat, "ttft_ms": round(lat / 3, 1),
         "usage": {"prompt_tokens": rnd.randint(5, 50),
                   "completion_tokens": rnd.randint(1, 9)},
         "cost_usd": rnd.randint(1, 100) / 1e6, "score": rnd.random(),
         "metrics": {"f1": rnd.random(), "tp": rnd.randint(0, 3),
                     "fp": rnd.randint(0, 2), "fn": rnd.randint(0, 2)},
         "started_at": "2026-11-23T10:15:%02d.%03dZ" % (i % 60, i % 1000),
         "finished_at": "2026-11-23T10:16:%02d.250Z" % (i % 60)}
    if status == "error":
        r["error"] = {"class": rnd.choice(["timeout", "rate_limit"]),
                      "message": "x"}
        r["latency_ms"] = None
        r["ttft_ms"] = None
        r["score"] = None
    return r
for i in range(n):
    m = rnd.choice(["a", "b"])
    st = rnd.choice(["pass", "pass", "fail", "error"])
    # ties: latencies on a coarse grid
    print(json.dumps(rec(i, m, st, rnd.choice([100, 150.5, 200, 250.25, 999]))))
print(json.dumps(rec(n, "single", "pass", 123.4)))
print(json.dumps(rec(n + 1, "allerr", "error", 0)))
print(json.dumps(rec(n + 2, "allerr", "error", 0)))
PY
}

# check_stats RESULTS STATS: every stat field against the reference.
check_stats() {
	python3 - "$1" "$2" <<'PY'
import json, math, statistics, sys
res = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = {tuple(r["group"].values()): r for r in map(json.loads, open(sys.argv[2]))}
def close(a, b, what):
    if a is None or b is None:
        assert a is None and b is None, (what, a, b)
        return
    assert abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-300, (what, a, b)
def pct(x, q):
    x = sorted(x)
    h = (len(x) - 1) * q / 100
    i = math.floor(h)
    return x[-1] if i >= len(x) - 1 else x[i] + (h - i) * (x[i + 1] - x[i])
def wilson(k, n, z=1.959964):
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(0, c - h), min(1, c + h)]
models = []
for r in res:
    if r["model"] not in models:
        models.append(r["model"])
assert list(out) == [(m,) for m in models], list(out)
for m in models:
    g = [r for r in res if r["model"] == m]
    s = out[(m,)]
    ok = [r for r in g if r["status"] != "error"]
    p = sum(r["status"] == "pass" for r in g)
    f = sum(r["status"] == "fail" for r in g)
    assert (s["n"], s["pass"], s["fail"], s["error"]) == (len(g), p, f, len(g) - len(ok))
    close(s["pass_rate"], p / (p + f) if p + f else None, "pass_rate")
    if p + f:
        for a, b in zip(s["pass_rate_ci"], wilson(p, p + f)):
            close(a, b, "ci")
    else:
        assert s["pass_rate_ci"] is None
    for k in ("latency_ms", "ttft_ms"):
        x = [r[k] for r in ok if r[k] is not None]
        d = s[k]
        close(d["mean"], statistics.mean(x) if x else None, k + " mean")
        close(d["sd"], (statistics.stdev(x) if len(x) > 1 else 0) if x else None, k + " sd")
        close(d["min"], min(x) if x else None, k)
        close(d["max"], max(x) if x else None, k)
        for q in (25, 50, 75, 90, 95, 99):
            close(d["p%d" % q], pct(x, q) if x else None, "%s p%d" % (k, q))
    close(s["usage"]["prompt_tokens"], math.fsum(r["usage"]["prompt_tokens"] for r in g), "pt")
    close(s["usage"]["completion_tokens"], math.fsum(r["usage"]["completion_tokens"] for r in g), "ct")
    cost = math.fsum(r["cost_usd"] for r in g)
    close(s["cost_usd"], cost, "cost")
    close(s["score_mean"], statistics.mean(r["score"] for r in ok) if ok else None, "score")
    tp, fp, fn = (sum(r["metrics"][k] for r in g) for k in ("tp", "fp", "fn"))
    close(s["f1"]["micro"], 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None, "micro")
    close(s["f1"]["macro"], statistics.mean(r["metrics"]["f1"] for r in g), "macro")
    errs = {}
    for r in g:
        if r["status"] == "error":
            errs[r["error"]["class"]] = errs.get(r["error"]["class"], 0) + 1
    assert s["errors"] == errs, (s["errors"], errs)
    close(s["cost_per_pass"], cost / p if p else None, "cpp")
    tok = sum(r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"] for r in g)
    close(s["tokens_per_pass"], tok / p if p else None, "tpp")
    ctl = [(r["usage"]["completion_tokens"], r["latency_ms"]) for r in ok]
    close(s["completion_tokens_per_s"], sum(c for c, _ in ctl) / (math.fsum(l for _, l in ctl) / 1000) if ctl else None, "ctps")
print("ok")
PY
}

@test "bm-stats: every stat field matches a python3 reference to 1e-9" {
	gen 3000 7 > res.jsonl
	run --separate-stderr bm-stats res.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	printf '%s\n' "$output" > stats.jsonl
	[ "$(check_stats res.jsonl stats.jsonl)" = ok ]
	# one result: sd 0; all errors: nulls, never NaN
	[ "$(jq -c 'select(.group.model=="single") | [.n, .latency_ms.sd, .latency_ms.p99, .pass_rate]' stats.jsonl)" = '[1,0,123.4,1]' ]
	[ "$(jq -c 'select(.group.model=="allerr") | [.error, .pass_rate, .pass_rate_ci, .latency_ms.mean, .cost_per_pass]' stats.jsonl)" = '[2,null,null,null,null]' ]
	! grep -qi 'nan\|inf' stats.jsonl
}

@test "bm-stats: a pipe gives what the file gives, the same from one thread" {
	gen 20000 3 > res.jsonl
	bm-stats res.jsonl > file.jsonl 2> err
	cat res.jsonl | bm-stats > pipe.jsonl 2>> err
	[ "$(cat err)" = "" ]
	cmp file.jsonl pipe.jsonl
	[ "$(check_stats res.jsonl pipe.jsonl)" = ok ]
}

@test "bm-stats: empty input writes nothing" {
	run --separate-stderr bm-stats < /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "bm-stats: malformed lines are named, skipped, and exit 1" {
	gen 10 1 > res.jsonl
	{ head -3 res.jsonl; echo 'not json'; echo '[1,2]'; echo '{"type":"case"}';
	  echo '{"type":"result","status":"maybe"}'; tail -n +4 res.jsonl; } > bad.jsonl
	run --separate-stderr bm-stats -v < bad.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-stats: <stdin>:4: invalid JSON near column 5
bm-stats: <stdin>:5: expected an object, got an array
bm-stats: <stdin>:7: result without a status of pass, fail or error
bm-stats: 13 results, 1 other records ignored, 3 malformed" ]
	bm-stats res.jsonl > good.jsonl
	[ "$output" = "$(cat good.jsonl)" ]
}

@test "bm-stats: -g takes several fields and dotted paths" {
	printf '%s\n' \
	  '{"type":"result","model":"m","vars":{"lang":"en"},"status":"pass","latency_ms":1}' \
	  '{"type":"result","model":"m","vars":{"lang":"fr"},"status":"fail","latency_ms":2}' \
	  '{"type":"result","model":"m","vars":{"lang":"en"},"status":"fail","latency_ms":3}' > r.jsonl
	run --separate-stderr bm-stats -g model,vars.lang r.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.group, .n, .pass_rate]' <<<"$output")" = '[{"model":"m","vars.lang":"en"},2,0.5]
[{"model":"m","vars.lang":"fr"},1,0]' ]
}

# pairs B C: 20 paired cases, B pass only in the candidate, C only in base.
pairs() {
	python3 - "$1" "$2" <<'PY'
import json, sys
b, c = int(sys.argv[1]), int(sys.argv[2])
males, females = [19, 22, 16, 29, 24], [20, 11, 17, 12]
for i in range(20):
    cand = "pass" if i < b or i >= b + c + 3 else "fail"
    base = "pass" if b <= i < b + c or i >= b + c + 3 else "fail"
    for v, st, lat in (("base", base, females[i % 4] if i < 4 else None),
                       ("new", cand, males[i % 5] if i < 5 else None)):
        print(json.dumps({"type": "result", "case_id": "%s%d" % (v, i),
            "benchmark_id": "b%d" % i, "model": "m", "variant": v,
            "trial": 0, "repeat": 0, "step": 0, "status": st,
            "latency_ms": lat, "usage": {"prompt_tokens": 10,
            "completion_tokens": 5 if v == "base" else 4}}))
PY
}

@test "bm-stats: --compare pairs cases: McNemar and Mann-Whitney worked examples" {
	# b = 3, c = 12: binomtest(3, 15) = 2 * 576 / 2^15 = 0.03515625
	pairs 3 12 > r.jsonl
	run --separate-stderr bm-stats --compare variant=base r.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	c=$(jq -c 'select(.type == "comparison")' <<<"$output")
	[ "$(jq -c '[.group, .field, .baseline, .candidate, .paired, .n_pairs, .pass_rate.test]' <<<"$c")" = '[{"model":"m"},"variant","base","new",true,20,"mcnemar-exact"]' ]
	python3 - "$c" <<'PY'
import json, math, sys
c = json.loads(sys.argv[1])
pr = c["pass_rate"]
def close(a, b): assert abs(a - b) <= 1e-9 * abs(b), (a, b)
close(pr["p_value"], 0.03515625)
close(pr["delta"], (3 - 12) / 20)
# scipy's documented example: mannwhitneyu(males, females,
# method="asymptotic") gives U = 17, p = 0.11134688653314041
close(c["latency_ms"]["u"], 17)
close(c["latency_ms"]["p_value"], 0.11134688653314041)
# Holm over the four p-values of this invocation
ps = [c[k]["p_value"] for k in ("pass_rate", "latency_ms", "prompt_tokens", "completion_tokens")]
order = sorted(range(4), key=lambda i: ps[i])
adj, run = [0] * 4, 0
for j, i in enumerate(order):
    run = max(run, min(1, (4 - j) * ps[i]))
    adj[i] = run
for k, a in zip(("pass_rate", "latency_ms", "prompt_tokens", "completion_tokens"), adj):
    close(c[k]["p_adjusted"], a)
    assert c[k]["significant"] == (a < 0.05)
# Newcombe's paired interval, method 10, from the 2x2 table
a, b, cc, d, n, z = 2, 3, 12, 3, 20, 1.959964
def wilson(k, n):
    p = k / n; q = (p + z*z/(2*n)) / (1 + z*z/n)
    h = z / (1 + z*z/n) * math.sqrt(p*(1-p)/n + z*z/(4*n*n)); return q - h, q + h
p1, p2 = (a + b) / n, (a + cc) / n
l1, u1 = wilson(a + b, n); l2, u2 = wilson(a + cc, n)
num = a * d - b * cc
den = (a+b)*(cc+d)*(a+cc)*(b+d)
phi = (num - n/2) / math.sqrt(den) if num > n/2 else num / math.sqrt(den) if num < 0 else 0
lo = (p1-p2) - math.sqrt((p1-l1)**2 - 2*phi*(p1-l1)*(u2-p2) + (u2-p2)**2)
hi = (p1-p2) + math.sqrt((p2-l2)**2 - 2*phi*(p2-l2)*(u1-p1) + (u1-p1)**2)
close(pr["ci"][0], lo); close(pr["ci"][1], hi)
close(c["completion_tokens"]["reduction_pct"], 20)
PY
}

@test "bm-stats: unpaired --compare uses the pooled z-test and Newcombe's interval" {
	# Newcombe (1998), Table II example: 56/70 against 48/80
	python3 - <<'PY' > r.jsonl
import json
for v, k, n in (("x", 56, 70), ("y", 48, 80)):
    for i in range(n):
        print(json.dumps({"type": "result", "model": v, "benchmark_id": v + str(i),
            "status": "pass" if i < k else "fail", "latency_ms": i}))
PY
	run --separate-stderr bm-stats -g model --compare model=y r.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	c=$(jq -c 'select(.type == "comparison") | .pass_rate' <<<"$output")
	[ "$(jq -r .test <<<"$c")" = z-test ]
	# the paper's method 10 interval, to its four decimals
	[ "$(jq -r '.ci | map(. * 10000 | round) | @csv' <<<"$c")" = "524,3339" ]
	python3 - "$c" <<'PY'
import json, math, sys
c = json.loads(sys.argv[1])
p = (56 + 48) / 150
z = (56/70 - 48/80) / math.sqrt(p * (1 - p) * (1/70 + 1/80))
want = math.erfc(abs(z) / math.sqrt(2))
assert abs(c["p_value"] - want) <= 1e-9 * want, (c["p_value"], want)
mde = (1.959964 + 0.8416212335729143) * math.sqrt(p * (1 - p) * (1/70 + 1/80))
assert abs(c["mde"] - mde) <= 1e-9 * mde
PY
}

@test "bm-stats: --baseline FILE finds a significant drop and names flipped cases" {
	pairs 0 12 > both.jsonl
	jq -c 'select(.variant == "base") | .variant = null | .case_id |= sub("base"; "")' both.jsonl > old.jsonl
	jq -c 'select(.variant == "new") | .variant = null | .case_id |= sub("new"; "")' both.jsonl > new.jsonl
	run --separate-stderr bm-stats --baseline old.jsonl --fail-on-regression new.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = "bm-stats: 1 regression" ]
	r=$(jq -c 'select(.type == "regression")' <<<"$output")
	[ "$(jq -c '[.metric, .baseline, .current, .test, .threshold_pct, (.flipped | length), .flipped[0]]' <<<"$r")" = '["pass_rate",0.85,0.25,"mcnemar-exact",5,12,"0"]' ]
	[ "$(jq -r .p_value <<<"$r")" = "$(python3 -c 'print(2 * 0.5 ** 12)')" ]
	# without --fail-on-regression the gate stays open; a stats baseline works too
	bm-stats old.jsonl > old-stats.jsonl
	run --separate-stderr bm-stats -q --baseline old-stats.jsonl new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r 'select(.type == "regression" and .metric == "pass_rate") | .test' <<<"$output")" = z-test ]
	# no regression against itself
	run --separate-stderr bm-stats --baseline new.jsonl --fail-on-regression new.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -s 'map(select(.type == "regression")) | length' <<<"$output")" = 0 ]
}

@test "bm-stats: --fail-under gates on a group's pass rate" {
	pairs 0 12 > r.jsonl
	run --separate-stderr bm-stats -g variant --fail-under 0.5 r.jsonl
	[ "$status" -eq 1 ]
	[ "$stderr" = 'bm-stats: {"variant":"new"}: pass rate 0.25 is below 0.5' ]
	run --separate-stderr bm-stats -g variant --fail-under 0.2 r.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
}

@test "bm-stats: --cases labels stable, flaky, error, regressed and fixed cases" {
	python3 - <<'PY' > r.jsonl
import json
def r(b, rep, st, run="r2"):
    print(json.dumps({"type": "result", "run_id": run, "benchmark_id": b, "model": "m",
        "variant": None, "trial": 0, "repeat": rep, "status": st}))
for rep in range(3):
    r("sp", rep, "pass"); r("sf", rep, "fail"); r("er", rep, "error")
    r("fl", rep, "pass" if rep else "fail")
PY
	run --separate-stderr bm-stats --cases r.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r 'select(.type == "case_stat") | [.benchmark_id, .n, .pass, .fail, .error, .label] | @tsv' <<<"$output")" = "sp	3	3	0	0	stable-pass
sf	3	0	3	0	stable-fail
er	3	0	0	3	error
fl	3	2	1	0	flaky" ]
	sed 's/"fail"/"x"/; s/"pass"/"fail"/; s/"x"/"pass"/' r.jsonl > old.jsonl
	run --separate-stderr bm-stats -q --cases --baseline old.jsonl r.jsonl
	[ "$stderr" = "" ]
	[ "$(jq -r 'select(.type == "case_stat") | [.benchmark_id, .label, .baseline_label] | @tsv' <<<"$output")" = "sp	fixed	stable-fail
sf	regressed	stable-pass
er	error	error
fl	flaky	flaky" ]
}

@test "bm-stats: --top N --by METRIC keeps the best groups" {
	python3 - <<'PY' > r.jsonl
import json
for m, k, lat in (("a", 1, 50), ("b", 3, 90), ("c", 2, 10), ("d", 3, 70)):
    for i in range(4 if m != "d" else 5):
        print(json.dumps({"type": "result", "model": m,
            "status": "pass" if i < k else "fail", "latency_ms": lat}))
PY
	run --separate-stderr bm-stats --top 2 r.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -r .group.model <<<"$output" | tr '\n' ' ')" = "b d " ]
	run --separate-stderr bm-stats --top 1 --by p50 r.jsonl
	[ "$stderr" = "" ]
	[ "$(jq -r .group.model <<<"$output")" = c ]
	run --separate-stderr bm-stats --top 1 --by bogus r.jsonl
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-stats: --by: unknown metric 'bogus'" ]
}

@test "bm-stats: --run reads a real bm-exec run; --save twice keeps one row" {
	mkdir benchmarks
	printf 'name: echo-one\nprompt: "say {{w}}"\nvars:\n  - {w: hello}\n  - {w: bye}\nexpect:\n  - contains: hello\nrepeat: 2\n' > benchmarks/a.yml
	bm-ingest -q benchmarks -m echo: | bm-exec -q > res.jsonl
	run --separate-stderr bm-stats --run last --save
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.group, .n, .pass, .fail, .pass_rate]' <<<"$output")" = '[{"model":"echo:"},4,2,2,0.5]' ]
	[ "$output" = "$(bm-stats res.jsonl)" ]
	bm-stats --run last --save > /dev/null
	[ "$(sqlite3 bm.db 'select count(*) from stats')" = 1 ]
	[ "$(sqlite3 bm.db 'select run_id = (select id from runs) from stats')" = 1 ]
	run --separate-stderr bm-stats --run nosuchrun
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-stats: $BM_DB: no run 'nosuchrun'" ]
	# --baseline last skips the run being read: there is no other
	run --separate-stderr bm-stats --baseline last res.jsonl
	[ "$status" -eq 2 ]
	[ "$stderr" = "bm-stats: $BM_DB: last~1: there are not 1 runs before the latest" ]
}

@test "bm-stats: usage, -h and --version" {
	run --separate-stderr bm-stats -h
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${output%%$'\n\n'*}" = "$(printf '%s\n' "usage: bm-stats [-g FIELD[,FIELD...]] [--compare FIELD=VALUE]" \
"                [--baseline FILE|run:RUN|last] [--threshold PCT]" \
"                [--fail-on-regression] [--fail-under RATE] [--cases]" \
"                [--top N] [--by METRIC] [--save] [--run RUN]" \
"                [--db PATH] [--no-db] [-q] [-v] [FILE...]")" ]
	# the usage is the man page's SYNOPSIS
	if [ -n "$MANDOC" ]; then
		syn=$("$MANDOC" -Tascii "$BM_SRCDIR/man/bm-stats.1" | col -b |
		    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d')
		[ "$(tr -d ' \t\n' <<<"$syn" | tr A-Z a-z)" = "$(sed -n '1,/^$/p' <<<"$output" | sed 's/^usage: //' | tr -d ' \t\n' | tr A-Z a-z)" ]
	fi
	run --separate-stderr bm-stats --version
	[ "$stderr" = "" ]
	[ "$output" = "bm-stats 0.1.0" ]
	run --separate-stderr bm-stats --bogus
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-stats: unrecognized option '--bogus'" ]
	run --separate-stderr bm-stats --threshold x
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "bm-stats: --threshold: invalid number 'x'" ]
}

@test "bm-stats: --baseline last and run:RUN gate a real run against the one before" {
	mkdir benchmarks
	vars=$(for i in $(seq 12); do printf '  - {w: w%d}\n' "$i"; done)
	printf 'name: echo-gate\nprompt: "say {{w}}"\nvars:\n%s\nexpect:\n  - contains: say\n' "$vars" > benchmarks/a.yml
	bm-ingest -q benchmarks -m echo: | bm-exec -q > run1.jsonl
	first=$(jq -r .run_id run1.jsonl | head -1)
	# the same cases, now expecting what only one answer says
	sed -i 's/contains: say/contains: w12/' benchmarks/a.yml
	bm-ingest -q benchmarks -m echo: | bm-exec -q > run2.jsonl
	[ "$(jq -s 'map(select(.status == "pass")) | length' run2.jsonl)" = 1 ]
	run --separate-stderr bm-stats --run last --baseline last --fail-on-regression
	[ "$status" -eq 1 ]
	# echo: answers in microseconds, so on a loaded machine the two runs'
	# p95 latencies may differ significantly too: that one may join in.
	others=$(jq -r 'select(.type == "regression" and .metric != "pass_rate") | .metric' <<<"$output")
	if [ -z "$others" ]; then
		[ "$stderr" = "bm-stats: 1 regression" ]
	else
		[ "$others" = "latency_ms.p95" ]
		[ "$stderr" = "bm-stats: 2 regressions" ]
	fi
	r=$(jq -c 'select(.type == "regression" and .metric == "pass_rate")' <<<"$output")
	[ "$(jq -c '[.metric, .baseline, .current, .test, (.flipped | length), .baseline_run == $f]' --arg f "$first" <<<"$r")" = '["pass_rate",1,0.08333333333333333,"mcnemar-exact",11,true]' ]
	[ "$(jq -r .p_value <<<"$r")" = "$(python3 -c 'print(2 * 0.5 ** 11)')" ]
	# the same with the run named, and from the results file
	run --separate-stderr bm-stats --baseline "run:$first" -q run2.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c 'select(.type == "regression" and .metric == "pass_rate") | .flipped | length' <<<"$output")" = 11 ]
	# --cases labels the flipped cases regressed
	run --separate-stderr bm-stats --cases --baseline "run:$first" -q run2.jsonl
	[ "$stderr" = "" ]
	[ "$(jq -r 'select(.type == "case_stat") | .label' <<<"$output" | sort | uniq -c | tr -s ' ')" = " 11 regressed
 1 stable-pass" ]
}

@test "bm-stats: f1.micro sums the entities' tp, fp, fn; macro is the mean f1" {
	mkdir b
	cat >b/e.yml <<'Y'
prompt: "{{a}}"
vars: [{a: "aspirin, ibuprofen", gold: [aspirin, ibuprofen, naproxen]},
       {a: "a, x", gold: [a]}]
expect: [{entities: {expected: [aspirin, ibuprofen, naproxen]}}]
---
name: other
prompt: "no entities"
Y
	# trial 0: tp 2, fp 0, fn 1 (f1 0.8); the second document has none
	bm-ingest -q --no-db -m echo: b | bm-exec -q --no-db >r1.jsonl
	sed -i 's/expected: \[aspirin, ibuprofen, naproxen\]/expected: [a]/' b/e.yml
	bm-ingest -q --no-db -m echo: b | bm-exec -q --no-db >r2.jsonl
	# tp 2+1, fp 0+1, fn 1+0 from trial 0 of r1 and trial 1 of r2
	{ jq -c 'select(.trial == 0 and .metrics)' r1.jsonl
	  jq -c 'select(.trial == 1 and .metrics)' r2.jsonl
	  jq -c 'select(.metrics == null)' r1.jsonl; } >results.jsonl
	[ "$(jq -c '.metrics | [.tp, .fp, .fn, .f1]' results.jsonl)" = '[2,0,1,0.8]
[1,1,0,0.6666666666666666]
[null,null,null,null]' ]
	run --separate-stderr bm-stats --no-db results.jsonl
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(jq -c '[.n, .f1.micro, .f1.macro]' <<<"$output")" = \
	    "[3,0.75,$(python3 -c 'print((0.8 + 2 / 3) / 2)')]" ]
}
