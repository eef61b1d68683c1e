/*
 * map.c: open addressing, linear probing, at most half full.  The full
 * 64-bit hash is kept with each key and compared before the key, so a
 * probe past another key rarely touches its bytes.  There is no delete, so
 * the keys are copied into blocks the map owns and frees whole: a key
 * costs no malloc of its own (the YAML position table puts one per node).
 */
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "xalloc.h"

struct slot {
	char *key;		/* NULL: empty */
	size_t len;		/* of key, without the NUL */
	void *value;
	uint64_t hash;
};

/* A block of key copies, freed with the map. */
struct keys {
	struct keys *next;
	size_t used, size;
	char text[];
};

struct bm_map {
	struct slot *slots;
	size_t cap;		/* a power of two */
	size_t n;
	struct keys *keys;	/* newest block first */
};

uint64_t
bm_map_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 14695981039346656037ULL;

	while (n--)
		h = (h ^ *s++) * 1099511628211ULL;
	return h;
}

struct bm_map *
bm_map_new(void)
{
	struct bm_map *m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

static size_t
home(uint64_t h, size_t cap)
{
	return (size_t)(h ^ h >> 32) & (cap - 1);
}

static struct slot *
find(const struct bm_map *m, const char *key, size_t n, uint64_t h)
{
	size_t i = home(h, m->cap);
	struct slot *s;

	for (;; i = (i + 1) & (m->cap - 1)) {
		s = &m->slots[i];
		if (!s->key || (s->hash == h && s->len == n &&
		    memcmp(s->key, key, n) == 0))
			return s;
	}
}

void *
bm_map_getn(const struct bm_map *m, const char *key, size_t n)
{
	return find(m, key, n, bm_map_hash(key, n))->value;
}

void *
bm_map_get(const struct bm_map *m, const char *key)
{
	return bm_map_getn(m, key, strlen(key));
}

static void
grow(struct bm_map *m)
{
	struct slot *old = m->slots;
	size_t cap = m->cap, i, j;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	/* Keys are distinct: the first free slot is theirs. */
	for (i = 0; i < cap; i++) {
		if (!old[i].key)
			continue;
		j = home(old[i].hash, m->cap);
		while (m->slots[j].key)
			j = (j + 1) & (m->cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

/* Room for n bytes of key in the map's blocks, each twice the last. */
static char *
keep(struct bm_map *m, size_t n)
{
	struct keys *k = m->keys;
	size_t size;

	if (!k || k->size - k->used < n) {
		size = k ? 2 * k->size : 256;
		if (size > 65536)
			size = 65536;
		if (size < n)
			size = n;
		k = xmalloc(sizeof(*k) + size);
		k->next = m->keys;
		k->used = 0;
		k->size = size;
		m->keys = k;
	}
	k->used += n;
	return k->text + k->used - n;
}

void *
bm_map_putn(struct bm_map *m, const char *key, size_t n, void *value)
{
	uint64_t h = bm_map_hash(key, n);
	struct slot *s;
	void *prev;

	if (2 * (m->n + 1) > m->cap)
		grow(m);
	s = find(m, key, n, h);
	if (s->key) {
		prev = s->value;
		s->value = value;
		return prev;
	}
	s->key = keep(m, n + 1);
	memcpy(s->key, key, n);
	s->key[n] = '\0';
	s->len = n;
	s->value = value;
	s->hash = h;
	m->n++;
	return NULL;
}

void *
bm_map_put(struct bm_map *m, const char *key, void *value)
{
	return bm_map_putn(m, key, strlen(key), value);
}

size_t
bm_map_count(const struct bm_map *m)
{
	return m->n;
}

int
bm_map_next(const struct bm_map *m, size_t *pos, const char **key,
    void **value)
{
	for (; *pos < m->cap; ++*pos)
		if (m->slots[*pos].key) {
			*key = m->slots[*pos].key;
			*value = m->slots[*pos].value;
			++*pos;
			return 1;
		}
	return 0;
}

void
bm_map_free(struct bm_map *m, void (*free_value)(void *))
{
	struct keys *k;
	size_t i;

	if (!m)
		return;
	for (i = 0; free_value && i < m->cap; i++)
		if (m->slots[i].key)
			free_value(m->slots[i].value);
	while ((k = m->keys)) {
		m->keys = k->next;
		free(k);
	}
	free(m->slots);
	free(m);
}
