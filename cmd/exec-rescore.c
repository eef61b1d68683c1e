/*
 * exec-rescore.c: bm-exec --rescore RUN (and --rejudge): RUN's stored
 * answers scored against the case stream's expectations as a new run,
 * with no request to the model under test.  lib/rescore scores and
 * stores; this drives it, and lib/sched for exec scorers and judges.
 */
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "clock.h"
#include "exec.h"
#include "jsonl.h"
#include "rerun.h"

/*
 * --rescore and --rejudge against the other options: --rejudge needs
 * --rescore; --resume, --cache and --dry-run make no sense with it (no
 * request is made, and the run is a new one); it reads the database.
 */
void
exec_rescore_check(struct exec *x, struct bm_cli *cli, const char *rescore,
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
		exec_out_failed(x);
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
		exec_db_failed(x, &e);
	if (rc == 0 && s->step == 0) {
		x->unanswered++;
		exec_unshow(x);
		bm_debugf(1, "case %s: not answered by run %s",
		    bm_json_str(s->kase, "case_id"), x->from);
	}
	if (rc == 2) {
		x->outside++;	/* not the scheduler's result */
		exec_emit(x, res, bm_rerun_class(res));
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
		exec_db_failed(x, &e);
	if (rc != 1)	/* not replayed (a bad model): as a fresh run */
		return exec_on_result(user, s, o);
	cls = bm_rerun_class(r);
	if (cls != BM_CLASS_NONE && bm_verbosity > 0 && (exec_unshow(x), 1))
		bm_errorf("case %s: %s: %s", bm_json_str(s->kase, "case_id"),
		    bm_class_name(cls), bm_json_str(
		    cJSON_GetObjectItemCaseSensitive(r, "error"), "message"));
	exec_emit(x, r, cls);
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
		exec_db_failed(x, &e);
	return json ? json : exec_on_record(user, s, o);
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
		exec_db_failed(x, &e);
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
	exec_flush_all(x);
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
			exec_out(x, in.line, (size_t)in.len);
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
int
exec_rescore_run(struct exec *x, struct bm_cli *cli, const char *spec, int argc,
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
	if (!exec_open_db(x, cli->db, &e) ||
	    bm_runs_resolve(x->db, spec, &x->from, &e) < 0)
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
