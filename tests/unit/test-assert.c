/* test-assert.c: checking and scoring of assertions (DESIGN.md §6). */
#include <stdlib.h>

#include <cJSON.h>

#include "assert.h"
#include "buf.h"
#include "err.h"
#include "jsonl.h"
#include "tap.h"
#include "xalloc.h"

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

/*
 * The reason of the first failed entry when output is scored against
 * expect (latency 812.4 ms, 90 completion tokens, exit code 1), as
 * "rc|reason" ("1|" when every entry passed).
 */
static char *
why(const char *expect, const char *output)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a = { output, 812.4, 90, 1, NULL };
	cJSON *x = cJSON_Parse(expect), *r = cJSON_CreateObject(), *it;
	const char *reason = "";
	char *s;
	int rc;

	rc = bm_assert_score(x, &a, r, &e);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "assertions"))
		if (cJSON_GetObjectItem(it, "reason")) {
			reason = cJSON_GetObjectItem(it, "reason")->valuestring;
			break;
		}
	s = xasprintf("%d|%s", rc, reason);
	bm_error_clear(&e);
	cJSON_Delete(x);
	cJSON_Delete(r);
	return s;
}

static void
is_why(const char *expect, const char *output, const char *want,
    const char *what)
{
	char *got = why(expect, output);

	is(got, want, what);
	free(got);
}

/* The entities entry and metrics of output against expect, as JSON. */
static char *
entities(const char *expect, const char *output)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a = { output, -1, -1, -1, NULL };
	cJSON *x = cJSON_Parse(expect), *r = cJSON_CreateObject(), *o;
	char *s;

	bm_assert_score(x, &a, r, &e);
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "a", cJSON_Duplicate(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(r, "assertions"), 0), 1));
	cJSON_AddItemToObject(o, "m", cJSON_Duplicate(cJSON_GetObjectItem(r,
	    "metrics"), 1));
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	bm_error_clear(&e);
	cJSON_Delete(x);
	cJSON_Delete(r);
	return s;
}

static void
is_entities(const char *expect, const char *output, const char *want,
    const char *what)
{
	char *got = entities(expect, output);

	is(got, want, what);
	free(got);
}

/* A case record with expect (JSON) for bm_assert_check_case. */
static void
is_case(const char *json, const char *want, const char *what)
{
	struct bm_error e = BM_ERROR_INIT;
	cJSON *k = cJSON_Parse(json);

	if (bm_assert_check_case(k, &e) == 0)
		is(NULL, want, what);
	else
		is(e.msg, want, what);
	bm_error_clear(&e);
	cJSON_Delete(k);
}

/*
 * bm_assert_put's text for output against expect (verdicts v, when
 * given), and the same members of bm_assert_score's result as
 * bm_json_put prints them: equal, with the same verdict and score.
 */
static void
is_put(const char *expect, const char *output,
    const struct bm_verdict *v, const char *what)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a = { output, 812.4, 90, 1, v };
	struct bm_buf got = BM_BUF_INIT, want = BM_BUF_INIT;
	cJSON *x = cJSON_Parse(expect), *r = cJSON_CreateObject(), *m;
	double score = -1;
	int rc, rc2;

	rc = bm_assert_score(x, &a, r, &e);
	bm_error_clear(&e);
	rc2 = bm_assert_put(x, &a, &got, &score, &e);
	bm_error_clear(&e);
	if (rc >= 0) {
		bm_buf_adds(&want, "\"score\":");
		bm_json_put(&want, cJSON_GetObjectItem(r, "score"));
		bm_buf_adds(&want, ",\"assertions\":");
		bm_json_put(&want, cJSON_GetObjectItem(r, "assertions"));
		bm_buf_adds(&want, ",\"metrics\":");
		m = cJSON_GetObjectItem(r, "metrics");
		if (m)
			bm_json_put(&want, m);
		else
			bm_buf_adds(&want, "null");
		ok(score == cJSON_GetObjectItem(r, "score")->valuedouble,
		    what);
	}
	is_int(rc2, rc, what);
	is(bm_buf_str(&got), bm_buf_str(&want), what);
	bm_buf_free(&got);
	bm_buf_free(&want);
	cJSON_Delete(x);
	cJSON_Delete(r);
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
	    "entities: match must be exact, case-insensitive or normalized",
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

	/* Reasons (bm-exec(1) ASSERTIONS). */
	is_why("[{\"equals\":\"4\"}]", "5", "0|expected \"4\", got \"5\"",
	    "equals reason");
	is_why("[{\"equals\":\"4\"}]", "The answer is a long story that"
	    " goes on and on, well past sixty characters, é and more",
	    "0|expected \"4\", got \"The answer is a long story that goes"
	    " on and on, well past si\xe2\x80\xa6\"",
	    "equals shortens a long answer");
	is_why("[{\"equals\":\"4\"}]", "a\"b\nc",
	    "0|expected \"4\", got \"a\\\"b\\nc\"", "equals quotes as JSON");
	is_why("[{\"starts-with\":\"Yes\"}]", "No, not at all",
	    "0|starts-with \"Yes\": got \"No, not at all\"", "starts-with");
	is_why("[{\"contains\":\"x\"}]", "abc", "0|contains \"x\": not found",
	    "contains reason");
	is_why("[{\"icontains\":\"X\"}]", "abc",
	    "0|icontains \"X\": not found", "icontains reason");
	is_why("[{\"not-contains\":\"b\"}]", "abc",
	    "0|not-contains \"b\": found", "not-contains reason");
	is_why("[{\"regex\":\"^\\\\d+$\"}]", "4x",
	    "0|regex '^\\d+$' did not match", "regex reason");
	is_why("[{\"json\":true}]", "{\"a\":}",
	    "0|json: unmatched '}' at line 1, column 6", "json reason");
	is_why("[{\"json\":true}]", "", "0|json: expected JSON value",
	    "json: empty answer");
	is_why("[{\"json\":true}]", "Here:\n```json\n{\"a\": 1}\n```\nDone.",
	    "1|", "json in a fence");
	is_why("[{\"json\":true}]", "```{\"a\":1}```", "1|",
	    "json in a one-line fence");
	is_why("[{\"json\":true}]", "```json\n{\"a\":\n```",
	    "0|json: unfinished JSON term at EOF at line 2, column 0",
	    "json: a bad fence says why");
	is_why("[{\"jq\":\".items | length > 2\"}]", "{\"items\":[1]}",
	    "0|jq: .items | length > 2 gave false", "jq reason");
	is_why("[{\"jq\":\".a\"}]", "```json\n{\"a\":true}\n```", "1|",
	    "jq in a fence");
	is_why("[{\"jq\":\".a\"}]", "{}", "0|jq: .a gave null", "jq null");
	is_why("[{\"jq\":\"empty\"}]", "{}", "0|jq: empty gave no output",
	    "jq no output");
	is_why("[{\"jq\":\".a.b\"}]", "{\"a\":1}",
	    "0|jq: .a.b failed: cannot index number with string \"b\"",
	    "jq runtime error");
	is_why("[{\"jq\":\".a\"}]", "nope",
	    "0|jq: the answer is not JSON: invalid literal at EOF at line 1,"
	    " column 4", "jq on non-JSON");
	is_why("[{\"jq\":\"range(1e12) | . == 0\"}]", "{}", "1|",
	    "jq: only the first output is taken from a long generator");
	is_why("[{\"jq\":\"range(1e12) | . == 0\"}]", "[]", "1|",
	    "jq: and the state starts afresh for the next answer");
	is_why("[{\"jq\":\"range(1e12) | . == 1\"}]", "[]",
	    "0|jq: range(1e12) | . == 1 gave false", "jq: first output false");
	is_why("[{\"max-latency-ms\":500}]", "", "0|latency 812.4 ms > 500",
	    "latency reason");
	is_why("[{\"max-tokens\":64}]", "", "0|completion tokens 90 > 64",
	    "tokens reason");
	is_why("[{\"exit-code\":3}]", "", "0|exit code 1, expected 3",
	    "exit-code reason");
	is_why("[{\"contains\":\"a\",\"not\":true}]", "abc",
	    "0|not: contains \"a\" passed", "not reason");
	is_why("[{\"regex\":\"^a\",\"not\":true}]", "abc",
	    "0|not: regex '^a' passed", "not regex reason");
	is_why("[{\"max-tokens\":100,\"not\":true}]", "",
	    "0|not: max-tokens 100 passed", "not max-tokens reason");
	is_why("[{\"entities\":{\"expected\":[\"a\",\"b\"]}}]", "a",
	    "0|entities: f1 0.6667 < 1", "entities reason");
	is_why("[{\"contains\":\"a\"},{\"regex\":\"z\"}]", "abc",
	    "0|regex 'z' did not match", "only the failed entry has one");

	/* Entities: the hand-computed case of issue 13, and the modes. */
	is_entities("[{\"entities\":{\"expected\":[\"aspirin\",\"ibuprofen\","
	    "\"naproxen\"]}}]", "aspirin, ibuprofen",
	    "{\"a\":{\"type\":\"entities\",\"pass\":false,\"score\":0.8,"
	    "\"reason\":\"entities: f1 0.8 < 1\",\"missing\":[\"naproxen\"],"
	    "\"extra\":[]},\"m\":{\"precision\":1,"
	    "\"recall\":0.66666666666666663,\"f1\":0.8,\"tp\":2,\"fp\":0,"
	    "\"fn\":1}}", "entities: P 1, R 2/3, F1 0.8");
	is_entities("[{\"entities\":{\"expected\":[\"Aspirin\",\"New  York\"],"
	    "\"match\":\"normalized\"}}]", "\"aspirin\"; (new york)!",
	    "{\"a\":{\"type\":\"entities\",\"pass\":true,\"score\":1,"
	    "\"missing\":[],\"extra\":[]},\"m\":{\"precision\":1,"
	    "\"recall\":1,\"f1\":1,\"tp\":2,\"fp\":0,\"fn\":0}}",
	    "entities: normalized");
	is_entities("[{\"entities\":{\"expected\":[\"Aspirin\"],"
	    "\"match\":\"case-insensitive\"}}]", "\"aspirin\", ASPIRIN",
	    "{\"a\":{\"type\":\"entities\",\"pass\":false,"
	    "\"score\":0.66666666666666663,\"reason\":\"entities: f1 0.6667"
	    " < 1\",\"missing\":[],\"extra\":[\"\\\"aspirin\\\"\"]},"
	    "\"m\":{\"precision\":0.5,\"recall\":1,"
	    "\"f1\":0.66666666666666663,\"tp\":1,\"fp\":1,\"fn\":0}}",
	    "entities: case-insensitive keeps the quotes");
	is_entities("[{\"entities\":{\"expected\":[\"a\",\"b\"]}}]",
	    "```json\n[\"b\", \"c\"]\n```",
	    "{\"a\":{\"type\":\"entities\",\"pass\":false,\"score\":0.5,"
	    "\"reason\":\"entities: f1 0.5 < 1\",\"missing\":[\"a\"],"
	    "\"extra\":[\"c\"]},\"m\":{\"precision\":0.5,\"recall\":0.5,"
	    "\"f1\":0.5,\"tp\":1,\"fp\":1,\"fn\":1}}",
	    "entities: a fenced JSON list");

	/* bm_assert_put writes what bm_assert_score builds. */
	{
		struct bm_verdict v[3] = {
			{ 1, 0, 0.25, "too \"terse\"\n", 2.0 / 3 },
			{ 1, 1, 1, NULL, -1 },
			{ 0, 0, 0, NULL, -1 }
		};

		is_put("[{\"contains\":\"answer\"},{\"regex\":\"answer is"
		    " [0-9]+\"},{\"jq\":\".n > 10\"}]",
		    "{\"n\": 3, \"text\": \"the answer is 3\"}", NULL,
		    "put: contains, regex, jq (fails)");
		is_put("[{\"equals\":\"4\",\"weight\":3},{\"not\":true,"
		    "\"icontains\":\"FOUR\"},{\"starts-with\":4},"
		    "{\"json\":true},{\"max-latency-ms\":800},"
		    "{\"max-tokens\":100},{\"exit-code\":1}]", " 4 ", NULL,
		    "put: weights, not:, numbers, measures");
		is_put("[{\"entities\":{\"expected\":[\"a\",\"b\",\"c\"],"
		    "\"min_f1\":0.5}},{\"not-contains\":\"z\"}]", "a, b, d",
		    NULL, "put: entities, metrics");
		is_put("[{\"judge\":\"terse\"},{\"exec\":\"true\"},"
		    "{\"equals\":\"x\\u00e9\\t\"}]", "x\xc3\xa9\t", v,
		    "put: verdicts, an agreement, a reason with escapes");
		is_put("[{\"judge\":\"terse\"},{\"exec\":\"true\"},"
		    "{\"exec\":\"false\"}]", "x", v,
		    "put: an entry with no verdict");
		is_put("[{\"regex\":\"(a\"}]", "a", NULL, "put: a bad spec");
		is_put("[]", "a", NULL, "put: no entries");
	}

	/* Case records, before any request. */
	is_case("{\"benchmark\":\"sum\",\"expect\":[{\"equals\":\"4\"},"
	    "{\"regex\":\"(a\"}]}",
	    "sum: expect[1]: regex: missing closing parenthesis at offset 2",
	    "a bad regex in a case");
	is_case("{\"benchmark\":\"s\",\"steps\":[{\"prompt\":\"a\"},"
	    "{\"prompt\":\"b\",\"expect\":[{\"regx\":\"a\"}]}]}",
	    "s: step 1: expect[0]: unknown assertion 'regx' (did you mean"
	    " 'regex'?)", "a bad step");
	is_case("{\"benchmark\":\"s\",\"expect\":{\"equals\":1}}",
	    "s: expect: expected a list of assertions", "expect not a list");
	is_case("{\"benchmark\":\"s\",\"expect\":[{\"equals\":1}]}", NULL,
	    "a good case");
	is_case("{\"benchmark\":\"s\"}", NULL, "no expect");
	return done_testing();
}
