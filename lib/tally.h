/*
 * tally.h: result records into groups, on every core (bm-stats).  Input
 * is read in blocks cut at line boundaries (lib/lines.h); worker threads
 * scan the lines with lib/scan (no JSON trees) and keep per-group state,
 * merged at the end in the order in which groups first appear in the
 * input.  Latencies
 * are kept whole (growable arrays) so percentiles are exact.  With rows
 * on, each result also leaves a compact row (hashes of its identity, its
 * group, status and numbers) for pairing; with text on, the identity's
 * fields too (for case_stat records and flipped cases).
 */
#ifndef BM_TALLY_H
#define BM_TALLY_H

#include <stddef.h>

#include "err.h"
#include "map.h"

/* A growable array of doubles. */
struct bm_dvec {
	double *v;
	size_t n, cap;
};

/*
 * A compensated sum (Neumaier): the result hardly depends on the order of
 * the terms, so two threads give what one gives.
 */
struct bm_sum {
	double s, c;
};

/* Add v to a compensated sum. */
void bm_sum_add(struct bm_sum *k, double v);
/* The value of a compensated sum. */
double bm_sum_get(const struct bm_sum *k);

/* Result statuses. */
enum { BM_PASS, BM_FAIL, BM_ERROR };

/* One group's state.  Sums are in the records' units (ms, tokens, USD). */
struct bm_group {
	char *key;		/* the group's values, JSON, each + \x1f */
	size_t keylen;
	long n, pass, fail, error;
	char **eclass;		/* error classes, as JSON strings */
	long *ecount;
	size_t nclass;
	struct bm_dvec lat, ttft;	/* answered results, ms */
	struct bm_sum lat_sum_ct;	/* ms: answered results with
					 * completion tokens */
	struct bm_sum ct_answered;	/* their completion tokens */
	struct bm_sum pt, ct;	/* token sums, every result */
	struct bm_sum cost;	/* USD */
	long ncost;		/* results with a cost */
	struct bm_sum score;	/* sum over answered results with a score */
	long nscore;
	struct bm_sum f1;	/* sum of metrics.f1 */
	long nf1;
	struct bm_sum tp, fp, fn;	/* sums of metrics.tp, fp, fn */
	long ntp;
	double t0, t1;		/* ms since the epoch; NaN when unknown */
	char *run;		/* the run id, when one (JSON string) */
	int mixed;		/* results of several runs */
	unsigned long long order;	/* first appearance */
	size_t index;		/* in bm_tally's g, once finished */
	struct bm_group *into;	/* merged into this one (tally.c) */
};

/*
 * The case identity of a row is benchmark_id (the benchmark's name when
 * it is null), variant, model, trial, repeat and step.
 */
enum {
	BM_ROW_BID, BM_ROW_VARIANT, BM_ROW_MODEL, BM_ROW_TRIAL, BM_ROW_REPEAT,
	BM_ROW_STEP, BM_ROW_CASE, BM_ROW_BENCH, BM_ROW_N
};

/* The identity fields of a row (rows on, text on). */
struct bm_rowtext {
	unsigned off[BM_ROW_N];	/* BM_ROW_* fields in text */
	char text[];		/* JSON texts ("null" when absent) */
};

/*
 * One result, kept for pairing (rows on): 72 bytes, plus its identity
 * fields with text on.
 */
struct bm_row {
	double lat, pt, ct, cost;	/* NaN when absent */
	unsigned long long hcase;	/* FNV-1a of the case identity */
	unsigned long long hcmp;	/* the same without the cmp field */
	struct bm_group *g;	/* its group, once finished */
	struct bm_rowtext *x;	/* the fields, or NULL without text */
	int status;
};

/* Field i (BM_ROW_*) of row r (text on), as JSON text. */
#define BM_ROW(r, i) ((const char *)(r)->x->text + (r)->x->off[i])

/* What to read and keep. */
struct bm_tally_opt {
	const char *const *group;	/* dotted paths of the group key */
	size_t ngroup;
	const char *cmp;	/* a further path kept in rows, or NULL */
	int rows;		/* keep a row per result */
	int text;		/* and its identity fields as text */
	int threads;		/* workers; 0: one per CPU */
};

struct bm_tally {
	struct bm_tally_opt opt;
	struct bm_map *map;	/* key -> struct bm_group */
	struct bm_group **g;	/* in order of first appearance */
	size_t ng;
	struct bm_row **rows;	/* in input order, once finished */
	size_t nrows;
	char **blocks;		/* the rows' memory */
	size_t nblocks;
	long results, ignored, bad;
	unsigned long long seq;	/* blocks read so far, for ordering */
	char **runs;		/* distinct run ids (JSON strings) */
	size_t nruns;
	struct bm_error *errs;	/* malformed lines of the last input */
	size_t nerrs;
	struct bm_group **dead;	/* merged groups, freed once rows moved */
	size_t ndead;
	struct tworker *lw;	/* bm_tally_line's state */
	struct tchunk *lc;
};

/* A new tally. */
struct bm_tally *bm_tally_new(const struct bm_tally_opt *opt);
/*
 * Read every line of fd, called name in messages ("<stdin>", a path).
 * Malformed lines are skipped and counted in bad; errs holds them (name,
 * line, message) in line order until bm_tally_clear_errors.  0, or -1
 * with e on a read error.
 */
int bm_tally_fd(struct bm_tally *t, int fd, const char *name,
    struct bm_error *e);
/*
 * Add one record (len bytes, no newline), line lineno of name: 0, or -1
 * with e when it is malformed (skipped, counted in bad).
 */
int bm_tally_line(struct bm_tally *t, const char *line, size_t len,
    const char *name, long lineno, struct bm_error *e);
/* Forget the errors of the last input. */
void bm_tally_clear_errors(struct bm_tally *t);
/*
 * Fold in what bm_tally_line took and sort every group's latencies; call
 * once, after the last input.
 */
void bm_tally_finish(struct bm_tally *t);
/*
 * Do rows a and b have one case identity, leaving out field skip (a name:
 * "variant", ...; NULL: none)?  Call it when their hashes (hcase, or hcmp
 * for skip) are equal: without text it trusts them and says yes.
 */
int bm_row_same(const struct bm_row *a, const struct bm_row *b,
    const char *skip);
/* Free the tally. */
void bm_tally_free(struct bm_tally *t);

#endif
