/*
 * fuzz-assert.c: libFuzzer target for the assertions: the input's first
 * line is an expect list (or one spec), the rest the answer.  Every spec
 * is checked, the case record holding the list is checked, and the list
 * is scored (judge and exec entries get a verdict) when it checks.
 * Invariants: a check or score that fails says why; scores lie in 0..1;
 * an entry has a reason exactly when it failed; the verdict is the
 * conjunction of the entries'.  Built and run by scripts/fuzz.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "xalloc.h"

static int
in_01(const cJSON *n)
{
	return cJSON_IsNumber(n) && n->valuedouble >= 0 &&
	    n->valuedouble <= 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_verdict v[64];
	struct bm_answer a = { NULL, 120, 7, 3, v };
	const char *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - (const char *)data) : size;
	char *spec = xstrndup((const char *)data, n);
	char *out = nl ? xstrndup(nl + 1, size - n - 1) : xstrdup("");
	cJSON *x = cJSON_Parse(spec), *kase, *r, *it;
	const cJSON *s, *where;
	int rc, all = 1, bad = 0, i;

	for (i = 0; i < 64; i++)
		v[i] = (struct bm_verdict){ 1, i % 2, 0.5, "because", -1 };
	a.output = out;
	if (cJSON_IsObject(x)) {	/* one spec: a list of it */
		kase = cJSON_CreateArray();
		cJSON_AddItemToArray(kase, x);
		x = kase;
	}
	if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) > 64)
		goto out;
	cJSON_ArrayForEach(s, x) {
		if (bm_assert_check(s, &where, &e) < 0) {
			if (!e.msg || !where)
				abort();
			bm_error_clear(&e);
			bad = 1;
		}
	}
	kase = cJSON_CreateObject();
	cJSON_AddStringToObject(kase, "benchmark", "fuzz");
	cJSON_AddItemReferenceToObject(kase, "expect", x);
	rc = bm_assert_check_case(kase, &e);
	cJSON_Delete(kase);
	if ((rc < 0) != bad || (rc < 0 && strncmp(e.msg, "fuzz: expect[",
	    13) != 0))
		abort();
	bm_error_clear(&e);
	if (bad)
		goto out;
	r = cJSON_CreateObject();
	rc = bm_assert_score(x, &a, r, &e);
	if (rc < 0)
		abort();	/* every verdict is known */
	if (!in_01(cJSON_GetObjectItem(r, "score")))
		abort();
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "assertions")) {
		if (!in_01(cJSON_GetObjectItem(it, "score")))
			abort();
		if (cJSON_IsTrue(cJSON_GetObjectItem(it, "pass")) ==
		    cJSON_IsString(cJSON_GetObjectItem(it, "reason")))
			abort();
		all = all && cJSON_IsTrue(cJSON_GetObjectItem(it, "pass"));
	}
	if (rc != all)
		abort();
	cJSON_Delete(r);
out:
	bm_error_clear(&e);
	cJSON_Delete(x);
	free(spec);
	free(out);
	return 0;
}
