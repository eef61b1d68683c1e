/*
 * exec.h: bm-exec's state and the parts of cmd/bm-exec.c its other files
 * (exec-rescore.c: --rescore; exec-plan.c: --dry-run and the prescan of a
 * run) use: printing, storing and counting results.
 */
#ifndef BM_EXEC_H
#define BM_EXEC_H

#include <signal.h>

#include <cJSON.h>

#include "cli.h"
#include "commitq.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "hash.h"
#include "map.h"
#include "rescore.h"
#include "result.h"
#include "runs.h"
#include "sched.h"

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

/* A message is about to be printed: take the progress line away. */
void exec_unshow(struct exec *x);
/* Open the database for a run into x->db; NULL and e on failure. */
struct bm_db *exec_open_db(struct exec *x, const char *path,
    struct bm_error *e);
/* The database failed: say so once, send nothing more, print the rest. */
void exec_db_failed(struct exec *x, struct bm_error *e);
/* Writing stdout failed: say so once and stop. */
void exec_out_failed(struct exec *x);
/* Print one committed line (lib/commitq's take hook). */
void exec_out(void *user, const char *json, size_t len);
/* Queue result r (of class cls) to be stored, then printed. */
void exec_emit(struct exec *x, cJSON *r, enum bm_class cls);
/* Commit and print everything queued. */
void exec_flush_all(struct exec *x);
/* The scheduler's hooks for a step's result and an exec scorer's stdin. */
enum bm_class exec_on_result(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o);
char *exec_on_record(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o);

/* exec-rescore.c: --rescore and --rejudge against the other options. */
void exec_rescore_check(struct exec *x, struct bm_cli *cli,
    const char *rescore, int rejudge, const char *resume);
/* exec-rescore.c: bm-exec --rescore RUN; 0, or 2 after a message. */
int exec_rescore_run(struct exec *x, struct bm_cli *cli, const char *spec,
    int argc, char **argv, struct bm_sched_opts *so,
    struct bm_sched_hooks *h, int rejudge);
/* exec-plan.c: --dry-run; 0. */
int exec_dry_run(struct exec *x);
/* exec-plan.c: read the case stream once; the fd to run it from, or -1. */
int exec_prescan(struct exec *x);

#endif
