/*
 * push.c: the targets of bm-push (push.h): PostgreSQL through lib/pg
 * (COPY into a temporary table, then an upsert of the rows that are new
 * or changed), PostgREST/Supabase through lib/http (JSON arrays with
 * resolution=merge-duplicates) and another bm database (ATTACHed, one
 * upsert per batch in the local transaction that confirms it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "buf.h"
#include "cli.h"
#include "http.h"
#include "jsonl.h"
#include "map.h"
#include "pg.h"
#include "push.h"
#include "xalloc.h"

/* A failed send: retry it (connection, 5xx, 429) or give up at once. */
struct push_fault {
	int retry;
	double wait_ms;		/* the server's Retry-After, or 0 */
};

int
bm_push_open(struct bm_push *t, const char *url, struct bm_error *e)
{
	size_t n;
	const char *host, *path;

	memset(t, 0, sizeof(*t));
	t->url = url;
	t->name = bm_outbox_target(url);
	t->retries = 3;
	t->backoff_ms = 500;
	if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0) {
		t->type = BM_PUSH_PG;
		return 0;
	}
	if (strncmp(url, "sqlite:", 7) == 0 && url[7]) {
		t->type = BM_PUSH_SQLITE;
		t->base = xstrdup(url + 7);
		return 0;
	}
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		bm_error_set(e, NULL, 0, 0, "%s: not a postgresql://,"
		    " http(s):// or sqlite: URL", t->name);
		return -1;
	}
	t->type = BM_PUSH_REST;
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	host = strstr(url, "//") + 2;
	path = host + strcspn(host, "/?#");
	if (n >= 8 && strncmp(url + n - 8, "/rest/v1", 8) == 0)
		t->base = xstrndup(url, n);
	else if ((size_t)(path - url) >= n && path - host > 12 &&
	    strncmp(path - 12, ".supabase.co", 12) == 0)
		t->base = xasprintf("%.*s/rest/v1", (int)n, url);
	else {
		bm_error_set(e, NULL, 0, 0, "%s: not a PostgREST base"
		    " (.../rest/v1) or a Supabase project URL", t->name);
		return -1;
	}
	return 0;
}

void
bm_push_close(struct bm_push *t)
{
	bm_pg_close(t->pg);
	if (t->http)
		bm_http_free(t->http);
	free(t->name);
	free(t->base);
	bm_buf_free(&t->rest_json);
	bm_map_free(t->pg_runs, NULL);
	t->pg_runs = NULL;
	free(t->rest_end);
	t->rest_end = NULL;
	t->pg = NULL;
	t->http = NULL;
	t->name = t->base = NULL;
}

/* ---- PostgreSQL ---------------------------------------------------- */

/* Append "p.c1, p.c2, ..." for the comma-separated cols. */
static void
cols_with(struct bm_buf *b, const char *prefix, const char *cols,
    const char *sep)
{
	const char *p = cols;
	size_t n;

	while (*p) {
		n = strcspn(p, ",");
		if (p != cols)
			bm_buf_adds(b, sep);
		bm_buf_addf(b, "%s%.*s", prefix, (int)n, p);
		p += n + (p[n] == ',');
	}
}

/*
 * The upsert of one kind from the batch's temporary table: rows that are
 * new or differ in any column, nothing else (a re-push writes no row).
 * Built from the kinds table's constant names, never from input.
 */
static char *
pg_upsert_sql(const struct bm_outbox_kind *k)
{
	struct bm_buf b = BM_BUF_INIT;
	const char *p;
	size_t n;

	bm_buf_addf(&b, "INSERT INTO %s (%s) SELECT ", k->table, k->cols);
	cols_with(&b, "n.", k->cols, ", ");
	bm_buf_addf(&b, " FROM bm_push_%s n WHERE NOT EXISTS (SELECT 1"
	    " FROM %s o WHERE ", k->table, k->table);
	for (p = k->keys; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%so.%.*s = n.%.*s", p == k->keys ? "" :
		    " AND ", (int)n, p, (int)n, p);
	}
	bm_buf_adds(&b, " AND (");
	cols_with(&b, "o.", k->cols, ", ");
	bm_buf_adds(&b, ") IS NOT DISTINCT FROM (");
	cols_with(&b, "n.", k->cols, ", ");
	bm_buf_addf(&b, ")) ON CONFLICT (%s) DO UPDATE SET ", k->keys);
	p = k->cols + strlen(k->keys) + 1;	/* the non-key columns */
	while (*p) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%s%.*s = excluded.%.*s", p == k->cols +
		    strlen(k->keys) + 1 ? "" : ", ", (int)n, p, (int)n, p);
		p += n + (p[n] == ',');
	}
	return bm_buf_detach(&b, NULL);
}

/* SQLSTATEs worth a retry: connection, resources, shutdown, conflicts. */
static int
pg_transient(const char *st)
{
	return strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	    strncmp(st, "57P", 3) == 0 || strncmp(st, "40", 2) == 0;
}

/* A batch is copied into a temporary table shaped like its table. */
static int
pg_temp_tables(struct bm_push *t, struct bm_error *e)
{
	const struct bm_outbox_kind *k;
	char *sql;
	int rc = 0;

	for (k = bm_outbox_kinds; k->kind && rc == 0; k++) {
		if (!k->local || bm_outbox_shown(k) != k)
			continue;
		sql = xasprintf("CREATE TEMP TABLE IF NOT EXISTS bm_push_%s"
		    " (LIKE %s) ON COMMIT DELETE ROWS", k->table, k->table);
		rc = bm_pg_exec(t->pg, sql, 0, NULL, NULL, NULL, e);
		free(sql);
	}
	return rc;
}

/* Connect and check the schema version; -1 with e and f. */
static int
pg_open(struct bm_push *t, struct push_fault *f, struct bm_error *e)
{
	char *v = NULL;
	int rc;

	if (t->pg && !bm_pg_broken(t->pg))
		return 0;
	bm_pg_close(t->pg);
	t->pg = bm_pg_connect(t->url, e);
	if (!t->pg) {
		f->retry = bm_pg_available();
		return -1;
	}
	rc = bm_pg_exec(t->pg, "SELECT bm_schema_version()", 0, NULL, NULL,
	    &v, e);
	if (rc < 0 && strcmp(bm_pg_sqlstate(t->pg), "42883") == 0)
		bm_error_set(e, NULL, 0, 0, "no bm schema there: run psql"
		    " URL -f scripts/remote-schema.sql");
	else if (rc == 0 && (!v || strtol(v, NULL, 10) < 1))
		bm_error_set(e, NULL, 0, 0, "bm schema version %s, 1 needed:"
		    " run psql URL -f scripts/remote-schema.sql", v ? v : "?");
	else if (rc == 0)
		rc = pg_temp_tables(t, e);
	if (rc == 0 && v && strtol(v, NULL, 10) >= 1) {
		free(v);
		return 0;
	}
	f->retry = rc < 0 && (bm_pg_broken(t->pg) ||
	    pg_transient(bm_pg_sqlstate(t->pg)));
	free(v);
	bm_pg_close(t->pg);
	t->pg = NULL;
	return -1;
}

/*
 * Append s as a column of COPY text format: backslashes doubled, line
 * breaks and tabs escaped; mostly this copies spans.
 */
static void
copy_text(struct bm_buf *b, const char *s)
{
	size_t n;

	for (;;) {
		n = strcspn(s, "\\\n\r\t");
		bm_buf_add(b, s, n);
		s += n;
		if (!*s)
			break;
		bm_buf_addc(b, '\\');
		bm_buf_addc(b, *s == '\n' ? 'n' : *s == '\r' ? 'r' :
		    *s == '\t' ? 't' : '\\');
		s++;
	}
}

/* COPY data on its way: sent in pieces as the outbox is read. */
struct copy_out {
	struct bm_pg *pg;
	struct bm_buf buf;
	struct bm_error *e;
	int failed;		/* a piece failed: e says why */
};

/* Send what cp holds (a no-op after a failure). */
static void
copy_flush(struct copy_out *cp)
{
	if (!cp->failed && cp->buf.len > 0 &&
	    bm_pg_copy_put(cp->pg, cp->buf.s, cp->buf.len, cp->e) < 0)
		cp->failed = 1;
	bm_buf_reset(&cp->buf);
}

/* bm_outbox_rows' callback: one COPY line (NULL is \N). */
static void
copy_row(void *arg, int ncols, const char *const *vals)
{
	struct copy_out *cp = arg;
	struct bm_buf *b = &cp->buf;
	int i;

	for (i = 0; i < ncols; i++) {
		if (i > 0)
			bm_buf_addc(b, '\t');
		if (vals[i])
			copy_text(b, vals[i]);
		else
			bm_buf_add(b, "\\N", 2);
	}
	bm_buf_addc(b, '\n');
	if (b->len >= 256 * 1024)
		copy_flush(cp);
}

/*
 * After a failure inside a transaction: is it worth a retry (f), and
 * the COPY (when copying) and the transaction ended.
 */
static void
pg_abort(struct bm_push *t, int copying, int local, struct push_fault *f)
{
	struct bm_error ignored = BM_ERROR_INIT;

	f->retry = !local && (bm_pg_broken(t->pg) ||
	    pg_transient(bm_pg_sqlstate(t->pg)));
	if (bm_pg_broken(t->pg))
		return;
	/* Inside a COPY, end it first (its rows are rolled back). */
	if (copying && bm_pg_copy_end(t->pg, NULL, &ignored) < 0)
		bm_error_clear(&ignored);
	bm_pg_exec(t->pg, "ROLLBACK", 0, NULL, NULL, NULL, &ignored);
	bm_error_clear(&ignored);
}

/*
 * COPY b's rows with sql (COPY ... FROM STDIN), inside the caller's
 * transaction.  The data streams from the outbox query in pieces of
 * 256 kB, so the server parses one while the next is read.  0 and *rows,
 * or -1 with e, *copying (the COPY is still open) and *local (reading
 * the outbox failed).
 */
static int
pg_copy(struct bm_push *t, struct bm_db *db, const struct bm_outbox_batch *b,
    const char *sql, long long *rows, int *copying, int *local,
    struct bm_error *e)
{
	struct copy_out cp = { NULL, BM_BUF_INIT, NULL, 0 };
	int rc = -1;

	cp.pg = t->pg;
	cp.e = e;
	*copying = *local = 0;
	if (bm_pg_copy_begin(t->pg, sql, e) < 0)
		return -1;
	*copying = 1;
	if (bm_outbox_rows(db, t->name, b, 0, copy_row, &cp, e) < 0) {
		*local = 1;
		goto out;
	}
	copy_flush(&cp);
	if (cp.failed)
		goto out;
	*copying = 0;
	rc = bm_pg_copy_end(t->pg, rows, e);
out:
	bm_buf_free(&cp.buf);
	return rc;
}

/* The values of t->pg_runs: a run's rows were on the remote or not. */
static char run_new, run_old;

/*
 * Had the remote no result of any run of b when this push first looked
 * (so that only this push has written that run's results since)?  One
 * query per run and push.  1, 0, or -1 with e.
 */
static int
pg_runs_new(struct bm_push *t, const struct bm_outbox_batch *b,
    struct bm_error *e)
{
	const char *arg[1];
	long long rows;
	void *v;
	long i;

	if (!t->pg_runs)
		t->pg_runs = bm_map_new();
	for (i = 0; i < b->n; i++) {
		if (!b->runs[i])
			return 0;
		if (i > 0 && b->runs[i - 1] &&
		    strcmp(b->runs[i - 1], b->runs[i]) == 0)
			continue;
		v = bm_map_get(t->pg_runs, b->runs[i]);
		if (v == &run_old)
			return 0;
		if (v == &run_new)
			continue;
		arg[0] = b->runs[i];
		if (bm_pg_exec(t->pg, "SELECT 1 FROM bm_results"
		    " WHERE run_id = $1 LIMIT 1", 1, arg, &rows, NULL, e) < 0)
			return -1;
		bm_map_put(t->pg_runs, b->runs[i], rows > 0 ? &run_old :
		    &run_new);
		if (rows > 0)
			return 0;
	}
	return 1;
}

/* From now on, b's runs go through the upsert. */
static void
pg_runs_old(struct bm_push *t, const struct bm_outbox_batch *b)
{
	long i;

	for (i = 0; i < b->n; i++)
		if (b->runs[i])
			bm_map_put(t->pg_runs, b->runs[i], &run_old);
}

/*
 * A batch of results of runs the remote had none of: COPY straight into
 * bm_results, as psql's \copy would, with no temporary table and no
 * lookup of every row.  A row there all the same (another bm-push of the
 * run at the same time, or a retry of a batch whose commit was lost)
 * fails the COPY with a unique violation: it is rolled back and the
 * batch, and the rest of its runs, go through the upsert (so does any
 * other error the server gave).  0 sent, 1 for the upsert, or -1 with e
 * and f (the connection is gone, or reading the outbox failed).
 */
static int
pg_send_new(struct bm_push *t, struct bm_db *db,
    const struct bm_outbox_batch *b, long long *written, struct push_fault *f,
    struct bm_error *e)
{
	char *sql;
	int r, copying = 0, local = 0;

	if ((r = pg_runs_new(t, b, e)) <= 0) {
		if (r < 0)
			pg_abort(t, 0, 0, f);
		return r < 0 ? -1 : 1;
	}
	sql = xasprintf("COPY %s (%s) FROM STDIN", b->kind->table,
	    b->kind->cols);
	if (bm_pg_exec(t->pg, "BEGIN", 0, NULL, NULL, NULL, e) < 0 ||
	    pg_copy(t, db, b, sql, written, &copying, &local, e) < 0 ||
	    bm_pg_exec(t->pg, "COMMIT", 0, NULL, NULL, NULL, e) < 0) {
		free(sql);
		pg_abort(t, copying, local, f);
		r = !local && !bm_pg_broken(t->pg);
		pg_runs_old(t, b);
		if (r) {
			bm_debugf(1, "%s: %s: %s; the batch goes through the"
			    " upsert", t->name, b->kind->table, e->msg);
			bm_error_clear(e);
			return 1;
		}
		return -1;
	}
	free(sql);
	bm_debugf(2, "%s: %s: %lld rows copied (new runs)", t->name,
	    b->kind->table, *written);
	return 0;
}

/* Send b in one transaction; 0 and *written, or -1 with e and f. */
static int
pg_send(struct bm_push *t, struct bm_db *db, const struct bm_outbox_batch *b,
    long long *written, long *snapver, struct push_fault *f, struct bm_error *e)
{
	char *sql, *v;
	long i;
	int r, copying = 0, local = 0;

	if (pg_open(t, f, e) < 0)
		return -1;
	*written = 0;
	if (strcmp(b->kind->kind, "snapshot") == 0) {
		/* The function is its own transaction and idempotent. */
		for (i = 0; i < b->n; i++) {
			const char *arg[1] = { b->records[i] };

			if (bm_pg_exec(t->pg, "SELECT bm_snapshot($1::jsonb)",
			    1, arg, NULL, &v, e) < 0) {
				pg_abort(t, 0, 0, f);
				return -1;
			}
			*snapver = v ? strtol(v, NULL, 10) : 0;
			*written += 1;
			free(v);
		}
		return 0;
	}
	if (strcmp(bm_outbox_shown(b->kind)->kind, "result") == 0 &&
	    (r = pg_send_new(t, db, b, written, f, e)) <= 0)
		return r;
	/*
	 * Into the temporary table, then the upsert of the rows that are
	 * new or changed.  A batch's rows are looked up by primary key, one
	 * by one: without statistics on the temporary table the planner
	 * would hash the whole remote table for every batch (and, pricing
	 * that, spend a second compiling it with JIT).  A local error ends
	 * the COPY and rolls the transaction back.
	 */
	sql = xasprintf("COPY bm_push_%s (%s) FROM STDIN", b->kind->table,
	    b->kind->cols);
	if (bm_pg_exec(t->pg, "BEGIN", 0, NULL, NULL, NULL, e) < 0 ||
	    bm_pg_exec(t->pg, "SET LOCAL enable_hashjoin = off;"
	    " SET LOCAL enable_mergejoin = off; SET LOCAL jit = off", 0,
	    NULL, NULL, NULL, e) < 0 ||
	    pg_copy(t, db, b, sql, NULL, &copying, &local, e) < 0)
		goto fail;
	free(sql);
	sql = pg_upsert_sql(b->kind);
	if (bm_pg_exec(t->pg, sql, 0, NULL, written, NULL, e) < 0 ||
	    bm_pg_exec(t->pg, "COMMIT", 0, NULL, NULL, NULL, e) < 0)
		goto fail;
	free(sql);
	return 0;
fail:
	free(sql);
	pg_abort(t, copying, local, f);
	return -1;
}

/* ---- PostgREST / Supabase ----------------------------------------- */

/* One request, waited for; 0 and *d (free it), or -1 with e. */
static int
http_do(struct bm_push *t, const char *url, const char *body, size_t len,
    struct bm_http_done *d, struct bm_error *e)
{
	struct bm_buf ak = BM_BUF_INIT, au = BM_BUF_INIT;
	const char *hdr[6];
	struct bm_http_req req;
	int rc = -1;

	if (!t->http)
		t->http = bm_http_new(1);
	bm_buf_addf(&ak, "apikey: %s", t->key);
	bm_buf_addf(&au, "Authorization: Bearer %s", t->key);
	hdr[0] = ak.s;
	hdr[1] = au.s;
	hdr[2] = "Content-Type: application/json";
	hdr[3] = "Prefer: resolution=merge-duplicates,return=minimal";
	hdr[4] = "Accept: application/json";
	hdr[5] = NULL;
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.headers = hdr;
	req.body = body;
	req.body_len = len;
	req.timeout_ms = 300000;
	if (!bm_http_start(t->http, &req, e))
		goto out;
	for (;;) {
		if (bm_http_next(t->http, d)) {
			rc = 0;
			break;
		}
		if (bm_http_poll(t->http, NULL, 0, 1000, e) < 0 ||
		    bm_http_perform(t->http, e) < 0)
			break;
	}
out:
	bm_buf_free(&ak);
	bm_buf_free(&au);
	return rc;
}

/*
 * Judge a finished request: 0 on 2xx; else -1 with e (the server's
 * message, truncated and redacted) and f (retry connection errors, 5xx
 * and 429, honouring Retry-After).
 */
static int
http_judge(const struct bm_http_done *d, struct push_fault *f,
    struct bm_error *e)
{
	cJSON *j;
	const char *m = NULL;
	char *safe;
	double ra;

	f->wait_ms = 0;
	if (d->fail != BM_HTTP_OK) {
		f->retry = 1;
		bm_error_set(e, NULL, 0, 0, "%s", d->message ? d->message :
		    "connection failed");
		return -1;
	}
	if (d->status >= 200 && d->status < 300)
		return 0;
	f->retry = d->status >= 500 || d->status == 429;
	if (d->retry_after && bm_cli_parse_double(d->retry_after, 0, 3600,
	    &ra) == 0)
		f->wait_ms = ra * 1000;
	j = cJSON_Parse(bm_buf_str(&d->body));
	m = bm_json_str(j, "message");
	safe = bm_redact(m ? m : bm_buf_str(&d->body));
	safe[strcspn(safe, "\r\n")] = '\0';
	if (strlen(safe) > 200)
		safe[200] = '\0';
	if (*safe)
		bm_error_set(e, NULL, 0, 0, "HTTP %ld: %s", d->status, safe);
	else
		bm_error_set(e, NULL, 0, 0, "HTTP %ld", d->status);
	free(safe);
	cJSON_Delete(j);
	return -1;
}

/* Check the remote schema version once; -1 with e and f. */
static int
rest_open(struct bm_push *t, struct push_fault *f, struct bm_error *e)
{
	struct bm_http_done d;
	char *url;
	int rc;

	if (t->rest_checked)
		return 0;
	url = xasprintf("%s/rpc/bm_schema_version", t->base);
	rc = http_do(t, url, NULL, 0, &d, e);
	bm_debugf(1, "GET %s: HTTP %ld", url, rc < 0 ? 0 : d.status);
	free(url);
	if (rc < 0) {
		f->retry = 0;
		return -1;
	}
	if (d.status == 404) {
		f->retry = 0;
		bm_error_set(e, NULL, 0, 0, "no bm schema there: run"
		    " scripts/remote-schema.sql in its SQL editor");
		rc = -1;
	} else if ((rc = http_judge(&d, f, e)) == 0 &&
	    strtol(bm_buf_str(&d.body), NULL, 10) < 1) {
		bm_error_set(e, NULL, 0, 0, "bm schema version %s, 1 needed:"
		    " run scripts/remote-schema.sql", bm_buf_str(&d.body));
		rc = -1;
	}
	t->rest_checked = rc == 0;
	bm_http_done_free(&d);
	return rc;
}

/* bm_outbox_rows' callback (json): a separator byte, then the record. */
static void
rest_row(void *arg, int ncols, const char *const *vals)
{
	struct bm_push *t = arg;

	(void)ncols;
	bm_buf_addc(&t->rest_json, ',');
	bm_buf_adds(&t->rest_json, vals[0]);
	if (t->rest_n == t->rest_cap) {
		t->rest_cap = t->rest_cap ? 2 * t->rest_cap : 1024;
		t->rest_end = xreallocarray(t->rest_end, (size_t)t->rest_cap,
		    sizeof(*t->rest_end));
	}
	t->rest_end[t->rest_n++] = t->rest_json.len;
}

/*
 * POST b in requests of up to batch rows (a 413 halves that and sends
 * the rest again); snapshots one by one through rpc/bm_snapshot.
 */
static int
rest_send(struct bm_push *t, struct bm_db *db, const struct bm_outbox_batch *b,
    long long *written, long *snapver, struct push_fault *f, struct bm_error *e)
{
	struct bm_buf snapbody = BM_BUF_INIT;
	struct bm_http_done d;
	int snap = strcmp(b->kind->kind, "snapshot") == 0;
	char *url, *body;
	long i = 0, k;
	size_t from, len;
	int rc = -1;

	if (rest_open(t, f, e) < 0)
		return -1;
	if (t->rest_per == 0)
		t->rest_per = t->batch > 0 ? t->batch : 1000;
	*written = 0;
	/*
	 * The batch's records, each after a separator byte, in a buffer
	 * kept from batch to batch: rows i..j go as one JSON array by
	 * turning the byte before row i into '[' and the one after row j
	 * into ']', with no copy.
	 */
	bm_buf_reset(&t->rest_json);
	t->rest_n = 0;
	if (!snap && bm_outbox_rows(db, t->name, b, 1, rest_row, t, e) < 0) {
		f->retry = 0;
		return -1;
	}
	bm_buf_addc(&t->rest_json, ']');
	url = snap ? xasprintf("%s/rpc/bm_snapshot", t->base) :
	    xasprintf("%s/%s?on_conflict=%s", t->base, b->kind->table,
	    b->kind->keys);
	while (i < (snap ? b->n : t->rest_n)) {
		if (snap) {
			k = 1;
			bm_buf_reset(&snapbody);
			bm_buf_addf(&snapbody, "{\"p\":%s}", b->records[i]);
			body = snapbody.s;
			len = snapbody.len;
		} else {
			k = t->rest_n - i < t->rest_per ? t->rest_n - i :
			    t->rest_per;
			from = i > 0 ? t->rest_end[i - 1] : 0;
			body = t->rest_json.s + from;
			len = t->rest_end[i + k - 1] + 1 - from;
			body[0] = '[';
			body[len - 1] = ']';
		}
		rc = http_do(t, url, body, len, &d, e);
		if (!snap && i + k < t->rest_n)
			body[len - 1] = ',';	/* a smaller retry sends it */
		if (rc < 0) {
			f->retry = 0;
			goto out;
		}
		rc = -1;
		bm_debugf(1, "POST %s: %ld rows, %zu bytes: HTTP %ld", url, k,
		    len, d.status);
		if (d.fail == BM_HTTP_OK && d.status == 413 && k > 1) {
			t->rest_per = k / 2;
			bm_http_done_free(&d);
			continue;
		}
		if (http_judge(&d, f, e) < 0) {
			bm_http_done_free(&d);
			goto out;
		}
		if (snap)
			*snapver = strtol(bm_buf_str(&d.body), NULL, 10);
		bm_http_done_free(&d);
		i += k;
	}
	*written = bm_outbox_batch_records(b);
	rc = 0;
out:
	free(url);
	bm_buf_free(&snapbody);
	return rc;
}

/* ---- another bm database ------------------------------------------ */

/* Create or migrate the file, then attach it as dst. */
static int
sqlite_open(struct bm_push *t, struct bm_db *db, struct bm_error *e)
{
	struct bm_db *dst;
	struct bm_db_stmt *st;

	if (t->sqlite_attached)
		return 0;
	if (!(dst = bm_db_open(t->base, e)) || bm_db_close(dst, e) < 0)
		return -1;
	if (!(st = bm_db_prepare(db, "ATTACH ? AS dst", e)))
		return -1;
	bm_db_bind_text(st, 1, t->base);
	if (bm_db_step(st, e) < 0 ||
	    bm_db_exec(db, "PRAGMA dst.cache_size = -16384", e) < 0)
		return -1;
	t->sqlite_attached = 1;
	return 0;
}

/* The upsert of a batch into dst: new and changed rows only. */
static char *
sqlite_upsert_sql(const struct bm_outbox_kind *k)
{
	struct bm_buf b = BM_BUF_INIT;
	const char *p, *first;
	size_t n;

	/* The batch's rows, as bm_outbox_rows reads them. */
	bm_buf_addf(&b, "INSERT INTO dst.%s AS d (%s) %s ON CONFLICT (%s)"
	    " DO UPDATE SET ", k->local, k->cols, bm_outbox_rows_sql(k, 0),
	    k->keys);
	first = k->cols + strlen(k->keys) + 1;
	for (p = first; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%s%.*s = excluded.%.*s", p == first ? "" :
		    ", ", (int)n, p, (int)n, p);
	}
	bm_buf_adds(&b, " WHERE ");
	for (p = first; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%sd.%.*s IS NOT excluded.%.*s", p == first ?
		    "" : " OR ", (int)n, p, (int)n, p);
	}
	return bm_buf_detach(&b, NULL);
}

/* Upsert b into dst and confirm it, in one local transaction. */
static int
sqlite_send(struct bm_push *t, struct bm_db *db,
    const struct bm_outbox_batch *b, long long *written, struct bm_error *e)
{
	struct bm_db_stmt *st;
	char *sql;

	if (sqlite_open(t, db, e) < 0)
		return -1;
	sql = sqlite_upsert_sql(b->kind);
	st = bm_db_prepare(db, sql, e);
	free(sql);
	if (!st || bm_db_begin(db, e) < 0)
		return -1;
	bm_outbox_rows_bind(st, t->name, b);
	*written = 0;
	if (bm_outbox_batch_records(b) > 0) {
		if (bm_db_step(st, e) < 0)
			goto fail;
		*written = bm_db_changes(db);
	}
	if (bm_outbox_done(db, t->name, b, 0, e) < 0)
		goto fail;
	return bm_db_commit(db, e);
fail:
	bm_db_rollback(db);
	return -1;
}

/* ---- the outbox, driven ------------------------------------------- */

/* Sleep ms, interruptibly enough for a command line tool. */
static void
nap(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)fmod(ms, 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * Send one batch, retrying transient faults with exponential backoff and
 * full jitter (or the server's Retry-After).  0 when confirmed and
 * recorded; -1 with e (the batch's attempt is counted).
 */
static int
send_batch(struct bm_push *t, struct bm_db *db, struct bm_outbox_batch *b,
    struct bm_error *e)
{
	struct bm_push_count *c =
	    &t->counts[bm_outbox_shown(b->kind) - bm_outbox_kinds];
	long long n = bm_outbox_batch_records(b);
	struct push_fault f;
	struct bm_error ign = BM_ERROR_INIT;
	long long written = 0;
	long snapver = 0, attempt;
	double wait;
	int rc = -1;

	for (attempt = 0;; attempt++) {
		f = (struct push_fault){ 0, 0 };
		if (n == 0 && t->type != BM_PUSH_SQLITE)
			rc = 0;		/* its rows were deleted meanwhile */
		else if (t->type == BM_PUSH_PG)
			rc = pg_send(t, db, b, &written, &snapver, &f, e);
		else if (t->type == BM_PUSH_REST)
			rc = rest_send(t, db, b, &written, &snapver, &f, e);
		else
			rc = sqlite_send(t, db, b, &written, e);
		if (rc == 0 || !f.retry || attempt >= t->retries)
			break;
		wait = f.wait_ms > 0 ? f.wait_ms : t->backoff_ms *
		    (double)(1L << (attempt < 16 ? attempt : 16)) *
		    ((double)random() / RAND_MAX);
		bm_debugf(1, "%s: %s: %s; retrying in %.0f ms", t->name,
		    b->kind->table, e->msg, wait);
		nap(wait);
	}
	if (rc == 0 && t->type != BM_PUSH_SQLITE)
		rc = bm_outbox_done(db, t->name, b, snapver, e);
	if (rc < 0) {
		bm_error_prefix(e, "%s", b->kind->table);
		if (bm_outbox_fail(db, b, e->msg, &ign) < 0)
			bm_error_clear(&ign);
		return -1;
	}
	c->sent += n;
	c->written += written;
	c->known = t->type != BM_PUSH_REST;
	if (snapver > 0 && t->on_snapshot)
		t->on_snapshot(t->arg, b->records[0], snapver);
	if (c->known)
		bm_debugf(1, "%s: %s: %lld records sent, %lld rows written",
		    t->name, b->kind->table, n, written);
	else
		bm_debugf(1, "%s: %s: %lld records sent", t->name,
		    b->kind->table, n);
	return 0;
}

int
bm_push_drain(struct bm_push *t, struct bm_db *db, struct bm_error *e)
{
	struct bm_outbox_batch b;
	long max = t->batch > 0 ? t->batch :
	    t->type == BM_PUSH_REST ? 1000 : 5000;
	int r;

	memset(&b, 0, sizeof(b));
	b.last = BM_OUTBOX_FIRST;
	while ((r = bm_outbox_next(db, t->name, max, &b, e)) == 1)
		if (send_batch(t, db, &b, e) < 0) {
			r = -1;
			break;
		}
	bm_outbox_batch_clear(&b);
	free(b.ids);
	free(b.records);
	free(b.runs);
	return r < 0 ? -1 : 0;
}
