/*
 * select.h: what a run takes of the benchmarks it reads (bm-ingest): the
 * models of each benchmark (DESIGN.md §10), --profile and --batch,
 * --tag, --name and --shard K/N.
 */
#ifndef BM_SELECT_H
#define BM_SELECT_H

#include <stddef.h>

#include "bench.h"
#include "check.h"
#include "config.h"
#include "err.h"
#include "yaml.h"

struct bm_select {
	const struct bm_config *config;
	char **models;		/* asked for (-m, ...); none: b's models: */
	size_t nmodels;
	char **tags;		/* benchmarks with any of them; none: all */
	size_t ntags;
	const char *glob;	/* benchmarks whose name matches; NULL: all */
	long repeat;		/* 0: the benchmark's own */
	unsigned long shard_k;	/* 0-based K of --shard K/N */
	unsigned long shard_n;	/* 0: no --shard */
};

/* Add a copy of s to the vector *v of *n strings (-m, --tag). */
void bm_select_push(char ***v, size_t *n, const char *s);
/*
 * Take the models, tags and (when unset) repeat of profile or batch name
 * (kind "profile" or "batch"): 0, or -1 with e ("unknown profile 'x'
 * (did you mean 'y'?)").
 */
int bm_select_use(struct bm_select *s, const char *kind, const char *name,
    struct bm_error *e);
/* --shard K/N (1 <= K <= N): 0, or -1 with e. */
int bm_select_shard(struct bm_select *s, const char *arg,
    struct bm_error *e);
/* Is the case in the shard?  Its id's first 8 hex digits mod N. */
int bm_select_in_shard(const struct bm_select *s, const char *case_id);
/* Has b one of the tags (any, when there are none)? */
int bm_select_tagged(const struct bm_select *s, const struct bm_bench *b);
/* Does b's name match the glob (any, when there is none)? */
int bm_select_named(const struct bm_select *s, const struct bm_bench *b);
/*
 * The models for b's cases: those asked for, restricted to b's models:
 * when it has any; none asked for, b's models: (each one bm.yml must
 * resolve).  0 with *out (NULL-ended, borrowed strings; caller frees the
 * array; possibly none: b's models: exclude them all); 1 when there is
 * no model at all; -1 when one of b's models: is unknown to bm.yml
 * (bm_select_report_models says which, where).
 */
int bm_select_models(const struct bm_select *s, const struct bm_bench *b,
    const char ***out, size_t *n);
/*
 * Report each of b's models: that bm.yml does not resolve, at its place
 * in doc (b's document, parsed).
 */
void bm_select_report_models(const struct bm_select *s,
    const struct bm_yaml_doc *doc, const struct bm_bench *b,
    bm_check_report_fn *report, void *arg);
/* Free the models and tags. */
void bm_select_free(struct bm_select *s);

#endif
