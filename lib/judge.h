/*
 * judge.h: the judge assertion's logic (bm-exec(1) JUDGES): which models
 * judge an entry, the rubric prompt they are sent, how their answers are
 * read, and how a panel's votes become one verdict.  The requests
 * themselves go through lib/sched like every other.
 */
#ifndef BM_JUDGE_H
#define BM_JUDGE_H

#include <stddef.h>

#include <cJSON.h>

#include "assert.h"
#include "config.h"
#include "err.h"

/* The default rubric template: {{question}}, {{answer}}, {{rubric}}. */
extern const char bm_judge_template[];

/* One judge's verdict, read from its answer. */
struct bm_judge_vote {
	int pass;
	double score;		/* 0..1 */
	char *reason;		/* malloc'd; NULL: none given */
};

/*
 * The judges of a judge entry's value v (a rubric string, or {rubric,
 * model, models}): its model: or models:, else bm.yml's judge:.  *n
 * references (borrowed from v or c); NULL with *n 0 when none is named.
 * The array is malloc'd (free it, not its strings).
 */
const char **bm_judge_models(const cJSON *v, const struct bm_config *c,
    size_t *n);
/* The rubric of a judge entry's value v, or NULL. */
const char *bm_judge_rubric(const cJSON *v);
/* The question: the content of the last user message, or "". */
const char *bm_judge_question(const cJSON *messages);
/*
 * The prompt for a judge: tmpl (NULL: bm_judge_template) with
 * {{question}}, {{answer}} and {{rubric}} replaced.  Malloc'd.
 */
char *bm_judge_prompt(const char *tmpl, const char *question,
    const char *answer, const char *rubric);
/*
 * Read a judge's answer: a JSON object with a boolean (or "pass"/"fail")
 * "pass", an optional "score" (0..1) and "reason", anywhere in the text
 * (a ``` fence included); else a PASS or FAIL word, and a number from 0
 * to 1 if any, as the score.  0 with *v, or -1 with e ("no verdict in
 * the judge's answer "..."", the answer shortened).
 */
int bm_judge_parse(const char *answer, struct bm_judge_vote *v,
    struct bm_error *e);
/* Free a vote's reason. */
void bm_judge_vote_free(struct bm_judge_vote *v);
/*
 * The verdict of n >= 1 votes: the majority (a tie fails), the mean
 * score and, for n > 1, the share of votes agreeing with the majority
 * (rounded to 4 places; -1 for one judge).  out->reason points into the
 * first agreeing vote that gave one (valid while the votes live).
 */
void bm_judge_panel(const struct bm_judge_vote *v, size_t n,
    struct bm_verdict *out);
/*
 * An exec scorer's verdict: it passed when ok (exit 0); stdout out may
 * be {"score": S, "reason": R} (anything else is ignored); without a
 * reason there, a failure's reason is err's first line.
 */
void bm_judge_exec(const char *out, const char *err, int ok,
    struct bm_judge_vote *v);
/*
 * Add to result r the judges' tokens (judge_usage) and cost
 * (judge_cost_usd, null unless priced), apart from the model's.
 */
void bm_judge_add_usage(cJSON *r, long prompt_tokens,
    long completion_tokens, double cost_usd, int priced);
/* s cut to at most max bytes (on a UTF-8 boundary) with "..."; malloc'd. */
char *bm_judge_shorten(const char *s, size_t max);

#endif
