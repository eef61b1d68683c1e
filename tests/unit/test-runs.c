/* test-runs: runs and results rows, resume lookups, the answer cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "runs.h"
#include "tap.h"

/* "results cases pass fail error cancelled cost" of run id's row. */
static const char *
q_counts(struct bm_db *db, const char *id)
{
	static char out[256];
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st = bm_db_prepare(db, "SELECT results, cases, pass,"
	    " fail, error, cancelled, cost_usd FROM run_models WHERE"
	    " run_id = ?", &e);

	out[0] = '\0';
	bm_db_bind_text(st, 1, id);
	if (bm_db_step(st, &e) == 1)
		snprintf(out, sizeof(out), "%lld %lld %lld %lld %lld %lld %g",
		    bm_db_col_int(st, 0), bm_db_col_int(st, 1),
		    bm_db_col_int(st, 2), bm_db_col_int(st, 3),
		    bm_db_col_int(st, 4), bm_db_col_int(st, 5),
		    bm_db_col_double(st, 6));
	bm_db_reset(st);
	return out;
}

/* What bm_runs_resolve makes of spec: the id, or "error: message". */
static const char *
resolve(struct bm_db *db, const char *spec)
{
	static char out[512];
	struct bm_error e = BM_ERROR_INIT;
	char *id;

	if (bm_runs_resolve(db, spec, &id, &e) == 0) {
		snprintf(out, sizeof(out), "%s", id);
		free(id);
	} else {
		snprintf(out, sizeof(out), "error: %s", e.msg);
		bm_error_clear(&e);
	}
	return out;
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_run_info info = { "r-1", "[\"bm-exec\"]", NULL, NULL, "h",
	    NULL };
	char path[] = "/tmp/test-runs-XXXXXX", *db_path, *rec, key[65], k2[65];
	struct bm_runs *r;
	struct bm_db *db;
	cJSON *res, *m;
	long pt, ct;
	int fd;

	fd = mkstemp(path);
	close(fd);
	unlink(path);
	db_path = path;
	db = bm_db_open(db_path, &e);
	ok(db != NULL, "open");
	ok(bm_runs_start(db, &info, 1, &e) == NULL, "resume needs the run");
	bm_error_clear(&e);
	r = bm_runs_start(db, &info, 0, &e);
	ok(r != NULL, "start");
	res = cJSON_Parse("{\"type\":\"result\",\"run_id\":\"r-1\","
	    "\"case_id\":\"c1\",\"benchmark_id\":\"b\",\"model\":\"echo:\","
	    "\"step\":0,\"status\":\"pass\",\"error\":null,\"output\":\"4\"}");
	ok(bm_runs_add(r, res, "{\"a\":1}", &e) == 0, "add");
	is_int(bm_runs_pending(r), 1, "pending");
	ok(bm_runs_commit(r, &e) == 0 && bm_runs_pending(r) == 0, "commit");
	ok(bm_runs_add(r, res, "{\"a\":2}", &e) == 0, "add again");
	cJSON_ReplaceItemInObject(res, "status", cJSON_CreateString("error"));
	cJSON_ReplaceItemInObject(res, "case_id", cJSON_CreateString("c2"));
	bm_runs_add(r, res, "{\"a\":3}", &e);
	ok(bm_runs_finished(r, "c1", 0, &rec, &e) == 1, "c1 is finished");
	is(rec, "{\"a\":2}", "the row was replaced, not doubled");
	free(rec);
	is_int(bm_runs_finished(r, "c2", 0, &rec, &e), 0,
	    "an error is not finished");
	is_int(bm_runs_finished(r, "c1", 1, &rec, &e), 0, "nor another step");

	/* A result's row: its fields, NULL (not known) where absent. */
	{
		struct bm_runs_row w;
		cJSON *x = cJSON_Parse("{\"case_id\":\"c9\",\"model\":\"m\","
		    "\"trial\":2,\"status\":\"error\",\"error\":{\"class\":"
		    "\"timeout\"},\"latency_ms\":1.5,\"usage\":{"
		    "\"prompt_tokens\":7},\"score\":null,\"case_id\":\"c8\"}");

		bm_runs_row_of(x, "{}", &w);
		is(w.case_id, "c9", "row: the first case_id");
		ok(!w.benchmark_id && !w.variant && !w.output, "row: absent");
		is(w.error_class, "timeout", "row: the error's class");
		ok(w.step == 0 && w.trial == 2 && w.repeat == 0,
		    "row: step, trial, repeat (0 when absent)");
		ok(w.known == (BM_ROW_LATENCY | BM_ROW_PROMPT) &&
		    w.latency_ms == 1.5 && w.prompt_tokens == 7,
		    "row: the numbers known, no other");
		is(w.record, "{}", "row: the record");
		cJSON_Delete(x);
	}

	m = cJSON_Parse("[{\"role\":\"user\",\"content\":\"x\"}]");
	bm_runs_cache_key("openai", "m", m, NULL, key);
	bm_runs_cache_key("openai", "m2", m, NULL, k2);
	ok(strcmp(key, k2) != 0, "the model is part of the key");
	is_int(bm_runs_cache_get(r, key, &rec, &pt, &ct, &e), 0, "a miss");
	ok(bm_runs_cache_put(r, key, "ans", 3, -1, &e) == 0, "put");
	ok(bm_runs_cache_get(r, key, &rec, &pt, &ct, &e) == 1 &&
	    strcmp(rec, "ans") == 0 && pt == 3 && ct == -1, "a hit");
	free(rec);
	ok(bm_runs_end(r, "finished", &e) == 0, "end");
	r = bm_runs_start(db, &info, 0, &e);
	ok(r == NULL, "a new run cannot take an existing id");
	bm_error_clear(&e);
	r = bm_runs_start(db, &info, 1, &e);
	ok(r != NULL, "resume");
	ok(bm_runs_end(r, "interrupted", &e) == 0, "end again");
	cJSON_Delete(res);
	cJSON_Delete(m);

	res = cJSON_Parse("{\"tags\":[\"t\"],\"status\":\"pass\","
	    "\"type\":\"result\",\"cached\":true,\"score\":1}");
	bm_runs_shape(res);
	rec = cJSON_PrintUnformatted(res);
	is(rec, "{\"type\":\"result\",\"run_id\":null,\"case_id\":null,"
	    "\"benchmark_id\":null,\"benchmark\":null,\"model\":null,"
	    "\"variant\":null,\"trial\":null,\"repeat\":null,\"step\":null,"
	    "\"status\":\"pass\",\"error\":null,\"output\":null,"
	    "\"latency_ms\":null,\"ttft_ms\":null,\"attempts\":null,"
	    "\"usage\":null,\"cost_usd\":null,\"score\":1,"
	    "\"assertions\":null,\"metrics\":null,\"started_at\":null,"
	    "\"finished_at\":null,\"tags\":[\"t\"],\"cached\":true}",
	    "shape: every field of a result, in order, then the others");
	free(rec);
	cJSON_Delete(res);
	ok(bm_runs_check_id("r-20261123T101500Z-3f2a", &e) == 0 &&
	    bm_runs_check_id("nightly/2026-11-23", &e) == 0, "run ids");
	ok(bm_runs_check_id("", &e) < 0, "not empty");
	bm_error_clear(&e);
	ok(bm_runs_check_id("a b", &e) < 0 && bm_runs_check_id("a\tb", &e) < 0,
	    "no blanks");
	bm_error_clear(&e);

	/* run_models: counts kept by triggers through replace and delete. */
	ok(bm_db_exec(db, "INSERT INTO results (run_id, case_id, step, model,"
	    " status, error_class, cost_usd, record) VALUES"
	    " ('r-2', 'a', 0, 'm', 'error', 'cancelled', NULL, '{}'),"
	    " ('r-2', 'b', 0, 'm', 'fail', NULL, 0.5, '{}'),"
	    " ('r-2', 'b', 1, 'm', 'pass', NULL, 0.25, '{}');"
	    "INSERT OR REPLACE INTO results (run_id, case_id, step, model,"
	    " status, cost_usd, record) VALUES"
	    " ('r-2', 'a', 0, 'm', 'pass', 1, '{}');", &e) == 0,
	    "results inserted and one replaced");
	is(q_counts(db, "r-2"), "3 2 2 1 0 0 1.75", "run_models after a replace");
	ok(bm_db_exec(db, "UPDATE results SET status = 'error', error_class"
	    " = 'timeout' WHERE run_id = 'r-2' AND case_id = 'b' AND step = 0;"
	    "DELETE FROM results WHERE run_id = 'r-2' AND step = 1;", &e) == 0,
	    "a result updated and one deleted");
	is(q_counts(db, "r-2"), "2 2 1 0 1 0 1.5", "run_models after both");
	ok(bm_db_exec(db, "DELETE FROM results WHERE run_id = 'r-2'", &e) == 0,
	    "the run's results deleted");
	is(q_counts(db, "r-2"), "", "and its run_models row with them");

	/* RUN as every program takes it. */
	ok(bm_db_exec(db, "INSERT INTO runs (id, started_at, label) VALUES"
	    " ('r-20261101T000000Z-aaaa', '2026-11-01T00:00:00.000Z', NULL),"
	    " ('r-20261102T000000Z-bbbb', '2026-11-02T00:00:00.000Z', 'base'),"
	    " ('r-20261102T000000Z-bbbc', '2026-11-02T00:00:01.000Z', NULL),"
	    " ('zzz', '2026-11-03T00:00:00.000Z', NULL);"
	    "DELETE FROM runs WHERE id = 'r-1'", &e) == 0, "four runs");
	is(resolve(db, "last"), "zzz", "last is the newest");
	is(resolve(db, "last~1"), "r-20261102T000000Z-bbbc", "last~1");
	is(resolve(db, "last~3"), "r-20261101T000000Z-aaaa", "last~3");
	is(resolve(db, "last~4"), "error: last~4: there are not 4 runs before"
	    " the latest", "last~N past the first run");
	is(resolve(db, "base"), "r-20261102T000000Z-bbbb", "a label");
	is(resolve(db, "r-20261101"), "r-20261101T000000Z-aaaa",
	    "a unique prefix");
	is(resolve(db, "r-20261102T000000Z-bbbc"), "r-20261102T000000Z-bbbc",
	    "an id that is also a prefix of nothing else");
	is(resolve(db, "r-20261102"), "error: run 'r-20261102' is ambiguous:"
	    " 2 runs match (r-20261102T000000Z-bbbc, r-20261102T000000Z-bbbb)",
	    "an ambiguous prefix names the candidates");
	is(resolve(db, "nope"), "error: no run 'nope'", "no such run");
	ok(bm_runs_alive(getpid(), bm_runs_host()), "this process is alive");
	ok(!bm_runs_alive(0, NULL), "pid 0 is nobody");
	ok(bm_runs_alive(1, "another-host.invalid"),
	    "a run on another host cannot be told dead from here");

	ok(bm_db_close(db, &e) == 0, "close");
	unlink(db_path);
	rec = malloc(strlen(db_path) + 5);
	memcpy(rec, db_path, strlen(db_path));
	memcpy(rec + strlen(db_path), "-wal", 5);
	unlink(rec);
	memcpy(rec + strlen(db_path), "-shm", 5);
	unlink(rec);
	free(rec);
	done_testing();
}
