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
 * and handles signals, --resume and --cache.  Its state is a struct exec,
 * handed to every hook.  Every case read yields exactly one result per
 * step, even when interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
#include "commitq.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "hash.h"
#include "jsonl.h"
#include "map.h"
#include "prescan.h"
#include "provider.h"
#include "rerun.h"
#include "rescore.h"
#include "result.h"
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


/* bm-exec's state: handed to every hook (user) and helper. */
struct exec {
	struct bm_config *cfg;
	struct bm_sched *sched;
	struct bm_db *db;
	struct bm_runs *runs;
	char *run_id;
	double grace_s, status_ms;
	int cache, progress, dry_run;
	int ran;		/* a mode began: stdout is checked at exit */
	const char *db_path;
	int busy_ms;		/* BM_BUSY_TIMEOUT_MS: a busy file */
	/* signals */
	volatile sig_atomic_t signals;
	long seen;
	/* counts */
	long done, pass, fail, errors, bad_lines;
	long by_class[BM_CLASS_CONFIG + 1];
	long cancelled;
	int write_failed, write_errno, db_failed;
	/* results written and not yet committed (DESIGN.md §7) */
	struct bm_commitq *q;
	long queued, committed;		/* results, since the start */
	long outside;			/* written by bad_assertion */
	/* the case stream, read once before the first request */
	long total;			/* results it asks for */
	struct bm_map *ids;		/* --resume: its case ids */
	char stream[BM_HASH_SHA256_LEN + 1];
	int incomplete;		/* --resume: the run is not whole */
	int shown;		/* a progress line waits for its end */
	int out_tty;		/* stdout is a terminal too */
	char *said;		/* the last status line logged */
	struct bm_map *told;	/* bad_assertion's messages given */
	double t0, last_commit, last_progress;	/* ms, monotonic */
	/* --rescore */
	struct bm_rescore *rs;
	char *from;		/* RUN, resolved */
	long unanswered;	/* cases RUN did not answer (the scheduler's) */
	int devnull;		/* the scheduler's input: at EOF */
};

/* The state, for on_signal only: everything else is handed it. */
static struct exec *self;

/* A message is about to be printed: take the progress line away. */
static void
unshow(struct exec *x)
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

static void queue_print(struct exec *x);

/*
 * The database failed: say so, start no more requests (what is in flight
 * may finish), and print the results that could not be stored, and every
 * later one, without storing them.  The run exits 2.
 */
static void
db_failed(struct exec *x, struct bm_error *e)
{
	unshow(x);
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
static void
out_failed(struct exec *x)
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
static void
out(void *user, const char *json, size_t len)
{
	struct exec *x = user;

	if (x->out_tty)
		unshow(x);
	if (x->write_failed)
		return;
	if (fwrite(json, 1, len, stdout) != len || putc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF)
		out_failed(x);
}

/* Print what waits in the queue (committed, or never to be) and empty it. */
static void
queue_print(struct exec *x)
{
	bm_commitq_take(x->q, out, x);
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
		db_failed(x, &e);
		return 1;
	}
	x->last_commit = now;
	x->committed += n;
	queue_print(x);
	return 1;
}

/* Commit what waits at the end: a busy file is tried for busy_ms. */
static void
flush_all(struct exec *x)
{
	while (bm_commitq_len(x->q) > 0 && !flush(x, bm_clock_ms()))
		poll(NULL, 0, 50);
}

/* Count one result and have it stored and printed; takes r. */
static void
emit(struct exec *x, cJSON *r, enum bm_class cls)
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
static enum bm_class
on_result(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct exec *x = user;
	enum bm_class cls;
	char *why;
	cJSON *r = bm_result_make(x->run_id, s, o, &cls, &why);

	if (cls != BM_CLASS_NONE && bm_verbosity > 0 && (unshow(x), 1))
		bm_errorf("case %s: %s: %s", bm_json_str(s->kase, "case_id"),
		    bm_class_name(cls), why);
	free(why);
	emit(x, r, cls);
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
		unshow(x);
		bm_errorf("%s", msg);
	}
	if (cJSON_IsArray(steps))
		v.nsteps = cJSON_GetArraySize(steps);
	bm_clock_rfc3339(at);
	v.attempt_ms = bm_clock_ms();
	for (v.step = 0; v.step < v.nsteps; v.step++) {
		x->outside++;
		on_result(x, &v, &o);
	}
	cJSON_Delete(rec);
}

/* An exec scorer's stdin: the result record of s as it would be written. */
static char *
on_record(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	return bm_result_input(((struct exec *)user)->run_id, s, o);
}

/* A warning from the scheduler (a judge that is the model under test). */
static void
on_warning(void *user, const char *msg)
{
	unshow(user);
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
		unshow(x);
		bm_error_print(&e);
		bm_error_clear(&e);
		x->bad_lines++;
		cJSON_Delete(rec);
		return;
	}
	if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
	    "case") != 0) {
		/* Not ours: pass it on as it came. */
		out(x, line, len);
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
		unshow(x);
		bm_errorf("<stdin>:%ld: %s", lineno, e.msg);
		bm_error_clear(&e);
		x->bad_lines++;
	}
}

static void
on_warn(void *user, const struct bm_error *e)
{
	unshow(user);
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
		db_failed(x, &e);
	if (rc != 1)
		return 0;
	rec = cJSON_Parse(stored);
	out(x, stored, strlen(stored));
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
		unshow(user);
	bm_debugf(2, "case %s: %s, retry %d in %.0f ms",
	    bm_json_str(s->kase, "case_id"), msg, s->attempts, delay_ms);
}

/* An exec child's stderr line: named by its case, secrets redacted. */
static void
on_child_stderr(void *user, const struct bm_sched_step *s, const char *line)
{
	unshow(user);
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
	unshow(x);
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

/* --dry-run: check every case and estimate tokens and cost; no request. */
static int
dry_run(struct exec *x)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	struct bm_sched_totals *tot = NULL;
	struct bm_sched_plan p;
	struct bm_buf table = BM_BUF_INIT;
	size_t ntot = 0;
	cJSON *rec;
	size_t i;
	int rc, bad = 0, kase;

	x->ran = 1;
	bm_jsonl_open(&r, stdin, NULL);
	while ((rc = bm_jsonl_next(&r, &rec, &e)) != 0) {
		if (rc < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			bad = 1;
			continue;
		}
		/* Other records: nothing to check. */
		kase = strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
		    "case") == 0;
		if (kase && bm_sched_plan_case(x->cfg, rec, &tot, &ntot, &p,
		    &e) < 0) {
			bm_errorf("<stdin>:%ld: %s", r.lineno, e.msg);
			bm_error_clear(&e);
			bad = 1;
		} else if (kase) {
			bad |= show_plan(&p, r.lineno) > 0;
			free(p.steps);
		}
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
		bm_result_num(rec, "cost_usd", tot[i].cost, tot[i].priced);
		if (bm_jsonl_write(stdout, rec) < 0 && !x->write_failed) {
			x->write_failed = 1;
			x->write_errno = errno;
		}
		cJSON_Delete(rec);
	}
	show_totals(tot, ntot, &table);
	bm_sched_totals_free(tot, ntot);
	if (bm_verbosity >= 0)
		fputs(bm_buf_str(&table), stderr);
	bm_buf_free(&table);
	x->bad_lines = bad;
	return 0;
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
prescan(struct exec *x)
{
	struct bm_prescan *p = bm_prescan_new(x->cfg, x->ids);
	struct stat st;
	size_t cap = 0, i;
	ssize_t n;
	const char *var, *models;
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
			bm_prescan_free(p);
			return -1;
		}
	}
	if (!in) {
		bm_errorf("<stdin>: %s", strerror(errno));
		bm_prescan_free(p);
		return -1;
	}
	errno = 0;
	while (!x->signals && (n = getline(&line, &cap, in)) >= 0) {
		if (spool && fwrite(line, 1, (size_t)n, spool) != (size_t)n) {
			bm_errorf("temporary file: %s", strerror(errno));
			bad = 1;
			break;
		}
		bm_prescan_line(p, line);
	}
	if (!bad && !x->signals && ferror(in)) {
		bm_errorf("<stdin>: %s", strerror(errno));
		bad = 1;
	}
	free(line);
	x->total = bm_prescan_total(p);
	bm_prescan_digest(p, x->stream);
	for (i = 0; bm_prescan_nokey(p, i, &var, &models); i++) {
		bm_errorf("%s is not set (needed by %s)", var, models);
		bad = 1;
	}
	bm_prescan_free(p);
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
	return bad || x->signals ? -1 : fd;
}

/*
 * --rescore and --rejudge against the other options: --rejudge needs
 * --rescore; --resume, --cache and --dry-run make no sense with it (no
 * request is made, and the run is a new one); it reads the database.
 */
static void
rescore_check(struct exec *x, struct bm_cli *cli, const char *rescore,
    int rejudge, const char *resume)
{
	if (rejudge && !rescore)
		bm_cli_usage_error(cli, "--rejudge needs --rescore");
	if (!rescore)
		return;
	if (resume || x->cache || x->dry_run)
		bm_cli_usage_error(cli, "--rescore and %s exclude each other",
		    resume ? "--resume" : x->cache ? "--cache" : "--dry-run");
	if (cli->no_db)
		bm_cli_usage_error(cli, "--rescore needs the database");
}

/* --rescore: commit the batch and print it (printed even if not stored). */
static void
rescore_commit(struct exec *x)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *lines;
	size_t len;

	if (bm_rescore_commit(x->rs, &e) < 0 && !x->db_failed) {
		bm_error_print(&e);
		x->db_failed = 1;
	}
	bm_error_clear(&e);
	x->last_commit = bm_clock_ms();
	lines = bm_rescore_take(x->rs, &len);
	if (len > 0 && !x->write_failed && (fwrite(lines, 1, len, stdout) !=
	    len || fflush(stdout) == EOF))
		out_failed(x);
}

/*
 * --rescore: the input has nothing to read now: commit, so that no write
 * transaction is held while waiting for a slow writer.  A regular file
 * never keeps the reader waiting: not asked (a system call a case).
 */
static void
rescore_idle(struct exec *x)
{
	static int file = -1;
	struct pollfd p = { .fd = 0, .events = POLLIN };
	struct stat st;

	if (file < 0)
		file = fstat(0, &st) == 0 && S_ISREG(st.st_mode);
	if (!file && bm_rescore_pending(x->rs) > 0 && poll(&p, 1, 0) == 0)
		rescore_commit(x);
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
	struct exec *x = user;
	cJSON *res;
	int rc;

	rc = bm_rerun_replay(x->rs, s, r, &res, &e);
	if (rc < 0)
		db_failed(x, &e);
	if (rc == 0 && s->step == 0) {
		x->unanswered++;
		unshow(x);
		bm_debugf(1, "case %s: not answered by run %s",
		    bm_json_str(s->kase, "case_id"), x->from);
	}
	if (rc == 2) {
		x->outside++;	/* not the scheduler's result */
		emit(x, res, bm_rerun_class(res));
	}
	return rc == 1;
}

/* --rejudge: the result of s, from its stored record and outcome o. */
static enum bm_class
on_rejudged(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	struct exec *x = user;
	enum bm_class cls;
	cJSON *r;
	int rc;

	rc = bm_rerun_result(x->rs, s, o, &r, &e);
	if (rc < 0)
		db_failed(x, &e);
	if (rc != 1)	/* not replayed (a bad model): as a fresh run */
		return on_result(user, s, o);
	cls = bm_rerun_class(r);
	if (cls != BM_CLASS_NONE && bm_verbosity > 0 && (unshow(x), 1))
		bm_errorf("case %s: %s: %s", bm_json_str(s->kase, "case_id"),
		    bm_class_name(cls), bm_json_str(
		    cJSON_GetObjectItemCaseSensitive(r, "error"), "message"));
	emit(x, r, cls);
	return cls;
}

/* --rejudge: an exec scorer's stdin, from the stored record. */
static char *
on_rerecord(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	struct exec *x = user;
	char *json;

	if (bm_rerun_record(x->rs, s, &json, &e) < 0)
		db_failed(x, &e);
	return json ? json : on_record(user, s, o);
}

/* --rescore: a judge entry's stored verdict (none: no verdict, no call). */
static int
on_prior(void *user, const struct bm_sched_step *s, int i,
    struct bm_verdict *v)
{
	struct bm_error e = BM_ERROR_INIT;
	struct exec *x = user;
	int rc;

	rc = bm_rescore_prior(x->rs, s->kase, s->step, s->expect, i, v, &e);
	if (rc < 0)
		db_failed(x, &e);
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
rescore_sched(struct exec *x, struct bm_sched_opts *so,
    struct bm_sched_hooks *h, int rejudge)
{
	struct bm_error e = BM_ERROR_INIT;

	if (x->sched)
		return 0;
	so->cfg = x->cfg;
	if (rejudge) {
		so->in_fd = 0;
	} else {
		/* The fast loop reads; the scheduler's input is over. */
		if ((x->devnull = open("/dev/null", O_RDONLY)) < 0) {
			bm_errorf("/dev/null: %s", strerror(errno));
			return -1;
		}
		so->in_fd = x->devnull;
		h->prior_verdict = on_prior;
	}
	h->replay = on_replay;
	h->result = on_rejudged;
	h->record = on_rerecord;
	x->total = -1;
	x->sched = bm_sched_new(so, h, &e);
	if (!x->sched) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return -1;
	}
	x->t0 = x->last_progress = bm_clock_ms();
	x->out_tty = isatty(1);
	return 0;
}

/* Run the scheduler until its jobs are done, and store their results. */
static int
rescore_drain(struct exec *x)
{
	struct bm_error e = BM_ERROR_INIT;
	int rc = 0;

	if (bm_sched_run(x->sched, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		rc = -1;
	}
	flush_all(x);
	return rc;
}

/*
 * --rescore without --rejudge: one case at a time through lib/rescore,
 * committed every 4 MB of lines or 250 ms, each line printed once
 * committed; a case with an exec scorer goes through lib/sched.
 */
static void
rescore_fast(struct exec *x, struct bm_sched_opts *so,
    struct bm_sched_hooks *h)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl in;
	cJSON *rec;
	int rc;

	bm_jsonl_open(&in, stdin, NULL);
	while (!x->signals && !x->write_failed && !x->db_failed &&
	    (rescore_idle(x), rc = bm_jsonl_next(&in, &rec, &e)) != 0) {
		if (rc < 0) {
			/* A signal interrupts the read: no message for it. */
			if (!x->signals)
				bm_error_print(&e);
			x->bad_lines += !x->signals;
			bm_error_clear(&e);
			continue;
		}
		if (strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
		    "case") != 0) {
			out(x, in.line, (size_t)in.len);
		} else if (bm_sched_check(rec, &e) < 0) {
			bm_errorf("<stdin>:%ld: %s", in.lineno, e.msg);
			bm_error_clear(&e);
			x->bad_lines++;
		} else if (bm_rerun_has_scorer(rec)) {
			/* Its exec scorers run again, through lib/sched. */
			rescore_commit(x);
			if (rescore_sched(x, so, h, 0) < 0) {
				x->db_failed = 1;	/* exit 2 */
			} else {
				(void)bm_sched_add(x->sched, rec, &e);
				rec = NULL;
				bm_error_clear(&e);
				if (rescore_drain(x) < 0)
					x->db_failed = 1;
			}
		} else if ((rc = bm_rescore_case(x->rs, rec, &e)) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			x->db_failed = 1;
		} else if (rc == 0) {
			bm_debugf(1, "case %s: not answered by run %s",
			    bm_json_str(rec, "case_id"), x->from);
		}
		cJSON_Delete(rec);
		if (x->db_failed || bm_rerun_due(x->rs, x->last_commit))
			rescore_commit(x);
	}
	bm_jsonl_close(&in);
	rescore_commit(x);
}

/*
 * bm-exec --rescore RUN (lib/rescore.h): RUN's stored answers scored
 * against the case stream's expectations, with no request, as a new run.
 * Returns 0, or 2 after a message.
 */
static int
rescore_run(struct exec *x, struct bm_cli *cli, const char *spec, int argc,
    char **argv, struct bm_sched_opts *so, struct bm_sched_hooks *h,
    int rejudge)
{
	struct bm_error e = BM_ERROR_INIT;
	const struct bm_rescore_tally *t;
	int i, rc = 0;

#ifdef __GLIBC__
	/*
	 * Keep freed memory: the batches' lines and SQLite's pages are
	 * freed and allocated again all along, and giving them back (a
	 * heap trimmed, a TLB flushed on both cores) then faulting them in
	 * again cost a tenth of the re-scoring's CPU on a virtual machine.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
	x->db = bm_db_open(cli->db, &e);
	if (x->db)
		bm_db_set_busy_timeout(x->db, x->busy_ms);
	if (!x->db || bm_runs_resolve(x->db, spec, &x->from, &e) < 0)
		goto fail;
	if (!x->run_id)
		x->run_id = bm_runs_new_id();
	x->runs = bm_runs_begin(x->db, x->run_id, argc, argv, x->cfg->path ?
	    x->cfg->sha256 : NULL, NULL, 0, &e);
	if (!x->runs || bm_runs_set_origin(x->runs, x->from, &e) < 0 ||
	    !(x->rs = bm_rescore_open(x->db, x->runs, x->run_id, x->from,
	    x->busy_ms, &e)))
		goto fail;
	bm_runs_busy_timeout(x->runs, x->busy_ms);
	bm_notef("run %s: re-scoring run %s", x->run_id, x->from);
	x->ran = 1;
	x->last_commit = bm_clock_ms();
	x->db_path = bm_db_path(x->db);
	if (rejudge)
		rc = rescore_sched(x, so, h, 1) < 0 || rescore_drain(x) < 0 ?
		    2 : 0;
	else
		rescore_fast(x, so, h);
	bm_rescore_stream(x->rs, x->stream);
	if (!x->db_failed && bm_runs_set_stream(x->runs, x->stream, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		x->db_failed = 1;
	}
	/* The fast loop's counts and the scheduler's. */
	t = bm_rescore_tally(x->rs);
	x->unanswered += t->unanswered;
	x->errors += t->errors;
	x->done += t->done;
	for (i = 0; i <= BM_CLASS_CONFIG; i++)
		x->by_class[i] += t->by_class[i];
	return rc;
fail:
	bm_error_print(&e);
	bm_error_clear(&e);
	return 2;
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
	so->in_fd = prescan(x);
	if (so->in_fd < 0)
		return x->signals ? 130 : 2;
	if (x->total == 0 && !resume) {
		/* Nothing to run: no run either; other records pass on. */
		cli->no_db = 1;
	}
	if (!cli->no_db) {
		x->db = bm_db_open(cli->db, &e);
		if (x->db)
			bm_db_set_busy_timeout(x->db, x->busy_ms);
		if (!x->db || (resume && bm_runs_resolve(x->db, resume,
		    &x->run_id, &e) < 0)) {
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
			db_failed(x, &e);
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
				db_failed(x, &e);
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
	flush_all(x);
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
		db_failed(x, &e);
	bm_error_clear(&e);
	if (x->runs && x->ran && !x->rs && strcmp(status, "finished") != 0)
		bm_notef("to resume: bm-exec --resume %s < the same cases",
		    x->run_id);
	if (bm_db_close(x->db, &e) < 0 && x->ran)
		db_failed(x, &e);
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
	struct exec ex = { .grace_s = 10, .status_ms = 5000, .busy_ms = 10000 };
	struct exec *x = &ex;
	struct bm_sched_hooks h = { .user = x, .line = on_line, .warn = on_warn,
	    .retry = on_retry, .result = on_result, .turn = on_turn,
	    .idle = on_idle, .stored = on_stored,
	    .child_stderr = on_child_stderr, .record = on_record,
	    .warning = on_warning };
	struct bm_error e = BM_ERROR_INIT;
	struct bm_cli cli;
	struct sigaction sa;
	const char *resume = NULL, *rescore = NULL;
	size_t i;
	long busy;
	int opt, rc, rejudge = 0;

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
			x->run_id = xstrdup(optarg);
			break;
		case OPT_RESUME:
			resume = optarg;
			break;
		case OPT_GRACE:
			x->grace_s = bm_cli_double("--grace", optarg, 0, 1e6);
			break;
		case OPT_BACKOFF:
			so.backoff_ms = 1000 * bm_cli_double("--backoff",
			    optarg, 0, 3600);
			break;
		case OPT_DRY_RUN:
			x->dry_run = 1;
			break;
		case OPT_CACHE:
			x->cache = 1;
			break;
		case OPT_PROGRESS:
			x->progress = 1;
			break;
		case OPT_STATUS_INTERVAL:
			x->status_ms = 1000 * bm_cli_double("--status-interval",
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
	if (resume && x->run_id)
		bm_cli_usage_error(&cli, "--resume and --run-id exclude each"
		    " other");
	if (x->run_id && bm_runs_check_id(x->run_id, &e) < 0)
		bm_cli_usage_error(&cli, "--run-id: %s", e.msg);
	rescore_check(x, &cli, rescore, rejudge, resume);
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
		rc = rescore_run(x, &cli, rescore, argc, argv, &so, &h,
		    rejudge);
	else if (x->dry_run)
		rc = dry_run(x);
	else
		rc = run(x, &cli, resume, argc, argv, &so, &h);
	return finish(x, rc);
}
