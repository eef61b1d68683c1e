/*
 * test-outbox: target names never keep a password; queued records are
 * one entry per natural key; batches come failed first, one kind each;
 * confirming a run's last record records its push.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_outbox_run opt = { "ci", NULL, 1, 0 };
	struct bm_outbox_batch b;
	struct bm_db *db;
	char path[] = "/tmp/test-outbox.XXXXXX";
	long long n;
	int fd;

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

	fd = mkstemp(path);
	close(fd);
	db = bm_db_open(path, &e);
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
	return done_testing();
}
