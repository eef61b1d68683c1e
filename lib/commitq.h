/*
 * commitq.h: results written and not yet committed (DESIGN.md §7).  A
 * run holds each result, and each --cache answer, until it stores them
 * in one transaction; only then are the result lines printed, so that a
 * line on stdout is a committed result.  A busy file is not waited for:
 * the commit says so and when to try again, for up to busy_ms; then it
 * fails as on any other error.
 */
#ifndef BM_COMMITQ_H
#define BM_COMMITQ_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"
#include "runs.h"

struct bm_commitq;

/*
 * A queue storing into run r (NULL: nothing is stored; lines are only
 * handed back); db_path names the file in the busy message.
 */
struct bm_commitq *bm_commitq_new(struct bm_runs *r, const char *db_path,
    int busy_ms);
/* Free q and what it holds, unprinted. */
void bm_commitq_free(struct bm_commitq *q);
/* Hold result record res, whose line is json (both taken). */
void bm_commitq_result(struct bm_commitq *q, cJSON *res, char *json);
/* Hold a --cache answer for key (copied). */
void bm_commitq_cache(struct bm_commitq *q, const char *key,
    const char *output, long prompt_tokens, long completion_tokens);
/* Results and answers held. */
size_t bm_commitq_len(const struct bm_commitq *q);
/*
 * Store what is held in one transaction (now: ms, monotonic).  1 stored
 * (*n results), 0 the file is busy (try again from bm_commitq_next_try),
 * -1 with e, rolled back (after busy_ms busy: "database is locked").
 * Either way what is held stays until bm_commitq_take.
 */
int bm_commitq_commit(struct bm_commitq *q, double now, long *n,
    struct bm_error *e);
/* When a busy file is to be tried again (ms, monotonic); 0: not busy. */
double bm_commitq_next_try(const struct bm_commitq *q);
/* Hand each held result's line to fn, in order, and empty q. */
void bm_commitq_take(struct bm_commitq *q,
    void (*fn)(void *arg, const char *line, size_t len), void *arg);

#endif
