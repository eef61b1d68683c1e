/* stats.c: intervals, percentiles and tests for bm-stats (stats.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "xalloc.h"

int
bm_stats_wilson(double k, double n, double z, double *lo, double *hi)
{
	double p, z2, den, centre, half;

	if (n <= 0) {
		*lo = *hi = NAN;
		return -1;
	}
	p = k / n;
	z2 = z * z;
	den = 1 + z2 / n;
	centre = (p + z2 / (2 * n)) / den;
	half = z / den * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
	*lo = centre - half;
	*hi = centre + half;
	if (*lo < 0)
		*lo = 0;
	if (*hi > 1)
		*hi = 1;
	return 0;
}

double
bm_stats_percentile(const double *x, size_t n, double pct)
{
	double h, t, a, b;
	size_t i;

	if (n == 0)
		return NAN;
	/* numpy: q / 100, virtual index q * (n - 1), _lerp. */
	h = pct / 100.0 * (double)(n - 1);
	i = (size_t)floor(h);
	if (i >= n - 1)
		return x[n - 1];
	t = h - (double)i;
	a = x[i];
	b = x[i + 1];
	return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

int
bm_stats_mean_sd(const double *x, size_t n, double *mean, double *sd)
{
	double s = 0, d, ss = 0;
	size_t i;

	if (n == 0) {
		*mean = *sd = NAN;
		return -1;
	}
	for (i = 0; i < n; i++)
		s += x[i];
	*mean = s / (double)n;
	for (i = 0; i < n; i++) {
		d = x[i] - *mean;
		ss += d * d;
	}
	*sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	return 0;
}

/* log C(n, k) */
static double
lchoose(double n, double k)
{
	return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/* P(X <= k) for X ~ Binomial(n, 1/2), k < n / 2. */
static double
binom_lower(long k, long n)
{
	double t, s = 0;
	long i;

	if (n <= 1000) {
		/* Exact enough in plain doubles: 2^-n does not underflow. */
		t = ldexp(1.0, (int)-n);
		for (i = 0; i <= k; i++) {
			s += t;
			t = t * (double)(n - i) / (double)(i + 1);
		}
		return s;
	}
	/* Log space, from the largest term down: no overflow, no underflow
	 * of the terms that matter. */
	t = 1;
	for (i = k; i >= 0; i--) {
		s += t;
		if (t < 1e-18 * s)
			break;
		t = t * (double)i / (double)(n - i + 1);
	}
	return exp(lchoose((double)n, (double)k) - (double)n * M_LN2 +
	    log(s));
}

double
bm_stats_mcnemar(long b, long c)
{
	long n = b + c, k = b < c ? b : c;
	double p;

	if (n <= 0 || 2 * k == n)
		return 1;
	p = 2 * binom_lower(k, n);
	return p > 1 ? 1 : p;
}

double
bm_stats_ztest(double x1, double n1, double x2, double n2, double *z)
{
	double p, se, zz;

	if (z)
		*z = NAN;
	if (n1 <= 0 || n2 <= 0)
		return NAN;
	p = (x1 + x2) / (n1 + n2);
	se = sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
	if (se == 0) {
		if (z)
			*z = 0;
		return 1;
	}
	zz = (x1 / n1 - x2 / n2) / se;
	if (z)
		*z = zz;
	return erfc(fabs(zz) / M_SQRT2);
}

int
bm_stats_newcombe(double x1, double n1, double x2, double n2, double z,
    double *lo, double *hi)
{
	double p1, p2, l1, u1, l2, u2, d;

	if (n1 <= 0 || n2 <= 0) {
		*lo = *hi = NAN;
		return -1;
	}
	p1 = x1 / n1;
	p2 = x2 / n2;
	bm_stats_wilson(x1, n1, z, &l1, &u1);
	bm_stats_wilson(x2, n2, z, &l2, &u2);
	d = p1 - p2;
	*lo = d - sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2));
	*hi = d + sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2));
	return 0;
}

int
bm_stats_newcombe_paired(double a, double b, double c, double d, double z,
    double *lo, double *hi)
{
	double n = a + b + c + d, p1, p2, l1, u1, l2, u2, den, num, phi = 0;
	double dl, du, diff;

	if (n <= 0) {
		*lo = *hi = NAN;
		return -1;
	}
	p1 = (a + b) / n;
	p2 = (a + c) / n;
	diff = (b - c) / n;
	bm_stats_wilson(a + b, n, z, &l1, &u1);
	bm_stats_wilson(a + c, n, z, &l2, &u2);
	/* phi with Newcombe's adjustment: AD - BC above n/2 loses n/2. */
	den = (a + b) * (c + d) * (a + c) * (b + d);
	num = a * d - b * c;
	if (den > 0) {
		if (num > n / 2)
			phi = (num - n / 2) / sqrt(den);
		else if (num < 0)
			phi = num / sqrt(den);
	}
	dl = (p1 - l1) * (p1 - l1) - 2 * phi * (p1 - l1) * (u2 - p2) +
	    (u2 - p2) * (u2 - p2);
	du = (p2 - l2) * (p2 - l2) - 2 * phi * (p2 - l2) * (u1 - p1) +
	    (u1 - p1) * (u1 - p1);
	*lo = diff - sqrt(dl > 0 ? dl : 0);
	*hi = diff + sqrt(du > 0 ? du : 0);
	return 0;
}

double
bm_stats_mannwhitney(double *x, size_t nx, double *y, size_t ny, double *u)
{
	double n1 = (double)nx, n2 = (double)ny, n = n1 + n2;
	double r1 = 0, ties = 0, rank, t, u1, uu, mu, s, z, p;
	size_t i = 0, j = 0, ci, cj;

	if (u)
		*u = NAN;
	if (nx == 0 || ny == 0)
		return NAN;
	bm_stats_sort(x, nx);
	bm_stats_sort(y, ny);
	/* Merge the two sorted lists; a run of equal values shares the
	 * mean of its ranks. */
	rank = 1;
	while (i < nx || j < ny) {
		double v = i < nx && (j >= ny || x[i] <= y[j]) ? x[i] : y[j];

		for (ci = 0; i < nx && x[i] == v; i++)
			ci++;
		for (cj = 0; j < ny && y[j] == v; j++)
			cj++;
		t = (double)(ci + cj);
		r1 += (double)ci * (rank + (t - 1) / 2);
		ties += t * t * t - t;
		rank += t;
	}
	u1 = r1 - n1 * (n1 + 1) / 2;
	if (u)
		*u = u1;
	uu = u1 > n1 * n2 - u1 ? u1 : n1 * n2 - u1;
	mu = n1 * n2 / 2;
	s = sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))));
	if (!(s > 0))
		return 1;
	z = (uu - mu - 0.5) / s;
	p = erfc(z / M_SQRT2);
	return p > 1 ? 1 : p < 0 ? 0 : p;
}

/* Indexes of p, for sorting by p. */
static const double *holm_p;

static int
holm_cmp(const void *a, const void *b)
{
	double x = holm_p[*(const size_t *)a], y = holm_p[*(const size_t *)b];

	if (x != y)
		return x < y ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

void
bm_stats_holm(double *p, size_t n)
{
	size_t *ix = xreallocarray(NULL, n ? n : 1, sizeof(*ix));
	size_t m = 0, i;
	double run = 0, v;

	for (i = 0; i < n; i++)
		if (!isnan(p[i]))
			ix[m++] = i;
	holm_p = p;
	if (m > 1)
		qsort(ix, m, sizeof(*ix), holm_cmp);
	for (i = 0; i < m; i++) {
		v = (double)(m - i) * p[ix[i]];
		if (v > 1)
			v = 1;
		if (v > run)
			run = v;
		p[ix[i]] = run;
	}
	free(ix);
}

double
bm_stats_mde(double p, double n1, double n2)
{
	double eps, d;

	if (n1 <= 0 || n2 <= 0)
		return NAN;
	eps = 0.5 / (n1 + n2);
	if (p < eps)
		p = eps;
	if (p > 1 - eps)
		p = 1 - eps;
	d = (BM_STATS_Z + BM_STATS_Z_POWER80) *
	    sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
	return d > 1 ? 1 : d;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A double's bits as an unsigned key that sorts as the double does. */
static uint64_t
key(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u >> 63 ? ~u : u | (1ULL << 63);
}

void
bm_stats_sort(double *x, size_t n)
{
	uint64_t *a, *b, *t;
	size_t cnt[2048], i, pass, sum, c;
	double d;

	if (n < 2048) {
		if (n > 1)
			qsort(x, n, sizeof(*x), dbl_cmp);
		return;
	}
	/* LSD radix sort, 11 bits a pass: linear for a million latencies. */
	a = xreallocarray(NULL, n, sizeof(*a));
	b = xreallocarray(NULL, n, sizeof(*b));
	for (i = 0; i < n; i++)
		a[i] = key(x[i]);
	for (pass = 0; pass < 6; pass++) {
		unsigned sh = (unsigned)(pass * 11);

		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < n; i++)
			cnt[(a[i] >> sh) & 2047]++;
		if (cnt[(a[0] >> sh) & 2047] == n)
			continue;	/* every key has this digit */
		for (i = 0, sum = 0; i < 2048; i++) {
			c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			b[cnt[(a[i] >> sh) & 2047]++] = a[i];
		t = a, a = b, b = t;
	}
	for (i = 0; i < n; i++) {
		uint64_t u = a[i] >> 63 ? a[i] & ~(1ULL << 63) : ~a[i];

		memcpy(&d, &u, sizeof(d));
		x[i] = d;
	}
	free(a);
	free(b);
}
