/* test-db.c: schema, migrations, statement cache, locking and errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "xalloc.h"
#include "tap.h"

static char *dir;

/* Remove a database and its WAL files. */
static void
unlink_db(const char *path)
{
	char *p;

	unlink(path);
	p = xasprintf("%s-wal", path);
	unlink(p);
	free(p);
	p = xasprintf("%s-shm", path);
	unlink(p);
	free(p);
}

/* The single integer or text a query returns, or -1 / NULL. */
static long long
q_int(struct bm_db *db, const char *sql)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st = bm_db_prepare(db, sql, &e);
	long long v = -1;

	if (st && bm_db_step(st, &e) == 1)
		v = bm_db_col_int(st, 0);
	if (st)
		bm_db_reset(st);
	bm_error_clear(&e);
	return v;
}

static char *
q_text(struct bm_db *db, const char *sql)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st = bm_db_prepare(db, sql, &e);
	char *v = NULL;

	if (st && bm_db_step(st, &e) == 1)
		v = xstrdup(bm_db_col_text(st, 0));
	if (st)
		bm_db_reset(st);
	bm_error_clear(&e);
	return v;
}

static int
has_object(struct bm_db *db, const char *type, const char *name)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	int found = 0;

	st = bm_db_prepare(db,
	    "SELECT count(*) FROM sqlite_master WHERE type = ?1 AND name = ?2",
	    &e);
	if (st == NULL)
		return 0;
	bm_db_bind_text(st, 1, type);
	bm_db_bind_text(st, 2, name);
	if (bm_db_step(st, &e) == 1)
		found = bm_db_col_int(st, 0) == 1;
	bm_db_reset(st);
	bm_error_clear(&e);
	return found;
}

static void
test_schema(const char *path)
{
	static const char *const tables[] = { "benchmarks",
	    "benchmark_versions", "runs", "results", "stats", "push_outbox",
	    "pushes", "exec_cache", NULL };
	static const char *const indexes[] = { "results_benchmark_id",
	    "results_model", "results_run_status", NULL };
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *db;
	char *s;
	size_t i;

	db = bm_db_open(path, &e);
	ok(db != NULL, "open creates the file");
	if (db == NULL) {
		printf("# %s\n", bm_error_str(&e));
		bm_error_clear(&e);
		return;
	}
	is(bm_db_path(db), path, "bm_db_path");
	is_int(q_int(db, "PRAGMA user_version"), BM_DB_SCHEMA_VERSION,
	    "user_version is the schema version");
	s = q_text(db, "PRAGMA journal_mode");
	is(s, "wal", "journal_mode is WAL");
	free(s);
	is_int(q_int(db, "PRAGMA foreign_keys"), 1, "foreign keys on");
	is_int(q_int(db, "PRAGMA synchronous"), 1, "synchronous NORMAL");
	is_int(q_int(db, "PRAGMA busy_timeout"), 10000, "busy_timeout 10 s");
	for (i = 0; tables[i]; i++)
		ok(has_object(db, "table", tables[i]), tables[i]);
	for (i = 0; indexes[i]; i++)
		ok(has_object(db, "index", indexes[i]), indexes[i]);
	ok(!bm_db_in_tx(db), "not in a transaction after open");

	/* Mark the schema: a second migration would fail on CREATE TABLE. */
	ok(bm_db_exec(db, "INSERT INTO runs (id) VALUES ('r-1')", &e) == 0,
	    "insert a run");
	ok(bm_db_close(db, &e) == 0, "close");

	db = bm_db_open(path, &e);
	ok(db != NULL, "reopen does not migrate again");
	if (db) {
		is_int(q_int(db, "SELECT count(*) FROM runs"), 1,
		    "rows survive reopen");
		s = q_text(db, "SELECT status FROM runs");
		is(s, "running", "status default");
		free(s);
		s = q_text(db, "SELECT started_at FROM runs");
		ok(s && strlen(s) == 24 && s[10] == 'T' && s[23] == 'Z',
		    "started_at default is RFC 3339 with ms");
		free(s);
		bm_db_close(db, NULL);
	}
	bm_error_clear(&e);
}

static void
test_roundtrip(const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *db = bm_db_open(path, &e);
	struct bm_db_stmt *ins, *sel, *again;
	const char *ins_sql = "INSERT INTO results (run_id, case_id, step,"
	    " benchmark_id, model, variant, status, latency_ms, ttft_ms,"
	    " prompt_tokens, output, record) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
	const char *sel_sql = "SELECT variant, latency_ms, ttft_ms,"
	    " prompt_tokens, output, step FROM results WHERE case_id = ?1";

	if (!ok(db != NULL, "open for roundtrip"))
		return;
	ins = bm_db_prepare(db, ins_sql, &e);
	ok(ins != NULL, "prepare insert");
	if (ins == NULL)
		goto out;
	ok(bm_db_begin(db, &e) == 0, "begin");
	ok(bm_db_in_tx(db), "in a transaction");
	ok(bm_db_begin(db, &e) == -1, "nested begin refused");
	bm_db_bind_text(ins, 1, "r-1");
	bm_db_bind_text(ins, 2, "00112233aabbccdd");
	bm_db_bind_int(ins, 3, 0);
	bm_db_bind_textn(ins, 4, "0123456789abcdef0123456789abcdefXX", 32);
	bm_db_bind_text(ins, 5, "echo:");
	bm_db_bind_text(ins, 6, NULL);
	bm_db_bind_text(ins, 7, "pass");
	bm_db_bind_double(ins, 8, 812.4);
	bm_db_bind_null(ins, 9);
	bm_db_bind_int(ins, 10, 1LL << 40);
	bm_db_bind_text(ins, 11, "caf\xc3\xa9");
	bm_db_bind_text(ins, 12, "{\"type\":\"result\"}");
	is_int(bm_db_step(ins, &e), 0, "insert steps to done");
	is_int(bm_db_changes(db), 1, "one row changed");
	ok(bm_db_commit(db, &e) == 0, "commit");
	ok(!bm_db_in_tx(db), "not in a transaction after commit");

	again = bm_db_prepare(db, ins_sql, &e);
	ok(again == ins, "the cache returns the same statement");
	/* Bindings were cleared: NOT NULL run_id fails. */
	is_int(bm_db_step(again, &e), -1, "cleared bindings");
	is(e.msg, "NOT NULL constraint failed: results.run_id",
	    "constraint message");
	is(e.file, path, "error names the file");

	sel = bm_db_prepare(db, sel_sql, &e);
	ok(sel != NULL, "prepare select");
	if (sel == NULL)
		goto out;
	bm_db_bind_text(sel, 1, "00112233aabbccdd");
	is_int(bm_db_step(sel, &e), 1, "a row");
	ok(bm_db_col_null(sel, 0), "NULL variant");
	ok(bm_db_col_text(sel, 0) == NULL, "NULL text is NULL");
	ok(bm_db_col_double(sel, 1) == 812.4, "double roundtrip");
	ok(bm_db_col_null(sel, 2), "NULL double");
	ok(bm_db_col_double(sel, 2) == 0, "NULL double reads 0");
	is_int(bm_db_col_int(sel, 3), 1LL << 40, "64-bit integer");
	is(bm_db_col_text(sel, 4), "caf\xc3\xa9", "UTF-8 text");
	is_int(bm_db_col_int(sel, 5), 0, "integer 0");
	is_int(bm_db_step(sel, &e), 0, "then done");
	/* Done resets the statement: it can run again with its bindings. */
	is_int(bm_db_step(sel, &e), 1, "runs again after done");
	bm_db_reset(sel);
	ok(bm_db_prepare(db, sel_sql, &e) == sel, "select cached");
	is_int(bm_db_step(sel, &e), 0, "reset cleared the binding");

	ok(bm_db_prepare(db, "SELEKT 1", &e) == NULL, "syntax error");
	is(e.msg, "near \"SELEKT\": syntax error", "syntax error message");
	ok(bm_db_prepare(db, "SELECT 1; SELECT 2", &e) == NULL,
	    "two statements refused");
	ok(bm_db_prepare(db, "SELECT 1;\n", &e) != NULL,
	    "a trailing semicolon is fine");
	ok(bm_db_exec(db, "SELECT 1; SELECT 2;", &e) == 0,
	    "exec runs several statements");
	ok(bm_db_exec(db, "INSERT INTO nosuch VALUES (1)", &e) == -1,
	    "exec error");
	is(bm_error_str(&e), "bm.db: no such table: nosuch",
	    "exec error message");
out:
	bm_db_close(db, NULL);
	bm_error_clear(&e);
}

/* An error inside a transaction, rolled back, leaves nothing behind. */
static void
test_rollback(const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *db = bm_db_open(path, &e);
	struct bm_db_stmt *st;
	int i, rc = 0;

	if (!ok(db != NULL, "open for rollback"))
		return;
	is_int(q_int(db, "SELECT count(*) FROM push_outbox"), 0, "empty");
	ok(bm_db_begin(db, &e) == 0, "begin");
	st = bm_db_prepare(db, "INSERT INTO push_outbox (target, kind, record)"
	    " VALUES (?1, 'result', ?2)", &e);
	for (i = 0; st && i < 3 && rc == 0; i++) {
		bm_db_bind_text(st, 1, "sqlite:x.db");
		bm_db_bind_text(st, 2, i < 2 ? "{}" : NULL);
		rc = bm_db_step(st, &e);
		if (i == 0)
			is_int(bm_db_last_rowid(db), 1, "last rowid");
	}
	is_int(rc, -1, "the third insert fails");
	ok(bm_db_in_tx(db), "the transaction is still open");
	bm_db_rollback(db);
	ok(!bm_db_in_tx(db), "rolled back");
	bm_db_rollback(db);
	ok(1, "a second rollback is harmless");
	is_int(q_int(db, "SELECT count(*) FROM push_outbox"), 0,
	    "no half rows");

	/* CHECK constraints. */
	ok(bm_db_exec(db, "INSERT INTO results (run_id, case_id,"
	    " benchmark_id, model, status, record) VALUES"
	    " ('r', 'c', 'b', 'm', 'maybe', '{}')", &e) == -1,
	    "status is checked");
	ok(bm_db_exec(db, "INSERT INTO stats VALUES ('r', 'x', '{}')",
	    &e) == -1, "group_key must be JSON");
	/* The deferred foreign key: version first, benchmark second. */
	ok(bm_db_exec(db, "BEGIN;"
	    "INSERT INTO benchmark_versions (benchmark_id, content_sha256,"
	    " content) VALUES ('0123456789abcdef0123456789abcdef',"
	    " printf('%064d', 0), 'prompt: x');"
	    "INSERT INTO benchmarks (id, name, prompt, content,"
	    " content_sha256) VALUES ('0123456789abcdef0123456789abcdef',"
	    " 'x', 'x', 'prompt: x', printf('%064d', 0));"
	    "COMMIT", &e) == 0, "deferred foreign key");
	ok(bm_db_exec(db, "INSERT INTO benchmark_versions (benchmark_id,"
	    " content_sha256, content) VALUES"
	    " ('ffffffffffffffffffffffffffffffff', printf('%064d', 0), 'x')",
	    &e) == -1, "foreign key enforced");
	is(e.msg, "FOREIGN KEY constraint failed", "foreign key message");
	bm_db_close(db, NULL);
	bm_error_clear(&e);
}

static void
test_locked(const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *a = bm_db_open(path, &e), *b = bm_db_open(path, &e);
	struct bm_db_stmt *st;

	if (!ok(a && b, "two connections")) {
		bm_db_close(a, NULL);
		bm_db_close(b, NULL);
		return;
	}
	ok(bm_db_begin(a, &e) == 0, "a holds the write lock");
	ok(bm_db_exec(a, "INSERT INTO runs (id) VALUES ('r-2')", &e) == 0,
	    "a writes");
	ok(bm_db_set_busy_timeout(b, 50) == 0, "short busy timeout");
	ok(bm_db_begin(b, &e) == -1, "b cannot begin");
	is(bm_error_str(&e), "bm.db: database is locked",
	    "database is locked");
	ok(!bm_db_in_tx(b), "b has no transaction");
	/* WAL: b still reads the last committed state meanwhile. */
	is_int(q_int(b, "SELECT count(*) FROM runs WHERE id = 'r-2'"), 0,
	    "b reads while a writes");
	st = bm_db_prepare(b, "INSERT INTO runs (id) VALUES ('r-3')", &e);
	is_int(st ? bm_db_step(st, &e) : -2, -1,
	    "b's autocommit write is locked out");
	is(e.msg, "database is locked", "step reports the lock");
	ok(bm_db_commit(a, &e) == 0, "a commits");
	ok(bm_db_begin(b, &e) == 0, "now b can begin");
	bm_db_rollback(b);
	is_int(q_int(b, "SELECT count(*) FROM runs WHERE id = 'r-2'"), 1,
	    "b sees a's row");
	bm_db_close(a, NULL);
	bm_db_close(b, NULL);
	bm_error_clear(&e);
}

/* Processes opening a new file at once: one migrates, all succeed. */
static void
test_concurrent_open(const char *path)
{
	int i, status, failed = 0;
	pid_t pid;

	for (i = 0; i < 8; i++) {
		pid = fork();
		if (pid == 0) {
			struct bm_error e = BM_ERROR_INIT;
			struct bm_db *db = bm_db_open(path, &e);

			if (db == NULL)
				fprintf(stderr, "%s\n", bm_error_str(&e));
			_exit(db == NULL || bm_db_close(db, NULL) == -1);
		}
		if (pid == -1)
			failed++;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	is_int(failed, 0, "eight processes open a new file at once");
}

static void
test_errors(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *db;
	char *p;

	db = bm_db_open(dir, &e);
	ok(db == NULL, "a directory is refused");
	p = xasprintf("%s: unable to open database file", dir);
	is(bm_error_str(&e), p, "directory message");
	free(p);

	p = xasprintf("%s/nosuch/x.db", dir);
	db = bm_db_open(p, &e);
	ok(db == NULL, "a missing directory is refused");
	free(p);
	p = xasprintf("%s/nosuch/x.db: unable to open database file", dir);
	is(bm_error_str(&e), p, "missing directory message");
	free(p);

	p = xasprintf("%s/junk.db", dir);
	{
		FILE *f = fopen(p, "w");

		fputs("this is not an SQLite file, not at all, no; padding "
		    "to more than one hundred bytes so SQLite reads a "
		    "header ..........................................\n", f);
		fclose(f);
	}
	db = bm_db_open(p, &e);
	ok(db == NULL, "a file that is not a database is refused");
	free(p);
	p = xasprintf("%s/junk.db: file is not a database", dir);
	is(bm_error_str(&e), p, "not a database message");
	free(p);
	bm_db_close(db, NULL);
	bm_error_clear(&e);
}

static void
test_newer(const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *db = bm_db_open(path, &e);

	if (!ok(db != NULL, "open for newer"))
		return;
	ok(bm_db_exec(db, "PRAGMA user_version = 7", &e) == 0, "bump");
	bm_db_close(db, NULL);
	db = bm_db_open(path, &e);
	ok(db == NULL, "a newer schema is refused");
	is(bm_error_str(&e),
	    "new.db: schema version 7 is newer than this bm (3)",
	    "newer message");
	bm_db_close(db, NULL);
	bm_error_clear(&e);
}

int
main(void)
{
	char tmpl[] = "/tmp/bm-test-db.XXXXXX";

	dir = mkdtemp(tmpl);
	if (dir == NULL || chdir(dir) == -1) {
		printf("Bail out! cannot make a temporary directory\n");
		return 1;
	}
	test_schema("bm.db");
	test_roundtrip("bm.db");
	test_rollback("bm.db");
	test_locked("bm.db");
	test_newer("new.db");
	test_concurrent_open("many.db");
	test_errors();

	unlink_db("bm.db");
	unlink_db("new.db");
	unlink_db("many.db");
	unlink("junk.db");
	if (rmdir(dir) == -1)
		printf("# cannot remove %s\n", dir);
	return done_testing();
}
