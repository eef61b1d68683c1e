/*
 * push.h: the targets of bm-push (DESIGN.md §8).  A target takes the
 * records bm_outbox_next reads for it, upserts them on their natural
 * keys, and confirms each batch with bm_outbox_done only after the
 * remote committed it; transient faults are retried with exponential
 * backoff and full jitter (or the server's Retry-After).
 */
#ifndef BM_PUSH_H
#define BM_PUSH_H

#include "buf.h"
#include "db.h"
#include "err.h"
#include "outbox.h"

struct bm_pg;
struct bm_http;
struct bm_map;

enum bm_push_type { BM_PUSH_PG, BM_PUSH_REST, BM_PUSH_SQLITE };

/* Records sent and rows written to one table, for the summary. */
struct bm_push_count {
	long long sent, written;
	int known;		/* written is known (not PostgREST) */
};

/* Where records go, how, and the connection to it. */
struct bm_push {
	enum bm_push_type type;
	const char *url;	/* as given (may hold a password) */
	char *name;		/* url without a password: outbox, messages */
	char *base;		/* PostgREST: .../rest/v1; sqlite: the path */
	const char *key;	/* PostgREST key, from the environment */
	long batch;		/* rows per batch; 0: 5000 (PostgREST 1000) */
	long retries;		/* retries of a batch (default 3) */
	double backoff_ms;	/* first retry delay (default 500) */
	/* Called for each snapshot the remote numbered, or NULL. */
	void (*on_snapshot)(void *arg, const char *record, long version);
	void *arg;
	/* Per kind, in bm_outbox_kinds order. */
	struct bm_push_count counts[8];
	/* Private. */
	struct bm_pg *pg;
	struct bm_map *pg_runs;	/* run id: has the remote results of it */
	struct bm_http *http;
	int sqlite_attached, rest_checked;
	long rest_per;		/* PostgREST rows per request (413 halves) */
	struct bm_buf rest_json;	/* a batch's records, kept for reuse */
	size_t *rest_end;	/* where each ends */
	long rest_n, rest_cap;
};

/*
 * Set t up for url (postgresql://, postgres://, http(s)://.../rest/v1 or
 * a Supabase project URL, sqlite:PATH); connects later.  0, or -1 with
 * e naming the URL without its password.  Free with bm_push_close.
 */
int bm_push_open(struct bm_push *t, const char *url, struct bm_error *e);
/* Close the connections and free what t holds. */
void bm_push_close(struct bm_push *t);
/*
 * Send everything queued for t->name, failed batches first, counting
 * into t->counts.  0, or -1 with e when a batch failed for good (its
 * attempt is counted in the outbox and the rest waits there).
 */
int bm_push_drain(struct bm_push *t, struct bm_db *db, struct bm_error *e);

#endif
