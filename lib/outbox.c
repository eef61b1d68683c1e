/*
 * outbox.c: push_outbox (outbox.h).  Queuing a run is one INSERT ...
 * SELECT per table.  A run's results are one entry with a cursor, read
 * in key order from the results table when they are sent, so a push of
 * 100,000 results writes, reads back and deletes no outbox row per
 * result (that cost three B-tree operations on an indexed table per
 * row, more than the rest of a push to PostgREST); the catalog is
 * queued by key alone (an empty record) and read back from its local
 * tables when sent; the other records are built by SQLite
 * (json_object), the same text every time they are queued.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

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
	    "tags", 0, 1, 0 },
	{ "benchmark_version", "bm_benchmark_versions", "benchmark_versions",
	    "benchmark_id,content_sha256", VERSION_COLS, "", 0, 1, 0 },
	/* --env rewrites the run's environment: its record is kept. */
	{ "run", "bm_runs", "runs", "id", RUN_COLS, "", 1, 0, 0 },
	/* A record from stdin, or a key queued by an older bm-push. */
	{ "result", "bm_results", "results", "run_id,case_id,step",
	    RESULT_COLS, "record", 1, 1, 0 },
	/* A run's results: one entry, read in key order after a cursor. */
	{ "results", "bm_results", "results", "run_id,case_id,step",
	    RESULT_COLS, "record", 1, 1, 1 },
	{ "stat", "bm_stats", "stats", "run_id,group_key", STAT_COLS,
	    "group_key,record", 1, 0, 0 },
	/* Through the bm_snapshot function, never a plain upsert. */
	{ "snapshot", "bm_snapshots", NULL, "run_id,model,environment",
	    SNAP_COLS, "metrics", 1, 0, 0 },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }
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

const struct bm_outbox_kind *
bm_outbox_shown(const struct bm_outbox_kind *k)
{
	return k->range ? bm_outbox_kind("result") : k;
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
 * The columns queued, created_at computed once per statement (a scalar
 * subquery): the column's default formats the time again for every row,
 * which cost more than the rest of queuing 100,000 results.
 */
#define QUEUE "INSERT INTO push_outbox (created_at, target, kind, key," \
	" record) SELECT (SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), "

/*
 * The benchmarks the results of run ?2 name, gathered once per run into
 * a temporary table (reading every result row of the run: the catalog
 * and its versions would read them twice).
 */
#define RUN_BENCHES "(SELECT id FROM temp.bm_push_benches)"

/* Queue SQL: ?1 target, ?2 run id, ?3 environment, ?4 commit sha. */
#define QUEUE_RESULTS 3		/* the index of the results' statement */
static const char *const queue_sql[] = {
	QUEUE
	"?1, 'benchmark', json_array(id), '' FROM benchmarks"
	" WHERE id IN " RUN_BENCHES UPSERT,

	QUEUE
	"?1, 'benchmark_version', json_array(benchmark_id,"
	" content_sha256), '' FROM benchmark_versions"
	" WHERE benchmark_id IN " RUN_BENCHES UPSERT,

	QUEUE
	"?1, 'run', json_array(id), json_object('id', id,"
	" 'started_at', started_at, 'finished_at', finished_at,"
	" 'status', status, 'argv', argv, 'config_sha256', config_sha256,"
	" 'git_sha', git_sha, 'environment', coalesce(?3, environment),"
	" 'host', host, 'label', label, 'rescored_from', rescored_from,"
	" 'stream_sha256', stream_sha256) FROM runs WHERE id = ?2" UPSERT,

	/*
	 * One entry for the run's results, its cursor at the start; queued
	 * again, the cursor is kept unless ?5 (the results changed since
	 * the entry was queued: sent again whole).
	 */
	QUEUE
	"?1, 'results', json_array(id), json_object('run_id', id)"
	" FROM runs WHERE id = ?2 AND EXISTS (SELECT 1 FROM results"
	" WHERE run_id = ?2) ON CONFLICT (target, kind, key) DO UPDATE SET"
	" record = excluded.record WHERE ?5 AND record IS NOT excluded.record",

	QUEUE
	"?1, 'stat', json_array(run_id, json(group_key)),"
	" json_object('run_id', run_id, 'group_key', json(group_key),"
	" 'record', json(record)) FROM stats WHERE run_id = ?2" UPSERT,
};

/*
 * One snapshot per model of the run: its saved stat for the group
 * {"model": M} when bm-stats --save stored one, else the counts.
 */
static const char snapshot_sql[] =
	QUEUE
	"?1, 'snapshot', json_array(m.run_id, m.model, env),"
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

/*
 * Bind ?1..?4 (and ?5, reset, to the results' statement) and run one
 * queue statement; adds the records queued to *n (the run's results for
 * their entry).
 */
static int
queue(struct bm_db *db, const char *sql, const char *target,
    const char *run_id, const struct bm_outbox_run *opt, int reset,
    long long *n, struct bm_error *e)
{
	struct bm_db_stmt *st = bm_db_prepare(db, sql, e);
	int results = sql == queue_sql[QUEUE_RESULTS];

	if (!st)
		return -1;
	bm_db_bind_text(st, 1, target);
	bm_db_bind_text(st, 2, run_id);
	bm_db_bind_text(st, 3, opt->env);
	bm_db_bind_text(st, 4, opt->commit_sha);
	if (results)
		bm_db_bind_int(st, 5, reset);
	if (bm_db_step(st, e) < 0)
		return -1;
	if (!results || bm_db_changes(db) == 0)
		*n += bm_db_changes(db);
	else if (bm_db_first(db, "SELECT total(results) FROM run_models"
	    " WHERE run_id = ?1", &st, e, 1, run_id) == 1) {
		*n += bm_db_col_int(st, 0);
		bm_db_reset(st);
	} else
		return -1;
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

/*
 * The catalog's benchmarks that run's results name, into
 * temp.bm_push_benches.  Each is looked up on the index of
 * results.benchmark_id between the run's first and last rowid (which the
 * run's own index entries give): reading every result row of the run
 * instead cost as much as reading them again to send them.  0 or -1.
 */
static int
run_benches(struct bm_db *db, const char *run_id, struct bm_error *e)
{
	struct bm_db_stmt *st;

	if (bm_db_exec(db, "CREATE TEMP TABLE IF NOT EXISTS bm_push_benches"
	    " (id TEXT PRIMARY KEY)", e) < 0 ||
	    bm_db_exec(db, "DELETE FROM temp.bm_push_benches", e) < 0 ||
	    bm_db_first(db, "INSERT INTO temp.bm_push_benches SELECT b.id"
	    " FROM benchmarks b, (SELECT min(rowid) AS lo, max(rowid) AS hi"
	    " FROM results WHERE run_id = ?1) WHERE EXISTS (SELECT 1"
	    " FROM results r INDEXED BY results_benchmark_id"
	    " WHERE r.benchmark_id = b.id AND r.rowid BETWEEN lo AND hi"
	    " AND r.run_id = ?1)", &st, e, 1, run_id) < 0)
		return -1;
	return 0;
}

/*
 * Is the revision of run's results last queued for target the current
 * one (so that a results entry still waiting may resume from its
 * cursor)?  1, 0 or -1.
 */
#define RUN_KEPT "SELECT p.queued_rev IS r.results_rev FROM runs r" \
	" JOIN push_runs p ON p.target = ?1 AND p.run_id = r.id" \
	" WHERE r.id = ?2"

int
bm_outbox_queue_run(struct bm_db *db, const char *target,
    const char *run_id, const struct bm_outbox_run *opt, long long *n,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	size_t i;
	int same, kept;

	*n = 0;
	if ((same = run_query(db, RUN_CONFIRMED, target, run_id, e)) < 0 ||
	    (kept = run_query(db, RUN_KEPT, target, run_id, e)) < 0)
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
	if (run_benches(db, run_id, e) < 0)
		return -1;
	for (i = 0; i < sizeof(queue_sql) / sizeof(queue_sql[0]); i++)
		if ((i != QUEUE_RESULTS || !same || opt->resend) &&
		    queue(db, queue_sql[i], target, run_id, opt, !kept, n,
		    e) < 0)
			return -1;
	if (opt->snapshot &&
	    queue(db, snapshot_sql, target, run_id, opt, 0, n, e) < 0)
		return -1;
	return 0;
}

/* Input records: ?1 target, ?2 the line. */
static const char line_result_sql[] =
	QUEUE
	"?1, 'result', json_array(r->>'run_id', r->>'case_id',"
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
	QUEUE
	"?1, 'stat', json_array(r->>'run_id', json(r->'group')),"
	" json_object('run_id', r->>'run_id', 'group_key', json(r->'group'),"
	" 'record', json(r)) FROM (SELECT ?2 AS r)"
	" WHERE r->>'run_id' IS NOT NULL AND r->'group' IS NOT NULL" UPSERT;

static const char line_run_sql[] =
	QUEUE
	"?1, 'run', json_array(r->>'id'), json_object('id', r->>'id',"
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
		/* Records of one run in a row share its id. */
		if (i == 0 || b->runs[i] != b->runs[i - 1])
			free(b->runs[i]);
	}
	b->n = 0;
	b->rows = 0;
	free(b->from_case);
	free(b->to_case);
	b->from_case = b->to_case = NULL;
}

long long
bm_outbox_batch_records(const struct bm_outbox_batch *b)
{
	return b->kind && b->kind->range ? b->rows : b->n;
}

/*
 * b holds a run's results entry whose cursor is (after, step): its next
 * rows, up to max, are the batch; the last of them ends it.  Found on the
 * primary key's index alone: the max-th row from the cursor on, else the
 * count and last of the rows left.  0 or -1.
 */
#define AFTER " FROM main.results WHERE run_id = ?1" \
	" AND (case_id, step) > (?2, ?3)"

static int
range_next(struct bm_db *db, struct bm_outbox_batch *b, const char *after,
    long long step, long max, struct bm_error *e)
{
	static const char *const sql[] = {
		"SELECT case_id, step, ?4 + 1" AFTER " ORDER BY case_id, step"
		" LIMIT 1 OFFSET ?4",
		"SELECT case_id, step, (SELECT count(*)" AFTER ")" AFTER
		" ORDER BY case_id DESC, step DESC LIMIT 1",
	};
	struct bm_db_stmt *st;
	size_t i;
	int r = 0;

	b->from_case = xstrdup(after);
	b->from_step = step;
	for (i = 0; i < 2 && r == 0; i++) {
		if (!(st = bm_db_prepare(db, sql[i], e)))
			return -1;
		bm_db_bind_text(st, 1, b->runs[0]);
		bm_db_bind_text(st, 2, after);
		bm_db_bind_int(st, 3, step);
		bm_db_bind_int(st, 4, max - 1);
		if ((r = bm_db_step(st, e)) < 0)
			return -1;
	}
	if (r == 0) {		/* nothing after the cursor */
		b->to_case = xstrdup(after);
		b->to_step = step;
		return 0;
	}
	b->to_case = xstrdup(bm_db_col_text(st, 0));
	b->to_step = bm_db_col_int(st, 1);
	b->rows = bm_db_col_int(st, 2);
	bm_db_reset(st);
	return 0;
}

/*
 * The run id a key starts with (["ID", ...]), or NULL; *len is where
 * the string ends in key.  Most ids need no unescaping.
 */
static char *
key_run(const char *key, size_t *len)
{
	const char *p;
	cJSON *j;
	char *id = NULL;

	if (strncmp(key, "[\"", 2) != 0)
		return NULL;
	p = key + 2 + strcspn(key + 2, "\"\\");
	if (*p == '"') {
		*len = (size_t)(p + 1 - key);
		return xstrndup(key + 2, (size_t)(p - key - 2));
	}
	j = cJSON_Parse(key);
	if (cJSON_IsString(cJSON_GetArrayItem(j, 0)))
		id = xstrdup(cJSON_GetArrayItem(j, 0)->valuestring);
	cJSON_Delete(j);
	*len = 0;		/* never compared */
	return id;
}

int
bm_outbox_next(struct bm_db *db, const char *target, long max,
    struct bm_outbox_batch *b, struct bm_error *e)
{
	struct bm_db_stmt *st;
	const struct bm_outbox_kind *k;
	struct bm_buf prev = BM_BUF_INIT;
	const char *key;
	size_t plen = 0;
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
	st = bm_db_prepare(db, "SELECT id, kind, record, key,"
	    " CASE kind WHEN 'results' THEN coalesce(record->>'$.after[0]',"
	    " '') END, CASE kind WHEN 'results' THEN coalesce("
	    " record->>'$.after[1]', -1) END FROM push_outbox"
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
		/*
		 * One kind per batch; snapshots one at a time, a run's
		 * results alone.
		 */
		if (b->kind && (k != b->kind || k->local == NULL ||
		    k->range))
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
		/* The run: the previous record's, when the key starts so. */
		key = k->run ? bm_db_col_text(st, 3) : NULL;
		if (key && b->n > 0 && b->runs[b->n - 1] && plen > 0 &&
		    strncmp(key, prev.s, plen) == 0 && (key[plen] == ',' ||
		    key[plen] == ']'))
			b->runs[b->n] = b->runs[b->n - 1];
		else if (key && (b->runs[b->n] = key_run(key, &plen)) != NULL) {
			bm_buf_reset(&prev);
			bm_buf_add(&prev, key, plen);
		} else
			b->runs[b->n] = NULL;
		b->last = b->ids[b->n];
		b->n++;
		if (k->range) {
			/* Read again until confirmed to its end. */
			b->last = b->ids[0] - 1;
			if (!b->runs[0] || range_next(db, b,
			    bm_db_col_text(st, 4), bm_db_col_int(st, 5), max,
			    e) < 0)
				r = -1;
			break;
		}
	}
	bm_buf_free(&prev);
	if (r < 0) {
		if (!e->msg)
			bm_error_set(e, NULL, 0, 0, "push_outbox: %lld: not"
			    " a run's key", b->ids[0]);
		bm_db_reset(st);
		return -1;
	}
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
	" AND kind IN ('run', 'result', 'results', 'stat', 'snapshot')" \
	" AND key > p AND key < p || '~' LIMIT 1"

/* The cursor of entry ?1 is (?2, ?3), as range_next read it. */
#define AT_CURSOR " WHERE id = ?1 AND coalesce(record->>'$.after[0]', '')" \
	" IS ?2 AND coalesce(record->>'$.after[1]', -1) IS ?3"

/*
 * The remote confirmed b, a run's results up to (to_case, to_step): the
 * entry's cursor moves there, and the entry is deleted when no result of
 * the run is after it.  Neither when another bm-push queued the entry
 * again meanwhile (its cursor is not where b began or ends).  0 or -1.
 */
static int
range_done(struct bm_db *db, const struct bm_outbox_batch *b,
    struct bm_error *e)
{
	struct bm_db_stmt *st;

	if (b->rows > 0) {
		st = bm_db_prepare(db, "UPDATE push_outbox SET record ="
		    " json_set(record, '$.after', json_array(?4, ?5))"
		    AT_CURSOR, e);
		if (!st)
			return -1;
		bm_db_bind_int(st, 1, b->ids[0]);
		bm_db_bind_text(st, 2, b->from_case);
		bm_db_bind_int(st, 3, b->from_step);
		bm_db_bind_text(st, 4, b->to_case);
		bm_db_bind_int(st, 5, b->to_step);
		if (bm_db_step(st, e) < 0)
			return -1;
	}
	st = bm_db_prepare(db, "DELETE FROM push_outbox" AT_CURSOR
	    " AND NOT EXISTS (SELECT 1 FROM main.results WHERE run_id = ?4"
	    " AND (case_id, step) > (?2, ?3))", e);
	if (!st)
		return -1;
	bm_db_bind_int(st, 1, b->ids[0]);
	bm_db_bind_text(st, 2, b->to_case);
	bm_db_bind_int(st, 3, b->to_step);
	bm_db_bind_text(st, 4, b->runs[0]);
	return bm_db_step(st, e) < 0 ? -1 : 0;
}

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
	 * last (bm_outbox_next stops at another kind); a run's results
	 * move their cursor instead.
	 */
	if (b->kind && b->kind->range) {
		if (range_done(db, b, e) < 0)
			goto fail;
	} else if (!(del = bm_db_prepare(db, "DELETE FROM push_outbox"
	    " WHERE id BETWEEN ?1 AND ?2 AND +target = ?3 AND +kind = ?4",
	    e)))
		goto fail;
	else if (b->n > 0) {
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

	st = bm_db_prepare(db, "SELECT coalesce(sum(" BM_OUTBOX_RECORDS
	    "), 0) FROM push_outbox o WHERE ?1 IS NULL OR o.target = ?1", e);
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

/*
 * The rows of a range kind: run ?1's after (?2, ?3) up to and with
 * (?4, ?5), in key order (a range of the primary key's index).
 */
static char *
range_sql(const struct bm_outbox_kind *k)
{
	return xasprintf("SELECT %s FROM main.%s WHERE run_id = ?1 AND"
	    " (case_id, step) > (?2, ?3) AND (case_id, step) <= (?4, ?5)"
	    " ORDER BY case_id, step", k->cols, k->local);
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
	if (k->range)
		return sql[!!json][i] = range_sql(k);
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

void
bm_outbox_rows_bind(struct bm_db_stmt *st, const char *target,
    const struct bm_outbox_batch *b)
{
	if (b->kind->range) {
		bm_db_bind_text(st, 1, b->runs[0]);
		bm_db_bind_text(st, 2, b->from_case);
		bm_db_bind_int(st, 3, b->from_step);
		bm_db_bind_text(st, 4, b->to_case);
		bm_db_bind_int(st, 5, b->to_step);
		return;
	}
	bm_db_bind_int(st, 1, b->ids[0]);
	bm_db_bind_int(st, 2, b->ids[b->n - 1]);
	bm_db_bind_text(st, 3, target);
	bm_db_bind_text(st, 4, b->kind->kind);
}

/*
 * d as SQLite prints a REAL ("%!.15g": 1245.5, 500.0, 0.0001, 3.8e-06)
 * into buf, when d is the double nearest to a decimal m / 10^j of at
 * most 15 digits, as latencies, costs and scores are: its 15-digit
 * rounding is then m's digits.  NULL for any other d (SQLite prints it):
 * formatting every REAL through SQLite's printf cost more than reading
 * the rows.
 */
static const char *
real_text(char *buf, double d)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
	    1e18, 1e19, 1e20, 1e21, 1e22 };
	char dig[16], *p = buf;
	double a = fabs(d), m = 0;
	unsigned long long u;
	int j, n = 0, x, i;

	if (d == 0)
		return "0.0";
	if (!(a < 1e15))
		return NULL;
	for (j = 0; j < 23; j++) {
		if ((m = rint(a * p10[j])) >= 1e15)
			return NULL;
		if (m / p10[j] == a)
			break;
	}
	if (j == 23)
		return NULL;
	/* m's digits, last first; there are none trailing after a point. */
	for (u = (unsigned long long)m; u; u /= 10)
		dig[n++] = (char)('0' + u % 10);
	x = n - 1 - j;		/* the decimal exponent */
	if (d < 0)
		*p++ = '-';
	if (x < -4) {
		*p++ = dig[n - 1];
		*p++ = '.';
		if (n == 1)
			*p++ = '0';
		for (i = n - 2; i >= 0; i--)
			*p++ = dig[i];
		*p++ = 'e';
		*p++ = '-';
		if (-x >= 100)
			*p++ = (char)('0' + -x / 100);
		*p++ = (char)('0' + -x / 10 % 10);
		*p++ = (char)('0' + -x % 10);
	} else if (x < 0) {
		*p++ = '0';
		*p++ = '.';
		for (i = 0; i < -x - 1; i++)
			*p++ = '0';
		for (i = n - 1; i >= 0; i--)
			*p++ = dig[i];
	} else {
		for (i = n - 1; i >= j; i--)
			*p++ = dig[i];
		*p++ = '.';
		if (j == 0)
			*p++ = '0';
		for (i = j - 1; i >= 0; i--)
			*p++ = dig[i];
	}
	*p = '\0';
	return buf;
}

/* What bm_outbox_rows needs of a kind, built once from its names. */
struct rows_kind {
	char *outbox;		/* the batch's entries: key, record */
	char *local;		/* the local row of a key: ?1... its values */
	char *range;		/* a run's rows in a range (range kinds) */
	char *extract;		/* a record's columns: ?1 the record */
	char *name[32];		/* '{"col":' for the first, then ',"col":' */
	size_t nlen[32];
	char json[32];		/* the column holds JSON */
	int ncols, nkeys;
};

static const struct rows_kind *
rows_kind(const struct bm_outbox_kind *k)
{
	static struct rows_kind rk[sizeof(bm_outbox_kinds) /
	    sizeof(bm_outbox_kinds[0])];
	struct rows_kind *r = &rk[k - bm_outbox_kinds];
	struct bm_buf l = BM_BUF_INIT, x = BM_BUF_INIT;
	const char *p;
	size_t n;
	int c = 0;

	if (r->outbox)
		return r;
	bm_buf_adds(&l, "SELECT ");
	bm_buf_adds(&x, "SELECT ");
	for (p = k->cols; *p && c < 32; p += n + (p[n] == ','), c++) {
		n = strcspn(p, ",");
		r->name[c] = xasprintf("%s\"%.*s\":", c ? "," : "{", (int)n,
		    p);
		r->nlen[c] = strlen(r->name[c]);
		r->json[c] = (char)in_list(k->json, p, n);
		bm_buf_addf(&l, "%s%.*s", c ? ", " : "", (int)n, p);
		bm_buf_addf(&x, "%sjson_extract(?1, '$.%.*s')", c ? ", " : "",
		    (int)n, p);
	}
	r->ncols = *p ? 33 : c;		/* more than 32: refused */
	bm_buf_addf(&l, " FROM main.%s WHERE ", k->local ? k->local : "");
	for (p = k->keys, c = 1; *p; p += n + (p[n] == ','), c++) {
		n = strcspn(p, ",");
		bm_buf_addf(&l, "%s%.*s = ?%d", c > 1 ? " AND " : "", (int)n,
		    p, c);
	}
	r->nkeys = c - 1;
	if (k->range)
		r->range = range_sql(k);
	r->local = bm_buf_detach(&l, NULL);
	r->extract = bm_buf_detach(&x, NULL);
	r->outbox = xstrdup("SELECT key, record FROM main.push_outbox"
	    " WHERE id BETWEEN ?1 AND ?2 AND +target = ?3 AND +kind = ?4"
	    " ORDER BY id");
	return r;
}

/*
 * Bind key's values (a JSON array of n strings and numbers) to st's
 * ?1..?n, as json_extract would give them; 0, or -1 when key is not
 * such an array.  Most keys are read without a parser.
 */
static int
bind_key(struct bm_db_stmt *st, const char *key, int n)
{
	const char *p = key, *q;
	cJSON *j, *it;
	char *end;
	long long v;
	int i;

	if (*p++ != '[')
		return -1;
	for (i = 1; i <= n; i++, p++) {
		if (*p == '"') {
			q = p + 1 + strcspn(p + 1, "\"\\");
			if (*q != '"')
				break;
			bm_db_bind_textn(st, i, p + 1, (size_t)(q - p - 1));
			p = q + 1;
		} else {
			v = strtoll(p, &end, 10);
			if (end == p || end - p > 15 || *end == '.' ||
			    *end == 'e' || *end == 'E')
				break;
			bm_db_bind_int(st, i, v);
			p = end;
		}
		if (*p != (i == n ? ']' : ','))
			break;
	}
	if (i > n && *p == '\0')
		return 0;
	j = cJSON_Parse(key);
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != n) {
		cJSON_Delete(j);
		return -1;
	}
	i = 1;
	cJSON_ArrayForEach(it, j) {
		if (cJSON_IsString(it))
			bm_db_bind_text(st, i, it->valuestring);
		else if (cJSON_IsNumber(it) && it->valuedouble ==
		    (double)(long long)it->valuedouble)
			bm_db_bind_int(st, i, (long long)it->valuedouble);
		else if (cJSON_IsNumber(it))
			bm_db_bind_double(st, i, it->valuedouble);
		else
			bm_db_bind_null(st, i);
		i++;
	}
	cJSON_Delete(j);
	return 0;
}

/*
 * Column c of st's row as text in vals[c] (NULL for null; a REAL as
 * SQLite prints it, most without SQLite's printf); its type in type[c].
 */
static void
row_texts(struct bm_db_stmt *st, int ncols, const char **vals, int *type,
    char (*num)[32])
{
	int c;

	for (c = 0; c < ncols; c++) {
		/* The type first: reading it as text converts it. */
		type[c] = bm_db_col_type(st, c);
		if (type[c] != BM_DB_REAL || !(vals[c] = real_text(num[c],
		    bm_db_col_double(st, c))))
			vals[c] = bm_db_col_text(st, c);
	}
}

/*
 * st's row as a JSON object in b: the kind's JSON columns as they are,
 * text quoted, numbers as SQLite prints them (infinities as json_quote
 * spells them).
 */
static const char *
row_object(struct bm_buf *b, const struct rows_kind *r, struct bm_db_stmt *st)
{
	char num[32];
	const char *v;
	int c, t;

	bm_buf_reset(b);
	for (c = 0; c < r->ncols; c++) {
		bm_buf_add(b, r->name[c], r->nlen[c]);
		t = bm_db_col_type(st, c);
		if (t == BM_DB_NULL) {
			bm_buf_add(b, "null", 4);
		} else if (t == BM_DB_INT) {
			bm_json_put_long(b, (long)bm_db_col_int(st, c));
		} else if (t == BM_DB_REAL) {
			if (!(v = real_text(num, bm_db_col_double(st, c))))
				v = bm_db_col_text(st, c);
			if (strcmp(v + (*v == '-'), "Inf") == 0)
				v = *v == '-' ? "-9.0e+999" : "9.0e+999";
			bm_buf_adds(b, v);
		} else if (r->json[c]) {
			v = bm_db_col_text(st, c);
			bm_buf_add(b, v, bm_db_col_len(st, c));
		} else {
			v = bm_db_col_text(st, c);
			bm_json_put_strn(b, v, strlen(v));
		}
	}
	bm_buf_addc(b, '}');
	return b->s;
}

/*
 * st's row to fn: one JSON object (built in obj), or its columns as
 * texts.  At most 32 columns (bm_outbox_rows checks).
 */
static void
put_row(const struct rows_kind *r, struct bm_db_stmt *st, int json,
    struct bm_buf *obj, bm_outbox_row_fn *fn, void *arg)
{
	const char *vals[32];
	char num[32][32];
	int type[32];

	if (json) {
		vals[0] = row_object(obj, r, st);
		fn(arg, 1, vals);
	} else {
		row_texts(st, r->ncols, vals, type, num);
		fn(arg, r->ncols, vals);
	}
}

/* bm_outbox_rows of a range kind: the rows, straight from their table. */
static int
range_rows(struct bm_db *db, const struct rows_kind *r,
    const struct bm_outbox_batch *b, int json, bm_outbox_row_fn *fn,
    void *arg, struct bm_error *e)
{
	int rc;
	struct bm_db_stmt *st = bm_db_prepare(db, r->range, e);
	struct bm_buf obj = BM_BUF_INIT;

	if (!st)
		return -1;
	bm_outbox_rows_bind(st, NULL, b);
	while ((rc = bm_db_step(st, e)) == 1)
		put_row(r, st, json, &obj, fn, arg);
	bm_buf_free(&obj);
	return rc;
}

int
bm_outbox_rows(struct bm_db *db, const char *target,
    const struct bm_outbox_batch *b, int json, bm_outbox_row_fn *fn,
    void *arg, struct bm_error *e)
{
	const struct rows_kind *r = rows_kind(b->kind);
	const char *rec;
	struct bm_db_stmt *o, *l = NULL, *x = NULL;
	struct bm_buf obj = BM_BUF_INIT;
	int rc;

	if (r->ncols > 32) {
		bm_error_set(e, NULL, 0, 0, "%s: too many columns",
		    b->kind->table);
		return -1;
	}
	if (b->n == 0 || (b->kind->range && b->rows == 0))
		return 0;
	if (b->kind->range)
		return range_rows(db, r, b, json, fn, arg, e);
	/*
	 * The batch's entries in order; an empty record is read from the
	 * local table by its key (one deleted since is not sent), any other
	 * is the record (its columns, for COPY, as json_extract gives them).
	 */
	if (!(o = bm_db_prepare(db, r->outbox, e)) || (b->kind->compact &&
	    !(l = bm_db_prepare(db, r->local, e))) || (!json &&
	    !(x = bm_db_prepare(db, r->extract, e))))
		return -1;
	bm_db_bind_int(o, 1, b->ids[0]);
	bm_db_bind_int(o, 2, b->ids[b->n - 1]);
	bm_db_bind_text(o, 3, target);
	bm_db_bind_text(o, 4, b->kind->kind);
	while ((rc = bm_db_step(o, e)) == 1) {
		rec = bm_db_col_text(o, 1);
		if (rec && *rec == '\0' && l) {
			if (bind_key(l, bm_db_col_text(o, 0), r->nkeys) < 0)
				continue;
			if ((rc = bm_db_step(l, e)) < 0)
				break;
			if (rc == 0)
				continue;
			put_row(r, l, json, &obj, fn, arg);
			bm_db_reset(l);
		} else if (json) {
			fn(arg, 1, &rec);
		} else {
			bm_db_bind_text(x, 1, rec);
			if ((rc = bm_db_step(x, e)) < 0)
				break;
			put_row(r, x, 0, &obj, fn, arg);
			bm_db_reset(x);
			rc = 1;
		}
	}
	if (rc < 0)
		bm_db_reset(o);
	bm_buf_free(&obj);
	return rc;
}
