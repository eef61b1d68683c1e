/*
 * rerun.h: bm-exec --rescore through lib/sched (DESIGN.md §8).  Cases
 * whose scoring asks again (--rejudge: the judges; an exec scorer: its
 * command) run through the scheduler, each step answered with the answer
 * RUN stored (lib/rescore.h) instead of a request.  These are the
 * scheduler hooks' work, without the printing.
 */
#ifndef BM_RERUN_H
#define BM_RERUN_H

#include <cJSON.h>

#include "err.h"
#include "provider.h"
#include "sched.h"	/* first: rescore.h takes struct bm_verdict */
#include "rescore.h"

/* Has case record rec an exec scorer (in its expect or a step's)? */
int bm_rerun_has_scorer(const cJSON *rec);
/* The class of result record r's error (none: BM_CLASS_NONE). */
enum bm_class bm_rerun_class(const cJSON *r);
/*
 * Step s's stored answer, instead of a request (the replay hook); the
 * case is counted for bm_rescore_stream at its first step.  1 and
 * r->output (malloc'd): s is answered with it; 2 and *res: RUN stored an
 * error, copied as s's result (no judge asked); 0: RUN did not answer s;
 * -1 with e.
 */
int bm_rerun_replay(struct bm_rescore *rs, const struct bm_sched_step *s,
    struct bm_reply *r, cJSON **res, struct bm_error *e);
/*
 * The result of step s with outcome o, from the record RUN stored (the
 * result hook): 1 and *res, 0 when RUN stored none (a step not
 * replayed: its result is a fresh run's), -1 with e.
 */
int bm_rerun_result(struct bm_rescore *rs, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o, cJSON **res, struct bm_error *e);
/*
 * An exec scorer's stdin for step s, from the record RUN stored (the
 * record hook): 1 and *json (malloc'd), 0 none stored, -1 with e.
 */
int bm_rerun_record(struct bm_rescore *rs, const struct bm_sched_step *s,
    char **json, struct bm_error *e);
/*
 * Is the fast loop's batch due for its commit: 4 MB of lines (about
 * 6,000 results of an answer of a line; fewer commits, as each one
 * costs the writer the preparing of its statements again), or, checked
 * every 64 cases, 250 ms since last_ms (bm_clock_ms) when it last was?
 */
int bm_rerun_due(const struct bm_rescore *rs, double last_ms);

#endif
