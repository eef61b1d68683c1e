/*
 * catalog.h: the benchmark catalog (tables benchmarks and
 * benchmark_versions, DESIGN.md §7).  Upserts run on a writer thread,
 * overlapping the caller's parsing, in transactions that commit once they
 * are BM_CATALOG_TX_MS old, so a crash leaves the catalog as it was before
 * or after one; unchanged documents, found by content_sha256 in a map
 * loaded once, cost no SQL at all.  Each row keeps the checked document
 * as JSON (tree), so that an unchanged one needs no YAML parse.  Calls
 * come from one thread.
 */
#ifndef BM_CATALOG_H
#define BM_CATALOG_H

#include <stddef.h>

#include "bench.h"
#include "db.h"
#include "err.h"

/*
 * A transaction commits once it is this old (ms): few commits (each may
 * checkpoint the WAL), the write lock never held long, and the WAL
 * checkpointed while the caller still parses rather than all at the end.
 */
#define BM_CATALOG_TX_MS 100
/* Writes queued for the writer thread at most. */
#define BM_CATALOG_QUEUE 256

enum bm_catalog_state {
	BM_CATALOG_NEW,
	BM_CATALOG_UPDATED,
	BM_CATALOG_UNCHANGED
};

struct bm_catalog;

/* Load the place and version of every stored benchmark; NULL and e. */
struct bm_catalog *bm_catalog_open(struct bm_db *db, struct bm_error *e);
/*
 * Upsert b: a new id is inserted, a new content updates the row, and
 * both add a benchmark_versions row; an unchanged one writes nothing but
 * its new name, path and index when it moved.  A write takes b->prompt
 * and b->text (leaving NULL there).  The state, or -1 with e
 * when an earlier write failed (its batch was rolled back).
 */
int bm_catalog_put(struct bm_catalog *c, struct bm_bench *b,
    struct bm_error *e);
/*
 * Finish the queued writes and commit; 0, or -1 with e when a write
 * failed (its transaction rolled back).
 */
int bm_catalog_flush(struct bm_catalog *c, struct bm_error *e);
/*
 * Non-zero while writes are queued or not yet committed: what names them
 * must wait for bm_catalog_flush to be printed.
 */
int bm_catalog_dirty(const struct bm_catalog *c);
/* Free; writes not yet flushed are dropped or rolled back. */
void bm_catalog_close(struct bm_catalog *c);

/* A stored document, as bm_catalog_docs gives it. */
struct bm_catalog_doc {
	const char *id;
	const char *name;
	const char *path;
	int doc;		/* its index in its file */
	const char *sha256;	/* content_sha256 */
	const char *tree;	/* the checked document as JSON, or NULL */
	const char *content;	/* the YAML text */
	int retired;		/* retired_at is set: its document is gone */
};

/* Called per stored document; non-zero stops with that value. */
typedef int bm_catalog_doc_fn(void *arg, const struct bm_catalog_doc *d);
/*
 * The stored documents of path (NULL: all), by path and then by their
 * index in the file; retired ones are left out.  0, fn's value, or -1
 * with e.
 */
int bm_catalog_docs(struct bm_catalog *c, const char *path,
    bm_catalog_doc_fn *fn, void *arg, struct bm_error *e);
/*
 * The one "skip parsing" decision.  The stored benchmark d, from its
 * checked tree (caller frees), or NULL when it must be parsed from its
 * YAML (a row stored without a tree).
 */
struct bm_bench *bm_catalog_bench(const struct bm_catalog_doc *d);
/*
 * The stored benchmark that is the whole of this file (path's document 0,
 * current, its content_sha256 that of data) as bm_catalog_bench gives
 * it, or NULL: then the file must be parsed.  Never stdin ("-").  Hashes
 * data only when the catalog had documents at open.
 */
struct bm_bench *bm_catalog_file(struct bm_catalog *c, const char *path,
    const char *data, size_t len);
/* Non-zero when any stored document (not retired) has this path. */
int bm_catalog_has_path(struct bm_catalog *c, const char *path);

/*
 * Fill results.benchmark_id where it is NULL (or '', as lib/runs.c writes
 * a missing one), by matching each row's prompt (the record's "prompt",
 * or its last user message, read against the catalog's prompts with
 * {{var}} matching any text) or else its "benchmark" name.  0 with the
 * counts, or -1 with e.
 */
int bm_catalog_backfill(struct bm_catalog *c, long *filled, long *unmatched,
    struct bm_error *e);

/* Is d's document gone (from the files just read)? */
typedef int bm_catalog_gone_fn(void *arg, const struct bm_catalog_doc *d);
/*
 * Mark retired (benchmarks.retired_at) every current benchmark, not yet
 * retired, that gone says is gone: written as bm_catalog_put writes.
 * Rows are never deleted (results refer to them); a retired benchmark
 * put again is un-retired.  0 with *n retired, or -1 with e.
 */
int bm_catalog_retire(struct bm_catalog *c, bm_catalog_gone_fn *gone,
    void *arg, long *n, struct bm_error *e);

/*
 * What a run read, for its gone function: the files (read whole without
 * a problem, or not) and the directories walked whole.
 */
struct bm_catalog_scope;
struct bm_catalog_scope *bm_catalog_scope_new(void);
/* path was read; whole: without a problem, so all it holds is known. */
void bm_catalog_scope_file(struct bm_catalog_scope *s, const char *path,
    int whole);
/* dir was walked whole: a file not found under it is gone. */
void bm_catalog_scope_dir(struct bm_catalog_scope *s, const char *dir);
/*
 * Is d's document gone: its file was read whole and no longer holds it
 * (d was not taken from it), or its file is no longer under a directory
 * walked?  For a document taken in the run, the caller says no first.
 */
int bm_catalog_scope_gone(const struct bm_catalog_scope *s,
    const struct bm_catalog_doc *d);
void bm_catalog_scope_free(struct bm_catalog_scope *s);

/* A stored version, as bm_catalog_versions gives it. */
struct bm_catalog_version {
	const char *id, *name, *path;	/* the benchmark's, as it is now */
	int doc;
	const char *sha256;	/* this version's content_sha256 */
	const char *content;	/* its YAML text */
	const char *first_seen_at;
	const char *retired_at;	/* the benchmark's, or NULL */
};

typedef int bm_catalog_version_fn(void *arg,
    const struct bm_catalog_version *v);
/*
 * Every stored version of the benchmark whose id, or else name, is key
 * (of several by that name, the one in use, else the first stored),
 * oldest first.  0, fn's value, or -1 with e ("KEY: no such benchmark").
 */
int bm_catalog_versions(struct bm_catalog *c, const char *key,
    bm_catalog_version_fn *fn, void *arg, struct bm_error *e);

#endif
