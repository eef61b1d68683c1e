/*
 * bm-push: publish runs, results, stats, snapshots and the catalog.
 *
 *   bm-push --to URL [--run RUN | --all] [--snapshot] [OPTIONS]
 *
 * Local SQLite is the truth; the remote (PostgreSQL, PostgREST/Supabase or
 * another bm database) is a copy that catches up.  Every record is first
 * committed to push_outbox, then sent in batches that upsert on natural
 * keys, and deleted only after the remote confirmed it: a push killed at
 * any moment and run again leaves every record there exactly once.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "db.h"
#include "err.h"
#include "http.h"
#include "jsonl.h"
#include "outbox.h"
#include "pg.h"
#include "runs.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-push --to URL [--run RUN] [--all] [--snapshot] [--env NAME]\n"
    "               [--commit-sha SHA] [--batch N] [--retries N]\n"
    "               [--backoff S] [--dry-run] [--status] [--db PATH]\n"
    "               [-q] [-v]\n"
    "\n"
    "    --to URL          postgresql://..., https://REF.supabase.co,"
    " .../rest/v1, sqlite:PATH\n"
    "    --run RUN         push this run (default: records on stdin)\n"
    "    --all             push every run not yet pushed to the target\n"
    "    --snapshot        write a snapshot per model of the run\n"
    "    --env NAME        the environment of the run and its snapshots\n"
    "    --commit-sha SHA  the snapshots' commit (default $GITHUB_SHA)\n"
    "    --batch N         rows per batch (default 5000; PostgREST 500)\n"
    "    --retries N       retries of a batch after a transient fault"
    " (default 3)\n"
    "    --backoff S       first retry delay in seconds (default 0.5)\n"
    "    --dry-run         print what would be sent, per table\n"
    "    --status          list what waits in the outbox, per target\n"
    "    --db PATH         the bm database (default $BM_DB, else ./bm.db)\n"
    "    -q                no warnings (errors and records still printed)\n"
    "    -v                trace batches and requests (never the key)\n";

enum {
	OPT_TO = BM_CLI_OPT_PROGRAM, OPT_RUN, OPT_ALL, OPT_SNAPSHOT, OPT_ENV,
	OPT_COMMIT, OPT_BATCH, OPT_RETRIES, OPT_BACKOFF, OPT_DRY_RUN,
	OPT_STATUS
};

enum target_type { T_PG, T_REST, T_SQLITE };

/* Where records go and the connection to it. */
struct target {
	enum target_type type;
	const char *url;	/* as given (may hold a password) */
	char *name;		/* url without a password: outbox, messages */
	char *base;		/* PostgREST: .../rest/v1; sqlite: the path */
	const char *key;	/* PostgREST key, from the environment */
	struct bm_pg *pg;
	struct bm_http *http;
	int sqlite_attached;
};

/* A failed send: retry it (connection, 5xx, 429) or give up at once. */
struct fault {
	int retry;
	double wait_ms;		/* the server's Retry-After, or 0 */
};

static long batch = 0;		/* 0: the target's default */
static long retries = 3;
static double backoff_ms = 500;
static const char *env_name, *commit_sha;
static int dry_run;		/* queue in a transaction rolled back */

/* Records sent and rows written per table, for the summary. */
static struct table_count {
	long long sent, written;
	int known;		/* written is known (not PostgREST) */
} counts[8];

/* Parse --to; exit 2 on an URL no target takes. */
static void
target_parse(struct target *t, const char *url, const struct bm_cli *cli)
{
	size_t n;
	const char *host, *path;

	memset(t, 0, sizeof(*t));
	t->url = url;
	t->name = bm_outbox_target(url);
	if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0) {
		t->type = T_PG;
		return;
	}
	if (strncmp(url, "sqlite:", 7) == 0 && url[7]) {
		t->type = T_SQLITE;
		t->base = xstrdup(url + 7);
		return;
	}
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))
		bm_cli_usage_error(cli, "%s: not a postgresql://, http(s):// or"
		    " sqlite: URL", t->name);
	t->type = T_REST;
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
	else
		bm_cli_usage_error(cli, "%s: not a PostgREST base (.../rest/v1)"
		    " or a Supabase project URL", t->name);
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
pg_temp_tables(struct target *t, struct bm_error *e)
{
	const struct bm_outbox_kind *k;
	char *sql;
	int rc = 0;

	for (k = bm_outbox_kinds; k->kind && rc == 0; k++) {
		if (!k->local)
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
pg_open(struct target *t, struct fault *f, struct bm_error *e)
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

/* bm_outbox_rows' callback: one COPY line (NULL is \N). */
static void
copy_row(void *arg, int ncols, const char *const *vals)
{
	struct bm_buf *b = arg;
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
}

/* Send b in one transaction; 0 and *written, or -1 with e and f. */
static int
pg_send(struct target *t, struct bm_db *db, const struct bm_outbox_batch *b,
    long long *written, long *snapver, struct fault *f, struct bm_error *e)
{
	struct bm_buf data = BM_BUF_INIT;
	char *sql = NULL, *v;
	long i;
	int rc = -1;

	if (pg_open(t, f, e) < 0)
		return -1;
	*written = 0;
	if (strcmp(b->kind->kind, "snapshot") == 0) {
		/* The function is its own transaction and idempotent. */
		for (i = 0; i < b->n; i++) {
			const char *arg[1] = { b->records[i] };

			if (bm_pg_exec(t->pg, "SELECT bm_snapshot($1::jsonb)",
			    1, arg, NULL, &v, e) < 0)
				goto fail;
			*snapver = v ? strtol(v, NULL, 10) : 0;
			*written += 1;
			free(v);
		}
		return 0;
	}
	/*
	 * A batch's rows are looked up by primary key, one by one: without
	 * statistics on the temporary table the planner would hash the
	 * whole remote table for every batch (and, pricing that, spend a
	 * second compiling it with JIT).
	 */
	/* The COPY data first (5,000 results are about 5 MB). */
	if (bm_outbox_rows(db, t->name, b, copy_row, &data, e) < 0) {
		f->retry = 0;
		goto out;
	}
	sql = xasprintf("COPY bm_push_%s (%s) FROM STDIN", b->kind->table,
	    b->kind->cols);
	if (bm_pg_exec(t->pg, "BEGIN", 0, NULL, NULL, NULL, e) < 0 ||
	    bm_pg_exec(t->pg, "SET LOCAL enable_hashjoin = off;"
	    " SET LOCAL enable_mergejoin = off; SET LOCAL jit = off", 0,
	    NULL, NULL, NULL, e) < 0 ||
	    bm_pg_copy_begin(t->pg, sql, e) < 0 ||
	    bm_pg_copy_put(t->pg, data.s, data.len, e) < 0)
		goto fail;
	free(sql);
	sql = pg_upsert_sql(b->kind);
	if (bm_pg_copy_end(t->pg, NULL, e) < 0 ||
	    bm_pg_exec(t->pg, sql, 0, NULL, written, NULL, e) < 0 ||
	    bm_pg_exec(t->pg, "COMMIT", 0, NULL, NULL, NULL, e) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	f->retry = bm_pg_broken(t->pg) || pg_transient(bm_pg_sqlstate(t->pg));
	if (!bm_pg_broken(t->pg)) {
		struct bm_error ignored = BM_ERROR_INIT;

		bm_pg_exec(t->pg, "ROLLBACK", 0, NULL, NULL, NULL, &ignored);
		bm_error_clear(&ignored);
	}
out:
	free(sql);
	bm_buf_free(&data);
	return rc;
}

/* ---- PostgREST / Supabase ----------------------------------------- */

/* One request, waited for; 0 and *d (free it), or -1 with e. */
static int
http_do(struct target *t, const char *url, const char *body, size_t len,
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
http_judge(const struct bm_http_done *d, struct fault *f,
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
rest_open(struct target *t, struct fault *f, struct bm_error *e)
{
	static int checked;
	struct bm_http_done d;
	char *url;
	int rc;

	if (checked)
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
	checked = rc == 0;
	bm_http_done_free(&d);
	return rc;
}

/*
 * POST b in requests of up to batch rows (a 413 halves that and sends
 * the rest again); snapshots one by one through rpc/bm_snapshot.
 */
static int
rest_send(struct target *t, const struct bm_outbox_batch *b,
    long long *written, long *snapver, struct fault *f, struct bm_error *e)
{
	static long per = 0;	/* rows per request; halved by 413s */
	struct bm_buf body = BM_BUF_INIT;
	struct bm_http_done d;
	int snap = strcmp(b->kind->kind, "snapshot") == 0;
	char *url;
	long i = 0, j, k;
	int rc = -1;

	if (rest_open(t, f, e) < 0)
		return -1;
	if (per == 0)
		per = batch > 0 ? batch : 500;
	*written = 0;
	url = snap ? xasprintf("%s/rpc/bm_snapshot", t->base) :
	    xasprintf("%s/%s?on_conflict=%s", t->base, b->kind->table,
	    b->kind->keys);
	while (i < b->n) {
		k = snap ? 1 : b->n - i < per ? b->n - i : per;
		bm_buf_reset(&body);
		bm_buf_adds(&body, snap ? "{\"p\":" : "[");
		for (j = i; j < i + k; j++) {
			if (j > i)
				bm_buf_addc(&body, ',');
			bm_buf_adds(&body, b->records[j]);
		}
		bm_buf_adds(&body, snap ? "}" : "]");
		if (http_do(t, url, body.s, body.len, &d, e) < 0) {
			f->retry = 0;
			goto out;
		}
		bm_debugf(1, "POST %s: %ld rows, %zu bytes: HTTP %ld", url, k,
		    body.len, d.status);
		if (d.fail == BM_HTTP_OK && d.status == 413 && k > 1) {
			per = k / 2;
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
	*written = b->n;
	rc = 0;
out:
	free(url);
	bm_buf_free(&body);
	return rc;
}

/* ---- another bm database ------------------------------------------ */

/* Create or migrate the file, then attach it as dst. */
static int
sqlite_open(struct target *t, struct bm_db *db, struct bm_error *e)
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
	if (bm_db_step(st, e) < 0)
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

	bm_buf_addf(&b, "INSERT INTO dst.%s AS o (%s) SELECT ", k->local,
	    k->cols);
	for (p = k->cols; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%sjson_extract(record, '$.%.*s')",
		    p == k->cols ? "" : ", ", (int)n, p);
	}
	/* The batch, as bm_outbox_rows finds it. */
	bm_buf_addf(&b, " FROM main.push_outbox WHERE id BETWEEN ?1 AND ?2"
	    " AND +target = ?3 AND +kind = ?4 ORDER BY id"
	    " ON CONFLICT (%s) DO UPDATE SET ", k->keys);
	first = k->cols + strlen(k->keys) + 1;
	for (p = first; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%s%.*s = excluded.%.*s", p == first ? "" :
		    ", ", (int)n, p, (int)n, p);
	}
	bm_buf_adds(&b, " WHERE ");
	for (p = first; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		bm_buf_addf(&b, "%so.%.*s IS NOT excluded.%.*s", p == first ?
		    "" : " OR ", (int)n, p, (int)n, p);
	}
	return bm_buf_detach(&b, NULL);
}

/* Upsert b into dst and confirm it, in one local transaction. */
static int
sqlite_send(struct target *t, struct bm_db *db,
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
	bm_db_bind_int(st, 1, b->ids[0]);
	bm_db_bind_int(st, 2, b->ids[b->n - 1]);
	bm_db_bind_text(st, 3, t->name);
	bm_db_bind_text(st, 4, b->kind->kind);
	if (bm_db_step(st, e) < 0)
		goto fail;
	*written = bm_db_changes(db);
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

/* A snapshot record: which run, model and environment got version v. */
static void
print_snapshot(const struct target *t, const char *record, long v)
{
	cJSON *in = cJSON_Parse(record), *o = cJSON_CreateObject();
	const char *f[] = { "run_id", "model", "environment", "commit_sha" };
	size_t i;

	cJSON_AddStringToObject(o, "type", "snapshot");
	cJSON_AddStringToObject(o, "target", t->name);
	for (i = 0; i < 4; i++)
		cJSON_AddItemToObject(o, f[i], bm_json_str(in, f[i]) ?
		    cJSON_CreateString(bm_json_str(in, f[i])) :
		    cJSON_CreateNull());
	cJSON_AddNumberToObject(o, "snapshot_version", (double)v);
	if (bm_jsonl_write(stdout, o) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	cJSON_Delete(o);
	cJSON_Delete(in);
}

/*
 * Send one batch, retrying transient faults with exponential backoff and
 * full jitter (or the server's Retry-After).  0 when confirmed and
 * recorded; -1 with e (the batch's attempt is counted).
 */
static int
send_batch(struct target *t, struct bm_db *db, struct bm_outbox_batch *b,
    struct bm_error *e)
{
	struct table_count *c = &counts[b->kind - bm_outbox_kinds];
	struct fault f;
	struct bm_error ign = BM_ERROR_INIT;
	long long written = 0;
	long snapver = 0, attempt;
	double wait;
	int rc = -1;

	for (attempt = 0;; attempt++) {
		f = (struct fault){ 0, 0 };
		if (t->type == T_PG)
			rc = pg_send(t, db, b, &written, &snapver, &f, e);
		else if (t->type == T_REST)
			rc = rest_send(t, b, &written, &snapver, &f, e);
		else
			rc = sqlite_send(t, db, b, &written, e);
		if (rc == 0 || !f.retry || attempt >= retries)
			break;
		wait = f.wait_ms > 0 ? f.wait_ms : backoff_ms *
		    (double)(1L << (attempt < 16 ? attempt : 16)) *
		    ((double)random() / RAND_MAX);
		bm_debugf(1, "%s: %s: %s; retrying in %.0f ms", t->name,
		    b->kind->table, e->msg, wait);
		nap(wait);
	}
	if (rc == 0 && t->type != T_SQLITE)
		rc = bm_outbox_done(db, t->name, b, snapver, e);
	if (rc < 0) {
		bm_error_prefix(e, "%s", b->kind->table);
		if (bm_outbox_fail(db, b, e->msg, &ign) < 0)
			bm_error_clear(&ign);
		return -1;
	}
	c->sent += b->n;
	c->written += written;
	c->known = t->type != T_REST;
	if (snapver > 0)
		print_snapshot(t, b->records[0], snapver);
	if (c->known)
		bm_debugf(1, "%s: %s: %ld records sent, %lld rows written",
		    t->name, b->kind->table, b->n, written);
	else
		bm_debugf(1, "%s: %s: %ld records sent", t->name,
		    b->kind->table, b->n);
	return 0;
}

/* Send everything queued for t, failed batches first; 0 or -1 with e. */
static int
drain(struct target *t, struct bm_db *db, struct bm_error *e)
{
	struct bm_outbox_batch b;
	long max = batch > 0 ? batch : t->type == T_REST ? 500 : 5000;
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

/* Per-table lines: what was sent (or, dry, what would be) and written. */
static void
print_counts(const struct target *t, int dry)
{
	const struct bm_outbox_kind *k;
	struct table_count *c;
	cJSON *o;

	for (k = bm_outbox_kinds; k->kind; k++) {
		c = &counts[k - bm_outbox_kinds];
		if (c->sent == 0)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", "push");
		cJSON_AddStringToObject(o, "target", t->name);
		cJSON_AddStringToObject(o, "table", t->type == T_SQLITE ?
		    k->local : k->table);
		cJSON_AddNumberToObject(o, "rows", (double)c->sent);
		if (dry)
			cJSON_AddTrueToObject(o, "dry_run");
		else if (c->known)
			cJSON_AddNumberToObject(o, "written",
			    (double)c->written);
		if (bm_jsonl_write(stdout, o) < 0)
			bm_die(2, "stdout: %s", strerror(errno));
		cJSON_Delete(o);
	}
}

/* --status: one record per target with anything waiting; 1 when any. */
static int
status(struct bm_db *db, const char *target)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	cJSON *o = NULL, *kinds = NULL;
	const char *tg, *prev = NULL;
	char *last = NULL;
	int r, any = 0;

	st = bm_db_prepare(db, "SELECT target, kind, count(*),"
	    " sum(attempts > 0), max(attempts), (SELECT last_error FROM"
	    " push_outbox p WHERE p.target = o.target AND p.last_error IS"
	    " NOT NULL ORDER BY id DESC LIMIT 1) FROM push_outbox o"
	    " WHERE ?1 IS NULL OR target = ?1 GROUP BY target, kind"
	    " ORDER BY target, kind", &e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, target);
	for (;;) {
		r = bm_db_step(st, &e);
		if (r < 0)
			goto fail;
		tg = r ? bm_db_col_text(st, 0) : NULL;
		if (o && (!tg || strcmp(tg, prev) != 0)) {
			if (bm_jsonl_write(stdout, o) < 0)
				bm_die(2, "stdout: %s", strerror(errno));
			cJSON_Delete(o);
			o = NULL;
		}
		if (!r)
			break;
		any = 1;
		if (!o) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "outbox");
			cJSON_AddStringToObject(o, "target", tg);
			cJSON_AddNumberToObject(o, "pending", 0);
			cJSON_AddNumberToObject(o, "failed", 0);
			cJSON_AddNumberToObject(o, "attempts", 0);
			kinds = cJSON_AddObjectToObject(o, "kinds");
			last = bm_db_col_text(st, 5) ?
			    bm_redact(bm_db_col_text(st, 5)) : NULL;
			cJSON_AddItemToObject(o, "last_error", last ?
			    cJSON_CreateString(last) : cJSON_CreateNull());
			free(last);
		}
		prev = cJSON_GetObjectItem(o, "target")->valuestring;
		cJSON_AddNumberToObject(kinds, bm_db_col_text(st, 1),
		    (double)bm_db_col_int(st, 2));
		cJSON_SetNumberValue(cJSON_GetObjectItem(o, "pending"),
		    cJSON_GetObjectItem(o, "pending")->valuedouble +
		    (double)bm_db_col_int(st, 2));
		cJSON_SetNumberValue(cJSON_GetObjectItem(o, "failed"),
		    cJSON_GetObjectItem(o, "failed")->valuedouble +
		    (double)bm_db_col_int(st, 3));
		if (bm_db_col_int(st, 4) >
		    cJSON_GetObjectItem(o, "attempts")->valuedouble)
			cJSON_SetNumberValue(cJSON_GetObjectItem(o, "attempts"),
			    (double)bm_db_col_int(st, 4));
	}
	return any;
fail:
	bm_error_print(&e);
	exit(2);
}

/*
 * Queue stdin's records, committing every 1000 and whenever no more
 * input is ready (so that a bm-exec writing the same file upstream is
 * never kept waiting for its lock).  0, or 1 when a line was bad.
 */
static int
queue_stdin(struct bm_db *db, const char *target)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl in;
	struct pollfd p = { 0, POLLIN, 0 };
	cJSON *rec;
	long n = 0, skipped = 0;
	int r, bad = 0;

	bm_jsonl_open(&in, stdin, "-");
	for (;;) {
		if (!dry_run && bm_db_in_tx(db) && (n % 1000 == 0 ||
		    poll(&p, 1, 0) == 0) && bm_db_commit(db, &e) < 0)
			goto fail;
		if ((r = bm_jsonl_next(&in, &rec, &e)) == 0)
			break;
		if (r < 0) {
			bm_error_print(&e);
			bad = 1;
			continue;
		}
		if (!bm_db_in_tx(db) && bm_db_begin(db, &e) < 0)
			goto fail;
		r = bm_outbox_queue_line(db, target, bm_jsonl_type(rec) ?
		    bm_jsonl_type(rec) : "", in.line, &e);
		cJSON_Delete(rec);
		if (r < 0)
			goto fail;
		n += r;
		skipped += !r;
	}
	if (!dry_run && bm_db_in_tx(db) && bm_db_commit(db, &e) < 0)
		goto fail;
	bm_debugf(1, "<stdin>: %ld records queued, %ld of other types", n,
	    skipped);
	bm_jsonl_close(&in);
	return bad;
fail:
	bm_error_print(&e);
	exit(2);
}

/* Queue --run or --all; the number of runs queued. */
static long
queue_runs(struct bm_db *db, const char *target, const char *run, int all,
    const struct bm_outbox_run *opt)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	char *id = NULL, **ids = NULL;
	long n = 0, i;
	long long queued, total = 0;

	if (run) {
		if (bm_runs_resolve(db, run, &id, &e) < 0)
			goto fail;
		ids = xcalloc(1, sizeof(*ids));
		ids[n++] = id;
	} else if (all) {
		/* Runs still running are pushed once they end. */
		st = bm_db_prepare(db, "SELECT id FROM runs r WHERE status <>"
		    " 'running' AND NOT EXISTS (SELECT 1 FROM pushes p WHERE"
		    " p.target = ?1 AND p.run_id = r.id) ORDER BY started_at",
		    &e);
		if (!st)
			goto fail;
		bm_db_bind_text(st, 1, target);
		while ((i = bm_db_step(st, &e)) == 1) {
			ids = xreallocarray(ids, (size_t)n + 1, sizeof(*ids));
			ids[n++] = xstrdup(bm_db_col_text(st, 0));
		}
		if (i < 0)
			goto fail;
	}
	if (n && !dry_run && bm_db_begin(db, &e) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (bm_outbox_queue_run(db, target, ids[i], opt, &queued,
		    &e) < 0)
			goto fail;
		bm_debugf(1, "run %s: %lld records queued", ids[i], queued);
		total += queued;
	}
	if (n && !dry_run && bm_db_commit(db, &e) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return n;
fail:
	bm_error_print(&e);
	exit(2);
}

/* --dry-run: count what waits for target per kind (queued, not sent). */
static void
count_pending(struct bm_db *db, const char *target)
{
	struct bm_error e = BM_ERROR_INIT;
	const struct bm_outbox_kind *k;
	struct bm_db_stmt *st;

	st = bm_db_prepare(db, "SELECT count(*) FROM push_outbox"
	    " WHERE target = ?1 AND kind = ?2", &e);
	if (!st) {
		bm_error_print(&e);
		exit(2);
	}
	for (k = bm_outbox_kinds; k->kind; k++) {
		bm_db_bind_text(st, 1, target);
		bm_db_bind_text(st, 2, k->kind);
		if (bm_db_step(st, &e) != 1) {
			bm_error_print(&e);
			exit(2);
		}
		counts[k - bm_outbox_kinds].sent = bm_db_col_int(st, 0);
		bm_db_reset(st);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		BM_CLI_LONGOPTS,
		{ "to", required_argument, NULL, OPT_TO },
		{ "run", required_argument, NULL, OPT_RUN },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "env", required_argument, NULL, OPT_ENV },
		{ "commit-sha", required_argument, NULL, OPT_COMMIT },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "backoff", required_argument, NULL, OPT_BACKOFF },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ NULL, 0, NULL, 0 }
	};
	struct bm_error e = BM_ERROR_INIT, e2 = BM_ERROR_INIT;
	struct bm_outbox_run opt = { NULL, NULL, 0 };
	struct bm_cli cli;
	struct target t;
	struct bm_db *db;
	const char *to = NULL, *run = NULL, *s;
	int c, all = 0, dry = 0, stat = 0, rc = 0;
	long long left;

	bm_cli_init(&cli, argv[0], usage);
	while ((c = getopt_long(argc, argv, BM_CLI_SHORTOPTS, longopts,
	    NULL)) != -1) {
		switch (c) {
		case OPT_TO: to = optarg; break;
		case OPT_RUN: run = optarg; break;
		case OPT_ALL: all = 1; break;
		case OPT_SNAPSHOT: opt.snapshot = 1; break;
		case OPT_ENV: env_name = optarg; break;
		case OPT_COMMIT: commit_sha = optarg; break;
		case OPT_BATCH:
			batch = bm_cli_long("--batch", optarg, 1, 1000000);
			break;
		case OPT_RETRIES:
			retries = bm_cli_long("--retries", optarg, 0, 100);
			break;
		case OPT_BACKOFF:
			backoff_ms = 1000 * bm_cli_double("--backoff", optarg,
			    0, 3600);
			break;
		case OPT_DRY_RUN: dry = dry_run = 1; break;
		case OPT_STATUS: stat = 1; break;
		default: bm_cli_option(&cli, c, optarg);
		}
	}
	bm_cli_finish(&cli);
	if (optind < argc)
		bm_cli_usage_error(&cli, "%s: unexpected argument",
		    argv[optind]);
	if (cli.no_db)
		bm_cli_usage_error(&cli, "--no-db: the outbox lives in the"
		    " database");
	if (!to && !stat)
		bm_cli_usage_error(&cli, "--to URL is needed");
	if (run && all)
		bm_cli_usage_error(&cli, "--run and --all exclude each other");
	if (opt.snapshot && !run && !all)
		bm_cli_usage_error(&cli, "--snapshot needs --run or --all");
	if (to)
		target_parse(&t, to, &cli);
	if (to && t.type == T_SQLITE && opt.snapshot)
		bm_cli_usage_error(&cli, "--snapshot: %s keeps no snapshots",
		    t.name);
	if (to && t.type == T_REST && !stat && !dry) {
		s = getenv("BM_PUSH_KEY");
		if (!s || !*s)
			s = getenv("SUPABASE_SERVICE_ROLE_KEY");
		if (!s || !*s)
			bm_die(2, "%s: no key: set BM_PUSH_KEY or"
			    " SUPABASE_SERVICE_ROLE_KEY", t.name);
		bm_redact_add(s);
		t.key = s;
	}
	opt.env = env_name;
	opt.commit_sha = commit_sha;
	if (!opt.commit_sha && (s = getenv("GITHUB_SHA")) && *s)
		opt.commit_sha = s;
	srandom((unsigned)(getpid() ^ (long)bm_clock_ms()));

	if (!(db = bm_db_open(cli.db, &e))) {
		bm_error_print(&e);
		return 2;
	}
	if (stat) {
		rc = status(db, to ? t.name : NULL);
		goto out;
	}
	if (dry && bm_db_begin(db, &e) < 0) {
		bm_error_print(&e);
		return 2;
	}
	/* Dry: queued inside this transaction, then rolled back. */
	if (run || all)
		queue_runs(db, t.name, run, all, &opt);
	else if (!isatty(0))
		rc = queue_stdin(db, t.name);
	if (dry) {
		count_pending(db, t.name);
		bm_db_rollback(db);
		print_counts(&t, 1);
		goto out;
	}
	if (drain(&t, db, &e) < 0)
		bm_debugf(1, "%s: %s", t.name, e.msg);
	print_counts(&t, 0);
	left = bm_outbox_pending(db, t.name, &e2);
	if (left < 0) {
		bm_error_print(&e2);
		rc = 2;
	} else if (left > 0) {
		bm_errorf("%s: %lld record%s wait%s in the outbox: %s", t.name,
		    left, left == 1 ? "" : "s", left == 1 ? "s" : "",
		    e.msg ? e.msg : "not sent");
		rc = 1;
	}
out:
	bm_error_clear(&e);
	bm_error_clear(&e2);
	if (bm_db_close(db, &e) < 0) {
		bm_error_print(&e);
		rc = 2;
	}
	if (to) {
		bm_pg_close(t.pg);
		if (t.http)
			bm_http_free(t.http);
		free(t.name);
		free(t.base);
	}
	if (bm_jsonl_finish(stdout) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	return rc;
}
