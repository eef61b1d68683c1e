/*
 * bm-stats: statistics of result records.
 *
 *   bm-stats [-g FIELD[,FIELD...]] [--compare FIELD=VALUE] [--baseline ...]
 *            [--cases] [--top N] [--by METRIC] [--save] [--run RUN] [FILE...]
 *
 * Reads result records (or a run's from the database), writes a stat
 * record per group, then comparison, regression and case_stat records.
 * Statistics are computed over every input, so nothing is written before
 * the input ends.  The formulas are in lib/stats.c and bm-stats(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "cli.h"
#include "db.h"
#include "err.h"
#include "jsonl.h"
#include "map.h"
#include "runs.h"
#include "stats.h"
#include "tally.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-stats [-g FIELD[,FIELD...]] [--compare FIELD=VALUE]\n"
    "                [--baseline FILE|run:RUN|last] [--threshold PCT]\n"
    "                [--fail-on-regression] [--fail-under RATE] [--cases]\n"
    "                [--top N] [--by METRIC] [--save] [--run RUN]\n"
    "                [--db PATH] [--no-db] [-q] [-v] [FILE...]\n"
    "\n"
    "    -g FIELD[,FIELD...]    group by these fields (default model)\n"
    "    --compare FIELD=VALUE  compare each other value of FIELD to VALUE\n"
    "    --baseline SPEC        regressions against a file, run:RUN or last\n"
    "    --threshold PCT        relative change that counts (default 5)\n"
    "    --fail-on-regression   exit 1 when a regression was found\n"
    "    --fail-under RATE      exit 1 when a pass rate is below RATE\n"
    "    --cases                a case_stat record per case\n"
    "    --top N                only the best N groups\n"
    "    --by METRIC            the metric of --top (default pass_rate)\n"
    "    --save                 store the stat records in the database\n"
    "    --run RUN              read a run's results from the database\n"
    "    --db PATH              the database (default ./bm.db)\n"
    "    --no-db                never open the database\n"
    "    -q, -v                 quieter, more verbose\n";

enum {
	OPT_COMPARE = BM_CLI_OPT_PROGRAM, OPT_BASELINE, OPT_THRESHOLD, OPT_FOR,
	OPT_UNDER, OPT_CASES, OPT_TOP, OPT_BY, OPT_SAVE, OPT_RUN
};

static const struct option longopts[] = {
	BM_CLI_LONGOPTS,
	{ "compare", required_argument, NULL, OPT_COMPARE },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "fail-on-regression", no_argument, NULL, OPT_FOR },
	{ "fail-under", required_argument, NULL, OPT_UNDER },
	{ "cases", no_argument, NULL, OPT_CASES },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "by", required_argument, NULL, OPT_BY },
	{ "save", no_argument, NULL, OPT_SAVE },
	{ "run", required_argument, NULL, OPT_RUN },
	{ NULL, 0, NULL, 0 }
};

static struct bm_cli cli;
static const char **gfields;	/* -g, plus the --compare field */
static size_t ngfields;
static char *cmp_field, *cmp_value;
static const char *baseline_spec, *run_spec, *by = "pass_rate";
static double threshold = 5, fail_under = -1;
static long top;
static int cases, save, fail_on_regression;
static struct bm_db *db;
static int status;		/* exit status so far */
static char *baseline_run;	/* JSON string of the baseline's run id */

/* A number, or null when it is undefined (JSON has no NaN). */
static void
put(cJSON *o, const char *k, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static double
ratio(double a, double b)
{
	return b != 0 ? a / b : NAN;
}

/* Parse the JSON text p[0..n) (a value from the input), null if bad. */
static cJSON *
value(const char *p, size_t n)
{
	cJSON *v = cJSON_ParseWithLength(p, n);

	return v ? v : cJSON_CreateNull();
}

/* The group object of key (values ended by \x1f) over fields f. */
static cJSON *
group_obj(const char *key, const char **f, size_t nf, const char *skip)
{
	cJSON *o = cJSON_CreateObject();
	const char *p = key, *e;
	size_t i;

	for (i = 0; i < nf; i++) {
		e = strchr(p, '\x1f');
		if (!e)
			break;
		if (!skip || strcmp(f[i], skip) != 0)
			cJSON_AddItemToObject(o, f[i], value(p,
			    (size_t)(e - p)));
		p = e + 1;
	}
	return o;
}

static cJSON *
dist(const struct bm_dvec *d)
{
	static const double pct[] = { 25, 50, 75, 90, 95, 99 };
	static const char *const name[] = {
		"p25", "p50", "p75", "p90", "p95", "p99"
	};
	cJSON *o = cJSON_CreateObject();
	double mean, sd;
	size_t i;

	bm_stats_mean_sd(d->v, d->n, &mean, &sd);
	put(o, "mean", mean);
	put(o, "sd", sd);
	put(o, "min", d->n ? d->v[0] : NAN);
	for (i = 0; i < 6; i++)
		put(o, name[i], bm_stats_percentile(d->v, d->n, pct[i]));
	put(o, "max", d->n ? d->v[d->n - 1] : NAN);
	return o;
}

/* The stat record of group g (DESIGN.md §4). */
static cJSON *
stat_record(const struct bm_group *g)
{
	cJSON *r = cJSON_CreateObject(), *o, *a;
	double m = (double)(g->pass + g->fail), lo, hi, wall, cost, pt, ct, tp;
	size_t i;

	cJSON_AddStringToObject(r, "type", "stat");
	cJSON_AddItemToObject(r, "group", group_obj(g->key, gfields,
	    ngfields, NULL));
	put(r, "n", (double)g->n);
	put(r, "pass", (double)g->pass);
	put(r, "fail", (double)g->fail);
	put(r, "error", (double)g->error);
	put(r, "pass_rate", ratio((double)g->pass, m));
	if (bm_stats_wilson((double)g->pass, m, BM_STATS_Z, &lo, &hi) == 0) {
		a = cJSON_AddArrayToObject(r, "pass_rate_ci");
		cJSON_AddItemToArray(a, cJSON_CreateNumber(lo));
		cJSON_AddItemToArray(a, cJSON_CreateNumber(hi));
	} else {
		cJSON_AddNullToObject(r, "pass_rate_ci");
	}
	cJSON_AddItemToObject(r, "latency_ms", dist(&g->lat));
	cJSON_AddItemToObject(r, "ttft_ms", dist(&g->ttft));
	o = cJSON_AddObjectToObject(r, "usage");
	pt = bm_sum_get(&g->pt);
	ct = bm_sum_get(&g->ct);
	tp = bm_sum_get(&g->tp);
	put(o, "prompt_tokens", pt);
	put(o, "completion_tokens", ct);
	cost = g->ncost ? bm_sum_get(&g->cost) : NAN;
	put(r, "cost_usd", cost);
	put(r, "score_mean", g->nscore ? bm_sum_get(&g->score) /
	    (double)g->nscore : NAN);
	o = cJSON_AddObjectToObject(r, "f1");
	put(o, "micro", g->ntp ? ratio(2 * tp, 2 * tp + bm_sum_get(&g->fp) +
	    bm_sum_get(&g->fn)) : NAN);
	put(o, "macro", g->nf1 ? bm_sum_get(&g->f1) / (double)g->nf1 : NAN);
	o = cJSON_AddObjectToObject(r, "errors");
	for (i = 0; i < g->nclass; i++) {
		cJSON *k = value(g->eclass[i], strlen(g->eclass[i]));

		put(o, cJSON_IsString(k) ? k->valuestring : "unknown",
		    (double)g->ecount[i]);
		cJSON_Delete(k);
	}
	wall = g->t1 - g->t0;
	put(r, "wall_ms", wall);
	put(r, "throughput_rps", wall > 0 ? (double)g->n / (wall / 1000) :
	    NAN);
	put(r, "cost_per_pass", ratio(cost, (double)g->pass));
	put(r, "tokens_per_pass", ratio(pt + ct, (double)g->pass));
	put(r, "completion_tokens_per_s", ratio(bm_sum_get(&g->ct_answered),
	    bm_sum_get(&g->lat_sum_ct) / 1000));
	if (g->run)
		cJSON_AddItemToObject(r, "run_id", value(g->run,
		    strlen(g->run)));
	else
		cJSON_AddNullToObject(r, "run_id");
	return r;
}

/* A number at dotted path in o, or NaN. */
static double
path_num(const cJSON *o, const char *path)
{
	char *p = xstrdup(path), *s = p, *dot;
	const cJSON *v = o;

	while (v && s) {
		dot = strchr(s, '.');
		if (dot)
			*dot = '\0';
		v = cJSON_GetObjectItemCaseSensitive(v, s);
		s = dot ? dot + 1 : NULL;
	}
	free(p);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Lower is better for these metrics of --by. */
static int
lower_better(const char *m)
{
	static const char *const low[] = {
		"latency_ms", "ttft_ms", "cost", "tokens_per_pass", "fail",
		"error", "wall_ms", "usage", NULL
	};
	size_t i;

	for (i = 0; low[i]; i++)
		if (strncmp(m, low[i], strlen(low[i])) == 0)
			return 1;
	return 0;
}

static const char *by_path;

static int
top_cmp(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	double u = path_num(x, by_path), v = path_num(y, by_path);

	if (isnan(u) != isnan(v))
		return isnan(u) ? 1 : -1;
	if (!isnan(u) && u != v)
		return (u < v) == !lower_better(by_path) ? 1 : -1;
	u = path_num(x, "n");
	v = path_num(y, "n");
	return u < v ? 1 : u > v ? -1 : 0;
}

static void
emit(cJSON *r)
{
	if (bm_jsonl_write(stdout, r) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
}

/* Store stat record r (of group g) in the stats table. */
static void
save_stat(const struct bm_group *g, const cJSON *r)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	cJSON *run;
	char *gk, *rec;

	if (!g->run) {
		bm_warnf("--save: group %s: %s", (gk = bm_json_print(
		    cJSON_GetObjectItemCaseSensitive(r, "group"))),
		    g->mixed ? "results of several runs" : "no run id");
		free(gk);
		return;
	}
	run = value(g->run, strlen(g->run));
	gk = bm_json_print(cJSON_GetObjectItemCaseSensitive(r, "group"));
	rec = bm_json_print(r);
	st = bm_db_prepare(db, "INSERT OR REPLACE INTO stats(run_id, "
	    "group_key, record) VALUES (?, ?, ?)", &e);
	if (!st || bm_db_bind_text(st, 1, run->valuestring) < 0 ||
	    bm_db_bind_text(st, 2, gk) < 0 || bm_db_bind_text(st, 3, rec) < 0 ||
	    bm_db_step(st, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		status = 2;
	}
	cJSON_Delete(run);
	free(gk);
	free(rec);
}

/* --by METRIC as a path into a stat record. */
static const char *
by_alias(const char *m)
{
	static const char *const alias[][2] = {
		{ "f1", "f1.macro" }, { "latency", "latency_ms.p50" },
		{ "p50", "latency_ms.p50" }, { "p90", "latency_ms.p90" },
		{ "p95", "latency_ms.p95" }, { "p99", "latency_ms.p99" },
		{ "ttft", "ttft_ms.p50" }, { NULL, NULL }
	};
	size_t i;

	for (i = 0; alias[i][0]; i++)
		if (strcmp(m, alias[i][0]) == 0)
			return alias[i][1];
	return m;
}

static int
check_by(const char *m)
{
	static const char *const known[] = {
		"pass_rate", "score_mean", "f1.micro", "f1.macro",
		"cost_per_pass", "cost_usd", "tokens_per_pass",
		"completion_tokens_per_s", "throughput_rps", "n", "pass",
		"fail", "error", "wall_ms", "usage.prompt_tokens",
		"usage.completion_tokens", NULL
	};
	static const char *const dists[] = { "latency_ms.", "ttft_ms.", NULL };
	static const char *const fields[] = {
		"mean", "sd", "min", "p25", "p50", "p75", "p90", "p95", "p99",
		"max", NULL
	};
	size_t i, j;

	m = by_alias(m);
	for (i = 0; known[i]; i++)
		if (strcmp(m, known[i]) == 0)
			return 1;
	for (i = 0; dists[i]; i++)
		for (j = 0; fields[j]; j++)
			if (strncmp(m, dists[i], strlen(dists[i])) == 0 &&
			    strcmp(m + strlen(dists[i]), fields[j]) == 0)
				return 1;
	return 0;
}

/* The stat records of a baseline file of stats. */
static cJSON *
read_stats(const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	cJSON *all = cJSON_CreateArray(), *rec;
	FILE *f = fopen(path, "r");
	const char *type;
	int k;

	if (!f)
		bm_die(2, "%s: %s", path, strerror(errno));
	bm_jsonl_open(&r, f, path);
	while ((k = bm_jsonl_next(&r, &rec, &e)) != 0) {
		if (k < 0)
			continue;	/* reported by the first reading */
		type = bm_jsonl_type(rec);
		if (type && strcmp(type, "stat") == 0)
			cJSON_AddItemToArray(all, rec);
		else
			cJSON_Delete(rec);
	}
	bm_error_clear(&e);
	bm_jsonl_close(&r);
	fclose(f);
	return all;
}

/* gkey without the value of field skip. */
static void
subkey(struct bm_buf *b, const char *gkey, const char *skip)
{
	const char *p = gkey, *e;
	size_t i;

	bm_buf_reset(b);
	for (i = 0; i < ngfields && (e = strchr(p, '\x1f')); i++) {
		if (strcmp(gfields[i], skip) != 0)
			bm_buf_add(b, p, (size_t)(e - p + 1));
		p = e + 1;
	}
}

/* Rows split by a key, in order of first appearance. */
struct part {
	char *key;
	struct bm_row **r;
	size_t n, cap;
	struct part *next;	/* next part of a comparison group */
	const char *val;	/* the compared value */
};

struct parts {
	struct bm_map *map;
	struct part **p;
	size_t n;
};

static void
part_push(struct part *p, struct bm_row *r)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->r = xreallocarray(p->r, p->cap, sizeof(*p->r));
	}
	p->r[p->n++] = r;
}

static struct part *
part_add(struct parts *ps, const char *key, size_t len, struct bm_row *r)
{
	struct part *p = bm_map_getn(ps->map, key, len);

	if (!p) {
		p = xcalloc(1, sizeof(*p));
		p->key = xstrndup(key, len);
		bm_map_putn(ps->map, key, len, p);
		ps->p = xreallocarray(ps->p, ps->n + 1, sizeof(*ps->p));
		ps->p[ps->n++] = p;
	}
	part_push(p, r);
	return p;
}

static void
parts_free(struct parts *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->p[i]->key);
		free(ps->p[i]->r);
		free(ps->p[i]);
	}
	free(ps->p);
	bm_map_free(ps->map, NULL);
}

/* Rows by their stat group. */
static void
by_group(struct parts *ps, const struct bm_tally *t)
{
	size_t i;

	ps->map = bm_map_new();
	ps->p = NULL;
	ps->n = 0;
	for (i = 0; i < t->nrows; i++)
		part_add(ps, BM_ROW(t->rows[i], BM_ROW_GKEY),
		    strlen(BM_ROW(t->rows[i], BM_ROW_GKEY)), t->rows[i]);
}

/* Paired outcomes of answered results: a both pass, b only the
 * candidate, c only the baseline, d neither. */
struct pairs {
	long a, b, c, d;
	long xb, nb, xc, nc;	/* unpaired: passes of answered results */
	struct bm_buf flipped;	/* case ids: baseline pass, now fail */
};

/* Rows by identity hash: open addressing, first row of an identity. */
struct idtab {
	struct bm_row **r;
	size_t cap;
};

static unsigned long long
idh(const struct bm_row *r, const char *skip)
{
	return skip ? r->hcmp : r->hcase;
}

/* The slot of r's identity in tab (NULL in it when absent). */
static struct bm_row **
idslot(struct idtab *tab, const struct bm_row *r, const char *skip)
{
	unsigned long long h = idh(r, skip);
	size_t i = (size_t)(h ^ h >> 32) & (tab->cap - 1);
	struct bm_row **s;

	for (;; i = (i + 1) & (tab->cap - 1)) {
		s = &tab->r[i];
		if (!*s || (idh(*s, skip) == h && bm_row_same(*s, r, skip)))
			return s;
	}
}

static void
pair_up(struct pairs *pr, struct bm_row **base, size_t nb,
    struct bm_row **cand, size_t nc, const char *skip)
{
	struct idtab tab;
	struct bm_row **s, *r;
	char *used;
	size_t i;

	memset(pr, 0, sizeof(pr[0]));
	for (tab.cap = 16; tab.cap < 2 * nb + 2; tab.cap *= 2)
		;
	tab.r = xcalloc(tab.cap, sizeof(*tab.r));
	used = xcalloc(tab.cap, 1);
	for (i = 0; i < nb; i++) {
		if (base[i]->status == BM_ERROR)
			continue;
		pr->nb++;
		pr->xb += base[i]->status == BM_PASS;
		s = idslot(&tab, base[i], skip);
		if (!*s)
			*s = base[i];
	}
	for (i = 0; i < nc; i++) {
		if (cand[i]->status == BM_ERROR)
			continue;
		pr->nc++;
		pr->xc += cand[i]->status == BM_PASS;
		s = idslot(&tab, cand[i], skip);
		if (!(r = *s) || used[s - tab.r])
			continue;
		used[s - tab.r] = 1;
		if (r->status == BM_PASS && cand[i]->status == BM_PASS)
			pr->a++;
		else if (cand[i]->status == BM_PASS)
			pr->b++;
		else if (r->status == BM_PASS) {
			pr->c++;
			bm_buf_addc(&pr->flipped, pr->flipped.len ? ',' : '[');
			bm_buf_adds(&pr->flipped, BM_ROW(cand[i], BM_ROW_CASE));
		} else
			pr->d++;
	}
	free(tab.r);
	free(used);
}

static long
npairs(const struct pairs *pr)
{
	return pr->a + pr->b + pr->c + pr->d;
}

/* Paired when the pairs hold at least half of the smaller side. */
static int
paired(const struct pairs *pr)
{
	long small = pr->nb < pr->nc ? pr->nb : pr->nc;

	return npairs(pr) > 0 && 2 * npairs(pr) >= small;
}

/* The pass rate test of pr: p-value, rates and interval. */
static double
rate_test(const struct pairs *pr, double *pb, double *pc, double *lo,
    double *hi, double *mde, const char **test)
{
	double n = (double)npairs(pr);

	if (paired(pr)) {
		*pb = (double)(pr->a + pr->c) / n;
		*pc = (double)(pr->a + pr->b) / n;
		bm_stats_newcombe_paired((double)pr->a, (double)pr->b,
		    (double)pr->c, (double)pr->d, BM_STATS_Z, lo, hi);
		*mde = bm_stats_mde((*pb + *pc) / 2, n, n);
		*test = "mcnemar-exact";
		return bm_stats_mcnemar(pr->b, pr->c);
	}
	*pb = ratio((double)pr->xb, (double)pr->nb);
	*pc = ratio((double)pr->xc, (double)pr->nc);
	bm_stats_newcombe((double)pr->xc, (double)pr->nc, (double)pr->xb,
	    (double)pr->nb, BM_STATS_Z, lo, hi);
	*mde = bm_stats_mde(ratio((double)(pr->xb + pr->xc),
	    (double)(pr->nb + pr->nc)), (double)pr->nc, (double)pr->nb);
	*test = "z-test";
	return bm_stats_ztest((double)pr->xc, (double)pr->nc,
	    (double)pr->xb, (double)pr->nb, NULL);
}

/* Values of one metric of rows (answered only when answered). */
static double *
values(struct bm_row **r, size_t n, int which, int answered, size_t *out)
{
	double *v = xreallocarray(NULL, n ? n : 1, sizeof(double)), x;
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (answered && r[i]->status == BM_ERROR)
			continue;
		x = which == 0 ? r[i]->lat : which == 1 ? r[i]->pt :
		    which == 2 ? r[i]->ct : r[i]->cost;
		if (!isnan(x))
			v[(*out)++] = x;
	}
	return v;
}

static double
mean(const double *v, size_t n)
{
	double m, sd;

	bm_stats_mean_sd(v, n, &m, &sd);
	return m;
}

/* p-values of one invocation, for Holm. */
static double *pv;
static cJSON **pobj;
static size_t npv;

static void
put_p(cJSON *o, double p)
{
	put(o, "p_value", p);
	cJSON_AddNullToObject(o, "p_adjusted");
	if (!isnan(p)) {
		pv = xreallocarray(pv, npv + 1, sizeof(*pv));
		pobj = xreallocarray(pobj, npv + 1, sizeof(*pobj));
		pv[npv] = p;
		pobj[npv++] = o;
	}
}

/* Metric object of a comparison: means, change and a test. */
static cJSON *
metric(struct bm_row **b, size_t nb, struct bm_row **c, size_t nc,
    int which)
{
	cJSON *o = cJSON_CreateObject();
	size_t kb, kc;
	double *vb = values(b, nb, which, which == 0, &kb);
	double *vc = values(c, nc, which, which == 0, &kc);
	double mb = mean(vb, kb), mc = mean(vc, kc), u, p;

	put(o, "baseline", mb);
	put(o, "candidate", mc);
	put(o, "delta", mc - mb);
	put(o, "rel", ratio(mc - mb, mb));
	if (which < 3) {
		put(o, "reduction_pct", -ratio(mc - mb, mb) * 100);
		p = bm_stats_mannwhitney(vc, kc, vb, kb, &u);
		put_p(o, p);
		cJSON_AddStringToObject(o, "test", "mann-whitney");
		cJSON_AddNullToObject(o, "significant");
		put(o, "u", u);
	}
	free(vb);
	free(vc);
	return o;
}

static int
is_value(const char *json, const char *v)
{
	size_t n = strlen(json);

	if (json[0] == '"')
		return n - 2 == strlen(v) && memcmp(json + 1, v, n - 2) == 0;
	return strcmp(json, v) == 0;
}

static cJSON *
comparison(const char *gkey, const struct part *base, const struct part *c)
{
	cJSON *r = cJSON_CreateObject(), *o, *a;
	struct pairs pr;
	double pb, pc, lo, hi, mde, p;
	const char *test;

	pair_up(&pr, base->r, base->n, c->r, c->n, cmp_field);
	cJSON_AddStringToObject(r, "type", "comparison");
	cJSON_AddItemToObject(r, "group", group_obj(gkey, gfields, ngfields,
	    cmp_field));
	cJSON_AddStringToObject(r, "field", cmp_field);
	cJSON_AddItemToObject(r, "baseline", value(base->val,
	    strlen(base->val)));
	cJSON_AddItemToObject(r, "candidate", value(c->val, strlen(c->val)));
	cJSON_AddBoolToObject(r, "paired", paired(&pr));
	put(r, "n_pairs", (double)npairs(&pr));
	p = rate_test(&pr, &pb, &pc, &lo, &hi, &mde, &test);
	o = cJSON_AddObjectToObject(r, "pass_rate");
	put(o, "baseline", pb);
	put(o, "candidate", pc);
	put(o, "delta", pc - pb);
	put(o, "rel", ratio(pc - pb, pb));
	if (isnan(lo)) {
		cJSON_AddNullToObject(o, "ci");
	} else {
		a = cJSON_AddArrayToObject(o, "ci");
		cJSON_AddItemToArray(a, cJSON_CreateNumber(lo));
		cJSON_AddItemToArray(a, cJSON_CreateNumber(hi));
	}
	put_p(o, p);
	cJSON_AddStringToObject(o, "test", test);
	cJSON_AddNullToObject(o, "significant");
	put(o, "mde", mde);
	put(o, "n_baseline", (double)pr.nb);
	put(o, "n_candidate", (double)pr.nc);
	cJSON_AddItemToObject(r, "latency_ms", metric(base->r, base->n, c->r,
	    c->n, 0));
	cJSON_AddItemToObject(r, "prompt_tokens", metric(base->r, base->n,
	    c->r, c->n, 1));
	cJSON_AddItemToObject(r, "completion_tokens", metric(base->r,
	    base->n, c->r, c->n, 2));
	cJSON_AddItemToObject(r, "cost_usd", metric(base->r, base->n, c->r,
	    c->n, 3));
	bm_buf_free(&pr.flipped);
	return r;
}

/* --compare: a comparison record per candidate value and group. */
static void
compare(const struct bm_tally *t)
{
	struct parts groups = { bm_map_new(), NULL, 0 };
	struct part *g, *s, *base;
	struct bm_buf k = BM_BUF_INIT;
	cJSON **out = NULL;
	size_t nout = 0, i;

	for (i = 0; i < t->nrows; i++) {
		struct bm_row *r = t->rows[i];

		subkey(&k, BM_ROW(r, BM_ROW_GKEY), cmp_field);
		g = part_add(&groups, k.len ? k.s : "", k.len, r);
		g->n--;		/* the rows go to the value's part */
		if (!g->val)
			g->val = BM_ROW(r, BM_ROW_GKEY); /* for group_obj */
		for (s = g->next; s; s = s->next)
			if (strcmp(s->val, BM_ROW(r, BM_ROW_CMP)) == 0)
				break;
		if (!s) {
			s = xcalloc(1, sizeof(*s));
			s->val = BM_ROW(r, BM_ROW_CMP);
			for (base = g; base->next; base = base->next)
				;
			base->next = s;
		}
		part_push(s, r);
	}
	for (i = 0; i < groups.n; i++) {
		g = groups.p[i];
		for (base = g->next; base; base = base->next)
			if (is_value(base->val, cmp_value))
				break;
		if (!base) {
			bm_debugf(1, "--compare: no %s=%s in a group",
			    cmp_field, cmp_value);
			continue;
		}
		for (s = g->next; s; s = s->next)
			if (s != base) {
				out = xreallocarray(out, nout + 1,
				    sizeof(*out));
				out[nout++] = comparison(g->val, base, s);
			}
	}
	bm_stats_holm(pv, npv);
	for (i = 0; i < npv; i++) {
		cJSON_ReplaceItemInObjectCaseSensitive(pobj[i], "p_adjusted",
		    cJSON_CreateNumber(pv[i]));
		cJSON_ReplaceItemInObjectCaseSensitive(pobj[i], "significant",
		    cJSON_CreateBool(pv[i] < BM_STATS_ALPHA));
	}
	for (i = 0; i < nout; i++) {
		emit(out[i]);
		cJSON_Delete(out[i]);
	}
	for (i = 0; i < groups.n; i++)
		for (s = groups.p[i]->next; s; s = base) {
			base = s->next;
			free(s->r);
			free(s);
		}
	parts_free(&groups);
	bm_buf_free(&k);
	free(out);
	free(pv);
	free(pobj);
}

/* One regression record. */
static void
regression(const struct bm_group *g, const char *metric_name, double b,
    double c, double p, const char *test, const char *flipped)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "type", "regression");
	cJSON_AddItemToObject(r, "group", group_obj(g->key, gfields,
	    ngfields, NULL));
	cJSON_AddStringToObject(r, "metric", metric_name);
	put(r, "baseline", b);
	put(r, "current", c);
	put(r, "delta", c - b);
	put(r, "rel", ratio(c - b, b));
	put(r, "threshold_pct", threshold);
	put(r, "p_value", p);
	if (test)
		cJSON_AddStringToObject(r, "test", test);
	else
		cJSON_AddNullToObject(r, "test");
	if (baseline_run)
		cJSON_AddItemToObject(r, "baseline_run", value(baseline_run,
		    strlen(baseline_run)));
	else
		cJSON_AddNullToObject(r, "baseline_run");
	if (g->run)
		cJSON_AddItemToObject(r, "run_id", value(g->run,
		    strlen(g->run)));
	else
		cJSON_AddNullToObject(r, "run_id");
	if (flipped)
		cJSON_AddItemToObject(r, "flipped", value(flipped,
		    strlen(flipped)));
	emit(r);
	cJSON_Delete(r);
}

/* The baseline's stat record of group g, from a file of stats. */
static const cJSON *
stat_of(const cJSON *stats, const struct bm_group *g)
{
	cJSON *go = group_obj(g->key, gfields, ngfields, NULL);
	char *want = bm_json_print(go), *have;
	const cJSON *s, *found = NULL;

	cJSON_ArrayForEach(s, stats) {
		have = bm_json_print(cJSON_GetObjectItemCaseSensitive(s,
		    "group"));
		if (strcmp(have, want) == 0)
			found = s;
		free(have);
		if (found)
			break;
	}
	cJSON_Delete(go);
	free(want);
	return found;
}

/* --baseline: regression records; how many were written. */
static long
regressions(const struct bm_tally *t, const struct bm_tally *base,
    const cJSON *bstats)
{
	struct parts cur, old;
	struct part *pc, *pb;
	struct pairs pr;
	const struct bm_group *g, *h;
	const cJSON *s;
	double b, c, p, lo, hi, mde, bpass, bcost;
	const char *test;
	long count = 0;
	size_t i, kb, kc;
	double *vb, *vc;

	by_group(&cur, t);
	by_group(&old, base);
	for (i = 0; i < t->ng; i++) {
		g = t->g[i];
		h = bm_map_getn(base->map, g->key, g->keylen);
		s = h ? NULL : stat_of(bstats, g);
		if (!h && !s)
			continue;
		pc = bm_map_getn(cur.map, g->key, g->keylen);
		pb = bm_map_getn(old.map, g->key, g->keylen);
		/* pass rate: lower is worse */
		if (h && pc && pb) {
			pair_up(&pr, pb->r, pb->n, pc->r, pc->n, NULL);
			p = rate_test(&pr, &b, &c, &lo, &hi, &mde, &test);
		} else {
			double bn = s ? path_num(s, "pass") : NAN;
			double bf = s ? path_num(s, "fail") : NAN;

			memset(&pr, 0, sizeof(pr));
			b = ratio(bn, bn + bf);
			c = ratio((double)g->pass, (double)(g->pass + g->fail));
			p = bm_stats_ztest((double)g->pass, (double)(g->pass +
			    g->fail), bn, bn + bf, NULL);
			test = "z-test";
		}
		if (b > 0 && (c - b) / b * 100 < -threshold &&
		    p < BM_STATS_ALPHA) {
			regression(g, "pass_rate", b, c, p, test,
			    pr.flipped.len ? (bm_buf_addc(&pr.flipped, ']'),
			    pr.flipped.s) : "[]");
			count++;
		}
		bm_buf_free(&pr.flipped);
		/* p95 latency: higher is worse */
		c = bm_stats_percentile(g->lat.v, g->lat.n, 95);
		b = h ? bm_stats_percentile(h->lat.v, h->lat.n, 95) :
		    path_num(s, "latency_ms.p95");
		if (b > 0 && (c - b) / b * 100 > threshold) {
			p = NAN;
			test = NULL;
			if (h) {
				vb = xreallocarray(NULL, h->lat.n + 1, 8);
				vc = xreallocarray(NULL, g->lat.n + 1, 8);
				kb = h->lat.n;
				kc = g->lat.n;
				if (kb)
					memcpy(vb, h->lat.v, kb * 8);
				if (kc)
					memcpy(vc, g->lat.v, kc * 8);
				p = bm_stats_mannwhitney(vc, kc, vb, kb, NULL);
				test = "mann-whitney";
				free(vb);
				free(vc);
			}
			if (!test || p < BM_STATS_ALPHA) {
				regression(g, "latency_ms.p95", b, c, p, test,
				    NULL);
				count++;
			}
		}
		/* cost per pass: higher is worse, no test */
		c = g->ncost ? ratio(bm_sum_get(&g->cost), (double)g->pass) :
		    NAN;
		if (h) {
			bpass = (double)h->pass;
			bcost = h->ncost ? bm_sum_get(&h->cost) : NAN;
		} else {
			bpass = path_num(s, "pass");
			bcost = path_num(s, "cost_usd");
		}
		b = ratio(bcost, bpass);
		if (b > 0 && (c - b) / b * 100 > threshold) {
			regression(g, "cost_per_pass", b, c, NAN, NULL, NULL);
			count++;
		}
	}
	parts_free(&cur);
	parts_free(&old);
	if (count)
		bm_notef("%ld regression%s", count, count == 1 ? "" : "s");
	return count;
}

/* Outcome counts of one case across repeats and runs. */
struct tallyc {
	const struct bm_row *first;
	long n, pass, fail, error;
};

static const char *
label(const struct tallyc *c)
{
	if (c->pass && c->fail)
		return "flaky";
	if (c->pass)
		return "stable-pass";
	if (c->fail)
		return "stable-fail";
	return "error";
}

static void
case_key(struct bm_buf *k, const struct bm_row *r)
{
	const char *bid = BM_ROW(r, BM_ROW_BID);

	bm_buf_reset(k);
	bm_buf_adds(k, strcmp(bid, "null") ? bid : BM_ROW(r, BM_ROW_BENCH));
	bm_buf_addc(k, '\x1f');
	bm_buf_adds(k, BM_ROW(r, BM_ROW_VARIANT));
	bm_buf_addc(k, '\x1f');
	bm_buf_adds(k, BM_ROW(r, BM_ROW_TRIAL));
	bm_buf_addc(k, '\x1f');
	bm_buf_adds(k, BM_ROW(r, BM_ROW_MODEL));
}

static void
count_cases(const struct bm_tally *t, struct bm_map *m,
    struct tallyc ***order, size_t *n)
{
	struct bm_buf k = BM_BUF_INIT;
	struct tallyc *c;
	size_t i;

	for (i = 0; i < t->nrows; i++) {
		case_key(&k, t->rows[i]);
		if (!(c = bm_map_getn(m, k.s, k.len))) {
			c = xcalloc(1, sizeof(*c));
			c->first = t->rows[i];
			bm_map_putn(m, k.s, k.len, c);
			if (order) {
				*order = xreallocarray(*order, *n + 1,
				    sizeof(**order));
				(*order)[(*n)++] = c;
			}
		}
		c->n++;
		c->pass += t->rows[i]->status == BM_PASS;
		c->fail += t->rows[i]->status == BM_FAIL;
		c->error += t->rows[i]->status == BM_ERROR;
	}
	bm_buf_free(&k);
}

/* --cases: a case_stat record per case identity. */
static void
case_stats(const struct bm_tally *t, const struct bm_tally *base)
{
	struct bm_map *m = bm_map_new(), *bm = bm_map_new();
	struct bm_buf k = BM_BUF_INIT;
	static const char *const cfield[] = {
		"benchmark_id", "benchmark", "variant", "trial", "model"
	};
	static const int cidx[] = {
		BM_ROW_BID, BM_ROW_BENCH, BM_ROW_VARIANT, BM_ROW_TRIAL,
		BM_ROW_MODEL
	};
	struct tallyc **order = NULL, *c, *o;
	const char *lab;
	size_t n = 0, i, j;
	cJSON *r;

	count_cases(t, m, &order, &n);
	if (base)
		count_cases(base, bm, NULL, NULL);
	for (i = 0; i < n; i++) {
		c = order[i];
		lab = label(c);
		case_key(&k, c->first);
		o = bm_map_getn(bm, k.s, k.len);
		if (o && o->pass && !o->fail && c->fail && !c->pass)
			lab = "regressed";
		else if (o && o->fail && !o->pass && c->pass && !c->fail)
			lab = "fixed";
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "type", "case_stat");
		for (j = 0; j < 5; j++) {
			const char *f = BM_ROW(c->first, cidx[j]);

			cJSON_AddItemToObject(r, cfield[j], value(f,
			    strlen(f)));
		}
		put(r, "n", (double)c->n);
		put(r, "pass", (double)c->pass);
		put(r, "fail", (double)c->fail);
		put(r, "error", (double)c->error);
		put(r, "pass_rate", ratio((double)c->pass,
		    (double)(c->pass + c->fail)));
		cJSON_AddStringToObject(r, "label", lab);
		if (base && o)
			cJSON_AddStringToObject(r, "baseline_label",
			    label(o));
		else if (base)
			cJSON_AddNullToObject(r, "baseline_label");
		emit(r);
		cJSON_Delete(r);
	}
	bm_map_free(m, free);
	bm_map_free(bm, free);
	bm_buf_free(&k);
	free(order);
}

/* Print and forget the malformed lines of the last input. */
static void
report_errors(struct bm_tally *t)
{
	size_t i;

	for (i = 0; i < t->nerrs; i++)
		bm_error_print(&t->errs[i]);
	if (t->nerrs)
		status = status ? status : 1;
	bm_tally_clear_errors(t);
}

/* Read run id's results from the database into t. */
static void
read_run(struct bm_tally *t, const char *id)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	const char *rec;
	char *name = xasprintf("run %s", id);
	long row = 0;
	int r;

	st = bm_db_prepare(db, "SELECT record FROM results WHERE run_id = ?"
	    " ORDER BY rowid", &e);
	if (!st || bm_db_bind_text(st, 1, id) < 0)
		goto fail;
	while ((r = bm_db_step(st, &e)) == 1) {
		row++;
		rec = bm_db_col_text(st, 0);
		if (rec && bm_tally_line(t, rec, strlen(rec), name, row,
		    &e) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			status = status ? status : 1;
		}
	}
	if (r < 0)
		goto fail;
	free(name);
	return;
fail:
	bm_error_print(&e);
	exit(2);
}

/* Read a file (or "-") into t. */
static void
read_file(struct bm_tally *t, const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	int fd = 0;
	const char *name = "<stdin>";

	if (strcmp(path, "-") != 0) {
		name = path;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			bm_errorf("%s: %s", path, strerror(errno));
			status = 2;
			return;
		}
	}
	if (bm_tally_fd(t, fd, name, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		status = 2;
	}
	report_errors(t);
	if (fd > 0)
		close(fd);
}

static void
open_db(void)
{
	struct bm_error e = BM_ERROR_INIT;

	if (db)
		return;
	if (cli.no_db)
		bm_cli_usage_error(&cli, "--no-db: the database is needed");
	if (!(db = bm_db_open(cli.db, &e))) {
		bm_error_print(&e);
		exit(2);
	}
}

static char *
resolve(const char *spec)
{
	struct bm_error e = BM_ERROR_INIT;
	char *id;

	open_db();
	if (bm_runs_resolve(db, spec, &id, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
	return id;
}

/* Is run id one of the runs read? */
static int
read_run_id(const struct bm_tally *t, const char *id)
{
	size_t i, n = strlen(id);

	for (i = 0; i < t->nruns; i++)
		if (strlen(t->runs[i]) == n + 2 &&
		    memcmp(t->runs[i] + 1, id, n) == 0)
			return 1;
	return 0;
}

/* The baseline: a file of results or stats, or a run. */
static struct bm_tally *
load_baseline(const struct bm_tally_opt *opt, const struct bm_tally *cur,
    cJSON **stats)
{
	struct bm_tally *b = bm_tally_new(opt);
	char *id = NULL, *spec;
	int i;

	*stats = NULL;
	if (strcmp(baseline_spec, "last") == 0) {
		/* The latest run that is not the one being read. */
		for (i = 0; i < 1000; i++) {
			spec = i ? xasprintf("last~%d", i) : xstrdup("last");
			free(id);
			id = resolve(spec);
			free(spec);
			if (!read_run_id(cur, id))
				break;
		}
	} else if (strncmp(baseline_spec, "run:", 4) == 0) {
		id = resolve(baseline_spec + 4);
	}
	if (id) {
		read_run(b, id);
		baseline_run = xasprintf("\"%s\"", id);
		free(id);
	} else {
		read_file(b, baseline_spec);
		if (status == 2)
			exit(2);
		if (b->results == 0)
			*stats = read_stats(baseline_spec);
		if (b->nruns == 1)
			baseline_run = xstrdup(b->runs[0]);
	}
	bm_tally_finish(b);
	return b;
}

static void
split_groups(const char *arg)
{
	static char *s;		/* the fields live here */
	char *p, *comma;

	free(s);
	s = xstrdup(arg);
	ngfields = 0;
	for (p = s; p; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p)
			bm_cli_usage_error(&cli, "-g: empty field in '%s'",
			    arg);
		gfields = xreallocarray(gfields, ngfields + 2, sizeof(char *));
		gfields[ngfields++] = p;
	}
}

int
main(int argc, char **argv)
{
	struct bm_tally_opt opt;
	struct bm_tally *t, *base = NULL;
	cJSON **recs, *bstats = NULL;
	char *eq, *id;
	size_t i, n;
	int c;

	bm_cli_init(&cli, argv[0], usage);
	split_groups("model");
	while ((c = getopt_long(argc, argv, BM_CLI_SHORTOPTS "g:", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'g':
			split_groups(optarg);
			break;
		case OPT_COMPARE:
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				bm_cli_usage_error(&cli, "--compare: expected "
				    "FIELD=VALUE, got '%s'", optarg);
			cmp_field = xstrndup(optarg, (size_t)(eq - optarg));
			cmp_value = xstrdup(eq + 1);
			break;
		case OPT_BASELINE:
			baseline_spec = optarg;
			break;
		case OPT_THRESHOLD:
			threshold = bm_cli_double("--threshold", optarg, 0,
			    1e9);
			break;
		case OPT_FOR:
			fail_on_regression = 1;
			break;
		case OPT_UNDER:
			fail_under = bm_cli_double("--fail-under", optarg, 0,
			    1);
			break;
		case OPT_CASES:
			cases = 1;
			break;
		case OPT_TOP:
			top = bm_cli_long("--top", optarg, 1, 1000000000L);
			break;
		case OPT_BY:
			by = optarg;
			break;
		case OPT_SAVE:
			save = 1;
			break;
		case OPT_RUN:
			run_spec = optarg;
			break;
		default:
			bm_cli_option(&cli, c, optarg);
			break;
		}
	}
	bm_cli_finish(&cli);
	if (run_spec && optind < argc)
		bm_cli_usage_error(&cli, "--run takes no FILE arguments");
	if (!check_by(by))
		bm_cli_usage_error(&cli, "--by: unknown metric '%s'", by);
	if (save && cli.no_db)
		bm_cli_usage_error(&cli, "--save needs the database");
	/* Stats of a comparison are per value of the compared field too. */
	if (cmp_field) {
		for (i = 0; i < ngfields; i++)
			if (strcmp(gfields[i], cmp_field) == 0)
				break;
		if (i == ngfields)
			gfields[ngfields++] = cmp_field;
	}

	memset(&opt, 0, sizeof(opt));
	opt.group = gfields;
	opt.ngroup = ngfields;
	opt.cmp = cmp_field;
	opt.rows = cmp_field || cases || baseline_spec;
	t = bm_tally_new(&opt);
	if (run_spec) {
		id = resolve(run_spec);
		read_run(t, id);
		free(id);
	} else if (optind == argc) {
		read_file(t, "-");
	} else {
		for (; optind < argc; optind++)
			read_file(t, argv[optind]);
	}
	if (status == 2)
		return 2;
	bm_tally_finish(t);
	bm_debugf(1, "%ld results, %ld other records ignored, %ld malformed",
	    t->results, t->ignored, t->bad);
	if (baseline_spec)
		base = load_baseline(&opt, t, &bstats);
	if (save)
		open_db();

	/* stat records, best first with --top */
	recs = xcalloc(t->ng + 1, sizeof(*recs));
	for (i = 0; i < t->ng; i++) {
		recs[i] = stat_record(t->g[i]);
		if (save)
			save_stat(t->g[i], recs[i]);
		if (fail_under >= 0 && t->g[i]->pass + t->g[i]->fail > 0 &&
		    (double)t->g[i]->pass / (double)(t->g[i]->pass +
		    t->g[i]->fail) < fail_under) {
			char *gk = bm_json_print(
			    cJSON_GetObjectItemCaseSensitive(recs[i], "group"));

			bm_errorf("%s: pass rate %.4g is below %g", gk,
			    (double)t->g[i]->pass / (double)(t->g[i]->pass +
			    t->g[i]->fail), fail_under);
			free(gk);
			status = status ? status : 1;
		}
	}
	n = t->ng;
	if (top) {
		by_path = by_alias(by);
		if (n > 1)
			qsort(recs, n, sizeof(*recs), top_cmp);
		if ((size_t)top < n)
			n = (size_t)top;
	}
	for (i = 0; i < t->ng; i++) {
		if (i < n)
			emit(recs[i]);
		cJSON_Delete(recs[i]);
	}
	free(recs);

	if (cmp_field)
		compare(t);
	if (base && regressions(t, base, bstats) > 0 && fail_on_regression)
		status = status ? status : 1;
	if (cases)
		case_stats(t, base);

	cJSON_Delete(bstats);
	bm_tally_free(base);
	bm_tally_free(t);
	if (db)
		bm_db_close(db, NULL);
	if (bm_jsonl_finish(stdout) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	return status;
}
