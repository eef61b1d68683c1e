/* rerun.c: --rescore's stored answers replayed through lib/sched. */
#include <string.h>

#include "assert.h"
#include "clock.h"
#include "jsonl.h"
#include "rerun.h"
#include "xalloc.h"

int
bm_rerun_has_scorer(const cJSON *rec)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	const cJSON *st, *spec, *type, *expect;
	int k, n = cJSON_IsArray(steps) ? cJSON_GetArraySize(steps) : 1;

	for (k = 0; k < n; k++) {
		st = cJSON_IsArray(steps) ? cJSON_GetArrayItem(steps, k) : rec;
		expect = cJSON_GetObjectItemCaseSensitive(st, "expect");
		cJSON_ArrayForEach(spec, expect)
			if ((type = bm_assert_type(spec)) &&
			    strcmp(type->string, "exec") == 0 &&
			    cJSON_IsString(type))
				return 1;
	}
	return 0;
}

enum bm_class
bm_rerun_class(const cJSON *r)
{
	const char *cls = bm_json_str(cJSON_GetObjectItemCaseSensitive(r,
	    "error"), "class");
	int i;

	if (!cls)
		return BM_CLASS_NONE;
	for (i = 1; i <= BM_CLASS_CONFIG; i++)
		if (strcmp(cls, bm_class_name((enum bm_class)i)) == 0)
			return (enum bm_class)i;
	return strcmp(cls, "cancelled") == 0 ? BM_CLASS_CANCELLED :
	    BM_CLASS_CONFIG;
}

int
bm_rerun_replay(struct bm_rescore *rs, const struct bm_sched_step *s,
    struct bm_reply *r, cJSON **res, struct bm_error *e)
{
	const char *out;
	cJSON *old;
	int rc;

	*res = NULL;
	if (s->step == 0)
		bm_rescore_add_id(rs, bm_json_str(s->kase, "case_id"));
	rc = bm_rescore_stored(rs, s->kase, s->step, &old, e);
	if (rc != 1)
		return rc;
	if (bm_rescore_is_error(old)) {
		*res = bm_rescore_result(rs, s->kase, s->step, old, NULL);
		return 2;
	}
	out = bm_json_str(old, "output");
	r->output = xstrdup(out ? out : "");
	cJSON_Delete(old);
	return 1;
}

int
bm_rerun_result(struct bm_rescore *rs, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o, cJSON **res, struct bm_error *e)
{
	cJSON *old = NULL;
	int rc = bm_rescore_stored(rs, s->kase, s->step, &old, e);

	*res = rc == 1 ? bm_rescore_result(rs, s->kase, s->step, old, o) :
	    NULL;
	return rc;
}

int
bm_rerun_record(struct bm_rescore *rs, const struct bm_sched_step *s,
    char **json, struct bm_error *e)
{
	cJSON *old = NULL;
	int rc = bm_rescore_stored(rs, s->kase, s->step, &old, e);

	*json = rc == 1 ? bm_rescore_record(rs, s->kase, s->step, old) : NULL;
	return rc;
}

int
bm_rerun_due(const struct bm_rescore *rs, double last_ms)
{
	return bm_rescore_pending_bytes(rs) >= 4 << 20 ||
	    (bm_rescore_tally(rs)->cases % 64 == 0 &&
	    bm_clock_ms() - last_ms >= 250);
}
