/* test-provider: request bodies, responses, SSE and error classes. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "provider.h"
#include "tap.h"

static const char *
hdr(char **h, const char *prefix)
{
	for (; h && *h; h++)
		if (strncmp(*h, prefix, strlen(prefix)) == 0)
			return *h;
	return NULL;
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_provider p = { 0 };
	struct bm_target t = { 0 };
	struct bm_preq r;
	struct bm_reply rep;
	struct bm_sse s;
	cJSON *msgs, *params, *body;
	char *msg;
	static const char sse[] =
	    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
	    "data: {\"choices\":[{\"delta\":{\"content\":\"He\"}}]}\n\n"
	    "data: {\"choices\":[{\"delta\":{\"content\":\"llo\"}}]}\n\n"
	    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
	    "\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
	size_t i;
	int firsts;

	msgs = cJSON_Parse("[{\"role\":\"system\",\"content\":\"Be brief.\"},"
	    "{\"role\":\"user\",\"content\":\"What is 2 + 2?\"}]");
	params = cJSON_Parse("{\"temperature\":0,\"max_tokens\":64,"
	    "\"stop\":[\"x\"]}");
	p.name = "openai";
	p.type = BM_PROVIDER_OPENAI;
	p.base_url = "http://127.0.0.1:9/v1/";
	t.provider = &p;
	t.api_model = "gpt-4o-mini";
	ok(bm_provider_request(&t, "sk-test", msgs, params, 1, &r, &e) == 0,
	    "openai request");
	is(r.url, "http://127.0.0.1:9/v1/chat/completions", "openai url");
	is(hdr(r.headers, "Authorization"), "Authorization: Bearer sk-test",
	    "bearer key");
	body = cJSON_Parse(r.body.s);
	ok(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")), "stream: true");
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(body, "messages")), 2,
	    "messages as given");
	is_int(cJSON_GetObjectItem(body, "max_tokens")->valueint, 64,
	    "params merged");
	cJSON_Delete(body);
	bm_preq_free(&r);

	p.type = BM_PROVIDER_ANTHROPIC;
	p.base_url = "http://h/v1";
	ok(bm_provider_request(&t, "ak", msgs, params, 0, &r, &e) == 0,
	    "anthropic request");
	is(r.url, "http://h/v1/messages", "anthropic url under /v1");
	is(hdr(r.headers, "x-api-key"), "x-api-key: ak", "x-api-key");
	body = cJSON_Parse(r.body.s);
	is(cJSON_GetObjectItem(body, "system")->valuestring, "Be brief.",
	    "system moves to the top level");
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(body, "messages")), 1,
	    "and out of messages");
	ok(cJSON_GetObjectItem(body, "stop_sequences") &&
	    !cJSON_GetObjectItem(body, "stop"), "stop is stop_sequences");
	cJSON_Delete(body);
	bm_preq_free(&r);
	p.base_url = "http://h";
	bm_provider_request(&t, NULL, msgs, NULL, 0, &r, &e);
	is(r.url, "http://h/v1/messages", "anthropic url from the host");
	body = cJSON_Parse(r.body.s);
	is_int(cJSON_GetObjectItem(body, "max_tokens")->valueint, 1024,
	    "max_tokens defaults (the API requires it)");
	ok(!hdr(r.headers, "x-api-key"), "no key, no header");
	cJSON_Delete(body);
	bm_preq_free(&r);

	p.type = BM_PROVIDER_OLLAMA;
	p.base_url = "http://o:11434";
	bm_provider_request(&t, NULL, msgs, params, 1, &r, &e);
	is(r.url, "http://o:11434/api/chat", "ollama url");
	body = cJSON_Parse(r.body.s);
	ok(cJSON_IsFalse(cJSON_GetObjectItem(body, "stream")),
	    "ollama: stream false");
	is_int(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "options"),
	    "num_predict")->valueint, 64, "max_tokens is num_predict");
	cJSON_Delete(body);
	bm_preq_free(&r);

	ok(bm_provider_parse(BM_PROVIDER_OPENAI, "{\"choices\":[{\"message\":"
	    "{\"content\":\"4\"}}],\"usage\":{\"prompt_tokens\":21,"
	    "\"completion_tokens\":1}}", 92, &rep, &e) == 0, "openai answer");
	ok(strcmp(rep.output, "4") == 0 && rep.prompt_tokens == 21 &&
	    rep.completion_tokens == 1, "text and usage");
	bm_reply_free(&rep);
	ok(bm_provider_parse(BM_PROVIDER_ANTHROPIC, "{\"content\":[{\"type\":"
	    "\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":5,"
	    "\"output_tokens\":1}}", 86, &rep, &e) == 0 &&
	    strcmp(rep.output, "hi") == 0 && rep.prompt_tokens == 5,
	    "anthropic answer");
	bm_reply_free(&rep);
	ok(bm_provider_parse(BM_PROVIDER_OLLAMA, "{\"message\":{\"content\":"
	    "\"ok\"},\"prompt_eval_count\":7,\"eval_count\":2}", 65, &rep,
	    &e) == 0 && strcmp(rep.output, "ok") == 0 &&
	    rep.completion_tokens == 2, "ollama answer");
	bm_reply_free(&rep);
	ok(bm_provider_parse(BM_PROVIDER_OPENAI, "<html>", 6, &rep, &e) < 0,
	    "garbage is a parse error");
	bm_error_clear(&e);
	ok(bm_provider_parse(BM_PROVIDER_OPENAI, "{\"x\":1}", 7, &rep, &e) < 0,
	    "so is JSON without an answer");
	bm_error_clear(&e);

	is_int(bm_provider_classify(401, "", 0, &msg), BM_CLASS_AUTH, "401");
	is(msg, "HTTP 401", "message without a body");
	free(msg);
	is_int(bm_provider_classify(429, NULL, 0, &msg), BM_CLASS_RATE_LIMIT,
	    "429");
	free(msg);
	is_int(bm_provider_classify(503, NULL, 0, &msg), BM_CLASS_SERVER,
	    "503");
	free(msg);
	is_int(bm_provider_classify(404, NULL, 0, &msg), BM_CLASS_BAD_REQUEST,
	    "404");
	free(msg);
	is_int(bm_provider_classify(400, "{\"error\":{\"message\":\"too long\","
	    "\"code\":\"context_length_exceeded\"}}", 65, &msg),
	    BM_CLASS_CONTEXT_LENGTH, "context_length_exceeded");
	is(msg, "HTTP 400: too long", "the server's message");
	free(msg);
	ok(bm_class_retryable(BM_CLASS_SERVER) &&
	    !bm_class_retryable(BM_CLASS_AUTH), "retryable classes");
	is(bm_class_name(BM_CLASS_CONTEXT_LENGTH), "context_length",
	    "class names");

	/* Fed one byte at a time: events split anywhere still parse. */
	bm_sse_init(&s, BM_PROVIDER_OPENAI);
	for (i = 0, firsts = 0; i < sizeof(sse) - 1; i++)
		firsts += bm_sse_feed(&s, sse + i, 1);
	is_int(firsts, 1, "the first token is reported once");
	ok(bm_sse_finish(&s, &rep, &e) == 0, "stream finishes");
	is(rep.output, "Hello", "deltas joined");
	ok(rep.prompt_tokens == 3 && rep.completion_tokens == 2,
	    "usage from the last chunk");
	bm_reply_free(&rep);
	bm_sse_free(&s);
	bm_sse_init(&s, BM_PROVIDER_ANTHROPIC);
	bm_sse_feed(&s, "event: content_block_delta\r\ndata: {\"type\":"
	    "\"content_block_delta\",\"delta\":{\"text\":\"A\"}}\r\n\r\n", 89);
	ok(bm_sse_finish(&s, &rep, &e) == 0 && strcmp(rep.output, "A") == 0,
	    "anthropic events, CRLF");
	bm_reply_free(&rep);
	bm_sse_free(&s);
	bm_sse_init(&s, BM_PROVIDER_OPENAI);
	bm_sse_feed(&s, "garbage", 7);
	ok(bm_sse_finish(&s, &rep, &e) < 0, "no events: an error");
	bm_error_clear(&e);
	bm_sse_free(&s);

	msg = bm_provider_echo(msgs);
	is(msg, "What is 2 + 2?", "echo answers the last user message");
	free(msg);
	is_int(bm_estimate_tokens(msgs, 4), 6, "23 characters: 6 tokens");
	is_int(bm_estimate_tokens(msgs, 2), 12, "chars_per_token counts");
	cJSON_Delete(msgs);
	cJSON_Delete(params);
	done_testing();
}
