/* test-commitq: results held for one transaction, a busy file retried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "commitq.h"
#include "db.h"
#include "runs.h"
#include "tap.h"

/* A result record of case id, and its line. */
static void
hold(struct bm_commitq *q, const char *id)
{
	cJSON *res = cJSON_Parse("{\"type\":\"result\",\"run_id\":\"r-1\","
	    "\"benchmark_id\":\"b\",\"model\":\"echo:\",\"step\":0,"
	    "\"status\":\"pass\",\"error\":null,\"output\":\"4\"}");

	cJSON_AddStringToObject(res, "case_id", id);
	bm_commitq_result(q, res, cJSON_PrintUnformatted(res));
}

/* bm_commitq_take's fn: the lines, each ending in '|'. */
static void
line(void *arg, const char *s, size_t len)
{
	bm_buf_add(arg, s, len);
	bm_buf_add(arg, "|", 1);
}

/* Is case id's result stored: 1, 0 (-1 on an error). */
static int
finished(struct bm_runs *r, const char *id)
{
	struct bm_error e = BM_ERROR_INIT;
	char *rec = NULL;
	int rc = bm_runs_finished(r, id, 0, &rec, &e);

	free(rec);
	bm_error_clear(&e);
	return rc;
}

/* Run r-1 in a new database file at path (a mkstemp template). */
static struct bm_runs *
start(char *path, struct bm_db **db)
{
	static const struct bm_run_info info = { "r-1", "[\"bm-exec\"]",
	    NULL, NULL, "h", NULL };
	struct bm_error e = BM_ERROR_INIT;
	struct bm_runs *r = NULL;

	close(mkstemp(path));
	unlink(path);
	*db = bm_db_open(path, &e);
	if (*db)
		r = bm_runs_start(*db, &info, 0, &e);
	bm_error_clear(&e);
	return r;
}

int
main(void)
{
	char path[] = "/tmp/test-commitq-XXXXXX", *out;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_buf b = BM_BUF_INIT;
	struct bm_db *db, *other;
	struct bm_commitq *q;
	struct bm_runs *r;
	long n, pt, ct;

	r = start(path, &db);
	ok(r != NULL, "a run");

	/* Without a run: nothing stored, the lines handed back in order. */
	q = bm_commitq_new(NULL, NULL, 0);
	hold(q, "a");
	hold(q, "b");
	is_int(bm_commitq_len(q), 2, "two held");
	ok(bm_commitq_commit(q, 0, &n, &e) == 1 && n == 0, "no run: no store");
	bm_commitq_take(q, line, &b);
	ok(strstr(bm_buf_str(&b), "\"case_id\":\"a\"}|{") != NULL,
	    "the lines in order");
	is_int(bm_commitq_len(q), 0, "taken");
	bm_commitq_free(q);

	/* Two results and an answer in one transaction. */
	q = bm_commitq_new(r, path, 100);
	hold(q, "a");
	bm_commitq_cache(q, "k", "ans", 3, -1);
	hold(q, "b");
	is_int(bm_commitq_len(q), 3, "three held");
	ok(bm_commitq_commit(q, 1000, &n, &e) == 1, "committed");
	is_int(n, 2, "two results");
	ok(finished(r, "a") == 1 && finished(r, "b") == 1, "both stored");
	ok(bm_runs_cache_get(r, "k", &out, &pt, &ct, &e) == 1 &&
	    strcmp(out, "ans") == 0 && pt == 3 && ct == -1, "the answer too");
	free(out);
	bm_buf_free(&b);
	bm_commitq_take(q, line, &b);
	ok(strncmp(bm_buf_str(&b), "{\"type\":\"result\"", 16) == 0 &&
	    strstr(bm_buf_str(&b), "\"case_id\":\"b\"}|") != NULL,
	    "then printed");

	/* Another writer holds the file: busy, tried again, then locked. */
	other = bm_db_open(path, &e);
	ok(bm_db_exec(other, "BEGIN IMMEDIATE", &e) == 0, "another writer");
	hold(q, "c");
	is_int(bm_commitq_commit(q, 2000, &n, &e), 0, "busy");
	ok(e.msg == NULL, "busy is no error");
	ok(bm_commitq_next_try(q) == 2050, "tried again in 50 ms");
	is_int(bm_commitq_commit(q, 2060, &n, &e), 0, "still busy");
	is_int(bm_commitq_commit(q, 2100, &n, &e), -1, "busy for busy_ms");
	is(e.msg, "database is locked (tried for 0.1 s)", "the message");
	is(e.file, path, "names the file");
	bm_error_clear(&e);
	is_int(bm_commitq_len(q), 1, "still held");
	is_int(finished(r, "c"), 0, "nothing stored");
	ok(bm_db_exec(other, "ROLLBACK", &e) == 0, "the writer is gone");
	ok(bm_commitq_commit(q, 3000, &n, &e) == 1 && n == 1, "stored now");
	is_int(finished(r, "c"), 1, "in the file");

	bm_commitq_free(q);
	bm_buf_free(&b);
	bm_db_close(other, &e);
	bm_runs_end(r, "finished", &e);
	bm_db_close(db, &e);
	unlink(path);
	return done_testing();
}
