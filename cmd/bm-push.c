/*
 * bm-push: publish runs, results, stats, snapshots and the catalog.
 *
 *   bm-push --to URL [--run RUN | --all] [--snapshot] [OPTIONS]
 *
 * Local SQLite is the truth; the remote (PostgreSQL, PostgREST/Supabase or
 * another bm database) is a copy that catches up.  Every record is first
 * committed to push_outbox, then sent in batches that upsert on natural
 * keys, and deleted only after the remote confirmed it: a push killed at
 * any moment and run again leaves every record there exactly once.
 * The outbox is lib/outbox.[ch]; the targets are lib/push.[ch].
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "clock.h"
#include "db.h"
#include "err.h"
#include "jsonl.h"
#include "outbox.h"
#include "push.h"
#include "runs.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-push --to URL [--run RUN] [--all] [--snapshot] [--env NAME]\n"
    "               [--commit-sha SHA] [--batch N] [--retries N]\n"
    "               [--backoff S] [--resend] [--dry-run] [--status]\n"
    "               [--db PATH] [-q] [-v]\n";

static int dry_run;		/* queue in a transaction rolled back */

/* A snapshot record: which run, model and environment got version v. */
static void
print_snapshot(void *arg, const char *record, long v)
{
	const struct bm_push *t = arg;
	cJSON *in = cJSON_Parse(record), *o = cJSON_CreateObject();
	const char *f[] = { "run_id", "model", "environment", "commit_sha" };
	size_t i;

	cJSON_AddStringToObject(o, "type", "snapshot");
	cJSON_AddStringToObject(o, "target", t->name);
	for (i = 0; i < 4; i++)
		cJSON_AddItemToObject(o, f[i], bm_json_str(in, f[i]) ?
		    cJSON_CreateString(bm_json_str(in, f[i])) :
		    cJSON_CreateNull());
	cJSON_AddNumberToObject(o, "snapshot_version", (double)v);
	if (bm_jsonl_write(stdout, o) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	cJSON_Delete(o);
	cJSON_Delete(in);
}

/* Per-table lines: what was sent (or, dry, what would be) and written. */
static void
print_counts(const struct bm_push *t, int dry)
{
	const struct bm_outbox_kind *k;
	const struct bm_push_count *c;
	cJSON *o;

	for (k = bm_outbox_kinds; k->kind; k++) {
		c = &t->counts[k - bm_outbox_kinds];
		if (c->sent == 0)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", "push");
		cJSON_AddStringToObject(o, "target", t->name);
		cJSON_AddStringToObject(o, "table", t->type == BM_PUSH_SQLITE ?
		    k->local : k->table);
		cJSON_AddNumberToObject(o, "rows", (double)c->sent);
		if (dry)
			cJSON_AddTrueToObject(o, "dry_run");
		else if (c->known)
			cJSON_AddNumberToObject(o, "written",
			    (double)c->written);
		if (bm_jsonl_write(stdout, o) < 0)
			bm_die(2, "stdout: %s", strerror(errno));
		cJSON_Delete(o);
	}
}

/* --status: one record per target with anything waiting; 1 when any. */
static int
status(struct bm_db *db, const char *target)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	cJSON *o = NULL, *kinds = NULL;
	const char *tg, *prev = NULL;
	char *last = NULL;
	int r, any = 0;

	/* A run's results entry counts as the rows it has left. */
	st = bm_db_prepare(db, "SELECT target, k, sum(n), sum((attempts > 0)"
	    " * n), max(attempts), (SELECT last_error FROM push_outbox p"
	    " WHERE p.target = x.target AND p.last_error IS NOT NULL"
	    " ORDER BY id DESC LIMIT 1) FROM (SELECT target, CASE kind"
	    " WHEN 'results' THEN 'result' ELSE kind END AS k, attempts, "
	    BM_OUTBOX_RECORDS " AS n FROM push_outbox o"
	    " WHERE ?1 IS NULL OR target = ?1) x GROUP BY target, k"
	    " ORDER BY target, k", &e);
	if (!st)
		goto fail;
	bm_db_bind_text(st, 1, target);
	for (;;) {
		r = bm_db_step(st, &e);
		if (r < 0)
			goto fail;
		tg = r ? bm_db_col_text(st, 0) : NULL;
		if (o && (!tg || strcmp(tg, prev) != 0)) {
			if (bm_jsonl_write(stdout, o) < 0)
				bm_die(2, "stdout: %s", strerror(errno));
			cJSON_Delete(o);
			o = NULL;
		}
		if (!r)
			break;
		any = 1;
		if (!o) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "outbox");
			cJSON_AddStringToObject(o, "target", tg);
			cJSON_AddNumberToObject(o, "pending", 0);
			cJSON_AddNumberToObject(o, "failed", 0);
			cJSON_AddNumberToObject(o, "attempts", 0);
			kinds = cJSON_AddObjectToObject(o, "kinds");
			last = bm_db_col_text(st, 5) ?
			    bm_redact(bm_db_col_text(st, 5)) : NULL;
			cJSON_AddItemToObject(o, "last_error", last ?
			    cJSON_CreateString(last) : cJSON_CreateNull());
			free(last);
		}
		prev = cJSON_GetObjectItem(o, "target")->valuestring;
		cJSON_AddNumberToObject(kinds, bm_db_col_text(st, 1),
		    (double)bm_db_col_int(st, 2));
		cJSON_SetNumberValue(cJSON_GetObjectItem(o, "pending"),
		    cJSON_GetObjectItem(o, "pending")->valuedouble +
		    (double)bm_db_col_int(st, 2));
		cJSON_SetNumberValue(cJSON_GetObjectItem(o, "failed"),
		    cJSON_GetObjectItem(o, "failed")->valuedouble +
		    (double)bm_db_col_int(st, 3));
		if (bm_db_col_int(st, 4) >
		    cJSON_GetObjectItem(o, "attempts")->valuedouble)
			cJSON_SetNumberValue(cJSON_GetObjectItem(o, "attempts"),
			    (double)bm_db_col_int(st, 4));
	}
	return any;
fail:
	bm_error_print(&e);
	exit(2);
}

/*
 * Queue stdin's records, committing every 1000 and whenever no more
 * input is ready (so that a bm-exec writing the same file upstream is
 * never kept waiting for its lock).  0, or 1 when a line was bad.
 */
static int
queue_stdin(struct bm_db *db, const char *target)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl in;
	struct pollfd p = { 0, POLLIN, 0 };
	cJSON *rec;
	long n = 0, skipped = 0;
	int r, bad = 0;

	bm_jsonl_open(&in, stdin, "-");
	for (;;) {
		if (!dry_run && bm_db_in_tx(db) && (n % 1000 == 0 ||
		    poll(&p, 1, 0) == 0) && bm_db_commit(db, &e) < 0)
			goto fail;
		if ((r = bm_jsonl_next(&in, &rec, &e)) == 0)
			break;
		if (r < 0) {
			bm_error_print(&e);
			bad = 1;
			continue;
		}
		if (!bm_db_in_tx(db) && bm_db_begin(db, &e) < 0)
			goto fail;
		r = bm_outbox_queue_line(db, target, bm_jsonl_type(rec) ?
		    bm_jsonl_type(rec) : "", in.line, &e);
		cJSON_Delete(rec);
		if (r < 0)
			goto fail;
		n += r;
		skipped += !r;
	}
	if (!dry_run && bm_db_in_tx(db) && bm_db_commit(db, &e) < 0)
		goto fail;
	bm_debugf(1, "<stdin>: %ld records queued, %ld of other types", n,
	    skipped);
	bm_jsonl_close(&in);
	return bad;
fail:
	bm_error_print(&e);
	exit(2);
}

/* Queue --run or --all; the number of runs queued. */
static long
queue_runs(struct bm_db *db, const char *target, const char *run, int all,
    const struct bm_outbox_run *opt)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	char *id = NULL, **ids = NULL;
	long n = 0, i;
	long long queued, total = 0;

	if (run) {
		if (bm_runs_resolve(db, run, &id, &e) < 0)
			goto fail;
		ids = xcalloc(1, sizeof(*ids));
		ids[n++] = id;
	} else if (all) {
		/*
		 * Runs still running are pushed once they end; --resend
		 * takes the ones pushed already too.
		 */
		st = bm_db_prepare(db, "SELECT id FROM runs r WHERE status <>"
		    " 'running' AND (?2 OR NOT EXISTS (SELECT 1 FROM pushes p"
		    " WHERE p.target = ?1 AND p.run_id = r.id))"
		    " ORDER BY started_at", &e);
		if (!st)
			goto fail;
		bm_db_bind_text(st, 1, target);
		bm_db_bind_int(st, 2, opt->resend);
		while ((i = bm_db_step(st, &e)) == 1) {
			ids = xreallocarray(ids, (size_t)n + 1, sizeof(*ids));
			ids[n++] = xstrdup(bm_db_col_text(st, 0));
		}
		if (i < 0)
			goto fail;
	}
	if (n && !dry_run && bm_db_begin(db, &e) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (bm_outbox_queue_run(db, target, ids[i], opt, &queued,
		    &e) < 0)
			goto fail;
		bm_debugf(1, "run %s: %lld records queued", ids[i], queued);
		total += queued;
	}
	if (n && !dry_run && bm_db_commit(db, &e) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return n;
fail:
	bm_error_print(&e);
	exit(2);
}

/* --dry-run: count what waits for t per kind (queued, not sent). */
static void
count_pending(struct bm_db *db, struct bm_push *t)
{
	struct bm_error e = BM_ERROR_INIT;
	const struct bm_outbox_kind *k;
	struct bm_db_stmt *st;

	st = bm_db_prepare(db, "SELECT coalesce(sum(" BM_OUTBOX_RECORDS
	    "), 0) FROM push_outbox o WHERE target = ?1 AND kind = ?2", &e);
	if (!st) {
		bm_error_print(&e);
		exit(2);
	}
	for (k = bm_outbox_kinds; k->kind; k++) {
		bm_db_bind_text(st, 1, t->name);
		bm_db_bind_text(st, 2, k->kind);
		if (bm_db_step(st, &e) != 1) {
			bm_error_print(&e);
			exit(2);
		}
		t->counts[bm_outbox_shown(k) - bm_outbox_kinds].sent +=
		    bm_db_col_int(st, 0);
		bm_db_reset(st);
	}
}

int
main(int argc, char **argv)
{
	struct bm_error e = BM_ERROR_INIT, e2 = BM_ERROR_INIT;
	struct bm_outbox_run opt = { NULL, NULL, 0, 0 };
	struct bm_cli cli;
	struct bm_push t;
	struct bm_db *db;
	const char *to = NULL, *run = NULL, *s;
	int all = 0, dry = 0, stat = 0, rc = 0;
	long long left;
	long batch = 0, retries = 3;
	double backoff = 500;
	const struct bm_cli_opt options[] = {
		BM_OPT_STRING(0, "to", "URL", &to,
		    "the target: postgresql://..., .../rest/v1, sqlite:PATH"),
		BM_OPT_STRING(0, "run", "RUN", &run,
		    "push this run (default: records on stdin)"),
		BM_OPT_FLAG(0, "all", &all,
		    "push every run not yet pushed to the target"),
		BM_OPT_FLAG(0, "snapshot", &opt.snapshot,
		    "write a snapshot per model of the run"),
		BM_OPT_STRING(0, "env", "NAME", &opt.env,
		    "the environment of the run and its snapshots"),
		BM_OPT_STRING(0, "commit-sha", "SHA", &opt.commit_sha,
		    "the snapshots' commit (default $GITHUB_SHA)"),
		BM_OPT_LONG(0, "batch", "N", &batch, 1, 1000000,
		    "rows per batch (default 5000; PostgREST 500)"),
		BM_OPT_LONG(0, "retries", "N", &retries, 0, 100,
		    "retries of a batch after a transient fault (default 3)"),
		BM_OPT_DOUBLE(0, "backoff", "S", &backoff, 0, 3600, 1000,
		    "first retry delay in seconds (default 0.5)"),
		BM_OPT_FLAG(0, "resend", &opt.resend,
		    "send results the target confirmed unchanged (repair)"),
		BM_OPT_FLAG(0, "dry-run", &dry,
		    "print what would be sent, per table"),
		BM_OPT_FLAG(0, "status", &stat,
		    "list what waits in the outbox, per target"),
		BM_OPT_COMMON(BM_CLI_OPT_DB,
		    "the bm database (default $BM_DB, else ./bm.db)"),
		BM_OPT_COMMON('q',
		    "no warnings (errors and records still printed)"),
		BM_OPT_COMMON('v',
		    "trace batches and requests (never the key)"),
		BM_OPT_HELP, BM_OPT_VERSION, BM_OPT_END
	};

#ifdef __GLIBC__
	/*
	 * Keep freed memory instead of giving it back at once: a push
	 * allocates and frees the same few MB per batch (SQLite's page
	 * caches of its temporary b-trees, the batch's rows, curl's and
	 * libpq's buffers), and on a virtual machine faulting those pages
	 * in again cost more than everything else bm-push does (a push of
	 * 100,000 results to PostgREST: 103,000 page faults and 3.5 s of
	 * CPU, 7,000 and 1.5 s with this; peak RSS 36 to 38 MB).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	bm_cli_parse(&cli, argc, argv);
	dry_run = dry;
	bm_cli_finish(&cli);
	if (optind < argc)
		bm_cli_usage_error(&cli, "%s: unexpected argument",
		    argv[optind]);
	if (cli.no_db)
		bm_cli_usage_error(&cli, "--no-db: the outbox lives in the"
		    " database");
	if (!to && !stat)
		bm_cli_usage_error(&cli, "--to URL is needed");
	if (run && all)
		bm_cli_usage_error(&cli, "--run and --all exclude each other");
	if (opt.snapshot && !run && !all)
		bm_cli_usage_error(&cli, "--snapshot needs --run or --all");
	if (to && bm_push_open(&t, to, &e) < 0)
		bm_cli_usage_error(&cli, "%s", e.msg);
	t.batch = batch;
	t.retries = retries;
	t.backoff_ms = backoff;
	t.on_snapshot = print_snapshot;
	t.arg = &t;
	if (to && t.type == BM_PUSH_SQLITE && opt.snapshot)
		bm_cli_usage_error(&cli, "--snapshot: %s keeps no snapshots",
		    t.name);
	if (to && t.type == BM_PUSH_REST && !stat && !dry) {
		s = getenv("BM_PUSH_KEY");
		if (!s || !*s)
			s = getenv("SUPABASE_SERVICE_ROLE_KEY");
		if (!s || !*s)
			bm_die(2, "%s: no key: set BM_PUSH_KEY or"
			    " SUPABASE_SERVICE_ROLE_KEY", t.name);
		bm_redact_add(s);
		t.key = s;
	}
	if (!opt.commit_sha && (s = getenv("GITHUB_SHA")) && *s)
		opt.commit_sha = s;
	srandom((unsigned)(getpid() ^ (long)bm_clock_ms()));

	if (!(db = bm_db_open(cli.db, &e))) {
		bm_error_print(&e);
		return 2;
	}
	/*
	 * A push writes the outbox, reads it back and deletes it: a page
	 * cache of 16 MB (SQLite's default is 2 MB) keeps those pages in
	 * memory instead of re-reading them from the WAL.  Deleted outbox
	 * entries are not zeroed (Debian builds SQLite with secure_delete
	 * on): they are keys and copies of rows the database keeps, and
	 * zeroing them cost more than the delete itself.
	 */
	if (bm_db_exec(db, "PRAGMA cache_size = -16384", &e) < 0 ||
	    bm_db_exec(db, "PRAGMA secure_delete = OFF", &e) < 0) {
		bm_error_print(&e);
		return 2;
	}
	if (stat) {
		rc = status(db, to ? t.name : NULL);
		goto out;
	}
	if (dry && bm_db_begin(db, &e) < 0) {
		bm_error_print(&e);
		return 2;
	}
	/* Dry: queued inside this transaction, then rolled back. */
	if (run || all)
		queue_runs(db, t.name, run, all, &opt);
	else if (!isatty(0))
		rc = queue_stdin(db, t.name);
	if (dry) {
		count_pending(db, &t);
		bm_db_rollback(db);
		print_counts(&t, 1);
		goto out;
	}
	if (bm_push_drain(&t, db, &e) < 0)
		bm_debugf(1, "%s: %s", t.name, e.msg);
	print_counts(&t, 0);
	left = bm_outbox_pending(db, t.name, &e2);
	if (left < 0) {
		bm_error_print(&e2);
		rc = 2;
	} else if (left > 0) {
		bm_errorf("%s: %lld record%s wait%s in the outbox: %s", t.name,
		    left, left == 1 ? "" : "s", left == 1 ? "s" : "",
		    e.msg ? e.msg : "not sent");
		rc = 1;
	}
out:
	bm_error_clear(&e);
	bm_error_clear(&e2);
	if (bm_db_close(db, &e) < 0) {
		bm_error_print(&e);
		rc = 2;
	}
	if (to)
		bm_push_close(&t);
	if (bm_jsonl_finish(stdout) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	return rc;
}
