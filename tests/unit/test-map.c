/* test-map: the one hash map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "tap.h"

int
main(void)
{
	struct bm_map *m = bm_map_new();
	char key[32], *big;
	const char *k;
	void *v;
	size_t pos = 0, seen = 0;
	long i, bad = 0;
	static int one, two;

	ok(bm_map_get(m, "a") == NULL, "an empty map has nothing");
	ok(bm_map_put(m, "a", &one) == NULL, "a new key returns NULL");
	ok(bm_map_put(m, "a", &two) == &one, "a put returns what it replaced");
	ok(bm_map_get(m, "a") == &two, "the new value is stored");
	ok(bm_map_getn(m, "abc", 1) == &two, "getn reads n bytes of the key");
	ok(bm_map_putn(m, "a\0b", 3, &one) == NULL,
	    "a key with a NUL byte is its own key");
	ok(bm_map_getn(m, "a\0b", 3) == &one, "and is found by its bytes");
	is_int((long)bm_map_count(m), 2, "two keys");
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "key-%ld", i);
		bm_map_put(m, key, (void *)(i + 1));
	}
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "key-%ld", i);
		if (bm_map_get(m, key) != (void *)(i + 1))
			bad++;
	}
	is_int(bad, 0, "10,000 keys survive growing");
	is_int((long)bm_map_count(m), 10002, "and are counted");
	while (bm_map_next(m, &pos, &k, &v))
		seen++;
	is_int((long)seen, 10002, "bm_map_next visits every key once");
	is_int((long)bm_map_hash("a", 1), (long)0xaf63dc4c8601ec8cULL,
	    "FNV-1a 64 of \"a\"");
	bm_map_free(m, NULL);

	/* Keys are copied into blocks of the map's: each stays put. */
	m = bm_map_new();
	bm_map_put(m, "first", &one);
	pos = 0;
	bm_map_next(m, &pos, &k, &v);
	big = malloc(200000);
	memset(big, 'k', 199999);
	big[199999] = '\0';
	bm_map_put(m, big, &two);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		bm_map_put(m, key, &one);
	}
	ok(strcmp(k, "first") == 0, "a key's copy stays where it was");
	ok(bm_map_get(m, big) == &two, "a key larger than a block is kept");
	big[0] = 'x';
	ok(bm_map_get(m, big) == NULL, "as a copy");
	pos = seen = bad = 0;
	while (bm_map_next(m, &pos, &k, &v))
		if (strlen(k) != (v == &two ? 199999 : strlen(k)) ||
		    bm_map_get(m, k) != v)
			bad++;
	is_int(bad, 0, "every copy is NUL-terminated and finds its value");
	free(big);
	bm_map_free(m, NULL);
	m = bm_map_new();
	bm_map_put(m, "x", strdup("owned"));
	bm_map_free(m, free);
	ok(1, "free_value frees each value");
	return done_testing();
}
