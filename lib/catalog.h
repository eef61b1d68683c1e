/*
 * catalog.h: the benchmark catalog (tables benchmarks and
 * benchmark_versions, DESIGN.md §7).  Upserts go in transactions of a
 * batch of documents, so a crash leaves the catalog as it was before or
 * after a batch; unchanged documents, found by content_sha256 in a map
 * loaded once, cost no SQL at all.
 */
#ifndef BM_CATALOG_H
#define BM_CATALOG_H

#include <stddef.h>

#include "bench.h"
#include "db.h"
#include "err.h"

/* Documents per transaction. */
#define BM_CATALOG_BATCH 500000

enum bm_catalog_state {
	BM_CATALOG_NEW,
	BM_CATALOG_UPDATED,
	BM_CATALOG_UNCHANGED
};

struct bm_catalog;

/* Load (id, content_sha256) of every stored benchmark; NULL and e. */
struct bm_catalog *bm_catalog_open(struct bm_db *db, struct bm_error *e);
/*
 * Upsert b: a new id is inserted, a new content updates the row, and
 * both add a benchmark_versions row; an unchanged one writes nothing.
 * The state, or -1 with e (the current batch is then rolled back).
 */
int bm_catalog_put(struct bm_catalog *c, const struct bm_bench *b,
    struct bm_error *e);
/* Commit the open batch, if any; 0 or -1 with e. */
int bm_catalog_flush(struct bm_catalog *c, struct bm_error *e);
/* Free; an open batch is rolled back. */
void bm_catalog_close(struct bm_catalog *c);

/* A stored document, as bm_catalog_docs hands it out. */
struct bm_catalog_doc {
	const char *id;
	const char *name;
	const char *path;
	const char *content;
	int doc;		/* its index in its file */
};

/* Called per stored document; non-zero stops with that value. */
typedef int bm_catalog_doc_fn(void *arg, const struct bm_catalog_doc *d);
/*
 * The stored documents of path (NULL: all), by path and then by their
 * index in the file.  0, fn's value, or -1 with e.
 */
int bm_catalog_docs(struct bm_catalog *c, const char *path,
    bm_catalog_doc_fn *fn, void *arg, struct bm_error *e);
/* Non-zero when any stored document has this path. */
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

#endif
