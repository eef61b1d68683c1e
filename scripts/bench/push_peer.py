#!/usr/bin/python3
# scripts/bench/push_peer.py: the peer of scripts/bench/push: read the
# results CSV and upsert it into bm_results with psycopg2's execute_values
# in pages of 500, as a typical Python uploader does.
# Usage: push_peer.py CONNINFO results.csv
import csv
import sys

import psycopg2
import psycopg2.extras

COLS = ("run_id case_id step benchmark_id model variant trial repeat status "
        "content_sha256 error_class latency_ms ttft_ms prompt_tokens "
        "completion_tokens cost_usd score output record created_at").split()


def none(v):
    return None if v == "" else v


def main():
    conn = psycopg2.connect(sys.argv[1])
    sets = ", ".join("%s = excluded.%s" % (c, c) for c in COLS[3:])
    sql = ("INSERT INTO bm_results (%s) VALUES %%s ON CONFLICT "
           "(run_id, case_id, step) DO UPDATE SET %s" % (",".join(COLS), sets))
    csv.field_size_limit(1 << 30)
    with open(sys.argv[2], newline="") as f, conn, conn.cursor() as cur:
        rows = [tuple(none(v) for v in r) for r in csv.reader(f)]
        psycopg2.extras.execute_values(cur, sql, rows, page_size=500)
    conn.close()


main()
