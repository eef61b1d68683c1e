/*
 * bm-exec: run `case` records against models and write `result` records as
 * they complete (DESIGN.md §8).
 *
 *	bm-ingest ... | bm-exec [-j N] [--resume RUN] ... | bm-stats
 *
 * lib/sched runs the cases: one event loop over libcurl's multi interface,
 * child processes for exec providers and the limits of each provider.
 * This file turns input lines into cases and outcomes into result records
 * (scored, printed, stored), and handles signals, --resume and --cache.
 * Every case read yields exactly one result per step, even when
 * interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "assert.h"
#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "hash.h"
#include "jsonl.h"
#include "judge.h"
#include "map.h"
#include "provider.h"
#include "rescore.h"
#include "runs.h"
#include "sched.h"
#include "xalloc.h"

#include "exec-show.h"

static const char usage[] =
    "usage: bm-exec [-q] [-v] [-j N] [--retries N] [--timeout S] "
    "[--stream]\n"
    "               [--run-id ID | --resume RUN] [--grace S] [--backoff S]\n"
    "               [--dry-run] [--cache] [--progress] [--status-interval S]\n"
    "               [--give-up S] [--rescore RUN] [--rejudge] [--no-db]\n"
    "               [--db PATH] [--config PATH]\n";
static const struct bm_cli_opt options[] = {
	{ "-j, --jobs N", "at most N requests in flight (default 8)" },
	{ "--retries N", "retries of a retryable failure" },
	{ "--timeout S", "seconds allowed for one attempt" },
	{ "--stream", "server-sent events with every provider that has them" },
	{ "--run-id ID", "store the results under ID, which must be new" },
	{ "--resume RUN", "continue RUN, skipping the cases it finished" },
	{ "--grace S", "seconds given after the first signal (default 10)" },
	{ "--backoff S", "base delay of the retry backoff (default 1)" },
	{ "--dry-run", "check every case and print the plan, no request" },
	{ "--cache", "answer a request seen before from the database" },
	{ "--progress", "the progress line even when stderr is no terminal" },
	{ "--status-interval S", "seconds between -v status lines" },
	{ "--give-up S", "end a dead provider's cases after S seconds" },
	{ "--rescore RUN", "score RUN's stored answers again, no request" },
	{ "--rejudge", "with --rescore: ask the judges again" },
	BM_CLI_HELP_NO_DB, BM_CLI_HELP_DB, BM_CLI_HELP_CONFIG,
	BM_CLI_HELP_QUIET, BM_CLI_HELP_VERBOSE, BM_CLI_HELP_HELP,
	BM_CLI_HELP_VERSION, BM_CLI_HELP_END
};

enum {
	OPT_RETRIES = BM_CLI_OPT_PROGRAM, OPT_TIMEOUT, OPT_STREAM, OPT_RUN_ID,
	OPT_RESUME, OPT_GRACE, OPT_BACKOFF, OPT_DRY_RUN, OPT_CACHE,
	OPT_PROGRESS, OPT_STATUS_INTERVAL, OPT_GIVE_UP, OPT_RESCORE,
	OPT_REJUDGE
};


/* A result (json) or a --cache answer (key) waiting for its commit. */
struct held {
	char *json;
	cJSON *r;
	char *key, *output;
	long pt, ct;
};

static struct {
	struct bm_config *cfg;
	struct bm_sched *sched;
	struct bm_runs *runs;
	double grace_s, status_ms;
	int cache, progress, dry_run;
	const char *run_id;
	const char *db_path;
	int busy_ms;			/* BM_BUSY_TIMEOUT_MS: a busy file */
	/* signals */
	volatile sig_atomic_t signals;
	long seen;
	/* counts */
	long done, pass, fail, errors, bad_lines;
	long by_class[BM_CLASS_CONFIG + 1];
	long cancelled;
	int write_failed, write_errno, db_failed;
	/* results written and not yet committed (DESIGN.md §7) */
	struct held *q;
	size_t nq, qcap;
	long queued, committed;		/* results, since the start */
	long outside;			/* written by bad_assertion */
	double busy_since, next_try;	/* ms: the file was found busy */
	/* the case stream, read once before the first request */
	long total;			/* results it asks for */
	struct bm_map *ids;		/* --resume: its case ids */
	char stream[BM_HASH_SHA256_LEN + 1];
	int incomplete;			/* --resume: the run is not whole */
	int shown;		/* a progress line waits for its end */
	int out_tty;		/* stdout is a terminal too */
	char *said;		/* the last status line logged */
	double t0, last_commit, last_progress;	/* ms, monotonic */
} X;

/* A message is about to be printed: take the progress line away. */
static void
unshow(void)
{
	if (X.shown)
		fputs("\r\033[K", stderr);
	X.shown = 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	X.signals++;
	if (X.sched)
		bm_sched_wake(X.sched);
}

static void queue_print(void);

/*
 * The database failed: say so, start no more requests (what is in flight
 * may finish), and print the results that could not be stored, and every
 * later one, without storing them.  The run exits 2.
 */
static void
db_failed(struct bm_error *e)
{
	unshow();
	bm_error_print(e);
	bm_error_clear(e);
	if (!X.db_failed && X.sched) {
		bm_errorf("cannot store results: no more requests are sent;"
		    " results go to stdout only");
		bm_sched_stop_why(X.sched, X.grace_s * 1000,
		    "not sent: the database failed");
	}
	X.db_failed = 1;
	queue_print();
}

/* The result record for step s, without outcome fields. */
static cJSON *
result_new(const struct bm_sched_step *s)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *it;

	cJSON_AddStringToObject(r, "type", "result");
	cJSON_AddStringToObject(r, "run_id", X.run_id ? X.run_id : "");
	cJSON_ArrayForEach(it, s->kase) {
		/* The prompt is the case's; results carry the answer. */
		if (strcmp(it->string, "type") == 0 ||
		    strcmp(it->string, "run_id") == 0 ||
		    strcmp(it->string, "messages") == 0 ||
		    strcmp(it->string, "steps") == 0 ||
		    strcmp(it->string, "system") == 0)
			continue;
		cJSON_AddItemToObject(r, it->string, cJSON_Duplicate(it, 1));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(r, "step");
	cJSON_AddNumberToObject(r, "step", (double)s->step);
	return r;
}

/*
 * Standard output failed (the reader went away, the disk is full): start
 * no more work, as after a signal; what runs may finish and is stored.
 */
static void
out_failed(void)
{
	if (X.write_failed)
		return;
	X.write_failed = 1;
	X.write_errno = errno;
	if (X.sched)
		bm_sched_stop(X.sched, X.grace_s * 1000);
}

/*
 * Write a record to standard output (not into the progress line), flushed
 * at once whatever stdout is, so that `tail -f` follows a run.
 */
static void
out(const char *json, size_t len)
{
	if (X.out_tty)
		unshow();
	if (X.write_failed)
		return;
	if (fwrite(json, 1, len, stdout) != len || putc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF)
		out_failed();
}

/* Print what waits in the queue (committed, or never to be) and empty it. */
static void
queue_print(void)
{
	struct held *h;
	size_t i;

	for (i = 0; i < X.nq; i++) {
		h = &X.q[i];
		if (h->json)
			out(h->json, strlen(h->json));
		free(h->json);
		cJSON_Delete(h->r);
		free(h->key);
		free(h->output);
	}
	X.nq = 0;
}

static struct held *
queue_add(void)
{
	if (X.nq == X.qcap) {
		X.qcap = X.qcap ? 2 * X.qcap : 64;
		X.q = xreallocarray(X.q, X.qcap, sizeof(*X.q));
	}
	return memset(&X.q[X.nq++], 0, sizeof(*X.q));
}

/*
 * Store what waits in the queue in one transaction, then print it: a
 * result line on stdout is a committed result.  A busy file is not
 * waited for (the loop goes on); it is tried again after 50 ms, for up
 * to BM_BUSY_TIMEOUT_MS; then, as on any other failure, the database
 * has failed.
 * Returns 0 when the file was busy, else 1.
 */
static int
flush(double now)
{
	struct bm_error e = BM_ERROR_INIT;
	struct held *h;
	size_t i;
	long n = 0;
	int rc;

	if (X.nq == 0)
		return 1;
	if (!X.runs || X.db_failed) {
		queue_print();
		return 1;
	}
	rc = bm_runs_try_begin(X.runs, &e);
	for (i = 0; rc == 1 && i < X.nq; i++) {
		h = &X.q[i];
		n += h->json != NULL;
		if (h->json ? bm_runs_add(X.runs, h->r, h->json, &e) < 0 :
		    bm_runs_cache_put(X.runs, h->key, h->output, h->pt, h->ct,
		    &e) < 0)
			rc = -1;
	}
	if (rc == 1)
		rc = bm_runs_try_commit(X.runs, &e);
	if (rc == 0) {
		bm_error_clear(&e);
		if (X.busy_since == 0)
			X.busy_since = now;
		if (now - X.busy_since < X.busy_ms) {
			X.next_try = now + 50;
			return 0;
		}
		bm_error_set(&e, X.db_path, 0, 0, "database is locked (tried"
		    " for %g s)", X.busy_ms / 1000.0);
		rc = -1;
	}
	if (rc < 0) {
		bm_runs_rollback(X.runs);
		db_failed(&e);
		return 1;
	}
	X.busy_since = 0;
	X.last_commit = now;
	X.committed += n;
	queue_print();
	return 1;
}

/* Count one result and have it stored and printed; takes r. */
static void
emit(cJSON *r, enum bm_class cls)
{
	struct held *h;

	X.done++;
	if (cls == BM_CLASS_CANCELLED) {
		X.errors++;
		X.cancelled++;
		X.by_class[cls]++;
	} else if (cls != BM_CLASS_NONE) {
		X.errors++;
		X.by_class[cls]++;
	} else if (strcmp(bm_json_str(r, "status"), "pass") == 0) {
		X.pass++;
	} else {
		X.fail++;
	}
	X.queued++;
	h = queue_add();
	h->json = bm_json_print(r);
	h->r = r;
	if (!X.runs || X.db_failed)
		queue_print();
}

/* Results stored so far (all of them written, without a database). */
static long
on_stored(void *user)
{
	(void)user;
	/* Results bad_assertion wrote are not the scheduler's: less them
	 * (until they are committed, a sequence waits a little longer). */
	return (X.runs && !X.db_failed ? X.committed : X.queued) - X.outside;
}

static void
add_error(cJSON *r, enum bm_class cls, const char *msg, long status)
{
	cJSON *err = cJSON_AddObjectToObject(r, "error");
	char *clean = bm_redact(msg ? msg : "");

	/* A server's message may quote the key: redact the value; and it
	 * may be any bytes: make it UTF-8. */
	bm_utf8_fix(&clean);
	cJSON_AddStringToObject(err, "class", bm_class_name(cls));
	cJSON_AddStringToObject(err, "message", clean);
	free(clean);
	if (status > 0)
		cJSON_AddNumberToObject(err, "http_status", (double)status);
	else
		cJSON_AddNullToObject(err, "http_status");
}

static void
add_num(cJSON *r, const char *k, double v, int known)
{
	if (known)
		cJSON_AddNumberToObject(r, k, v);
	else
		cJSON_AddNullToObject(r, k);
}

/* Milliseconds to the microsecond: no false precision in records. */
static double
ms3(double ms)
{
	return (double)llround(ms * 1000) / 1000;
}

/* Judges and scorers may take a while: not the model's latency. */
static double
latency_of(const struct bm_sched_step *s)
{
	return (s->answered_ms > 0 ? s->answered_ms : bm_clock_ms()) -
	    s->attempt_ms;
}

/* What the answer of step s brought: output, times, usage, cost. */
static void
add_answer(cJSON *r, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o, double latency)
{
	const struct bm_model *m = s->t->model;
	long pt = o->reply.prompt_tokens, ct = o->reply.completion_tokens;
	cJSON *u;

	if (o->reply.output)
		cJSON_AddStringToObject(r, "output", o->reply.output);
	else
		cJSON_AddNullToObject(r, "output");
	add_num(r, "latency_ms", ms3(latency), s->attempts > 0);
	add_num(r, "ttft_ms", ms3(s->ttft_ms), s->ttft_ms >= 0);
	cJSON_AddNumberToObject(r, "attempts", s->attempts);
	if (pt >= 0 || ct >= 0) {
		u = cJSON_AddObjectToObject(r, "usage");
		add_num(u, "prompt_tokens", (double)pt, pt >= 0);
		add_num(u, "completion_tokens", (double)ct, ct >= 0);
	} else {
		cJSON_AddNullToObject(r, "usage");
	}
	add_num(r, "cost_usd", ((double)(pt > 0 ? pt : 0) *
	    (m ? m->price_input : 0) + (double)(ct > 0 ? ct : 0) *
	    (m ? m->price_output : 0)) / 1e6,
	    m && m->has_price && (pt >= 0 || ct >= 0) && !o->cached);
	/* An exec provider's exit status, so that exit-code re-scores. */
	if (s->t->provider && s->t->provider->type == BM_PROVIDER_EXEC)
		add_num(r, "exit_code", o->exit_code, o->exit_code >= 0);
}

/*
 * Step s ended with outcome o: score the answer, write the result record.
 * Returns the class recorded (a judge error when scoring failed).
 */
static enum bm_class
on_result(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a = { .exit_code = -1 };
	double latency = latency_of(s);
	char fin[BM_CLOCK_TIME_LEN + 1];
	enum bm_class cls = o->cls;
	const char *msg = o->msg;
	cJSON *r = result_new(s), *sc = cJSON_CreateObject();
	int rc = 0;

	(void)user;
	cJSON_AddStringToObject(r, "status", "error");
	if (cls == BM_CLASS_NONE) {
		a.output = o->reply.output ? o->reply.output : "";
		a.latency_ms = latency;
		a.completion_tokens = o->reply.completion_tokens;
		a.exit_code = s->t->provider->type == BM_PROVIDER_EXEC ?
		    o->exit_code : -1;
		a.verdicts = o->verdicts;
		/* bm_assert_score adds assertions, score and metrics. */
		rc = bm_assert_score(s->expect, &a, sc, &e);
		if (rc < 0) {
			cls = BM_CLASS_JUDGE;
			msg = bm_error_str(&e);
		} else {
			cJSON_ReplaceItemInObjectCaseSensitive(r, "status",
			    cJSON_CreateString(rc ? "pass" : "fail"));
		}
	}
	if (cls != BM_CLASS_NONE) {
		add_error(r, cls, msg, o->http_status);
		if (bm_verbosity > 0 && (unshow(), 1))
			bm_errorf("case %s: %s: %s",
			    bm_json_str(s->kase, "case_id"),
			    bm_class_name(cls), msg ? msg : "");
	} else {
		cJSON_AddNullToObject(r, "error");
	}
	add_answer(r, s, o, latency);
	if (o->judges > 0)
		bm_judge_add_usage(r, o->judge_prompt_tokens,
		    o->judge_completion_tokens, o->judge_cost_usd,
		    o->judge_priced);
	bm_assert_attach(r, sc, rc >= 0 && cls == BM_CLASS_NONE);
	if (o->cached)
		cJSON_AddTrueToObject(r, "cached");
	if (o->repaired)
		cJSON_AddTrueToObject(r, "output_repaired");
	cJSON_AddStringToObject(r, "started_at", s->started_at);
	bm_clock_rfc3339(fin);
	cJSON_AddStringToObject(r, "finished_at", fin);
	bm_runs_shape(r);
	emit(r, cls);
	bm_error_clear(&e);
	return cls;
}

/*
 * A case whose assertions do not check (a regex that does not compile, an
 * unknown type) never reaches the scheduler: each of its steps ends as an
 * error of class config, with no request; the message is printed once.
 * Its results are written here, outside the scheduler, so on_stored does
 * not count them against the scheduler's own (X.outside).
 */
static void
bad_assertion(cJSON *rec, const char *msg)
{
	static struct bm_map *said;
	static const struct bm_target none;
	struct bm_sched_outcome o = { .cls = BM_CLASS_CONFIG, .msg = msg,
	    .reply = { NULL, -1, -1 }, .exit_code = -1 };
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	char at[BM_CLOCK_TIME_LEN + 1];
	struct bm_sched_step v = { .kase = rec, .t = &none, .nsteps = 1,
	    .ttft_ms = -1, .started_at = at };

	if (!said)
		said = bm_map_new();
	if (!bm_map_get(said, msg)) {
		bm_map_put(said, msg, said);
		unshow();
		bm_errorf("%s", msg);
	}
	if (cJSON_IsArray(steps))
		v.nsteps = cJSON_GetArraySize(steps);
	bm_clock_rfc3339(at);
	v.attempt_ms = bm_clock_ms();
	for (v.step = 0; v.step < v.nsteps; v.step++) {
		X.outside++;
		on_result(NULL, &v, &o);
	}
	cJSON_Delete(rec);
}

/*
 * An exec scorer's stdin: the result record of s as it would be written,
 * without assertions and score.
 */
static char *
on_record(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	cJSON *r = result_new(s);
	char *json;

	(void)user;
	cJSON_AddNullToObject(r, "error");
	add_answer(r, s, o, latency_of(s));
	cJSON_AddStringToObject(r, "started_at", s->started_at);
	bm_runs_shape(r);
	cJSON_DeleteItemFromObjectCaseSensitive(r, "status");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "score");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "assertions");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "metrics");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "finished_at");
	json = bm_json_print(r);
	cJSON_Delete(r);
	return json;
}

/* A warning from the scheduler (a judge that is the model under test). */
static void
on_warning(void *user, const char *msg)
{
	(void)user;
	unshow();
	bm_warnf("%s", msg);
}

/* An input line: a case for the scheduler; other records pass on. */
static void
on_line(void *user, const char *line, size_t len, long lineno)
{
	struct bm_error e = BM_ERROR_INIT;
	char *text = xstrndup(line, len);
	const char *end = NULL;
	cJSON *rec = NULL;

	(void)user;
	/* As bm_jsonl_next parses, so --dry-run says the same. */
	if (strlen(text) != len)
		bm_error_set(&e, "<stdin>", lineno, 0, "NUL byte in line");
	else if (bm_json_nul(text, len))
		bm_error_set(&e, "<stdin>", lineno, 0, "a NUL character"
		    " (\\u0000) cannot be kept: the record is skipped");
	else if (!(rec = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1)))
		bm_error_set(&e, "<stdin>", lineno, 0, "invalid JSON near"
		    " column %ld", end >= text ? (long)(end - text) + 1 : 0);
	else if (!cJSON_IsObject(rec))
		bm_error_set(&e, "<stdin>", lineno, 0, "expected an object,"
		    " got %s", cJSON_IsArray(rec) ? "an array" :
		    cJSON_IsString(rec) ? "a string" : cJSON_IsNumber(rec) ?
		    "a number" : cJSON_IsBool(rec) ? "a boolean" : "null");
	free(text);
	if (e.msg) {
		unshow();
		bm_error_print(&e);
		bm_error_clear(&e);
		X.bad_lines++;
		cJSON_Delete(rec);
		return;
	}
	if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
	    "case") != 0) {
		/* Not ours: pass it on as it came. */
		out(line, len);
		cJSON_Delete(rec);
		return;
	}
	if (bm_sched_check(rec, &e) == 0 &&
	    bm_assert_check_case(rec, &e) < 0) {
		bad_assertion(rec, e.msg);
		bm_error_clear(&e);
		return;
	}
	bm_error_clear(&e);
	if (bm_sched_add(X.sched, rec, &e) < 0) {
		unshow();
		bm_errorf("<stdin>:%ld: %s", lineno, e.msg);
		bm_error_clear(&e);
		X.bad_lines++;
	}
}

static void
on_warn(void *user, const struct bm_error *e)
{
	(void)user;
	unshow();
	bm_error_print(e);
}

/* --resume: pass on a step the resumed run finished, and its answer. */
static int
on_recorded(void *user, const struct bm_sched_step *s, char **output)
{
	struct bm_error e = BM_ERROR_INIT;
	char *stored = NULL;
	const char *st;
	cJSON *rec;
	int rc;

	(void)user;
	rc = bm_runs_finished(X.runs, bm_json_str(s->kase, "case_id"), s->step,
	    &stored, &e);
	if (rc < 0)
		db_failed(&e);
	if (rc != 1)
		return 0;
	rec = cJSON_Parse(stored);
	out(stored, strlen(stored));
	X.done++;
	st = bm_json_str(rec, "status");
	if (st && strcmp(st, "pass") == 0)
		X.pass++;
	else
		X.fail++;
	*output = xstrdup(bm_json_str(rec, "output") ?
	    bm_json_str(rec, "output") : "");
	cJSON_Delete(rec);
	free(stored);
	return 1;
}

/* --cache: an answer stored for this very request. */
static int
on_cache_get(void *user, const struct bm_sched_step *s, struct bm_reply *r)
{
	struct bm_error e = BM_ERROR_INIT;
	char key[65];
	int rc;

	(void)user;
	bm_runs_cache_key(s->t->provider->name, s->t->api_model, s->messages,
	    s->params, key);
	rc = bm_runs_cache_get(X.runs, key, &r->output, &r->prompt_tokens,
	    &r->completion_tokens, &e);
	if (rc < 0) {
		on_warn(NULL, &e);
		bm_error_clear(&e);
	}
	return rc == 1;
}

/* --cache: keep a fresh answer. */
static void
on_cache_put(void *user, const struct bm_sched_step *s,
    const struct bm_reply *r)
{
	char key[65];
	struct held *h;

	(void)user;
	if (X.db_failed)
		return;
	bm_runs_cache_key(s->t->provider->name, s->t->api_model, s->messages,
	    s->params, key);
	/* Stored with the results, in their transaction. */
	h = queue_add();
	h->key = xstrdup(key);
	h->output = xstrdup(r->output ? r->output : "");
	h->pt = r->prompt_tokens;
	h->ct = r->completion_tokens;
}

static void
on_retry(void *user, const struct bm_sched_step *s, const char *msg,
    double delay_ms)
{
	(void)user;
	if (bm_verbosity >= 2)
		unshow();
	bm_debugf(2, "case %s: %s, retry %d in %.0f ms",
	    bm_json_str(s->kase, "case_id"), msg, s->attempts, delay_ms);
}

/* An exec child's stderr line: named by its case, secrets redacted. */
static void
on_child_stderr(void *user, const struct bm_sched_step *s, const char *line)
{
	(void)user;
	unshow();
	bm_errorf("case %s: %s", bm_json_str(s->kase, "case_id"), line);
}

/* First signal: stop after the grace period; second: stop now. */
static void
on_turn(void *user, double now)
{
	(void)user;
	(void)now;
	if (X.signals == X.seen)
		return;
	unshow();
	/* Two signals may have come before this turn: the second counts. */
	if (X.seen == 0 && X.signals == 1) {
		bm_warnf("interrupted: finishing %ld requests in flight (%g s)",
		    bm_sched_stats(X.sched)->inflight, X.grace_s);
		bm_sched_stop(X.sched, X.grace_s * 1000);
	} else {
		bm_warnf("interrupted again: cancelling %ld requests in"
		    " flight", bm_sched_stats(X.sched)->inflight);
		bm_sched_stop(X.sched, 0);
	}
	X.seen = X.signals;
}

/*
 * The status line: redrawn in place on a terminal (or with --progress)
 * every 200 ms; with -v and no terminal, one line every --status-interval.
 */
static void
progress(double now, int last)
{
	struct bm_sched_tally t = { X.done, X.pass, X.fail,
	    X.errors - X.cancelled, X.cancelled, X.total };
	struct bm_buf b = BM_BUF_INIT;
	int inplace = X.progress || isatty(2);

	if (!X.progress && (bm_verbosity < 0 || (!inplace &&
	    bm_verbosity == 0)))
		return;
	if (!last && now - X.last_progress < (inplace ? 200 : X.status_ms))
		return;
	X.last_progress = now;
	show_progress(X.sched, &t, now - X.t0, bm_color(2), &b);
	if (inplace) {
		fprintf(stderr, "\r\033[K%s: %s%s", bm_prog(), bm_buf_str(&b),
		    last ? "\n" : "");
	} else if (!X.said || strcmp(X.said, bm_buf_str(&b)) != 0) {
		/* The same line twice in a log says nothing. */
		fprintf(stderr, "%s: %s\n", bm_prog(), bm_buf_str(&b));
		free(X.said);
		X.said = bm_buf_detach(&b, NULL);
	}
	X.shown = inplace && !last;
	bm_buf_free(&b);
}

/*
 * Before the loop waits: commit every 250 ms (at once when a sequence
 * waits for its steps, or when nothing else runs), show progress.
 */
static double
on_idle(void *user, double now)
{
	const struct bm_sched_stats *st = bm_sched_stats(X.sched);
	double wait = 1e9;
	int urgent = st->held > 0 || st->alive == 0;

	(void)user;
	if (X.nq > 0 && now >= X.next_try && (urgent ||
	    now - X.last_commit >= 250) && flush(now) && urgent)
		wait = 0;
	progress(now, 0);
	if (X.nq > 0) {
		wait = urgent ? 0 : X.last_commit + 250 - now;
		if (wait < X.next_try - now)
			wait = X.next_try - now;
	}
	if (X.progress || isatty(2))
		wait = wait > 200 ? 200 : wait;
	else if (bm_verbosity > 0 && wait > X.status_ms)
		wait = X.status_ms;
	return wait;
}

/* --dry-run: check every case and estimate tokens and cost; no request. */
static int
dry_run(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	struct bm_sched_totals *tot = NULL;
	struct bm_buf table = BM_BUF_INIT;
	struct bm_target t;
	size_t ntot = 0;
	const char *model, *cid, *type;
	struct bm_sched_est *steps;
	cJSON *rec;
	long tok;
	char *why;
	size_t i;
	int rc, bad = 0, k, n;

	bm_jsonl_open(&r, stdin, NULL);
	while ((rc = bm_jsonl_next(&r, &rec, &e)) != 0) {
		if (rc < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bad = 1;
			continue;
		}
		model = bm_json_str(rec, "model");
		cid = bm_json_str(rec, "case_id");
		if (!cid)
			cid = "?";
		type = bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "";
		if (strcmp(type, "case") != 0) {
			cJSON_Delete(rec);
			continue;
		}
		if (bm_sched_check(rec, &e) < 0) {
			bm_errorf("<stdin>:%ld: %s", r.lineno, e.msg);
			bm_error_clear(&e);
			bad = 1;
			cJSON_Delete(rec);
			continue;
		}
		if (bm_assert_check_case(rec, &e) < 0 ||
		    bm_config_resolve(X.cfg, model, &t, &e) < 0) {
			bm_errorf("<stdin>:%ld: case %s: %s", r.lineno, cid,
			    e.msg);
			bm_error_clear(&e);
			bad = 1;
			cJSON_Delete(rec);
			continue;
		}
		if (t.provider->api_key_env && !bm_config_api_key(t.provider)) {
			bm_errorf("<stdin>:%ld: case %s: %s is not set",
			    r.lineno, cid, t.provider->api_key_env);
			bad = 1;
		}
		steps = bm_sched_estimate(&t, rec, &n);
		for (k = 0; k < n; k++) {
			tok = steps[k].prompt + steps[k].completion;
			if (t.context > 0 && tok > t.context) {
				why = bm_sched_context_msg(steps[k].prompt,
				    steps[k].completion, t.context);
				bm_errorf("<stdin>:%ld: case %s: step %d: %s",
				    r.lineno, cid, k, why);
				free(why);
				bad = 1;
			}
		}
		bm_sched_totals_add(&tot, &ntot, model, &t, steps, n);
		free(steps);
		cJSON_Delete(rec);
	}
	bm_jsonl_close(&r);
	/* Records on stdout, for jq; the table on stderr, for a person. */
	for (i = 0; i < ntot; i++) {
		rec = cJSON_CreateObject();
		cJSON_AddStringToObject(rec, "type", "estimate");
		cJSON_AddStringToObject(rec, "model", tot[i].model);
		cJSON_AddNumberToObject(rec, "cases", (double)tot[i].cases);
		cJSON_AddNumberToObject(rec, "prompt_tokens",
		    (double)tot[i].prompt);
		cJSON_AddNumberToObject(rec, "completion_tokens",
		    (double)tot[i].completion);
		add_num(rec, "cost_usd", tot[i].cost, tot[i].priced);
		if (bm_jsonl_write(stdout, rec) < 0)
			bad = 2;
		cJSON_Delete(rec);
	}
	show_totals(tot, ntot, &table);
	bm_sched_totals_free(tot, ntot);
	if (bm_verbosity >= 0)
		fputs(bm_buf_str(&table), stderr);
	bm_buf_free(&table);
	if (bm_jsonl_finish(stdout) < 0 || bad == 2) {
		bm_errorf("stdout: %s", strerror(errno));
		return 2;
	}
	return bad ? 1 : 0;
}

/* An unset API key variable and the models that need it. */
struct nokey {
	const char *var;
	struct bm_buf models;
	struct bm_map *seen;
};

/* Note model when its provider's key is unset. */
static void
note_key(const char *model, struct nokey **nk, size_t *nnk)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_target t;
	size_t i;

	if (bm_config_resolve(X.cfg, model, &t, &e) < 0 ||
	    !t.provider->api_key_env || bm_config_api_key(t.provider)) {
		bm_error_clear(&e);
		return;
	}
	for (i = 0; i < *nnk; i++)
		if (strcmp((*nk)[i].var, t.provider->api_key_env) == 0)
			break;
	if (i == *nnk) {
		*nk = xreallocarray(*nk, *nnk + 1, sizeof(**nk));
		(*nk)[i].var = t.provider->api_key_env;
		memset(&(*nk)[i].models, 0, sizeof((*nk)[i].models));
		(*nk)[i].seen = bm_map_new();
		(*nnk)++;
	}
	if (!bm_map_get((*nk)[i].seen, model)) {
		bm_map_put((*nk)[i].seen, model, (*nk)[i].seen);
		bm_buf_addf(&(*nk)[i].models, "%s%s",
		    (*nk)[i].models.len ? ", " : "", model);
	}
}

/* Note the judges of expect whose providers' keys are unset. */
static void
note_judge_keys(const cJSON *expect, struct nokey **nk, size_t *nnk)
{
	const cJSON *spec, *type;
	const char **m;
	size_t k, n;

	cJSON_ArrayForEach(spec, expect) {
		type = bm_assert_type(spec);
		if (!type || strcmp(type->string, "judge") != 0)
			continue;
		m = bm_judge_models(type, X.cfg, &n);
		for (k = 0; k < n; k++)
			note_key(m[k], nk, nnk);
		free(m);
	}
}

/*
 * One line of the case stream, read ahead: count its results, digest its
 * case id, note a model (or judge) whose provider's key is unset.
 */
static void
scan_line(const char *line, struct bm_buf *ids, struct nokey **nk,
    size_t *nnk)
{
	const char *id, *model;
	const cJSON *steps, *st;
	cJSON *rec = cJSON_Parse(line);

	if (!rec || strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
	    "case") != 0)
		goto out;
	steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	X.total += cJSON_IsArray(steps) ? cJSON_GetArraySize(steps) : 1;
	if ((id = bm_json_str(rec, "case_id"))) {
		bm_buf_addf(ids, "%s\n", id);
		if (X.ids)
			bm_map_put(X.ids, id, X.ids);
	}
	if ((model = bm_json_str(rec, "model")))
		note_key(model, nk, nnk);
	note_judge_keys(cJSON_GetObjectItemCaseSensitive(rec, "expect"), nk,
	    nnk);
	if (!cJSON_IsArray(steps))
		steps = NULL;
	cJSON_ArrayForEach(st, steps)
		note_judge_keys(cJSON_GetObjectItemCaseSensitive(st, "expect"),
		    nk, nnk);
out:
	cJSON_Delete(rec);
}

/*
 * Read the case stream once before the first request (DESIGN.md §8):
 * how many results it asks for (the status line's total), whether every
 * provider's API key is set, and the digest of its case ids.  A regular
 * file is read again from where it began; anything else is copied to a
 * temporary file, which the run then reads.  Returns the descriptor to
 * read cases from, or -1 after a message (exit 2, or 130 on a signal).
 */
static int
prescan(void)
{
	struct bm_buf ids = BM_BUF_INIT;
	struct nokey *nk = NULL;
	struct stat st;
	size_t cap = 0, nnk = 0, i;
	ssize_t n;
	char *line = NULL;
	FILE *in, *spool = NULL;
	off_t off = -1;
	int fd = 0, bad = 0;

	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode))
		off = lseek(0, 0, SEEK_CUR);
	if (off >= 0) {
		in = fdopen(dup(0), "r");
	} else {
		in = stdin;
		spool = tmpfile();
		if (!spool) {
			bm_errorf("temporary file: %s", strerror(errno));
			return -1;
		}
	}
	if (!in) {
		bm_errorf("<stdin>: %s", strerror(errno));
		return -1;
	}
	errno = 0;
	while (!X.signals && (n = getline(&line, &cap, in)) >= 0) {
		if (spool && fwrite(line, 1, (size_t)n, spool) != (size_t)n) {
			bm_errorf("temporary file: %s", strerror(errno));
			bad = 1;
			break;
		}
		scan_line(line, &ids, &nk, &nnk);
	}
	if (!bad && !X.signals && ferror(in)) {
		bm_errorf("<stdin>: %s", strerror(errno));
		bad = 1;
	}
	free(line);
	bm_hash_sha256(ids.s ? ids.s : "", ids.len, X.stream);
	bm_buf_free(&ids);
	for (i = 0; i < nnk; i++) {
		bm_errorf("%s is not set (needed by %s)", nk[i].var,
		    bm_buf_str(&nk[i].models));
		bm_buf_free(&nk[i].models);
		bm_map_free(nk[i].seen, NULL);
		bad = 1;
	}
	free(nk);
	if (off >= 0) {
		fclose(in);
		if (lseek(0, off, SEEK_SET) < 0) {
			bm_errorf("<stdin>: %s", strerror(errno));
			bad = 1;
		}
	} else if (spool) {
		if (fflush(spool) == EOF || ferror(spool) ||
		    lseek(fileno(spool), 0, SEEK_SET) < 0) {
			if (!bad)
				bm_errorf("temporary file: %s",
				    strerror(errno));
			bad = 1;
		}
		fd = fileno(spool);	/* kept open until exit */
	}
	return bad || X.signals ? -1 : fd;
}

/*
 * --rescore and --rejudge against the other options: --rejudge needs
 * --rescore; --resume, --cache and --dry-run make no sense with it (no
 * request is made, and the run is a new one); it reads the database.
 */
static void
rescore_check(struct bm_cli *cli, const char *rescore, int rejudge,
    const char *resume)
{
	if (rejudge && !rescore)
		bm_cli_usage_error(cli, "--rejudge needs --rescore");
	if (!rescore)
		return;
	if (resume || X.cache || X.dry_run)
		bm_cli_usage_error(cli, "--rescore and %s exclude each other",
		    resume ? "--resume" : X.cache ? "--cache" : "--dry-run");
	if (cli->no_db)
		bm_cli_usage_error(cli, "--rescore needs the database");
}

/* --rescore: commit the batch and print it (printed even if not stored). */
static void
rescore_commit(struct bm_rescore *rs)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *lines;
	size_t len;

	if (bm_rescore_commit(rs, &e) < 0 && !X.db_failed) {
		bm_error_print(&e);
		X.db_failed = 1;
	}
	bm_error_clear(&e);
	X.last_commit = bm_clock_ms();
	lines = bm_rescore_take(rs, &len);
	if (len > 0 && !X.write_failed && (fwrite(lines, 1, len, stdout) !=
	    len || fflush(stdout) == EOF))
		out_failed();
}

/*
 * --rescore: the input has nothing to read now: commit, so that no write
 * transaction is held while waiting for a slow writer.
 */
static void
rescore_idle(struct bm_rescore *rs)
{
	struct pollfd p = { 0, POLLIN, 0 };

	if (bm_rescore_pending(rs) > 0 && poll(&p, 1, 0) == 0)
		rescore_commit(rs);
}

/* --rescore: the summary on stderr. */
static void
rescore_summary(const struct bm_rescore_tally *t, const char *from)
{
	struct bm_buf b = BM_BUF_INIT;
	int i;

	if (t->unanswered > 0)
		bm_notef("%ld case%s %s not answered by run %s; not run",
		    t->unanswered, t->unanswered == 1 ? "" : "s",
		    t->unanswered == 1 ? "was" : "were", from);
	if (t->errors == 0)
		return;
	for (i = 1; i <= BM_CLASS_CONFIG; i++)
		if (t->by_class[i])
			bm_buf_addf(&b, "%s%s %ld", b.len ? ", " : "",
			    bm_class_name((enum bm_class)i), t->by_class[i]);
	bm_warnf("%ld of %ld results ended in error (%s)", t->errors, t->done,
	    bm_buf_str(&b));
	bm_buf_free(&b);
}

/* --rescore --rejudge: what the hooks share. */
static struct {
	struct bm_rescore *rs;
	const char *from;
	long unanswered;
	int devnull;			/* the scheduler's input: at EOF */
} R;

/* The class of a result record's error (none: BM_CLASS_NONE). */
static enum bm_class
class_of(const cJSON *r)
{
	const char *cls = bm_json_str(cJSON_GetObjectItemCaseSensitive(r,
	    "error"), "class");
	int i;

	if (!cls)
		return BM_CLASS_NONE;
	for (i = 1; i <= BM_CLASS_CONFIG; i++)
		if (strcmp(cls, bm_class_name((enum bm_class)i)) == 0)
			return (enum bm_class)i;
	return strcmp(cls, "cancelled") == 0 ? BM_CLASS_CANCELLED :
	    BM_CLASS_CONFIG;
}

/*
 * --rejudge: step s's stored answer instead of a request.  A stored
 * error is copied (no judge asked) and the step skipped; so is a step
 * RUN did not answer, with no result (counted once per case).
 */
static int
on_replay(void *user, const struct bm_sched_step *s, struct bm_reply *r)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *cid = bm_json_str(s->kase, "case_id");
	cJSON *old, *res;
	int rc;

	(void)user;
	if (s->step == 0)
		bm_rescore_add_id(R.rs, cid);
	rc = bm_rescore_stored(R.rs, s->kase, s->step, &old, &e);
	if (rc < 0) {
		db_failed(&e);
		return 0;
	}
	if (rc == 0) {
		if (s->step == 0) {
			R.unanswered++;
			unshow();
			bm_debugf(1, "case %s: not answered by run %s", cid,
			    R.from);
		}
		return 0;
	}
	if (bm_rescore_is_error(old)) {
		res = bm_rescore_result(R.rs, s->kase, s->step, old, NULL);
		X.outside++;	/* not the scheduler's result */
		emit(res, class_of(res));
		return 0;
	}
	r->output = xstrdup(bm_json_str(old, "output") ?
	    bm_json_str(old, "output") : "");
	cJSON_Delete(old);
	return 1;
}

/* --rejudge: the result of s, from its stored record and outcome o. */
static enum bm_class
on_rejudged(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	enum bm_class cls;
	cJSON *old, *r;
	int rc;

	rc = bm_rescore_stored(R.rs, s->kase, s->step, &old, &e);
	if (rc < 0)
		db_failed(&e);
	if (rc != 1)	/* not replayed (a bad model): as a fresh run */
		return on_result(user, s, o);
	r = bm_rescore_result(R.rs, s->kase, s->step, old, o);
	cls = class_of(r);
	if (cls != BM_CLASS_NONE && bm_verbosity > 0 && (unshow(), 1))
		bm_errorf("case %s: %s: %s", bm_json_str(s->kase, "case_id"),
		    bm_class_name(cls), bm_json_str(
		    cJSON_GetObjectItemCaseSensitive(r, "error"), "message"));
	emit(r, cls);
	return cls;
}

/* --rejudge: an exec scorer's stdin, from the stored record. */
static char *
on_rerecord(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	cJSON *old;
	int rc;

	rc = bm_rescore_stored(R.rs, s->kase, s->step, &old, &e);
	if (rc < 0)
		db_failed(&e);
	if (rc != 1)
		return on_record(user, s, o);
	return bm_rescore_record(R.rs, s->kase, s->step, old);
}

/* --rescore: a judge entry's stored verdict (none: no verdict, no call). */
static int
on_prior(void *user, const struct bm_sched_step *s, int i,
    struct bm_verdict *v)
{
	struct bm_error e = BM_ERROR_INIT;
	int rc;

	(void)user;
	rc = bm_rescore_prior(R.rs, s->kase, s->step, s->expect, i, v, &e);
	if (rc < 0)
		db_failed(&e);
	return rc == 1 ? 1 : -1;
}

/*
 * --rescore through lib/sched: each step is answered with RUN's stored
 * answer (the replay hook), so the model under test is never asked.
 * With --rejudge the judges are asked (with -j, limits and retries) and
 * the case stream is read by the scheduler; without, the fast loop hands
 * over the cases that have exec scorers, which run again, their judges'
 * verdicts the stored ones.  0, or -1 after a message.
 */
static int
rescore_sched(struct bm_sched_opts *so, struct bm_sched_hooks *h,
    int rejudge)
{
	struct bm_error e = BM_ERROR_INIT;

	if (X.sched)
		return 0;
	so->cfg = X.cfg;
	if (rejudge) {
		so->in_fd = 0;
	} else {
		/* The fast loop reads; the scheduler's input is over. */
		if ((R.devnull = open("/dev/null", O_RDONLY)) < 0) {
			bm_errorf("/dev/null: %s", strerror(errno));
			return -1;
		}
		so->in_fd = R.devnull;
		h->prior_verdict = on_prior;
	}
	h->replay = on_replay;
	h->result = on_rejudged;
	h->record = on_rerecord;
	X.total = -1;
	X.sched = bm_sched_new(so, h, &e);
	if (!X.sched) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return -1;
	}
	X.t0 = X.last_progress = bm_clock_ms();
	X.out_tty = isatty(1);
	return 0;
}

/* Run the scheduler until its jobs are done, and store their results. */
static int
rescore_drain(void)
{
	struct bm_error e = BM_ERROR_INIT;
	int rc = 0;

	if (bm_sched_run(X.sched, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		rc = -1;
	}
	while (X.nq > 0 && !flush(bm_clock_ms()))
		poll(NULL, 0, 50);
	return rc;
}

/* Has case record rec an exec scorer (in its expect or a step's)? */
static int
has_scorer(const cJSON *rec)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	const cJSON *st, *spec, *type, *expect;
	int k, n = cJSON_IsArray(steps) ? cJSON_GetArraySize(steps) : 1;

	for (k = 0; k < n; k++) {
		st = cJSON_IsArray(steps) ? cJSON_GetArrayItem(steps, k) : rec;
		expect = cJSON_GetObjectItemCaseSensitive(st, "expect");
		cJSON_ArrayForEach(spec, expect)
			if ((type = bm_assert_type(spec)) &&
			    strcmp(type->string, "exec") == 0 &&
			    cJSON_IsString(type))
				return 1;
	}
	return 0;
}

/*
 * bm-exec --rescore RUN (lib/rescore.h): RUN's stored answers scored
 * against the case stream's expectations, with no request, as a new run;
 * one case at a time, committed every 1,000 results or 250 ms, each line
 * printed once committed.  Returns the exit status.
 */
static int
rescore_run(struct bm_cli *cli, const char *spec, char *run_id, int argc,
    char **argv, struct bm_sched_opts *so, struct bm_sched_hooks *h,
    int rejudge)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_rescore_tally t;
	int i;
	struct bm_jsonl in;
	struct bm_rescore *rs = NULL;
	struct bm_db *db;
	char *from = NULL, *id = NULL;
	const char *status;
	cJSON *rec;
	int rc = 0;

	db = bm_db_open(cli->db, &e);
	if (db)
		bm_db_set_busy_timeout(db, X.busy_ms);
	if (!db || bm_runs_resolve(db, spec, &from, &e) < 0)
		goto fail;
	id = run_id ? xstrdup(run_id) : bm_runs_new_id();
	X.runs = bm_runs_begin(db, id, argc, argv, X.cfg->path ?
	    X.cfg->sha256 : NULL, NULL, 0, &e);
	if (!X.runs || bm_runs_set_origin(X.runs, from, &e) < 0 ||
	    !(rs = bm_rescore_open(db, X.runs, id, from, X.busy_ms, &e)))
		goto fail;
	bm_runs_busy_timeout(X.runs, X.busy_ms);
	bm_notef("run %s: re-scoring run %s", id, from);
	X.last_commit = bm_clock_ms();
	R.rs = rs;
	R.from = from;
	X.run_id = id;
	X.db_path = bm_db_path(db);
	if (rejudge) {
		rc = rescore_sched(so, h, 1) < 0 || rescore_drain() < 0 ? 2 :
		    0;
		goto end;
	}
	bm_jsonl_open(&in, stdin, NULL);
	while (!X.signals && !X.write_failed && !X.db_failed &&
	    (rescore_idle(rs), rc = bm_jsonl_next(&in, &rec, &e)) != 0) {
		if (rc < 0) {
			/* A signal interrupts the read: no message for it. */
			if (!X.signals)
				bm_error_print(&e);
			X.bad_lines += !X.signals;
			bm_error_clear(&e);
			continue;
		}
		if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
		    "case") != 0) {
			out(in.line, (size_t)in.len);
		} else if (bm_sched_check(rec, &e) < 0) {
			bm_errorf("<stdin>:%ld: %s", in.lineno, e.msg);
			bm_error_clear(&e);
			X.bad_lines++;
		} else if (has_scorer(rec)) {
			/* Its exec scorers run again, through lib/sched. */
			rescore_commit(rs);
			if (rescore_sched(so, h, 0) < 0) {
				X.db_failed = 1;	/* exit 2 */
			} else {
				(void)bm_sched_add(X.sched, rec, &e);
				rec = NULL;
				bm_error_clear(&e);
				if (rescore_drain() < 0)
					X.db_failed = 1;
			}
		} else if ((rc = bm_rescore_case(rs, rec, &e)) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			X.db_failed = 1;
		} else if (rc == 0) {
			bm_debugf(1, "case %s: not answered by run %s",
			    bm_json_str(rec, "case_id"), from);
		}
		cJSON_Delete(rec);
		if (bm_rescore_pending(rs) >= 1000 || (X.db_failed ||
		    (bm_rescore_tally(rs)->cases % 64 == 0 && bm_clock_ms() -
		    X.last_commit >= 250)))
			rescore_commit(rs);
	}
	bm_jsonl_close(&in);
	rescore_commit(rs);
	bm_rescore_stream(rs, X.stream);
	if (!X.db_failed && bm_runs_set_stream(X.runs, X.stream, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		X.db_failed = 1;
	}
end:
	if (rejudge) {
		bm_rescore_stream(rs, X.stream);
		if (!X.db_failed && bm_runs_set_stream(X.runs, X.stream,
		    &e) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			X.db_failed = 1;
		}
	}
	/* The fast loop's counts and the scheduler's. */
	t = *bm_rescore_tally(rs);
	t.unanswered += R.unanswered;
	t.errors += X.errors;
	t.done += X.done;
	for (i = 0; i <= BM_CLASS_CONFIG; i++)
		t.by_class[i] += X.by_class[i];
	rescore_summary(&t, from);
	rc = rc == 2 ? 2 : t.errors > 0;
	if (X.sched)
		bm_sched_free(X.sched);
	X.sched = NULL;
	if (R.devnull > 0)
		close(R.devnull);
	bm_rescore_free(rs);
	status = X.db_failed ? "failed" : X.signals || X.write_failed ?
	    "interrupted" : "finished";
	if (bm_runs_end(X.runs, status, &e) < 0 || bm_db_close(db, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		X.db_failed = 1;
	}
	X.runs = NULL;
	free(from);
	free(id);
	if (bm_jsonl_finish(stdout) < 0 || X.write_failed) {
		bm_errorf("stdout: %s", strerror(X.write_errno ? X.write_errno :
		    errno ? errno : EIO));
		return 2;
	}
	if (X.db_failed || rc == 2)
		return 2;
	if (X.signals)
		return 130;
	return rc || X.bad_lines ? 1 : 0;
fail:
	bm_error_print(&e);
	bm_error_clear(&e);
	if (X.runs)
		(void)bm_runs_end(X.runs, "failed", &e);
	bm_error_clear(&e);
	X.runs = NULL;
	if (db)
		bm_db_close(db, NULL);
	free(from);
	free(id);
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		BM_CLI_LONGOPTS,
		{ "jobs", required_argument, NULL, 'j' },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "stream", no_argument, NULL, OPT_STREAM },
		{ "run-id", required_argument, NULL, OPT_RUN_ID },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "backoff", required_argument, NULL, OPT_BACKOFF },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "cache", no_argument, NULL, OPT_CACHE },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "status-interval", required_argument, NULL,
		    OPT_STATUS_INTERVAL },
		{ "give-up", required_argument, NULL, OPT_GIVE_UP },
		{ "rescore", required_argument, NULL, OPT_RESCORE },
		{ "rejudge", no_argument, NULL, OPT_REJUDGE },
		{ NULL, 0, NULL, 0 }
	};
	struct bm_sched_opts so = { .jobs = 8, .retries = -1,
	    .backoff_ms = 1000, .in_name = "<stdin>", .give_up_ms = 60000 };
	struct bm_sched_hooks h = { .line = on_line, .warn = on_warn,
	    .retry = on_retry, .result = on_result, .turn = on_turn,
	    .idle = on_idle, .stored = on_stored,
	    .child_stderr = on_child_stderr, .record = on_record,
	    .warning = on_warning };
	struct bm_error e = BM_ERROR_INIT;
	struct bm_cli cli;
	struct bm_db *db = NULL;
	struct sigaction sa;
	const char *resume = NULL, *rescore = NULL, *status;
	char *run_id = NULL;
	size_t i;
	long missing;
	int opt, rc = 0, rejudge = 0;

	/* First of all, so that no signal is lost (a flag until the loop). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	X.grace_s = 10;
	X.status_ms = 5000;
	X.busy_ms = 10000;
	if (getenv("BM_BUSY_TIMEOUT_MS") && bm_cli_parse_long(getenv(
	    "BM_BUSY_TIMEOUT_MS"), 0, 86400000, &missing) == 0)
		X.busy_ms = (int)missing;
	while ((opt = getopt_long(argc, argv, BM_CLI_SHORTOPTS "j:", longopts,
	    NULL)) != -1) {
		switch (opt) {
		case 'j':
			so.jobs = bm_cli_long("-j", optarg, 1, 100000);
			break;
		case OPT_RETRIES:
			so.retries = bm_cli_long("--retries", optarg, 0, 100);
			break;
		case OPT_TIMEOUT:
			so.timeout_s = bm_cli_double("--timeout", optarg, 0.001,
			    1e6);
			break;
		case OPT_STREAM:
			so.stream = 1;
			break;
		case OPT_RUN_ID:
			run_id = xstrdup(optarg);
			break;
		case OPT_RESUME:
			resume = optarg;
			break;
		case OPT_GRACE:
			X.grace_s = bm_cli_double("--grace", optarg, 0, 1e6);
			break;
		case OPT_BACKOFF:
			so.backoff_ms = 1000 * bm_cli_double("--backoff",
			    optarg, 0, 3600);
			break;
		case OPT_DRY_RUN:
			X.dry_run = 1;
			break;
		case OPT_CACHE:
			X.cache = 1;
			break;
		case OPT_PROGRESS:
			X.progress = 1;
			break;
		case OPT_STATUS_INTERVAL:
			X.status_ms = 1000 * bm_cli_double("--status-interval",
			    optarg, 0.01, 86400);
			break;
		case OPT_GIVE_UP:
			so.give_up_ms = 1000 * bm_cli_double("--give-up",
			    optarg, 0, 1e6);
			break;
		case OPT_RESCORE:
			rescore = optarg;
			break;
		case OPT_REJUDGE:
			rejudge = 1;
			break;
		default:
			bm_cli_option(&cli, opt, optarg);
		}
	}
	if (optind < argc)
		bm_cli_usage_error(&cli, "unexpected argument '%s'",
		    argv[optind]);
	bm_cli_finish(&cli);
	if (resume && run_id)
		bm_cli_usage_error(&cli, "--resume and --run-id exclude each"
		    " other");
	if (run_id && bm_runs_check_id(run_id, &e) < 0)
		bm_cli_usage_error(&cli, "--run-id: %s", e.msg);
	rescore_check(&cli, rescore, rejudge, resume);
	if ((resume || X.cache) && cli.no_db)
		bm_cli_usage_error(&cli, "%s needs the database",
		    resume ? "--resume" : "--cache");
	X.cfg = bm_config_load(cli.config, &e);
	if (!X.cfg) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return 2;
	}
	/* Every key the configuration names is a secret, whoever prints it
	 * (an exec provider's child, say). */
	for (i = 0; i < X.cfg->nproviders; i++)
		(void)bm_config_api_key(&X.cfg->providers[i]);
	if (rescore) {
		rc = rescore_run(&cli, rescore, run_id, argc, argv, &so, &h,
		    rejudge);
		bm_config_free(X.cfg);
		free(run_id);
		return rc;
	}
	if (X.dry_run) {
		rc = dry_run();
		bm_config_free(X.cfg);
		free(run_id);
		return rc;
	}
	X.total = 0;
	if (resume)
		X.ids = bm_map_new();
	so.in_fd = prescan();
	if (so.in_fd < 0) {
		bm_config_free(X.cfg);
		bm_map_free(X.ids, NULL);
		free(run_id);
		return X.signals ? 130 : 2;
	}
	if (X.total == 0 && !resume) {
		/* Nothing to run: no run either; other records pass on. */
		cli.no_db = 1;
	}
	if (!cli.no_db) {
		db = bm_db_open(cli.db, &e);
		if (db)
			bm_db_set_busy_timeout(db, X.busy_ms);
		if (db && resume && bm_runs_resolve(db, resume, &run_id,
		    &e) < 0) {
			bm_db_close(db, NULL);
			db = NULL;
		}
		if (!db) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bm_config_free(X.cfg);
			bm_map_free(X.ids, NULL);
			return 2;
		}
		if (!run_id)
			run_id = bm_runs_new_id();
		X.db_path = bm_db_path(db);
		X.runs = bm_runs_begin(db, run_id, argc, argv, X.cfg->path ?
		    X.cfg->sha256 : NULL, X.stream, resume != NULL, &e);
		if (X.runs)
			bm_runs_busy_timeout(X.runs, X.busy_ms);
		if (!X.runs) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bm_db_close(db, &e);
			bm_error_clear(&e);
			bm_config_free(X.cfg);
			bm_map_free(X.ids, NULL);
			free(run_id);
			return 2;
		}
	} else if (!run_id) {
		run_id = bm_runs_new_id();
	}
	X.run_id = run_id;
	if (X.total > 0 || resume)
		bm_notef("run %s", run_id);
	if (X.runs && resume && (!bm_runs_stream(X.runs) ||
	    strcmp(bm_runs_stream(X.runs), X.stream) != 0)) {
		missing = bm_runs_missing(X.runs, X.ids, &e);
		if (missing < 0) {
			db_failed(&e);
		} else if (bm_runs_stream(X.runs) && missing > 0) {
			bm_warnf("the case stream differs from run %s's: %ld"
			    " of its cases are not in it, so the run stays"
			    " unfinished", run_id, missing);
			X.incomplete = 1;
		} else {
			if (bm_runs_stream(X.runs))
				bm_warnf("the case stream differs from run"
				    " %s's: it has every case of the run and"
				    " more", run_id);
			if (bm_runs_set_stream(X.runs, X.stream, &e) < 0)
				db_failed(&e);
		}
	}
	bm_map_free(X.ids, NULL);
	X.ids = NULL;
	so.cfg = X.cfg;
	if (X.runs && resume)
		h.recorded = on_recorded;
	if (X.runs && X.cache) {
		h.cache_get = on_cache_get;
		h.cache_put = on_cache_put;
	}
	X.sched = bm_sched_new(&so, &h, &e);
	if (!X.sched) {
		bm_error_print(&e);
		exit(2);
	}
	if (X.db_failed)
		bm_sched_stop_why(X.sched, 0, "not sent: the database failed");

	X.t0 = X.last_commit = X.last_progress = bm_clock_ms();
	X.out_tty = isatty(1);
	if (bm_sched_run(X.sched, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		rc = 2;
	}
	/* What waits for its commit: a busy file is tried for busy_ms. */
	while (X.nq > 0 && !flush(bm_clock_ms()))
		poll(NULL, 0, 50);
	if (rc == 0)
		progress(bm_clock_ms(), 1);

	if (X.errors > 0) {
		struct bm_buf b = BM_BUF_INIT;

		for (i = 1; i <= BM_CLASS_CONFIG; i++)
			if (X.by_class[i])
				bm_buf_addf(&b, "%s%s %ld", b.len ? ", " : "",
				    bm_class_name((enum bm_class)i),
				    X.by_class[i]);
		bm_warnf("%ld of %ld results ended in error (%s)", X.errors,
		    X.done, bm_buf_str(&b));
		bm_buf_free(&b);
	}
	status = X.db_failed ? "failed" : X.signals || X.write_failed ||
	    X.incomplete || rc ? "interrupted" : "finished";
	if (X.runs && bm_runs_end(X.runs, status, &e) < 0)
		db_failed(&e);
	if (X.runs && strcmp(status, "finished") != 0)
		bm_notef("to resume: bm-exec --resume %s < the same cases",
		    run_id);
	if (db && bm_db_close(db, &e) < 0)
		db_failed(&e);
	bm_sched_free(X.sched);
	bm_config_free(X.cfg);
	free(run_id);
	free(X.said);
	errno = 0;
	if (bm_jsonl_finish(stdout) < 0 || X.write_failed) {
		bm_errorf("stdout: %s", strerror(X.write_errno ? X.write_errno :
		    errno ? errno : EIO));
		return 2;
	}
	if (rc || X.db_failed)
		return 2;
	if (X.signals)
		return 130;
	return X.errors || X.bad_lines ? 1 : 0;
}
