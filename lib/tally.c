/* tally.c: result records into groups on every core (tally.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"
#include "lines.h"
#include "scan.h"
#include "stats.h"
#include "tally.h"
#include "xalloc.h"

#define ROWBLOCK (1u << 20)	/* bytes of rows allocated at once */

/* Fields every result gives, in scan path order. */
enum {
	F_TYPE, F_STATUS, F_ECLASS, F_RUN, F_CASE, F_BID, F_BENCH, F_MODEL,
	F_VARIANT, F_TRIAL, F_REPEAT, F_STEP, F_LAT, F_TTFT, F_PT, F_CT,
	F_COST, F_SCORE, F_F1, F_TP, F_FP, F_FN, F_START, F_FINISH, F_CMP,
	F_NFIXED
};

static const char *const fixed[F_NFIXED] = {
	"type", "status", "error.class", "run_id", "case_id", "benchmark_id",
	"benchmark", "model", "variant", "trial", "repeat", "step",
	"latency_ms", "ttft_ms", "usage.prompt_tokens",
	"usage.completion_tokens", "cost_usd", "score", "metrics.f1",
	"metrics.tp", "metrics.fp", "metrics.fn", "started_at", "finished_at",
	NULL
};

/* A block of whole lines. */
struct tchunk {
	char **blocks;		/* memory of the rows, ROWBLOCK bytes each */
	size_t nblocks, used;
	char *buf;
	size_t len;
	unsigned long long seq;
	long nlines;
	struct bm_row **rows;
	size_t nrows, caprows;
};

struct lerr {
	unsigned long long seq;
	long line;
	char *msg;
};

struct tworker {
	struct bm_tally *t;
	struct bm_scan *scan;
	struct bm_span *sp;
	struct bm_map *map;
	struct bm_group **g;
	size_t ng, capg;
	struct bm_buf key;
	struct lerr *errs;
	size_t nerrs;
	long results, ignored, bad;
	char **runs;
	size_t nruns;
};

void
bm_sum_add(struct bm_sum *k, double v)
{
	double t = k->s + v;

	if (fabs(k->s) >= fabs(v))
		k->c += (k->s - t) + v;
	else
		k->c += (v - t) + k->s;
	k->s = t;
}

double
bm_sum_get(const struct bm_sum *k)
{
	return k->s + k->c;
}

/* Add sum b into a. */
static void
sum_cat(struct bm_sum *a, const struct bm_sum *b)
{
	bm_sum_add(a, b->s);
	bm_sum_add(a, b->c);
}

static void
dvec_add(struct bm_dvec *d, double v)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->v = xreallocarray(d->v, d->cap, sizeof(double));
	}
	d->v[d->n++] = v;
}

static void
dvec_cat(struct bm_dvec *d, const struct bm_dvec *s)
{
	if (d->n + s->n > d->cap) {
		d->cap = d->n + s->n;
		d->v = xreallocarray(d->v, d->cap, sizeof(double));
	}
	if (s->n)
		memcpy(d->v + d->n, s->v, s->n * sizeof(double));
	d->n += s->n;
}

static struct bm_scan *
new_scan(const struct bm_tally_opt *o)
{
	const char **paths = xcalloc(F_NFIXED + o->ngroup + 1, sizeof(char *));
	struct bm_scan *s;
	size_t i;

	for (i = 0; i < F_CMP; i++)
		paths[i] = fixed[i];
	paths[F_CMP] = o->cmp ? o->cmp : "type";
	for (i = 0; i < o->ngroup; i++)
		paths[F_NFIXED + i] = o->group[i];
	s = bm_scan_new(paths, F_NFIXED + o->ngroup);
	free(paths);
	return s;
}

static void
worker_init(struct tworker *w, struct bm_tally *t)
{
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->scan = new_scan(&t->opt);
	w->sp = xcalloc(F_NFIXED + t->opt.ngroup, sizeof(struct bm_span));
	w->map = bm_map_new();
}

static void
group_free(void *p)
{
	struct bm_group *g = p;
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->nclass; i++)
		free(g->eclass[i]);
	free(g->eclass);
	free(g->ecount);
	free(g->lat.v);
	free(g->ttft.v);
	free(g->run);
	free(g->key);
	free(g);
}

static void
add_class(struct bm_group *g, const char *cls, size_t len, long count)
{
	size_t i;

	for (i = 0; i < g->nclass; i++)
		if (strlen(g->eclass[i]) == len &&
		    memcmp(g->eclass[i], cls, len) == 0) {
			g->ecount[i] += count;
			return;
		}
	g->eclass = xreallocarray(g->eclass, g->nclass + 1, sizeof(char *));
	g->ecount = xreallocarray(g->ecount, g->nclass + 1, sizeof(long));
	g->eclass[g->nclass] = xstrndup(cls, len);
	g->ecount[g->nclass++] = count;
}

static void
add_run(char ***runs, size_t *n, const char *r, size_t len)
{
	size_t i;

	for (i = *n; i-- > 0; )
		if (strlen((*runs)[i]) == len &&
		    memcmp((*runs)[i], r, len) == 0)
			return;
	*runs = xreallocarray(*runs, *n + 1, sizeof(char *));
	(*runs)[(*n)++] = xstrndup(r, len);
}

static double
num(const struct bm_span *sp)
{
	double d;

	return bm_span_num(sp, &d) ? d : NAN;
}

/* Span text, or "null" when absent. */
static void
text(const struct bm_span *sp, const char **p, size_t *len)
{
	if (sp->kind == BM_SPAN_NONE) {
		*p = "null";
		*len = 4;
	} else {
		*p = sp->p;
		*len = sp->len;
	}
}

/* n bytes for a row of chunk c, aligned for doubles. */
static void *
row_alloc(struct tchunk *c, size_t n)
{
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!c->nblocks || c->used + n > ROWBLOCK) {
		c->blocks = xreallocarray(c->blocks, c->nblocks + 1,
		    sizeof(char *));
		c->blocks[c->nblocks++] = xmalloc(n > ROWBLOCK ? n : ROWBLOCK);
		c->used = 0;
	}
	p = c->blocks[c->nblocks - 1] + c->used;
	c->used += n;
	return p;
}

static const int from[BM_ROW_N] = {
	F_BID, F_VARIANT, F_MODEL, F_TRIAL, F_REPEAT, F_STEP, F_CASE, F_BENCH
};

static struct bm_rowtext *
new_text(struct tchunk *c, const struct bm_span *sp)
{
	const char *p[BM_ROW_N];
	size_t len[BM_ROW_N], total = 0, i;
	struct bm_rowtext *x;
	char *o;

	for (i = 0; i < BM_ROW_N; i++) {
		text(&sp[from[i]], &p[i], &len[i]);
		total += len[i] + 1;
	}
	x = row_alloc(c, sizeof(*x) + total);
	o = x->text;
	for (i = 0; i < BM_ROW_N; i++) {
		memcpy(o, p[i], len[i]);
		o[len[i]] = '\0';
		x->off[i] = (unsigned)(o - x->text);
		o += len[i] + 1;
	}
	return x;
}

static const char *const idname[] = {
	"benchmark_id", "variant", "model", "trial", "repeat", "step"
};

/* Field i of the identity: benchmark_id falls back to the name. */
static const char *
idfield(const struct bm_row *r, int i)
{
	if (i == BM_ROW_BID && strcmp(BM_ROW(r, i), "null") == 0)
		return BM_ROW(r, BM_ROW_BENCH);
	return BM_ROW(r, i);
}

/* The identity hash of a result's spans, without field skip. */
static unsigned long long
idhash(const struct bm_span *sp, const char *skip)
{
	unsigned long long h = 14695981039346656037ULL;
	const unsigned char *p;
	const char *q;
	size_t n, j;
	int i;

	for (i = 0; i <= BM_ROW_STEP; i++) {
		if (skip && strcmp(skip, idname[i]) == 0)
			continue;
		text(&sp[from[i]], &q, &n);
		if (i == BM_ROW_BID && n == 4 && memcmp(q, "null", 4) == 0)
			text(&sp[F_BENCH], &q, &n);
		for (p = (const unsigned char *)q, j = 0; j < n; j++)
			h = (h ^ p[j]) * 1099511628211ULL;
		h = (h ^ 0x1f) * 1099511628211ULL;
	}
	return h;
}

int
bm_row_same(const struct bm_row *a, const struct bm_row *b,
    const char *skip)
{
	int i;

	if (!a->x || !b->x)
		return 1;	/* no text: the hashes decide */
	for (i = 0; i <= BM_ROW_STEP; i++)
		if ((!skip || strcmp(skip, idname[i]) != 0) &&
		    strcmp(idfield(a, i), idfield(b, i)) != 0)
			return 0;
	return 1;
}

/* One line of a block; 0, or -1 with e. */
static int
take(struct tworker *w, struct tchunk *c, const char *line, size_t len,
    long lno, struct bm_error *e)
{
	const struct bm_tally_opt *o = &w->t->opt;
	struct bm_span *sp = w->sp;
	struct bm_group *g;
	const char *p;
	size_t i, n;
	int st;
	double v, ct;

	if (bm_scan_line(w->scan, line, len, sp, e) < 0)
		return -1;
	if (!bm_span_is(&sp[F_TYPE], "result")) {
		w->ignored++;
		return 0;
	}
	if (bm_span_is(&sp[F_STATUS], "pass"))
		st = BM_PASS;
	else if (bm_span_is(&sp[F_STATUS], "fail"))
		st = BM_FAIL;
	else if (bm_span_is(&sp[F_STATUS], "error"))
		st = BM_ERROR;
	else {
		bm_error_set(e, NULL, 0, 0,
		    "result without a status of pass, fail or error");
		return -1;
	}
	w->results++;
	bm_buf_reset(&w->key);
	for (i = 0; i < o->ngroup; i++) {
		text(&sp[F_NFIXED + i], &p, &n);
		bm_buf_add(&w->key, p, n);
		bm_buf_addc(&w->key, '\x1f');
	}
	g = bm_map_getn(w->map, w->key.s, w->key.len);
	if (!g) {
		g = xcalloc(1, sizeof(*g));
		g->key = xstrndup(w->key.s, w->key.len);
		g->keylen = w->key.len;
		g->t0 = g->t1 = NAN;
		g->order = c->seq << 32 | (unsigned long long)lno;
		bm_map_putn(w->map, w->key.s, w->key.len, g);
		if (w->ng == w->capg) {
			w->capg = w->capg ? w->capg * 2 : 16;
			w->g = xreallocarray(w->g, w->capg, sizeof(*w->g));
		}
		w->g[w->ng++] = g;
	}
	g->n++;
	if (st == BM_PASS)
		g->pass++;
	else if (st == BM_FAIL)
		g->fail++;
	else {
		g->error++;
		if (sp[F_ECLASS].kind == BM_SPAN_STRING)
			add_class(g, sp[F_ECLASS].p, sp[F_ECLASS].len, 1);
		else
			add_class(g, "\"unknown\"", 9, 1);
	}
	ct = num(&sp[F_CT]);
	if (!isnan(ct))
		bm_sum_add(&g->ct, ct);
	if (!isnan(v = num(&sp[F_PT])))
		bm_sum_add(&g->pt, v);
	if (!isnan(v = num(&sp[F_COST]))) {
		bm_sum_add(&g->cost, v);
		g->ncost++;
	}
	if (st != BM_ERROR) {
		if (!isnan(v = num(&sp[F_LAT]))) {
			dvec_add(&g->lat, v);
			if (!isnan(ct)) {
				bm_sum_add(&g->lat_sum_ct, v);
				bm_sum_add(&g->ct_answered, ct);
			}
		}
		if (!isnan(v = num(&sp[F_TTFT])))
			dvec_add(&g->ttft, v);
		if (!isnan(v = num(&sp[F_SCORE]))) {
			bm_sum_add(&g->score, v);
			g->nscore++;
		}
	}
	if (!isnan(v = num(&sp[F_F1]))) {
		bm_sum_add(&g->f1, v);
		g->nf1++;
	}
	if (sp[F_TP].kind == BM_SPAN_NUMBER || sp[F_FP].kind ==
	    BM_SPAN_NUMBER || sp[F_FN].kind == BM_SPAN_NUMBER) {
		if (!isnan(v = num(&sp[F_TP])))
			bm_sum_add(&g->tp, v);
		if (!isnan(v = num(&sp[F_FP])))
			bm_sum_add(&g->fp, v);
		if (!isnan(v = num(&sp[F_FN])))
			bm_sum_add(&g->fn, v);
		g->ntp++;
	}
	if (bm_span_time(&sp[F_START], &v) && (isnan(g->t0) || v < g->t0))
		g->t0 = v;
	if (bm_span_time(&sp[F_FINISH], &v) && (isnan(g->t1) || v > g->t1))
		g->t1 = v;
	if (sp[F_RUN].kind == BM_SPAN_STRING) {
		if (!g->run && !g->mixed)
			g->run = xstrndup(sp[F_RUN].p, sp[F_RUN].len);
		else if (g->run && (strlen(g->run) != sp[F_RUN].len ||
		    memcmp(g->run, sp[F_RUN].p, sp[F_RUN].len) != 0)) {
			free(g->run);
			g->run = NULL;
			g->mixed = 1;
		}
		add_run(&w->runs, &w->nruns, sp[F_RUN].p, sp[F_RUN].len);
	}
	if (o->rows) {
		struct bm_row *r = row_alloc(c, sizeof(*r));

		r->status = st;
		r->lat = num(&sp[F_LAT]);
		r->pt = num(&sp[F_PT]);
		r->ct = ct;
		r->cost = num(&sp[F_COST]);
		r->g = g;
		r->x = o->text ? new_text(c, sp) : NULL;
		/* hcase pairs baselines (text on), hcmp comparisons */
		r->hcase = o->text || !o->cmp ? idhash(sp, NULL) : 0;
		r->hcmp = o->cmp ? idhash(sp, o->cmp) : r->hcase;
		if (c->nrows == c->caprows) {
			c->caprows = c->caprows ? c->caprows * 2 : 256;
			c->rows = xreallocarray(c->rows, c->caprows,
			    sizeof(*c->rows));
		}
		c->rows[c->nrows++] = r;
	}
	return 0;
}

static void
work(struct tworker *w, struct tchunk *c)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *p = c->buf, *end = c->buf + c->len, *nl;
	long lno = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		lno++;
		if (!bm_jsonl_blank(p, (size_t)(nl - p)) &&
		    take(w, c, p, (size_t)(nl - p), lno, &e) < 0) {
			w->bad++;
			w->errs = xreallocarray(w->errs, w->nerrs + 1,
			    sizeof(*w->errs));
			w->errs[w->nerrs].seq = c->seq;
			w->errs[w->nerrs].line = lno;
			w->errs[w->nerrs++].msg = xstrdup(e.msg);
		}
		p = nl + 1;
	}
	c->nlines = lno;
	bm_error_clear(&e);
	c->buf = NULL;		/* lib/lines' */
}

/* lib/lines' work: one block's lines into worker arg. */
static void
work_block(void *arg, struct bm_block *b)
{
	struct tchunk *c = xcalloc(1, sizeof(*c));

	c->buf = b->buf;
	c->len = b->len;
	c->seq = b->seq;
	work(arg, c);
	b->nlines = c->nlines;
	b->data = c;
}

struct bm_tally *
bm_tally_new(const struct bm_tally_opt *opt)
{
	struct bm_tally *t = xcalloc(1, sizeof(*t));

	t->opt = *opt;
	t->map = bm_map_new();
	return t;
}

static int
group_cmp(const void *a, const void *b)
{
	const struct bm_group *x = *(struct bm_group *const *)a;
	const struct bm_group *y = *(struct bm_group *const *)b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* Fold a worker's groups, runs and counts into t. */
static void
merge(struct bm_tally *t, struct tworker *w)
{
	struct bm_group *g, *h;
	size_t i, j;

	for (i = 0; i < w->ng; i++) {
		h = w->g[i];
		g = bm_map_getn(t->map, h->key, h->keylen);
		if (!g) {
			bm_map_putn(t->map, h->key, h->keylen, h);
			t->g = xreallocarray(t->g, t->ng + 1, sizeof(*t->g));
			t->g[t->ng++] = h;
			continue;
		}
		g->n += h->n;
		g->pass += h->pass;
		g->fail += h->fail;
		g->error += h->error;
		for (j = 0; j < h->nclass; j++)
			add_class(g, h->eclass[j], strlen(h->eclass[j]),
			    h->ecount[j]);
		dvec_cat(&g->lat, &h->lat);
		dvec_cat(&g->ttft, &h->ttft);
		sum_cat(&g->lat_sum_ct, &h->lat_sum_ct);
		sum_cat(&g->ct_answered, &h->ct_answered);
		sum_cat(&g->pt, &h->pt);
		sum_cat(&g->ct, &h->ct);
		sum_cat(&g->cost, &h->cost);
		g->ncost += h->ncost;
		sum_cat(&g->score, &h->score);
		g->nscore += h->nscore;
		sum_cat(&g->f1, &h->f1);
		g->nf1 += h->nf1;
		sum_cat(&g->tp, &h->tp);
		sum_cat(&g->fp, &h->fp);
		sum_cat(&g->fn, &h->fn);
		g->ntp += h->ntp;
		if (isnan(g->t0) || h->t0 < g->t0)
			g->t0 = h->t0;
		if (isnan(g->t1) || h->t1 > g->t1)
			g->t1 = h->t1;
		if (h->mixed || g->mixed ||
		    (g->run && h->run && strcmp(g->run, h->run) != 0)) {
			free(g->run);
			g->run = NULL;
			g->mixed = 1;
		} else if (!g->run) {
			g->run = h->run;
			h->run = NULL;
		}
		if (h->order < g->order)
			g->order = h->order;
		h->into = g;	/* freed once its rows point to g */
		t->dead = xreallocarray(t->dead, t->ndead + 1,
		    sizeof(*t->dead));
		t->dead[t->ndead++] = h;
	}
	if (t->ng > 1)
		qsort(t->g, t->ng, sizeof(*t->g), group_cmp);
	for (i = 0; i < w->nruns; i++) {
		add_run(&t->runs, &t->nruns, w->runs[i], strlen(w->runs[i]));
		free(w->runs[i]);
	}
	t->results += w->results;
	t->ignored += w->ignored;
	t->bad += w->bad;
	bm_scan_free(w->scan);
	free(w->sp);
	bm_map_free(w->map, NULL);
	free(w->g);
	free(w->runs);
	bm_buf_free(&w->key);
}

/* t takes over the rows' memory of c. */
static void
keep_blocks(struct bm_tally *t, struct tchunk *c)
{
	if (!c->nblocks)
		return;
	t->blocks = xreallocarray(t->blocks, t->nblocks + c->nblocks,
	    sizeof(char *));
	memcpy(t->blocks + t->nblocks, c->blocks, c->nblocks *
	    sizeof(char *));
	t->nblocks += c->nblocks;
	free(c->blocks);
	c->blocks = NULL;
	c->nblocks = 0;
}

static int
err_cmp(const void *a, const void *b)
{
	const struct bm_error *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* Point the rows at the groups they were merged into; free the rest. */
static void
bury(struct bm_tally *t)
{
	size_t i;

	if (!t->ndead)
		return;
	for (i = 0; i < t->nrows; i++)
		if (t->rows[i]->g->into)
			t->rows[i]->g = t->rows[i]->g->into;
	for (i = 0; i < t->ndead; i++)
		group_free(t->dead[i]);
	free(t->dead);
	t->dead = NULL;
	t->ndead = 0;
}

int
bm_tally_fd(struct bm_tally *t, int fd, const char *name,
    struct bm_error *e)
{
	struct bm_lines l;
	struct tworker *w;
	struct bm_block **bs = NULL;
	struct tchunk *c;
	size_t nb = 0, i, j, nw = bm_lines_threads(t->opt.threads);
	unsigned long long seq0 = t->seq;
	int rc;

	memset(&l, 0, sizeof(l));
	w = xcalloc(nw, sizeof(*w));
	l.w = xcalloc(nw, sizeof(*l.w));
	for (i = 0; i < nw; i++) {
		worker_init(&w[i], t);
		l.w[i] = &w[i];
	}
	l.nw = nw;
	l.work = work_block;
	l.seq = t->seq;
	rc = bm_lines_read(&l, fd, name, &bs, &nb, e);
	t->seq = l.seq;
	for (i = 0; i < nw; i++) {
		for (j = 0; j < w[i].nerrs; j++) {
			struct lerr *le = &w[i].errs[j];

			t->errs = xreallocarray(t->errs, t->nerrs + 1,
			    sizeof(*t->errs));
			memset(&t->errs[t->nerrs], 0, sizeof(*t->errs));
			bm_error_set(&t->errs[t->nerrs], name,
			    bs[le->seq - seq0]->first + le->line, 0, "%s",
			    le->msg);
			t->nerrs++;
			free(le->msg);
		}
		free(w[i].errs);
		merge(t, &w[i]);
	}
	if (t->nerrs > 1)
		qsort(t->errs, t->nerrs, sizeof(*t->errs), err_cmp);
	for (i = 0, j = t->nrows; i < nb; i++)
		j += ((struct tchunk *)bs[i]->data)->nrows;
	if (j > t->nrows)
		t->rows = xreallocarray(t->rows, j, sizeof(*t->rows));
	for (i = 0; i < nb; i++) {
		c = bs[i]->data;
		if (t->opt.rows && c->nrows) {
			memcpy(t->rows + t->nrows, c->rows,
			    c->nrows * sizeof(*t->rows));
			t->nrows += c->nrows;
		}
		keep_blocks(t, c);
		free(c->rows);
		free(c);
	}
	bm_lines_free(bs, nb);
	free(l.w);
	free(w);
	bury(t);
	return rc;
}

int
bm_tally_line(struct bm_tally *t, const char *line, size_t len,
    const char *name, long lineno, struct bm_error *e)
{
	char *msg;

	if (!t->lw) {
		t->lw = xcalloc(1, sizeof(*t->lw));
		worker_init(t->lw, t);
		t->lc = xcalloc(1, sizeof(*t->lc));
		t->lc->seq = t->seq++;
	}
	if (bm_jsonl_blank(line, len))
		return 0;
	if (take(t->lw, t->lc, line, len, lineno, e) < 0) {
		t->lw->bad++;
		msg = xstrdup(e->msg);
		bm_error_set(e, name, lineno, 0, "%s", msg);
		free(msg);
		return -1;
	}
	return 0;
}

void
bm_tally_clear_errors(struct bm_tally *t)
{
	size_t i;

	for (i = 0; i < t->nerrs; i++)
		bm_error_clear(&t->errs[i]);
	free(t->errs);
	t->errs = NULL;
	t->nerrs = 0;
}

void
bm_tally_finish(struct bm_tally *t)
{
	size_t i;

	if (t->lw) {
		merge(t, t->lw);
		free(t->lw);
		t->lw = NULL;
		if (t->lc->nrows) {
			t->rows = xreallocarray(t->rows, t->nrows +
			    t->lc->nrows, sizeof(*t->rows));
			memcpy(t->rows + t->nrows, t->lc->rows,
			    t->lc->nrows * sizeof(*t->rows));
			t->nrows += t->lc->nrows;
		}
		keep_blocks(t, t->lc);
		free(t->lc->rows);
		free(t->lc);
		t->lc = NULL;
		bury(t);
	}

	for (i = 0; i < t->ng; i++) {
		t->g[i]->index = i;
		bm_stats_sort(t->g[i]->lat.v, t->g[i]->lat.n);
		bm_stats_sort(t->g[i]->ttft.v, t->g[i]->ttft.n);
	}
}

void
bm_tally_free(struct bm_tally *t)
{
	size_t i;

	if (!t)
		return;
	bm_map_free(t->map, group_free);
	free(t->g);
	for (i = 0; i < t->nblocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	free(t->rows);
	for (i = 0; i < t->nruns; i++)
		free(t->runs[i]);
	free(t->runs);
	bm_tally_clear_errors(t);
	free(t);
}
