/* test-runs: runs and results rows, resume lookups, the answer cache. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "runs.h"
#include "tap.h"

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_run_info info = { "r-1", "[\"bm-exec\"]", NULL, NULL, "h" };
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
