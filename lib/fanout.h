/*
 * fanout.h: run independent work items on every core with the output of a
 * sequential run.  Items are split into contiguous ranges; each range but
 * the first runs in a forked worker whose stdout and stderr go to memory
 * files, replayed in order once the ranges before it are done.  For batch
 * work whose items share no state (bm-hash over thousands of files).
 */
#ifndef BM_FANOUT_H
#define BM_FANOUT_H

#include <stddef.h>

#include "err.h"

/* Work on item i; returns its exit status (0 fine, 1 problems found). */
typedef int (*bm_fanout_fn)(size_t i, void *arg);

/*
 * Run fn over items 0..n-1 in up to one process per online CPU, never
 * giving a worker fewer than min_per_worker items (forking costs more than
 * a few small items).  A range whose worker cannot be started runs in this
 * process.  Returns the largest status fn returned, or -1 with e when a
 * worker died (its output so far has been replayed).
 */
int bm_fanout(size_t n, size_t min_per_worker, bm_fanout_fn fn, void *arg,
    struct bm_error *e);

#endif
