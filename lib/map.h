/*
 * map.h: the one hash map: string keys (copied), void * values, open
 * addressing with linear probing, FNV-1a.  Keys may hold any bytes; a key
 * given with its length need not be NUL-terminated (bm-stats hashes
 * spans of a line without copying them).
 */
#ifndef BM_MAP_H
#define BM_MAP_H

#include <stddef.h>
#include <stdint.h>

struct bm_map;

/* FNV-1a of n bytes: the hash every table of bm uses. */
uint64_t bm_map_hash(const void *p, size_t n);

/* A new, empty map. */
struct bm_map *bm_map_new(void);
/* The value stored under key, or NULL. */
void *bm_map_get(const struct bm_map *m, const char *key);
/* The value stored under the n bytes at key, or NULL. */
void *bm_map_getn(const struct bm_map *m, const char *key, size_t n);
/* Store value under key (copied); the value it replaces, or NULL. */
void *bm_map_put(struct bm_map *m, const char *key, void *value);
/* Store value under the n bytes at key; the value it replaces, or NULL. */
void *bm_map_putn(struct bm_map *m, const char *key, size_t n, void *value);
/* The number of keys. */
size_t bm_map_count(const struct bm_map *m);
/*
 * Walk the entries: start with *pos = 0; each call sets *key (the stored
 * copy, NUL-terminated) and *value and returns 1, then 0 at the end.  The
 * order is the table's, not the insertion order; do not put while walking.
 */
int bm_map_next(const struct bm_map *m, size_t *pos, const char **key,
    void **value);
/* Free the map, calling free_value (if not NULL) on every value. */
void bm_map_free(struct bm_map *m, void (*free_value)(void *));

#endif
