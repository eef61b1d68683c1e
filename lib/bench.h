/*
 * bench.h: the benchmark document model (DESIGN.md §3, bm-benchmark(5)).
 * A YAML document is checked as a whole, every problem reported with its
 * position, and becomes a struct bm_bench; bm_bench_cases then expands the
 * matrix variants x trials x models x repeats into case records (§4)
 * one at a time, so that any number of cases streams in constant memory.
 */
#ifndef BM_BENCH_H
#define BM_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "buf.h"
#include "err.h"
#include "hash.h"

struct bm_yaml_doc;

struct bm_bench {
	char *name;		/* name:, else the file stem ("<stem>-K") */
	char id[BM_HASH_MD5_LEN + 1];	/* MD5 of the canonical prompt */
	char sha256[BM_HASH_SHA256_LEN + 1];	/* of the document text */
	char *path;		/* the file, as given */
	int doc;		/* 0-based document index in the file */
	long line;		/* where the document starts */
	char *prompt;		/* the canonical prompt */
	char *text;		/* the document's YAML text */
	size_t text_len;
	cJSON *root;		/* the document (owned) */
	long repeat;		/* repeat:, 1 when absent */
};

/*
 * Identify doc without checking it (bm-hash; bm_check_bench of check.h
 * after its checks): id, version, name (name: when a string, else
 * default_name or the default), place and text.  Takes doc->root.  NULL
 * with e and *where at fault when there is no canonical prompt.
 */
struct bm_bench *bm_bench_identify(struct bm_yaml_doc *doc, const char *path,
    const char *default_name, const cJSON **where, struct bm_error *e);
/*
 * A catalog benchmark, checked when it was stored: the document from
 * json, with the stored id, version, name and place; prompt and text are
 * NULL.  NULL when json is NULL or not a mapping, or an id is malformed.
 */
struct bm_bench *bm_bench_stored(const char *json, const char *id,
    const char *sha256, const char *name, const char *path, int doc);
/* Free a benchmark. */
void bm_bench_free(struct bm_bench *b);

/* The default name of document index doc of path: "stem" or "stem-K". */
char *bm_bench_default_name(const char *path, int doc);

/* The tags of b (a list of strings, possibly empty; never NULL). */
const cJSON *bm_bench_tags(const struct bm_bench *b);
/* Non-zero when b has any of tags[0..n) (n == 0: always). */
int bm_bench_has_tag(const struct bm_bench *b, char *const *tags, size_t n);
/* The description, or NULL. */
const char *bm_bench_description(const struct bm_bench *b);
/* b's models: as a NULL-ended array of borrowed strings (caller frees). */
const char **bm_bench_models(const struct bm_bench *b, size_t *n);
/* Number of variants (at least 1) and trials (at least 1). */
size_t bm_bench_nvariants(const struct bm_bench *b);
size_t bm_bench_ntrials(const struct bm_bench *b);

/*
 * Write the benchmark record of §4 (bm-hash, bm-ingest --list) for any b
 * as one line, printed straight from b; 0, or -1 on a write error.
 */
int bm_bench_write_record(FILE *f, const struct bm_bench *b);
/* The same record into o (reset first), without a newline. */
void bm_bench_record(struct bm_buf *o, const struct bm_bench *b);
/* The same record as a new tree (caller frees), to add fields to. */
cJSON *bm_bench_record_tree(const struct bm_bench *b);

/* One case as handed to a bm_bench_case_fn. */
struct bm_case {
	const struct bm_bench *bench;
	const char *variant;	/* NULL when there are no variants */
	long trial;
	const char *model;
	long repeat;
	char case_id[BM_HASH_CASE_ID_LEN + 1];
	const char *json;	/* the whole case record, one line */
	size_t len;
};

/* Called per case; a non-zero return stops the expansion with that value. */
typedef int bm_bench_case_fn(void *arg, const struct bm_case *c);

/*
 * Expand b's cases for models[0..nmodels) with repeat runs each:
 * variants x trials x models x repeats, in that order, {{var}} rendered.
 * Returns 0, or the first non-zero value fn returned.
 */
int bm_bench_cases(const struct bm_bench *b, const char *const *models,
    size_t nmodels, long repeat, bm_bench_case_fn *fn, void *arg);

/*
 * Render {{var}} (spaces inside the braces allowed) in s from the trial
 * vars into out.  Strings insert as they are; other values as JSON (a
 * number as YAML wrote it: 2, 2.5).  Unknown names are left as written.
 */
void bm_bench_render(const char *s, const cJSON *vars, struct bm_buf *out);
/*
 * The next {{name}} in s: its start, *end (past "}}") and the name's span
 * (*name, *len); NULL when there is none.
 */
const char *bm_bench_next_var(const char *s, const char **end,
    const char **name, size_t *len);
/* The var of the trial vars named by name[0..len), or NULL. */
const cJSON *bm_bench_var(const cJSON *vars, const char *name, size_t len);

/*
 * Where b's prompt (or sequence, or variants) starts in doc, b's parsed
 * document; b's first line when doc is NULL or does not place it.
 */
void bm_bench_prompt_at(const struct bm_yaml_doc *doc,
    const struct bm_bench *b, long *line, long *col);
/*
 * Document index of text (read from path) identified again, for the
 * positions of a stored benchmark: the benchmark, whose nodes *doc
 * places (free both), or NULL when there is none there.
 */
struct bm_bench *bm_bench_reparse(const char *path, const char *text,
    size_t len, int index, struct bm_yaml_doc **doc);

#endif
