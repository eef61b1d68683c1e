/* result.c: the result record of a step, from its case and outcome. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "clock.h"
#include "err.h"
#include "jsonl.h"
#include "judge.h"
#include "result.h"
#include "runs.h"
#include "xalloc.h"

/* The result record for step s, without outcome fields. */
static cJSON *
result_new(const char *run_id, const struct bm_sched_step *s)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *it;

	cJSON_AddStringToObject(r, "type", "result");
	cJSON_AddStringToObject(r, "run_id", run_id ? run_id : "");
	cJSON_ArrayForEach(it, s->kase) {
		/* The prompt is the case's; results carry the answer. */
		if (strcmp(it->string, "type") == 0 ||
		    strcmp(it->string, "run_id") == 0 ||
		    strcmp(it->string, "messages") == 0 ||
		    strcmp(it->string, "steps") == 0 ||
		    strcmp(it->string, "system") == 0)
			continue;
		cJSON_AddItemToObject(r, it->string, cJSON_Duplicate(it, 1));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(r, "step");
	cJSON_AddNumberToObject(r, "step", (double)s->step);
	return r;
}

static void
add_error(cJSON *r, enum bm_class cls, const char *msg, long status)
{
	cJSON *err = cJSON_AddObjectToObject(r, "error");
	char *clean = bm_redact(msg ? msg : "");

	/* A server's message may quote the key: redact the value; and it
	 * may be any bytes: make it UTF-8. */
	bm_utf8_fix(&clean);
	cJSON_AddStringToObject(err, "class", bm_class_name(cls));
	cJSON_AddStringToObject(err, "message", clean);
	free(clean);
	if (status > 0)
		cJSON_AddNumberToObject(err, "http_status", (double)status);
	else
		cJSON_AddNullToObject(err, "http_status");
}

void
bm_result_num(cJSON *r, const char *k, double v, int known)
{
	if (known)
		cJSON_AddNumberToObject(r, k, v);
	else
		cJSON_AddNullToObject(r, k);
}

/* Milliseconds to the microsecond: no false precision in records. */
static double
ms3(double ms)
{
	return (double)llround(ms * 1000) / 1000;
}

/* Judges and scorers may take a while: not the model's latency. */
static double
latency_of(const struct bm_sched_step *s)
{
	return (s->answered_ms > 0 ? s->answered_ms : bm_clock_ms()) -
	    s->attempt_ms;
}

/* What the answer of step s brought: output, times, usage, cost. */
static void
add_answer(cJSON *r, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o, double latency)
{
	const struct bm_model *m = s->t->model;
	long pt = o->reply.prompt_tokens, ct = o->reply.completion_tokens;
	cJSON *u;

	if (o->reply.output)
		cJSON_AddStringToObject(r, "output", o->reply.output);
	else
		cJSON_AddNullToObject(r, "output");
	bm_result_num(r, "latency_ms", ms3(latency), s->attempts > 0);
	bm_result_num(r, "ttft_ms", ms3(s->ttft_ms), s->ttft_ms >= 0);
	cJSON_AddNumberToObject(r, "attempts", s->attempts);
	if (pt >= 0 || ct >= 0) {
		u = cJSON_AddObjectToObject(r, "usage");
		bm_result_num(u, "prompt_tokens", (double)pt, pt >= 0);
		bm_result_num(u, "completion_tokens", (double)ct, ct >= 0);
	} else {
		cJSON_AddNullToObject(r, "usage");
	}
	bm_result_num(r, "cost_usd", ((double)(pt > 0 ? pt : 0) *
	    (m ? m->price_input : 0) + (double)(ct > 0 ? ct : 0) *
	    (m ? m->price_output : 0)) / 1e6,
	    m && m->has_price && (pt >= 0 || ct >= 0) && !o->cached);
	/* An exec provider's exit status, so that exit-code re-scores. */
	if (s->t->provider && s->t->provider->type == BM_PROVIDER_EXEC)
		bm_result_num(r, "exit_code", o->exit_code,
		    o->exit_code >= 0);
}

cJSON *
bm_result_make(const char *run_id, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o, enum bm_class *cls, char **why)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a = { .exit_code = -1 };
	double latency = latency_of(s);
	char fin[BM_CLOCK_TIME_LEN + 1];
	const char *msg = o->msg;
	cJSON *r = result_new(run_id, s), *sc = cJSON_CreateObject();
	int rc = 0;

	*cls = o->cls;
	*why = NULL;
	cJSON_AddStringToObject(r, "status", "error");
	if (*cls == BM_CLASS_NONE) {
		a.output = o->reply.output ? o->reply.output : "";
		a.latency_ms = latency;
		a.completion_tokens = o->reply.completion_tokens;
		a.exit_code = s->t->provider->type == BM_PROVIDER_EXEC ?
		    o->exit_code : -1;
		a.verdicts = o->verdicts;
		/* bm_assert_score adds assertions, score and metrics. */
		rc = bm_assert_score(s->expect, &a, sc, &e);
		if (rc < 0) {
			*cls = BM_CLASS_JUDGE;
			msg = bm_error_str(&e);
		} else {
			cJSON_ReplaceItemInObjectCaseSensitive(r, "status",
			    cJSON_CreateString(rc ? "pass" : "fail"));
		}
	}
	if (*cls != BM_CLASS_NONE) {
		add_error(r, *cls, msg, o->http_status);
		*why = xstrdup(msg ? msg : "");
	} else {
		cJSON_AddNullToObject(r, "error");
	}
	add_answer(r, s, o, latency);
	if (o->judges > 0)
		bm_judge_add_usage(r, o->judge_prompt_tokens,
		    o->judge_completion_tokens, o->judge_cost_usd,
		    o->judge_priced);
	bm_assert_attach(r, sc, rc >= 0 && *cls == BM_CLASS_NONE);
	if (o->cached)
		cJSON_AddTrueToObject(r, "cached");
	if (o->repaired)
		cJSON_AddTrueToObject(r, "output_repaired");
	cJSON_AddStringToObject(r, "started_at", s->started_at);
	bm_clock_rfc3339(fin);
	cJSON_AddStringToObject(r, "finished_at", fin);
	bm_runs_shape(r);
	bm_error_clear(&e);
	return r;
}

char *
bm_result_input(const char *run_id, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	cJSON *r = result_new(run_id, s);
	char *json;

	cJSON_AddNullToObject(r, "error");
	add_answer(r, s, o, latency_of(s));
	cJSON_AddStringToObject(r, "started_at", s->started_at);
	bm_runs_shape(r);
	cJSON_DeleteItemFromObjectCaseSensitive(r, "status");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "score");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "assertions");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "metrics");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "finished_at");
	json = bm_json_print(r);
	cJSON_Delete(r);
	return json;
}
