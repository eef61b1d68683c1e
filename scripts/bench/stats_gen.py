#!/usr/bin/env python3
# stats_gen.py N SEED: N seeded result lines (~470 bytes each) over four
# models and two variants, for scripts/bench/stats.
import json, random, sys

n, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
models = ["openai:gpt-4o-mini", "openai:gpt-4o", "anthropic:claude-3-5-haiku",
          "ollama:llama3.2:1b"]
out = sys.stdout
for i in range(n):
    st = rnd.choice(("pass", "pass", "pass", "fail", "error"))
    lat = round(rnd.lognormvariate(6.5, 0.6), 1)
    r = {"type": "result", "run_id": "r-20261123T101500Z-3f2a",
         "case_id": "%016x" % (i * 2654435761 % 2**64),
         "benchmark_id": "%032x" % (i // 8), "benchmark": "bench-%05d" % (i // 8),
         "model": models[i % 4], "variant": "tools" if i & 4 else "baseline",
         "trial": 0, "repeat": 0, "step": 0, "status": st,
         "error": {"class": "timeout", "message": "timed out",
                   "http_status": None} if st == "error" else None,
         "output": None if st == "error" else "42",
         "latency_ms": None if st == "error" else lat,
         "ttft_ms": None if st == "error" else round(lat / 3, 1),
         "usage": {"prompt_tokens": rnd.randint(20, 400),
                   "completion_tokens": rnd.randint(1, 60)},
         "cost_usd": rnd.randint(1, 9999) / 1e7, "score": 1.0 if st == "pass" else 0.0,
         "started_at": "2026-11-23T10:15:00.123Z",
         "finished_at": "2026-11-23T10:15:01.456Z"}
    out.write(json.dumps(r, separators=(",", ":")) + "\n")
