/* test-suggest: did-you-mean. */
#include "suggest.h"
#include "tap.h"

int
main(void)
{
	static const char *const keys[] = { "name", "prompt", "system",
		"sequence", "variants", "vars", NULL };

	is_int(bm_edit_distance("", ""), 0, "empty strings are equal");
	is_int(bm_edit_distance("kitten", "sitting"), 3, "kitten/sitting is 3");
	is_int(bm_edit_distance("promt", "prompt"), 1, "one deletion");
	is_int(bm_edit_distance("pormpt", "prompt"), 1, "a transposition is one");
	is(bm_suggest("promt", keys), "prompt", "promt -> prompt");
	is(bm_suggest("sytem", keys), "system", "sytem -> system");
	is(bm_suggest("var", keys), "vars", "var -> vars");
	is(bm_suggest("zzzzzz", keys), NULL, "nothing close: no suggestion");
	is(bm_suggest("x", keys), NULL, "one letter suggests nothing far");
	return done_testing();
}
