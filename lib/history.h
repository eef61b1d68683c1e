/*
 * history.h: the runs a database holds, as bm-runs reads and tends them
 * (DESIGN.md §4 `run`, §7): listing from the runs table and the run_models
 * counters (never a scan of results), one run's per-model summary, labels,
 * removal of runs with everything stored under them in one transaction,
 * pruning, garbage collection and sizes.  Records are built here; the
 * command decides how to print them.
 */
#ifndef BM_HISTORY_H
#define BM_HISTORY_H

#include <cJSON.h>

#include "clock.h"
#include "db.h"
#include "err.h"

/* Which runs bm_history_list returns; zero/NULL fields do not filter. */
struct bm_history_filter {
	long limit;		/* at most this many runs; -1: all */
	const char *since;	/* started_at >= since (bm_history_when) */
	const char *model;	/* runs with results of this model */
	const char *status;	/* this effective status */
	const char *until;	/* run id: it and the runs started before */
	int with_results;	/* only runs with results (run_models rows) */
};

/*
 * A run's status as users see it: a row still `running` whose process
 * (pid on host, bm_runs_alive) is gone is `interrupted`.
 */
const char *bm_history_status(const char *stored, long pid,
    const char *host);
/* Non-zero when s is a status a run can have (running, finished, ...). */
int bm_history_status_ok(const char *s);

/*
 * The `run` records that f selects, newest first (by started_at), as a
 * cJSON array (caller frees); NULL and e on a database error.
 */
cJSON *bm_history_list(struct bm_db *db, const struct bm_history_filter *f,
    struct bm_error *e);
/*
 * The same records handed one at a time to fn, which owns each, so that
 * a listing streams in constant memory; fn returns -1 (with e) to stop.
 * 0, or -1 and e.
 */
int bm_history_each(struct bm_db *db, const struct bm_history_filter *f,
    int (*fn)(cJSON *run, void *arg, struct bm_error *e), void *arg,
    struct bm_error *e);
/* Run id's `run` record (caller frees); NULL and e (also: no such run). */
cJSON *bm_history_run(struct bm_db *db, const char *id, struct bm_error *e);
/*
 * Run id's results per model, as an array of objects: model, cases,
 * results, pass, fail, error, cancelled, cost_usd and latency_ms {p50,
 * p95} over answered results (null when none).  Scans that run's rows.
 */
cJSON *bm_history_models(struct bm_db *db, const char *id,
    struct bm_error *e);
/*
 * The command that resumes an unfinished run (interrupted or failed):
 * its bm-exec argv with --run-id/--resume replaced by "--resume ID",
 * quoted for sh (caller frees); NULL when the run needs no resume.
 */
char *bm_history_resume(const cJSON *run);

/*
 * Is text usable as a label: 1 to 200 bytes without blanks or control
 * characters, not RUN syntax ("last", "last~N"), not shaped like a bm
 * run id ("r-" and a digit), not an existing run's id or a prefix of
 * one.  0, or -1 with e saying why.
 */
int bm_history_label_check(struct bm_db *db, const char *text,
    struct bm_error *e);
/*
 * Label run id with text (NULL: remove its label), replacing the label
 * it had.  Labels are unique: when another run holds text, force moves
 * it here, else nothing changes and 1 is returned with e naming the
 * holder.  0, 1, or -1 with e.
 */
int bm_history_label(struct bm_db *db, const char *id, const char *text,
    int force, struct bm_error *e);

/* What a removal took (or, dry, would take). */
struct bm_history_counts {
	long long runs, results, stats, outbox;
};

/*
 * Called inside the removal's transaction after each run's rows are
 * deleted (or counted, when dry); the command's progress and test hook.
 */
typedef void bm_history_step_fn(const char *id, void *arg);

/*
 * Remove the n runs ids (resolved, distinct) with their results, stats
 * and outbox rows, in one transaction; dry: count only.  The `run`
 * records of the runs as they were go to *removed (caller frees).  A
 * running run refuses the whole removal: 1 and e naming it.  0, 1, or
 * -1 with e (nothing is removed unless 0).
 */
int bm_history_rm(struct bm_db *db, char *const *ids, size_t n, int dry,
    bm_history_step_fn *step, void *arg, cJSON **removed,
    struct bm_history_counts *c, struct bm_error *e);
/*
 * Remove, as bm_history_rm does in one transaction, every run that is
 * neither among the newest keep (keep < 0: no such rule) nor started at
 * or after before (NULL: no such rule), skipping labelled runs unless
 * labelled and running runs always.  0 or -1 with e.
 */
int bm_history_prune(struct bm_db *db, long keep, const char *before,
    int labelled, int dry, bm_history_step_fn *step, void *arg,
    cJSON **removed, struct bm_history_counts *c, struct bm_error *e);

/* What bm_history_gc did; bytes are the file and its -wal. */
struct bm_history_gc {
	long long versions;	/* benchmark versions dropped */
	long long cache;	/* exec_cache entries dropped */
	long long bytes_before, bytes_after;
	char *running;		/* not vacuumed: this run is running */
};

/*
 * Drop the benchmark versions beyond the newest keep of each benchmark
 * that are neither its current version nor the version of any result,
 * and the exec_cache entries created before cache_before (NULL: none);
 * then VACUUM and truncate the WAL, unless a run is running: VACUUM
 * holds the write lock for as long as it takes to copy the file, longer
 * than a running bm-exec waits to store its results (g->running names
 * the run; caller frees).  dry: count only, no VACUUM (bytes_after is
 * bytes_before).  0 or -1 with e.
 */
int bm_history_gc(struct bm_db *db, long keep, const char *cache_before,
    int dry, struct bm_history_gc *g, struct bm_error *e);

/*
 * Sizes: a `du` record per table (its pages and its indexes' pages, from
 * SQLite's dbstat; row count), free pages as table "(free)", largest
 * first; then one per run: its rows in results and stats and their
 * estimated share of those tables' bytes, largest first.  A cJSON array
 * (caller frees) or NULL and e.
 */
cJSON *bm_history_du(struct bm_db *db, struct bm_error *e);

/*
 * A point in time as runs' started_at compares with it: a duration ago
 * ("30d", "12h", "2w", "90m", "45s") or a UTC date "YYYY-MM-DD", optionally
 * with "THH:MM[:SS[.fff]]" and "Z".  0 and out, or -1 with e.
 */
int bm_history_when(const char *s, char out[BM_CLOCK_TIME_LEN + 1],
    struct bm_error *e);

#endif
