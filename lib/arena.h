/*
 * arena.h: cJSON's allocations from a bump arena, dropped all at once.
 *
 * A program that builds and drops a small tree per input item (bm-hash:
 * one per file) spends more in malloc and free than in building the tree,
 * and glibc's bulk frees of many small nodes make it consolidate its bins
 * at the next large request.  With the arena on, every cJSON allocation is
 * a pointer bump, cJSON_free of arena memory does nothing, and
 * bm_arena_reset makes the whole arena reusable.
 *
 * The hooks are process-wide and the arena is not locked: only for a
 * single-threaded program, and no cJSON memory may outlive a reset.  Memory
 * cJSON did not allocate from the arena (libyaml's strings, trees made
 * before bm_arena_on) is still freed with free().
 */
#ifndef BM_ARENA_H
#define BM_ARENA_H

/* Route cJSON's allocations to the arena from now on. */
void bm_arena_on(void);
/* Whether bm_arena_on was called. */
int bm_arena_active(void);
/* Drop everything allocated in the arena since the last reset. */
void bm_arena_reset(void);

#endif
