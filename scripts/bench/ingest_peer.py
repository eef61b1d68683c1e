#!/usr/bin/env python3
"""The peer of scripts/bench/ingest: the same ingest in Python (PyYAML's
CLoader, sqlite3, hashlib): read every *.yml under DIR, check the keys,
upsert the catalog by content hash in batches of 500, write one case
record per benchmark and model."""
import hashlib, json, os, sqlite3, sys, time

import yaml

KEYS = {"name", "description", "tags", "system", "prompt", "sequence",
        "vars", "expect", "models", "repeat", "params", "variants"}


def main():
    db_path, root, model = sys.argv[1], sys.argv[2], sys.argv[3]
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS benchmarks (id TEXT PRIMARY KEY,"
               " name, prompt, content, content_sha256, path, tags,"
               " description, created_at, updated_at)")
    db.execute("CREATE TABLE IF NOT EXISTS benchmark_versions (benchmark_id,"
               " content_sha256, content, first_seen_at,"
               " PRIMARY KEY (benchmark_id, content_sha256))")
    known = dict(db.execute("SELECT id, content_sha256 FROM benchmarks"))
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    paths = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        paths += [os.path.join(d, f) for f in files
                  if f.endswith((".yml", ".yaml"))]
    paths.sort()
    out = sys.stdout
    pending = 0
    db.execute("BEGIN")
    for p in paths:
        with open(p, "rb") as f:
            text = f.read()
        doc = yaml.load(text, Loader=yaml.CLoader)
        if not isinstance(doc, dict) or set(doc) - KEYS:
            print(f"{p}: invalid", file=sys.stderr)
            continue
        prompt = doc["prompt"]
        bid = hashlib.md5(prompt.encode()).hexdigest()
        sha = hashlib.sha256(text).hexdigest()
        name = doc.get("name") or os.path.basename(p).rsplit(".", 1)[0]
        if known.get(bid) != sha:
            tags = json.dumps(doc.get("tags", []))
            args = (bid, name, prompt, text.decode(), sha, p, tags,
                    doc.get("description"), now)
            if bid in known:
                db.execute("UPDATE benchmarks SET name=?2, prompt=?3,"
                           " content=?4, content_sha256=?5, path=?6,"
                           " tags=?7, description=?8, updated_at=?9"
                           " WHERE id=?1", args)
            else:
                db.execute("INSERT INTO benchmarks VALUES"
                           " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9)", args)
            db.execute("INSERT OR IGNORE INTO benchmark_versions"
                       " VALUES (?,?,?,?)", (bid, sha, text.decode(), now))
            known[bid] = sha
            pending += 1
            if pending >= 500:
                db.execute("COMMIT")
                db.execute("BEGIN")
                pending = 0
        cid = hashlib.sha256(f"{bid}\x1f\x1f0\x1f{model}\x1f0".encode())
        msgs = [{"role": "user", "content": prompt}]
        out.write(json.dumps({
            "type": "case", "case_id": cid.hexdigest()[:16],
            "benchmark_id": bid, "benchmark": name, "model": model,
            "variant": None, "trial": 0, "repeat": 0, "messages": msgs,
            "expect": doc.get("expect", []), "vars": {},
            "params": doc.get("params", {}), "tags": doc.get("tags", [])},
            separators=(",", ":")) + "\n")
    db.execute("COMMIT")
    db.close()


if __name__ == "__main__":
    main()
