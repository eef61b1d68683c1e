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
    "usage: bm-exec [-qv] [-j N] [--retries N] [--timeout S] [--stream]\n"
    "               [--run-id ID | --resume RUN] [--grace S] [--backoff S]\n"
    "               [--dry-run] [--cache] [--progress] [--no-db] [--db PATH]\n"
    "               [--config PATH]\n";

enum {
	OPT_RETRIES = BM_OPT_PROGRAM, OPT_TIMEOUT, OPT_STREAM, OPT_RUN_ID,
	OPT_RESUME, OPT_GRACE, OPT_BACKOFF, OPT_DRY_RUN, OPT_CACHE,
	OPT_PROGRESS
};

static struct {
	struct bm_config *cfg;
	struct bm_sched *sched;
	struct bm_runs *runs;
	double grace_s;
	int cache, progress, dry_run;
	const char *run_id;
	/* signals */
	volatile sig_atomic_t signals;
	long seen;
	/* counts */
	long done, pass, fail, errors, bad_lines;
	long by_class[BM_CLASS_CONFIG + 1];
	int write_failed, write_errno, db_failed;
	double t0, last_commit, last_progress;	/* ms, monotonic */
} X;

static void
on_signal(int sig)
{
	(void)sig;
	X.signals++;
	bm_sched_wake(X.sched);
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The database failed: say so; the run goes on, and exits 2. */
static void
db_error(struct bm_error *e)
{
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

/* Print, store and count one result; takes r. */
static void
emit(cJSON *r, enum bm_class cls)
{
	struct bm_error e = BM_ERROR_INIT;
	char *json = cJSON_PrintUnformatted(r), *clean;

	if (bm_redact_has(json)) {
		clean = bm_redact(json);
		free(json);
		json = clean;
	}
	if (bm_jsonl_write_raw(stdout, json, strlen(json)) < 0 &&
	    !X.write_failed) {
		X.write_failed = 1;
		X.write_errno = errno;
	}
	if (X.runs && !X.db_failed && bm_runs_add(X.runs, r, json, &e) < 0)
		db_error(&e);
	X.done++;
	if (cls != BM_CLASS_NONE) {
		X.errors++;
		X.by_class[cls]++;
	} else if (strcmp(jstr(r, "status"), "pass") == 0) {
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
	char fin[BM_TIME_LEN + 1];
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
		if (bm_verbosity > 0)
			bm_errorf("case %s: %s: %s", jstr(s->kase, "case_id"),
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
	/* score, assertions, metrics: in the order DESIGN.md shows. */
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
	const char *end;
	cJSON *rec = cJSON_ParseWithLengthOpts(line, len, &end, 0);

	(void)user;
	if (!cJSON_IsObject(rec) || (size_t)(end - line) != len) {
		bm_error_set(&e, "<stdin>", lineno, 0, "%s",
		    rec ? "expected a JSON object" : "invalid JSON");
		bm_error_print(&e);
		bm_error_clear(&e);
		X.bad_lines++;
		cJSON_Delete(rec);
		return;
	}
	if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
	    "case") != 0) {
		/* Not ours: pass it on as it came. */
		if (bm_jsonl_write_raw(stdout, line, len) < 0)
			X.write_failed = 1;
		cJSON_Delete(rec);
		return;
	}
	if (bm_sched_add(X.sched, rec, &e) < 0) {
		bm_errorf("<stdin>:%ld: %s", lineno, e.msg);
		bm_error_clear(&e);
		X.bad_lines++;
	}
}

static void
on_warn(void *user, const struct bm_error *e)
{
	(void)user;
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
	rc = bm_runs_finished(X.runs, jstr(s->kase, "case_id"), s->step,
	    &stored, &e);
	if (rc < 0)
		db_error(&e);
	if (rc != 1)
		return 0;
	rec = cJSON_Parse(stored);
	if (bm_jsonl_write_raw(stdout, stored, strlen(stored)) < 0)
		X.write_failed = 1;
	X.done++;
	st = jstr(rec, "status");
	if (st && strcmp(st, "pass") == 0)
		X.pass++;
	else
		X.fail++;
	*output = xstrdup(jstr(rec, "output") ? jstr(rec, "output") : "");
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
		bm_error_print(&e);
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
	char key[65];

	(void)user;
	bm_runs_cache_key(s->t->provider->name, s->t->api_model, s->messages,
	    s->params, key);
	if (bm_runs_cache_put(X.runs, key, r->output, r->prompt_tokens,
	    r->completion_tokens, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
	}
}

static void
on_retry(void *user, const struct bm_sched_step *s, const char *msg,
    double delay_ms)
{
	(void)user;
	bm_debugf(2, "case %s: %s, retry %d in %.0f ms",
	    jstr(s->kase, "case_id"), msg, s->attempts, delay_ms);
}

/* First signal: stop after the grace period; second: stop now. */
static void
on_turn(void *user, double now)
{
	(void)user;
	(void)now;
	if (X.signals == X.seen)
		return;
	if (X.seen == 0) {
		bm_warnf("interrupted: finishing %ld requests in flight (%g s)",
		    bm_sched_stats(X.sched)->inflight, X.grace_s);
		bm_sched_stop(X.sched, X.grace_s * 1000);
	} else {
		bm_sched_stop(X.sched, 0);
	}
	X.seen = X.signals;
}

static void
progress(double now, int last)
{
	const struct bm_sched_stats *st = bm_sched_stats(X.sched);
	int tty = isatty(2);
	double secs = (now - X.t0) / 1000, rate = secs > 0 ? X.done / secs : 0;
	struct bm_buf b = BM_BUF_INIT;
	int c = bm_color(2);

	if (!(X.progress || tty ? now - X.last_progress >= 200 :
	    bm_verbosity > 0 && now - X.last_progress >= 5000) && !last)
		return;
	if (!X.progress && (bm_verbosity < 0 || (!tty && bm_verbosity == 0)))
		return;
	X.last_progress = now;
	if (st->eof)
		bm_buf_addf(&b, "%ld/%ld", X.done, st->expected);
	else
		bm_buf_addf(&b, "%ld", X.done);
	bm_buf_addf(&b, " pass %ld fail %ld ", X.pass, X.fail);
	bm_buf_addf(&b, c && X.errors ? "\033[31merror %ld\033[0m" :
	    "error %ld", X.errors);
	bm_buf_addf(&b, " | %.1f req/s", rate);
	if (st->eof && rate > 0 && st->expected > X.done)
		bm_buf_addf(&b, " | ETA %.0fs", (st->expected - X.done) / rate);
	bm_sched_status(X.sched, &b, c);
	if (st->stopping)
		bm_buf_adds(&b, c ? " | \033[33mstopping\033[0m" :
		    " | stopping");
	if (tty || X.progress)
		fprintf(stderr, "\r\033[K%s: %s%s", bm_prog(), bm_buf_str(&b),
		    last ? "\n" : "");
	else
		fprintf(stderr, "%s: %s\n", bm_prog(), bm_buf_str(&b));
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
	if (wait > 200 && (X.progress || bm_verbosity > 0 || isatty(2)))
		wait = 200;
	return wait;
}

/* Per model, for --dry-run. */
struct estimate {
	char *model;
	long cases, prompt, completion;
	double cost;
	int priced;
};

/* --dry-run: check every case and estimate tokens and cost; no request. */
static int
dry_run(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	struct estimate *est = NULL, *x;
	struct bm_target t;
	size_t nest = 0, i;
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
		model = jstr(rec, "model");
		cid = jstr(rec, "case_id") ? jstr(rec, "case_id") : "?";
		type = bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "";
		if (strcmp(type, "case") != 0 || !model) {
			if (strcmp(type, "case") == 0) {
				bm_errorf("<stdin>:%ld: case %s has no model",
				    r.lineno, cid);
				bad = 1;
			}
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
		for (x = NULL, i = 0; i < nest; i++)
			if (strcmp(est[i].model, model) == 0)
				x = &est[i];
		if (!x) {
			est = xreallocarray(est, nest + 1, sizeof(*est));
			x = &est[nest++];
			memset(x, 0, sizeof(*x));
			x->model = xstrdup(model);
			x->priced = t.model && t.model->has_price;
		}
		x->cases++;
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
			x->prompt += steps[k].prompt;
			x->completion += steps[k].completion;
			if (x->priced)
				x->cost += ((double)steps[k].prompt *
				    t.model->price_input +
				    (double)steps[k].completion *
				    t.model->price_output) / 1e6;
		}
		free(steps);
		cJSON_Delete(rec);
	}
	bm_jsonl_close(&r);
	printf("%-32s %8s %14s %18s %12s\n", "model", "cases",
	    "prompt_tokens", "max_output_tokens", "cost_usd");
	for (i = 0; i < nest; i++) {
		printf("%-32s %8ld %14ld %18ld ", est[i].model, est[i].cases,
		    est[i].prompt, est[i].completion);
		if (est[i].priced)
			printf("%12.6f\n", est[i].cost);
		else
			printf("%12s\n", "-");
		free(est[i].model);
	}
	free(est);
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
		{ NULL, 0, NULL, 0 }
	};
	struct bm_sched_opts so = { NULL, 8, 3, 0, 1000, 0, 0, "<stdin>" };
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
	X.grace_s = 10;
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
	if ((resume || X.cache) && cli.no_db)
		bm_cli_usage_error(&cli, "%s needs the database",
		    resume ? "--resume" : "--cache");
	X.cfg = bm_config_load(cli.config, &e);
	if (!X.cfg) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return 2;
	}
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
	if (X.runs && bm_runs_end(X.runs, X.signals ? "interrupted" :
	    "finished", &e) < 0)
		db_error(&e);
	if (db && bm_db_close(db, &e) < 0)
		db_error(&e);
	bm_sched_free(X.sched);
	bm_config_free(X.cfg);
	free(run_id);
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
