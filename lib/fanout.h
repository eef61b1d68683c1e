/*
 * fanout.h: run independent work items on every core with the output of a
 * sequential run.  Items go in small chunks to whichever process is free
 * (this one and one forked worker per other CPU), so a late or slow worker
 * holds nobody up; each process's stdout and stderr go to memory files,
 * copied out in item order at the end.  For batch work whose items share
 * no state (bm-hash over thousands of files).
 */
#ifndef BM_FANOUT_H
#define BM_FANOUT_H

#include <stddef.h>

#include "err.h"

/* Work on item i; returns its exit status (0 fine, 1 problems found). */
typedef int (*bm_fanout_fn)(size_t i, void *arg);

/*
 * Run fn over items 0..n-1 in up to one process per online CPU, never
 * forking for fewer than min_per_worker items per process (forking costs
 * more than a few small items).  A worker that cannot be started leaves its
 * share to the others.  Returns the largest status fn returned, or -1 with
 * e naming the chunk of items a worker died on (the output of every other
 * chunk is kept).
 */
int bm_fanout(size_t n, size_t min_per_worker, bm_fanout_fn fn, void *arg,
    struct bm_error *e);

#endif
