/* commitq.c: results held for one transaction, a busy file tried again. */
#include <stdlib.h>
#include <string.h>

#include "commitq.h"
#include "xalloc.h"

/* How long a busy file waits before it is tried again (ms). */
#define RETRY_MS	50

/* A result (json) or a --cache answer (key) waiting for its commit. */
struct held {
	char *json;
	cJSON *res;
	char *key, *output;
	long pt, ct;
};

struct bm_commitq {
	struct bm_runs *runs;
	char *db_path;
	int busy_ms;
	struct held *h;
	size_t n, cap;
	double busy_since, next_try;	/* ms: the file was found busy */
};

struct bm_commitq *
bm_commitq_new(struct bm_runs *r, const char *db_path, int busy_ms)
{
	struct bm_commitq *q = xcalloc(1, sizeof(*q));

	q->runs = r;
	q->db_path = db_path ? xstrdup(db_path) : NULL;
	q->busy_ms = busy_ms;
	return q;
}

/* Free what q holds, handing each result's line to fn first (if any). */
static void
empty(struct bm_commitq *q, void (*fn)(void *, const char *, size_t),
    void *arg)
{
	struct held *h;
	size_t i;

	for (i = 0; i < q->n; i++) {
		h = &q->h[i];
		if (h->json && fn)
			fn(arg, h->json, strlen(h->json));
		free(h->json);
		cJSON_Delete(h->res);
		free(h->key);
		free(h->output);
	}
	q->n = 0;
}

void
bm_commitq_free(struct bm_commitq *q)
{
	if (!q)
		return;
	empty(q, NULL, NULL);
	free(q->h);
	free(q->db_path);
	free(q);
}

static struct held *
add(struct bm_commitq *q)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->h = xreallocarray(q->h, q->cap, sizeof(*q->h));
	}
	return memset(&q->h[q->n++], 0, sizeof(*q->h));
}

void
bm_commitq_result(struct bm_commitq *q, cJSON *res, char *json)
{
	struct held *h = add(q);

	h->json = json;
	h->res = res;
}

void
bm_commitq_cache(struct bm_commitq *q, const char *key, const char *output,
    long prompt_tokens, long completion_tokens)
{
	struct held *h = add(q);

	h->key = xstrdup(key);
	h->output = xstrdup(output ? output : "");
	h->pt = prompt_tokens;
	h->ct = completion_tokens;
}

size_t
bm_commitq_len(const struct bm_commitq *q)
{
	return q ? q->n : 0;
}

int
bm_commitq_commit(struct bm_commitq *q, double now, long *n,
    struct bm_error *e)
{
	struct held *h;
	size_t i;
	int rc;

	*n = 0;
	if (!q->runs || q->n == 0)
		return 1;
	rc = bm_runs_try_begin(q->runs, e);
	for (i = 0; rc == 1 && i < q->n; i++) {
		h = &q->h[i];
		*n += h->json != NULL;
		if (h->json ? bm_runs_add(q->runs, h->res, h->json, e) < 0 :
		    bm_runs_cache_put(q->runs, h->key, h->output, h->pt, h->ct,
		    e) < 0)
			rc = -1;
	}
	if (rc == 1)
		rc = bm_runs_try_commit(q->runs, e);
	if (rc == 0) {
		bm_error_clear(e);
		if (q->busy_since == 0)
			q->busy_since = now;
		if (now - q->busy_since < q->busy_ms) {
			q->next_try = now + RETRY_MS;
			return 0;
		}
		bm_error_set(e, q->db_path, 0, 0, "database is locked (tried"
		    " for %g s)", q->busy_ms / 1000.0);
		rc = -1;
	}
	if (rc < 0) {
		bm_runs_rollback(q->runs);
		*n = 0;
		return -1;
	}
	q->busy_since = 0;
	return 1;
}

double
bm_commitq_next_try(const struct bm_commitq *q)
{
	return q ? q->next_try : 0;
}

void
bm_commitq_take(struct bm_commitq *q,
    void (*fn)(void *arg, const char *line, size_t len), void *arg)
{
	if (q)
		empty(q, fn, arg);
}
