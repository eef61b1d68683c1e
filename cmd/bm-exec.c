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
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "assert.h"
#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "jsonl.h"
#include "provider.h"
#include "runs.h"
#include "sched.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-exec [-q] [-v] [-j N] [--retries N] [--timeout S] "
    "[--stream]\n"
    "               [--run-id ID | --resume RUN] [--grace S] [--backoff S]\n"
    "               [--dry-run] [--cache] [--progress] [--status-interval S]\n"
    "               [--no-db] [--db PATH] [--config PATH]\n";
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
	BM_CLI_HELP_NO_DB, BM_CLI_HELP_DB, BM_CLI_HELP_CONFIG,
	BM_CLI_HELP_QUIET, BM_CLI_HELP_VERBOSE, BM_CLI_HELP_HELP,
	BM_CLI_HELP_VERSION, BM_CLI_HELP_END
};

enum {
	OPT_RETRIES = BM_CLI_OPT_PROGRAM, OPT_TIMEOUT, OPT_STREAM, OPT_RUN_ID,
	OPT_RESUME, OPT_GRACE, OPT_BACKOFF, OPT_DRY_RUN, OPT_CACHE,
	OPT_PROGRESS, OPT_STATUS_INTERVAL
};

static struct {
	struct bm_config *cfg;
	struct bm_sched *sched;
	struct bm_runs *runs;
	double grace_s, status_ms;
	int cache, progress, dry_run;
	const char *run_id;
	/* signals */
	volatile sig_atomic_t signals;
	long seen;
	/* counts */
	long done, pass, fail, errors, bad_lines;
	long by_class[BM_CLASS_CONFIG + 1];
	int write_failed, write_errno, db_failed;
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
	bm_sched_wake(X.sched);
}

/* The database failed: say so; the run goes on, and exits 2. */
static void
db_error(struct bm_error *e)
{
	unshow();
	bm_error_print(e);
	bm_error_clear(e);
	X.db_failed = 1;
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
	bm_sched_stop(X.sched, X.grace_s * 1000);
}

/* Write a record to standard output (not into the progress line). */
static void
out(const char *json, size_t len)
{
	if (X.out_tty)
		unshow();
	if (bm_jsonl_write_raw(stdout, json, len) < 0)
		out_failed();
}

/* Print, store and count one result; takes r. */
static void
emit(cJSON *r, enum bm_class cls)
{
	struct bm_error e = BM_ERROR_INIT;
	char *json = bm_json_print(r), *clean;
	cJSON *c;

	if (bm_redact_has(json)) {
		clean = bm_redact(json);
		free(json);
		json = clean;
		/* The columns are stored from r: redact them too. */
		if ((c = cJSON_Parse(json))) {
			cJSON_Delete(r);
			r = c;
		}
	}
	out(json, strlen(json));
	if (X.runs && !X.db_failed && bm_runs_add(X.runs, r, json, &e) < 0)
		db_error(&e);
	X.done++;
	if (cls != BM_CLASS_NONE) {
		X.errors++;
		X.by_class[cls]++;
	} else if (strcmp(bm_json_str(r, "status"), "pass") == 0) {
		X.pass++;
	} else {
		X.fail++;
	}
	free(json);
	cJSON_Delete(r);
}

static void
add_error(cJSON *r, enum bm_class cls, const char *msg, long status)
{
	cJSON *err = cJSON_AddObjectToObject(r, "error");

	cJSON_AddStringToObject(err, "class", bm_class_name(cls));
	cJSON_AddStringToObject(err, "message", msg ? msg : "");
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

/*
 * Step s ended with outcome o: score the answer, write the result record.
 * Returns the class recorded (a judge error when scoring failed).
 */
static enum bm_class
on_result(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a;
	const struct bm_model *m = s->t->model;
	double latency = bm_clock_ms() - s->attempt_ms;
	char fin[BM_CLOCK_TIME_LEN + 1];
	enum bm_class cls = o->cls;
	const char *msg = o->msg;
	cJSON *r = result_new(s), *u, *sc = cJSON_CreateObject(), *it;
	long pt = o->reply.prompt_tokens, ct = o->reply.completion_tokens;
	int rc = 0;

	(void)user;
	cJSON_AddStringToObject(r, "status", "error");
	if (cls == BM_CLASS_NONE) {
		a.output = o->reply.output ? o->reply.output : "";
		a.latency_ms = latency;
		a.completion_tokens = ct;
		a.exit_code = s->t->provider->type == BM_PROVIDER_EXEC ?
		    o->exit_code : -1;
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
	if (rc < 0 || cls != BM_CLASS_NONE) {
		cJSON_Delete(sc);
		sc = cJSON_CreateObject();
		cJSON_AddNullToObject(sc, "score");
		cJSON_AddArrayToObject(sc, "assertions");
	}
	while ((it = sc->child)) {
		cJSON_DetachItemViaPointer(sc, it);
		cJSON_AddItemToObject(r, it->string, it);
	}
	cJSON_Delete(sc);
	if (o->cached)
		cJSON_AddTrueToObject(r, "cached");
	cJSON_AddStringToObject(r, "started_at", s->started_at);
	bm_clock_rfc3339(fin);
	cJSON_AddStringToObject(r, "finished_at", fin);
	bm_runs_shape(r);
	emit(r, cls);
	bm_error_clear(&e);
	/* Every step of a sequence is committed before the next is sent. */
	if (cls == BM_CLASS_NONE && s->step + 1 < s->nsteps) {
		if (X.runs && !X.db_failed && bm_runs_commit(X.runs, &e) < 0)
			db_error(&e);
		X.last_commit = bm_clock_ms();
	}
	return cls;
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
		db_error(&e);
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
	struct bm_error e = BM_ERROR_INIT;
	char key[65], *clean;

	(void)user;
	bm_runs_cache_key(s->t->provider->name, s->t->api_model, s->messages,
	    s->params, key);
	/* No secret in the database, whatever the model answered. */
	clean = r->output && bm_redact_has(r->output) ?
	    bm_redact(r->output) : NULL;
	if (bm_runs_cache_put(X.runs, key, clean ? clean : r->output,
	    r->prompt_tokens, r->completion_tokens, &e) < 0) {
		on_warn(NULL, &e);
		bm_error_clear(&e);
	}
	free(clean);
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
	struct bm_sched_tally t = { X.done, X.pass, X.fail, X.errors };
	struct bm_buf b = BM_BUF_INIT;
	int inplace = X.progress || isatty(2);

	if (!X.progress && (bm_verbosity < 0 || (!inplace &&
	    bm_verbosity == 0)))
		return;
	if (!last && now - X.last_progress < (inplace ? 200 : X.status_ms))
		return;
	X.last_progress = now;
	bm_sched_progress(X.sched, &t, now - X.t0, bm_color(2), &b);
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

/* Before the loop waits: commit every 250 ms, show progress. */
static double
on_idle(void *user, double now)
{
	struct bm_error e = BM_ERROR_INIT;
	double wait = 1e9;

	(void)user;
	if (X.runs && bm_runs_pending(X.runs) > 0 && (now - X.last_commit >=
	    250 || bm_sched_stats(X.sched)->alive == 0)) {
		if (bm_runs_commit(X.runs, &e) < 0)
			db_error(&e);
		X.last_commit = now;
	}
	progress(now, 0);
	if (X.runs && bm_runs_pending(X.runs) > 0)
		wait = X.last_commit + 250 - now;
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
		if (bm_config_resolve(X.cfg, model, &t, &e) < 0) {
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
				bm_errorf("<stdin>:%ld: case %s: step %d:"
				    " estimated %ld tokens exceed the context"
				    " of %ld", r.lineno, cid, k, tok,
				    t.context);
				bad = 1;
			}
		}
		bm_sched_totals_add(&tot, &ntot, model, &t, steps, n);
		free(steps);
		cJSON_Delete(rec);
	}
	bm_jsonl_close(&r);
	bm_sched_totals_table(tot, ntot, &table);
	bm_sched_totals_free(tot, ntot);
	fputs(bm_buf_str(&table), stdout);
	bm_buf_free(&table);
	if (bm_jsonl_finish(stdout) < 0) {
		bm_errorf("stdout: %s", strerror(errno));
		return 2;
	}
	return bad ? 1 : 0;
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
		{ NULL, 0, NULL, 0 }
	};
	struct bm_sched_opts so = { NULL, 8, -1, 0, 1000, 0, 0, "<stdin>" };
	struct bm_sched_hooks h = { NULL, on_line, on_warn, NULL, NULL, NULL,
	    on_retry, on_result, on_turn, on_idle };
	struct bm_error e = BM_ERROR_INIT;
	struct bm_cli cli;
	struct bm_db *db = NULL;
	struct sigaction sa;
	const char *resume = NULL;
	char *run_id = NULL;
	size_t i;
	int opt, rc = 0;

	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	X.grace_s = 10;
	X.status_ms = 5000;
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
	if (X.dry_run) {
		rc = dry_run();
		bm_config_free(X.cfg);
		free(run_id);
		return rc;
	}
	if (resume)
		run_id = xstrdup(resume);
	else if (!run_id)
		run_id = bm_runs_new_id();
	X.run_id = run_id;
	if (!cli.no_db) {
		db = bm_db_open(cli.db, &e);
		if (!db) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bm_config_free(X.cfg);
			return 2;
		}
		X.runs = bm_runs_begin(db, run_id, argc, argv, X.cfg->path ?
		    X.cfg->sha256 : NULL, resume != NULL, &e);
		if (!X.runs) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bm_db_close(db, &e);
			bm_error_clear(&e);
			bm_config_free(X.cfg);
			return 2;
		}
	}
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
	bm_notef("run %s", run_id);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	X.t0 = X.last_commit = X.last_progress = bm_clock_ms();
	X.out_tty = isatty(1);
	if (bm_sched_run(X.sched, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		rc = 2;
	} else {
		progress(bm_clock_ms(), 1);
	}

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
	if (X.runs && bm_runs_end(X.runs, X.signals || X.write_failed ?
	    "interrupted" : "finished", &e) < 0)
		db_error(&e);
	if (db && bm_db_close(db, &e) < 0)
		db_error(&e);
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
