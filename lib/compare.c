/*
 * compare.c: stat, comparison, regression and case_stat records from a
 * tally.  The formulas are in lib/stats.c and bm-stats(1).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "compare.h"
#include "jsonl.h"
#include "map.h"
#include "stats.h"
#include "xalloc.h"

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
group_obj(const char *key, const char *const *f, size_t nf, const char *skip)
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
cJSON *
bm_compare_stat(const struct bm_compare *cx, const struct bm_group *g)
{
	cJSON *r = cJSON_CreateObject(), *o, *a;
	double m = (double)(g->pass + g->fail), lo, hi, wall, cost, pt, ct, tp;
	size_t i;

	cJSON_AddStringToObject(r, "type", "stat");
	cJSON_AddItemToObject(r, "group", group_obj(g->key, cx->fields,
	    cx->nfields, NULL));
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
double
bm_compare_num(const cJSON *o, const char *path)
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


/* gkey without the value of field skip. */
static void
subkey(const struct bm_compare *cx, struct bm_buf *b, const char *gkey,
    const char *skip)
{
	const char *p = gkey, *e;
	size_t i;

	bm_buf_reset(b);
	for (i = 0; i < cx->nfields && (e = strchr(p, '\x1f')); i++) {
		if (strcmp(cx->fields[i], skip) != 0)
			bm_buf_add(b, p, (size_t)(e - p + 1));
		p = e + 1;
	}
}

/* The rows of one stat group, in input order. */
struct part {
	struct bm_row **r;
	size_t n;
	struct part *next;	/* next value of a comparison group */
	char *val;		/* the compared value (JSON text) */
};

/* Rows by their stat group: p[g->index]. */
struct parts {
	struct part *p;
	size_t n;
};

static void
by_group(struct parts *ps, const struct bm_tally *t)
{
	size_t i;

	ps->n = t->ng;
	ps->p = xcalloc(t->ng + 1, sizeof(*ps->p));
	for (i = 0; i < t->ng; i++)
		ps->p[i].r = xreallocarray(NULL, (size_t)t->g[i]->n + 1,
		    sizeof(struct bm_row *));
	for (i = 0; i < t->nrows; i++) {
		struct part *p = &ps->p[t->rows[i]->g->index];

		p->r[p->n++] = t->rows[i];
	}
}

static void
parts_free(struct parts *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->p[i].r);
		free(ps->p[i].val);
	}
	free(ps->p);
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
			if (!cand[i]->x)
				continue;
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
struct holm {
	double *pv;
	cJSON **pobj;
	size_t npv;
};

static void
put_holm(struct holm *h, cJSON *o, double p)
{
	h->pv = xreallocarray(h->pv, h->npv + 1, sizeof(*h->pv));
	h->pobj = xreallocarray(h->pobj, h->npv + 1, sizeof(*h->pobj));
	h->pv[h->npv] = p;
	h->pobj[h->npv++] = o;
}

static void
put_p(struct holm *h, cJSON *o, double p)
{
	put(o, "p_value", p);
	cJSON_AddNullToObject(o, "p_adjusted");
	if (!isnan(p))
		put_holm(h, o, p);
}

/* Metric object of a comparison: means, change and a test. */
static cJSON *
metric(struct holm *h, struct bm_row **b, size_t nb, struct bm_row **c,
    size_t nc, int which)
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
		put_p(h, o, p);
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
comparison(const struct bm_compare *cx, struct holm *h,
    const char *gkey, const struct part *base, const struct part *c)
{
	cJSON *r = cJSON_CreateObject(), *o, *a;
	struct pairs pr;
	double pb, pc, lo, hi, mde, p;
	const char *test;

	pair_up(&pr, base->r, base->n, c->r, c->n, cx->field);
	cJSON_AddStringToObject(r, "type", "comparison");
	cJSON_AddItemToObject(r, "group", group_obj(gkey, cx->fields,
	    cx->nfields, cx->field));
	cJSON_AddStringToObject(r, "field", cx->field);
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
	put_p(h, o, p);
	cJSON_AddStringToObject(o, "test", test);
	cJSON_AddNullToObject(o, "significant");
	put(o, "mde", mde);
	put(o, "n_baseline", (double)pr.nb);
	put(o, "n_candidate", (double)pr.nc);
	cJSON_AddItemToObject(r, "latency_ms", metric(h, base->r, base->n, c->r,
	    c->n, 0));
	cJSON_AddItemToObject(r, "prompt_tokens", metric(h, base->r, base->n,
	    c->r, c->n, 1));
	cJSON_AddItemToObject(r, "completion_tokens", metric(h, base->r,
	    base->n, c->r, c->n, 2));
	cJSON_AddItemToObject(r, "cost_usd", metric(h, base->r, base->n, c->r,
	    c->n, 3));
	bm_buf_free(&pr.flipped);
	return r;
}

/* One comparison, made on any thread. */
struct job {
	const struct bm_compare *cx;
	const char *gkey;
	const struct part *base, *cand;
	cJSON *out;
	struct holm h;
};

struct jobs {
	struct job *j;
	size_t n, next;
	pthread_mutex_t mu;
};

static void *
run_jobs(void *arg)
{
	struct jobs *js = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&js->mu);
		j = js->next < js->n ? &js->j[js->next++] : NULL;
		pthread_mutex_unlock(&js->mu);
		if (!j)
			return NULL;
		j->out = comparison(j->cx, &j->h, j->gkey, j->base, j->cand);
	}
}

/* Make the comparisons on every core. */
static void
run_all(struct jobs *js)
{
	pthread_t tid[8];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (size_t)ncpu, i, started;

	if (nt > js->n)
		nt = js->n;
	pthread_mutex_init(&js->mu, NULL);
	for (started = 0; started + 1 < nt; started++)
		if (pthread_create(&tid[started], NULL, run_jobs, js) != 0)
			break;
	run_jobs(js);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&js->mu);
}

/* The value of field skip in gkey, as JSON text. */
static char *
field_value(const struct bm_compare *cx, const char *gkey, const char *skip)
{
	const char *p = gkey, *e;
	size_t i;

	for (i = 0; i < cx->nfields && (e = strchr(p, '\x1f')); i++) {
		if (strcmp(cx->fields[i], skip) == 0)
			return xstrndup(p, (size_t)(e - p));
		p = e + 1;
	}
	return xstrdup("null");
}

/*
 * --compare: a comparison record per candidate value and group.  Each
 * stat group holds one value of the compared field; the groups that
 * differ only in it form a comparison group.
 */
size_t
bm_compare_run(const struct bm_compare *cx, const struct bm_tally *t)
{
	struct bm_map *map = bm_map_new();
	struct parts ps;
	struct part **first = xcalloc(t->ng + 1, sizeof(*first));
	struct part *g, *s, *base, **tail;
	struct bm_buf k = BM_BUF_INIT;
	struct jobs js;
	struct holm h = { NULL, NULL, 0 };
	size_t nfirst = 0, missing = 0, i, j;

	memset(&js, 0, sizeof(js));
	by_group(&ps, t);
	for (i = 0; i < t->ng; i++) {
		g = &ps.p[i];
		g->val = field_value(cx, t->g[i]->key, cx->field);
		subkey(cx, &k, t->g[i]->key, cx->field);
		if (!(s = bm_map_getn(map, k.len ? k.s : "", k.len))) {
			bm_map_putn(map, k.len ? k.s : "", k.len, g);
			first[nfirst++] = g;
			continue;
		}
		for (tail = &s->next; *tail; tail = &(*tail)->next)
			;
		*tail = g;
	}
	for (i = 0; i < nfirst; i++) {
		for (base = first[i]; base; base = base->next)
			if (is_value(base->val, cx->value))
				break;
		if (!base) {
			missing++;
			continue;
		}
		for (s = first[i]; s; s = s->next) {
			if (s == base)
				continue;
			js.j = xreallocarray(js.j, js.n + 1, sizeof(*js.j));
			memset(&js.j[js.n], 0, sizeof(js.j[0]));
			js.j[js.n].cx = cx;
			/* the group of the first value, for group_obj */
			js.j[js.n].gkey = t->g[first[i] - ps.p]->key;
			js.j[js.n].base = base;
			js.j[js.n++].cand = s;
		}
	}
	run_all(&js);
	for (i = 0; i < js.n; i++)
		for (j = 0; j < js.j[i].h.npv; j++)
			put_holm(&h, js.j[i].h.pobj[j], js.j[i].h.pv[j]);
	bm_stats_holm(h.pv, h.npv);
	for (i = 0; i < h.npv; i++) {
		cJSON_ReplaceItemInObjectCaseSensitive(h.pobj[i],
		    "p_adjusted", cJSON_CreateNumber(h.pv[i]));
		cJSON_ReplaceItemInObjectCaseSensitive(h.pobj[i],
		    "significant", cJSON_CreateBool(h.pv[i] <
		    BM_STATS_ALPHA));
	}
	for (i = 0; i < js.n; i++) {
		cx->emit(js.j[i].out, cx->arg);
		cJSON_Delete(js.j[i].out);
		free(js.j[i].h.pv);
		free(js.j[i].h.pobj);
	}
	parts_free(&ps);
	bm_map_free(map, NULL);
	bm_buf_free(&k);
	free(first);
	free(js.j);
	free(h.pv);
	free(h.pobj);
	return missing;
}

/* One regression record. */
static void
regression(const struct bm_compare *cx, const struct bm_group *g,
    const char *metric_name, double b, double c, double p, const char *test,
    const char *flipped)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "type", "regression");
	cJSON_AddItemToObject(r, "group", group_obj(g->key, cx->fields,
	    cx->nfields, NULL));
	cJSON_AddStringToObject(r, "metric", metric_name);
	put(r, "baseline", b);
	put(r, "current", c);
	put(r, "delta", c - b);
	put(r, "rel", ratio(c - b, b));
	put(r, "threshold_pct", cx->threshold);
	put(r, "p_value", p);
	if (test)
		cJSON_AddStringToObject(r, "test", test);
	else
		cJSON_AddNullToObject(r, "test");
	if (cx->baseline_run)
		cJSON_AddItemToObject(r, "baseline_run", value(cx->baseline_run,
		    strlen(cx->baseline_run)));
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
	cx->emit(r, cx->arg);
	cJSON_Delete(r);
}

/* The baseline's stat record of group g, from a file of stats. */
static const cJSON *
stat_of(const struct bm_compare *cx, const cJSON *stats,
    const struct bm_group *g)
{
	cJSON *go = group_obj(g->key, cx->fields, cx->nfields, NULL);
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
long
bm_compare_regressions(const struct bm_compare *cx,
    const struct bm_tally *t, const struct bm_tally *base,
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
		s = h ? NULL : stat_of(cx, bstats, g);
		if (!h && !s)
			continue;
		pc = &cur.p[g->index];
		pb = h ? &old.p[h->index] : NULL;
		/* pass rate: lower is worse */
		if (h && pc && pb) {
			pair_up(&pr, pb->r, pb->n, pc->r, pc->n, NULL);
			p = rate_test(&pr, &b, &c, &lo, &hi, &mde, &test);
		} else {
			double bn = s ? bm_compare_num(s, "pass") : NAN;
			double bf = s ? bm_compare_num(s, "fail") : NAN;

			memset(&pr, 0, sizeof(pr));
			b = ratio(bn, bn + bf);
			c = ratio((double)g->pass, (double)(g->pass + g->fail));
			p = bm_stats_ztest((double)g->pass, (double)(g->pass +
			    g->fail), bn, bn + bf, NULL);
			test = "z-test";
		}
		if (b > 0 && (c - b) / b * 100 < -cx->threshold &&
		    p < BM_STATS_ALPHA) {
			regression(cx, g, "pass_rate", b, c, p, test,
			    pr.flipped.len ? (bm_buf_addc(&pr.flipped, ']'),
			    pr.flipped.s) : "[]");
			count++;
		}
		bm_buf_free(&pr.flipped);
		/* p95 latency: higher is worse */
		c = bm_stats_percentile(g->lat.v, g->lat.n, 95);
		b = h ? bm_stats_percentile(h->lat.v, h->lat.n, 95) :
		    bm_compare_num(s, "latency_ms.p95");
		if (b > 0 && (c - b) / b * 100 > cx->threshold) {
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
				regression(cx, g, "latency_ms.p95", b,
				    c, p, test, NULL);
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
			bpass = bm_compare_num(s, "pass");
			bcost = bm_compare_num(s, "cost_usd");
		}
		b = ratio(bcost, bpass);
		if (b > 0 && (c - b) / b * 100 > cx->threshold) {
			regression(cx, g, "cost_per_pass", b, c, NAN,
			    NULL, NULL);
			count++;
		}
	}
	parts_free(&cur);
	parts_free(&old);
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
void
bm_compare_cases(const struct bm_compare *cx, const struct bm_tally *t,
    const struct bm_tally *base)
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
		cx->emit(r, cx->arg);
		cJSON_Delete(r);
	}
	bm_map_free(m, free);
	bm_map_free(bm, free);
	bm_buf_free(&k);
	free(order);
}
