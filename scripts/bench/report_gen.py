#!/usr/bin/python3
"""report_gen.py: a seeded history database and records for bm-report.

  report_gen.py --db FILE [--models M] [--runs R] [--cases C]
                [--case-runs K] > records.jsonl

FILE is created by bm itself (bm-ingest --from-db opens and migrates
it), so the schema is bm's own.

Writes to FILE: R runs, per run and model a run_models row (the counters
bm-runs lists) and a stored stat grouped by model.  Writes to stdout:
the stats of the last run, a comparison, a regression, case_stat records
and C cases x K runs of results (the heat map's cells).
"""
import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys


def schema(path, top):
    """Let bm create the file: bm-ingest --from-db opens and migrates it."""
    build = os.environ.get("BM_BUILDDIR", os.path.join(top, "build"))
    subprocess.run([os.path.join(build, "bm-ingest"), "--db", path,
                    "--from-db", "-m", "echo:"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    db = sqlite3.connect(path)
    ok = db.execute("SELECT count(*) FROM sqlite_master WHERE name ="
                    " 'run_models'").fetchone()[0]
    if not ok:
        sys.exit("report_gen.py: bm-ingest did not create %s" % path)
    return db


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--models", type=int, default=6)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--case-runs", type=int, default=3)
    a = ap.parse_args()
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    rnd = random.Random(7)
    db = schema(a.db, top)
    models = ["provider-%d:model-%02d" % (m % 4, m) for m in range(a.models)]
    base = [0.55 + 0.4 * rnd.random() for _ in models]
    lat = [300 + 1500 * rnd.random() for _ in models]
    last = {}
    with db:
        for r in range(a.runs):
            rid = "r-202611%02dT%02d0000Z-%04x" % (1 + r // 24, r % 24, r)
            db.execute("INSERT INTO runs (id, started_at, finished_at,"
                       " status, label) VALUES (?, ?, ?, 'finished', ?)",
                       (rid, "2026-11-%02dT%02d:00:00.000Z" % (1 + r // 24,
                        r % 24), "2026-11-%02dT%02d:30:00.000Z" %
                        (1 + r // 24, r % 24),
                        "v%d" % r if r % 10 == 0 else None))
            for m, model in enumerate(models):
                n = 200
                rate = min(0.99, max(0.05, base[m] + 0.08 *
                                     (rnd.random() - 0.5) + 0.001 * r))
                p = int(n * rate)
                f = n - p - 4
                p95 = lat[m] * (0.9 + 0.2 * rnd.random())
                db.execute("INSERT INTO run_models VALUES (?, ?, ?, ?, ?,"
                           " ?, ?, 0, ?)", (rid, model, n, n, p, f, 4,
                                            0.002 * n))
                st = {"type": "stat", "group": {"model": model}, "n": n,
                      "pass": p, "fail": f, "error": 4,
                      "pass_rate": round(p / (p + f), 4),
                      "pass_rate_ci": [round(p / (p + f) - 0.06, 4),
                                       round(p / (p + f) + 0.05, 4)],
                      "latency_ms": {"p50": round(p95 * 0.6, 1),
                                     "p95": round(p95, 1)},
                      "cost_usd": round(0.002 * n, 4)}
                db.execute("INSERT INTO stats VALUES (?, ?, ?)",
                           (rid, json.dumps({"model": model}),
                            json.dumps(st)))
                last[model] = st
    out = sys.stdout
    for st in last.values():
        out.write(json.dumps(st) + "\n")
    out.write(json.dumps({
        "type": "comparison", "group": {"model": models[0]},
        "field": "variant", "baseline": "baseline", "candidate": "tools",
        "paired": True, "n_pairs": 120,
        "pass_rate": {"baseline": 0.70, "candidate": 0.78, "delta": 0.08,
                      "rel": 0.114, "p_value": 0.021,
                      "test": "mcnemar-exact", "significant": True},
        "latency_ms": {"baseline": 600, "candidate": 528, "delta": -72,
                       "rel": -0.12, "p_value": 0.2,
                       "test": "mann-whitney", "significant": False}}) +
        "\n")
    out.write(json.dumps({
        "type": "regression", "group": {"model": models[-1]},
        "metric": "pass_rate", "baseline": 0.80, "current": 0.70,
        "delta": -0.10, "rel": -0.125, "threshold_pct": 5,
        "p_value": 0.003, "test": "z-test"}) + "\n")
    for c in range(a.cases):
        model = models[c % len(models)]
        flaky = c % 17 == 0
        good = c % 11 != 0
        for k in range(a.case_runs):
            r = rnd.random()
            st = ("pass" if good else "fail") if not flaky else \
                ("pass" if r < 0.5 else "fail")
            if r < 0.02:
                st = "error"
            rec = {"type": "result",
                   "run_id": "r-case-%d" % k, "case_id": "%016x" % c,
                   "benchmark_id": "%032x" % (c // 2),
                   "benchmark": "bench-%04d" % (c // 2), "model": model,
                   "variant": None, "trial": c % 2, "repeat": 0, "step": 0,
                   "status": st,
                   "error": {"class": "timeout", "message": "no answer",
                             "http_status": None} if st == "error" else None,
                   "output": None if st == "error" else
                   "The answer is %d." % (c + (st == "fail")),
                   "latency_ms": 100 + 10 * (c % 50),
                   "assertions": [{"type": "equals", "pass": st == "pass",
                                   "reason": None if st == "pass" else
                                   "expected \"%d\"" % c}]}
            out.write(json.dumps(rec) + "\n")
        if flaky:
            out.write(json.dumps({
                "type": "case_stat", "benchmark_id": "%032x" % (c // 2),
                "benchmark": "bench-%04d" % (c // 2), "variant": None,
                "trial": c % 2, "model": model, "n": a.case_runs,
                "label": "flaky"}) + "\n")


if __name__ == "__main__":
    main()
