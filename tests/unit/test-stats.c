/* test-stats: intervals, percentiles and tests against worked values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "stats.h"
#include "tally.h"
#include "tap.h"

/* |a - b| within 1e-9 of b (or both NaN). */
static int
near(double a, double b)
{
	if (isnan(b))
		return isnan(a);
	return fabs(a - b) <= 1e-9 * fabs(b) + 1e-15;
}

int
main(void)
{
	double x[] = { 1, 2, 3, 4 }, lo, hi, m, sd, u;
	double males[] = { 19, 22, 16, 29, 24 }, females[] = { 20, 11, 17, 12 };
	double p[] = { 0.01, 0.04, 0.03, NAN, 0.5 }, big[5000];
	const char *paths[] = { "type", "usage.prompt_tokens", "vars.lang" };
	const char *line = "{\"type\":\"result\",\"output\":[1,{\"a\":2}],"
	    "\"usage\":{\"prompt_tokens\":21},\"vars\":{\"lang\":\"en\"}}";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_span sp[3];
	struct bm_scan *s;
	struct bm_sum k = { 0, 0 };
	size_t i, bad;

	/* Wilson: 210 of 291 (DESIGN.md's example), and the edges */
	ok(bm_stats_wilson(210, 291, BM_STATS_Z, &lo, &hi) == 0 &&
	    fabs(lo - 0.667) < 1e-3 && fabs(hi - 0.770) < 1e-3,
	    "wilson 210/291 is [0.667, 0.770]");
	ok(bm_stats_wilson(0, 10, BM_STATS_Z, &lo, &hi) == 0 && lo == 0 &&
	    near(hi, 0.2775328030260577), "wilson 0/10 starts at 0");
	ok(bm_stats_wilson(0, 0, BM_STATS_Z, &lo, &hi) < 0 && isnan(lo),
	    "wilson of nothing is undefined");

	/* percentiles: numpy.percentile([1,2,3,4], q) */
	ok(near(bm_stats_percentile(x, 4, 25), 1.75), "p25 of 1..4 is 1.75");
	ok(near(bm_stats_percentile(x, 4, 50), 2.5), "p50 of 1..4 is 2.5");
	ok(near(bm_stats_percentile(x, 4, 99), 3.97), "p99 of 1..4 is 3.97");
	ok(near(bm_stats_percentile(x, 1, 95), 1), "one value is every "
	    "percentile");
	ok(isnan(bm_stats_percentile(x, 0, 50)), "no value: NaN");

	ok(bm_stats_mean_sd(x, 4, &m, &sd) == 0 && near(m, 2.5) &&
	    near(sd, 1.2909944487358056), "mean and sample sd of 1..4");
	ok(bm_stats_mean_sd(x, 1, &m, &sd) == 0 && sd == 0, "one value: sd 0");

	/* McNemar: binomtest(3, 15) = 2 * 576 / 2^15 */
	ok(near(bm_stats_mcnemar(3, 12), 0.03515625), "mcnemar 3 vs 12");
	ok(near(bm_stats_mcnemar(12, 3), 0.03515625), "and symmetric");
	ok(bm_stats_mcnemar(5, 5) == 1 && bm_stats_mcnemar(0, 0) == 1,
	    "equal or no discordant pairs: p 1");
	/* large n in log space: binomtest(4900, 10000) */
	ok(near(bm_stats_mcnemar(4900, 5100), 0.04658552770494739),
	    "mcnemar at "
	    "n 10000 does not overflow");

	ok(near(bm_stats_ztest(56, 70, 48, 80, NULL),
	    erfc(fabs((0.8 - 0.6) / sqrt(104.0 / 150 * 46 / 150 *
	    (1.0 / 70 + 1.0 / 80))) / M_SQRT2)), "pooled z-test");
	ok(bm_stats_ztest(5, 5, 3, 3, NULL) == 1, "all pass: p 1");

	/* Newcombe (1998) method 10: 56/70 - 48/80 is [0.0524, 0.3339] */
	bm_stats_newcombe(56, 70, 48, 80, BM_STATS_Z, &lo, &hi);
	ok(fabs(lo - 0.0524) < 5e-5 && fabs(hi - 0.3339) < 5e-5,
	    "newcombe's worked example");
	bm_stats_newcombe_paired(2, 3, 12, 3, BM_STATS_Z, &lo, &hi);
	ok(lo < -0.45 && hi > -0.45 && lo > -1 && hi < 0,
	    "paired interval holds the difference");

	/* scipy.stats.mannwhitneyu(males, females, method="asymptotic") */
	ok(near(bm_stats_mannwhitney(males, 5, females, 4, &u),
	    0.11134688653314041) && u == 17, "mann-whitney worked example");
	ok(bm_stats_mannwhitney(x, 1, x, 1, NULL) == 1, "all tied: p 1");

	bm_stats_holm(p, 5);
	ok(near(p[0], 0.04) && near(p[1], 0.09) && near(p[2], 0.09) &&
	    isnan(p[3]) && near(p[4], 0.5), "holm skips NaN");

	ok(near(bm_stats_mde(0.5, 100, 100), (BM_STATS_Z +
	    BM_STATS_Z_POWER80) * sqrt(0.25 * 0.02)), "mde at 100 each");
	ok(bm_stats_mde(0, 10, 10) > 0, "mde is never 0");

	for (i = 0; i < 5000; i++)
		big[i] = (double)((i * 7919) % 5000) - 2500.5;
	bm_stats_sort(big, 5000);
	for (i = 1; i < 5000 && big[i - 1] <= big[i]; i++)
		;
	ok(i == 5000 && big[0] == -2500.5, "radix sort with negatives");

	bm_sum_add(&k, 1e16);
	bm_sum_add(&k, 1);
	bm_sum_add(&k, -1e16);
	ok(bm_sum_get(&k) == 1, "compensated sum keeps the 1");

	s = bm_scan_new(paths, 3);
	ok(bm_scan_line(s, line, strlen(line), sp, &e) == 0, "scan a line");
	ok(bm_span_is(&sp[0], "result"), "type");
	ok(bm_span_num(&sp[1], &m) && m == 21, "nested number");
	ok(sp[2].len == 4 && memcmp(sp[2].p, "\"en\"", 4) == 0,
	    "dotted path, quotes kept");
	ok(bm_scan_line(s, "[1]", 3, sp, &e) < 0 &&
	    strcmp(e.msg, "expected an object, got an array") == 0,
	    "an array is not a record");
	ok(bm_scan_line(s, "{\"a\":1} x", 9, sp, &e) < 0, "trailing junk");
	sp[0].kind = BM_SPAN_STRING;
	sp[0].p = "\"2026-11-23T10:15:00.123Z\"";
	sp[0].len = strlen(sp[0].p);
	ok(bm_span_time(&sp[0], &m) && near(m, 1795428900123.0),
	    "RFC 3339 time in ms");
	/* the fast path for plain decimals rounds as strtod does */
	for (i = 0, bad = 0; i < 200000; i++) {
		char num[40];
		double want, got;

		snprintf(num, sizeof(num), "%s%lu.%0*lu", i & 1 ? "-" : "",
		    (unsigned long)(i * 2654435761u % 100000),
		    (int)(i % 9 + 1), (unsigned long)(i * 40503u % 1000000000u) %
		    (unsigned long)pow(10, (double)(i % 9 + 1)));
		sp[0].kind = BM_SPAN_NUMBER;
		sp[0].p = num;
		sp[0].len = strlen(num);
		want = strtod(num, NULL);
		if (!bm_span_num(&sp[0], &got) || memcmp(&got, &want,
		    sizeof(got)) != 0)
			bad++;
	}
	is_int(bad, 0, "200000 decimals parse exactly as strtod");
	sp[0].p = "1.5e3";
	sp[0].len = 5;
	ok(bm_span_num(&sp[0], &m) && m == 1500, "exponents go to strtod");
	sp[0].p = "-0";
	sp[0].len = 2;
	ok(bm_span_num(&sp[0], &m) && m == 0 && signbit(m), "-0");
	bm_scan_free(s);
	bm_error_clear(&e);
	return done_testing();
}
