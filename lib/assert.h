/*
 * assert.h: the assertions of DESIGN.md §6.  bm-ingest checks each spec
 * (known type, value shape, regex and jq programs compile) so that a bad
 * benchmark fails at ingest; bm-exec scores answers with the same code.
 * A spec is one element of a case's "expect" list: {TYPE: VALUE} with the
 * optional sibling keys weight and not.
 */
#ifndef BM_ASSERT_H
#define BM_ASSERT_H

#include <cJSON.h>

#include "err.h"

/*
 * A verdict reached outside this file: a judge's (another model call) or
 * an exec scorer's (a child process).  bm-exec obtains them and hands
 * them in, one slot per entry of the expect list.
 */
struct bm_verdict {
	int known;		/* 0: not obtained (the entry cannot score) */
	int pass;
	double score;		/* 0..1 */
	const char *reason;	/* why, for a person; NULL: none */
	double agreement;	/* panels: share agreeing; < 0: not a panel */
};

/* What an assertion is checked against. */
struct bm_answer {
	const char *output;	/* the answer text ("" when none) */
	double latency_ms;	/* < 0 when unknown */
	long completion_tokens;	/* < 0 when unknown */
	int exit_code;		/* exec providers; -1 when not applicable */
	/* judge and exec entries: verdicts[i] for expect entry i; NULL:
	 * none obtained */
	const struct bm_verdict *verdicts;
};

/* The type node of a checked spec (its key is the type name). */
const cJSON *bm_assert_type(const cJSON *spec);

/*
 * Move what bm_assert_score added to scored (score, assertions, metrics)
 * into result and free scored; without a verdict (!scored_ok) only
 * score null and assertions empty.
 */
void bm_assert_attach(cJSON *result, cJSON *scored, int scored_ok);

/*
 * Check one spec.  0, or -1 with e (no position) and *where the node at
 * fault: "unknown assertion 'regx' (did you mean 'regex'?)", "regex:
 * missing closing parenthesis at offset 3", "jq: syntax error ...".
 */
int bm_assert_check(const cJSON *spec, const cJSON **where,
    struct bm_error *e);

/*
 * Score answer a against the expect list (NULL or empty: pass, score 1).
 * Adds to result: "assertions" [{"type":T,"pass":B,"score":S,...}] where
 * a failed entry has "reason" (`expected "4", got "5"`, bm-exec(1)
 * ASSERTIONS) and an entities entry "missing" and "extra"; "score" (the
 * weighted mean), and for entities "metrics" {precision, recall, f1, tp,
 * fp, fn}.  Returns 1 when every assertion passed, 0 when
 * one failed, -1 with e when one cannot be evaluated here (a judge or
 * exec entry whose verdict a->verdicts does not hold).
 */
int bm_assert_score(const cJSON *expect, const struct bm_answer *a,
    cJSON *result, struct bm_error *e);
/*
 * bm_assert_score as text, for a result written without building it:
 * appends "score":S,"assertions":[...],"metrics":M (null when none) to
 * out, as bm_json_put prints those members, and sets *score.  The same
 * return; nothing appended on -1.
 */
struct bm_buf;
int bm_assert_put(const cJSON *expect, const struct bm_answer *a,
    struct bm_buf *out, double *score, struct bm_error *e);

/*
 * Check every assertion of case record kase (its expect, or each step's)
 * before it runs: 0, or -1 and e naming the benchmark and the entry,
 * "sum-two-numbers: expect[1]: regex: missing closing parenthesis at
 * offset 3", "story: step 1: expect[0]: unknown assertion 'regx'".
 */
int bm_assert_check_case(const cJSON *kase, struct bm_error *e);

#endif
