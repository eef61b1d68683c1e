/*
 * result.h: the result record of a step bm-exec ran (DESIGN.md §4): the
 * case's fields, the answer and how it came (times, usage, cost), the
 * error or the scoring of lib/assert.  Built here, printed and stored by
 * the caller.
 */
#ifndef BM_RESULT_H
#define BM_RESULT_H

#include <cJSON.h>

#include "provider.h"
#include "sched.h"

/*
 * The result record of step s of run run_id, ended with outcome o: the
 * answer scored against s's expect.  *cls: the class recorded (o's, or
 * judge when the scoring failed); when not none, *why is its message as
 * given (malloc'd; the record's is redacted), else NULL.
 */
cJSON *bm_result_make(const char *run_id, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o, enum bm_class *cls, char **why);
/*
 * An exec scorer's stdin: the result record of s as it would be written,
 * without status, error, assertions, score and finish time (malloc'd).
 */
char *bm_result_input(const char *run_id, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o);
/* Add member k to r: v when known, else null. */
void bm_result_num(cJSON *r, const char *k, double v, int known);

#endif
