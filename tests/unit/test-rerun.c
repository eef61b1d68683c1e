/* test-rerun: --rescore through lib/sched, what needs no database. */
#include <cJSON.h>

#include "rerun.h"
#include "tap.h"

static int
scorer(const char *json)
{
	cJSON *rec = cJSON_Parse(json);
	int rc = bm_rerun_has_scorer(rec);

	cJSON_Delete(rec);
	return rc;
}

static enum bm_class
class_of(const char *json)
{
	cJSON *r = cJSON_Parse(json);
	enum bm_class c = bm_rerun_class(r);

	cJSON_Delete(r);
	return c;
}

int
main(void)
{
	ok(scorer("{\"expect\":[{\"equals\":\"a\"},{\"exec\":\"true\"}]}"),
	    "an exec scorer in expect");
	ok(scorer("{\"steps\":[{\"prompt\":\"p\"},{\"prompt\":\"q\","
	    "\"expect\":[{\"exec\":\"true\",\"not\":true}]}]}"),
	    "in a step's expect, negated");
	ok(!scorer("{\"expect\":[{\"equals\":\"exec\"},{\"judge\":\"x\"}]}"),
	    "none: equals and judge");
	ok(!scorer("{\"messages\":[]}"), "none: no expect");
	is_int(class_of("{\"error\":null}"), BM_CLASS_NONE, "no error");
	is_int(class_of("{\"error\":{\"class\":\"rate_limit\"}}"),
	    BM_CLASS_RATE_LIMIT, "a class by its name");
	is_int(class_of("{\"error\":{\"class\":\"cancelled\"}}"),
	    BM_CLASS_CANCELLED, "cancelled");
	is_int(class_of("{\"error\":{\"class\":\"nosuch\"}}"), BM_CLASS_CONFIG,
	    "an unknown class is config");
	return done_testing();
}
