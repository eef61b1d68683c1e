/* test-result: the result record of a step (lib/result.h). */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "config.h"
#include "jsonl.h"
#include "result.h"
#include "tap.h"

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_config *cfg = bm_config_load(NULL, &e);
	struct bm_target t;
	struct bm_sched_step s = { .t = &t, .nsteps = 2, .step = 1,
	    .attempts = 2, .attempt_ms = 1000, .answered_ms = 1012.5,
	    .ttft_ms = -1, .started_at = "2026-01-02T03:04:05Z" };
	struct bm_sched_outcome o = bm_sched_outcome(BM_CLASS_NONE, NULL);
	enum bm_class cls;
	cJSON *kase, *r;
	char *why, *json;

	ok(cfg && bm_config_resolve(cfg, "echo:", &t, &e) == 0, "echo:");
	kase = cJSON_Parse("{\"type\":\"case\",\"case_id\":\"c1\","
	    "\"model\":\"echo:\",\"step\":7,\"system\":\"S\","
	    "\"steps\":[{\"prompt\":\"a\"},{\"prompt\":\"b\"}]}");
	s.kase = kase;
	s.expect = cJSON_Parse("[{\"equals\":\"b\"}]");
	ok(o.reply.output == NULL && o.reply.prompt_tokens == -1 &&
	    o.reply.completion_tokens == -1 && o.exit_code == -1 &&
	    !o.cached, "an outcome: no answer, nothing known");
	o.reply.output = "b";
	o.reply.completion_tokens = 3;
	r = bm_result_make("r-1", &s, &o, &cls, &why);
	ok(cls == BM_CLASS_NONE && why == NULL, "answered: no error");
	is(bm_json_str(r, "type"), "result", "a result");
	is(bm_json_str(r, "run_id"), "r-1", "of the run");
	is(bm_json_str(r, "status"), "pass", "scored: pass");
	ok(bm_json_numor(r, "step", -1) == 1, "the step's number, not the "
	    "case's");
	ok(!cJSON_GetObjectItemCaseSensitive(r, "steps") &&
	    !cJSON_GetObjectItemCaseSensitive(r, "system"), "no prompt");
	ok(bm_json_numor(r, "latency_ms", -1) == 12.5, "latency to the answer");
	ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "ttft_ms")),
	    "no first token: null");
	ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "error")),
	    "error null");
	is(bm_json_str(r, "started_at"), "2026-01-02T03:04:05Z", "started");
	ok(bm_json_str(r, "finished_at") != NULL, "finished");
	cJSON_Delete(r);

	json = bm_result_input("r-1", &s, &o);
	r = cJSON_Parse(json);
	ok(r && !cJSON_GetObjectItemCaseSensitive(r, "status") &&
	    !cJSON_GetObjectItemCaseSensitive(r, "score") &&
	    !cJSON_GetObjectItemCaseSensitive(r, "finished_at"),
	    "a scorer's input: no status, score or finish");
	is(bm_json_str(r, "output"), "b", "the answer in it");
	cJSON_Delete(r);
	free(json);

	o = bm_sched_outcome(BM_CLASS_TIMEOUT, "too slow");
	o.http_status = 504;
	r = bm_result_make("r-1", &s, &o, &cls, &why);
	ok(cls == BM_CLASS_TIMEOUT, "an error keeps its class");
	is(why, "too slow", "and its message");
	is(bm_json_str(r, "status"), "error", "status error");
	is(bm_json_str(cJSON_GetObjectItemCaseSensitive(r, "error"), "class"),
	    "timeout", "error.class");
	ok(bm_json_numor(cJSON_GetObjectItemCaseSensitive(r, "error"),
	    "http_status", 0) == 504, "error.http_status");
	ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "output")),
	    "no output");
	free(why);
	cJSON_Delete(r);

	r = cJSON_CreateObject();
	bm_result_num(r, "a", 1.5, 1);
	bm_result_num(r, "b", 2, 0);
	json = bm_json_print(r);
	is(json, "{\"a\":1.5,\"b\":null}", "a number when known, else null");
	free(json);
	cJSON_Delete(r);
	cJSON_Delete((cJSON *)s.expect);
	cJSON_Delete(kase);
	bm_config_free(cfg);
	return done_testing();
}
