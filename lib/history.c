/*
 * history.c: bm-runs' queries.  Listing reads the runs table and the
 * run_models counters that triggers on results keep exact (lib/db.c), so
 * it costs the same with a thousand results or a billion.  Removal runs in
 * one write transaction: a crash or kill -9 leaves every run whole or
 * gone.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "buf.h"
#include "history.h"
#include "jsonl.h"
#include "map.h"
#include "runs.h"
#include "xalloc.h"

/*
 * The columns of a run record, for a runs row r: its counters summed over
 * its run_models rows by one lookup (a correlated subquery costs less
 * than a join and a GROUP BY), as the JSON array [models, cases, results,
 * pass, fail, error, cancelled, cost_usd].  Costs are rounded to 1e-10
 * USD: sums of floats (and the triggers' subtractions) leave noise below.
 */
#define RUN_COLUMNS \
	"r.id, r.label, r.started_at, r.finished_at, r.status, r.pid," \
	" r.host, r.git_sha, r.environment, r.argv, r.rescored_from," \
	" r.resumed, (SELECT json_array(json_group_array(m.model)," \
	" sum(m.cases), sum(m.results), sum(m.pass), sum(m.fail)," \
	" sum(m.error), sum(m.cancelled), round(total(m.cost_usd), 10))" \
	" FROM run_models AS m WHERE m.run_id = r.id)"

static const char *const statuses[] = {
	"running", "finished", "interrupted", "failed", NULL
};

const char *
bm_history_status(const char *stored, long pid, const char *host)
{
	if (stored && strcmp(stored, "running") == 0 &&
	    !bm_runs_alive(pid, host))
		return "interrupted";
	return stored ? stored : "interrupted";
}

int
bm_history_status_ok(const char *s)
{
	size_t i;

	for (i = 0; statuses[i]; i++)
		if (strcmp(s, statuses[i]) == 0)
			return 1;
	return 0;
}

static void
add_text(cJSON *o, const char *k, const char *v)
{
	cJSON_AddItemToObject(o, k, v ? cJSON_CreateString(v) :
	    cJSON_CreateNull());
}

/* A JSON column (argv, the models array): parsed, else kept as text. */
static void
add_json(cJSON *o, const char *k, const char *v)
{
	cJSON *j = v ? cJSON_Parse(v) : NULL;

	if (j)
		cJSON_AddItemToObject(o, k, j);
	else
		add_text(o, k, v);
}

/* The run record of the row st holds (columns as RUN_COLUMNS). */
static cJSON *
run_record(struct bm_db_stmt *st)
{
	static const char *const counters[] = {
		"cases", "results", "pass", "fail", "error", "cancelled",
		"cost_usd"
	};
	const char *v = bm_db_col_text(st, 12);
	cJSON *r = cJSON_CreateObject(), *agg = v ? cJSON_Parse(v) : NULL;
	cJSON *models = cJSON_DetachItemFromArray(agg, 0), *it;
	size_t i;

	cJSON_AddStringToObject(r, "type", "run");
	add_text(r, "id", bm_db_col_text(st, 0));
	add_text(r, "label", bm_db_col_text(st, 1));
	add_text(r, "started_at", bm_db_col_text(st, 2));
	add_text(r, "finished_at", bm_db_col_text(st, 3));
	cJSON_AddStringToObject(r, "status", bm_history_status(
	    bm_db_col_text(st, 4), (long)bm_db_col_int(st, 5),
	    bm_db_col_text(st, 6)));
	cJSON_AddItemToObject(r, "models", cJSON_IsArray(models) ? models :
	    (cJSON_Delete(models), cJSON_CreateArray()));
	/* A run with no results sums to null: 0. */
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		it = cJSON_GetArrayItem(agg, (int)i);
		cJSON_AddNumberToObject(r, counters[i], cJSON_IsNumber(it) ?
		    it->valuedouble : 0);
	}
	cJSON_Delete(agg);
	add_text(r, "git_sha", bm_db_col_text(st, 7));
	add_text(r, "environment", bm_db_col_text(st, 8));
	add_text(r, "host", bm_db_col_text(st, 6));
	add_json(r, "argv", bm_db_col_text(st, 9));
	add_text(r, "rescored_from", bm_db_col_text(st, 10));
	cJSON_AddNumberToObject(r, "resumed", (double)bm_db_col_int(st, 11));
	return r;
}

int
bm_history_each(struct bm_db *db, const struct bm_history_filter *f,
    int (*fn)(cJSON *run, void *arg, struct bm_error *e), void *arg,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	cJSON *r;
	long n = 0;
	int rc = 0;

	/*
	 * The limit goes into SQL only when every filter is SQL's: the
	 * effective status is known only here.
	 */
	st = bm_db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs AS r WHERE"
	    " (?1 IS NULL OR r.started_at >= ?1) AND (?2 IS NULL OR EXISTS"
	    " (SELECT 1 FROM run_models AS x WHERE x.run_id = r.id AND"
	    " x.model = ?2)) AND (?4 IS NULL OR r.started_at < (SELECT"
	    " started_at FROM runs WHERE id = ?4) OR (r.started_at = (SELECT"
	    " started_at FROM runs WHERE id = ?4) AND r.rowid <= (SELECT"
	    " rowid FROM runs WHERE id = ?4))) AND (?5 = 0 OR EXISTS"
	    " (SELECT 1 FROM run_models AS y WHERE y.run_id = r.id))"
	    " ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?3", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, f->since);
	bm_db_bind_text(st, 2, f->model);
	bm_db_bind_int(st, 3, f->status ? -1 : f->limit);
	bm_db_bind_text(st, 4, f->until);
	bm_db_bind_int(st, 5, f->with_results != 0);
	while ((f->limit < 0 || n < f->limit) &&
	    (rc = bm_db_step(st, e)) == 1) {
		r = run_record(st);
		if (f->status && strcmp(bm_json_str(r, "status"),
		    f->status) != 0) {
			cJSON_Delete(r);
			continue;
		}
		n++;
		if ((rc = fn(r, arg, e)) < 0)
			break;
	}
	bm_db_reset(st);
	return rc < 0 ? -1 : 0;
}

static int
append(cJSON *run, void *arr, struct bm_error *e)
{
	(void)e;
	cJSON_AddItemToArray(arr, run);
	return 0;
}

cJSON *
bm_history_list(struct bm_db *db, const struct bm_history_filter *f,
    struct bm_error *e)
{
	cJSON *out = cJSON_CreateArray();

	if (bm_history_each(db, f, append, out, e) < 0) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

cJSON *
bm_history_run(struct bm_db *db, const char *id, struct bm_error *e)
{
	struct bm_db_stmt *st;
	cJSON *r = NULL;
	int rc;

	st = bm_db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs AS r WHERE"
	    " r.id = ?", e);
	if (!st)
		return NULL;
	bm_db_bind_text(st, 1, id);
	rc = bm_db_step(st, e);
	if (rc == 1)
		r = run_record(st);
	else if (rc == 0)
		bm_error_set(e, bm_db_path(db), 0, 0, "no run '%s'", id);
	bm_db_reset(st);
	return r;
}

/* The q-quantile of sorted v[0..n-1], interpolated as numpy's default. */
static double
quantile(const double *v, size_t n, double q)
{
	double h = q * (double)(n - 1), lo = floor(h);
	size_t i = (size_t)lo;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (h - lo) * (v[i + 1] - v[i]);
}

/* Give the summary of model its latency_ms from sorted lat[0..n-1]. */
static void
add_latency(cJSON *summary, const char *model, const double *lat, size_t n)
{
	cJSON *s, *l;

	cJSON_ArrayForEach(s, summary)
		if (strcmp(bm_json_str(s, "model"), model) == 0)
			break;
	if (!s || n == 0)
		return;
	l = cJSON_CreateObject();
	cJSON_AddNumberToObject(l, "p50", quantile(lat, n, 0.50));
	cJSON_AddNumberToObject(l, "p95", quantile(lat, n, 0.95));
	cJSON_ReplaceItemInObjectCaseSensitive(s, "latency_ms", l);
}

cJSON *
bm_history_models(struct bm_db *db, const char *id, struct bm_error *e)
{
	struct bm_db_stmt *st;
	cJSON *out = cJSON_CreateArray(), *s;
	double *lat = NULL;
	size_t n = 0, cap = 0;
	char *model = NULL;
	const char *m;
	int rc;

	st = bm_db_prepare(db, "SELECT model, cases, results, pass, fail,"
	    " error, cancelled, round(cost_usd, 10) FROM run_models WHERE"
	    " run_id = ? ORDER BY model", e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, id);
	while ((rc = bm_db_step(st, e)) == 1) {
		s = cJSON_CreateObject();
		add_text(s, "model", bm_db_col_text(st, 0));
		cJSON_AddNumberToObject(s, "cases", bm_db_col_int(st, 1));
		cJSON_AddNumberToObject(s, "results", bm_db_col_int(st, 2));
		cJSON_AddNumberToObject(s, "pass", bm_db_col_int(st, 3));
		cJSON_AddNumberToObject(s, "fail", bm_db_col_int(st, 4));
		cJSON_AddNumberToObject(s, "error", bm_db_col_int(st, 5));
		cJSON_AddNumberToObject(s, "cancelled",
		    bm_db_col_int(st, 6));
		cJSON_AddNumberToObject(s, "cost_usd",
		    bm_db_col_double(st, 7));
		cJSON_AddNullToObject(s, "latency_ms");
		cJSON_AddItemToArray(out, s);
	}
	if (rc < 0)
		goto fail;
	/* Latency counts answered results only (DESIGN.md §10). */
	st = bm_db_prepare(db, "SELECT model, latency_ms FROM results WHERE"
	    " run_id = ? AND status IN ('pass', 'fail') AND latency_ms IS NOT"
	    " NULL ORDER BY model, latency_ms", e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, id);
	while ((rc = bm_db_step(st, e)) == 1) {
		m = bm_db_col_text(st, 0);
		if (model && strcmp(model, m) != 0) {
			add_latency(out, model, lat, n);
			n = 0;
		}
		if (!model || n == 0) {
			free(model);
			model = xstrdup(m);
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			lat = xreallocarray(lat, cap, sizeof(*lat));
		}
		lat[n++] = bm_db_col_double(st, 1);
	}
	if (rc < 0)
		goto fail;
	if (model)
		add_latency(out, model, lat, n);
	free(model);
	free(lat);
	return out;
fail:
	free(model);
	free(lat);
	cJSON_Delete(out);
	return NULL;
}

/* Append arg to b quoted for sh, as little as needed. */
static void
sh_quote(struct bm_buf *b, const char *arg)
{
	const char *p;

	if (*arg && strspn(arg, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-") == strlen(arg)) {
		bm_buf_adds(b, arg);
		return;
	}
	bm_buf_addc(b, '\'');
	for (p = arg; *p; p++)
		if (*p == '\'')
			bm_buf_adds(b, "'\\''");
		else
			bm_buf_addc(b, *p);
	bm_buf_addc(b, '\'');
}

char *
bm_history_resume(const cJSON *run)
{
	struct bm_buf b = BM_BUF_INIT;
	const char *status = bm_json_str(run, "status");
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(run, "argv"), *a;
	const cJSON *list = cJSON_IsArray(argv) ? argv : NULL;
	int skip = 0, first = 1;

	if (!status || (strcmp(status, "interrupted") != 0 &&
	    strcmp(status, "failed") != 0))
		return NULL;
	cJSON_ArrayForEach(a, list) {
		if (!cJSON_IsString(a))
			continue;
		if (skip) {
			skip = 0;
			continue;
		}
		/* The run is named once, at the end. */
		if (strcmp(a->valuestring, "--run-id") == 0 ||
		    strcmp(a->valuestring, "--resume") == 0) {
			skip = 1;
			continue;
		}
		if (strncmp(a->valuestring, "--run-id=", 9) == 0 ||
		    strncmp(a->valuestring, "--resume=", 9) == 0)
			continue;
		if (!first)
			bm_buf_addc(&b, ' ');
		sh_quote(&b, a->valuestring);
		first = 0;
	}
	if (first)
		bm_buf_adds(&b, "bm-exec");
	bm_buf_adds(&b, " --resume ");
	sh_quote(&b, bm_json_str(run, "id") ? bm_json_str(run, "id") : "");
	return bm_buf_detach(&b, NULL);
}

/* Does some run's id equal text (1), start with it (2), or neither (0)? */
static int
id_like(struct bm_db *db, const char *text, char **which,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	rc = bm_db_first(db, "SELECT id, id = ?1 FROM runs WHERE"
	    " substr(id, 1, length(?1)) = ?1 ORDER BY id = ?1 DESC,"
	    " started_at DESC LIMIT 1", &st, e, 1, text);
	if (rc == 1) {
		*which = xstrdup(bm_db_col_text(st, 0));
		rc = bm_db_col_int(st, 1) ? 1 : 2;
		bm_db_reset(st);
	}
	return rc;
}

int
bm_history_label_check(struct bm_db *db, const char *text,
    struct bm_error *e)
{
	const unsigned char *p;
	char *which = NULL;
	int rc;

	if (!*text || strlen(text) > 200) {
		bm_error_set(e, NULL, 0, 0, "a label has 1 to 200 bytes");
		return -1;
	}
	for (p = (const unsigned char *)text; *p; p++)
		if (*p <= ' ' || *p == 0x7f) {
			bm_error_set(e, NULL, 0, 0, "label '%s': a label has no"
			    " blanks or control characters", text);
			return -1;
		}
	/* RUN syntax means the latest runs, whatever a label says. */
	if (strcmp(text, "last") == 0 || strncmp(text, "last~", 5) == 0) {
		bm_error_set(e, NULL, 0, 0, "label '%s': 'last' and 'last~N'"
		    " name the latest runs", text);
		return -1;
	}
	if (text[0] == 'r' && text[1] == '-' &&
	    isdigit((unsigned char)text[2])) {
		bm_error_set(e, NULL, 0, 0, "label '%s' looks like a run id",
		    text);
		return -1;
	}
	rc = id_like(db, text, &which, e);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (rc == 1)
			bm_error_set(e, NULL, 0, 0, "label '%s' is a run id",
			    text);
		else
			bm_error_set(e, NULL, 0, 0, "label '%s' is a prefix of"
			    " run id %s", text, which);
		free(which);
		return -1;
	}
	return 0;
}

int
bm_history_label(struct bm_db *db, const char *id, const char *text,
    int force, struct bm_error *e)
{
	struct bm_db_stmt *st;
	char *holder = NULL;
	int rc;

	if (bm_db_begin(db, e) < 0)
		return -1;
	if (text) {
		st = bm_db_prepare(db, "SELECT id FROM runs WHERE label = ?"
		    " AND id IS NOT ?", e);
		if (!st)
			goto fail;
		bm_db_bind_text(st, 1, text);
		bm_db_bind_text(st, 2, id);
		rc = bm_db_step(st, e);
		if (rc < 0)
			goto fail;
		if (rc == 1) {
			holder = xstrdup(bm_db_col_text(st, 0));
			bm_db_reset(st);
		}
	}
	if (holder && !force) {
		bm_error_set(e, NULL, 0, 0, "label '%s' is on run %s (--force"
		    " moves it)", text, holder);
		free(holder);
		bm_db_rollback(db);
		return 1;
	}
	free(holder);
	/* Moving: the old holder lets go first (labels are unique). */
	st = bm_db_prepare(db, "UPDATE runs SET label = NULL WHERE label = ?",
	    e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, text);
	if (text && bm_db_step(st, e) < 0)
		goto fail;
	bm_db_reset(st);
	st = bm_db_prepare(db, "UPDATE runs SET label = ? WHERE id = ?", e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, text);
	bm_db_bind_text(st, 2, id);
	if (bm_db_step(st, e) < 0)
		goto fail;
	if (bm_db_changes(db) != 1) {
		bm_error_set(e, bm_db_path(db), 0, 0, "no run '%s'", id);
		goto fail;
	}
	return bm_db_commit(db, e);
fail:
	bm_db_rollback(db);
	return -1;
}

/* The one integer sql (one text parameter) yields; -1 on error. */
static long long
count(struct bm_db *db, const char *sql, const char *arg, struct bm_error *e)
{
	struct bm_db_stmt *st = bm_db_prepare(db, sql, e);
	long long n;
	int rc;

	if (!st)
		return -1;
	bm_db_bind_text(st, 1, arg);
	rc = bm_db_step(st, e);
	if (rc < 0)
		return -1;
	n = rc == 1 ? bm_db_col_int(st, 0) : 0;
	bm_db_reset(st);
	return n;
}

/* Run sql (one text parameter) to its end; the rows it changed, or -1. */
static long long
run(struct bm_db *db, const char *sql, const char *arg, struct bm_error *e)
{
	struct bm_db_stmt *st = bm_db_prepare(db, sql, e);

	if (!st)
		return -1;
	bm_db_bind_text(st, 1, arg);
	if (bm_db_step(st, e) < 0)
		return -1;
	return bm_db_changes(db);
}

/*
 * An outbox row belongs to a run when its record carries the run's id:
 * as run_id (results, stats), or as id of a run record.  A record that
 * is not JSON belongs to none.
 */
#define OUTBOX_OF_RUN \
	" FROM push_outbox WHERE CASE WHEN json_valid(record) THEN" \
	" json_extract(record, '$.run_id') IS ?1 OR (kind = 'run' AND" \
	" json_extract(record, '$.id') IS ?1) END"

/*
 * Remove (or count) one run inside the open transaction: its run_models
 * rows directly, then its rows in results (with the per-row trigger set
 * aside by remove_all), stats, the outbox and runs.  0, 1 refused
 * (running), or -1.
 */
static int
remove_one(struct bm_db *db, const char *id, int dry, cJSON **removed,
    struct bm_history_counts *c, struct bm_error *e)
{
	cJSON *rec = bm_history_run(db, id, e);
	long long n[3];

	if (!rec)
		return -1;
	if (strcmp(bm_json_str(rec, "status"), "running") == 0) {
		bm_error_set(e, NULL, 0, 0, "run %s is running on %s: nothing"
		    " removed", id, bm_json_str(rec, "host") ?
		    bm_json_str(rec, "host") : "an unknown host");
		cJSON_Delete(rec);
		return 1;
	}
	n[0] = (long long)bm_json_numor(rec, "results", 0);
	n[1] = count(db, "SELECT count(*) FROM stats WHERE run_id = ?", id,
	    e);
	n[2] = count(db, "SELECT count(*)" OUTBOX_OF_RUN, id, e);
	if (n[1] < 0 || n[2] < 0 ||
	    (!dry && (run(db, "DELETE FROM run_models WHERE run_id = ?", id,
	    e) < 0 ||
	    run(db, "DELETE FROM results WHERE run_id = ?", id, e) < 0 ||
	    run(db, "DELETE FROM stats WHERE run_id = ?", id, e) < 0 ||
	    run(db, "DELETE" OUTBOX_OF_RUN, id, e) < 0 ||
	    run(db, "DELETE FROM runs WHERE id = ?", id, e) < 0))) {
		cJSON_Delete(rec);
		return -1;
	}
	c->runs++;
	c->results += n[0];
	c->stats += n[1];
	c->outbox += n[2];
	cJSON_AddItemToArray(*removed, rec);
	return 0;
}

/*
 * The trigger that keeps run_models exact on every delete from results
 * runs once per row: for a run of 100,000 results, a third of the time.
 * A removal deletes the run's run_models rows itself, so inside its
 * transaction the trigger is dropped and then created again from its
 * own stored SQL before the commit; a crash or error rolls both back,
 * and no other writer can come between (the transaction holds the write
 * lock).  *sql is NULL when the schema has no such trigger.
 */
static int
trigger_off(struct bm_db *db, char **sql, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	*sql = NULL;
	st = bm_db_prepare(db, "SELECT sql FROM sqlite_schema WHERE type ="
	    " 'trigger' AND name = 'results_count_delete'", e);
	if (!st)
		return -1;
	rc = bm_db_step(st, e);
	if (rc == 1) {
		*sql = xstrdup(bm_db_col_text(st, 0));
		bm_db_reset(st);
	}
	if (rc < 0 || (*sql && bm_db_exec(db, "DROP TRIGGER"
	    " results_count_delete", e) < 0))
		return -1;
	return 0;
}

/* Remove ids[0..n-1] in the open transaction, then commit (dry: undo). */
static int
remove_all(struct bm_db *db, char *const *ids, size_t n, int dry,
    bm_history_step_fn *step, void *arg, cJSON **removed,
    struct bm_history_counts *c, struct bm_error *e)
{
	char *trigger = NULL;
	size_t i;
	int rc = -1;

	if (!dry && n > 0 && trigger_off(db, &trigger, e) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		rc = remove_one(db, ids[i], dry, removed, c, e);
		if (rc != 0)
			goto fail;
		if (step)
			step(ids[i], arg);
	}
	rc = -1;
	if (dry) {
		bm_db_rollback(db);
		return 0;
	}
	if ((trigger && bm_db_exec(db, trigger, e) < 0) ||
	    bm_db_commit(db, e) < 0)
		goto fail;
	free(trigger);
	return 0;
fail:
	bm_db_rollback(db);
	free(trigger);
	cJSON_Delete(*removed);
	*removed = NULL;
	memset(c, 0, sizeof(*c));
	return rc;
}

/*
 * Deleting a large run changes many pages: a larger page cache keeps
 * them in memory until the commit instead of spilling them to the WAL
 * one by one (64 MB; this connection only).
 */
static int
begin_removal(struct bm_db *db, cJSON **removed,
    struct bm_history_counts *c, struct bm_error *e)
{
	*removed = NULL;
	memset(c, 0, sizeof(*c));
	if (bm_db_exec(db, "PRAGMA cache_size = -65536", e) < 0 ||
	    bm_db_begin(db, e) < 0)
		return -1;
	*removed = cJSON_CreateArray();
	return 0;
}

int
bm_history_rm(struct bm_db *db, char *const *ids, size_t n, int dry,
    bm_history_step_fn *step, void *arg, cJSON **removed,
    struct bm_history_counts *c, struct bm_error *e)
{
	if (begin_removal(db, removed, c, e) < 0)
		return -1;
	return remove_all(db, ids, n, dry, step, arg, removed, c, e);
}

int
bm_history_prune(struct bm_db *db, long keep, const char *before,
    int labelled, int dry, bm_history_step_fn *step, void *arg,
    cJSON **removed, struct bm_history_counts *c, struct bm_error *e)
{
	struct bm_db_stmt *st;
	char **ids = NULL;
	size_t n = 0, i;
	long k = 0;
	int rc;

	if (begin_removal(db, removed, c, e) < 0)
		return -1;
	/* Selected inside the transaction: no run starts or ends meanwhile. */
	st = bm_db_prepare(db, "SELECT id, label IS NOT NULL, started_at <"
	    " ?1, status, pid, host FROM runs ORDER BY started_at DESC,"
	    " rowid DESC", e);
	if (!st) {
		rc = -1;
		goto out;
	}
	bm_db_bind_text(st, 1, before);
	while ((rc = bm_db_step(st, e)) == 1) {
		if (keep < 0 && !before)
			continue;	/* no rule selects nothing */
		if ((keep >= 0 && k++ < keep) ||
		    (before && !bm_db_col_int(st, 2)) ||
		    (bm_db_col_int(st, 1) && !labelled) ||
		    strcmp(bm_history_status(bm_db_col_text(st, 3),
		    (long)bm_db_col_int(st, 4), bm_db_col_text(st, 5)),
		    "running") == 0)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = xstrdup(bm_db_col_text(st, 0));
	}
	if (rc == 0)
		rc = remove_all(db, ids, n, dry, step, arg, removed, c, e);
out:
	if (rc < 0 && bm_db_in_tx(db)) {
		bm_db_rollback(db);
		cJSON_Delete(*removed);
		*removed = NULL;
	}
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc < 0 ? -1 : 0;
}

/* The bytes of path and of its -wal file (0 for what does not exist). */
static long long
file_bytes(const char *path)
{
	struct stat sb;
	long long n = 0;
	char *wal = xasprintf("%s-wal", path);

	if (stat(path, &sb) == 0)
		n += sb.st_size;
	if (stat(wal, &sb) == 0)
		n += sb.st_size;
	free(wal);
	return n;
}

int
bm_history_gc(struct bm_db *db, long keep, const char *cache_before,
    int dry, struct bm_history_gc *g, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	memset(g, 0, sizeof(*g));
	g->bytes_before = file_bytes(bm_db_path(db));
	if (bm_db_begin(db, e) < 0)
		return -1;
	/*
	 * A version is kept while it is among its benchmark's newest keep
	 * (by first_seen_at), is the benchmark's current version, or is
	 * the version some result ran.  Results stored without a version
	 * (content_sha256 NULL) keep none.
	 */
	st = bm_db_prepare(db, "DELETE FROM benchmark_versions WHERE rowid IN"
	    " (SELECT v.rid FROM (SELECT rowid AS rid, benchmark_id,"
	    " content_sha256, row_number() OVER (PARTITION BY benchmark_id"
	    " ORDER BY first_seen_at DESC, rowid DESC) AS k FROM"
	    " benchmark_versions) AS v WHERE v.k > ? AND NOT EXISTS (SELECT 1"
	    " FROM benchmarks AS b WHERE b.id = v.benchmark_id AND"
	    " b.content_sha256 = v.content_sha256) AND NOT EXISTS (SELECT 1"
	    " FROM results AS r WHERE r.benchmark_id = v.benchmark_id AND"
	    " r.content_sha256 = v.content_sha256))", e);
	if (!st)
		goto fail;
	bm_db_bind_int(st, 1, keep);
	if (bm_db_step(st, e) < 0)
		goto fail;
	g->versions = bm_db_changes(db);
	if (cache_before) {
		g->cache = run(db, "DELETE FROM exec_cache WHERE"
		    " created_at < ?", cache_before, e);
		if (g->cache < 0)
			goto fail;
	}
	if (dry) {
		bm_db_rollback(db);
		g->bytes_after = g->bytes_before;
		return 0;
	}
	/*
	 * VACUUM rewrites the file through the WAL; the checkpoint copies
	 * it back and truncates the WAL, which is when the file shrinks.
	 * A reader holding an old snapshot may keep the WAL for now.
	 */
	st = bm_db_prepare(db, "SELECT id, pid, host FROM runs WHERE status ="
	    " 'running'", e);
	if (!st)
		goto fail;
	while ((rc = bm_db_step(st, e)) == 1)
		if (!g->running && bm_runs_alive((long)bm_db_col_int(st, 1),
		    bm_db_col_text(st, 2)))
			g->running = xstrdup(bm_db_col_text(st, 0));
	if (rc < 0 || bm_db_commit(db, e) < 0 || (!g->running &&
	    (bm_db_exec(db, "VACUUM", e) < 0 ||
	    bm_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", e) < 0))) {
		free(g->running);
		g->running = NULL;
		goto fail;
	}
	g->bytes_after = file_bytes(bm_db_path(db));
	return 0;
fail:
	bm_db_rollback(db);
	return -1;
}

/* Row counts of the tables bm knows; others are listed without. */
static const char *const row_counts[][2] = {
	{ "benchmarks", "SELECT count(*) FROM benchmarks" },
	{ "benchmark_versions", "SELECT count(*) FROM benchmark_versions" },
	{ "runs", "SELECT count(*) FROM runs" },
	{ "results", "SELECT count(*) FROM results" },
	{ "stats", "SELECT count(*) FROM stats" },
	{ "push_outbox", "SELECT count(*) FROM push_outbox" },
	{ "pushes", "SELECT count(*) FROM pushes" },
	{ "exec_cache", "SELECT count(*) FROM exec_cache" },
	{ "run_models", "SELECT count(*) FROM run_models" },
};

/* One du record per table, into out; bytes of results and stats too. */
static int
du_tables(struct bm_db *db, cJSON *out, double *results_bytes,
    double *stats_bytes, struct bm_error *e)
{
	struct bm_error ignore = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	cJSON *t;
	const char *name;
	long long rows, free_bytes, total = 0;
	double bytes, all_rows = 0;
	size_t i;
	int rc, exact;

	/* One row per b-tree (aggregate = 1); indexes count to their table. */
	st = bm_db_prepare(db, "SELECT coalesce(s.tbl_name, d.name),"
	    " sum(d.pgsize) FROM dbstat AS d LEFT JOIN sqlite_schema AS s"
	    " ON s.name = d.name WHERE d.aggregate = 1 GROUP BY 1", &ignore);
	exact = st != NULL;
	bm_error_clear(&ignore);
	if (!exact)
		st = bm_db_prepare(db, "SELECT name, 0 FROM sqlite_schema"
		    " WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", e);
	if (!st)
		return -1;
	while ((rc = bm_db_step(st, e)) == 1) {
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "type", "du");
		add_text(t, "table", bm_db_col_text(st, 0));
		cJSON_AddNumberToObject(t, "bytes",
		    (double)bm_db_col_int(st, 1));
		cJSON_AddNullToObject(t, "rows");
		cJSON_AddItemToArray(out, t);
		total += bm_db_col_int(st, 1);
	}
	if (rc < 0)
		return -1;
	cJSON_ArrayForEach(t, out) {
		name = bm_json_str(t, "table");
		for (i = 0; i < sizeof(row_counts) / sizeof(row_counts[0]); i++)
			if (strcmp(name, row_counts[i][0]) == 0) {
				rows = count(db, row_counts[i][1], NULL, e);
				if (rows < 0)
					return -1;
				all_rows += (double)rows;
				cJSON_ReplaceItemInObjectCaseSensitive(t,
				    "rows", cJSON_CreateNumber((double)rows));
			}
	}
	free_bytes = count(db, "SELECT f.freelist_count * p.page_size FROM"
	    " pragma_freelist_count AS f, pragma_page_size AS p", NULL, e);
	if (free_bytes < 0)
		return -1;
	/*
	 * Without dbstat, the used pages are shared out in proportion to
	 * the tables' row counts: an estimate, and marked as one.
	 */
	if (!exact) {
		total = count(db, "SELECT c.page_count * p.page_size FROM"
		    " pragma_page_count AS c, pragma_page_size AS p", NULL, e);
		if (total < 0)
			return -1;
		total -= free_bytes;
		cJSON_ArrayForEach(t, out) {
			bytes = all_rows > 0 ? (double)total *
			    bm_json_numor(t, "rows", 0) / all_rows : 0;
			cJSON_ReplaceItemInObjectCaseSensitive(t, "bytes",
			    cJSON_CreateNumber(floor(bytes)));
			cJSON_AddTrueToObject(t, "estimate");
		}
	}
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "du");
	cJSON_AddStringToObject(t, "table", "(free)");
	cJSON_AddNumberToObject(t, "bytes", (double)free_bytes);
	cJSON_AddNullToObject(t, "rows");
	cJSON_AddItemToArray(out, t);
	cJSON_ArrayForEach(t, out) {
		name = bm_json_str(t, "table");
		if (strcmp(name, "results") == 0)
			*results_bytes = bm_json_numor(t, "bytes", 0);
		else if (strcmp(name, "stats") == 0)
			*stats_bytes = bm_json_numor(t, "bytes", 0);
	}
	return 0;
}

/* What du knows of one run while it adds up its rows. */
struct du_run {
	char *label;
	int known;		/* has a runs row */
	long long results, stats;
	double rpay, spay;	/* payload bytes in results, stats */
};

static struct du_run *
du_get(struct bm_map *m, const char *id)
{
	struct du_run *r = bm_map_get(m, id);

	if (!r) {
		r = xcalloc(1, sizeof(*r));
		bm_map_put(m, id, r);
	}
	return r;
}

static void
du_free(void *p)
{
	struct du_run *r = p;

	free(r->label);
	free(r);
}

/* Largest first, then by run id. */
static int
du_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;
	double bx = bm_json_numor(x, "bytes", 0), by = bm_json_numor(y,
	    "bytes", 0);
	const char *kx = bm_json_str(x, "table"), *ky = bm_json_str(y,
	    "table");

	if (bx != by)
		return bx < by ? 1 : -1;
	if (!kx)
		kx = bm_json_str(x, "run_id"), ky = bm_json_str(y, "run_id");
	return strcmp(kx ? kx : "", ky ? ky : "");
}

/* Sort the array's items with du_cmp. */
static void
du_sort(cJSON *arr)
{
	size_t n = (size_t)cJSON_GetArraySize(arr), i;
	cJSON **v = xcalloc(n ? n : 1, sizeof(*v)), *it;

	for (i = 0; (it = arr->child); i++) {
		cJSON_DetachItemViaPointer(arr, it);
		v[i] = it;
	}
	qsort(v, n, sizeof(*v), du_cmp);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, v[i]);
	free(v);
}

/*
 * One du record per run: its rows' payload (record and output of its
 * results, record and group key of its stats) as a share of all rows'
 * payload, times the bytes those tables and their indexes take.
 */
static int
du_runs(struct bm_db *db, cJSON *out, double results_bytes,
    double stats_bytes, struct bm_error *e)
{
	struct bm_map *m = bm_map_new();
	struct bm_db_stmt *st;
	struct du_run *r;
	const char *id;
	double rtotal = 0, stotal = 0, b;
	size_t pos = 0;
	cJSON *t;
	int rc = -1, k;

	st = bm_db_prepare(db, "SELECT id, label FROM runs", e);
	if (!st)
		goto out;
	while ((k = bm_db_step(st, e)) == 1) {
		r = du_get(m, bm_db_col_text(st, 0));
		r->known = 1;
		r->label = xstrdup(bm_db_col_text(st, 1));
	}
	if (k < 0)
		goto out;
	st = bm_db_prepare(db, "SELECT run_id, count(*), total(length(record)"
	    " + coalesce(length(output), 0)) FROM results GROUP BY run_id", e);
	if (!st)
		goto out;
	while ((k = bm_db_step(st, e)) == 1) {
		r = du_get(m, bm_db_col_text(st, 0));
		r->results = bm_db_col_int(st, 1);
		r->rpay = bm_db_col_double(st, 2);
		rtotal += r->rpay;
	}
	if (k < 0)
		goto out;
	st = bm_db_prepare(db, "SELECT run_id, count(*), total(length(record)"
	    " + length(group_key)) FROM stats GROUP BY run_id", e);
	if (!st)
		goto out;
	while ((k = bm_db_step(st, e)) == 1) {
		r = du_get(m, bm_db_col_text(st, 0));
		r->stats = bm_db_col_int(st, 1);
		r->spay = bm_db_col_double(st, 2);
		stotal += r->spay;
	}
	if (k < 0)
		goto out;
	while (bm_map_next(m, &pos, &id, (void **)&r)) {
		b = (rtotal > 0 ? results_bytes * r->rpay / rtotal : 0) +
		    (stotal > 0 ? stats_bytes * r->spay / stotal : 0);
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "type", "du");
		cJSON_AddStringToObject(t, "run_id", id);
		add_text(t, "label", r->label);
		cJSON_AddNumberToObject(t, "results", (double)r->results);
		cJSON_AddNumberToObject(t, "stats", (double)r->stats);
		cJSON_AddNumberToObject(t, "bytes", floor(b + 0.5));
		/* Rows whose run is not here (merged from elsewhere). */
		if (!r->known)
			cJSON_AddFalseToObject(t, "run");
		cJSON_AddItemToArray(out, t);
	}
	rc = 0;
out:
	bm_map_free(m, du_free);
	return rc;
}

cJSON *
bm_history_du(struct bm_db *db, struct bm_error *e)
{
	cJSON *tables = cJSON_CreateArray(), *runs = cJSON_CreateArray(), *it;
	double rb = 0, sb = 0;

	if (du_tables(db, tables, &rb, &sb, e) < 0 ||
	    du_runs(db, runs, rb, sb, e) < 0) {
		cJSON_Delete(tables);
		cJSON_Delete(runs);
		return NULL;
	}
	du_sort(tables);
	du_sort(runs);
	while ((it = runs->child)) {
		cJSON_DetachItemViaPointer(runs, it);
		cJSON_AddItemToArray(tables, it);
	}
	cJSON_Delete(runs);
	return tables;
}

/* n digits at s, as a number; -1 when they are not all digits. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
bm_history_when(const char *s, char out[BM_CLOCK_TIME_LEN + 1],
    struct bm_error *e)
{
	static const char units[] = "smhdw";
	static const long secs[] = { 1, 60, 3600, 86400, 604800 };
	char *end, *u;
	const char *p;
	long n;
	time_t t;
	struct tm tm;
	size_t len = strlen(s);

	/* A duration: digits and one unit. */
	if (len >= 2 && (u = strchr(units, s[len - 1])) && s[len - 1] &&
	    strspn(s, "0123456789") == len - 1) {
		n = strtol(s, &end, 10);
		if (n > 100L * 366 * 86400 / secs[u - units]) {
			bm_error_set(e, NULL, 0, 0, "'%s' is too long ago", s);
			return -1;
		}
		t = time(NULL) - n * secs[u - units];
		gmtime_r(&t, &tm);
		strftime(out, BM_CLOCK_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S.000Z",
		    &tm);
		return 0;
	}
	/*
	 * A date, time optional.  Kept as a prefix of the stored form and
	 * without its "Z": "...T10:15:00" sorts before "...T10:15:00.1Z".
	 */
	p = s;
	if (digits(p, 4) < 0 || p[4] != '-' || digits(p + 5, 2) < 1 ||
	    digits(p + 5, 2) > 12 || p[7] != '-' || digits(p + 8, 2) < 1 ||
	    digits(p + 8, 2) > 31)
		goto bad;
	p += 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (digits(p + 1, 2) < 0 || digits(p + 1, 2) > 23 ||
		    p[3] != ':' || digits(p + 4, 2) < 0 ||
		    digits(p + 4, 2) > 59)
			goto bad;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2) < 0 || digits(p + 1, 2) > 60)
				goto bad;
			p += 3;
			if (*p == '.' && isdigit((unsigned char)p[1]))
				for (p++; isdigit((unsigned char)*p); p++)
					;
		}
	}
	len = (size_t)(p - s);
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		p++;
	if (*p || len > BM_CLOCK_TIME_LEN)
		goto bad;
	memcpy(out, s, len);
	out[len] = '\0';
	if (len > 10)
		out[10] = 'T';
	return 0;
bad:
	bm_error_set(e, NULL, 0, 0, "invalid time '%s' (a date such as"
	    " 2026-11-23 or 2026-11-23T10:15Z, or an age such as 30d, 12h,"
	    " 2w)", s);
	return -1;
}
