/*
 * outbox.c: push_outbox (outbox.h).  Queuing a run is one INSERT ...
 * SELECT per table.  Results and the catalog are queued by key alone (an
 * empty record) and read back from their local tables when they are
 * sent, so a push of 100,000 results writes keys, not 100,000 copies of
 * them; the other records are built by SQLite (json_object), the same
 * text every time they are queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"
#include "outbox.h"
#include "xalloc.h"

/* Column lists shared by the kinds table and the SQL below. */
#define BENCH_COLS "id,name,prompt,content,content_sha256,path,doc,tags," \
	"description,created_at,updated_at,retired_at"
#define VERSION_COLS "benchmark_id,content_sha256,content,first_seen_at"
#define RUN_COLS "id,started_at,finished_at,status,argv,config_sha256," \
	"git_sha,environment,host,label,rescored_from,stream_sha256"
#define RESULT_COLS "run_id,case_id,step,benchmark_id,model,variant,trial," \
	"repeat,status,content_sha256,error_class,latency_ms,ttft_ms," \
	"prompt_tokens,completion_tokens,cost_usd,score,output,record," \
	"created_at"
#define STAT_COLS "run_id,group_key,record"
#define SNAP_COLS "run_id,model,environment,commit_sha,metrics"

const struct bm_outbox_kind bm_outbox_kinds[] = {
	{ "benchmark", "bm_benchmarks", "benchmarks", "id", BENCH_COLS,
	    "tags", 0, 1 },
	{ "benchmark_version", "bm_benchmark_versions", "benchmark_versions",
	    "benchmark_id,content_sha256", VERSION_COLS, "", 0, 1 },
	/* --env rewrites the run's environment: its record is kept. */
	{ "run", "bm_runs", "runs", "id", RUN_COLS, "", 1, 0 },
	{ "result", "bm_results", "results", "run_id,case_id,step",
	    RESULT_COLS, "record", 1, 1 },
	{ "stat", "bm_stats", "stats", "run_id,group_key", STAT_COLS,
	    "group_key,record", 1, 0 },
	/* Through the bm_snapshot function, never a plain upsert. */
	{ "snapshot", "bm_snapshots", NULL, "run_id,model,environment",
	    SNAP_COLS, "metrics", 1, 0 },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0 }
};

const struct bm_outbox_kind *
bm_outbox_kind(const char *k)
{
	const struct bm_outbox_kind *p;

	for (p = bm_outbox_kinds; p->kind; p++)
		if (strcmp(p->kind, k) == 0)
			return p;
	return NULL;
}

char *
bm_outbox_target(const char *url)
{
	struct bm_buf b = BM_BUF_INIT;
	const char *p, *at, *colon, *auth, *q, *end;
	size_t n;

	/* The user info is between "//" and the last '@' before the path. */
	p = strstr(url, "//");
	auth = p ? p + 2 : url;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon) {
		bm_buf_add(&b, url, (size_t)(colon - url));
		url = at;
	}
	/* Drop password=... parameters. */
	while (*url) {
		n = strcspn(url, "?&");
		bm_buf_add(&b, url, n);
		url += n;
		if (!*url)
			break;
		if (strncmp(url + 1, "password=", 9) == 0) {
			q = url + 1 + strcspn(url + 1, "&");
			if (*url == '?' && *q == '&') {
				bm_buf_addc(&b, '?');
				q++;
			}
			url = q;
			continue;
		}
		bm_buf_addc(&b, *url++);
	}
	return bm_buf_detach(&b, NULL);
}

/* Queue with an upsert: queuing again replaces the record, keeps attempts. */
#define UPSERT " ON CONFLICT (target, kind, key) DO UPDATE SET" \
	" record = excluded.record WHERE record IS NOT excluded.record"

/*
 * The benchmarks the results of run ?2 name, gathered once per run into
 * a temporary table (reading every result row of the run: the catalog
 * and its versions would read them twice).
 */
#define RUN_BENCHES "(SELECT id FROM temp.bm_push_benches)"

/* Queue SQL: ?1 target, ?2 run id, ?3 environment, ?4 commit sha. */
#define QUEUE_RESULTS 3		/* the index of the results' statement */
static const char *const queue_sql[] = {
	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'benchmark', json_array(id), '' FROM benchmarks"
	" WHERE id IN " RUN_BENCHES UPSERT,

	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'benchmark_version', json_array(benchmark_id,"
	" content_sha256), '' FROM benchmark_versions"
	" WHERE benchmark_id IN " RUN_BENCHES UPSERT,

	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'run', json_array(id), json_object('id', id,"
	" 'started_at', started_at, 'finished_at', finished_at,"
	" 'status', status, 'argv', argv, 'config_sha256', config_sha256,"
	" 'git_sha', git_sha, 'environment', coalesce(?3, environment),"
	" 'host', host, 'label', label, 'rescored_from', rescored_from,"
	" 'stream_sha256', stream_sha256) FROM runs WHERE id = ?2" UPSERT,

	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'result', json_array(run_id, case_id, step), ''"
	" FROM results WHERE run_id = ?2" UPSERT,

	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'stat', json_array(run_id, json(group_key)),"
	" json_object('run_id', run_id, 'group_key', json(group_key),"
	" 'record', json(record)) FROM stats WHERE run_id = ?2" UPSERT,
};

/*
 * One snapshot per model of the run: its saved stat for the group
 * {"model": M} when bm-stats --save stored one, else the counts.
 */
static const char snapshot_sql[] =
	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'snapshot', json_array(m.run_id, m.model, env),"
	" json_object('run_id', m.run_id, 'model', m.model,"
	" 'environment', env, 'commit_sha', coalesce(?4, (SELECT git_sha"
	"  FROM runs WHERE id = ?2)), 'metrics', coalesce("
	"  (SELECT json(s.record) FROM stats s WHERE s.run_id = m.run_id"
	"   AND json(s.group_key) = json_object('model', m.model)),"
	"  json_object('n', m.pass + m.fail + m.error, 'pass', m.pass,"
	"   'fail', m.fail, 'error', m.error, 'pass_rate', CASE WHEN"
	"   m.pass + m.fail > 0 THEN 1.0 * m.pass / (m.pass + m.fail) END,"
	"   'cost_usd', m.cost_usd)))"
	" FROM run_models m, (SELECT coalesce(?3, (SELECT environment"
	"  FROM runs WHERE id = ?2)) AS env)"
	" WHERE m.run_id = ?2" UPSERT;

/* Bind ?1..?4 and run one queue statement; adds the rows queued to *n. */
static int
queue(struct bm_db *db, const char *sql, const char *target,
    const char *run_id, const struct bm_outbox_run *opt, long long *n,
    struct bm_error *e)
{
	struct bm_db_stmt *st = bm_db_prepare(db, sql, e);

	if (!st)
		return -1;
	bm_db_bind_text(st, 1, target);
	bm_db_bind_text(st, 2, run_id);
	bm_db_bind_text(st, 3, opt->env);
	bm_db_bind_text(st, 4, opt->commit_sha);
	if (bm_db_step(st, e) < 0)
		return -1;
	*n += bm_db_changes(db);
	return 0;
}

/*
 * The first column of sql's first row (?1 target, ?2 a run id) as a
 * truth value: 1, 0 (also when there is no row) or -1.
 */
static int
run_query(struct bm_db *db, const char *sql, const char *target,
    const char *run, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int r = bm_db_first(db, sql, &st, e, 2, target, run);

	if (r == 1) {
		r = bm_db_col_int(st, 0) != 0;
		bm_db_reset(st);
	}
	return r;
}

/*
 * Did target confirm run's results as they are (runs.results_rev counts
 * every change to them)?  1, 0 (also without a runs row) or -1.
 */
#define RUN_CONFIRMED "SELECT p.sent_rev IS r.results_rev FROM runs r" \
	" JOIN push_runs p ON p.target = ?1 AND p.run_id = r.id" \
	" WHERE r.id = ?2"

int
bm_outbox_queue_run(struct bm_db *db, const char *target,
    const char *run_id, const struct bm_outbox_run *opt, long long *n,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	size_t i;
	int same;

	*n = 0;
	if ((same = run_query(db, RUN_CONFIRMED, target, run_id, e)) < 0)
		return -1;
	if (same && !opt->resend)
		bm_debugf(1, "run %s: results unchanged since %s confirmed"
		    " them: not sent again (--resend sends them)", run_id,
		    target);
	/* The revision queued: confirmed once nothing of it is left. */
	else if (bm_db_first(db, "INSERT INTO push_runs (target, run_id,"
	    " queued_rev) SELECT ?1, id, results_rev FROM runs WHERE id = ?2"
	    " ON CONFLICT DO UPDATE SET queued_rev = excluded.queued_rev",
	    &st, e, 2, target, run_id) < 0)
		return -1;
	if (bm_db_exec(db, "CREATE TEMP TABLE IF NOT EXISTS bm_push_benches"
	    " (id TEXT PRIMARY KEY)", e) < 0 ||
	    bm_db_exec(db, "DELETE FROM temp.bm_push_benches", e) < 0 ||
	    !(st = bm_db_prepare(db, "INSERT INTO temp.bm_push_benches"
	    " SELECT DISTINCT benchmark_id FROM results WHERE run_id = ?1"
	    " AND benchmark_id IS NOT NULL", e)))
		return -1;
	bm_db_bind_text(st, 1, run_id);
	if (bm_db_step(st, e) < 0)
		return -1;
	for (i = 0; i < sizeof(queue_sql) / sizeof(queue_sql[0]); i++)
		if ((i != QUEUE_RESULTS || !same || opt->resend) &&
		    queue(db, queue_sql[i], target, run_id, opt, n, e) < 0)
			return -1;
	if (opt->snapshot &&
	    queue(db, snapshot_sql, target, run_id, opt, n, e) < 0)
		return -1;
	return 0;
}

/* Input records: ?1 target, ?2 the line. */
static const char line_result_sql[] =
	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'result', json_array(r->>'run_id', r->>'case_id',"
	"  coalesce(r->>'step', 0)),"
	" json_object('run_id', r->>'run_id', 'case_id', r->>'case_id',"
	" 'step', coalesce(r->>'step', 0), 'benchmark_id', r->>'benchmark_id',"
	" 'model', r->>'model', 'variant', r->>'variant',"
	" 'trial', coalesce(r->>'trial', 0),"
	" 'repeat', coalesce(r->>'repeat', 0), 'status', r->>'status',"
	" 'content_sha256', r->>'content_sha256',"
	" 'error_class', r->>'$.error.class', 'latency_ms', r->>'latency_ms',"
	" 'ttft_ms', r->>'ttft_ms',"
	" 'prompt_tokens', r->>'$.usage.prompt_tokens',"
	" 'completion_tokens', r->>'$.usage.completion_tokens',"
	" 'cost_usd', r->>'cost_usd', 'score', r->>'score',"
	" 'output', r->>'output', 'record', json(r),"
	" 'created_at', coalesce(r->>'finished_at',"
	"  strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
	" FROM (SELECT ?2 AS r)"
	" WHERE r->>'run_id' IS NOT NULL AND r->>'case_id' IS NOT NULL"
	" AND r->>'model' IS NOT NULL AND r->>'status' IS NOT NULL" UPSERT;

static const char line_stat_sql[] =
	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'stat', json_array(r->>'run_id', json(r->'group')),"
	" json_object('run_id', r->>'run_id', 'group_key', json(r->'group'),"
	" 'record', json(r)) FROM (SELECT ?2 AS r)"
	" WHERE r->>'run_id' IS NOT NULL AND r->'group' IS NOT NULL" UPSERT;

static const char line_run_sql[] =
	"INSERT INTO push_outbox (target, kind, key, record)"
	" SELECT ?1, 'run', json_array(r->>'id'), json_object('id', r->>'id',"
	" 'started_at', r->>'started_at', 'finished_at', r->>'finished_at',"
	" 'status', r->>'status', 'argv', r->>'argv',"
	" 'config_sha256', r->>'config_sha256', 'git_sha', r->>'git_sha',"
	" 'environment', r->>'environment', 'host', r->>'host',"
	" 'label', r->>'label', 'rescored_from', r->>'rescored_from',"
	" 'stream_sha256', r->>'stream_sha256') FROM (SELECT ?2 AS r)"
	" WHERE r->>'id' IS NOT NULL" UPSERT;

int
bm_outbox_queue_line(struct bm_db *db, const char *target,
    const char *type, const char *json, struct bm_error *e)
{
	struct bm_db_stmt *st;
	const char *sql;

	if (strcmp(type, "result") == 0)
		sql = line_result_sql;
	else if (strcmp(type, "stat") == 0)
		sql = line_stat_sql;
	else if (strcmp(type, "run") == 0)
		sql = line_run_sql;
	else
		return 0;
	if (!(st = bm_db_prepare(db, sql, e)))
		return -1;
	bm_db_bind_text(st, 1, target);
	bm_db_bind_text(st, 2, json);
	if (bm_db_step(st, e) < 0)
		return -1;
	return 1;
}

void
bm_outbox_batch_clear(struct bm_outbox_batch *b)
{
	long i;

	for (i = 0; i < b->n; i++) {
		free(b->records[i]);
		free(b->runs[i]);
	}
	b->n = 0;
}

int
bm_outbox_next(struct bm_db *db, const char *target, long max,
    struct bm_outbox_batch *b, struct bm_error *e)
{
	struct bm_db_stmt *st;
	const struct bm_outbox_kind *k;
	const char *run;
	int r;

	bm_outbox_batch_clear(b);
	/*
	 * In id order from where the last batch ended: first the records
	 * whose batch failed (bm_outbox_fail negates their ids), then the
	 * others in the order they were queued (a run's catalog, its row,
	 * results, stats, snapshots).  One pass over the table for the
	 * whole push; the unary plus keeps SQLite off the (target, kind,
	 * key) index, which would read and sort every waiting record for
	 * each batch.
	 */
	st = bm_db_prepare(db, "SELECT id, kind, record,"
	    " json_extract(key, '$[0]') FROM push_outbox"
	    " WHERE id > ?2 AND +target = ?1 ORDER BY id LIMIT ?3", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, target);
	bm_db_bind_int(st, 2, b->last);
	bm_db_bind_int(st, 3, max);
	b->kind = NULL;
	while ((r = bm_db_step(st, e)) == 1) {
		k = bm_outbox_kind(bm_db_col_text(st, 1));
		if (!k) {
			/* Written by a newer bm: left for it. */
			b->last = bm_db_col_int(st, 0);
			continue;
		}
		/* One kind per batch; snapshots one at a time. */
		if (b->kind && (k != b->kind || k->local == NULL))
			break;
		b->kind = k;
		if (b->n == b->cap) {
			b->cap = b->cap ? 2 * b->cap : 64;
			b->ids = xreallocarray(b->ids, (size_t)b->cap,
			    sizeof(*b->ids));
			b->records = xreallocarray(b->records, (size_t)b->cap,
			    sizeof(*b->records));
			b->runs = xreallocarray(b->runs, (size_t)b->cap,
			    sizeof(*b->runs));
		}
		b->ids[b->n] = bm_db_col_int(st, 0);
		/* Other kinds' rows are read when sent (bm_outbox_rows). */
		b->records[b->n] = k->local ? NULL :
		    xstrdup(bm_db_col_text(st, 2));
		run = k->run ? bm_db_col_text(st, 3) : NULL;
		b->runs[b->n] = run ? xstrdup(run) : NULL;
		b->last = b->ids[b->n];
		b->n++;
	}
	if (r < 0)
		return -1;
	if (r == 1)
		bm_db_reset(st);
	return b->n > 0;
}

/*
 * Is anything of run ?2 left for target ?1?  Keys of a run's records
 * start with the JSON string of its id ('["id"', as json_array spells
 * it) and go on with ',' or ']': a range on the (target, kind, key)
 * index.
 */
#define RUN_LEFT "SELECT 1 FROM push_outbox, (SELECT" \
	" substr(json_array(?2), 1, length(json_array(?2)) - 1) AS p)" \
	" WHERE target = ?1" \
	" AND kind IN ('run', 'result', 'stat', 'snapshot')" \
	" AND key > p AND key < p || '~' LIMIT 1"

int
bm_outbox_done(struct bm_db *db, const char *target,
    const struct bm_outbox_batch *b, long snapshot_version,
    struct bm_error *e)
{
	struct bm_db_stmt *del, *ins;
	const char *prev = NULL;
	char ver[24];
	long i;
	int r;

	int own = !bm_db_in_tx(db);

	if (own && bm_db_begin(db, e) < 0)
		return -1;
	/*
	 * The batch: target's records of its kind from its first id to its
	 * last (bm_outbox_next stops at another kind).
	 */
	del = bm_db_prepare(db, "DELETE FROM push_outbox WHERE id BETWEEN"
	    " ?1 AND ?2 AND +target = ?3 AND +kind = ?4", e);
	if (!del)
		goto fail;
	if (b->n > 0) {
		bm_db_bind_int(del, 1, b->ids[0]);
		bm_db_bind_int(del, 2, b->ids[b->n - 1]);
		bm_db_bind_text(del, 3, target);
		bm_db_bind_text(del, 4, b->kind->kind);
		if (bm_db_step(del, e) < 0)
			goto fail;
	}
	for (i = 0; i < b->n; i++) {
		/* A batch holds few runs, mostly in a row. */
		if (!b->runs[i] || (prev && strcmp(prev, b->runs[i]) == 0))
			continue;
		prev = b->runs[i];
		if ((r = run_query(db, RUN_LEFT, target, prev, e)) < 0)
			goto fail;
		if (r)
			continue;
		/* What was queued of its results is there. */
		if (bm_db_first(db, "UPDATE push_runs SET sent_rev ="
		    " queued_rev WHERE target = ?1 AND run_id = ?2", &ins, e,
		    2, target, prev) < 0)
			goto fail;
		snprintf(ver, sizeof(ver), "%ld", snapshot_version);
		if (bm_db_first(db, "INSERT INTO pushes (target, run_id,"
		    " snapshot_version) SELECT ?1, ?2, v FROM (SELECT"
		    " CAST(?3 AS INTEGER) AS v) WHERE NOT EXISTS (SELECT 1"
		    " FROM pushes WHERE target = ?1 AND run_id = ?2"
		    " AND snapshot_version IS v)", &ins, e, 3, target, prev,
		    snapshot_version > 0 ? ver : NULL) < 0)
			goto fail;
	}
	return own ? bm_db_commit(db, e) : 0;
fail:
	if (own)
		bm_db_rollback(db);
	return -1;
}

int
bm_outbox_fail(struct bm_db *db, const struct bm_outbox_batch *b,
    const char *why, struct bm_error *e)
{
	struct bm_db_stmt *st;
	char *safe = bm_redact(why);
	long i;
	int rc = -1;

	if (bm_db_begin(db, e) < 0)
		goto out;
	/* A negative id: sent first next time (see bm_outbox_next). */
	st = bm_db_prepare(db, "UPDATE push_outbox SET attempts ="
	    " attempts + 1, last_error = ?2, id = -abs(id) WHERE id = ?1",
	    e);
	if (!st)
		goto fail;
	for (i = 0; i < b->n; i++) {
		bm_db_bind_int(st, 1, b->ids[i]);
		bm_db_bind_text(st, 2, safe);
		if (bm_db_step(st, e) < 0)
			goto fail;
	}
	rc = bm_db_commit(db, e);
	goto out;
fail:
	bm_db_rollback(db);
out:
	free(safe);
	return rc;
}

long long
bm_outbox_pending(struct bm_db *db, const char *target, struct bm_error *e)
{
	struct bm_db_stmt *st;
	long long n;

	st = bm_db_prepare(db, "SELECT count(*) FROM push_outbox"
	    " WHERE ?1 IS NULL OR target = ?1", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, target);
	if (bm_db_step(st, e) != 1)
		return -1;
	n = bm_db_col_int(st, 0);
	bm_db_reset(st);
	return n;
}

/* Is column c (n bytes) one of the comma-separated list? */
static int
in_list(const char *list, const char *c, size_t n)
{
	size_t m;

	for (; *list; list += m + (list[m] == ',')) {
		m = strcspn(list, ",");
		if (m == n && strncmp(list, c, n) == 0)
			return 1;
	}
	return 0;
}

/* Append column c (n bytes) of the record: o.record's, or the local l's. */
static void
row_col(struct bm_buf *q, const struct bm_outbox_kind *k, const char *c,
    size_t n)
{
	if (k->compact)
		bm_buf_addf(q, "CASE WHEN o.record = '' THEN l.%.*s ELSE ",
		    (int)n, c);
	bm_buf_addf(q, "json_extract(o.record, '$.%.*s')", (int)n, c);
	if (k->compact)
		bm_buf_adds(q, " END");
}

/*
 * Append the record as JSON: o.record, or (empty) NULL and the local
 * row's columns as they are, which bm_outbox_rows joins into an object
 * (strings quoted there, in C: SQLite's json_quote of every value cost
 * more than the rest of the read).
 */
static void
row_json(struct bm_buf *q, const struct bm_outbox_kind *k)
{
	const char *p;
	size_t n;

	if (!k->compact) {
		bm_buf_adds(q, "o.record");
		return;
	}
	bm_buf_adds(q, "nullif(o.record, '')");
	for (p = k->cols; *p; p += n + (p[n] == ','))
		bm_buf_addf(q, ", l.%.*s", (int)(n = strcspn(p, ",")), p);
}

const char *
bm_outbox_rows_sql(const struct bm_outbox_kind *k, int json)
{
	/* Built once per kind and mode from the kinds table's names. */
	static char *sql[2][sizeof(bm_outbox_kinds) /
	    sizeof(bm_outbox_kinds[0])];
	struct bm_buf q = BM_BUF_INIT;
	size_t i = (size_t)(k - bm_outbox_kinds), n, key;
	const char *p;

	if (sql[!!json][i])
		return sql[!!json][i];
	bm_buf_adds(&q, "SELECT ");
	if (json)
		row_json(&q, k);
	else
		for (p = k->cols; *p; p += n + (p[n] == ',')) {
			n = strcspn(p, ",");
			if (p != k->cols)
				bm_buf_adds(&q, ", ");
			row_col(&q, k, p, n);
		}
	bm_buf_adds(&q, " FROM main.push_outbox o");
	if (k->compact) {
		/* The local row of an empty record, by its natural key. */
		bm_buf_addf(&q, " LEFT JOIN main.%s l ON o.record = ''",
		    k->local);
		for (p = k->keys, key = 0; *p; p += n + (p[n] == ','), key++) {
			n = strcspn(p, ",");
			bm_buf_addf(&q, " AND l.%.*s = json_extract(o.key,"
			    " '$[%zu]')", (int)n, p, key);
		}
	}
	/*
	 * The batch is every record of target and kind between its first
	 * and last id (bm_outbox_next stops at another kind); a local row
	 * deleted since it was queued is not sent.
	 */
	bm_buf_adds(&q, " WHERE o.id BETWEEN ?1 AND ?2 AND +o.target = ?3"
	    " AND +o.kind = ?4");
	if (k->compact)
		bm_buf_addf(&q, " AND (o.record <> '' OR l.%.*s IS NOT NULL)",
		    (int)strcspn(k->keys, ","), k->keys);
	bm_buf_adds(&q, " ORDER BY o.id");
	sql[!!json][i] = bm_buf_detach(&q, NULL);
	return sql[!!json][i];
}

/*
 * Join a local row (vals, text[c] when vals[c] is text) into a JSON
 * object in b: the kind's JSON columns as they are, text quoted, numbers
 * as SQLite prints them (infinities as json_quote spells them).
 */
static const char *
row_object(struct bm_buf *b, const struct bm_outbox_kind *k,
    const char *const *vals, const char *text)
{
	const char *p, *v;
	size_t n;
	int c = 0;

	bm_buf_reset(b);
	bm_buf_addc(b, '{');
	for (p = k->cols; *p; p += n + (p[n] == ','), c++) {
		n = strcspn(p, ",");
		bm_buf_adds(b, c ? ",\"" : "\"");
		bm_buf_add(b, p, n);
		bm_buf_add(b, "\":", 2);
		v = vals[c];
		if (!v)
			bm_buf_add(b, "null", 4);
		else if (text[c] && !in_list(k->json, p, n))
			bm_json_put_str(b, v);
		else if (!text[c] && strcmp(v + (*v == '-'), "Inf") == 0)
			bm_buf_adds(b, *v == '-' ? "-9.0e+999" : "9.0e+999");
		else
			bm_buf_adds(b, v);
	}
	bm_buf_addc(b, '}');
	return b->s;
}

int
bm_outbox_rows(struct bm_db *db, const char *target,
    const struct bm_outbox_batch *b, int json, bm_outbox_row_fn *fn,
    void *arg, struct bm_error *e)
{
	const char *vals[33];
	char text[33];
	struct bm_db_stmt *st;
	struct bm_buf obj = BM_BUF_INIT;
	const char *p;
	size_t n;
	int ncols = 0, c, r;

	for (p = b->kind->cols; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		ncols++;
	}
	if (ncols > 32) {
		bm_error_set(e, NULL, 0, 0, "%s: too many columns",
		    b->kind->table);
		return -1;
	}
	/* json: the record, then (compact) the local row's values. */
	if (json)
		ncols = b->kind->compact ? ncols + 1 : 1;
	if (b->n == 0)
		return 0;
	st = bm_db_prepare(db, bm_outbox_rows_sql(b->kind, json), e);
	if (!st)
		return -1;
	bm_db_bind_int(st, 1, b->ids[0]);
	bm_db_bind_int(st, 2, b->ids[b->n - 1]);
	bm_db_bind_text(st, 3, target);
	bm_db_bind_text(st, 4, b->kind->kind);
	while ((r = bm_db_step(st, e)) == 1) {
		for (c = 0; c < ncols; c++) {
			/* The type first: reading it as text converts it. */
			text[c] = (char)bm_db_col_is_text(st, c);
			vals[c] = bm_db_col_text(st, c);
		}
		if (json && ncols > 1 && !vals[0])
			vals[0] = row_object(&obj, b->kind, vals + 1,
			    text + 1);
		fn(arg, json ? 1 : ncols, vals);
	}
	bm_buf_free(&obj);
	return r;
}
