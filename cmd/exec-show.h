/*
 * exec-show.h: what bm-exec shows a person on its standard error: the
 * progress line, and --dry-run's problems and table.  lib/sched counts;
 * this formats.
 */
#ifndef BM_EXEC_SHOW_H
#define BM_EXEC_SHOW_H

#include <stddef.h>

#include "buf.h"
#include "sched.h"

/*
 * Append the progress line to b: "done/total done: P pass, F fail, E
 * error" (the total when known, cancelled apart), requests a second,
 * ETA, the providers in use (down or breaker open) and whether it is
 * stopping; with color, errors in red, warnings in yellow.  elapsed_ms
 * is the time since the run began.
 */
void show_progress(const struct bm_sched *s, const struct bm_sched_tally *t,
    double elapsed_ms, int color, struct bm_buf *b);
/*
 * Say on stderr what a run would not send of the case --dry-run checked
 * (line lineno of stdin): its API key is not set, a step exceeds its
 * model's context.  Returns how many things it said.
 */
int show_plan(const struct bm_sched_plan *p, long lineno);
/* Append the table --dry-run prints (a total row when n > 1) to b. */
void show_totals(const struct bm_sched_totals *tot, size_t n,
    struct bm_buf *b);

#endif
