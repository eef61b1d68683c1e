/* test-assert.c: checking and scoring of assertions (DESIGN.md §6). */
#include <stdlib.h>

#include <cJSON.h>

#include "assert.h"
#include "err.h"
#include "tap.h"

/* The message bm_assert_check gives for spec (JSON), or "ok". */
static char *
check(const char *json)
{
	struct bm_error e = BM_ERROR_INIT;
	cJSON *spec = cJSON_Parse(json);
	const cJSON *where;
	char *msg;

	msg = bm_assert_check(spec, &where, &e) == 0 ? NULL : e.msg;
	e.msg = NULL;
	bm_error_clear(&e);
	cJSON_Delete(spec);
	return msg;
}

static void
is_check(const char *json, const char *want, const char *what)
{
	char *got = check(json);

	is(got, want, what);
	free(got);
}

/* Score output against expect (JSON); returns the verdict, fills *score. */
static int
score(const char *expect, const char *output, double *s, cJSON **res)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a = { output, 120.0, 7, 0, NULL };
	cJSON *x = cJSON_Parse(expect), *r = cJSON_CreateObject();
	int rc;

	rc = bm_assert_score(x, &a, r, &e);
	*s = cJSON_GetObjectItem(r, "score") ?
	    cJSON_GetObjectItem(r, "score")->valuedouble : -1;
	bm_error_clear(&e);
	cJSON_Delete(x);
	if (res)
		*res = r;
	else
		cJSON_Delete(r);
	return rc;
}

int
main(void)
{
	cJSON *r;
	double s;

	is_check("{\"equals\":\"4\"}", NULL, "equals string");
	is_check("{\"equals\":4}", NULL, "equals number");
	is_check("{\"contains\":\"x\",\"weight\":2,\"not\":true}", NULL,
	    "weight and not");
	is_check("{\"regx\":\"a\"}",
	    "unknown assertion 'regx' (did you mean 'regex'?)", "did you mean");
	is_check("{\"weight\":1}", "assertion has no type", "no type");
	is_check("{\"equals\":\"a\",\"contains\":\"b\"}",
	    "assertion has two types, 'equals' and 'contains'", "two types");
	is_check("{\"regex\":\"(a\"}",
	    "regex: missing closing parenthesis at offset 2", "bad regex");
	is_check("{\"jq\":\".a |||\"}", "jq: syntax error, unexpected '|'",
	    "bad jq (no shell quoting hint: it comes from YAML)");
	is_check("{\"jq\":\".a == 1\"}", NULL, "good jq");
	is_check("{\"weight\":-1,\"equals\":\"a\"}",
	    "weight: expected a number >= 0", "negative weight");
	is_check("{\"not\":1,\"equals\":\"a\"}",
	    "not: expected true or false", "not must be a bool");
	is_check("{\"entities\":{\"expected\":[\"a\"],\"macth\":\"exact\"}}",
	    "entities: unknown key 'macth' (did you mean 'match'?)",
	    "entities key");
	is_check("{\"entities\":{\"expected\":[\"a\"],\"match\":\"fuzzy\"}}",
	    "entities: match must be exact or case-insensitive",
	    "entities match");
	is_check("{\"entities\":{\"expected\":[\"a\"],\"min_f1\":2}}",
	    "entities: min_f1 must be a number from 0 to 1", "entities min_f1");
	is_check("{\"judge\":{\"rubric\":\"ok?\",\"model\":\"judge\"}}", NULL,
	    "judge");
	is_check("{\"judge\":{\"model\":\"judge\"}}",
	    "judge: rubric must be a non-empty string", "judge rubric");
	is_check("{\"exit-code\":1.5}",
	    "exit-code: expected an integer from 0 to 255", "exit-code");
	is_check("{\"max-latency-ms\":-3}",
	    "max-latency-ms: expected a number >= 0", "max-latency-ms");
	is_check("{\"max-tokens\":\"x\"}",
	    "max-tokens: expected an integer >= 0", "max-tokens");
	is_check("{\"exec\":\"\"}", "exec: expected a non-empty string",
	    "exec");
	is_check("[1]", "expected an assertion such as {contains: \"4\"}",
	    "not a mapping");

	is_int(score("[]", "x", &s, NULL), 1, "empty expect passes");
	is_int(score("[{\"equals\":\"4\"}]", " 4\n", &s, NULL), 1,
	    "equals trims the answer");
	is_int(score("[{\"equals\":4}]", "4", &s, NULL), 1, "equals number");
	is_int(score("[{\"equals\":\"4\"}]", "5", &s, NULL), 0, "equals fails");
	is_int(score("[{\"contains\":\"ell\"}]", "hello", &s, NULL), 1,
	    "contains");
	is_int(score("[{\"icontains\":\"ELL\"}]", "hello", &s, NULL), 1,
	    "icontains");
	is_int(score("[{\"not-contains\":\"x\"}]", "hello", &s, NULL), 1,
	    "not-contains");
	is_int(score("[{\"starts-with\":\"he\"}]", "hello", &s, NULL), 1,
	    "starts-with");
	is_int(score("[{\"regex\":\"^\\\\d+$\"}]", "42", &s, NULL), 1, "regex");
	is_int(score("[{\"regex\":\"^\\\\d+$\"}]", "4x", &s, NULL), 0,
	    "regex fails");
	is_int(score("[{\"json\":true}]", "{\"a\":1}", &s, NULL), 1, "json");
	is_int(score("[{\"json\":true}]", "{a:1}", &s, NULL), 0, "json fails");
	is_int(score("[{\"jq\":\".a == 1\"}]", "{\"a\":1}", &s, NULL), 1, "jq");
	is_int(score("[{\"jq\":\".a == 1\"}]", "{\"a\":2}", &s, NULL), 0,
	    "jq false");
	is_int(score("[{\"jq\":\".a == 1\"}]", "nope", &s, NULL), 0,
	    "jq on non-JSON");
	is_int(score("[{\"exit-code\":0}]", "", &s, NULL), 1, "exit-code");
	is_int(score("[{\"max-latency-ms\":100}]", "", &s, NULL), 0,
	    "max-latency-ms");
	is_int(score("[{\"max-tokens\":7}]", "", &s, NULL), 1, "max-tokens");
	is_int(score("[{\"regex\":\"^no\",\"not\":true}]", "yes", &s, NULL), 1,
	    "not inverts");
	is_int(score("[{\"equals\":\"a\",\"weight\":3},{\"equals\":\"b\"}]",
	    "a", &s, NULL), 0, "one of two fails");
	ok(s > 0.749 && s < 0.751, "score is the weighted mean");
	is_int(score("[{\"entities\":{\"expected\":[\"Aspirin\",\"ibuprofen\"],"
	    "\"match\":\"case-insensitive\",\"min_f1\":0.5}}]",
	    "- aspirin\n- paracetamol\n", &s, &r), 1, "entities at min_f1");
	ok(s > 0.499 && s < 0.501, "entities score is F1");
	ok(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "metrics"),
	    "recall")->valuedouble == 0.5, "entities recall");
	cJSON_Delete(r);
	is_int(score("[{\"entities\":{\"expected\":[\"a\",\"b\"]}}]",
	    "[\"a\",\"b\"]", &s, NULL), 1, "entities from a JSON list");
	is_int(score("[{\"judge\":\"fine?\"}]", "x", &s, NULL), -1,
	    "judge is not evaluated here");
	return done_testing();
}
