/*
 * runs.h: bm-exec's rows (DESIGN.md §7): the runs row, one results row
 * per result written in batched transactions, the lookups --resume needs
 * (what a run already finished) and the answer cache of --cache.
 */
#ifndef BM_RUNS_H
#define BM_RUNS_H

#include <cJSON.h>

#include "db.h"
#include "err.h"
#include "map.h"

struct bm_runs;

/* What the runs row records. */
struct bm_run_info {
	const char *id;
	const char *argv;		/* the command line, as JSON */
	const char *config_sha256;	/* NULL without a file */
	const char *git_sha;		/* NULL when unknown */
	const char *host;
	const char *stream_sha256;	/* digest of the case stream, or NULL */
};

/*
 * Start run info->id on db: insert its runs row, or with resume mark the
 * existing row running again and count the resume (an error when it does
 * not exist, when a new run's id is taken, or when a live process holds
 * it).  Either way the row records this process (pid, host) as the one
 * running it, checked and set in one transaction; a holder that is gone
 * from this host is taken over.  NULL and e.
 */
struct bm_runs *bm_runs_start(struct bm_db *db,
    const struct bm_run_info *info, int resume, struct bm_error *e);
/*
 * bm_runs_start with the info gathered here: argv as JSON, the git commit
 * checked out in the current directory (best effort) and the host name.
 */
struct bm_runs *bm_runs_begin(struct bm_db *db, const char *id, int argc,
    char *const *argv, const char *config_sha256, const char *stream_sha256,
    int resume, struct bm_error *e);
/* A new run id, "r-20261123T101500Z-3f2a" (caller frees). */
char *bm_runs_new_id(void);
/*
 * Is id usable as a run id: 1 to 200 bytes, none of them a blank or a
 * control character (it goes into file names, URLs and shell scripts)?
 * 0, or -1 with e.
 */
int bm_runs_check_id(const char *id, struct bm_error *e);
/*
 * Resolve RUN as every program takes it (DESIGN.md §8): "last", "last~N"
 * (the N-th run before the latest, by started_at), a run id, a label, or
 * a unique prefix of an id, in that order of preference.  0 and *id
 * (caller frees), or -1 with e: no such run, or an ambiguous prefix
 * (the message names the candidates).  Callers exit 2 on -1.
 */
int bm_runs_resolve(struct bm_db *db, const char *spec, char **id,
    struct bm_error *e);
/*
 * Is the process that holds a run (its runs row's pid and host) still
 * there?  1 when pid is alive on this host, or when host is another
 * machine (it cannot be told from here); 0 when it is gone or pid <= 0.
 */
int bm_runs_alive(long pid, const char *host);
/* This machine's name, as runs rows record it (static storage). */
const char *bm_runs_host(void);

/*
 * Store one result record (replacing the row of an earlier attempt at
 * the same case and step).  Opens a transaction if none is open; 0 or -1.
 */
int bm_runs_add(struct bm_runs *r, const cJSON *result, const char *json,
    struct bm_error *e);
/* Commit the open transaction, if any; 0 or -1. */
int bm_runs_commit(struct bm_runs *r, struct bm_error *e);
/* Rows added since the last commit. */
long bm_runs_pending(const struct bm_runs *r);
/*
 * Did the run already finish case_id's step (pass or fail)?  1 and
 * *record (the stored JSON line, caller frees), 0, or -1 with e.
 */
int bm_runs_finished(struct bm_runs *r, const char *case_id, long step,
    char **record, struct bm_error *e);
/* Commit, set the runs row's status and finished_at, free r; 0 or -1. */
int bm_runs_end(struct bm_runs *r, const char *status, struct bm_error *e);

/*
 * Open a write transaction without waiting for a busy file: 1 open, 0
 * the file is busy (try again later), -1 with e.
 */
int bm_runs_try_begin(struct bm_runs *r, struct bm_error *e);
/*
 * Commit without waiting: 1 committed, 0 busy (the transaction stays
 * open: try again), -1 with e (rolled back).
 */
int bm_runs_try_commit(struct bm_runs *r, struct bm_error *e);
/* How long other calls wait for a busy file (default 10000 ms). */
void bm_runs_busy_timeout(struct bm_runs *r, int ms);
/* Roll the open transaction back. */
void bm_runs_rollback(struct bm_runs *r);
/* The case stream digest the run recorded before this start, or NULL. */
const char *bm_runs_stream(const struct bm_runs *r);
/* Record the run's case stream digest; 0 or -1. */
int bm_runs_set_stream(struct bm_runs *r, const char *sha,
    struct bm_error *e);
/* How many case ids with results in the run are not keys of ids; -1. */
long bm_runs_missing(struct bm_runs *r, const struct bm_map *ids,
    struct bm_error *e);

/*
 * Give result record r every field of DESIGN.md §4, in the order shown
 * there (null where it does not apply); other fields follow, unchanged.
 */
void bm_runs_shape(cJSON *r);

/* Record that the run re-scores run from (runs.rescored_from); 0, -1. */
int bm_runs_set_origin(struct bm_runs *r, const char *from,
    struct bm_error *e);

/* SHA-256 key of a request: provider, model, messages and params. */
void bm_runs_cache_key(const char *provider, const char *model,
    const cJSON *messages, const cJSON *params, char key[65]);
/* A stored answer: 1 and *output (caller frees) and *usage, 0, or -1. */
int bm_runs_cache_get(struct bm_runs *r, const char *key, char **output,
    long *prompt_tokens, long *completion_tokens, struct bm_error *e);
/* Store an answer under key; 0 or -1. */
int bm_runs_cache_put(struct bm_runs *r, const char *key, const char *output,
    long prompt_tokens, long completion_tokens, struct bm_error *e);

/* The values of a results row (bm_runs_add's of a result record). */
struct bm_runs_row {
	const char *case_id, *benchmark_id, *model, *variant, *status;
	const char *error_class, *output, *record, *content_sha256;
	long long step, trial, repeat;
	long long prompt_tokens, completion_tokens;
	double latency_ms, ttft_ms, cost_usd, score;
	unsigned known;		/* the BM_ROW_ numbers that are not NULL */
};
#define BM_ROW_LATENCY		0x01u
#define BM_ROW_TTFT		0x02u
#define BM_ROW_COST		0x04u
#define BM_ROW_SCORE		0x08u
#define BM_ROW_PROMPT		0x10u
#define BM_ROW_COMPLETION	0x20u

/* The row of result record res (its JSON line json; pointers into both). */
void bm_runs_row_of(const cJSON *res, const char *json,
    struct bm_runs_row *row);
/*
 * Store n rows as n calls of bm_runs_add would, in order, with a
 * statement per up to 64 rows: one statement journal, one trigger program
 * start and one statement end for them all.  On failure (-1 and e) the
 * rows of the failed statement are not stored, the earlier ones are, as
 * with bm_runs_add.
 */
int bm_runs_add_rows(struct bm_runs *r, const struct bm_runs_row *rows,
    size_t n, struct bm_error *e);

#endif
