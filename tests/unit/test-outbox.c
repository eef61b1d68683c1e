/*
 * test-outbox: target names never keep a password; queued records are
 * one entry per natural key; batches come failed first, one kind each;
 * confirming a run's last record records its push.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "outbox.h"
#include "tap.h"

static void
target(const char *url, const char *want)
{
	char *t = bm_outbox_target(url);

	is(t, want, url);
	free(t);
}

static long long
count(struct bm_db *db, const char *sql)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st = bm_db_prepare(db, sql, &e);
	long long n = -1;

	if (st && bm_db_step(st, &e) == 1) {
		n = bm_db_col_int(st, 0);
		bm_db_reset(st);
	}
	bm_error_clear(&e);
	return n;
}

/* bm_outbox_rows' callback: column c of each row, appended to a list. */
struct col_list {
	int c;
	struct bm_buf b;
};

static void
col_row(void *arg, int ncols, const char *const *vals)
{
	struct col_list *l = arg;

	(void)ncols;
	bm_buf_adds(&l->b, vals[l->c] ? vals[l->c] : "NULL");
	bm_buf_addc(&l->b, '\n');
}

/* A new database in a temporary file named into path (a mkstemp template). */
static struct bm_db *
temp_db(char *path, struct bm_error *e)
{
	close(mkstemp(path));
	return bm_db_open(path, e);
}

/*
 * Every REAL is read as SQLite prints it (CAST AS TEXT): short decimals,
 * whole numbers, tiny and huge ones, negatives, and doubles of 17 digits,
 * 20,000 of them.
 */
static void
reals(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_outbox_run opt = { NULL, NULL, 0, 0 };
	struct col_list l = { 11, BM_BUF_INIT };	/* latency_ms */
	struct bm_outbox_batch b;
	struct bm_db_stmt *st;
	struct bm_buf want = BM_BUF_INIT;
	struct bm_db *db;
	char path[] = "/tmp/test-outbox.XXXXXX";
	long long n;
	int r, ok1 = 1;

	db = temp_db(path, &e);
	bm_db_exec(db, "INSERT INTO runs (id, status) VALUES ('rr', 'x');"
	    "WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i"
	    " WHERE k < 19999), v(k, x) AS (SELECT k, CASE k % 8"
	    " WHEN 0 THEN (abs(random()) % 100000000) / pow(10, k % 13)"
	    " WHEN 1 THEN random() / 3.0 / pow(10, k % 40)"
	    " WHEN 2 THEN (abs(random()) % 1000) * pow(10, -(k % 25))"
	    " WHEN 3 THEN -(abs(random()) % 999999999999999) / pow(10, k % 20)"
	    " WHEN 4 THEN CAST(random() % 100000 AS REAL)"
	    " WHEN 5 THEN (k % 100) * 0.1 + (k % 7) * 0.2"
	    " WHEN 6 THEN random() * pow(10, k % 30 - 15)"
	    " ELSE 0.0000038 * (k % 7) END FROM i)"
	    " INSERT INTO results (run_id, case_id, model, status, record,"
	    " latency_ms) SELECT 'rr', printf('%08d', k), 'm', 'pass', '{}',"
	    " x FROM v", &e);
	ok(bm_outbox_queue_run(db, "T", "rr", &opt, &n, &e) == 0 &&
	    n == 20001, "20,000 results of REALs queued");
	memset(&b, 0, sizeof(b));
	b.last = BM_OUTBOX_FIRST;
	while ((r = bm_outbox_next(db, "T", 5000, &b, &e)) == 1)
		if (strcmp(b.kind->kind, "result") == 0 &&
		    bm_outbox_rows(db, "T", &b, 0, col_row, &l, &e) < 0)
			ok1 = 0;
	st = bm_db_prepare(db, "SELECT CAST(latency_ms AS TEXT) FROM results"
	    " ORDER BY case_id", &e);
	while (st && bm_db_step(st, &e) == 1) {
		bm_buf_adds(&want, bm_db_col_text(st, 0));
		bm_buf_addc(&want, '\n');
	}
	ok(ok1 && r == 0, "read back");
	ok(l.b.len == want.len && l.b.len > 20000 &&
	    memcmp(l.b.s, want.s, want.len) == 0, "each as SQLite prints it");
	bm_outbox_batch_clear(&b);
	free(b.ids);
	free(b.records);
	free(b.runs);
	bm_buf_free(&l.b);
	bm_buf_free(&want);
	bm_db_close(db, &e);
	unlink(path);
	bm_error_clear(&e);
}

/* bm_outbox_rows' callback (json): the records, one a line. */
static void
json_row(void *arg, int ncols, const char *const *vals)
{
	(void)ncols;
	bm_buf_adds(arg, vals[0]);
	bm_buf_addc(arg, '\n');
}

/*
 * Keys that need unescaping (a quote and a backslash in the run and case
 * ids, a step of 12): the run is named and the row read as it is.
 */
static void
escaped_keys(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_outbox_run opt = { NULL, NULL, 0, 0 };
	struct bm_outbox_batch b;
	struct bm_buf got = BM_BUF_INIT;
	struct bm_db *db;
	char path[] = "/tmp/test-outbox.XXXXXX";
	long long n;

	db = temp_db(path, &e);
	bm_db_exec(db, "INSERT INTO runs (id, status) VALUES ('r\"1\\', 'x');"
	    "INSERT INTO results (run_id, case_id, step, model, status,"
	    " record, latency_ms) VALUES ('r\"1\\', 'c\"a', 12, 'm', 'pass',"
	    " '{}', 2.5), ('r\"1\\', 'c\\b', 0, 'm', 'fail', '{}', NULL)",
	    &e);
	ok(bm_outbox_queue_run(db, "T", "r\"1\\", &opt, &n, &e) == 0 &&
	    n == 3, "a run with escaped keys queued");
	memset(&b, 0, sizeof(b));
	b.last = BM_OUTBOX_FIRST;
	ok(bm_outbox_next(db, "T", 10, &b, &e) == 1 &&
	    strcmp(b.kind->kind, "run") == 0, "its row");
	ok(bm_outbox_next(db, "T", 10, &b, &e) == 1 && b.n == 2 &&
	    strcmp(b.runs[0], "r\"1\\") == 0 &&
	    strcmp(b.runs[1], "r\"1\\") == 0, "its results, the run named");
	ok(bm_outbox_rows(db, "T", &b, 1, json_row, &got, &e) == 0,
	    "read back");
	ok(got.s && strstr(got.s, "\"case_id\":\"c\\\"a\",\"step\":12,") &&
	    strstr(got.s, "\"latency_ms\":2.5,") &&
	    strstr(got.s, "\"case_id\":\"c\\\\b\",\"step\":0,") &&
	    strstr(got.s, "\"latency_ms\":null,"), "both rows, as stored");
	bm_outbox_batch_clear(&b);
	free(b.ids);
	free(b.records);
	free(b.runs);
	bm_buf_free(&got);
	bm_db_close(db, &e);
	unlink(path);
	bm_error_clear(&e);
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_outbox_run opt = { "ci", NULL, 1, 0 };
	struct bm_outbox_batch b;
	struct bm_db *db;
	char path[] = "/tmp/test-outbox.XXXXXX";
	long long n;

	target("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db");
	target("postgres://u:p%40w@h/db?sslmode=require&password=x",
	    "postgres://u@h/db?sslmode=require");
	target("postgresql://h/db?password=x&sslmode=disable",
	    "postgresql://h/db?sslmode=disable");
	target("postgresql://h/db?password=x", "postgresql://h/db");
	target("postgresql://u@h/db", "postgresql://u@h/db");
	target("https://abc.supabase.co", "https://abc.supabase.co");
	target("sqlite:shards/all.db", "sqlite:shards/all.db");
	ok(bm_outbox_kind("result") && !bm_outbox_kind("case"),
	    "kinds by name");

	db = temp_db(path, &e);
	ok(db != NULL, "open");
	bm_db_exec(db, "INSERT INTO runs (id, status) VALUES ('r1', 'x');"
	    "INSERT INTO results (run_id, case_id, model, status, record)"
	    " VALUES ('r1', 'c1', 'm', 'pass', '{}'),"
	    " ('r1', 'c2', 'm', 'fail', '{}'),"
	    " ('r1', 'c3', 'n', 'pass', '{}')", &e);
	ok(bm_outbox_queue_run(db, "T", "r1", &opt, &n, &e) == 0 && n == 6,
	    "a run, 3 results and 2 snapshots queued");
	ok(bm_outbox_queue_run(db, "T", "r1", &opt, &n, &e) == 0 && n == 0,
	    "queued again: nothing new");
	is_int(count(db, "SELECT count(*) FROM push_outbox"), 6,
	    "one entry per natural key");
	is_int(bm_outbox_queue_line(db, "T", "case", "{}", &e), 0,
	    "case records are not published");

	memset(&b, 0, sizeof(b));
	b.last = BM_OUTBOX_FIRST;
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 && b.n == 1 &&
	    strcmp(b.kind->kind, "run") == 0, "the run row first, alone");
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 && b.n == 2 &&
	    strcmp(b.kind->kind, "result") == 0 && strcmp(b.runs[0], "r1")
	    == 0, "then results, two at a time");
	ok(bm_outbox_fail(db, &b, "boom", &e) == 0, "that batch fails");
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 && b.n == 1 &&
	    strcmp(b.kind->kind, "result") == 0, "the third result");
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");

	b.last = BM_OUTBOX_FIRST;	/* the next push starts over */
	ok(bm_outbox_next(db, "T", 5, &b, &e) == 1 && b.n == 2 &&
	    strcmp(b.kind->kind, "result") == 0, "next push: failed first");
	is_int(count(db, "SELECT max(attempts) FROM push_outbox"), 1,
	    "their attempt counted");
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");
	is_int(count(db, "SELECT count(*) FROM pushes"), 0,
	    "no push recorded while the run's snapshots wait");
	ok(bm_outbox_next(db, "T", 5, &b, &e) == 1 && b.n == 1 &&
	    strcmp(b.kind->kind, "snapshot") == 0, "snapshots one by one");
	ok(bm_outbox_done(db, "T", &b, 3, &e) == 0, "confirmed");
	ok(bm_outbox_next(db, "T", 5, &b, &e) == 1 && b.n == 1,
	    "the second snapshot");
	ok(bm_outbox_done(db, "T", &b, 4, &e) == 0, "confirmed");
	is_int(count(db, "SELECT snapshot_version FROM pushes"), 4,
	    "the push recorded with the last record of the run");
	is_int(bm_outbox_next(db, "T", 5, &b, &e), 0, "nothing left");
	is_int(bm_outbox_pending(db, NULL, &e), 0, "outbox empty");
	bm_outbox_batch_clear(&b);
	free(b.ids);
	free(b.records);
	free(b.runs);
	bm_db_close(db, &e);
	unlink(path);
	bm_error_clear(&e);
	reals();
	escaped_keys();
	return done_testing();
}
