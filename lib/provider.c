/* provider.c: request bodies, responses, SSE and error classes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonl.h"
#include "provider.h"
#include "xalloc.h"

static const char *const class_names[] = {
	"", "connection", "timeout", "rate_limit", "server", "auth",
	"bad_request", "context_length", "parse", "exec", "judge",
	"cancelled", "config"
};

const char *
bm_class_name(enum bm_class c)
{
	if ((size_t)c >= sizeof(class_names) / sizeof(class_names[0]))
		return "";
	return class_names[c];
}

int
bm_class_retryable(enum bm_class c)
{
	return c == BM_CLASS_CONNECTION || c == BM_CLASS_TIMEOUT ||
	    c == BM_CLASS_RATE_LIMIT || c == BM_CLASS_SERVER;
}

void
bm_reply_init(struct bm_reply *r)
{
	r->output = NULL;
	r->prompt_tokens = r->completion_tokens = -1;
}

void
bm_reply_free(struct bm_reply *r)
{
	free(r->output);
	bm_reply_init(r);
}

static long
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 ?
	    (long)v->valuedouble : -1;
}

/* Join base and path with exactly one slash between them. */
static char *
join(const char *base, const char *path)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s%s", (int)n, base, path);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	while (n > 0 && s[n - 1] == '/')
		n--;
	return n >= m && strncmp(s + n - m, suffix, m) == 0;
}

/* Copy params into body except the keys in skip (NULL-ended). */
static void
merge(cJSON *body, const cJSON *params, const char *const *skip)
{
	const cJSON *p;
	const char *const *k;

	cJSON_ArrayForEach(p, params) {
		for (k = skip; k && *k; k++)
			if (strcmp(p->string, *k) == 0)
				break;
		if (k && *k)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(body, p->string);
		cJSON_AddItemToObject(body, p->string,
		    cJSON_Duplicate(p, 1));
	}
}

int
bm_provider_request(const struct bm_target *t, const char *key,
    const cJSON *messages, const cJSON *params, int stream,
    struct bm_preq *out, struct bm_error *e)
{
	const struct bm_provider *p = t->provider;
	cJSON *body = cJSON_CreateObject(), *msgs, *m, *opts;
	const cJSON *it, *v;
	const char *base = p->base_url;
	char **h;
	char *s;
	size_t nh = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	h = out->headers = xcalloc(4, sizeof(char *));
	h[nh++] = xstrdup("Content-Type: application/json");
	cJSON_AddStringToObject(body, "model", t->api_model ?
	    t->api_model : "");
	switch (p->type) {
	case BM_PROVIDER_OPENAI:
		if (!base || !*base)
			base = "https://api.openai.com/v1";
		out->url = join(base, "/chat/completions");
		if (key)
			h[nh++] = xasprintf("Authorization: Bearer %s", key);
		cJSON_AddItemToObject(body, "messages",
		    cJSON_Duplicate(messages, 1));
		merge(body, params, NULL);
		if (stream) {
			cJSON_DeleteItemFromObjectCaseSensitive(body, "stream");
			cJSON_AddTrueToObject(body, "stream");
			m = cJSON_AddObjectToObject(body, "stream_options");
			cJSON_AddTrueToObject(m, "include_usage");
		}
		break;
	case BM_PROVIDER_ANTHROPIC:
		if (!base || !*base)
			base = "https://api.anthropic.com";
		out->url = join(base, ends_with(base, "/v1") ? "/messages" :
		    "/v1/messages");
		if (key)
			h[nh++] = xasprintf("x-api-key: %s", key);
		h[nh++] = xstrdup("anthropic-version: 2023-06-01");
		/* The system prompt is a top-level field here. */
		msgs = cJSON_AddArrayToObject(body, "messages");
		cJSON_ArrayForEach(it, messages) {
			const char *role = bm_json_str(it, "role");

			if (role && strcmp(role, "system") == 0) {
				v = cJSON_GetObjectItemCaseSensitive(it,
				    "content");
				if (cJSON_IsString(v))
					cJSON_AddStringToObject(body, "system",
					    v->valuestring);
				continue;
			}
			cJSON_AddItemToArray(msgs, cJSON_Duplicate(it, 1));
		}
		merge(body, params, (const char *const[]){ "stop", NULL });
		v = cJSON_GetObjectItemCaseSensitive(params, "stop");
		if (v)
			cJSON_AddItemToObject(body, "stop_sequences",
			    cJSON_Duplicate(v, 1));
		/* Required by the API. */
		if (!cJSON_GetObjectItemCaseSensitive(body, "max_tokens"))
			cJSON_AddNumberToObject(body, "max_tokens", 1024);
		if (stream) {
			cJSON_DeleteItemFromObjectCaseSensitive(body, "stream");
			cJSON_AddTrueToObject(body, "stream");
		}
		break;
	case BM_PROVIDER_OLLAMA:
		if (!base || !*base)
			base = "http://127.0.0.1:11434";
		out->url = join(base, "/api/chat");
		cJSON_AddItemToObject(body, "messages",
		    cJSON_Duplicate(messages, 1));
		/* Ollama streams unless told otherwise. */
		cJSON_AddFalseToObject(body, "stream");
		opts = cJSON_AddObjectToObject(body, "options");
		cJSON_ArrayForEach(it, params) {
			if (strcmp(it->string, "max_tokens") == 0)
				cJSON_AddItemToObject(opts, "num_predict",
				    cJSON_Duplicate(it, 1));
			else if (strcmp(it->string, "format") == 0)
				cJSON_AddItemToObject(body, "format",
				    cJSON_Duplicate(it, 1));
			else
				cJSON_AddItemToObject(opts, it->string,
				    cJSON_Duplicate(it, 1));
		}
		break;
	default:
		bm_error_set(e, NULL, 0, 0, "provider %s: not an HTTP provider",
		    p->name);
		goto out;
	}
	s = bm_json_print(body);
	if (!s) {
		bm_error_set(e, NULL, 0, 0, "cannot print the request");
		goto out;
	}
	bm_buf_adds(&out->body, s);
	free(s);
	rc = 0;
out:
	cJSON_Delete(body);
	if (rc < 0)
		bm_preq_free(out);
	return rc;
}

void
bm_preq_free(struct bm_preq *r)
{
	char **h;

	free(r->url);
	for (h = r->headers; h && *h; h++) {
		/* Do not leave a key lying in freed memory. */
		memset(*h, 0, strlen(*h));
		free(*h);
	}
	free(r->headers);
	bm_buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

/* Text of a content value: a string or a list of {type:text,text} parts. */
static void
content_text(const cJSON *c, struct bm_buf *b)
{
	const cJSON *part;
	const char *t;

	if (cJSON_IsString(c)) {
		bm_buf_adds(b, c->valuestring);
		return;
	}
	cJSON_ArrayForEach(part, c) {
		t = bm_json_str(part, "text");
		if (t)
			bm_buf_adds(b, t);
	}
}

/* Why an answer holding NUL is refused (C strings would cut it short). */
static const char nul_msg[] = "the answer holds a NUL character (\\u0000),"
    " which cannot be kept";

int
bm_provider_parse(enum bm_provider_type type, const char *body,
    size_t len, struct bm_reply *r, struct bm_error *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *c, *u;
	struct bm_buf b = BM_BUF_INIT;
	int rc = -1;

	bm_reply_init(r);
	if (bm_json_nul(body, len)) {
		bm_error_set(e, NULL, 0, 0, "%s", nul_msg);
		goto out;
	}
	if (!cJSON_IsObject(j)) {
		bm_error_set(e, NULL, 0, 0, "response is not a JSON object");
		goto out;
	}
	switch (type) {
	case BM_PROVIDER_OPENAI:
		c = cJSON_GetArrayItem(
		    cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
		c = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(c, "message"), "content");
		if (!cJSON_IsString(c) && !cJSON_IsArray(c) &&
		    !cJSON_IsNull(c)) {
			bm_error_set(e, NULL, 0, 0,
			    "response has no choices[0].message.content");
			goto out;
		}
		content_text(c, &b);
		u = cJSON_GetObjectItemCaseSensitive(j, "usage");
		r->prompt_tokens = num(u, "prompt_tokens");
		r->completion_tokens = num(u, "completion_tokens");
		break;
	case BM_PROVIDER_ANTHROPIC:
		c = cJSON_GetObjectItemCaseSensitive(j, "content");
		if (!cJSON_IsArray(c)) {
			bm_error_set(e, NULL, 0, 0, "response has no content");
			goto out;
		}
		content_text(c, &b);
		u = cJSON_GetObjectItemCaseSensitive(j, "usage");
		r->prompt_tokens = num(u, "input_tokens");
		r->completion_tokens = num(u, "output_tokens");
		break;
	case BM_PROVIDER_OLLAMA:
		c = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(j, "message"), "content");
		if (!cJSON_IsString(c)) {
			bm_error_set(e, NULL, 0, 0,
			    "response has no message.content");
			goto out;
		}
		bm_buf_adds(&b, c->valuestring);
		r->prompt_tokens = num(j, "prompt_eval_count");
		r->completion_tokens = num(j, "eval_count");
		break;
	default:
		bm_error_set(e, NULL, 0, 0, "not an HTTP provider");
		goto out;
	}
	r->output = bm_buf_detach(&b, NULL);
	rc = 0;
out:
	bm_buf_free(&b);
	cJSON_Delete(j);
	return rc;
}

/* The server's message and code from {"error": {...}} or {"error": "..."}. */
static void
error_of(const cJSON *j, const char **msg, const char **code)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");

	*msg = *code = NULL;
	if (cJSON_IsString(err)) {
		*msg = err->valuestring;
	} else if (cJSON_IsObject(err)) {
		*msg = bm_json_str(err, "message");
		*code = bm_json_str(err, "code");
		if (!*code)
			*code = bm_json_str(err, "type");
	}
}

enum bm_class
bm_provider_classify(long status, const char *body, size_t len, char **msg)
{
	cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const char *m = NULL, *code = NULL;
	enum bm_class c;

	error_of(j, &m, &code);
	if (status == 401 || status == 403)
		c = BM_CLASS_AUTH;
	else if (status == 429)
		c = BM_CLASS_RATE_LIMIT;
	else if (status == 408)
		c = BM_CLASS_TIMEOUT;
	else if (status >= 500)
		c = BM_CLASS_SERVER;
	else if (status >= 400)
		c = BM_CLASS_BAD_REQUEST;
	else
		c = BM_CLASS_PARSE;
	if ((code && strcmp(code, "context_length_exceeded") == 0) ||
	    (m && (strstr(m, "prompt is too long") ||
	    strstr(m, "maximum context length"))))
		c = BM_CLASS_CONTEXT_LENGTH;
	if (m && *m)
		*msg = xasprintf("HTTP %ld: %s", status, m);
	else
		*msg = xasprintf("HTTP %ld", status);
	cJSON_Delete(j);
	return c;
}

void
bm_sse_init(struct bm_sse *s, enum bm_provider_type type)
{
	memset(s, 0, sizeof(*s));
	s->type = type;
	bm_reply_init(&s->reply);
}

/* One complete event's data; returns 1 when it carried content. */
static int
event(struct bm_sse *s)
{
	const char *d = bm_buf_str(&s->data), *t, *m, *code;
	const cJSON *c, *u;
	cJSON *j;
	int got = 0;
	long n;

	if (strcmp(d, "[DONE]") == 0) {
		s->done = 1;
		return 0;
	}
	if (bm_json_nul(d, strlen(d)))
		s->nul = 1;
	j = cJSON_Parse(d);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return 0;
	}
	error_of(j, &m, &code);
	if (m && !s->error)
		s->error = xstrdup(m);
	if (s->type == BM_PROVIDER_ANTHROPIC) {
		t = bm_json_str(j, "type");
		if (t && strcmp(t, "content_block_delta") == 0) {
			u = cJSON_GetObjectItemCaseSensitive(j, "delta");
			t = bm_json_str(u, "text");
			if (t && *t) {
				bm_buf_adds(&s->out, t);
				got = 1;
			}
		} else if (t && strcmp(t, "message_start") == 0) {
			u = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(j, "message"),
			    "usage");
			s->reply.prompt_tokens = num(u, "input_tokens");
		} else if (t && strcmp(t, "message_delta") == 0) {
			u = cJSON_GetObjectItemCaseSensitive(j, "usage");
			n = num(u, "output_tokens");
			if (n >= 0)
				s->reply.completion_tokens = n;
		} else if (t && strcmp(t, "message_stop") == 0) {
			s->done = 1;
		}
	} else {
		c = cJSON_GetArrayItem(
		    cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
		t = bm_json_str(cJSON_GetObjectItemCaseSensitive(c, "delta"),
		    "content");
		if (t && *t) {
			bm_buf_adds(&s->out, t);
			got = 1;
		}
		u = cJSON_GetObjectItemCaseSensitive(j, "usage");
		if (cJSON_IsObject(u)) {
			s->reply.prompt_tokens = num(u, "prompt_tokens");
			s->reply.completion_tokens = num(u,
			    "completion_tokens");
		}
	}
	cJSON_Delete(j);
	return got;
}

static int
line(struct bm_sse *s)
{
	const char *l = bm_buf_str(&s->line);
	int got = 0;

	if (*l == '\0') {
		/* A blank line ends the event. */
		if (s->data.len > 0)
			got = event(s);
		bm_buf_reset(&s->data);
	} else if (strncmp(l, "data:", 5) == 0) {
		l += 5;
		if (*l == ' ')
			l++;
		if (s->data.len > 0)
			bm_buf_addc(&s->data, '\n');
		bm_buf_adds(&s->data, l);
	}
	/* event:, id:, retry: and comments carry nothing we need. */
	bm_buf_reset(&s->line);
	return got;
}

int
bm_sse_feed(struct bm_sse *s, const char *p, size_t n)
{
	int first = 0, got;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			continue;
		if (p[i] != '\n') {
			bm_buf_addc(&s->line, p[i]);
			continue;
		}
		got = line(s);
		if (got && s->tokens++ == 0)
			first = 1;
	}
	return first;
}

int
bm_sse_finish(struct bm_sse *s, struct bm_reply *r, struct bm_error *e)
{
	/* A last event without its blank line still counts. */
	if (s->line.len > 0)
		line(s);
	if (s->data.len > 0) {
		event(s);
		bm_buf_reset(&s->data);
	}
	bm_reply_init(r);
	if (s->error) {
		bm_error_set(e, NULL, 0, 0, "stream error: %s", s->error);
		return -1;
	}
	if (s->nul) {
		bm_error_set(e, NULL, 0, 0, "%s", nul_msg);
		return -1;
	}
	if (s->tokens == 0 && !s->done) {
		bm_error_set(e, NULL, 0, 0, "no events in the stream");
		return -1;
	}
	*r = s->reply;
	r->output = bm_buf_detach(&s->out, NULL);
	bm_reply_init(&s->reply);
	return 0;
}

void
bm_sse_free(struct bm_sse *s)
{
	bm_buf_free(&s->line);
	bm_buf_free(&s->data);
	bm_buf_free(&s->out);
	bm_reply_free(&s->reply);
	free(s->error);
}

char *
bm_provider_echo(const cJSON *messages)
{
	const cJSON *m, *last = NULL;
	struct bm_buf b = BM_BUF_INIT;
	const char *role;

	cJSON_ArrayForEach(m, messages) {
		role = bm_json_str(m, "role");
		if (role && strcmp(role, "user") == 0)
			last = m;
	}
	if (last)
		content_text(cJSON_GetObjectItemCaseSensitive(last, "content"),
		    &b);
	return bm_buf_detach(&b, NULL);
}

long
bm_estimate_tokens(const cJSON *messages, double chars_per_token)
{
	struct bm_buf b = BM_BUF_INIT;
	const cJSON *m;
	double n;

	if (chars_per_token <= 0)
		chars_per_token = 4;
	cJSON_ArrayForEach(m, messages)
		content_text(cJSON_GetObjectItemCaseSensitive(m, "content"),
		    &b);
	n = (double)b.len / chars_per_token;
	bm_buf_free(&b);
	/* Round up: a partial token is still a token. */
	return (long)n + ((double)(long)n < n);
}

int
bm_json_nul(const char *p, size_t n)
{
	size_t i, k;

	if (memchr(p, '\0', n))
		return 1;
	for (i = 0; i + 6 <= n; i++) {
		if (p[i] != '\\' || p[i + 1] != 'u' || p[i + 2] != '0' ||
		    p[i + 3] != '0' || p[i + 4] != '0' || p[i + 5] != '0')
			continue;
		/* An escape when an even number of backslashes precede. */
		for (k = 0; k < i && p[i - k - 1] == '\\'; k++)
			;
		if (k % 2 == 0)
			return 1;
	}
	return 0;
}

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

int
bm_utf8_fix(char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	struct bm_buf b = BM_BUF_INIT;
	size_t n, k, i = 0;
	int fixed = 0;

	if (!p)
		return 0;
	n = strlen(*s);
	while (i < n) {
		k = utf8_len(p + i, n - i);
		if (k > 0) {
			bm_buf_add(&b, p + i, k);
			i += k;
		} else {
			bm_buf_adds(&b, "\xef\xbf\xbd");	/* U+FFFD */
			i++;
			fixed = 1;
		}
	}
	if (fixed) {
		free(*s);
		*s = bm_buf_detach(&b, NULL);
	} else {
		bm_buf_free(&b);
	}
	return fixed;
}
