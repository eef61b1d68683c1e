/*
 * test-arena: cJSON's allocations from the arena: trees build and print as
 * usual, cJSON_Delete of arena nodes is harmless, a reset makes the memory
 * reusable, items larger than a block work, and memory from elsewhere
 * (before the arena, or from malloc) is still freed (the sanitizer build
 * reports a leak or a bad free otherwise).
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "arena.h"
#include "jsonl.h"
#include "tap.h"
#include "xalloc.h"

static cJSON *
tree(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", "add");
	cJSON_AddNumberToObject(o, "n", 2);
	cJSON_AddItemToObject(o, "tags", cJSON_CreateArray());
	cJSON_AddItemToArray(cJSON_GetObjectItem(o, "tags"),
	    cJSON_CreateString("math"));
	return o;
}

int
main(void)
{
	cJSON *before, *o, *big, *dup;
	char *s, *text, *first, *again;
	size_t n = 300 * 1024;

	ok(!bm_arena_active(), "off until turned on");
	before = tree();
	bm_arena_on();
	ok(bm_arena_active(), "on");

	o = tree();
	first = (char *)o;
	s = bm_json_print(o);
	is(s, "{\"name\":\"add\",\"n\":2,\"tags\":[\"math\"]}",
	    "a tree built in the arena prints as usual");
	free(s);
	dup = cJSON_Duplicate(o, 1);
	cJSON_Delete(o);
	s = bm_json_print(dup);
	is(s, "{\"name\":\"add\",\"n\":2,\"tags\":[\"math\"]}",
	    "cJSON_Delete of arena nodes frees nothing before the reset");
	free(s);
	cJSON_Delete(dup);

	bm_arena_reset();
	o = tree();
	again = (char *)o;
	ok(again == first, "after a reset the arena starts over");
	cJSON_Delete(o);

	/* Larger than the first block: a block of its own until the reset. */
	text = xmalloc(n + 1);
	memset(text, 'x', n);
	text[n] = '\0';
	big = cJSON_CreateString(text);
	ok(big && strlen(big->valuestring) == n, "an item larger than a block");
	cJSON_Delete(big);
	bm_arena_reset();
	big = cJSON_CreateString(text);
	ok(big && strlen(big->valuestring) == n &&
	    (o = tree()) != NULL && (char *)o > big->valuestring,
	    "after a reset, one block holds what took two");
	bm_arena_reset();

	/* A string from malloc handed to an arena node: freed with free(). */
	o = cJSON_CreateNull();
	o->type = cJSON_String;
	o->valuestring = xstrdup("from malloc");
	cJSON_Delete(o);
	cJSON_Delete(before);
	ok(1, "memory from outside the arena is freed with free()");
	bm_arena_reset();
	free(text);
	return done_testing();
}
