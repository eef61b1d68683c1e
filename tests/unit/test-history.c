/*
 * test-history: bm-runs' queries: times, statuses, the resume command,
 * labels, per-model percentiles, removal counts, and the corners of RUN
 * resolution that test-runs leaves out (which kind of name wins).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "history.h"
#include "jsonl.h"
#include "runs.h"
#include "tap.h"

/* What bm_history_when makes of s: the time, or "error". */
static const char *
when(const char *s)
{
	static char out[BM_CLOCK_TIME_LEN + 1];
	struct bm_error e = BM_ERROR_INIT;

	if (bm_history_when(s, out, &e) < 0) {
		bm_error_clear(&e);
		return "error";
	}
	return out;
}

/* What bm_runs_resolve makes of spec: the id, or "error". */
static const char *
resolve(struct bm_db *db, const char *spec)
{
	static char out[256];
	struct bm_error e = BM_ERROR_INIT;
	char *id;

	if (bm_runs_resolve(db, spec, &id, &e) < 0) {
		bm_error_clear(&e);
		return "error";
	}
	snprintf(out, sizeof(out), "%s", id);
	free(id);
	return out;
}

/* The resume command of a run record given as JSON ("" when none). */
static const char *
resume(const char *json)
{
	static char out[512];
	cJSON *r = cJSON_Parse(json);
	char *s = bm_history_resume(r);

	snprintf(out, sizeof(out), "%s", s ? s : "");
	free(s);
	cJSON_Delete(r);
	return out;
}

/* Why text is not a label ("" when it is one). */
static const char *
label_check(struct bm_db *db, const char *text)
{
	static char out[256];
	struct bm_error e = BM_ERROR_INIT;

	out[0] = '\0';
	if (bm_history_label_check(db, text, &e) < 0)
		snprintf(out, sizeof(out), "%s", e.msg);
	bm_error_clear(&e);
	return out;
}

/* A bm_history_each callback that takes one record and stops. */
static int
stop_at_first(cJSON *run, void *arg, struct bm_error *e)
{
	++*(int *)arg;
	cJSON_Delete(run);
	bm_error_set(e, NULL, 0, 0, "enough");
	return -1;
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_history_counts c;
	struct bm_history_filter f = { -1, NULL, NULL, NULL, NULL, 0 };
	char path[] = "/tmp/test-history-XXXXXX", *ids[2], *s;
	char ago[BM_CLOCK_TIME_LEN + 1], now[BM_CLOCK_TIME_LEN + 1];
	struct bm_db *db;
	cJSON *out, *m;
	time_t t;
	int fd, seen;

	is(when("2026-11-23"), "2026-11-23", "a date");
	is(when("2026-11-23T10:15"), "2026-11-23T10:15", "a date and time");
	is(when("2026-11-23 10:15:00Z"), "2026-11-23T10:15:00",
	    "a blank for T; without the Z it compares as a prefix");
	is(when("2026-11-23T10:15:00.25Z"), "2026-11-23T10:15:00.25",
	    "fractions of a second");
	is(when("2026-13-01"), "error", "month 13");
	is(when("2026-11-23T24:00"), "error", "hour 24");
	is(when("2026-11-23T10"), "error", "an hour without minutes");
	is(when("yesterday"), "error", "words");
	is(when("30"), "error", "an age needs a unit");
	is(when("30y"), "error", "years are not a unit");
	is(when("99999999999d"), "error", "too long ago");
	/* 2 hours ago: the minute before or after the call. */
	t = time(NULL) - 7200;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M", gmtime(&t));
	snprintf(ago, sizeof(ago), "%s", when("2h"));
	fd = strncmp(ago, now, 16) == 0;
	t = time(NULL) - 7200;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M", gmtime(&t));
	ok((fd || strncmp(ago, now, 16) == 0) && strlen(ago) == 24,
	    "2h is 2 hours ago, in the stored form");
	is(when("0s") + 19, ".000Z", "an age has milliseconds");

	is(bm_history_status("running", getpid(), bm_runs_host()), "running",
	    "a live process holds its run");
	is(bm_history_status("running", 0, NULL), "interrupted",
	    "a running row without a process is interrupted");
	is(bm_history_status("running", 2147483647L, bm_runs_host()),
	    "interrupted", "so is one whose process is gone");
	is(bm_history_status("failed", 0, NULL), "failed", "failed stays");
	ok(bm_history_status_ok("finished") && !bm_history_status_ok("done"),
	    "statuses");

	is(resume("{\"id\":\"r-1\",\"status\":\"finished\",\"argv\":[]}"), "",
	    "a finished run needs no resume");
	is(resume("{\"id\":\"r-1\",\"status\":\"interrupted\",\"argv\":"
	    "[\"bm-exec\",\"-j4\",\"--run-id\",\"r-1\",\"--db\",\"my db\"]}"),
	    "bm-exec -j4 --db 'my db' --resume r-1",
	    "the run's own command line, --run-id replaced, quoted for sh");
	is(resume("{\"id\":\"r-1\",\"status\":\"failed\",\"argv\":"
	    "[\"../bm-exec\",\"--run-id=r-1\",\"it's\",\"--resume\",\"last\"]}"),
	    "../bm-exec 'it'\\''s' --resume r-1",
	    "--run-id=ID and an earlier --resume go; quotes are quoted");
	is(resume("{\"id\":\"r-1\",\"status\":\"interrupted\",\"argv\":null}"),
	    "bm-exec --resume r-1", "no argv: bm-exec alone");

	fd = mkstemp(path);
	close(fd);
	unlink(path);
	db = bm_db_open(path, &e);
	ok(db != NULL, "open");
	ok(bm_db_exec(db, "INSERT INTO runs (id, started_at, label, status)"
	    " VALUES ('abc', '2026-11-01T00:00:00.000Z', NULL, 'finished'),"
	    " ('abcd', '2026-11-02T00:00:00.000Z', 'abc', 'finished'),"
	    " ('xyz-1', '2026-11-03T00:00:00.000Z', 'xy', 'finished'),"
	    " ('xyz-2', '2026-11-04T00:00:00.000Z', NULL, 'interrupted');",
	    &e) == 0, "four runs");
	is(resolve(db, "abc"), "abc", "an exact id wins over a label");
	is(resolve(db, "xy"), "xyz-1", "a label wins over a prefix");
	is(resolve(db, "xyz"), "error", "an ambiguous prefix");
	is(resolve(db, "last~x"), "error", "last~ with junk is no run");
	is(resolve(db, "last~0"), "xyz-2", "last~0 is last");

	is(label_check(db, "baseline"), "", "a label");
	is(label_check(db, "xyz"), "label 'xyz' is a prefix of run id xyz-2",
	    "a prefix of an id is not a label");
	is(label_check(db, "last~3"),
	    "label 'last~3': 'last' and 'last~N' name the latest runs",
	    "RUN syntax is not a label");
	is_int(bm_history_label(db, "xyz-2", "xy", 0, &e), 1,
	    "a label held elsewhere is refused");
	bm_error_clear(&e);
	is_int(bm_history_label(db, "xyz-2", "xy", 1, &e), 0, "and moved");
	is(resolve(db, "xy"), "xyz-2", "to its new run");

	f.status = "interrupted";
	f.limit = 1;
	out = bm_history_list(db, &f, &e);
	is_int(cJSON_GetArraySize(out), 1, "the status filter, then -n");
	is(bm_json_str(cJSON_GetArrayItem(out, 0), "id"), "xyz-2",
	    "the newest interrupted run");
	cJSON_Delete(out);

	/* Latency percentiles over answered results, as numpy has them. */
	ok(bm_db_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT"
	    " i + 1 FROM n WHERE i < 10) INSERT INTO results (run_id, case_id,"
	    " model, status, latency_ms, record) SELECT 'abc', 'c' || i, 'm',"
	    " CASE WHEN i % 2 THEN 'pass' ELSE 'fail' END, i, '{}' FROM n;"
	    "INSERT INTO results (run_id, case_id, model, status, latency_ms,"
	    " record) VALUES ('abc', 'e', 'm', 'error', 1000, '{}');"
	    "INSERT INTO stats VALUES ('abc', '{}', '{}');", &e) == 0,
	    "eleven results");
	out = bm_history_models(db, "abc", &e);
	m = cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "latency_ms");
	ok(bm_json_numor(m, "p50", 0) == 5.5, "p50 of 1..10 is 5.5");
	ok(bm_json_numor(m, "p95", 0) > 9.5499 &&
	    bm_json_numor(m, "p95", 0) < 9.5501, "p95 of 1..10 is 9.55");
	s = bm_json_print(cJSON_GetArrayItem(out, 0));
	is(s, "{\"model\":\"m\",\"cases\":11,\"results\":11,\"pass\":5,"
	    "\"fail\":5,\"error\":1,\"cancelled\":0,\"cost_usd\":0,"
	    "\"latency_ms\":{\"p50\":5.5,\"p95\":9.55}}", "the summary");
	free(s);
	cJSON_Delete(out);

	ids[0] = "abc";
	ids[1] = "xyz-1";
	ok(bm_history_rm(db, ids, 2, 1, NULL, NULL, &out, &c, &e) == 0 &&
	    c.runs == 2 && c.results == 11 && c.stats == 1, "a dry removal"
	    " counts");
	cJSON_Delete(out);
	ok(bm_history_rm(db, ids, 2, 0, NULL, NULL, &out, &c, &e) == 0 &&
	    cJSON_GetArraySize(out) == 2, "a removal");
	cJSON_Delete(out);
	f = (struct bm_history_filter){ -1, NULL, NULL, NULL, NULL, 0 };
	out = bm_history_list(db, &f, &e);
	is_int(cJSON_GetArraySize(out), 2, "two runs are left");
	cJSON_Delete(out);
	seen = 0;
	ok(bm_history_each(db, &f, stop_at_first, &seen, &e) < 0 &&
	    seen == 1 && strstr(bm_error_str(&e), "enough") != NULL,
	    "bm_history_each hands records one by one and stops on -1");
	bm_error_clear(&e);
	ok(bm_history_rm(db, ids, 1, 0, NULL, NULL, &out, &c, &e) < 0 &&
	    out == NULL, "a removed run is gone");
	bm_error_clear(&e);

	ok(bm_db_close(db, &e) == 0, "close");
	unlink(path);
	return done_testing();
}
