/*
 * sched.h: bm-exec's scheduler (DESIGN.md §8).  A job is one case: a
 * plain case or the steps of a sequence, run in order.  Jobs wait for -j,
 * the provider's max_concurrency and adaptive window, its rpm/tpm buckets
 * and circuit breaker; failed attempts are retried with backoff or after
 * Retry-After; attempts time out; a stop cancels what waits and, after a
 * grace period, what runs.  One loop polls libcurl's transfers (http.h),
 * child pipes (spawn.h), the input and a wake-up pipe.  Nothing here
 * prints: input lines, results and the caller's periodic work go through
 * struct bm_sched_hooks.
 */
#ifndef BM_SCHED_H
#define BM_SCHED_H

#include <stddef.h>

#include <cJSON.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "assert.h"
#include "provider.h"

struct bm_sched;

/* A step of a job, as the hooks see it. */
struct bm_sched_step {
	const cJSON *kase;		/* the case record */
	const struct bm_target *t;	/* provider NULL: did not resolve */
	long step, nsteps;		/* 0..nsteps-1; 1 unless a sequence */
	const cJSON *messages;		/* the conversation sent */
	const cJSON *params;		/* model <- case <- step params */
	const cJSON *expect;		/* the step's assertions, or NULL */
	int attempts;			/* requests made for this step */
	double attempt_ms;		/* ms, monotonic: the last one began */
	double ttft_ms;			/* ms to the first token; < 0: none */
	const char *started_at;		/* RFC 3339: the first attempt began */
	double answered_ms;		/* ms, monotonic: the answer came;
					 * 0: not yet */
};

/* How a step ended: an answer, or an error of class cls. */
struct bm_sched_outcome {
	enum bm_class cls;		/* BM_CLASS_NONE: answered */
	const char *msg;		/* the error's message */
	long http_status;		/* 0: none */
	struct bm_reply reply;		/* the answer; output NULL: none */
	int exit_code;			/* exec providers; else -1 */
	int cached;			/* answered by the cache_get hook */
	int repaired;			/* invalid UTF-8 became U+FFFD */
	/*
	 * Scoring (bm-exec(1) JUDGES): the verdicts of the judge and exec
	 * entries of the step's expect, one slot per entry (NULL: none
	 * obtained), and what the judges' calls took: judges is how many
	 * answered, their tokens summed (unknown counts as 0) and their
	 * cost (judge_priced: every judge model has a price).
	 */
	const struct bm_verdict *verdicts;
	int judges;
	long judge_prompt_tokens, judge_completion_tokens;
	double judge_cost_usd;
	int judge_priced;
};

/*
 * An outcome of class cls (BM_CLASS_NONE: answered) with message msg: no
 * answer yet, usage and exit status unknown, nothing scored.
 */
struct bm_sched_outcome bm_sched_outcome(enum bm_class cls, const char *msg);

/* What the scheduler asks of its caller; NULL hooks are skipped. */
struct bm_sched_hooks {
	void *user;			/* handed to every hook */
	/* An input line (without its line end, trailing blanks trimmed). */
	void (*line)(void *user, const char *line, size_t len, long lineno);
	/* The loop survived e (an input read error). */
	void (*warn)(void *user, const struct bm_error *e);
	/* Already recorded by the run resumed?  1 and *output (malloc'd). */
	int (*recorded)(void *user, const struct bm_sched_step *s,
	    char **output);
	/* A stored answer to this very request?  1 and *r filled. */
	int (*cache_get)(void *user, const struct bm_sched_step *s,
	    struct bm_reply *r);
	/* A provider answered (before the result is written). */
	void (*cache_put)(void *user, const struct bm_sched_step *s,
	    const struct bm_reply *r);
	/* An attempt failed with msg and is tried again in delay_ms. */
	void (*retry)(void *user, const struct bm_sched_step *s,
	    const char *msg, double delay_ms);
	/* Write the step's result; returns the class recorded (scoring may
	 * turn an answer into a judge error, which ends a sequence). */
	enum bm_class (*result)(void *user, const struct bm_sched_step *s,
	    const struct bm_sched_outcome *o);
	/* A turn of the loop begins (check for signals: bm_sched_stop). */
	void (*turn)(void *user, double now);
	/* The loop is about to wait: ms after which to be called again. */
	double (*idle)(void *user, double now);
	/*
	 * How many of the results written so far are stored (committed).
	 * The next step of a sequence is not sent before its earlier steps
	 * are; NULL: every result is stored when written.
	 */
	long (*stored)(void *user);
	/* A line an exec child wrote on its stderr (without the newline). */
	void (*child_stderr)(void *user, const struct bm_sched_step *s,
	    const char *line);
	/*
	 * A verdict known already for judge entry i of s's expect (re-scoring
	 * without asking again)?  1 and *v filled (it comes zeroed, agreement
	 * -1; v->known need not be set; v->reason is copied), and no judge
	 * is asked; -1: none is known and none is to be asked (the entry
	 * has no verdict); NULL hook or 0: the judges are asked.
	 */
	int (*prior_verdict)(void *user, const struct bm_sched_step *s, int i,
	    struct bm_verdict *v);
	/*
	 * The result record of step s answered with o, as it would be
	 * written but without assertions and score (an exec scorer's stdin);
	 * malloc'd JSON.  NULL hook: the case record is given instead.
	 */
	char *(*record)(void *user, const struct bm_sched_step *s,
	    const struct bm_sched_outcome *o);
	/* Something a person should know ("judge model M is the model
	 * under test"); each message is given once per run. */
	void (*warning)(void *user, const char *msg);
	/*
	 * --rescore --rejudge: the answer a stored run gave to step s,
	 * instead of a request.  1 and *r filled: the step is answered
	 * with it (scored, judges asked, then the result hook); 0: the
	 * step is skipped, no request and no result (the caller wrote
	 * what it needed, or nothing).  Asked after `recorded`, before
	 * the model's context and key are checked.
	 */
	int (*replay)(void *user, const struct bm_sched_step *s,
	    struct bm_reply *r);
};

/* Settings. */
struct bm_sched_opts {
	const struct bm_config *cfg;	/* resolves each case's model */
	long jobs;			/* -j: attempts in flight at most */
	long retries;			/* --retries; < 0: provider's, else 3 */
	double timeout_s;		/* --timeout; 0: provider's, else 120 */
	double backoff_ms;		/* --backoff: the first retry's scale */
	int stream;			/* --stream for every provider */
	int in_fd;			/* case records are read from here */
	const char *in_name;		/* and so named in messages */
	/* --give-up: a provider with no success for this long while its
	 * breaker keeps opening is down; 0: never */
	double give_up_ms;
};

/* What the loop has done so far. */
struct bm_sched_stats {
	long alive;		/* jobs read and not finished */
	long inflight;		/* attempts in flight */
	long expected;		/* results the jobs read will write */
	long held;		/* sequences waiting for their steps' commit */
	int eof;		/* the input is over */
	int stopping;		/* bm_sched_stop was called */
};

/* What --dry-run estimates of one step. */
struct bm_sched_est {
	long prompt;		/* tokens of the conversation so far */
	long completion;	/* max_tokens, or 0 */
	int over;		/* the two exceed the model's context */
};

/* --dry-run's estimate for one model, as written in the cases. */
struct bm_sched_totals {
	char *model;
	long cases;
	long prompt;		/* estimated prompt tokens */
	long completion;	/* max_tokens */
	double cost;		/* USD, when priced */
	int priced;		/* the model has a price */
};

/*
 * Is case record rec well-formed (case_id, model, messages whose entries
 * have a role, or steps each with a prompt)?  0, or -1 with e.
 */
int bm_sched_check(const cJSON *rec, struct bm_error *e);
/* A scheduler with its own libcurl multi handle; NULL and e. */
struct bm_sched *bm_sched_new(const struct bm_sched_opts *o,
    const struct bm_sched_hooks *h, struct bm_error *e);
/* Free s, its jobs (killing their children) and its transfers. */
void bm_sched_free(struct bm_sched *s);
/* Take a case record (always): 0, or -1 with e when it is malformed. */
int bm_sched_add(struct bm_sched *s, cJSON *kase, struct bm_error *e);
/* Run until the input is over and every job is done; 0, or -1 with e. */
int bm_sched_run(struct bm_sched *s, struct bm_error *e);
/* Stop reading and starting; cancel what still runs after grace_ms. */
void bm_sched_stop(struct bm_sched *s, double grace_ms);
/* bm_sched_stop, cancelled steps saying why (default "interrupted"). */
void bm_sched_stop_why(struct bm_sched *s, double grace_ms,
    const char *why);
/* Wake the loop from its wait; async-signal-safe. */
void bm_sched_wake(struct bm_sched *s);
/* Counters of s. */
const struct bm_sched_stats *bm_sched_stats(const struct bm_sched *s);

/* A provider the run has used, as the progress line shows it. */
struct bm_sched_load {
	const char *name;	/* the provider's */
	long inflight;		/* attempts in flight */
	long window;		/* the adaptive window's limit */
	int open;		/* its circuit breaker is not closed */
	int down;		/* --give-up: its cases end at once */
};
/* Provider i of s (in the order first used): 1 and *l, 0 past the last. */
int bm_sched_load(const struct bm_sched *s, size_t i,
    struct bm_sched_load *l);

/* What the caller has written so far, for the progress line. */
struct bm_sched_tally {
	long done, pass, fail, errors;	/* errors without cancelled ones */
	long cancelled, total;		/* total: < 0 unknown */
};
/* How fast the run goes, elapsed_ms after it began. */
struct bm_sched_pace {
	double rate;		/* results a second */
	long eta_s;		/* seconds left at that rate; < 0: unknown */
};
/* The pace of a run that has written t, elapsed_ms after it began. */
void bm_sched_pace(const struct bm_sched_tally *t, double elapsed_ms,
    struct bm_sched_pace *p);

/*
 * Estimate each step of case kase for target t, the conversation taken
 * without answers: *n entries (caller frees).
 */
struct bm_sched_est *bm_sched_estimate(const struct bm_target *t,
    const cJSON *kase, int *n);
/*
 * Add a case on model (resolved to t) with its nsteps step estimates to
 * the per-model totals *tot of *n entries (grown as needed).
 */
void bm_sched_totals_add(struct bm_sched_totals **tot, size_t *n,
    const char *model, const struct bm_target *t,
    const struct bm_sched_est *steps, int nsteps);
/*
 * Why a step is not sent: its estimated prompt and max_tokens (0: none
 * asked) exceed the model's context (malloc'd).
 */
char *bm_sched_context_msg(long prompt, long max_tokens, long context);
/* Free totals made by bm_sched_totals_add. */
void bm_sched_totals_free(struct bm_sched_totals *tot, size_t n);

/* What --dry-run's check of a case found, for bm-exec to word. */
struct bm_sched_plan {
	const char *case_id;
	const char *key_env;	/* its API key's variable, not set; or NULL */
	long context;		/* its model's context in tokens; 0: unknown */
	struct bm_sched_est *steps;	/* each step's estimate (free it) */
	int nsteps;
};
/*
 * --dry-run: check case record rec as a run would (its shape, its
 * assertions, its model in cfg), without a request, and add its steps'
 * estimates to the per-model totals *tot of *n entries.  0 and *p, whose
 * key_env and steps' over flags say what a run would not send; or -1 and
 * e ("case ID: ..." when the case is known), the case not counted.
 */
int bm_sched_plan_case(const struct bm_config *cfg, const cJSON *rec,
    struct bm_sched_totals **tot, size_t *n, struct bm_sched_plan *p,
    struct bm_error *e);

#endif
