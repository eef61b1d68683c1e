/* runs.c: runs and results rows for bm-exec; resume and cache lookups. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "jsonl.h"
#include "limit.h"
#include "map.h"
#include "runs.h"
#include "spawn.h"
#include "xalloc.h"

struct bm_runs {
	struct bm_db *db;
	char *id;
	char *stream;		/* the stream digest the run had, or NULL */
	long pending;
	int busy_ms;		/* busy_timeout outside the try_ calls */
};

/*
 * Tests only: BM_TEST_DB_GROW=N lets the file grow by N pages more, as
 * if the disk were full then.  PRAGMA takes no parameters: n is ours.
 */
static void
test_full_disk(struct bm_db *db)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	const char *v = getenv("BM_TEST_DB_GROW");
	char *sql;
	long n, pages = 0;

	if (!v || bm_cli_parse_long(v, 0, 1000000, &n) < 0)
		return;
	st = bm_db_prepare(db, "PRAGMA page_count", &e);
	if (st && bm_db_step(st, &e) == 1) {
		pages = (long)bm_db_col_int(st, 0);
		bm_db_reset(st);
	}
	sql = xasprintf("PRAGMA max_page_count = %ld", pages + n);
	(void)bm_db_exec(db, sql, &e);
	free(sql);
	bm_error_clear(&e);
}

/* The runs row of info->id: 1 and its pid, host and digest, 0, -1. */
static int
row(struct bm_db *db, const char *id, long *pid, char **host,
    char **stream, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	st = bm_db_prepare(db, "SELECT pid, host, stream_sha256 FROM runs"
	    " WHERE id = ?", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, id);
	rc = bm_db_step(st, e);
	if (rc == 1) {
		*pid = bm_db_col_null(st, 0) ? 0 : bm_db_col_int(st, 0);
		*host = bm_db_col_null(st, 1) ? NULL :
		    xstrdup(bm_db_col_text(st, 1));
		*stream = bm_db_col_null(st, 2) ? NULL :
		    xstrdup(bm_db_col_text(st, 2));
		bm_db_reset(st);
	}
	return rc;
}

struct bm_runs *
bm_runs_start(struct bm_db *db, const struct bm_run_info *info, int resume,
    struct bm_error *e)
{
	struct bm_runs *r = NULL;
	struct bm_db_stmt *st;
	char *host = NULL, *stream = NULL;
	long pid = 0;
	int found;

	/* The check and the lock in one transaction: one holder. */
	if (bm_db_begin(db, e) < 0)
		return NULL;
	found = row(db, info->id, &pid, &host, &stream, e);
	if (found < 0)
		goto fail;
	if (resume && !found) {
		bm_error_set(e, bm_db_path(db), 0, 0, "no run '%s'", info->id);
		goto fail;
	}
	if (!resume && found) {
		bm_error_set(e, bm_db_path(db), 0, 0,
		    "run '%s' exists (use --resume)", info->id);
		goto fail;
	}
	if (resume && pid != (long)getpid() && bm_runs_alive(pid, host)) {
		bm_error_set(e, bm_db_path(db), 0, 0, "run '%s' is being run"
		    " by pid %ld on %s", info->id, pid, host ? host : "?");
		goto fail;
	}
	if (resume)
		st = bm_db_prepare(db, "UPDATE runs SET status = 'running',"
		    " finished_at = NULL, pid = ?2, host = ?3,"
		    " resumed = resumed + 1 WHERE id = ?1", e);
	else
		st = bm_db_prepare(db, "INSERT INTO runs (id, pid, host,"
		    " started_at, status, argv, config_sha256, git_sha,"
		    " stream_sha256) VALUES (?1, ?2, ?3,"
		    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'running',"
		    " ?4, ?5, ?6, ?7)", e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, info->id);
	bm_db_bind_int(st, 2, (long long)getpid());
	bm_db_bind_text(st, 3, info->host);
	if (!resume) {
		bm_db_bind_text(st, 4, info->argv);
		bm_db_bind_text(st, 5, info->config_sha256);
		bm_db_bind_text(st, 6, info->git_sha);
		bm_db_bind_text(st, 7, info->stream_sha256);
	}
	if (bm_db_step(st, e) < 0 || bm_db_commit(db, e) < 0)
		goto fail;
	r = xcalloc(1, sizeof(*r));
	r->db = db;
	r->id = xstrdup(info->id);
	r->stream = stream;
	r->busy_ms = 10000;
	test_full_disk(db);
	free(host);
	return r;
fail:
	bm_db_rollback(db);
	free(host);
	free(stream);
	return NULL;
}

/* The commit checked out here, best effort (NULL when not a git tree). */
static char *
git_head(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_child c;
	struct pollfd p;
	double end = bm_clock_ms() + 2000;
	char *sha = NULL;
	size_t n;

	if (bm_spawn("git rev-parse HEAD 2>/dev/null", "", 0, &c, &e) < 0) {
		bm_error_clear(&e);
		return NULL;
	}
	while (!bm_spawn_step(&c) && bm_clock_ms() < end) {
		p = (struct pollfd){ c.out_fd, POLLIN, 0 };
		poll(&p, c.out_fd >= 0 ? 1 : 0, 10);
	}
	n = c.out.len;
	if (c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 &&
	    n >= 40) {
		while (n > 0 && c.out.s[n - 1] == '\n')
			n--;
		sha = xstrndup(c.out.s, n);
	}
	bm_spawn_free(&c);
	return sha;
}

struct bm_runs *
bm_runs_begin(struct bm_db *db, const char *id, int argc, char *const *argv,
    const char *config_sha256, const char *stream_sha256, int resume,
    struct bm_error *e)
{
	struct bm_run_info info;
	struct bm_runs *r;
	char *argv_json, *git;
	cJSON *av = cJSON_CreateArray();
	int i;

	for (i = 0; i < argc; i++)
		cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
	argv_json = bm_json_print(av);
	cJSON_Delete(av);
	git = git_head();
	info = (struct bm_run_info){ id, argv_json, config_sha256, git,
		bm_runs_host(), stream_sha256 };
	r = bm_runs_start(db, &info, resume, e);
	free(argv_json);
	free(git);
	return r;
}

const char *
bm_runs_host(void)
{
	static char host[256];

	if (!host[0] && gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	return host;
}

int
bm_runs_alive(long pid, const char *host)
{
	if (pid <= 0)
		return 0;
	if (host && strcmp(host, bm_runs_host()) != 0)
		return 1;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* The id of the n-th run before the latest: 0 and *id, 1 none, -1. */
static int
nth_latest(struct bm_db *db, long n, char **id, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	st = bm_db_prepare(db, "SELECT id FROM runs ORDER BY started_at"
	    " DESC, rowid DESC LIMIT 1 OFFSET ?", e);
	if (!st)
		return -1;
	bm_db_bind_int(st, 1, n);
	rc = bm_db_step(st, e);
	if (rc == 1)
		*id = xstrdup(bm_db_col_text(st, 0));
	bm_db_reset(st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

/* The one id that sql (one text parameter) selects: 0, 1 none, -1. */
static int
one_id(struct bm_db *db, const char *sql, const char *arg, char **id,
    struct bm_error *e)
{
	struct bm_db_stmt *st = bm_db_prepare(db, sql, e);
	int rc;

	if (!st)
		return -1;
	bm_db_bind_text(st, 1, arg);
	rc = bm_db_step(st, e);
	if (rc == 1)
		*id = xstrdup(bm_db_col_text(st, 0));
	bm_db_reset(st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int
bm_runs_resolve(struct bm_db *db, const char *spec, char **id,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	struct bm_buf names = BM_BUF_INIT;
	long n = 0, k = 0;
	int rc;

	*id = NULL;
	if (strcmp(spec, "last") == 0 || (strncmp(spec, "last~", 5) == 0 &&
	    bm_cli_parse_long(spec + 5, 0, 1000000000L, &n) == 0)) {
		rc = nth_latest(db, n, id, e);
		if (rc == 1 && n == 0)
			bm_error_set(e, bm_db_path(db), 0, 0, "no runs yet");
		else if (rc == 1)
			bm_error_set(e, bm_db_path(db), 0, 0, "%s: there are"
			    " not %ld runs before the latest", spec, n);
		return rc == 0 ? 0 : -1;
	}
	rc = one_id(db, "SELECT id FROM runs WHERE id = ?", spec, id, e);
	if (rc != 1)
		return rc;
	rc = one_id(db, "SELECT id FROM runs WHERE label = ?", spec, id, e);
	if (rc != 1)
		return rc;
	/* A prefix: ids are ASCII without blanks, so substr compares bytes. */
	st = bm_db_prepare(db, "SELECT id FROM runs WHERE substr(id, 1,"
	    " length(?1)) = ?1 ORDER BY started_at DESC, rowid DESC", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, spec);
	while ((rc = bm_db_step(st, e)) == 1) {
		if (k++ == 0)
			*id = xstrdup(bm_db_col_text(st, 0));
		if (k <= 5)
			bm_buf_addf(&names, "%s%s", k > 1 ? ", " : "",
			    bm_db_col_text(st, 0));
	}
	if (rc < 0) {
		free(*id);
		*id = NULL;
		bm_buf_free(&names);
		return -1;
	}
	if (k == 1) {
		bm_buf_free(&names);
		return 0;
	}
	free(*id);
	*id = NULL;
	if (k == 0)
		bm_error_set(e, bm_db_path(db), 0, 0, "no run '%s'", spec);
	else
		bm_error_set(e, bm_db_path(db), 0, 0, "run '%s' is ambiguous:"
		    " %ld runs match (%s%s)", spec, k, bm_buf_str(&names),
		    k > 5 ? ", ..." : "");
	bm_buf_free(&names);
	return -1;
}

char *
bm_runs_new_id(void)
{
	char when[17];
	unsigned r = (unsigned)(bm_random01() * 65536);

	bm_clock_compact(when);
	return xasprintf("r-%s-%04x", when, r & 0xffff);
}

/* The columns of results bm_runs_add writes: one row's parameters. */
#define ROW_COLS "run_id, case_id, step, benchmark_id, model, variant," \
	" trial, repeat, status, error_class, latency_ms, ttft_ms," \
	" prompt_tokens, completion_tokens, cost_usd, score, output, record," \
	" content_sha256"
#define ROW_PARAMS "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define ROW_N 19

/* Number v into *d: 1, else 0 (not a number). */
static unsigned
num_of(const cJSON *v, double *d)
{
	*d = cJSON_IsNumber(v) ? v->valuedouble : 0;
	return cJSON_IsNumber(v);
}

/* The members of a result that make its row. */
enum {
	K_CASE, K_BENCH, K_MODEL, K_VARIANT, K_STATUS, K_ERROR, K_OUTPUT,
	K_SHA, K_STEP, K_TRIAL, K_REPEAT, K_LATENCY, K_TTFT, K_COST,
	K_SCORE, K_USAGE, K_N
};
static const char *const row_keys[K_N + 1] = {
	"case_id", "benchmark_id", "model", "variant", "status", "error",
	"output", "content_sha256", "step", "trial", "repeat", "latency_ms",
	"ttft_ms", "cost_usd", "score", "usage", NULL
};

void
bm_runs_row_of(const cJSON *res, const char *json, struct bm_runs_row *row)
{
	const cJSON *f[K_N];
	double d;

	bm_json_index(res, row_keys, f);
	memset(row, 0, sizeof(*row));
	row->case_id = cJSON_GetStringValue(f[K_CASE]);
	/* NULL until bm-ingest --backfill finds it. */
	row->benchmark_id = cJSON_GetStringValue(f[K_BENCH]);
	row->model = cJSON_GetStringValue(f[K_MODEL]);
	row->variant = cJSON_GetStringValue(f[K_VARIANT]);
	row->status = cJSON_GetStringValue(f[K_STATUS]);
	row->error_class = bm_json_str(f[K_ERROR], "class");
	row->output = cJSON_GetStringValue(f[K_OUTPUT]);
	row->record = json;
	row->content_sha256 = cJSON_GetStringValue(f[K_SHA]);
	/* step, trial and repeat are 0 when absent. */
	row->step = num_of(f[K_STEP], &d) ? (long long)d : 0;
	row->trial = num_of(f[K_TRIAL], &d) ? (long long)d : 0;
	row->repeat = num_of(f[K_REPEAT], &d) ? (long long)d : 0;
	row->known |= num_of(f[K_LATENCY], &row->latency_ms) ?
	    BM_ROW_LATENCY : 0;
	row->known |= num_of(f[K_TTFT], &row->ttft_ms) ? BM_ROW_TTFT : 0;
	row->known |= num_of(f[K_COST], &row->cost_usd) ? BM_ROW_COST : 0;
	row->known |= num_of(f[K_SCORE], &row->score) ? BM_ROW_SCORE : 0;
	row->known |= num_of(cJSON_GetObjectItemCaseSensitive(f[K_USAGE],
	    "prompt_tokens"), &d) ? BM_ROW_PROMPT : 0;
	row->prompt_tokens = (long long)d;
	row->known |= num_of(cJSON_GetObjectItemCaseSensitive(f[K_USAGE],
	    "completion_tokens"), &d) ? BM_ROW_COMPLETION : 0;
	row->completion_tokens = (long long)d;
}

/* Bind a known number (real, else integer) or NULL. */
static void
bind_known(struct bm_db_stmt *st, int i, int known, double v, int real)
{
	if (!known)
		bm_db_bind_null(st, i);
	else if (real)
		bm_db_bind_double(st, i, v);
	else
		bm_db_bind_int(st, i, (long long)v);
}

/* Bind row w as the row of parameters b+1... */
static void
bind_row(struct bm_runs *r, struct bm_db_stmt *st, int b,
    const struct bm_runs_row *w)
{
	bm_db_bind_text(st, b + 1, r->id);
	bm_db_bind_text(st, b + 2, w->case_id);
	bm_db_bind_int(st, b + 3, w->step);
	bm_db_bind_text(st, b + 4, w->benchmark_id);
	bm_db_bind_text(st, b + 5, w->model ? w->model : "");
	bm_db_bind_text(st, b + 6, w->variant);
	bm_db_bind_int(st, b + 7, w->trial);
	bm_db_bind_int(st, b + 8, w->repeat);
	bm_db_bind_text(st, b + 9, w->status);
	bm_db_bind_text(st, b + 10, w->error_class);
	bind_known(st, b + 11, w->known & BM_ROW_LATENCY, w->latency_ms, 1);
	bind_known(st, b + 12, w->known & BM_ROW_TTFT, w->ttft_ms, 1);
	bind_known(st, b + 13, w->known & BM_ROW_PROMPT,
	    (double)w->prompt_tokens, 0);
	bind_known(st, b + 14, w->known & BM_ROW_COMPLETION,
	    (double)w->completion_tokens, 0);
	bind_known(st, b + 15, w->known & BM_ROW_COST, w->cost_usd, 1);
	bind_known(st, b + 16, w->known & BM_ROW_SCORE, w->score, 1);
	bm_db_bind_text(st, b + 17, w->output);
	bm_db_bind_text(st, b + 18, w->record);
	bm_db_bind_text(st, b + 19, w->content_sha256);
}

int
bm_runs_add(struct bm_runs *r, const cJSON *res, const char *json,
    struct bm_error *e)
{
	struct bm_runs_row row;

	bm_runs_row_of(res, json, &row);
	return bm_runs_add_rows(r, &row, 1, e);
}

int
bm_runs_commit(struct bm_runs *r, struct bm_error *e)
{
	if (!bm_db_in_tx(r->db))
		return 0;
	r->pending = 0;
	return bm_db_commit(r->db, e);
}

long
bm_runs_pending(const struct bm_runs *r)
{
	return r->pending;
}

int
bm_runs_finished(struct bm_runs *r, const char *case_id, long step,
    char **record, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	*record = NULL;
	st = bm_db_prepare(r->db, "SELECT record FROM results WHERE"
	    " run_id = ? AND case_id = ? AND step = ? AND status IN"
	    " ('pass', 'fail')", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, r->id);
	bm_db_bind_text(st, 2, case_id);
	bm_db_bind_int(st, 3, step);
	rc = bm_db_step(st, e);
	if (rc == 1) {
		*record = xstrdup(bm_db_col_text(st, 0));
		bm_db_reset(st);
	}
	return rc;
}

int
bm_runs_end(struct bm_runs *r, const char *status, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc = -1;

	if (bm_runs_commit(r, e) < 0)
		goto out;
	st = bm_db_prepare(r->db, "UPDATE runs SET status = ?, finished_at ="
	    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), pid = NULL WHERE id = ?",
	    e);
	if (!st)
		goto out;
	bm_db_bind_text(st, 1, status);
	bm_db_bind_text(st, 2, r->id);
	if (bm_db_step(st, e) < 0)
		goto out;
	rc = 0;
out:
	free(r->id);
	free(r->stream);
	free(r);
	return rc;
}

int
bm_runs_cache_get(struct bm_runs *r, const char *key, char **output,
    long *prompt_tokens, long *completion_tokens, struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	*output = NULL;
	st = bm_db_prepare(r->db, "SELECT output, prompt_tokens,"
	    " completion_tokens FROM exec_cache WHERE key = ?", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, key);
	rc = bm_db_step(st, e);
	if (rc == 1) {
		*output = xstrdup(bm_db_col_text(st, 0));
		*prompt_tokens = bm_db_col_null(st, 1) ? -1 :
		    (long)bm_db_col_int(st, 1);
		*completion_tokens = bm_db_col_null(st, 2) ? -1 :
		    (long)bm_db_col_int(st, 2);
		bm_db_reset(st);
	}
	return rc;
}

int
bm_runs_cache_put(struct bm_runs *r, const char *key, const char *output,
    long prompt_tokens, long completion_tokens, struct bm_error *e)
{
	struct bm_db_stmt *st;

	if (!bm_db_in_tx(r->db) && bm_db_begin(r->db, e) < 0)
		return -1;
	st = bm_db_prepare(r->db, "INSERT OR REPLACE INTO exec_cache (key,"
	    " output, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?)",
	    e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, key);
	bm_db_bind_text(st, 2, output);
	if (prompt_tokens >= 0)
		bm_db_bind_int(st, 3, prompt_tokens);
	else
		bm_db_bind_null(st, 3);
	if (completion_tokens >= 0)
		bm_db_bind_int(st, 4, completion_tokens);
	else
		bm_db_bind_null(st, 4);
	if (bm_db_step(st, e) < 0)
		return -1;
	r->pending++;
	return 0;
}

void
bm_runs_shape(cJSON *r)
{
	/* DESIGN.md §4: the result record. */
	static const char *const fields[] = {
		"type", "run_id", "case_id", "benchmark_id", "benchmark",
		"model", "variant", "trial", "repeat", "step", "status",
		"error", "output", "latency_ms", "ttft_ms", "attempts",
		"usage", "cost_usd", "score", "assertions", "metrics",
		"started_at", "finished_at"
	};
	cJSON *rest = cJSON_CreateObject(), *it;
	size_t i;

	/* Move everything aside, then bring it back in order. */
	while ((it = r->child)) {
		cJSON_DetachItemViaPointer(r, it);
		cJSON_AddItemToObject(rest, it->string, it);
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		it = cJSON_DetachItemFromObjectCaseSensitive(rest, fields[i]);
		cJSON_AddItemToObject(r, fields[i], it ? it :
		    cJSON_CreateNull());
	}
	while ((it = rest->child)) {
		cJSON_DetachItemViaPointer(rest, it);
		cJSON_AddItemToObject(r, it->string, it);
	}
	cJSON_Delete(rest);
}

int
bm_runs_check_id(const char *id, struct bm_error *e)
{
	const unsigned char *p;

	if (!*id || strlen(id) > 200) {
		bm_error_set(e, NULL, 0, 0, "a run id has 1 to 200 bytes");
		return -1;
	}
	for (p = (const unsigned char *)id; *p; p++)
		if (*p <= ' ' || *p == 0x7f) {
			bm_error_set(e, NULL, 0, 0, "a run id has no blanks"
			    " or control characters");
			return -1;
		}
	return 0;
}

int
bm_runs_try_begin(struct bm_runs *r, struct bm_error *e)
{
	int rc;

	if (bm_db_in_tx(r->db))
		return 1;
	bm_db_set_busy_timeout(r->db, 0);
	rc = bm_db_begin(r->db, e);
	bm_db_set_busy_timeout(r->db, r->busy_ms);
	if (rc == 0)
		return 1;
	return bm_db_busy(r->db) ? 0 : -1;
}

int
bm_runs_try_commit(struct bm_runs *r, struct bm_error *e)
{
	int rc;

	if (!bm_db_in_tx(r->db))
		return 1;
	bm_db_set_busy_timeout(r->db, 0);
	rc = bm_db_exec(r->db, "COMMIT", e);
	bm_db_set_busy_timeout(r->db, r->busy_ms);
	if (rc == 0) {
		r->pending = 0;
		return 1;
	}
	if (bm_db_busy(r->db) && bm_db_in_tx(r->db))
		return 0;
	bm_db_rollback(r->db);
	r->pending = 0;
	return -1;
}

void
bm_runs_rollback(struct bm_runs *r)
{
	bm_db_rollback(r->db);
	r->pending = 0;
}

const char *
bm_runs_stream(const struct bm_runs *r)
{
	return r->stream;
}

int
bm_runs_set_stream(struct bm_runs *r, const char *sha, struct bm_error *e)
{
	struct bm_db_stmt *st;

	st = bm_db_prepare(r->db, "UPDATE runs SET stream_sha256 = ?"
	    " WHERE id = ?", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, sha);
	bm_db_bind_text(st, 2, r->id);
	return bm_db_step(st, e) < 0 ? -1 : 0;
}

long
bm_runs_missing(struct bm_runs *r, const struct bm_map *ids,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	const char *id;
	long n = 0;
	int rc;

	st = bm_db_prepare(r->db, "SELECT DISTINCT case_id FROM results"
	    " WHERE run_id = ?", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, r->id);
	while ((rc = bm_db_step(st, e)) == 1) {
		id = bm_db_col_text(st, 0);
		if (id && !bm_map_get(ids, id))
			n++;
	}
	return rc < 0 ? -1 : n;
}

void
bm_runs_busy_timeout(struct bm_runs *r, int ms)
{
	r->busy_ms = ms;
	bm_db_set_busy_timeout(r->db, ms);
}

int
bm_runs_set_origin(struct bm_runs *r, const char *from, struct bm_error *e)
{
	struct bm_db_stmt *st;

	st = bm_db_prepare(r->db, "UPDATE runs SET rescored_from = ? WHERE"
	    " id = ?", e);
	if (!st)
		return -1;
	bm_db_bind_text(st, 1, from);
	bm_db_bind_text(st, 2, r->id);
	return bm_db_step(st, e) < 0 ? -1 : 0;
}

int
bm_runs_add_rows(struct bm_runs *r, const struct bm_runs_row *rows, size_t n,
    struct bm_error *e)
{
	struct bm_buf sql = BM_BUF_INIT;
	struct bm_db_stmt *st;
	size_t k, i;

	if (!bm_db_in_tx(r->db) && bm_db_begin(r->db, e) < 0)
		return -1;
	while (n > 0) {
		/* 64, 32, ... 1 rows: seven statements at most, cached. */
		for (k = 64; k > n; k /= 2)
			;
		bm_buf_reset(&sql);
		bm_buf_adds(&sql, "INSERT OR REPLACE INTO results (" ROW_COLS
		    ") VALUES " ROW_PARAMS);
		for (i = 1; i < k; i++)
			bm_buf_adds(&sql, ", " ROW_PARAMS);
		st = bm_db_prepare(r->db, bm_buf_str(&sql), e);
		if (!st) {
			bm_buf_free(&sql);
			return -1;
		}
		for (i = 0; i < k; i++)
			bind_row(r, st, (int)i * ROW_N, &rows[i]);
		if (bm_db_step(st, e) < 0) {
			bm_buf_free(&sql);
			return -1;
		}
		r->pending += (long)k;
		rows += k;
		n -= k;
	}
	bm_buf_free(&sql);
	return 0;
}
