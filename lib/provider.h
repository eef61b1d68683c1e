/*
 * provider.h: what each provider type sends and answers (DESIGN.md §5):
 * request bodies for openai (chat completions), anthropic (messages) and
 * ollama (native /api/chat), their responses and server-sent events, the
 * echo provider, and the error classes of DESIGN.md §4 from an HTTP status
 * and body.  No I/O here: http.h moves the bytes.
 */
#ifndef BM_PROVIDER_H
#define BM_PROVIDER_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "config.h"
#include "err.h"

/* The error classes of a result (DESIGN.md §4). */
enum bm_class {
	BM_CLASS_NONE,
	BM_CLASS_CONNECTION,
	BM_CLASS_TIMEOUT,
	BM_CLASS_RATE_LIMIT,
	BM_CLASS_SERVER,
	BM_CLASS_AUTH,
	BM_CLASS_BAD_REQUEST,
	BM_CLASS_CONTEXT_LENGTH,
	BM_CLASS_PARSE,
	BM_CLASS_EXEC,
	BM_CLASS_JUDGE,
	BM_CLASS_CANCELLED,
	BM_CLASS_CONFIG
};

/* The class as records spell it ("rate_limit"). */
const char *bm_class_name(enum bm_class c);
/* Non-zero for connection, timeout, rate_limit and server: worth a retry. */
int bm_class_retryable(enum bm_class c);

/* A request ready for http.h. */
struct bm_preq {
	char *url;
	char **headers;		/* NULL-terminated; may hold the API key */
	struct bm_buf body;
};

/*
 * Build the request for target t: messages is the conversation
 * [{role, content}...], params the merged request parameters (may be
 * NULL), key the API key (may be NULL), stream non-zero for SSE.
 * 0, or -1 with e.
 */
int bm_provider_request(const struct bm_target *t, const char *key,
    const cJSON *messages, const cJSON *params, int stream,
    struct bm_preq *out, struct bm_error *e);
/* Free a request (wiping the headers, which may hold a key). */
void bm_preq_free(struct bm_preq *r);

/* An answer. */
struct bm_reply {
	char *output;		/* the answer text */
	long prompt_tokens;	/* -1 when the server did not say */
	long completion_tokens;
};

/* Set r to no answer, unknown usage. */
void bm_reply_init(struct bm_reply *r);
/* Free r's text. */
void bm_reply_free(struct bm_reply *r);

/*
 * Parse a complete (non-streamed) response body of provider type type.
 * 0, or -1 with e ("expected JSON", "no choices[0].message.content").
 */
int bm_provider_parse(enum bm_provider_type type, const char *body,
    size_t len, struct bm_reply *r, struct bm_error *e);

/*
 * Classify a response that is not a usable answer: HTTP status and body
 * to a class, and *msg (caller frees) the server's own message where it
 * gave one, else "HTTP N".  OpenAI's context_length_exceeded and
 * Anthropic's "prompt is too long" are context_length.
 */
enum bm_class bm_provider_classify(long status, const char *body,
    size_t len, char **msg);

/* Server-sent events, fed as bytes arrive. */
struct bm_sse {
	enum bm_provider_type type;
	struct bm_buf line;	/* the line being read */
	struct bm_buf data;	/* data: lines of the current event */
	struct bm_reply reply;	/* the answer so far */
	struct bm_buf out;
	int tokens;		/* content deltas seen */
	int done;		/* [DONE] or message_stop seen */
	char *error;		/* an error event's message */
	int nul;		/* an event's JSON held \u0000 */
};

/* Start reading a stream of provider type type. */
void bm_sse_init(struct bm_sse *s, enum bm_provider_type type);
/* Feed bytes; returns 1 when the first content token was in them. */
int bm_sse_feed(struct bm_sse *s, const char *p, size_t n);
/*
 * The stream is over: 0 and the answer moved into r, or -1 with e when
 * no usable answer came (no events, an error event).
 */
int bm_sse_finish(struct bm_sse *s, struct bm_reply *r, struct bm_error *e);
/* Free the reader. */
void bm_sse_free(struct bm_sse *s);

/* The echo provider: the last user message's text ("" when none). */
char *bm_provider_echo(const cJSON *messages);

/* Estimated tokens of messages at chars_per_token (4 when <= 0). */
long bm_estimate_tokens(const cJSON *messages, double chars_per_token);

/*
 * Does the JSON text of n bytes hold a NUL: a raw byte, or \u0000 (which
 * a C string would cut short)?
 */
int bm_json_nul(const char *p, size_t n);
/*
 * Make *s (malloc'd, may be replaced) valid UTF-8: each byte that is not
 * part of a valid sequence becomes U+FFFD.  1 when anything changed.
 */
int bm_utf8_fix(char **s);

#endif
