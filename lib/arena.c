/* arena.c: a bump arena behind cJSON's allocation hooks. */
#include <stdint.h>
#include <stdlib.h>

#include <cJSON.h>

#include "arena.h"
#include "xalloc.h"

/* Under AddressSanitizer, memory dropped by a reset is poisoned. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define ALIGN		16
#define FIRST_BLOCK	(64 * 1024)
#define KEEP_MAX	(1024 * 1024)	/* kept over a reset, at most */

struct block {
	struct block *prev;	/* filled earlier since the last reset */
	size_t cap, used;
	_Alignas(ALIGN) char mem[];
};

static struct block *cur;
static int active;

static struct block *
new_block(size_t cap, struct block *prev)
{
	struct block *b = xmalloc(sizeof(*b) + cap);

	b->prev = prev;
	b->cap = cap;
	b->used = 0;
	POISON(b->mem, cap);
	return b;
}

static void *
arena_malloc(size_t n)
{
	void *p;

	n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (cur->cap - cur->used < n)
		cur = new_block(n > cur->cap ? 2 * n : 2 * cur->cap, cur);
	p = cur->mem + cur->used;
	cur->used += n;
	UNPOISON(p, n);
	return p;
}

static int
in_arena(const void *p)
{
	const struct block *b;
	uintptr_t a = (uintptr_t)p;

	for (b = cur; b; b = b->prev)
		if (a >= (uintptr_t)b->mem && a < (uintptr_t)b->mem + b->cap)
			return 1;
	return 0;
}

/* cJSON's trees are freed node by node: arena nodes stay until reset. */
static void
arena_free(void *p)
{
	if (p && !in_arena(p))
		free(p);
}

void
bm_arena_on(void)
{
	cJSON_Hooks hooks = { arena_malloc, arena_free };

	if (active)
		return;
	cur = new_block(FIRST_BLOCK, NULL);
	cJSON_InitHooks(&hooks);
	active = 1;
}

int
bm_arena_active(void)
{
	return active;
}

void
bm_arena_reset(void)
{
	struct block *b;
	size_t total;

	if (!active)
		return;
	/*
	 * Outgrown: one block as large as all of them for the next item, but
	 * not one huge item's worth for ever.
	 */
	if (cur->prev) {
		for (total = 0, b = cur; b; b = b->prev)
			total += b->cap;
		while (cur) {
			b = cur->prev;
			free(cur);
			cur = b;
		}
		cur = new_block(total < KEEP_MAX ? total : KEEP_MAX, NULL);
	}
	POISON(cur->mem, cur->used);
	cur->used = 0;
}
