/*
 * outbox.h: what bm-push publishes (DESIGN.md §7, §8), kept in the local
 * push_outbox table until a remote confirms it.  Every record is queued
 * first under (target, kind, natural key), so queuing twice is one entry;
 * it is deleted only in the local transaction that follows the remote's
 * confirmation, which also records the pushes row of a run once nothing
 * of it is left.  A record is the remote row as a JSON object whose keys
 * are the remote table's columns, or empty: the row is then read from the
 * local table by its key when it is sent (a compact kind queued by
 * bm_outbox_queue_run; a row deleted since is not sent).  A run's results
 * are one entry (kind "results", key [run_id], record {"run_id": ...,
 * "after": [case_id, step]}): its rows are read from the results table in
 * key order when sent, in batches after the cursor "after", which moves
 * in the local transaction that records a batch's confirmation.
 */
#ifndef BM_OUTBOX_H
#define BM_OUTBOX_H

#include "db.h"
#include "err.h"

/* One kind of record and the remote table it goes to. */
struct bm_outbox_kind {
	const char *kind;	/* "result" */
	const char *table;	/* remote table: "bm_results" */
	const char *local;	/* the bm database's table, NULL for none */
	const char *keys;	/* natural key columns: "run_id,case_id,step" */
	const char *cols;	/* every column, keys first, comma-separated */
	const char *json;	/* the columns holding JSON (comma-separated) */
	int run;		/* key[0] is a run id */
	int compact;		/* a run queues keys, not records */
	int range;		/* one entry per run: its rows after a cursor */
};

/* The kinds in the order they are sent; a NULL kind ends the list. */
extern const struct bm_outbox_kind bm_outbox_kinds[];
/* The kind named k, or NULL. */
const struct bm_outbox_kind *bm_outbox_kind(const char *k);
/* The kind k's records are counted and shown as ("result" for "results"). */
const struct bm_outbox_kind *bm_outbox_shown(const struct bm_outbox_kind *k);
/*
 * SQL: the records the entry aliased o stands for (a "results" entry:
 * the run's rows after its cursor; any other: 1).
 */
#define BM_OUTBOX_RECORDS "(CASE WHEN o.kind = 'results' THEN (SELECT" \
	" count(*) FROM main.results r WHERE r.run_id = o.record->>'run_id'" \
	" AND (r.case_id, r.step) > (coalesce(o.record->>'$.after[0]', '')," \
	" coalesce(o.record->>'$.after[1]', -1))) ELSE 1 END)"

/*
 * A target as it is stored and shown: url with any password (in the
 * user info or a password= parameter) removed.  Caller frees.
 */
char *bm_outbox_target(const char *url);

/* What bm_outbox_queue_run publishes of a run. */
struct bm_outbox_run {
	const char *env;	/* --env, or NULL: the run's own */
	const char *commit_sha;	/* for snapshots; may be NULL */
	int snapshot;		/* queue one snapshot per model */
	int resend;		/* queue results the target confirmed too */
};

/*
 * Queue run_id (its row, results, stats, the benchmarks and versions its
 * results name and, with opt->snapshot, a snapshot per model) for target.
 * Its results are left out when target confirmed them and none changed
 * since (runs.results_rev, push_runs), unless opt->resend.  Inside the
 * caller's transaction.  0 and *n records queued, or -1.
 */
int bm_outbox_queue_run(struct bm_db *db, const char *target,
    const char *run_id, const struct bm_outbox_run *opt, long long *n,
    struct bm_error *e);
/*
 * Queue one input record (type result, stat with a run_id, or run);
 * 1 queued, 0 not a kind that is published, -1 error.
 */
int bm_outbox_queue_line(struct bm_db *db, const char *target,
    const char *type, const char *json, struct bm_error *e);

/* Records read for one send: one kind, in outbox order. */
struct bm_outbox_batch {
	const struct bm_outbox_kind *kind;
	long n, cap;
	long long *ids;
	char **records;		/* snapshots' records (JSON), else NULL */
	char **runs;		/* the run each belongs to, or NULL */
	long long last;		/* the highest id read so far */
	/*
	 * A range kind (one entry, runs[0] its run): the results after
	 * (from_case, from_step) up to and with (to_case, to_step), rows of
	 * them when read.
	 */
	long long rows;
	char *from_case, *to_case;
	long long from_step, to_step;
};

/*
 * Read the next records for target after b->last (start from
 * BM_OUTBOX_FIRST): the ones whose batch failed first, then the others in
 * the order they were queued; up to max of one kind (snapshots one at a
 * time; a run's results, up to max of its rows after the cursor, until
 * the entry is confirmed to its end).  Sets b->kind.  1 when b holds
 * records, 0 when none are left, -1.
 */
int bm_outbox_next(struct bm_db *db, const char *target, long max,
    struct bm_outbox_batch *b, struct bm_error *e);
/* Where bm_outbox_next starts (failed records have negative ids). */
#define BM_OUTBOX_FIRST (-9223372036854775807LL - 1)
/*
 * The remote confirmed b: delete it (a run's results: move the cursor to
 * b's last row, and delete the entry when no row is after it) and, for
 * every run of b with nothing left for target, insert its pushes row
 * (snapshot_version when > 0), in one transaction (the caller's, when
 * one is open).  0 or -1.
 */
int bm_outbox_done(struct bm_db *db, const char *target,
    const struct bm_outbox_batch *b, long snapshot_version,
    struct bm_error *e);
/*
 * b failed with why: count an attempt, keep the error (redacted) and
 * put its records first in line for the next push.
 */
int bm_outbox_fail(struct bm_db *db, const struct bm_outbox_batch *b,
    const char *why, struct bm_error *e);
/* One record as its kind's columns (cols order; NULL for null). */
typedef void bm_outbox_row_fn(void *arg, int ncols, const char *const *vals);
/*
 * Call fn for each record of b, in order, with its columns as text
 * (objects and arrays as JSON text), or with json, with one column: the
 * record as a JSON object.  0 or -1.
 */
int bm_outbox_rows(struct bm_db *db, const char *target,
    const struct bm_outbox_batch *b, int json, bm_outbox_row_fn *fn,
    void *arg, struct bm_error *e);
/*
 * The query bm_outbox_rows runs for kind k, its parameters bound by
 * bm_outbox_rows_bind; the outbox is main.push_outbox (alias o), the
 * local table main.LOCAL.  Cached: do not free.
 */
const char *bm_outbox_rows_sql(const struct bm_outbox_kind *k, int json);
/* Bind b's parameters (target's batch) to st, a bm_outbox_rows_sql. */
void bm_outbox_rows_bind(struct bm_db_stmt *st, const char *target,
    const struct bm_outbox_batch *b);
/* The records b holds: its rows for a range kind, else its entries. */
long long bm_outbox_batch_records(const struct bm_outbox_batch *b);
/* Free what b holds, keeping b->kind and b->last. */
void bm_outbox_batch_clear(struct bm_outbox_batch *b);

/*
 * Records waiting for target (NULL: every target), a run's results
 * counted by their rows; -1 on error.
 */
long long bm_outbox_pending(struct bm_db *db, const char *target,
    struct bm_error *e);

#endif
