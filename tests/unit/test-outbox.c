/*
 * test-outbox: target names never keep a password; queued records are
 * one entry per natural key, a run's results one entry with a cursor;
 * batches come failed first, one kind each; the cursor moves only with a
 * confirmation and a push resumes from it; confirming a run's last
 * record records its push.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "jsonl.h"
#include "outbox.h"
#include "tap.h"
#include "xalloc.h"

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
		if ((strcmp(b.kind->kind, "results") == 0 &&
		    bm_outbox_rows(db, "T", &b, 0, col_row, &l, &e) < 0) ||
		    bm_outbox_done(db, "T", &b, 0, &e) < 0)
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
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");
	/* '"' sorts before '\\': c"a is the first row. */
	ok(bm_outbox_next(db, "T", 1, &b, &e) == 1 && b.n == 1 &&
	    b.rows == 1 && strcmp(b.runs[0], "r\"1\\") == 0 &&
	    strcmp(b.to_case, "c\"a") == 0 && b.to_step == 12,
	    "its results, one at a time, the run named");
	ok(bm_outbox_rows(db, "T", &b, 1, json_row, &got, &e) == 0 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0, "read back, confirmed");
	ok(bm_outbox_next(db, "T", 1, &b, &e) == 1 && b.rows == 1 &&
	    strcmp(b.from_case, "c\"a") == 0 && b.from_step == 12 &&
	    strcmp(b.to_case, "c\\b") == 0 && b.to_step == 0,
	    "the next one after the cursor, kept escaped");
	ok(bm_outbox_rows(db, "T", &b, 1, json_row, &got, &e) == 0 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0, "read back, confirmed");
	ok(got.s && strstr(got.s, "\"case_id\":\"c\\\"a\",\"step\":12,") &&
	    strstr(got.s, "\"latency_ms\":2.5,") &&
	    strstr(got.s, "\"case_id\":\"c\\\\b\",\"step\":0,") &&
	    strstr(got.s, "\"latency_ms\":null,"), "both rows, as stored");
	is_int(bm_outbox_next(db, "T", 1, &b, &e), 0, "nothing left");
	bm_outbox_batch_clear(&b);
	free(b.ids);
	free(b.records);
	free(b.runs);
	bm_buf_free(&got);
	bm_db_close(db, &e);
	unlink(path);
	bm_error_clear(&e);
}

/* Next batch of target, its rows' case ids in got; 1, 0 or -1. */
static int
next_rows(struct bm_db *db, const char *target, long max,
    struct bm_outbox_batch *b, struct bm_buf *got, struct bm_error *e)
{
	struct col_list l = { 1, BM_BUF_INIT };	/* case_id */
	int r = bm_outbox_next(db, target, max, b, e);

	if (r == 1 && bm_outbox_rows(db, target, b, 0, col_row, &l, e) < 0)
		r = -1;
	bm_buf_reset(got);
	bm_buf_adds(got, l.b.s ? l.b.s : "");
	bm_buf_free(&l.b);
	return r;
}

/* b's rows read again, their case ids in got; 0 or -1. */
static int
rows_again(struct bm_db *db, const char *target, struct bm_outbox_batch *b,
    struct bm_buf *got, struct bm_error *e)
{
	struct col_list l = { 1, BM_BUF_INIT };
	int r = bm_outbox_rows(db, target, b, 0, col_row, &l, e);

	bm_buf_reset(got);
	bm_buf_adds(got, l.b.s ? l.b.s : "");
	bm_buf_free(&l.b);
	return r;
}

/*
 * A run's results entry: two targets, each its own cursor; queued again
 * unchanged, a cursor is kept, changed, it starts over; rows deleted or
 * added meanwhile; a push that stops and resumes sends every row.
 */
static void
cursors(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_outbox_run opt = { NULL, NULL, 0, 0 };
	struct bm_outbox_batch b, u;
	struct bm_buf got = BM_BUF_INIT;
	struct bm_db *db;
	char path[] = "/tmp/test-outbox.XXXXXX";
	long long n;

	db = temp_db(path, &e);
	bm_db_exec(db, "INSERT INTO runs (id, status) VALUES ('r', 'x');"
	    "WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i"
	    " WHERE k < 9) INSERT INTO results (run_id, case_id, model,"
	    " status, record) SELECT 'r', 'c' || k, 'm', 'pass', '{}' FROM i",
	    &e);
	ok(bm_outbox_queue_run(db, "T", "r", &opt, &n, &e) == 0 && n == 11 &&
	    bm_outbox_queue_run(db, "U", "r", &opt, &n, &e) == 0 && n == 11,
	    "a run of 10 results queued for two targets");
	memset(&b, 0, sizeof(b));
	memset(&u, 0, sizeof(u));
	b.last = u.last = BM_OUTBOX_FIRST;
	ok(bm_outbox_next(db, "T", 4, &b, &e) == 1 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0 &&
	    next_rows(db, "T", 4, &b, &got, &e) == 1 &&
	    strcmp(got.s, "c0\nc1\nc2\nc3\n") == 0 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0, "T: the run, 4 results");
	is_int(bm_outbox_pending(db, "T", &e), 6, "T: 6 wait");
	is_int(bm_outbox_pending(db, "U", &e), 11, "U: 11 wait");
	ok(bm_outbox_next(db, "U", 4, &u, &e) == 1 &&
	    bm_outbox_done(db, "U", &u, 0, &e) == 0 &&
	    next_rows(db, "U", 3, &u, &got, &e) == 1 &&
	    strcmp(got.s, "c0\nc1\nc2\n") == 0 &&
	    bm_outbox_done(db, "U", &u, 0, &e) == 0 &&
	    next_rows(db, "U", 3, &u, &got, &e) == 1 &&
	    strcmp(got.s, "c3\nc4\nc5\n") == 0, "U: its own cursor");
	/* Deleted before it is sent: the batch is read as it is now. */
	bm_db_exec(db, "DELETE FROM results WHERE case_id = 'c4'", &e);
	ok(rows_again(db, "U", &u, &got, &e) == 0 &&
	    strcmp(got.s, "c3\nc5\n") == 0, "U: a row deleted, not sent");
	ok(bm_outbox_fail(db, &u, "down", &e) == 0, "U: that batch fails");
	is_int(bm_outbox_pending(db, "U", &e), 6, "U: 6 results wait");

	/* Queued again, unchanged (a delete bumps no revision). */
	ok(bm_outbox_queue_run(db, "T", "r", &opt, &n, &e) == 0 && n == 1,
	    "T: queued again, unchanged: its run row, the cursor kept");
	b.last = BM_OUTBOX_FIRST;
	ok(next_rows(db, "T", 4, &b, &got, &e) == 1 &&
	    strcmp(got.s, "c5\nc6\nc7\nc8\n") == 0, "T: resumes after c3");
	/* Changed while the batch is out: it is sent as it is now. */
	bm_db_exec(db, "UPDATE results SET output = 'new' WHERE case_id ="
	    " 'c5'; INSERT INTO results (run_id, case_id, model, status,"
	    " record) VALUES ('r', 'c45', 'm', 'pass', '{}')", &e);
	ok(rows_again(db, "T", &b, &got, &e) == 0 &&
	    strcmp(got.s, "c45\nc5\nc6\nc7\nc8\n") == 0 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0,
	    "T: a row added in the range is sent too");
	ok(bm_outbox_queue_run(db, "T", "r", &opt, &n, &e) == 0 && n == 10,
	    "T: queued again, changed: from the start, 10 results");
	b.last = BM_OUTBOX_FIRST;
	ok(next_rows(db, "T", 100, &b, &got, &e) == 1 && strcmp(got.s,
	    "c0\nc1\nc2\nc3\nc45\nc5\nc6\nc7\nc8\nc9\n") == 0 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0 &&
	    bm_outbox_next(db, "T", 100, &b, &e) == 1 &&
	    strcmp(b.kind->kind, "run") == 0 &&
	    bm_outbox_done(db, "T", &b, 0, &e) == 0, "T: every row, once");
	is_int(bm_outbox_pending(db, "T", &e), 0, "T: nothing waits");
	is_int(count(db, "SELECT count(*) FROM pushes WHERE target = 'T'"),
	    1, "T: the push recorded");

	u.last = BM_OUTBOX_FIRST;	/* U's next push */
	ok(next_rows(db, "U", 100, &u, &got, &e) == 1 && strcmp(got.s,
	    "c3\nc45\nc5\nc6\nc7\nc8\nc9\n") == 0,
	    "U: failed first, from its cursor, with the row added");
	/* Every row of the batch deleted before it is confirmed. */
	bm_db_exec(db, "DELETE FROM results WHERE case_id > 'c2'", &e);
	ok(bm_outbox_done(db, "U", &u, 0, &e) == 0 &&
	    bm_outbox_pending(db, "U", &e) == 0 &&
	    count(db, "SELECT count(*) FROM pushes WHERE target = 'U'") == 1,
	    "U: confirmed, nothing after it: done, the push recorded");
	ok(bm_outbox_queue_run(db, "V", "r", &opt, &n, &e) == 0 && n == 4,
	    "V: the run and 3 results queued");
	bm_db_exec(db, "DELETE FROM results", &e);
	b.last = BM_OUTBOX_FIRST;
	ok(bm_outbox_next(db, "V", 9, &b, &e) == 1 &&
	    bm_outbox_done(db, "V", &b, 0, &e) == 0 &&
	    bm_outbox_next(db, "V", 9, &b, &e) == 1 && b.rows == 0 &&
	    bm_outbox_done(db, "V", &b, 0, &e) == 0 &&
	    bm_outbox_next(db, "V", 9, &b, &e) == 0 &&
	    bm_outbox_pending(db, NULL, &e) == 0,
	    "V: its results deleted: an empty batch ends the entry");
	bm_outbox_batch_clear(&b);
	bm_outbox_batch_clear(&u);
	free(b.ids);
	free(b.records);
	free(b.runs);
	free(u.ids);
	free(u.records);
	free(u.runs);
	bm_buf_free(&got);
	bm_db_close(db, &e);
	unlink(path);
	bm_error_clear(&e);
}

/*
 * Rows' strings go out through bm_json_put_strn: each byte that needs an
 * escape, and a few that do not, at every offset of strings of 0 to 20
 * bytes, written as bm_json_put_str writes them.
 */
static void
strings(void)
{
	static const char special[] = "\"\\\001\037\n\t \177\200\377/";
	struct bm_buf a = BM_BUF_INIT, b = BM_BUF_INIT;
	char s[24];
	size_t n, at, k;
	int same = 1;

	for (n = 0; n <= 20; n++)
		for (at = 0; at <= n; at++)
			for (k = 0; k < sizeof(special) - 1; k++) {
				memset(s, 'a', n);
				if (at < n)
					s[at] = special[k];
				s[n] = '\0';
				bm_buf_reset(&a);
				bm_buf_reset(&b);
				bm_json_put_str(&a, s);
				bm_json_put_strn(&b, s, n);
				if (a.len != b.len || memcmp(a.s, b.s, a.len))
					same = 0;
			}
	ok(same, "strings escaped as bm_json_put_str escapes them");
	bm_buf_free(&a);
	bm_buf_free(&b);
}

/*
 * A run queues the catalog's benchmarks its results name, and their
 * versions, and no other: two runs' rows interleaved, a benchmark only
 * the other run names between the first's rows, one no run names.
 */
static void
benches(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_outbox_run opt = { NULL, NULL, 0, 0 };
	struct bm_db *db;
	char path[] = "/tmp/test-outbox.XXXXXX";
	long long n;
	int i;

	db = temp_db(path, &e);
	ok(db != NULL, "benches: open");
	for (i = 1; i <= 4; i++) {
		char *sql = xasprintf("INSERT INTO benchmarks (id, name,"
		    " prompt, content, content_sha256) VALUES"
		    " (printf('%%032d', %d), 'b%d', 'p', 'c', printf('%%064d',"
		    " %d)); INSERT INTO benchmark_versions (benchmark_id,"
		    " content_sha256, content) SELECT id, content_sha256,"
		    " content FROM benchmarks WHERE name = 'b%d'", i, i, i, i);

		bm_db_exec(db, sql, &e);
		free(sql);
	}
	bm_db_exec(db, "INSERT INTO runs (id, status) VALUES ('a', 'x'),"
	    " ('b', 'x'); INSERT INTO results (run_id, case_id, model,"
	    " status, record, benchmark_id) VALUES"
	    " ('a', 'c1', 'm', 'pass', '{}', printf('%032d', 1)),"
	    " ('b', 'c1', 'm', 'pass', '{}', printf('%032d', 2)),"
	    " ('b', 'c2', 'm', 'pass', '{}', printf('%032d', 3)),"
	    " ('a', 'c2', 'm', 'pass', '{}', NULL),"
	    " ('a', 'c3', 'm', 'pass', '{}', printf('%032d', 3)),"
	    " ('a', 'c4', 'm', 'pass', '{}', printf('%032d', 9))", &e);
	ok(bm_outbox_queue_run(db, "T", "a", &opt, &n, &e) == 0,
	    "benches: run a queued");
	is_int(count(db, "SELECT count(*) FROM push_outbox WHERE kind ="
	    " 'benchmark' AND key IN (json_array(printf('%032d', 1)),"
	    " json_array(printf('%032d', 3)))"), 2, "benches: a's two");
	is_int(count(db, "SELECT count(*) FROM push_outbox WHERE kind IN"
	    " ('benchmark', 'benchmark_version')"), 4,
	    "benches: and their versions, no other");
	ok(bm_outbox_queue_run(db, "U", "b", &opt, &n, &e) == 0 &&
	    count(db, "SELECT count(*) FROM push_outbox WHERE target = 'U'"
	    " AND kind = 'benchmark'") == 2, "benches: b's two for U");
	bm_db_close(db, &e);
	bm_error_clear(&e);
	unlink(path);
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
	is_int(count(db, "SELECT count(*) FROM push_outbox"), 4,
	    "one entry per natural key, one for the run's results");
	is_int(bm_outbox_pending(db, "T", &e), 6, "6 records wait");
	is_int(bm_outbox_queue_line(db, "T", "case", "{}", &e), 0,
	    "case records are not published");

	memset(&b, 0, sizeof(b));
	b.last = BM_OUTBOX_FIRST;
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 && b.n == 1 &&
	    strcmp(b.kind->kind, "run") == 0, "the run row first, alone");
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 && b.n == 1 &&
	    b.rows == 2 && strcmp(b.kind->kind, "results") == 0 &&
	    strcmp(b.runs[0], "r1") == 0 && strcmp(b.to_case, "c2") == 0,
	    "then results, two at a time");
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");
	is_int(bm_outbox_pending(db, "T", &e), 3, "a result and 2 snapshots"
	    " wait");
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 && b.rows == 1 &&
	    strcmp(b.from_case, "c2") == 0 && strcmp(b.to_case, "c3") == 0,
	    "then the third, after the cursor");
	ok(bm_outbox_fail(db, &b, "boom", &e) == 0, "that batch fails");
	ok(bm_outbox_next(db, "T", 2, &b, &e) == 1 &&
	    strcmp(b.kind->kind, "snapshot") == 0, "this push goes on");

	b.last = BM_OUTBOX_FIRST;	/* the next push starts over */
	ok(bm_outbox_next(db, "T", 5, &b, &e) == 1 && b.rows == 1 &&
	    strcmp(b.kind->kind, "results") == 0 &&
	    strcmp(b.from_case, "c2") == 0, "next push: failed first,"
	    " from the cursor");
	is_int(count(db, "SELECT max(attempts) FROM push_outbox"), 1,
	    "their attempt counted");
	ok(bm_outbox_done(db, "T", &b, 0, &e) == 0, "confirmed");
	is_int(count(db, "SELECT count(*) FROM push_outbox WHERE kind ="
	    " 'results'"), 0, "to its end: the entry is gone");
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
	cursors();
	strings();
	benches();
	return done_testing();
}
