/*
 * compare.h: the records bm-stats writes from a tally (DESIGN.md §4):
 * stat records, comparison records of --compare (paired where cases pair
 * up, Holm over one call), regression records against a baseline and
 * case_stat records.  Records go to the caller's emit function, in order;
 * nothing is printed here.
 */
#ifndef BM_COMPARE_H
#define BM_COMPARE_H

#include <stddef.h>

#include <cJSON.h>

#include "tally.h"

struct bm_compare {
	const char *const *fields;	/* the group fields (-g) */
	size_t nfields;
	const char *field, *value;	/* --compare FIELD=VALUE, or NULL */
	double threshold;		/* --threshold, percent */
	const char *baseline_run;	/* JSON string of the baseline's run
					 * id, or NULL */
	void (*emit)(cJSON *rec, void *arg);	/* takes no ownership */
	void *arg;
};

/* The stat record of group g. */
cJSON *bm_compare_stat(const struct bm_compare *cx,
    const struct bm_group *g);
/* A number at dotted path ("latency_ms.p95") in o, or NaN. */
double bm_compare_num(const cJSON *o, const char *path);
/*
 * --compare: a comparison record per group and other value of the field;
 * how many groups had no baseline value (they get no record).
 */
size_t bm_compare_run(const struct bm_compare *cx, const struct bm_tally *t);
/*
 * --baseline: a regression record per group and metric that got worse by
 * more than the threshold, significantly; base is the baseline's tally,
 * bstats its stat records when it was a file of stats (else NULL).  How
 * many records were written.
 */
long bm_compare_regressions(const struct bm_compare *cx,
    const struct bm_tally *t, const struct bm_tally *base,
    const cJSON *bstats);
/* --cases: a case_stat record per case identity (base may be NULL). */
void bm_compare_cases(const struct bm_compare *cx, const struct bm_tally *t,
    const struct bm_tally *base);

#endif
