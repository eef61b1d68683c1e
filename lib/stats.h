/*
 * stats.h: the statistics of bm-stats (DESIGN.md §4, §10), pure functions
 * with no I/O.  Proportions are fractions in [0, 1], counts are whole
 * numbers, p-values are probabilities; latencies and token counts are in
 * whatever unit the caller passes (milliseconds, tokens).  Every formula
 * is the textbook one as scipy computes it; man/bm-stats.1 gives each with
 * its reference.  An undefined value is NaN: the caller prints null.
 */
#ifndef BM_STATS_H
#define BM_STATS_H

#include <stddef.h>

/* The 0.975 quantile of the normal distribution (DESIGN.md §10). */
#define BM_STATS_Z 1.959964
/* The 0.8 quantile of the normal distribution (80% power). */
#define BM_STATS_Z_POWER80 0.8416212335729143
/* The significance level of every test. */
#define BM_STATS_ALPHA 0.05

/*
 * Wilson's score interval (Wilson 1927) for k successes in n trials at
 * z: 0 and [*lo, *hi], or -1 (both NaN) when n is 0.
 */
int bm_stats_wilson(double k, double n, double z, double *lo, double *hi);

/*
 * The pct-th percentile (0..100) of n values sorted ascending, linear
 * interpolation between order statistics as numpy's default; NaN when n
 * is 0.
 */
double bm_stats_percentile(const double *sorted, size_t n, double pct);

/*
 * Mean and sample standard deviation (n - 1) of n values; a single value
 * has sd 0.  0, or -1 (both NaN) when n is 0.
 */
int bm_stats_mean_sd(const double *x, size_t n, double *mean, double *sd);

/*
 * McNemar's exact test (McNemar 1947): the two-sided binomial test of b
 * discordant pairs one way and c the other at p = 0.5, as
 * scipy.stats.binomtest(b, b + c).pvalue.  1 when b + c is 0.  The
 * binomial tail is summed in log space, so any n is fine.
 */
double bm_stats_mcnemar(long b, long c);

/*
 * The pooled two-proportion z-test, two-sided: x1 of n1 against x2 of n2.
 * The p-value (1 when the pooled proportion is 0 or 1), NaN when n1 or n2
 * is 0; *z (may be NULL) gets the statistic.
 */
double bm_stats_ztest(double x1, double n1, double x2, double n2,
    double *z);

/*
 * Newcombe's hybrid score interval (Newcombe 1998, method 10) of
 * x1/n1 - x2/n2 for independent proportions at z: 0 and [*lo, *hi], or
 * -1 (both NaN) when n1 or n2 is 0.
 */
int bm_stats_newcombe(double x1, double n1, double x2, double n2, double z,
    double *lo, double *hi);

/*
 * Newcombe's hybrid score interval for paired proportions (Newcombe 1998,
 * the paired paper's method 10) at z.  Of n pairs: a both succeed, b only
 * the first, c only the second, d neither; the difference is (b - c) / n.
 * 0 and [*lo, *hi], or -1 (both NaN) when there are no pairs.
 */
int bm_stats_newcombe_paired(double a, double b, double c, double d,
    double z, double *lo, double *hi);

/*
 * The Mann-Whitney U test (Mann & Whitney 1947), two-sided, normal
 * approximation with tie and continuity correction, as
 * scipy.stats.mannwhitneyu(x, y, method="asymptotic"): the p-value, *u
 * (may be NULL) the U statistic of x.  x and y are sorted in place.  NaN
 * when either is empty; 1 when every value is tied.
 */
double bm_stats_mannwhitney(double *x, size_t nx, double *y, size_t ny,
    double *u);

/*
 * Holm's step-down adjustment (Holm 1979) of n p-values, in place (as
 * statsmodels' multipletests(method="holm")); NaN entries are left out
 * of the count and stay NaN.
 */
void bm_stats_holm(double *p, size_t n);

/*
 * The smallest difference between two pass rates that a two-sided test
 * at alpha 0.05 detects with 80% power, with n1 and n2 results around a
 * pass rate p: (z_0.975 + z_0.8) * sqrt(p(1-p)(1/n1 + 1/n2)), p kept at
 * least 0.5 / (n1 + n2) away from 0 and 1, capped at 1.  NaN when n1 or
 * n2 is 0.
 */
double bm_stats_mde(double p, double n1, double n2);

/* Sort n doubles ascending (NaN-free). */
void bm_stats_sort(double *x, size_t n);

#endif
