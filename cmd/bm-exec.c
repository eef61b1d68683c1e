/*
 * bm-exec: run `case` records against models and write `result` records as
 * they complete (DESIGN.md §8).
 *
 *	bm-ingest ... | bm-exec [-j N] [--resume RUN] ... | bm-stats
 *
 * One event loop: libcurl's multi interface for HTTP providers (lib/http)
 * plus poll on child pipes for exec providers (lib/spawn) and on a
 * self-pipe for signals.  Cases are read only while fewer than `ahead'
 * jobs are alive, so memory stays bounded whatever the input size.  Every
 * case read yields exactly one result per step, even when interrupted.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cJSON.h>

#include "assert.h"
#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "http.h"
#include "jsonl.h"
#include "limit.h"
#include "provider.h"
#include "runs.h"
#include "spawn.h"
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

/* Per provider: its limits and what it has in flight. */
struct prov {
	const struct bm_provider *p;
	const char *key;	/* API key from the environment, or NULL */
	int key_missing;	/* api_key_env names an unset variable */
	long inflight, max;
	struct bm_window win;
	struct bm_bucket rpm, tpm;
	struct bm_breaker brk;
};

enum jstate { J_WAITING, J_RUNNING };

/* One case being worked on: a plain case or a sequence of steps. */
struct job {
	struct job *prev, *next;
	cJSON *kase;
	struct bm_target t;
	struct prov *pv;
	const cJSON *steps;	/* sequence steps, or NULL */
	long step, nsteps;
	cJSON *messages;	/* the conversation sent for this step */
	cJSON *params;		/* model params <- case <- step */
	const cJSON *expect;
	long est;		/* estimated prompt tokens + max_tokens */
	enum jstate state;
	int attempts;
	double ready_at;	/* ms, monotonic: not before (backoff) */
	double attempt_ms;	/* ms, monotonic: this attempt began */
	double ttft;		/* ms; < 0 until the first token */
	char started_at[BM_TIME_LEN + 1];
	struct bm_http_xfer *xfer;
	struct bm_sse sse;
	int streaming, has_child;
	struct bm_child child;
	enum bm_class last_class;	/* of the last failed attempt */
	char *last_msg;
	long last_status;
};

/* An outcome of one step: an answer, or an error. */
struct outcome {
	enum bm_class cls;	/* BM_CLASS_NONE: answered */
	const char *msg;
	long http_status;
	struct bm_reply reply;
	int exit_code;
	int cached;
};

static struct {
	struct bm_config *cfg;
	struct bm_http *http;
	struct bm_runs *runs;
	struct prov **provs;	/* pointers: jobs keep them */
	size_t nprovs;
	struct job *jobs, *tail;	/* alive, in input order */
	long alive, ahead, inflight;
	long jobs_max, retries;
	double timeout_s, grace_s, backoff_ms;
	int stream, cache, progress, dry_run, resuming;
	const char *run_id;
	/* input */
	struct bm_buf in;
	size_t in_off;
	long lineno;
	int in_eof;
	/* signals */
	int sigpipe[2];
	volatile sig_atomic_t signals;
	int stopping;
	double grace_end;
	/* counts */
	long cases, expected, done, pass, fail, errors, bad_lines, requests;
	long by_class[BM_CLASS_CONFIG + 1];
	int write_failed, write_errno, db_failed;
	double t0, last_commit, last_progress;
} X;

static void next_step(struct job *j);

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	X.signals++;
	if (write(X.sigpipe[1], &c, 1) < 0) {
		/* The pipe is full: the loop will see the count anyway. */
	}
	errno = saved;
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static struct prov *
prov_of(const struct bm_provider *p)
{
	struct prov *v;
	size_t i;

	for (i = 0; i < X.nprovs; i++)
		if (X.provs[i]->p == p ||
		    strcmp(X.provs[i]->p->name, p->name) == 0)
			return X.provs[i];
	X.provs = xreallocarray(X.provs, X.nprovs + 1, sizeof(*X.provs));
	v = X.provs[X.nprovs++] = xcalloc(1, sizeof(*v));
	v->p = p;
	v->key = bm_config_api_key(p);
	v->key_missing = p->api_key_env && !v->key;
	v->max = p->max_concurrency > 0 ? p->max_concurrency : X.jobs_max;
	bm_window_init(&v->win, v->max);
	bm_bucket_init(&v->rpm, p->rpm, bm_clock_ms());
	bm_bucket_init(&v->tpm, p->tpm, bm_clock_ms());
	bm_breaker_init(&v->brk, 5, X.backoff_ms * 10);
	return v;
}

/* Merge the JSON objects a <- b (b's keys win) into a new object. */
static cJSON *
merged(cJSON *into, const cJSON *b)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, b) {
		cJSON_DeleteItemFromObjectCaseSensitive(into, it->string);
		cJSON_AddItemToObject(into, it->string, cJSON_Duplicate(it, 1));
	}
	return into;
}

static long
max_tokens(const cJSON *params)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "max_tokens");

	return cJSON_IsNumber(v) && v->valuedouble > 0 ?
	    (long)v->valuedouble : 0;
}

/* The result record for j's current step, without outcome fields. */
static cJSON *
result_new(const struct job *j)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *it;

	cJSON_AddStringToObject(r, "type", "result");
	cJSON_AddStringToObject(r, "run_id", X.run_id ? X.run_id : "");
	cJSON_ArrayForEach(it, j->kase) {
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
	cJSON_AddNumberToObject(r, "step", (double)j->step);
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
	if (X.runs && !X.db_failed && bm_runs_add(X.runs, r, json, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		X.db_failed = 1;
	}
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

/* Write the result of j's current step from outcome o. */
static void
finish_result(struct job *j, struct outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_answer a;
	const struct bm_model *m = j->t.model;
	double now = bm_clock_ms(), latency = now - j->attempt_ms;
	char fin[BM_TIME_LEN + 1];
	enum bm_class cls = o->cls;
	cJSON *r = result_new(j), *u, *sc = cJSON_CreateObject(), *it;
	long pt = o->reply.prompt_tokens, ct = o->reply.completion_tokens;
	int rc = 0;

	if (!j->started_at[0])
		bm_clock_rfc3339(j->started_at);
	cJSON_AddStringToObject(r, "status", "error");
	if (cls == BM_CLASS_NONE) {
		a.output = o->reply.output ? o->reply.output : "";
		a.latency_ms = latency;
		a.completion_tokens = ct;
		a.exit_code = j->t.provider->type == BM_PROVIDER_EXEC ?
		    o->exit_code : -1;
		/* bm_assert_score adds assertions, score and metrics. */
		rc = bm_assert_score(j->expect, &a, sc, &e);
		if (rc < 0) {
			cls = BM_CLASS_JUDGE;
			o->msg = bm_error_str(&e);
		} else {
			cJSON_ReplaceItemInObjectCaseSensitive(r, "status",
			    cJSON_CreateString(rc ? "pass" : "fail"));
		}
	}
	if (cls != BM_CLASS_NONE) {
		add_error(r, cls, o->msg, o->http_status);
		if (bm_verbosity > 0)
			bm_errorf("case %s: %s: %s", jstr(j->kase, "case_id"),
			    bm_class_name(cls), o->msg ? o->msg : "");
	} else {
		cJSON_AddNullToObject(r, "error");
	}
	if (o->reply.output)
		cJSON_AddStringToObject(r, "output", o->reply.output);
	else
		cJSON_AddNullToObject(r, "output");
	add_num(r, "latency_ms", ms3(latency), j->attempts > 0);
	add_num(r, "ttft_ms", ms3(j->ttft), j->ttft >= 0);
	cJSON_AddNumberToObject(r, "attempts", j->attempts);
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
	cJSON_AddStringToObject(r, "started_at", j->started_at);
	bm_clock_rfc3339(fin);
	cJSON_AddStringToObject(r, "finished_at", fin);
	emit(r, cls);
	bm_error_clear(&e);
	o->cls = cls;
}

static void
job_free(struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		X.jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		X.tail = j->prev;
	X.alive--;
	cJSON_Delete(j->kase);
	cJSON_Delete(j->messages);
	cJSON_Delete(j->params);
	free(j->last_msg);
	free(j);
}

/*
 * The step is over with outcome o: write its result, then go on with the
 * next step of a sequence, or give the steps an error left unrun their
 * own error results, and free the job.
 */
static void
step_done(struct job *j, struct outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	char *msg;

	finish_result(j, o);
	if (j->step + 1 < j->nsteps && o->cls == BM_CLASS_NONE) {
		cJSON *m = cJSON_CreateObject();

		cJSON_AddStringToObject(m, "role", "assistant");
		cJSON_AddStringToObject(m, "content", o->reply.output ?
		    o->reply.output : "");
		cJSON_AddItemToArray(j->messages, m);
		bm_reply_free(&o->reply);
		/* Every step is committed before the next is sent. */
		if (X.runs && !X.db_failed && bm_runs_commit(X.runs, &e) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			X.db_failed = 1;
		}
		X.last_commit = bm_clock_ms();
		j->step++;
		next_step(j);
		return;
	}
	bm_reply_free(&o->reply);
	msg = xasprintf("not run: step %ld ended in error", j->step);
	while (++j->step < j->nsteps) {
		struct outcome rest = { o->cls, msg, 0, { NULL, -1, -1 },
		    -1, 0 };

		j->attempts = 0;
		j->ttft = -1;
		if (o->cls == BM_CLASS_CANCELLED)
			rest.msg = o->msg;
		finish_result(j, &rest);
	}
	free(msg);
	job_free(j);
}

/* End j's step with an error of class cls (no answer). */
static void
step_error(struct job *j, enum bm_class cls, const char *msg, long status)
{
	struct outcome o = { cls, msg, status, { NULL, -1, -1 }, -1, 0 };

	step_done(j, &o);
}

/*
 * Set up j's current step: the conversation, parameters and expectations;
 * then skip it if the resumed run finished it, refuse it if it cannot fit
 * the context, answer it from the cache, or queue it.
 */
static void
next_step(struct job *j)
{
	struct bm_error e = BM_ERROR_INIT;
	const cJSON *st = NULL, *mparams = j->t.model ? j->t.model->params :
	    NULL;
	char *stored = NULL, *msg, key[65];
	cJSON *rec, *m;
	long mt;
	int rc;

	j->attempts = 0;
	j->ttft = -1;
	j->started_at[0] = '\0';
	free(j->last_msg);
	j->last_msg = NULL;
	cJSON_Delete(j->params);
	j->params = merged(mparams ? cJSON_Duplicate(mparams, 1) :
	    cJSON_CreateObject(), cJSON_GetObjectItemCaseSensitive(j->kase,
	    "params"));
	if (j->steps) {
		st = cJSON_GetArrayItem(j->steps, (int)j->step);
		merged(j->params, cJSON_GetObjectItemCaseSensitive(st,
		    "params"));
		j->expect = cJSON_GetObjectItemCaseSensitive(st, "expect");
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddStringToObject(m, "content", jstr(st, "prompt") ?
		    jstr(st, "prompt") : "");
		cJSON_AddItemToArray(j->messages, m);
	} else {
		j->expect = cJSON_GetObjectItemCaseSensitive(j->kase, "expect");
	}
	if (X.runs && X.resuming) {
		rc = bm_runs_finished(X.runs, jstr(j->kase, "case_id"), j->step,
		    &stored, &e);
		if (rc < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			X.db_failed = 1;
		} else if (rc == 1) {
			/* Done in the resumed run: pass it on, send nothing. */
			rec = cJSON_Parse(stored);
			if (bm_jsonl_write_raw(stdout, stored,
			    strlen(stored)) < 0)
				X.write_failed = 1;
			X.done++;
			if (strcmp(jstr(rec, "status") ? jstr(rec, "status") :
			    "", "pass") == 0)
				X.pass++;
			else
				X.fail++;
			free(stored);
			if (j->step + 1 < j->nsteps) {
				m = cJSON_CreateObject();
				cJSON_AddStringToObject(m, "role", "assistant");
				cJSON_AddStringToObject(m, "content",
				    jstr(rec, "output") ? jstr(rec, "output") :
				    "");
				cJSON_AddItemToArray(j->messages, m);
				cJSON_Delete(rec);
				j->step++;
				next_step(j);
				return;
			}
			cJSON_Delete(rec);
			job_free(j);
			return;
		}
	}
	if (X.stopping) {
		step_error(j, BM_CLASS_CANCELLED, "interrupted", 0);
		return;
	}
	mt = max_tokens(j->params);
	j->est = bm_estimate_tokens(j->messages, j->t.chars_per_token) + mt;
	if (j->t.context > 0 && j->est > j->t.context) {
		msg = xasprintf("estimated %ld tokens (prompt and max_tokens"
		    " %ld) exceed the context of %ld", j->est, mt,
		    j->t.context);
		step_error(j, BM_CLASS_CONTEXT_LENGTH, msg, 0);
		free(msg);
		return;
	}
	if (j->pv->key_missing) {
		msg = xasprintf("%s is not set", j->t.provider->api_key_env);
		step_error(j, BM_CLASS_CONFIG, msg, 0);
		free(msg);
		return;
	}
	if (X.cache && X.runs) {
		struct outcome o = { BM_CLASS_NONE, NULL, 0, { NULL, -1, -1 },
		    0, 1 };

		bm_runs_cache_key(j->t.provider->name, j->t.api_model,
		    j->messages, j->params, key);
		rc = bm_runs_cache_get(X.runs, key, &o.reply.output,
		    &o.reply.prompt_tokens, &o.reply.completion_tokens, &e);
		if (rc < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
		} else if (rc == 1) {
			j->attempt_ms = bm_clock_ms();
			step_done(j, &o);
			return;
		}
	}
	j->state = J_WAITING;
	j->ready_at = 0;
}

/* A case record from input line lineno: make a job of it (takes rec). */
static void
take_case(cJSON *rec, long lineno)
{
	struct bm_error e = BM_ERROR_INIT;
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	const char *model = jstr(rec, "model"), *sys = jstr(rec, "system");
	struct job *j;
	cJSON *m;

	if (!jstr(rec, "case_id") || !model ||
	    (!cJSON_IsArray(msgs) && !cJSON_IsArray(steps))) {
		bm_errorf("<stdin>:%ld: case needs case_id, model and messages"
		    " or steps", lineno);
		X.bad_lines++;
		cJSON_Delete(rec);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kase = rec;
	/* Appended: dispatch goes in input order. */
	j->prev = X.tail;
	if (X.tail)
		X.tail->next = j;
	else
		X.jobs = j;
	X.tail = j;
	X.alive++;
	X.cases++;
	j->ttft = -1;
	if (cJSON_IsArray(steps)) {
		j->steps = steps;
		j->nsteps = cJSON_GetArraySize(steps);
		j->messages = cJSON_CreateArray();
		if (sys) {
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", "system");
			cJSON_AddStringToObject(m, "content", sys);
			cJSON_AddItemToArray(j->messages, m);
		}
	} else {
		j->nsteps = 1;
		j->messages = cJSON_Duplicate(msgs, 1);
	}
	X.expected += j->nsteps > 0 ? j->nsteps : 1;
	if (j->nsteps == 0) {
		bm_errorf("<stdin>:%ld: case %s has no steps", lineno,
		    jstr(rec, "case_id"));
		X.bad_lines++;
		X.expected--;
		job_free(j);
		return;
	}
	if (bm_config_resolve(X.cfg, model, &j->t, &e) < 0) {
		static struct prov none;

		memset(&j->t, 0, sizeof(j->t));
		j->pv = &none;
		step_error(j, BM_CLASS_CONFIG, e.msg, 0);
		bm_error_clear(&e);
		return;
	}
	j->pv = prov_of(j->t.provider);
	next_step(j);
}

/* Read input lines while there is room for jobs. */
static void
read_input(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct pollfd p = { 0, POLLIN, 0 };
	char *nl, *line, chunk[65536];
	const char *end;
	size_t len;
	ssize_t n;
	cJSON *rec;

	while (!X.stopping && X.alive < X.ahead) {
		line = X.in.s ? X.in.s + X.in_off : NULL;
		nl = line ? memchr(line, '\n', X.in.len - X.in_off) : NULL;
		if (!nl && !X.in_eof) {
			/* One read only when it cannot block. */
			if (poll(&p, 1, 0) <= 0)
				return;
			n = read(0, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				return;
			if (n <= 0) {
				if (n < 0)
					bm_errorf("<stdin>: %s",
					    strerror(errno));
				X.in_eof = 1;
			} else {
				if (X.in_off > 0) {
					memmove(X.in.s, X.in.s + X.in_off,
					    X.in.len - X.in_off);
					X.in.len -= X.in_off;
					X.in_off = 0;
				}
				bm_buf_add(&X.in, chunk, (size_t)n);
			}
			continue;
		}
		if (!nl && X.in_off >= X.in.len)
			return;
		len = nl ? (size_t)(nl - line) : X.in.len - X.in_off;
		X.in_off += len + (nl != NULL);
		X.lineno++;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '
		    || line[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		rec = cJSON_ParseWithLengthOpts(line, len, &end, 0);
		if (!cJSON_IsObject(rec) || (size_t)(end - line) != len) {
			bm_error_set(&e, "<stdin>", X.lineno, 0, "%s",
			    rec ? "expected a JSON object" :
			    "invalid JSON");
			bm_error_print(&e);
			bm_error_clear(&e);
			X.bad_lines++;
			cJSON_Delete(rec);
			continue;
		}
		if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
		    "case") != 0) {
			/* Not ours: pass it on as it came. */
			if (bm_jsonl_write_raw(stdout, line, len) < 0)
				X.write_failed = 1;
			cJSON_Delete(rec);
			continue;
		}
		take_case(rec, X.lineno);
	}
}

/* The case JSON an exec provider reads: the case, as sent at this step. */
static char *
exec_input(const struct job *j)
{
	cJSON *c = cJSON_Duplicate(j->kase, 1);
	char *s;

	cJSON_DeleteItemFromObjectCaseSensitive(c, "messages");
	cJSON_AddItemToObject(c, "messages", cJSON_Duplicate(j->messages, 1));
	cJSON_DeleteItemFromObjectCaseSensitive(c, "params");
	cJSON_AddItemToObject(c, "params", cJSON_Duplicate(j->params, 1));
	if (j->steps) {
		cJSON_DeleteItemFromObjectCaseSensitive(c, "step");
		cJSON_AddNumberToObject(c, "step", (double)j->step);
	}
	s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

static void
on_data(void *user, const char *p, size_t n)
{
	struct job *j = user;

	if (bm_sse_feed(&j->sse, p, n) && j->ttft < 0)
		j->ttft = bm_clock_ms() - j->attempt_ms;
}

static double
timeout_s(const struct job *j)
{
	if (X.timeout_s > 0)
		return X.timeout_s;
	return j->t.provider->timeout > 0 ? j->t.provider->timeout : 120;
}

/* Start one attempt at j's step. */
static void
start(struct job *j)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_preq pr;
	struct bm_http_req req;
	const char *cmd;
	char *in;

	j->attempts++;
	j->attempt_ms = bm_clock_ms();
	j->ttft = -1;
	if (!j->started_at[0])
		bm_clock_rfc3339(j->started_at);
	X.requests++;
	switch (j->t.provider->type) {
	case BM_PROVIDER_ECHO: {
		struct outcome o = { BM_CLASS_NONE, NULL, 0, { NULL, -1, -1 },
		    -1, 0 };

		o.reply.output = bm_provider_echo(j->messages);
		step_done(j, &o);
		return;
	}
	case BM_PROVIDER_EXEC:
		cmd = j->t.api_model && *j->t.api_model ? j->t.api_model :
		    j->t.provider->command;
		in = exec_input(j);
		if (!cmd || bm_spawn(cmd, in, strlen(in), &j->child, &e) < 0) {
			free(in);
			step_error(j, BM_CLASS_EXEC, cmd ? e.msg :
			    "no command", 0);
			bm_error_clear(&e);
			return;
		}
		free(in);
		j->has_child = 1;
		break;
	default:
		j->streaming = X.stream || j->t.provider->stream;
		if (bm_provider_request(&j->t, j->pv->key, j->messages,
		    j->params, j->streaming, &pr, &e) < 0) {
			step_error(j, BM_CLASS_CONFIG, e.msg, 0);
			bm_error_clear(&e);
			return;
		}
		memset(&req, 0, sizeof(req));
		req.url = pr.url;
		req.headers = (const char *const *)pr.headers;
		req.body = pr.body.s;
		req.body_len = pr.body.len;
		req.timeout_ms = (long)(timeout_s(j) * 1000);
		req.user = j;
		if (j->streaming) {
			bm_sse_init(&j->sse, j->t.provider->type);
			req.on_data = on_data;
		}
		j->xfer = bm_http_start(X.http, &req, &e);
		bm_preq_free(&pr);
		if (!j->xfer) {
			if (j->streaming)
				bm_sse_free(&j->sse);
			step_error(j, BM_CLASS_CONNECTION, e.msg, 0);
			bm_error_clear(&e);
			return;
		}
	}
	j->state = J_RUNNING;
	j->pv->inflight++;
	X.inflight++;
	bm_breaker_started(&j->pv->brk);
}

/* The attempt is over (j no longer in flight). */
static void
landed(struct job *j)
{
	j->pv->inflight--;
	X.inflight--;
	if (j->streaming) {
		bm_sse_free(&j->sse);
		j->streaming = 0;
	}
	if (j->has_child) {
		bm_spawn_free(&j->child);
		j->has_child = 0;
	}
	j->xfer = NULL;
}

/* An attempt failed: retry it later, or end the step with the error. */
static void
failed(struct job *j, enum bm_class cls, const char *msg, long status,
    const char *retry_after)
{
	double now = bm_clock_ms(), delay;

	if (cls != BM_CLASS_BAD_REQUEST && cls != BM_CLASS_CONTEXT_LENGTH &&
	    cls != BM_CLASS_EXEC)
		bm_breaker_record(&j->pv->brk, 0, now);
	if (cls == BM_CLASS_RATE_LIMIT)
		bm_window_throttled(&j->pv->win);
	if (!bm_class_retryable(cls) || j->attempts > X.retries ||
	    X.stopping) {
		step_error(j, cls, msg, status);
		return;
	}
	if (!retry_after || bm_retry_after_parse(retry_after, time(NULL),
	    &delay) < 0)
		delay = bm_backoff_ms(j->attempts, X.backoff_ms, 60000,
		    bm_random01());
	bm_debugf(2, "case %s: %s, retry %d in %.0f ms",
	    jstr(j->kase, "case_id"), msg, j->attempts, delay);
	free(j->last_msg);
	j->last_msg = xstrdup(msg);
	j->last_class = cls;
	j->last_status = status;
	j->state = J_WAITING;
	j->ready_at = now + delay;
}

static void
answered(struct job *j, struct outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	char key[65];

	bm_breaker_record(&j->pv->brk, 1, bm_clock_ms());
	bm_window_success(&j->pv->win);
	if (X.cache && X.runs) {
		bm_runs_cache_key(j->t.provider->name, j->t.api_model,
		    j->messages, j->params, key);
		if (bm_runs_cache_put(X.runs, key, o->reply.output,
		    o->reply.prompt_tokens, o->reply.completion_tokens,
		    &e) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
		}
	}
	step_done(j, o);
}

static void
http_done(struct bm_http_done *d)
{
	struct bm_error e = BM_ERROR_INIT;
	struct job *j = d->user;
	struct outcome o = { BM_CLASS_NONE, NULL, 0, { NULL, -1, -1 }, -1, 0 };
	enum bm_class cls;
	char *msg = NULL;
	int rc;

	if (d->fail != BM_HTTP_OK) {
		cls = d->fail == BM_HTTP_TIMEOUT ? BM_CLASS_TIMEOUT :
		    d->fail == BM_HTTP_PROTOCOL ? BM_CLASS_PARSE :
		    BM_CLASS_CONNECTION;
		landed(j);
		failed(j, cls, d->message, 0, NULL);
		return;
	}
	if (d->status < 200 || d->status > 299) {
		cls = bm_provider_classify(d->status, d->body.s, d->body.len,
		    &msg);
		landed(j);
		failed(j, cls, msg, d->status, d->retry_after);
		free(msg);
		return;
	}
	if (j->streaming && j->sse.tokens + j->sse.done > 0)
		rc = bm_sse_finish(&j->sse, &o.reply, &e);
	else
		rc = bm_provider_parse(j->t.provider->type,
		    bm_buf_str(&d->body), d->body.len, &o.reply, &e);
	landed(j);
	if (rc < 0) {
		failed(j, BM_CLASS_PARSE, e.msg, d->status, NULL);
		bm_error_clear(&e);
		return;
	}
	answered(j, &o);
}

/* A child made progress or timed out. */
static void
child_step(struct job *j, double now)
{
	struct outcome o = { BM_CLASS_NONE, NULL, 0, { NULL, -1, -1 }, -1, 0 };
	struct bm_buf how = BM_BUF_INIT;
	char *msg;
	size_t n;

	if (now - j->attempt_ms >= timeout_s(j) * 1000) {
		bm_spawn_kill(&j->child);
		msg = xasprintf("exec %s: no answer within %g s",
		    j->t.api_model, timeout_s(j));
		landed(j);
		failed(j, BM_CLASS_TIMEOUT, msg, 0, NULL);
		free(msg);
		return;
	}
	if (!bm_spawn_step(&j->child))
		return;
	o.exit_code = bm_spawn_describe(&j->child, &how);
	if (how.len > 0) {
		msg = xasprintf("exec %s %s", j->t.api_model, bm_buf_str(&how));
		bm_buf_free(&how);
		landed(j);
		failed(j, BM_CLASS_EXEC, msg, 0, NULL);
		free(msg);
		return;
	}
	n = j->child.out.len;
	if (n > 0 && j->child.out.s[n - 1] == '\n')
		n--;
	o.reply.output = xstrndup(bm_buf_str(&j->child.out), n);
	landed(j);
	answered(j, &o);
}

/* Start what the limits allow; returns ms until something may become ready. */
static double
dispatch(double now)
{
	struct job *j, *next;
	double wait = 1000, w;
	struct prov *pv;

	for (j = X.jobs; j; j = next) {
		next = j->next;
		if (j->state != J_WAITING)
			continue;
		if (X.stopping) {
			step_error(j, BM_CLASS_CANCELLED, "interrupted", 0);
			continue;
		}
		if (X.inflight >= X.jobs_max)
			break;
		pv = j->pv;
		if (j->ready_at > now) {
			if (j->ready_at - now < wait)
				wait = j->ready_at - now;
			continue;
		}
		if (pv->inflight >= pv->max ||
		    pv->inflight >= bm_window_limit(&pv->win))
			continue;
		if (!bm_breaker_allow(&pv->brk, now)) {
			w = bm_breaker_wait(&pv->brk, now);
			if (w > 0 && w < wait)
				wait = w;
			continue;
		}
		w = bm_bucket_wait(&pv->rpm, 1, now);
		if (w <= 0)
			w = bm_bucket_wait(&pv->tpm, (double)j->est, now);
		if (w > 0) {
			if (w < wait)
				wait = w;
			continue;
		}
		bm_bucket_take(&pv->rpm, 1, now);
		bm_bucket_take(&pv->tpm, (double)j->est, now);
		start(j);
	}
	return wait;
}

/* After the grace period, or a second signal: cancel what is in flight. */
static void
cancel_running(void)
{
	struct job *j, *next;

	for (j = X.jobs; j; j = next) {
		next = j->next;
		if (j->state != J_RUNNING)
			continue;
		if (j->xfer)
			bm_http_cancel(X.http, j->xfer);
		landed(j);
		step_error(j, BM_CLASS_CANCELLED, "interrupted", 0);
	}
}

static void
progress(double now, int last)
{
	int tty = isatty(2);
	double secs = (now - X.t0) / 1000, rate = secs > 0 ? X.done / secs : 0;
	struct bm_buf b = BM_BUF_INIT;
	size_t i;
	int c = bm_color(2);

	if (!(X.progress || tty ? now - X.last_progress >= 200 :
	    bm_verbosity > 0 && now - X.last_progress >= 5000) && !last)
		return;
	if (!X.progress && (bm_verbosity < 0 || (!tty && bm_verbosity == 0)))
		return;
	X.last_progress = now;
	if (X.in_eof)
		bm_buf_addf(&b, "%ld/%ld", X.done, X.expected);
	else
		bm_buf_addf(&b, "%ld", X.done);
	bm_buf_addf(&b, " pass %ld fail %ld ", X.pass, X.fail);
	bm_buf_addf(&b, c && X.errors ? "\033[31merror %ld\033[0m" :
	    "error %ld", X.errors);
	bm_buf_addf(&b, " | %.1f req/s", rate);
	if (X.in_eof && rate > 0 && X.expected > X.done)
		bm_buf_addf(&b, " | ETA %.0fs", (X.expected - X.done) / rate);
	for (i = 0; i < X.nprovs; i++)
		if (X.provs[i]->inflight || X.provs[i]->brk.state)
			bm_buf_addf(&b, c && X.provs[i]->brk.state ?
			    " | \033[33m%s %ld/%ld open\033[0m" :
			    " | %s %ld/%ld", X.provs[i]->p->name,
			    X.provs[i]->inflight,
			    bm_window_limit(&X.provs[i]->win));
	if (X.stopping)
		bm_buf_adds(&b, c ? " | \033[33mstopping\033[0m" :
		    " | stopping");
	if (tty || X.progress)
		fprintf(stderr, "\r\033[K%s: %s%s", bm_prog(), bm_buf_str(&b),
		    last ? "\n" : "");
	else
		fprintf(stderr, "%s: %s\n", bm_prog(), bm_buf_str(&b));
	bm_buf_free(&b);
}

/* One turn of the loop's wait: the descriptors and the timeout. */
static int
wait_events(double wait)
{
	static struct bm_pollfd *fds;
	static size_t cap;
	struct bm_error e = BM_ERROR_INIT;
	double now = bm_clock_ms(), left;
	struct job *j;
	size_t n = 0;
	char drain[64];

	if (cap < 2 + 2 * (size_t)X.alive) {
		cap = 2 + 2 * (size_t)X.alive + 16;
		fds = xreallocarray(fds, cap, sizeof(*fds));
	}
	fds[n++] = (struct bm_pollfd){ X.sigpipe[0], POLLIN, 0 };
	if (!X.in_eof && !X.stopping && X.alive < X.ahead)
		fds[n++] = (struct bm_pollfd){ 0, POLLIN, 0 };
	for (j = X.jobs; j; j = j->next) {
		if (!j->has_child)
			continue;
		if (j->child.in_fd >= 0)
			fds[n++] = (struct bm_pollfd){ j->child.in_fd, POLLOUT,
			    0 };
		if (j->child.out_fd >= 0)
			fds[n++] = (struct bm_pollfd){ j->child.out_fd, POLLIN,
			    0 };
		else
			wait = wait > 10 ? 10 : wait;	/* reap soon */
		left = j->attempt_ms + timeout_s(j) * 1000 - now;
		if (left < wait)
			wait = left;
	}
	if (X.runs && bm_runs_pending(X.runs) > 0 &&
	    X.last_commit + 250 - now < wait)
		wait = X.last_commit + 250 - now;
	if (X.stopping && X.grace_end - now < wait)
		wait = X.grace_end - now;
	if (wait > 200 && (X.progress || bm_verbosity > 0 || isatty(2)))
		wait = 200;
	if (wait < 0)
		wait = 0;
	if (bm_http_poll(X.http, fds, (unsigned)n, (int)wait + (wait > 0),
	    &e) < 0 || bm_http_perform(X.http, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return -1;
	}
	if (fds[0].revents)
		while (read(X.sigpipe[0], drain, sizeof(drain)) > 0)
			;
	return 0;
}

/* The loop: read, dispatch, wait, collect; until all is done. */
static int
run(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_http_done d;
	struct job *j, *next;
	double now, wait;
	long seen = 0;

	X.t0 = X.last_commit = X.last_progress = bm_clock_ms();
	for (;;) {
		now = bm_clock_ms();
		if (X.signals != seen) {
			if (seen == 0) {
				X.stopping = 1;
				X.grace_end = now + X.grace_s * 1000;
				bm_warnf("interrupted: finishing %ld requests"
				    " in flight (%g s)", X.inflight,
				    X.grace_s);
			} else {
				X.grace_end = now;
			}
			seen = X.signals;
		}
		read_input();
		wait = dispatch(now);
		if (X.stopping && now >= X.grace_end)
			cancel_running();
		if (X.runs && bm_runs_pending(X.runs) > 0 &&
		    (now - X.last_commit >= 250 || X.alive == 0)) {
			if (bm_runs_commit(X.runs, &e) < 0) {
				bm_error_print(&e);
				bm_error_clear(&e);
				X.db_failed = 1;
			}
			X.last_commit = now;
		}
		progress(now, 0);
		if (X.alive == 0 && (X.in_eof || X.stopping))
			break;
		if (wait_events(wait) < 0)
			return -1;
		while (bm_http_next(X.http, &d)) {
			http_done(&d);
			bm_http_done_free(&d);
		}
		now = bm_clock_ms();
		for (j = X.jobs; j; j = next) {
			next = j->next;
			if (j->has_child)
				child_step(j, now);
		}
	}
	progress(bm_clock_ms(), 1);
	return 0;
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
	const cJSON *steps, *st, *sp;
	const char *model, *cid;
	cJSON *rec, *msgs, *m, *params;
	long tok, mt;
	int rc, bad = 0, k;

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
		if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
		    "case") != 0 || !model) {
			if (bm_jsonl_type(rec) && !model &&
			    strcmp(bm_jsonl_type(rec), "case") == 0) {
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
		steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
		msgs = cJSON_IsArray(steps) ? cJSON_CreateArray() :
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(rec,
		    "messages"), 1);
		if (cJSON_IsArray(steps) && jstr(rec, "system")) {
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", "system");
			cJSON_AddStringToObject(m, "content",
			    jstr(rec, "system"));
			cJSON_AddItemToArray(msgs, m);
		}
		for (k = 0; k < (cJSON_IsArray(steps) ?
		    cJSON_GetArraySize(steps) : 1); k++) {
			params = merged(t.model && t.model->params ?
			    cJSON_Duplicate(t.model->params, 1) :
			    cJSON_CreateObject(),
			    cJSON_GetObjectItemCaseSensitive(rec, "params"));
			if (cJSON_IsArray(steps)) {
				st = cJSON_GetArrayItem(steps, k);
				sp = cJSON_GetObjectItemCaseSensitive(st,
				    "params");
				merged(params, sp);
				m = cJSON_CreateObject();
				cJSON_AddStringToObject(m, "role", "user");
				cJSON_AddStringToObject(m, "content",
				    jstr(st, "prompt") ? jstr(st, "prompt") :
				    "");
				cJSON_AddItemToArray(msgs, m);
			}
			mt = max_tokens(params);
			cJSON_Delete(params);
			tok = bm_estimate_tokens(msgs, t.chars_per_token);
			if (t.context > 0 && tok + mt > t.context) {
				bm_errorf("<stdin>:%ld: case %s: step %d:"
				    " estimated %ld tokens exceed the context"
				    " of %ld", r.lineno, cid, k, tok + mt,
				    t.context);
				bad = 1;
			}
			x->prompt += tok;
			x->completion += mt;
			if (x->priced)
				x->cost += ((double)tok * t.model->price_input +
				    (double)mt * t.model->price_output) / 1e6;
		}
		cJSON_Delete(msgs);
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

/* The commit checked out here, best effort (NULL when not a git tree). */
static char *
git_head(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_child c;
	struct pollfd p;
	double end = bm_clock_ms() + 2000;
	char *sha = NULL;
	size_t n;

	if (bm_spawn("git rev-parse HEAD 2>/dev/null", "", 0, &c, &e) < 0) {
		bm_error_clear(&e);
		return NULL;
	}
	while (!bm_spawn_step(&c) && bm_clock_ms() < end) {
		p = (struct pollfd){ c.out_fd, POLLIN, 0 };
		poll(&p, c.out_fd >= 0 ? 1 : 0, 10);
	}
	n = c.out.len;
	if (c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 &&
	    n >= 40) {
		while (n > 0 && c.out.s[n - 1] == '\n')
			n--;
		sha = xstrndup(c.out.s, n);
	}
	bm_spawn_free(&c);
	return sha;
}

static char *
new_run_id(void)
{
	char when[17];
	unsigned r = (unsigned)(bm_random01() * 65536);

	bm_clock_compact(when);
	return xasprintf("r-%s-%04x", when, r & 0xffff);
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
	struct bm_error e = BM_ERROR_INIT;
	struct bm_cli cli;
	struct bm_run_info info;
	struct bm_db *db = NULL;
	struct sigaction sa;
	const char *resume = NULL;
	char *run_id = NULL, *argv_json, *git, host[256];
	cJSON *av;
	size_t i;
	int opt, rc = 0;

	bm_cli_init(&cli, argv[0], usage);
	X.jobs_max = 8;
	X.retries = 3;
	X.grace_s = 10;
	X.backoff_ms = 1000;
	while ((opt = getopt_long(argc, argv, BM_CLI_SHORTOPTS "j:", longopts,
	    NULL)) != -1) {
		switch (opt) {
		case 'j':
			X.jobs_max = bm_cli_long("-j", optarg, 1, 100000);
			break;
		case OPT_RETRIES:
			X.retries = bm_cli_long("--retries", optarg, 0, 100);
			break;
		case OPT_TIMEOUT:
			X.timeout_s = bm_cli_double("--timeout", optarg, 0.001,
			    1e6);
			break;
		case OPT_STREAM:
			X.stream = 1;
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
			X.backoff_ms = 1000 * bm_cli_double("--backoff", optarg,
			    0, 3600);
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
	X.ahead = X.jobs_max * 2 + 16;
	X.http = bm_http_new(X.jobs_max + 16);
	if (!X.http)
		bm_die(2, "cannot start libcurl");
	X.resuming = resume != NULL;
	if (resume)
		run_id = xstrdup(resume);
	else if (!run_id)
		run_id = new_run_id();
	X.run_id = run_id;
	if (!cli.no_db) {
		db = bm_db_open(cli.db, &e);
		if (!db) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bm_config_free(X.cfg);
			return 2;
		}
		av = cJSON_CreateArray();
		for (i = 0; i < (size_t)argc; i++)
			cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
		argv_json = cJSON_PrintUnformatted(av);
		cJSON_Delete(av);
		git = git_head();
		if (gethostname(host, sizeof(host)) < 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		info = (struct bm_run_info){ run_id, argv_json,
		    X.cfg->path ? X.cfg->sha256 : NULL, git, host };
		X.runs = bm_runs_start(db, &info, resume != NULL, &e);
		free(argv_json);
		free(git);
		if (!X.runs) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bm_db_close(db, &e);
			bm_error_clear(&e);
			bm_config_free(X.cfg);
			return 2;
		}
	}
	bm_notef("run %s", run_id);
	if (pipe2(X.sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		bm_die(2, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (run() < 0)
		rc = 2;

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
	    "finished", &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		X.db_failed = 1;
	}
	if (db && bm_db_close(db, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		X.db_failed = 1;
	}
	bm_http_free(X.http);
	bm_config_free(X.cfg);
	bm_buf_free(&X.in);
	for (i = 0; i < X.nprovs; i++)
		free(X.provs[i]);
	free(X.provs);
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
