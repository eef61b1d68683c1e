/* test-suggest: did-you-mean. */
#include <stdlib.h>

#include "suggest.h"
#include "tap.h"

int
main(void)
{
	static const char *const keys[] = { "name", "prompt", "system",
		"sequence", "variants", "vars", NULL };
	static const char *const models[] = { "claude-3-5-sonnet", "gpt-4o",
		"llama3.2:1b", NULL };
	static const char *const none[] = { NULL };
	char *h;

	is_int(bm_suggest_distance("", ""), 0, "empty strings are equal");
	is_int(bm_suggest_distance("kitten", "sitting"), 3,
	    "kitten/sitting is 3");
	is_int(bm_suggest_distance("promt", "prompt"), 1, "one deletion");
	is_int(bm_suggest_distance("pormpt", "prompt"), 1,
	    "a transposition is one");
	is(bm_suggest("promt", keys), "prompt", "promt -> prompt");
	is(bm_suggest("sytem", keys), "system", "sytem -> system");
	is(bm_suggest("var", keys), "vars", "var -> vars");
	is(bm_suggest("zzzzzz", keys), NULL, "nothing close: no suggestion");
	is(bm_suggest("x", keys), NULL, "one letter suggests nothing far");
	is(bm_suggest("gpt4", models), "gpt-4o",
	    "without punctuation: gpt4 -> gpt-4o");
	is(bm_suggest("llama321b", models), "llama3.2:1b",
	    "llama321b -> llama3.2:1b");
	is(bm_suggest("", models), NULL, "the empty word suggests nothing");
	is(bm_suggest("x", none), NULL, "no candidates: nothing");
	h = bm_suggest_hint("promt", keys);
	is(h, " (did you mean 'prompt'?)", "hint with a candidate");
	free(h);
	h = bm_suggest_hint("zzzzzz", keys);
	is(h, "", "hint without one is empty");
	free(h);
	return done_testing();
}
