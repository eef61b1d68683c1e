/*
 * rescore.h: bm-exec --rescore RUN (DESIGN.md §8).  The answers RUN
 * stored (results rows by case_id and step) are scored again against the
 * expectations of a new case stream, with no model request, as the
 * results of a new run.  A judge or exec entry is not asked again: its
 * verdict is the one the stored result recorded for the same entry (same
 * position, type and value).  Streamed: one case at a time; the results
 * are stored in batches, one transaction each, and handed back as JSON
 * lines once committed.
 */
#ifndef BM_RESCORE_H
#define BM_RESCORE_H

#include <stddef.h>

#include <cJSON.h>

#include "db.h"
#include "err.h"
#include "runs.h"

struct bm_rescore;
struct bm_verdict;		/* lib/assert.h */

/* What has been written so far. */
struct bm_rescore_tally {
	long done, pass, fail, errors;	/* results (errors: stored ones) */
	long cancelled;			/* of errors, class cancelled */
	long by_class[16];		/* errors by enum bm_class */
	long cases;			/* case records scored */
	long unanswered;		/* cases RUN has no result for */
};

/*
 * Score the results of run from (a resolved id) on db as run r's (started
 * with bm_runs_begin, id run_id).  busy_ms: how long a busy file is tried
 * again.  NULL and e.
 */
struct bm_rescore *bm_rescore_open(struct bm_db *db, struct bm_runs *r,
    const char *run_id, const char *from, int busy_ms, struct bm_error *e);
/* Free rs (rolling back what was not committed); not the database. */
void bm_rescore_free(struct bm_rescore *rs);

/*
 * Score case record kase (checked by bm_sched_check): one result per step
 * RUN answered, stored in the open batch (opened here when none) and kept
 * as a JSON line for bm_rescore_commit.  1, 0 when RUN did not answer the
 * case (counted), -1 with e (the database failed; what the batch holds
 * is not stored: take it with bm_rescore_take).
 * A stored error stays the same error.  The output, latency, ttft, usage,
 * cost, attempts and times are the stored ones; the status, score,
 * assertions and metrics come from the new scoring.  A judge or exec
 * entry with no stored verdict makes the result an error of class judge.
 */
int bm_rescore_case(struct bm_rescore *rs, const cJSON *kase,
    struct bm_error *e);
/* Results in the open batch, and the bytes of their lines. */
long bm_rescore_pending(const struct bm_rescore *rs);
size_t bm_rescore_pending_bytes(const struct bm_rescore *rs);
/*
 * Commit the batch (a busy file is tried again for busy_ms): 0, or -1
 * with e (rolled back).  Either way the batch's lines wait in
 * bm_rescore_take.
 */
int bm_rescore_commit(struct bm_rescore *rs, struct bm_error *e);
/*
 * The lines of the batch last committed (or not stored), "\n"-ended:
 * *len bytes, valid until the next call on rs; the batch is emptied.
 */
const char *bm_rescore_take(struct bm_rescore *rs, size_t *len);
/* The counts so far. */
const struct bm_rescore_tally *bm_rescore_tally(const struct bm_rescore *rs);
/* The digest of the case ids scored so far, as bm-exec records it. */
void bm_rescore_stream(const struct bm_rescore *rs, char out[65]);

/*
 * --rescore --rejudge: bm-exec runs the cases through lib/sched, the
 * stored answers given instead of requests, and builds the results here.
 * The record RUN stored for kase's step: 1 and *rec (cJSON_Delete it),
 * 0 none, -1 with e.
 */
int bm_rescore_stored(struct bm_rescore *rs, const cJSON *kase, long step,
    cJSON **rec, struct bm_error *e);
/* Is stored record rec an error? */
int bm_rescore_is_error(const cJSON *rec);
/*
 * The result of kase's step from old, the record RUN stored for it
 * (freed here): as bm_rescore_case makes it, but with o's verdicts (the
 * judges asked again, the exec scorers run again) and judge usage, or
 * o's error; o NULL: the stored verdicts (a stored error is copied).
 */
struct bm_sched_outcome;
cJSON *bm_rescore_result(struct bm_rescore *rs, const cJSON *kase,
    long step, cJSON *old, const struct bm_sched_outcome *o);
/*
 * An exec scorer's stdin: the result of kase's step from old (freed
 * here) as it would be written, without assertions and score; malloc'd.
 */
char *bm_rescore_record(struct bm_rescore *rs, const cJSON *kase,
    long step, cJSON *old);
/*
 * The stored verdict of judge entry i of expect, kase's step's: 1 and *v
 * (valid until the next call), 0 none, -1 with e.
 */
int bm_rescore_prior(struct bm_rescore *rs, const cJSON *kase, long step,
    const cJSON *expect, int i, struct bm_verdict *v, struct bm_error *e);
/* Count a case scored outside bm_rescore_case (for bm_rescore_stream). */
void bm_rescore_add_id(struct bm_rescore *rs, const char *case_id);

#endif
