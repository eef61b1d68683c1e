/*
 * bm-exec: run `case` records against models and write `result` records as
 * they complete (DESIGN.md §8).
 *
 *	bm-ingest ... | bm-exec [-j N] [--resume RUN] ... | bm-stats
 *
 * lib/sched runs the cases: one event loop over libcurl's multi interface,
 * child processes for exec providers and the limits of each provider;
 * lib/prescan reads the case stream ahead, lib/result makes the result
 * records, lib/rescore and lib/rerun score a stored run again.  This file
 * picks the mode (a run, --resume, --dry-run, --rescore), hands input
 * lines to the scheduler, prints and stores the results, shows progress
 * and handles signals, --resume and --cache; exec-plan.c has --dry-run
 * and the prescan, exec-rescore.c --rescore, exec-show.c what a person
 * sees.  Its state is a struct exec (exec.h), handed to every hook.
 * Every case read yields exactly one result per step, even when
 * interrupted.
 */
#include <errno.h>
#include <poll.h>
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
#include "commitq.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "hash.h"
#include "jsonl.h"
#include "map.h"
#include "provider.h"
#include "rescore.h"
#include "result.h"
#include "runs.h"
#include "sched.h"
#include "xalloc.h"

#include "exec.h"
#include "exec-show.h"

static const char usage[] =
    "usage: bm-exec [-q] [-v] [-j N] [--retries N] [--timeout S] "
    "[--stream]\n"
    "               [--run-id ID | --resume RUN] [--grace S] [--backoff S]\n"
    "               [--dry-run] [--cache] [--progress] [--status-interval S]\n"
    "               [--give-up S] [--rescore RUN] [--rejudge] [--no-db]\n"
    "               [--db PATH] [--config PATH]\n";

/* The state, for on_signal only: everything else is handed it. */
static struct exec *self;

/* A message is about to be printed: take the progress line away. */
void
exec_unshow(struct exec *x)
{
	if (x->shown)
		fputs("\r\033[K", stderr);
	x->shown = 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	self->signals++;
	if (self->sched)
		bm_sched_wake(self->sched);
}

/*
 * The database, for a run.  Each insert of a result fires the triggers
 * that keep run_models, so SQLite keeps a statement journal for it: in
 * memory that costs no write, in a temporary file 15 writes a result.
 */
struct bm_db *
exec_open_db(struct exec *x, const char *path, struct bm_error *e)
{
	if (!(x->db = bm_db_open(path, e)))
		return NULL;
	bm_db_set_busy_timeout(x->db, x->busy_ms);
	return bm_db_exec(x->db, "PRAGMA temp_store = MEMORY", e) < 0 ? NULL :
	    x->db;
}

static void queue_print(struct exec *x);

/*
 * The database failed: say so, start no more requests (what is in flight
 * may finish), and print the results that could not be stored, and every
 * later one, without storing them.  The run exits 2.
 */
void
exec_db_failed(struct exec *x, struct bm_error *e)
{
	exec_unshow(x);
	bm_error_print(e);
	bm_error_clear(e);
	if (!x->db_failed && x->sched) {
		bm_errorf("cannot store results: no more requests are sent;"
		    " results go to stdout only");
		bm_sched_stop_why(x->sched, x->grace_s * 1000,
		    "not sent: the database failed");
	}
	x->db_failed = 1;
	queue_print(x);
}

/*
 * Standard output failed (the reader went away, the disk is full): start
 * no more work, as after a signal; what runs may finish and is stored.
 */
void
exec_out_failed(struct exec *x)
{
	if (x->write_failed)
		return;
	x->write_failed = 1;
	x->write_errno = errno;
	if (x->sched)
		bm_sched_stop(x->sched, x->grace_s * 1000);
}

/*
 * Write a record to standard output (not into the progress line), flushed
 * at once whatever stdout is, so that `tail -f` follows a run.
 */
void
exec_out(void *user, const char *json, size_t len)
{
	struct exec *x = user;

	if (x->out_tty)
		exec_unshow(x);
	if (x->write_failed)
		return;
	if (fwrite(json, 1, len, stdout) != len || putc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF)
		exec_out_failed(x);
}

/* Print what waits in the queue (committed, or never to be) and empty it. */
static void
queue_print(struct exec *x)
{
	bm_commitq_take(x->q, exec_out, x);
}

/* The queue, made when the first result or answer waits. */
static struct bm_commitq *
queue(struct exec *x)
{
	if (!x->q)
		x->q = bm_commitq_new(x->runs, x->db_path, x->busy_ms);
	return x->q;
}

/*
 * Store what waits in the queue in one transaction, then print it: a
 * result line on stdout is a committed result.  A busy file is not
 * waited for (the loop goes on); lib/commitq tries it again after 50 ms,
 * for up to BM_BUSY_TIMEOUT_MS; then, as on any other failure, the
 * database has failed.
 * Returns 0 when the file was busy, else 1.
 */
static int
flush(struct exec *x, double now)
{
	struct bm_error e = BM_ERROR_INIT;
	long n;
	int rc;

	if (bm_commitq_len(x->q) == 0)
		return 1;
	if (!x->runs || x->db_failed) {
		queue_print(x);
		return 1;
	}
	rc = bm_commitq_commit(x->q, now, &n, &e);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		exec_db_failed(x, &e);
		return 1;
	}
	x->last_commit = now;
	x->committed += n;
	queue_print(x);
	return 1;
}

/* Commit what waits at the end: a busy file is tried for busy_ms. */
void
exec_flush_all(struct exec *x)
{
	while (bm_commitq_len(x->q) > 0 && !flush(x, bm_clock_ms()))
		poll(NULL, 0, 50);
}

/* Count one result and have it stored and printed; takes r. */
void
exec_emit(struct exec *x, cJSON *r, enum bm_class cls)
{
	x->done++;
	if (cls == BM_CLASS_CANCELLED) {
		x->errors++;
		x->cancelled++;
		x->by_class[cls]++;
	} else if (cls != BM_CLASS_NONE) {
		x->errors++;
		x->by_class[cls]++;
	} else if (strcmp(bm_json_str(r, "status"), "pass") == 0) {
		x->pass++;
	} else {
		x->fail++;
	}
	x->queued++;
	bm_commitq_result(queue(x), r, bm_json_print(r));
	if (!x->runs || x->db_failed)
		queue_print(x);
}

/* Results stored so far (all of them written, without a database). */
static long
on_stored(void *user)
{
	struct exec *x = user;

	/* Results bad_assertion wrote are not the scheduler's: less them
	 * (until they are committed, a sequence waits a little longer). */
	return (x->runs && !x->db_failed ? x->committed : x->queued) -
	    x->outside;
}

/*
 * Step s ended with outcome o: score the answer, write the result record.
 * Returns the class recorded (a judge error when scoring failed).
 */
enum bm_class
exec_on_result(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct exec *x = user;
	enum bm_class cls;
	char *why;
	cJSON *r = bm_result_make(x->run_id, s, o, &cls, &why);

	if (cls != BM_CLASS_NONE && bm_verbosity > 0 && (exec_unshow(x), 1))
		bm_errorf("case %s: %s: %s", bm_json_str(s->kase, "case_id"),
		    bm_class_name(cls), why);
	free(why);
	exec_emit(x, r, cls);
	return cls;
}

/*
 * A case whose assertions do not check (a regex that does not compile, an
 * unknown type) never reaches the scheduler: each of its steps ends as an
 * error of class config, with no request; the message is printed once.
 * Its results are written here, outside the scheduler, so on_stored does
 * not count them against the scheduler's own (x->outside).
 */
static void
bad_assertion(struct exec *x, cJSON *rec, const char *msg)
{
	static const struct bm_target none;
	struct bm_sched_outcome o = bm_sched_outcome(BM_CLASS_CONFIG, msg);
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	char at[BM_CLOCK_TIME_LEN + 1];
	struct bm_sched_step v = { .kase = rec, .t = &none, .nsteps = 1,
	    .ttft_ms = -1, .started_at = at };

	if (!x->told)
		x->told = bm_map_new();
	if (!bm_map_get(x->told, msg)) {
		bm_map_put(x->told, msg, x->told);
		exec_unshow(x);
		bm_errorf("%s", msg);
	}
	if (cJSON_IsArray(steps))
		v.nsteps = cJSON_GetArraySize(steps);
	bm_clock_rfc3339(at);
	v.attempt_ms = bm_clock_ms();
	for (v.step = 0; v.step < v.nsteps; v.step++) {
		x->outside++;
		exec_on_result(x, &v, &o);
	}
	cJSON_Delete(rec);
}

/* An exec scorer's stdin: the result record of s as it would be written. */
char *
exec_on_record(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	return bm_result_input(((struct exec *)user)->run_id, s, o);
}

/* A warning from the scheduler (a judge that is the model under test). */
static void
on_warning(void *user, const char *msg)
{
	exec_unshow(user);
	bm_warnf("%s", msg);
}

/* An input line: a case for the scheduler; other records pass on. */
static void
on_line(void *user, const char *line, size_t len, long lineno)
{
	struct bm_error e = BM_ERROR_INIT;
	char *text = xstrndup(line, len);
	cJSON *rec = NULL;
	struct exec *x = user;

	/* As bm_jsonl_next parses, so --dry-run says the same. */
	if (strlen(text) == len && bm_json_nul(text, len))
		bm_error_set(&e, "<stdin>", lineno, 0, "a NUL character"
		    " (\\u0000) cannot be kept: the record is skipped");
	else
		bm_jsonl_parse(text, len, "<stdin>", lineno, &rec, &e);
	free(text);
	if (e.msg) {
		exec_unshow(x);
		bm_error_print(&e);
		bm_error_clear(&e);
		x->bad_lines++;
		cJSON_Delete(rec);
		return;
	}
	if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
	    "case") != 0) {
		/* Not ours: pass it on as it came. */
		exec_out(x, line, len);
		cJSON_Delete(rec);
		return;
	}
	if (bm_sched_check(rec, &e) == 0 &&
	    bm_assert_check_case(rec, &e) < 0) {
		bad_assertion(x, rec, e.msg);
		bm_error_clear(&e);
		return;
	}
	bm_error_clear(&e);
	if (bm_sched_add(x->sched, rec, &e) < 0) {
		exec_unshow(x);
		bm_errorf("<stdin>:%ld: %s", lineno, e.msg);
		bm_error_clear(&e);
		x->bad_lines++;
	}
}

static void
on_warn(void *user, const struct bm_error *e)
{
	exec_unshow(user);
	bm_error_print(e);
}

/* --resume: pass on a step the resumed run finished, and its answer. */
static int
on_recorded(void *user, const struct bm_sched_step *s, char **output)
{
	struct bm_error e = BM_ERROR_INIT;
	char *stored = NULL;
	const char *st;
	struct exec *x = user;
	cJSON *rec;
	int rc;

	rc = bm_runs_finished(x->runs, bm_json_str(s->kase, "case_id"), s->step,
	    &stored, &e);
	if (rc < 0)
		exec_db_failed(x, &e);
	if (rc != 1)
		return 0;
	rec = cJSON_Parse(stored);
	exec_out(x, stored, strlen(stored));
	x->done++;
	st = bm_json_str(rec, "status");
	if (st && strcmp(st, "pass") == 0)
		x->pass++;
	else
		x->fail++;
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
	struct exec *x = user;
	char key[65];
	int rc;

	bm_runs_cache_key(s->t->provider->name, s->t->api_model, s->messages,
	    s->params, key);
	rc = bm_runs_cache_get(x->runs, key, &r->output, &r->prompt_tokens,
	    &r->completion_tokens, &e);
	if (rc < 0) {
		on_warn(x, &e);
		bm_error_clear(&e);
	}
	return rc == 1;
}

/* --cache: keep a fresh answer. */
static void
on_cache_put(void *user, const struct bm_sched_step *s,
    const struct bm_reply *r)
{
	struct exec *x = user;
	char key[65];

	if (x->db_failed)
		return;
	bm_runs_cache_key(s->t->provider->name, s->t->api_model, s->messages,
	    s->params, key);
	/* Stored with the results, in their transaction. */
	bm_commitq_cache(queue(x), key, r->output, r->prompt_tokens,
	    r->completion_tokens);
}

static void
on_retry(void *user, const struct bm_sched_step *s, const char *msg,
    double delay_ms)
{
	if (bm_verbosity >= 2)
		exec_unshow(user);
	bm_debugf(2, "case %s: %s, retry %d in %.0f ms",
	    bm_json_str(s->kase, "case_id"), msg, s->attempts, delay_ms);
}

/* An exec child's stderr line: named by its case, secrets redacted. */
static void
on_child_stderr(void *user, const struct bm_sched_step *s, const char *line)
{
	exec_unshow(user);
	bm_errorf("case %s: %s", bm_json_str(s->kase, "case_id"), line);
}

/* First signal: stop after the grace period; second: stop now. */
static void
on_turn(void *user, double now)
{
	struct exec *x = user;
	long n;

	(void)now;
	if (x->signals == x->seen)
		return;
	exec_unshow(x);
	/* Two signals may have come before this turn: the second counts. */
	n = bm_sched_stats(x->sched)->inflight;
	if (x->seen == 0 && x->signals == 1) {
		bm_warnf("interrupted: finishing %ld request%s in flight"
		    " (%g s)", n, n == 1 ? "" : "s", x->grace_s);
		bm_sched_stop(x->sched, x->grace_s * 1000);
	} else {
		bm_warnf("interrupted again: cancelling %ld request%s in"
		    " flight", n, n == 1 ? "" : "s");
		bm_sched_stop(x->sched, 0);
	}
	x->seen = x->signals;
}

/*
 * The status line: redrawn in place on a terminal (or with --progress)
 * every 200 ms; with -v and no terminal, one line every --status-interval.
 */
static void
progress(struct exec *x, double now, int last)
{
	struct bm_sched_tally t = { .done = x->done, .pass = x->pass,
	    .fail = x->fail, .errors = x->errors - x->cancelled,
	    .cancelled = x->cancelled, .total = x->total };
	struct bm_buf b = BM_BUF_INIT;
	int inplace = x->progress || isatty(2);

	if (!x->progress && (bm_verbosity < 0 || (!inplace &&
	    bm_verbosity == 0)))
		return;
	if (!last && now - x->last_progress < (inplace ? 200 : x->status_ms))
		return;
	x->last_progress = now;
	show_progress(x->sched, &t, now - x->t0, bm_color(2), &b);
	if (inplace) {
		fprintf(stderr, "\r\033[K%s: %s%s", bm_prog(), bm_buf_str(&b),
		    last ? "\n" : "");
	} else if (!x->said || strcmp(x->said, bm_buf_str(&b)) != 0) {
		/* The same line twice in a log says nothing. */
		fprintf(stderr, "%s: %s\n", bm_prog(), bm_buf_str(&b));
		free(x->said);
		x->said = bm_buf_detach(&b, NULL);
	}
	x->shown = inplace && !last;
	bm_buf_free(&b);
}

/*
 * Before the loop waits: commit every 250 ms (at once when a sequence
 * waits for its steps, or when nothing else runs), show progress.
 */
static double
on_idle(void *user, double now)
{
	struct exec *x = user;
	const struct bm_sched_stats *st = bm_sched_stats(x->sched);
	double wait = 1e9, next_try = bm_commitq_next_try(x->q);
	int urgent = st->held > 0 || st->alive == 0;

	if (bm_commitq_len(x->q) > 0 && now >= next_try && (urgent ||
	    now - x->last_commit >= 250) && flush(x, now) && urgent)
		wait = 0;
	progress(x, now, 0);
	if (bm_commitq_len(x->q) > 0) {
		next_try = bm_commitq_next_try(x->q);
		wait = urgent ? 0 : x->last_commit + 250 - now;
		if (wait < next_try - now)
			wait = next_try - now;
	}
	if (x->progress || isatty(2))
		wait = wait > 200 ? 200 : wait;
	else if (bm_verbosity > 0 && wait > x->status_ms)
		wait = x->status_ms;
	return wait;
}

/*
 * A run (or --resume RUN): the case stream read once ahead, then run
 * through lib/sched, each result stored and printed.  Returns 0, or 2 or
 * 130 after a message.
 */
static int
run(struct exec *x, struct bm_cli *cli, const char *resume, int argc,
    char **argv, struct bm_sched_opts *so, struct bm_sched_hooks *h)
{
	struct bm_error e = BM_ERROR_INIT;
	long missing;
	int rc = 0;

	if (resume)
		x->ids = bm_map_new();
	so->in_fd = exec_prescan(x);
	if (so->in_fd < 0)
		return x->signals ? 130 : 2;
	if (x->total == 0 && !resume) {
		/* Nothing to run: no run either; other records pass on. */
		cli->no_db = 1;
	}
	if (!cli->no_db) {
		if (!exec_open_db(x, cli->db, &e) || (resume &&
		    bm_runs_resolve(x->db, resume, &x->run_id, &e) < 0)) {
			bm_error_print(&e);
			bm_error_clear(&e);
			return 2;
		}
		if (!x->run_id)
			x->run_id = bm_runs_new_id();
		x->db_path = bm_db_path(x->db);
		x->runs = bm_runs_begin(x->db, x->run_id, argc, argv,
		    x->cfg->path ? x->cfg->sha256 : NULL, x->stream,
		    resume != NULL, &e);
		if (!x->runs) {
			bm_error_print(&e);
			bm_error_clear(&e);
			return 2;
		}
		bm_runs_busy_timeout(x->runs, x->busy_ms);
	} else if (!x->run_id) {
		x->run_id = bm_runs_new_id();
	}
	if (x->total > 0 || resume)
		bm_notef("run %s", x->run_id);
	if (x->runs && resume && (!bm_runs_stream(x->runs) ||
	    strcmp(bm_runs_stream(x->runs), x->stream) != 0)) {
		missing = bm_runs_missing(x->runs, x->ids, &e);
		if (missing < 0) {
			exec_db_failed(x, &e);
		} else if (bm_runs_stream(x->runs) && missing > 0) {
			bm_warnf("the case stream differs from run %s's: %ld"
			    " of its cases are not in it, so the run stays"
			    " unfinished", x->run_id, missing);
			x->incomplete = 1;
		} else {
			if (bm_runs_stream(x->runs))
				bm_warnf("the case stream differs from run"
				    " %s's: it has every case of the run and"
				    " more", x->run_id);
			if (bm_runs_set_stream(x->runs, x->stream, &e) < 0)
				exec_db_failed(x, &e);
		}
	}
	so->cfg = x->cfg;
	if (x->runs && resume)
		h->recorded = on_recorded;
	if (x->runs && x->cache) {
		h->cache_get = on_cache_get;
		h->cache_put = on_cache_put;
	}
	x->sched = bm_sched_new(so, h, &e);
	if (!x->sched) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return 2;
	}
	if (x->db_failed)
		bm_sched_stop_why(x->sched, 0, "not sent: the database failed");

	x->ran = 1;
	x->t0 = x->last_commit = x->last_progress = bm_clock_ms();
	x->out_tty = isatty(1);
	if (bm_sched_run(x->sched, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		rc = 2;
	}
	exec_flush_all(x);
	if (rc == 0)
		progress(x, bm_clock_ms(), 1);
	x->incomplete |= rc != 0;
	return rc;
}

/* The summary on stderr: cases RUN did not answer, errors by class. */
static void
summary(struct exec *x)
{
	struct bm_buf b = BM_BUF_INIT;
	int i;

	if (x->unanswered > 0)
		bm_notef("%ld case%s %s not answered by run %s; not run",
		    x->unanswered, x->unanswered == 1 ? "" : "s",
		    x->unanswered == 1 ? "was" : "were", x->from);
	if (x->errors == 0)
		return;
	for (i = 1; i <= BM_CLASS_CONFIG; i++)
		if (x->by_class[i])
			bm_buf_addf(&b, "%s%s %ld", b.len ? ", " : "",
			    bm_class_name((enum bm_class)i), x->by_class[i]);
	bm_warnf("%ld of %ld results ended in error (%s)", x->errors, x->done,
	    bm_buf_str(&b));
	bm_buf_free(&b);
}

/*
 * The one way out: the summary, the run's status in the database, the
 * database closed, everything freed and standard output checked.  rc is
 * the mode's (0, 2 or 130); before a mode began (x->ran 0) it is the exit
 * status, and a run begun has failed.  Returns the exit status.
 */
static int
finish(struct exec *x, int rc)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *status;

	if (x->ran)
		summary(x);
	if (x->rs) {
		/* --rescore: its scheduler and batch end before the run. */
		bm_sched_free(x->sched);
		x->sched = NULL;
		if (x->devnull > 0)
			close(x->devnull);
		bm_rescore_free(x->rs);
	}
	status = x->db_failed || !x->ran ? "failed" : x->signals ||
	    x->write_failed || x->incomplete ? "interrupted" : "finished";
	if (x->runs && bm_runs_end(x->runs, status, &e) < 0 && x->ran)
		exec_db_failed(x, &e);
	bm_error_clear(&e);
	if (x->runs && x->ran && !x->rs && strcmp(status, "finished") != 0)
		bm_notef("to resume: bm-exec --resume %s < the same cases",
		    x->run_id);
	if (bm_db_close(x->db, &e) < 0 && x->ran)
		exec_db_failed(x, &e);
	bm_error_clear(&e);
	bm_sched_free(x->sched);
	bm_config_free(x->cfg);
	bm_map_free(x->ids, NULL);
	bm_map_free(x->told, NULL);
	bm_commitq_free(x->q);
	free(x->run_id);
	free(x->from);
	free(x->said);
	if (!x->ran)
		return rc;
	errno = 0;
	if (bm_jsonl_finish(stdout) < 0 || x->write_failed) {
		bm_errorf("stdout: %s", strerror(x->write_errno ?
		    x->write_errno : errno ? errno : EIO));
		return 2;
	}
	if (rc || x->db_failed)
		return 2;
	if (x->signals)
		return 130;
	return x->errors || x->bad_lines ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct bm_sched_opts so = { .jobs = 8, .retries = -1,
	    .backoff_ms = 1000, .in_name = "<stdin>", .give_up_ms = 60000 };
	struct exec ex = { .grace_s = 10, .status_ms = 5000, .busy_ms = 10000 };
	struct exec *x = &ex;
	struct bm_sched_hooks h = { .user = x, .line = on_line, .warn = on_warn,
	    .retry = on_retry, .result = exec_on_result, .turn = on_turn,
	    .idle = on_idle, .stored = on_stored,
	    .child_stderr = on_child_stderr, .record = exec_on_record,
	    .warning = on_warning };
	struct bm_error e = BM_ERROR_INIT;
	struct bm_cli cli;
	struct sigaction sa;
	const char *resume = NULL, *rescore = NULL, *run_id = NULL;
	int rc, rejudge = 0;
	const struct bm_cli_opt options[] = {
		BM_OPT_LONG('j', "jobs", "N", &so.jobs, 1, 100000,
		    "at most N requests in flight (default 8)"),
		BM_OPT_LONG(0, "retries", "N", &so.retries, 0, 100,
		    "retries of a retryable failure"),
		BM_OPT_DOUBLE(0, "timeout", "S", &so.timeout_s, 0.001, 1e6, 1,
		    "seconds allowed for one attempt"),
		BM_OPT_FLAG(0, "stream", &so.stream,
		    "server-sent events with every provider that has them"),
		BM_OPT_STRING(0, "run-id", "ID", &run_id,
		    "store the results under ID, which must be new"),
		BM_OPT_STRING(0, "resume", "RUN", &resume,
		    "continue RUN, skipping the cases it finished"),
		BM_OPT_DOUBLE(0, "grace", "S", &x->grace_s, 0, 1e6, 1,
		    "seconds given after the first signal (default 10)"),
		BM_OPT_DOUBLE(0, "backoff", "S", &so.backoff_ms, 0, 3600, 1000,
		    "base delay of the retry backoff (default 1)"),
		BM_OPT_FLAG(0, "dry-run", &x->dry_run,
		    "check every case and print the plan, no request"),
		BM_OPT_FLAG(0, "cache", &x->cache,
		    "answer a request seen before from the database"),
		BM_OPT_PROGRESS(&x->progress),
		BM_OPT_DOUBLE(0, "status-interval", "S", &x->status_ms, 0.01,
		    86400, 1000, "seconds between -v status lines"),
		BM_OPT_DOUBLE(0, "give-up", "S", &so.give_up_ms, 0, 1e6, 1000,
		    "end a dead provider's cases after S seconds"),
		BM_OPT_STRING(0, "rescore", "RUN", &rescore,
		    "score RUN's stored answers again, no request"),
		BM_OPT_FLAG(0, "rejudge", &rejudge,
		    "with --rescore: ask the judges again"),
		BM_OPT_ALL_COMMON, BM_OPT_END
	};
	size_t i;
	long busy;

	/* First of all, so that no signal is lost (a flag until the loop). */
	self = x;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	if (getenv("BM_BUSY_TIMEOUT_MS") && bm_cli_parse_long(getenv(
	    "BM_BUSY_TIMEOUT_MS"), 0, 86400000, &busy) == 0)
		x->busy_ms = (int)busy;
	bm_cli_parse(&cli, argc, argv);
	if (optind < argc)
		bm_cli_usage_error(&cli, "unexpected argument '%s'",
		    argv[optind]);
	bm_cli_finish(&cli);
	if (run_id)
		x->run_id = xstrdup(run_id);
	if (resume && x->run_id)
		bm_cli_usage_error(&cli, "--resume and --run-id exclude each"
		    " other");
	if (x->run_id && bm_runs_check_id(x->run_id, &e) < 0)
		bm_cli_usage_error(&cli, "--run-id: %s", e.msg);
	exec_rescore_check(x, &cli, rescore, rejudge, resume);
	if ((resume || x->cache) && cli.no_db)
		bm_cli_usage_error(&cli, "%s needs the database",
		    resume ? "--resume" : "--cache");
	x->cfg = bm_config_load(cli.config, &e);
	if (!x->cfg) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return finish(x, 2);
	}
	/* Every key the configuration names is a secret, whoever prints it
	 * (an exec provider's child, say). */
	for (i = 0; i < x->cfg->nproviders; i++)
		(void)bm_config_api_key(&x->cfg->providers[i]);
	if (rescore)
		rc = exec_rescore_run(x, &cli, rescore, argc, argv, &so, &h,
		    rejudge);
	else if (x->dry_run)
		rc = exec_dry_run(x);
	else
		rc = run(x, &cli, resume, argc, argv, &so, &h);
	return finish(x, rc);
}
