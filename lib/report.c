/* report.c: bm-report's record model, its database reads and the verdict. */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "buf.h"
#include "history.h"
#include "jsonl.h"
#include "lines.h"
#include "map.h"
#include "report.h"
#include "scan.h"
#include "xalloc.h"

void
bm_report_init(struct bm_report *r, const char *title)
{
	memset(r, 0, sizeof(*r));
	r->title = title ? title : "bm report";
	r->stats = cJSON_CreateArray();
	r->comparisons = cJSON_CreateArray();
	r->regressions = cJSON_CreateArray();
	r->case_stats = cJSON_CreateArray();
	r->runs = cJSON_CreateArray();
	r->atoms = bm_map_new();
	r->where = bm_map_new();
	r->tallies = bm_map_new();
	r->runidx = bm_map_new();
	bm_report_rows_init(&r->rows);
}

static void
free_where(void *p)
{
	struct bm_where *w = p;

	free(w->path);
	free(w);
}

void
bm_report_free(struct bm_report *r)
{
	size_t i;

	cJSON_Delete(r->stats);
	cJSON_Delete(r->comparisons);
	cJSON_Delete(r->regressions);
	cJSON_Delete(r->case_stats);
	cJSON_Delete(r->runs);
	for (i = 0; i < r->narena; i++)
		free(r->arena[i]);
	free(r->arena);
	free(r->res);
	free(r->hres);
	for (i = 0; i < r->nhist; i++) {
		cJSON_Delete(r->hist[i].run);
		cJSON_Delete(r->hist[i].models);
	}
	free(r->hist);
	bm_buf_free(&r->raw);
	bm_buf_free(&r->scratch);
	if (r->spill)
		fclose(r->spill);
	bm_map_free(r->atoms, free);
	bm_map_free(r->where, free_where);
	for (i = 0; i < r->ntally; i++)
		free(r->tally[i].junit);
	free(r->tally);
	bm_map_free(r->tallies, NULL);
	free(r->run);
	bm_map_free(r->runidx, NULL);
	bm_report_rows_free(&r->rows);
	memset(r, 0, sizeof(*r));
}

/* n bytes in the report's arena, aligned for a pointer with align. */
static void *
arena(struct bm_report *r, size_t n, int align)
{
	size_t pad = align ? (size_t)(-(uintptr_t)r->arena_at & 7) : 0;
	size_t size = n > (1 << 20) ? n : (1 << 20);
	char *p;

	if (pad + n > r->arena_left) {
		r->arena = xreallocarray(r->arena, r->narena + 1,
		    sizeof(char *));
		r->arena[r->narena++] = r->arena_at = xmalloc(size);
		r->arena_left = size;
		pad = 0;
	}
	p = r->arena_at + pad;
	r->arena_at = p + n;
	r->arena_left -= pad + n;
	return p;
}

/*
 * A copy of s[0..n) and a NUL in the report's arena: a million answers
 * without a million mallocs and frees.
 */
static char *
keep(struct bm_report *r, const char *s, size_t n)
{
	char *p = arena(r, n + 1, 0);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * An interned string.  A worker thread's atoms (bm_report_read) point at
 * the report's atom of the same text once the calling thread has looked
 * it up: to.
 */
struct atom {
	const char *to;
	char s[];
};

/* One stored copy of each distinct string: models and names repeat. */
static const char *
atom(struct bm_report *r, const char *s)
{
	struct atom *a;
	size_t n;

	if (!s)
		return NULL;
	a = bm_map_get(r->atoms, s);
	if (!a) {
		n = strlen(s);
		if (r->local)
			a = arena(r, sizeof(*a) + n + 1, 1);
		else
			a = xmalloc(sizeof(*a) + n + 1);
		a->to = NULL;
		memcpy(a->s, s, n + 1);
		bm_map_put(r->atoms, s, a);
	}
	return a->s;
}

/*
 * The report's atom for atom s: a worker's (bm_report_read), of the block
 * it read, looked up once; the report's own stays itself.
 */
static const char *
own_atom(struct bm_report *r, const char *s)
{
	struct atom *a;

	if (!s)
		return NULL;
	a = (struct atom *)(void *)(s - offsetof(struct atom, s));
	if (!a->to)
		a->to = atom(r, s);
	return a->to;
}

/*
 * Result x made the report's: the strings of a result counted, its model
 * and run, as the report's atoms; with all, those of a result kept too,
 * and its answer (a worker's is its block's, one from a tree the tree's)
 * copied into the report's arena, cut to what html shows.
 */
static void
own(struct bm_report *r, struct bm_rres *x, int all)
{
	x->model = own_atom(r, x->model);
	x->run_id = own_atom(r, x->run_id);
	if (!all)
		return;
	x->benchmark = own_atom(r, x->benchmark);
	x->benchmark_id = own_atom(r, x->benchmark_id);
	x->variant = own_atom(r, x->variant);
	x->error_class = own_atom(r, x->error_class);
	x->error_message = own_atom(r, x->error_message);
	x->reasons = own_atom(r, x->reasons);
	if (x->output)
		x->output = keep(r, x->output, strnlen(x->output,
		    BM_REPORT_OUTPUT_MAX + 1));
}

static int
longof(const cJSON *o, const char *k)
{
	double d = bm_json_numor(o, k, 0);

	return isfinite(d) && fabs(d) < 2147483648.0 ? (int)d : 0;
}

/*
 * One failed assertion's reason (why; without one, "TYPE failed") added
 * to the "; "-joined list b: both paths that read results join them so.
 */
static void
add_reason(struct bm_buf *b, const char *why, const char *type)
{
	if (b->len)
		bm_buf_adds(b, "; ");
	if (why)
		bm_buf_adds(b, why);
	else
		bm_buf_addf(b, "%s failed", type ? type : "assertion");
}

/* The failed assertions' reasons, "; "-joined, or NULL. */
static char *
reasons(const cJSON *rec)
{
	const cJSON *as = cJSON_GetObjectItemCaseSensitive(rec, "assertions");
	const cJSON *a, *pass;
	struct bm_buf b = BM_BUF_INIT;

	cJSON_ArrayForEach(a, as) {
		pass = cJSON_GetObjectItemCaseSensitive(a, "pass");
		if (!cJSON_IsFalse(pass))
			continue;
		add_reason(&b, bm_json_str(a, "reason"),
		    bm_json_str(a, "type"));
	}
	return b.len ? bm_buf_detach(&b, NULL) : NULL;
}

/* A new, zeroed result at the end of r->res. */
static struct bm_rres *
res_add(struct bm_report *r)
{
	struct bm_rres *x;

	if (r->nres == r->capres) {
		r->capres = r->capres ? 2 * r->capres : 256;
		r->res = xreallocarray(r->res, r->capres, sizeof(*r->res));
	}
	x = &r->res[r->nres++];
	memset(x, 0, sizeof(*x));
	return x;
}

/*
 * n bytes to the spill file: 0, or -1 and spill_err.  In writes of 64
 * kB: a block's 2 MB at once gets large page-cache folios, whose cost
 * varied (0.3 to 1.3 s of system time for a million results' 570 MB,
 * against 0.4 to 0.6 s).
 */
static int
spill_write(struct bm_report *r, const char *p, size_t n)
{
	size_t k;

	for (; n > 0; p += k, n -= k) {
		k = n < 65536 ? n : 65536;
		if (fwrite(p, 1, k, r->spill) != k) {
			r->spill_err = errno ? errno : EIO;
			return -1;
		}
	}
	return 0;
}

/*
 * n bytes of json's results: into raw while it stays within 1 MB, else
 * raw's and then these straight to the spill file (not through raw).
 */
static void
raw_add(struct bm_report *r, const char *p, size_t n)
{
	r->rawpos += n;
	if (r->raw.len + n > (1 << 20) && !r->spill && !r->spill_err)
		r->spill = tmpfile();
	if (r->raw.len + n <= (1 << 20) || !r->spill || r->spill_err ||
	    spill_write(r, r->raw.s, r->raw.len) < 0 ||
	    spill_write(r, p, n) < 0)
		bm_buf_add(&r->raw, p, n);
	else
		bm_buf_reset(&r->raw);
}

/* n bytes of junit's elements for model t (raw_add). */
static void
junit_add(struct bm_report *r, struct bm_report_tally *t, const char *p,
    size_t n)
{
	struct bm_report_span *sp = t->njunit ? &t->junit[t->njunit - 1] :
	    NULL;

	if (sp && sp->off + sp->len == r->rawpos) {
		sp->len += n;
	} else {
		t->junit = xreallocarray(t->junit, t->njunit + 1,
		    sizeof(*t->junit));
		t->junit[t->njunit].off = r->rawpos;
		t->junit[t->njunit++].len = n;
	}
	raw_add(r, p, n);
}

/* Count result x: its status, and its model's tally. */
static void
count(struct bm_report *r, const struct bm_rres *x)
{
	const char *model = x->model ? x->model : "-";
	size_t *c = &r->tcache[((uintptr_t)model >> 4) % BM_REPORT_TCACHE];
	struct bm_report_tally *t;
	void *v;

	/* Models are atoms: a few, in turn, are found by address. */
	if (*c && r->tally[*c - 1].model == model) {
		r->tidx = *c - 1;
	} else {
		if (!(v = bm_map_get(r->tallies, model))) {
			r->tally = xreallocarray(r->tally, r->ntally + 1,
			    sizeof(*r->tally));
			t = &r->tally[r->ntally++];
			memset(t, 0, sizeof(*t));
			t->model = model;
			v = (void *)r->ntally;
			bm_map_put(r->tallies, model, v);
		}
		r->tidx = (size_t)v - 1;
		*c = (size_t)v;
	}
	t = &r->tally[r->tidx];
	r->nall++;
	t->n++;
	t->secs += bm_report_secs(x);
	r->secs += bm_report_secs(x);
	t->pass += x->status == 'p';
	t->fail += x->status == 'f';
	t->error += x->status == 'e';
	r->npass += x->status == 'p';
	r->nfail += x->status == 'f';
	r->nerror += x->status == 'e';
}

void
bm_report_rows_init(struct bm_report_rows *h)
{
	memset(h, 0, sizeof(*h));
	h->keys = bm_map_new();
	h->benches = bm_map_new();
}

void
bm_report_rows_free(struct bm_report_rows *h)
{
	bm_map_free(h->keys, NULL);
	bm_map_free(h->benches, NULL);
	bm_buf_free(&h->key);
	bm_buf_free(&h->lastb);
	memset(h, 0, sizeof(*h));
}

const char *
bm_report_row_key(struct bm_buf *o, const struct bm_rres *x)
{
	bm_buf_reset(o);
	bm_buf_adds(o, x->benchmark_id ? x->benchmark_id : x->benchmark ?
	    x->benchmark : "");
	bm_buf_addc(o, '\x1f');
	bm_buf_adds(o, x->variant ? x->variant : "");
	bm_buf_addc(o, '\x1f');
	bm_report_long(o, x->trial);
	bm_buf_addc(o, '\x1f');
	bm_buf_adds(o, x->model ? x->model : "");
	return bm_buf_str(o);
}

long
bm_report_row(struct bm_report_rows *h, const struct bm_rres *x,
    int *added)
{
	const char *bench = x->benchmark_id ? x->benchmark_id :
	    x->benchmark ? x->benchmark : "";
	const char *key;
	void *v;

	if (added)
		*added = 0;
	/*
	 * Full: a case of a benchmark no row has is dropped without making
	 * its key (an id with the separator in it could match another's
	 * key).  The same benchmark comes line after line.
	 */
	if (h->n >= BM_REPORT_CASES && (!h->haslast ||
	    strcmp(bench, bm_buf_str(&h->lastb)) != 0)) {
		h->lastin = strchr(bench, '\x1f') ||
		    bm_map_get(h->benches, bench);
		bm_buf_reset(&h->lastb);
		bm_buf_adds(&h->lastb, bench);
		h->haslast = 1;
	}
	if (h->n >= BM_REPORT_CASES && !h->lastin)
		return -1;
	key = bm_report_row_key(&h->key, x);
	if ((v = bm_map_get(h->keys, key)) != NULL)
		return (long)((size_t)v - 1);
	if (h->n >= BM_REPORT_CASES)
		return -1;
	v = (void *)(++h->n);
	bm_map_put(h->keys, key, v);
	bm_map_put(h->benches, bench, (void *)1);
	if (added)
		*added = 1;
	return (long)h->n - 1;
}

/* keep_output: x counted in its run's tally. */
static void
count_run(struct bm_report *r, const struct bm_rres *x)
{
	const char *id = x->run_id ? x->run_id : "-";
	struct bm_report_run *u;
	void *v;

	/* The same run line after line: its atom. */
	if (!r->lastrun || r->run[r->lastrun - 1].id != id) {
		if (!(v = bm_map_get(r->runidx, id))) {
			r->run = xreallocarray(r->run, r->nrun + 1,
			    sizeof(*r->run));
			u = &r->run[r->nrun++];
			memset(u, 0, sizeof(*u));
			u->id = id;
			v = (void *)r->nrun;
			bm_map_put(r->runidx, id, v);
		}
		r->lastrun = (size_t)v;
	}
	u = &r->run[r->lastrun - 1];
	u->pass += x->status == 'p';
	u->fail += x->status == 'f';
	u->error += x->status == 'e';
	u->cases += x->step == 0;
}

/*
 * Count the results from res[from] on, in input order; keep only those
 * the format shows (keep_output: of the heat map's rows; keep_few: a
 * few).
 */
static void
settle(struct bm_report *r, size_t from)
{
	size_t i, to = from;
	struct bm_rres *x;

	for (i = from; i < r->nres; i++) {
		x = &r->res[i];
		own(r, x, 0);
		count(r, x);
		if (r->junit) {
			bm_buf_reset(&r->scratch);
			bm_render_junit_case(&r->scratch, x);
			junit_add(r, &r->tally[r->tidx], r->scratch.s,
			    r->scratch.len);
			continue;
		}
		if (r->keep_output) {
			count_run(r, x);
			if (bm_report_row(&r->rows, x, NULL) < 0) {
				r->dropped++;
				continue;
			}
		} else if (r->keep_few && !(x->status == 'f' &&
		    r->nfail <= BM_REPORT_FEW) && !(x->status == 'e' &&
		    r->nerror <= BM_REPORT_FEW))
			continue;
		own(r, x, 1);
		if (to != i)
			r->res[to] = *x;
		to++;
	}
	r->nres = to;
}

/* A million results need not stay in memory: raw goes to a file. */
static void
spill_raw(struct bm_report *r)
{
	if (r->raw.len > (1 << 20) && !r->spill_err) {
		if (!r->spill)
			r->spill = tmpfile();
		if (r->spill && fwrite(r->raw.s, 1, r->raw.len,
		    r->spill) == r->raw.len)
			bm_buf_reset(&r->raw);
		else if (r->spill)
			r->spill_err = errno ? errno : EIO;
	}
}

static int
add_result(struct bm_report *r, const cJSON *rec)
{
	const char *st = bm_json_str(rec, "status");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(rec, "error");
	struct bm_rres *x;
	char *why;

	if (!st || (strcmp(st, "pass") && strcmp(st, "fail") &&
	    strcmp(st, "error")))
		return -1;
	if (r->keep_raw) {	/* json writes the results as they are */
		if (r->nraw++)
			bm_buf_addc(&r->raw, ',');
		bm_json_put(&r->raw, rec);
		spill_raw(r);
		return 0;
	}
	x = res_add(r);
	x->status = st[0];
	x->run_id = atom(r, bm_json_str(rec, "run_id"));
	x->model = atom(r, bm_json_str(rec, "model"));
	x->benchmark = atom(r, bm_json_str(rec, "benchmark"));
	x->benchmark_id = atom(r, bm_json_str(rec, "benchmark_id"));
	x->variant = atom(r, bm_json_str(rec, "variant"));
	x->trial = longof(rec, "trial");
	x->repeat = longof(rec, "repeat");
	x->step = longof(rec, "step");
	x->latency_ms = bm_json_numor(rec, "latency_ms", NAN);
	if (cJSON_IsObject(err)) {
		x->error_class = atom(r, bm_json_str(err, "class"));
		x->error_message = atom(r, bm_json_str(err, "message"));
	}
	why = reasons(rec);
	x->reasons = atom(r, why);
	free(why);
	/* The tree's, until settle keeps it. */
	if (r->keep_output)
		x->output = bm_json_str(rec, "output");
	settle(r, r->nres - 1);
	return 0;
}

int
bm_report_add(struct bm_report *r, cJSON *rec)
{
	static const struct {
		const char *type;
		int kind;
		size_t off;
	} kinds[] = {
		{ "stat", BM_REC_STAT, offsetof(struct bm_report, stats) },
		{ "comparison", BM_REC_COMPARISON,
		    offsetof(struct bm_report, comparisons) },
		{ "regression", BM_REC_REGRESSION,
		    offsetof(struct bm_report, regressions) },
		{ "case_stat", BM_REC_CASE_STAT,
		    offsetof(struct bm_report, case_stats) },
		{ "run", BM_REC_RUN, offsetof(struct bm_report, runs) },
	};
	const char *type = bm_jsonl_type(rec);
	size_t i;

	if (type && strcmp(type, "result") == 0) {
		i = add_result(r, rec) == 0;
		cJSON_Delete(rec);
		r->ignored += !i;
		return i ? BM_REC_RESULT : BM_REC_OTHER;
	}
	for (i = 0; type && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(type, kinds[i].type) == 0) {
			cJSON_AddItemToArray(*(cJSON **)((char *)r +
			    kinds[i].off), rec);
			return kinds[i].kind;
		}
	}
	cJSON_Delete(rec);
	r->ignored++;
	return BM_REC_OTHER;
}

/* o's member k, or its element k when o is an array. */
static const cJSON *
member(const cJSON *o, const char *k, size_t n)
{
	const cJSON *c;
	long i;

	if (cJSON_IsArray(o)) {
		if (n == 0 || strspn(k, "0123456789") < n)
			return NULL;
		i = strtol(k, NULL, 10);
		return cJSON_GetArrayItem(o, (int)i);
	}
	cJSON_ArrayForEach(c, o)
		if (c->string && strlen(c->string) == n &&
		    memcmp(c->string, k, n) == 0)
			return c;
	return NULL;
}

int
bm_report_num(const cJSON *rec, const char *path, double *out)
{
	const cJSON *o = rec;
	const char *dot;

	for (;;) {
		dot = strchr(path, '.');
		o = member(o, path, dot ? (size_t)(dot - path) : strlen(path));
		if (!o || !dot)
			break;
		path = dot + 1;
	}
	if (!cJSON_IsNumber(o) || !isfinite(o->valuedouble))
		return 0;
	*out = o->valuedouble;
	return 1;
}

char *
bm_report_group(const cJSON *rec)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(rec, "group"), *v;
	struct bm_buf b = BM_BUF_INIT;
	char *s;

	cJSON_ArrayForEach(v, g) {
		if (b.len)
			bm_buf_addc(&b, '/');
		if (cJSON_IsString(v)) {
			bm_buf_adds(&b, v->valuestring);
		} else if (cJSON_IsNull(v)) {
			bm_buf_addc(&b, '-');
		} else {
			s = bm_json_print(v);
			bm_buf_adds(&b, s);
			free(s);
		}
	}
	if (!b.len)
		bm_buf_adds(&b, "all");
	return bm_buf_detach(&b, NULL);
}

void
bm_report_put_group(struct bm_buf *o, const cJSON *rec, const char *open,
    void (*put)(struct bm_buf *o, const char *text))
{
	char *g = bm_report_group(rec);

	bm_buf_adds(o, open);
	put(o, g);
	free(g);
}

char *
bm_report_case_name(const struct bm_rres *x)
{
	return xasprintf("%s/%ld/%ld/%ld", x->variant ? x->variant : "-",
	    (long)x->trial, (long)x->repeat, (long)x->step);
}

void
bm_report_pct(struct bm_buf *b, const cJSON *rec, const char *path)
{
	double v;

	if (bm_report_num(rec, path, &v))
		bm_buf_addf(b, "%.1f%%", 100 * v);
	else
		bm_buf_adds(b, "-");
}

int
bm_report_cmp_rate(const cJSON *s, double *b, double *a, double *d)
{
	if (!bm_report_num(s, "pass_rate.baseline", b) ||
	    !bm_report_num(s, "pass_rate.candidate", a))
		return 0;
	*d = *a - *b;
	bm_report_num(s, "pass_rate.delta", d);
	return 1;
}

void
bm_report_reg_rows(struct bm_buf *o, const cJSON *regs,
    const struct bm_report_row *row)
{
	static const char *const path[] = { "baseline", "current", "rel",
		"p_value" };
	const cJSON *s;
	const char *metric;
	double v;
	size_t i;
	int israte;

	cJSON_ArrayForEach(s, regs) {
		metric = bm_json_str(s, "metric");
		israte = metric && strcmp(metric, "pass_rate") == 0;
		bm_report_put_group(o, s, row->open, row->put);
		bm_buf_adds(o, row->sep);
		row->put(o, metric ? metric : row->no_metric);
		for (i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
			bm_buf_adds(o, row->cell[i]);
			if (!bm_report_num(s, path[i], &v))
				bm_buf_adds(o, row->none);
			else if (i == 2)
				bm_buf_addf(o, "%+.1f%%", 100 * v);
			else if (i == 3)
				bm_buf_addf(o, "%.3g", v);
			else if (israte)
				bm_buf_addf(o, "%.1f%%", 100 * v);
			else
				bm_buf_addf(o, "%.4g", v);
		}
		bm_buf_adds(o, row->close);
	}
}

char *
bm_report_verdict(const struct bm_report *r)
{
	struct bm_buf b = BM_BUF_INIT;
	const cJSON *s, *best = NULL, *reg;
	double v, bv = -1;
	long nreg = cJSON_GetArraySize(r->regressions), sig = 0;
	const char *metric;
	char *g;

	cJSON_ArrayForEach(s, r->comparisons) {
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(s,
		    "pass_rate");

		sig += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pr,
		    "significant"));
	}
	if (nreg > 0) {
		reg = r->regressions->child;
		g = bm_report_group(reg);
		metric = bm_json_str(reg, "metric");
		bm_buf_addf(&b, "FAIL: %ld regression%s (%s of %s", nreg,
		    nreg == 1 ? "" : "s", metric ? metric : "?", g);
		free(g);
		if (metric && strcmp(metric, "pass_rate") == 0) {
			bm_buf_adds(&b, ": ");
			bm_report_pct(&b, reg, "baseline");
			bm_buf_adds(&b, " \u2192 ");
			bm_report_pct(&b, reg, "current");
		}
		bm_buf_addf(&b, "%s)", nreg > 1 ? ", ..." : "");
		return bm_buf_detach(&b, NULL);
	}
	cJSON_ArrayForEach(s, r->stats) {
		if (bm_report_num(s, "pass_rate", &v) && v > bv) {
			bv = v;
			best = s;
		}
	}
	if (best) {
		g = bm_report_group(best);
		bm_buf_addf(&b, "OK: no regressions; best pass rate %.1f%% (%s)"
		    " of %d group%s", 100 * bv, g, cJSON_GetArraySize(r->stats),
		    cJSON_GetArraySize(r->stats) == 1 ? "" : "s");
		free(g);
	} else if (r->nall > 0) {
		bm_buf_addf(&b, "%s: %ld of %zu results passed, %ld failed, "
		    "%ld error%s", r->nfail || r->nerror ? "FAIL" : "OK",
		    r->npass, r->nall, r->nfail, r->nerror,
		    r->nerror == 1 ? "" : "s");
	} else if (r->comparisons->child) {
		bm_buf_addf(&b, "OK: no regressions in %d comparison%s",
		    cJSON_GetArraySize(r->comparisons),
		    cJSON_GetArraySize(r->comparisons) == 1 ? "" : "s");
	} else {
		bm_buf_adds(&b, "no records to report");
	}
	if (sig)
		bm_buf_addf(&b, "; %ld significant change%s", sig,
		    sig == 1 ? "" : "s");
	return bm_buf_detach(&b, NULL);
}

/* --- the database ---------------------------------------------------- */

/* The per-model figures of a stat record, for trends. */
static cJSON *
figures(const cJSON *stat)
{
	cJSON *o = cJSON_CreateObject();
	double v;

	if (bm_report_num(stat, "pass_rate", &v))
		cJSON_AddNumberToObject(o, "pass_rate", v);
	if (bm_report_num(stat, "latency_ms.p95", &v))
		cJSON_AddNumberToObject(o, "p95", v);
	if (bm_report_num(stat, "cost_usd", &v))
		cJSON_AddNumberToObject(o, "cost_usd", v);
	if (bm_report_num(stat, "n", &v))
		cJSON_AddNumberToObject(o, "n", v);
	return o;
}

/*
 * The runs of the history, newest first, as run records: bm-runs' own
 * (lib/history) with models counted, and the fields the report shows.
 */
static int
history_runs(struct bm_db *db, long n, const char *until, cJSON *out,
    struct bm_error *e)
{
	static const char *const keys[] = { "type", "id", "label",
		"started_at", "finished_at", "status", "git_sha", "host",
		"models", "cases", "pass", "fail", "error", "cancelled",
		"cost_usd" };
	struct bm_history_filter f = { n, NULL, NULL, NULL, until, 1 };
	cJSON *list, *rec, *run, *v;
	size_t i;

	if (!(list = bm_history_list(db, &f, e)))
		return -1;
	cJSON_ArrayForEach(rec, list) {
		run = cJSON_CreateObject();
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			v = cJSON_GetObjectItemCaseSensitive(rec, keys[i]);
			if (cJSON_IsArray(v))	/* models: their number */
				v = cJSON_CreateNumber(cJSON_GetArraySize(v));
			else
				v = v ? cJSON_Duplicate(v, 1) :
				    cJSON_CreateNull();
			cJSON_AddItemToObject(run, keys[i], v);
		}
		cJSON_AddItemToArray(out, run);
	}
	cJSON_Delete(list);
	return 0;
}

/* sql prepared with text bound to its first parameter; NULL and e. */
static struct bm_db_stmt *
prepare_with(struct bm_db *db, const char *sql, const char *text,
    struct bm_error *e)
{
	struct bm_db_stmt *st = bm_db_prepare(db, sql, e);

	if (st)
		bm_db_bind_text(st, 1, text);
	return st;
}

/* Fill h->models from run_models, then from the run's stats rows. */
static int
history_models(struct bm_db *db, struct bm_hrun *h, struct bm_error *e)
{
	const char *id = bm_json_str(h->run, "id");
	struct bm_db_stmt *st;
	cJSON *o, *key, *rec;
	const char *model;
	double pass, fail;
	int rc;

	h->models = cJSON_CreateObject();
	st = prepare_with(db, "SELECT model, pass, fail, cost_usd, results"
	    " FROM run_models WHERE run_id = ? ORDER BY model", id, e);
	if (!st)
		return -1;
	while ((rc = bm_db_step(st, e)) == 1) {
		o = cJSON_CreateObject();
		pass = (double)bm_db_col_int(st, 1);
		fail = (double)bm_db_col_int(st, 2);
		if (pass + fail > 0)
			cJSON_AddNumberToObject(o, "pass_rate",
			    pass / (pass + fail));
		cJSON_AddNumberToObject(o, "cost_usd",
		    bm_db_col_double(st, 3));
		cJSON_AddNumberToObject(o, "n",
		    (double)bm_db_col_int(st, 4));
		cJSON_AddItemToObject(h->models, bm_db_col_text(st, 0), o);
	}
	if (rc < 0)
		return -1;
	/* A stat grouped by model alone has the figures run_models lacks. */
	st = prepare_with(db, "SELECT group_key, record FROM stats"
	    " WHERE run_id = ? ORDER BY rowid", id, e);
	if (!st)
		return -1;
	while ((rc = bm_db_step(st, e)) == 1) {
		key = cJSON_Parse(bm_db_col_text(st, 0));
		model = bm_json_str(key, "model");
		if (model && cJSON_GetArraySize(key) == 1 &&
		    (rec = cJSON_Parse(bm_db_col_text(st, 1)))) {
			if (cJSON_HasObjectItem(h->models, model))
				cJSON_ReplaceItemInObjectCaseSensitive(
				    h->models, model, figures(rec));
			else
				cJSON_AddItemToObject(h->models, model,
				    figures(rec));
			cJSON_Delete(rec);
		}
		cJSON_Delete(key);
	}
	return rc < 0 ? -1 : 0;
}

/*
 * Run id's stored results into r->hres: what identifies a case, and its
 * status.  No answers: a page of a hundred runs could not hold them.
 * At most HRES_MAX in all: the heat map draws 5000 cases.
 */
#define HRES_MAX 250000

static int
history_results(struct bm_report *r, struct bm_db *db, const char *id,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	struct bm_rres *x;
	const char *status;
	int rc = 0;

	st = prepare_with(db, "SELECT benchmark_id, json_extract(record,"
	    " '$.benchmark'), model, variant, trial, repeat, step, status,"
	    " error_class, json_extract(record, '$.error.message')"
	    " FROM results WHERE run_id = ? ORDER BY rowid", id, e);
	if (!st)
		return -1;
	while (r->nhres < HRES_MAX && (rc = bm_db_step(st, e)) == 1) {
		status = bm_db_col_text(st, 7);
		if (!status || (strcmp(status, "pass") != 0 &&
		    strcmp(status, "fail") != 0 && strcmp(status, "error")))
			continue;
		if (r->nhres == r->caphres) {
			r->caphres = r->caphres ? 2 * r->caphres : 256;
			r->hres = xreallocarray(r->hres, r->caphres,
			    sizeof(*r->hres));
		}
		x = &r->hres[r->nhres++];
		memset(x, 0, sizeof(*x));
		x->run_id = atom(r, id);
		x->benchmark_id = atom(r, bm_db_col_text(st, 0));
		x->benchmark = atom(r, bm_db_col_text(st, 1));
		x->model = atom(r, bm_db_col_text(st, 2));
		x->variant = atom(r, bm_db_col_text(st, 3));
		x->trial = (int)bm_db_col_int(st, 4);
		x->repeat = (int)bm_db_col_int(st, 5);
		x->step = (int)bm_db_col_int(st, 6);
		x->status = status[0];
		x->error_class = atom(r, bm_db_col_text(st, 8));
		x->error_message = atom(r, bm_db_col_text(st, 9));
		x->latency_ms = NAN;
	}
	bm_db_reset(st);
	return rc < 0 ? -1 : 0;
}

int
bm_report_history(struct bm_report *r, struct bm_db *db, long n,
    const char *until, struct bm_error *e)
{
	cJSON *runs = cJSON_CreateArray(), *run;
	size_t k;
	int rc = -1;

	if (history_runs(db, n, until, runs, e) < 0)
		goto out;
	k = (size_t)cJSON_GetArraySize(runs);
	r->hist = xcalloc(k ? k : 1, sizeof(*r->hist));
	/* Oldest first, as a chart reads. */
	while ((run = cJSON_DetachItemFromArray(runs, 0)) != NULL) {
		r->hist[--k].run = run;
		r->nhist++;
	}
	for (k = 0; k < r->nhist; k++)
		if (history_models(db, &r->hist[k], e) < 0 ||
		    (r->keep_output && history_results(r, db,
		    bm_json_str(r->hist[k].run, "id"), e) < 0))
			goto out;
	rc = 0;
out:
	cJSON_Delete(runs);
	return rc;
}

int
bm_report_load_run(struct bm_report *r, struct bm_db *db, const char *run,
    struct bm_error *e)
{
	static const char *const sql[] = {
		"SELECT record FROM stats WHERE run_id = ? ORDER BY rowid",
		"SELECT record FROM results WHERE run_id = ? ORDER BY rowid",
	};
	struct bm_db_stmt *st;
	cJSON *rec;
	size_t i;
	int rc;

	for (i = 0; i < 2; i++) {
		if (!(st = prepare_with(db, sql[i], run, e)))
			return -1;
		while ((rc = bm_db_step(st, e)) == 1)
			if ((rec = cJSON_Parse(bm_db_col_text(st, 0))))
				bm_report_add(r, rec);
		if (rc < 0)
			return -1;
	}
	return 0;
}

long
bm_report_doc_line(const char *path, long doc)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0, cur = 0, found = 0;
	int content = 0;	/* the current document has content */

	if (!f)
		return 0;
	/*
	 * A "---" line after content starts the next document; a leading
	 * one opens document 0.  The answer is the document's first line
	 * that is neither blank nor a comment.
	 */
	while (!found && (len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (strncmp(line, "---", 3) == 0 && (len == 3 ||
		    strchr(" \t\r\n", line[3]))) {
			cur += content;
			content = 0;
			if (cur > doc)
				break;
			continue;
		}
		if (line[0] == '#' || strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if (cur == doc && !content)
			found = lineno;
		content = 1;
	}
	free(line);
	fclose(f);
	return found;
}

int
bm_report_locate(struct bm_report *r, struct bm_db *db, struct bm_error *e)
{
	struct bm_db_stmt *st;
	struct bm_where *w;
	size_t i;
	int rc;

	for (i = 0; i < r->nres; i++) {
		if (!r->res[i].benchmark_id || r->res[i].status == 'p' ||
		    bm_map_get(r->where, r->res[i].benchmark_id))
			continue;
		st = prepare_with(db, "SELECT path, doc FROM benchmarks"
		    " WHERE id = ?", r->res[i].benchmark_id, e);
		if (!st)
			return -1;
		w = xcalloc(1, sizeof(*w));
		rc = bm_db_step(st, e);
		if (rc == 1 && bm_db_col_text(st, 0)) {
			w->path = xstrdup(bm_db_col_text(st, 0));
			w->line = bm_report_doc_line(w->path,
			    bm_db_col_int(st, 1));
		}
		bm_db_reset(st);
		bm_map_put(r->where, r->res[i].benchmark_id, w);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void
bm_report_xml(struct bm_buf *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *run;

	/* 1: a byte that needs an entity (or U+FFFD, or ends s). */
	static const unsigned char esc[256] = {
		1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1
	};

	for (;;) {
		for (run = p; !esc[*p]; p++)
			;
		bm_buf_add(o, run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '&': bm_buf_adds(o, "&amp;"); break;
		case '<': bm_buf_adds(o, "&lt;"); break;
		case '>': bm_buf_adds(o, "&gt;"); break;
		case '"': bm_buf_adds(o, "&quot;"); break;
		case '\'': bm_buf_adds(o, "&#39;"); break;
		/* Not allowed in XML 1.0: shown as U+FFFD. */
		default: bm_buf_adds(o, "\xef\xbf\xbd");
		}
		p++;
	}
}

/*
 * The fast path for result lines: the fields the formats need are picked
 * out of the line with lib/scan.h, no tree is built.  The paths, in the
 * order of the spans bm_report_add_line reads.
 */
enum { L_TYPE, L_STATUS, L_RUN_ID, L_MODEL, L_BENCHMARK, L_BENCHMARK_ID,
	L_VARIANT, L_TRIAL, L_REPEAT, L_STEP, L_LATENCY, L_ERR_CLASS,
	L_ERR_MESSAGE, L_ASSERTIONS, L_OUTPUT, L_N };
static const char *const line_paths[L_N] = { "type", "status", "run_id",
	"model", "benchmark", "benchmark_id", "variant", "trial", "repeat",
	"step", "latency_ms", "error.class", "error.message", "assertions",
	"output" };
static const char *const assertion_paths[] = { "pass", "reason", "type" };

struct bm_report_scan {
	struct bm_scan *line;
	struct bm_scan *assertion;
	const char *last[L_N];	/* each field's last atom, its text ... */
	size_t lastlen[L_N];	/* ... this long (they repeat line by line) */
	char num[64], numout[64];	/* put_number's last number */
	size_t numlen;
	/*
	 * The last assertions array with a failure (they repeat too), as
	 * written, and its reasons' atom, when hasas.
	 */
	struct bm_buf as;
	const char *aswhy;
	int hasas;
};

/* Forget the last atoms: a worker's go with its block. */
static void
scan_forget(struct bm_report_scan *s)
{
	memset(s->last, 0, sizeof(s->last));
	s->hasas = 0;
}

struct bm_report_scan *
bm_report_scan_new(void)
{
	struct bm_report_scan *s = xcalloc(1, sizeof(*s));

	s->line = bm_scan_new(line_paths, L_N);
	s->assertion = bm_scan_new(assertion_paths, 3);
	return s;
}

void
bm_report_scan_free(struct bm_report_scan *s)
{
	if (!s)
		return;
	bm_scan_free(s->line);
	bm_scan_free(s->assertion);
	bm_buf_free(&s->as);
	free(s);
}

/*
 * A string span's text as cJSON decodes it (NUL-terminated, caller
 * frees), or NULL when the span is not a string.
 */
static char *
span_str(const struct bm_span *sp)
{
	cJSON *j;
	char *s;

	if (sp->kind != BM_SPAN_STRING)
		return NULL;
	if (!memchr(sp->p, '\\', sp->len))
		return xstrndup(sp->p + 1, sp->len - 2);
	if (!(j = cJSON_ParseWithLength(sp->p, sp->len)) ||
	    !cJSON_IsString(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	s = xstrdup(j->valuestring);
	cJSON_Delete(j);
	return s;
}

/* atom() of a string span, hashed in place when it has no escapes. */
static const char *
span_atom(struct bm_report *r, const struct bm_span *sp)
{
	const struct atom *t;
	const char *a;
	char *s;

	if (sp->kind != BM_SPAN_STRING)
		return NULL;
	if (!memchr(sp->p, '\\', sp->len) &&
	    (t = bm_map_getn(r->atoms, sp->p + 1, sp->len - 2)) != NULL)
		return t->s;
	s = span_str(sp);
	a = atom(r, s);
	free(s);
	return a;
}

/*
 * span_atom() of field k, with the field's last atom tried first: runs,
 * models, benchmarks and variants repeat from one line to the next.
 */
static const char *
field_atom(struct bm_report *r, struct bm_report_scan *s,
    const struct bm_span *f, int k)
{
	const struct bm_span *sp = &f[k];

	if (sp->kind != BM_SPAN_STRING)
		return NULL;
	if (s->last[k] && sp->len - 2 == s->lastlen[k] &&
	    memcmp(sp->p + 1, s->last[k], s->lastlen[k]) == 0 &&
	    !memchr(sp->p, '\\', sp->len))
		return s->last[k];
	s->last[k] = span_atom(r, sp);
	s->lastlen[k] = s->last[k] ? strlen(s->last[k]) : 0;
	return s->last[k];
}

/* A number span as cJSON reads it (strtod): 1 and *d, or 0. */
static int
span_double(const struct bm_span *sp, double *d)
{
	char *s;

	if (sp->kind != BM_SPAN_NUMBER)
		return 0;
	if (bm_span_num(sp, d))
		return 1;
	s = xstrndup(sp->p, sp->len);
	*d = strtod(s, NULL);
	free(s);
	return 1;
}

static int
span_long(const struct bm_span *sp)
{
	double d = 0;
	size_t i;
	int v = 0;

	/* The usual: a few digits (JSON has no leading zeros). */
	if (sp->kind == BM_SPAN_NUMBER && sp->len <= 9 &&
	    (sp->len == 1 || sp->p[0] != '0')) {
		for (i = 0; i < sp->len && sp->p[i] >= '0' &&
		    sp->p[i] <= '9'; i++)
			v = v * 10 + (sp->p[i] - '0');
		if (i == sp->len)
			return v;
	}
	span_double(sp, &d);
	return isfinite(d) && fabs(d) < 2147483648.0 ? (int)d : 0;
}

/*
 * The end of the JSON value that starts at p (the line is valid JSON, so
 * only strings and brackets need care).
 */
static const char *
value_end(const char *p, const char *end)
{
	int depth = 0;

	for (; p < end; p++) {
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			if (depth == 0)
				return p + 1;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth <= 0)
				return p + 1;
		} else if (depth == 0 && (*p == ',' || *p == ':' ||
		    *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
			return p;
		}
	}
	return end;
}

/* reasons() from an assertions span. */
static char *
span_reasons(struct bm_report_scan *s, const struct bm_span *as)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_span f[3];
	struct bm_buf b = BM_BUF_INIT;
	const char *p, *end, *v;
	char *why, *type;

	/* No "false" anywhere: no assertion failed. */
	if (as->kind != BM_SPAN_ARRAY || !memmem(as->p, as->len, "false", 5))
		return NULL;
	end = as->p + as->len - 1;	/* at the closing ']' */
	for (p = as->p + 1; p < end; p = v) {
		p += strspn(p, " \t\r\n,");
		if (p >= end)
			break;
		v = value_end(p, end);
		if (*p != '{' || bm_scan_line(s->assertion, p,
		    (size_t)(v - p), f, &e) < 0)
			continue;
		if (f[0].kind != BM_SPAN_LITERAL || f[0].len != 5 ||
		    memcmp(f[0].p, "false", 5) != 0)
			continue;
		why = span_str(&f[1]);
		type = span_str(&f[2]);
		add_reason(&b, why, type);
		free(why);
		free(type);
	}
	bm_error_clear(&e);
	return b.len ? bm_buf_detach(&b, NULL) : NULL;
}

/*
 * The atom of span_reasons(): the last array with a failure's again when
 * it repeats.
 */
static const char *
reasons_atom(struct bm_report *r, struct bm_report_scan *s,
    const struct bm_span *as)
{
	const char *a;
	char *why;

	if (as->kind != BM_SPAN_ARRAY)
		return NULL;
	if (s->hasas && as->len == s->as.len &&
	    memcmp(as->p, s->as.s, as->len) == 0)
		return s->aswhy;
	if (!(why = span_reasons(s, as)))
		return NULL;
	a = atom(r, why);
	free(why);
	bm_buf_reset(&s->as);
	bm_buf_add(&s->as, as->p, as->len);
	s->aswhy = a;
	s->hasas = 1;
	return a;
}

/* dst = src, cut to size. */
static void
copy_str(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * A decimal without exponent ("523.40", "-0.25"), at most 15 significant
 * digits and not below 1e-4: cJSON's "%1.15g" gives back its digits
 * without trailing zeros (and without the point when nothing is left
 * after it).  How many leading bytes of p to copy, or 0 for another
 * number.
 */
static size_t
plain_decimal(const char *p, size_t n)
{
	size_t i = p[0] == '-', dot, last, sig = 0, lead = 0;
	int nonzero = 0;

	if (i >= n || !(p[i] >= '0' && p[i] <= '9') ||
	    (p[i] == '0' && i + 1 < n && p[i + 1] != '.'))
		return 0;
	for (dot = i; dot < n && p[dot] >= '0' && p[dot] <= '9'; dot++)
		;
	if (dot >= n - 1 || p[dot] != '.')
		return 0;
	for (last = dot + 1; last < n; last++)
		if (!(p[last] >= '0' && p[last] <= '9'))
			return 0;
	for (last = n; p[last - 1] == '0'; last--)
		;
	for (; i < last; i++) {
		if (p[i] == '.')
			continue;
		if (p[i] != '0')
			nonzero = 1;
		if (nonzero)
			sig++;
		else if (i > dot)
			lead++;
	}
	if (!nonzero || sig > 15 || (p[dot - 1] == '0' && dot - 1 ==
	    (size_t)(p[0] == '-') && lead >= 4))
		return 0;
	return p[last - 1] == '.' ? last - 1 : last;
}

/* An integer below 1e15 that cJSON prints as it is written. */
static int
whole_text(const char *p, size_t n)
{
	size_t i = p[0] == '-', j;

	if (n - i < 1 || n - i > 15 || (p[i] == '0' && n - i > 1) ||
	    (n == 2 && i == 1 && p[1] == '0'))
		return 0;
	for (j = i; j < n; j++)
		if (p[j] < '0' || p[j] > '9')
			return 0;
	return 1;
}

/*
 * A number's text as bm_json_put prints the number cJSON reads from it:
 * plain integers as they are, others through strtod and the printer.
 */
static void
put_number(struct bm_report_scan *s, struct bm_buf *o, const char *p,
    size_t n)
{
	cJSON num;
	char txt[64], out[64];
	size_t k;
	double d;

	if (whole_text(p, n)) {
		bm_buf_add(o, p, n);
		return;
	}
	if ((k = plain_decimal(p, n)) > 0) {
		bm_buf_add(o, p, k);
		return;
	}
	/* Numbers repeat (costs): the last one printed is kept. */
	if (n == s->numlen && memcmp(p, s->num, n) == 0) {
		bm_buf_adds(o, s->numout);
		return;
	}
	if (n >= sizeof(txt))
		n = sizeof(txt) - 1;
	memcpy(txt, p, n);
	txt[n] = '\0';
	d = strtod(txt, NULL);
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d &&
	    !(d == 0 && signbit(d))) {
		bm_json_put_long(o, (long)d);
		return;
	}
	memset(&num, 0, sizeof(num));
	num.type = cJSON_Number;
	num.valuedouble = d;
	num.valueint = 0;
	if (d == 0 && signbit(d))
		copy_str(out, "-0", sizeof(out));
	else if (!cJSON_PrintPreallocated(&num, out, sizeof(out), 0))
		copy_str(out, "null", sizeof(out));
	bm_buf_adds(o, out);
	memcpy(s->num, txt, n);
	s->numlen = n;
	memcpy(s->numout, out, sizeof(out));
}

/*
 * How many of the 8 bytes at p come before the first '"', '\\' or byte
 * below 32 (8: none).  The tests for a zero byte and for a byte below n
 * of "Bit Twiddling Hacks", on 8 bytes at once: exact for the lowest
 * byte they flag (a borrow only goes up from a byte that is flagged).
 */
static int
special8(const char *p)
{
	const uint64_t one = 0x0101010101010101u;
	uint64_t w, q, b, m;

	memcpy(&w, p, sizeof(w));
	w = le64toh(w);
	q = w ^ (one * '"');
	b = w ^ (one * '\\');
	m = ((q - one) & ~q) | ((b - one) & ~b) | ((w - one * 32) & ~w);
	m &= one << 7;
	return m ? __builtin_ctzll(m) / 8 : 8;
}

/*
 * A valid JSON line, compact, as bm_json_put prints the tree cJSON
 * parses from it: blanks dropped, strings without escapes or control
 * bytes copied, others decoded and escaped again, numbers reprinted.
 */
static void
put_line(struct bm_report_scan *s, struct bm_buf *o, const char *p,
    size_t len)
{
	const char *end = p + len, *q, *from = p;
	struct bm_span sp;
	char *str;
	size_t k;
	int plain, i;

	/* Bytes that print as they are go out in runs from "from". */
	while (p < end) {
		if (*p == '"') {
			plain = 1;
			for (q = p + 1; q < end && *q != '"'; q++) {
				/* Plain bytes go 8 at a time. */
				if (end - q >= 8 && (i = special8(q)) > 0) {
					q += i - 1;
					continue;
				}
				if ((unsigned char)*q < 32)
					plain = 0;
				/*
				 * \" \\ \b \f \n \r \t print as they
				 * are; \/ and \uXXXX are decoded.
				 */
				else if (*q == '\\' && (!q[1] ||
				    !strchr("\"\\bfnrt", q[1])))
					plain = 0, q++;
				else if (*q == '\\')
					q++;
			}
			q++;
			if (!plain) {
				bm_buf_add(o, from, (size_t)(p - from));
				sp.p = p;
				sp.len = (size_t)(q - p);
				sp.kind = BM_SPAN_STRING;
				str = span_str(&sp);
				bm_json_put_str(o, str);
				free(str);
				from = q;
			}
			p = q;
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			for (q = p; q < end && ((*q >= '0' && *q <= '9') ||
			    *q == '.' || *q == '-' || *q == '+' || *q == 'e' ||
			    *q == 'E'); q++)
				;
			k = (size_t)(q - p);
			if (!whole_text(p, k) &&
			    plain_decimal(p, k) != k) {
				bm_buf_add(o, from, (size_t)(p - from));
				put_number(s, o, p, k);
				from = q;
			}
			p = q;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n') {
			bm_buf_add(o, from, (size_t)(p - from));
			from = ++p;
		} else {
			p++;
		}
	}
	bm_buf_add(o, from, (size_t)(p - from));
}

/* bm_report_add_line without spill_raw (a worker's report keeps raw). */
static int
add_line(struct bm_report *r, struct bm_report_scan *s, const char *line,
    size_t len)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_span f[L_N];
	struct bm_rres *x;
	char *why;
	double d;

	if (bm_scan_line(s->line, line, len, f, &e) < 0) {
		bm_error_clear(&e);
		return 0;
	}
	/* Escaped type or status: cJSON decodes them. */
	if (!bm_span_is(&f[L_TYPE], "result") || (f[L_STATUS].kind ==
	    BM_SPAN_STRING && memchr(f[L_STATUS].p, '\\', f[L_STATUS].len)))
		return 0;
	if (!bm_span_is(&f[L_STATUS], "pass") &&
	    !bm_span_is(&f[L_STATUS], "fail") &&
	    !bm_span_is(&f[L_STATUS], "error")) {
		r->ignored++;
		return 1;
	}
	if (r->keep_raw) {	/* json writes the results as they are */
		if (r->nraw++)
			bm_buf_addc(&r->raw, ',');
		put_line(s, &r->raw, line, len);
		return 1;
	}
	x = res_add(r);
	x->status = f[L_STATUS].p[1];
	x->model = field_atom(r, s, f, L_MODEL);
	x->latency_ms = span_double(&f[L_LATENCY], &d) ? d : NAN;
	if (r->keep_few && x->status == 'p')
		return 1;	/* counted, never shown one by one */
	x->benchmark = field_atom(r, s, f, L_BENCHMARK);
	/* junit names a case by its benchmark, and needs no run. */
	if (!r->junit || !x->benchmark)
		x->benchmark_id = field_atom(r, s, f, L_BENCHMARK_ID);
	if (!r->junit)
		x->run_id = field_atom(r, s, f, L_RUN_ID);
	x->variant = field_atom(r, s, f, L_VARIANT);
	x->trial = span_long(&f[L_TRIAL]);
	x->repeat = span_long(&f[L_REPEAT]);
	x->step = span_long(&f[L_STEP]);
	x->error_class = field_atom(r, s, f, L_ERR_CLASS);
	x->error_message = field_atom(r, s, f, L_ERR_MESSAGE);
	x->reasons = reasons_atom(r, s, &f[L_ASSERTIONS]);
	if (r->keep_output && f[L_OUTPUT].kind == BM_SPAN_STRING &&
	    !memchr(f[L_OUTPUT].p, '\\', f[L_OUTPUT].len)) {
		x->output = keep(r, f[L_OUTPUT].p + 1, f[L_OUTPUT].len - 2);
	} else if (r->keep_output && (why = span_str(&f[L_OUTPUT]))) {
		x->output = keep(r, why, strlen(why));
		free(why);
	}
	return 1;
}

int
bm_report_add_line(struct bm_report *r, struct bm_report_scan *s,
    const char *line, size_t len)
{
	size_t n = r->nres;
	int rc = add_line(r, s, line, len);

	if (rc && r->keep_raw)
		spill_raw(r);
	settle(r, n);
	return rc;
}

double
bm_report_secs(const struct bm_rres *x)
{
	return isfinite(x->latency_ms) && x->latency_ms > 0 ?
	    x->latency_ms / 1000 : 0;
}

int
bm_report_copy_raw(FILE *f, const struct bm_report *r,
    unsigned long long off, size_t len)
{
	char chunk[65536];
	off_t at = (off_t)off, end, spilled = 0;
	ssize_t n;
	size_t k;

	if (r->spill_err) {
		errno = r->spill_err;
		return -1;
	}
	if (r->spill && (fflush(r->spill) != 0 ||
	    (spilled = ftello(r->spill)) < 0))
		return -1;
	end = len == (size_t)-1 ? spilled + (off_t)r->raw.len :
	    (off_t)(off + len);
	if (at < spilled) {
		/* In the kernel (sendfile), else through a buffer. */
		if (fflush(f) != 0)
			return -1;
		while (at < end && (n = sendfile(fileno(f), fileno(r->spill),
		    &at, (size_t)(end - at))) > 0)
			;
		if (at < end && fseeko(r->spill, at, SEEK_SET) != 0)
			return -1;
		while (at < end && (k = fread(chunk, 1, (size_t)(end - at) <
		    sizeof(chunk) ? (size_t)(end - at) : sizeof(chunk),
		    r->spill)) > 0) {
			fwrite(chunk, 1, k, f);
			at += (off_t)k;
		}
		if (ferror(r->spill) || fseeko(r->spill, 0, SEEK_END) != 0)
			return -1;
	}
	if (at < end)
		fwrite(r->raw.s + (at - spilled), 1, (size_t)(end - at), f);
	return ferror(f) ? -1 : 0;
}

void
bm_report_long(struct bm_buf *o, long v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	if (v >= 0 && v < 10) {	/* trials, repeats, steps */
		bm_buf_addc(o, (int)('0' + v));
		return;
	}

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	bm_buf_add(o, p, (size_t)(d + sizeof(d) - p));
}

/*
 * json's blocks' record buffers, junit's per model, back from read_done
 * and reused by the workers: fresh ones cost a page fault each 4 kB, and
 * growing ones their copies.
 */
#define RPOOL 64
struct rpool {
	pthread_mutex_t mu;
	struct bm_buf buf[RPOOL];
	size_t n;
};

/*
 * bm_report_read: result lines on worker threads (lib/lines.h).  Each
 * worker fills a report of its own with one block's results at a time
 * (its atoms, its arena of answers: the block's until it is taken), and
 * notes the lines it left for the calling thread; that thread takes the
 * blocks in input order, makes the results it keeps the report's (own)
 * and hands it the lines left, in place.
 */
struct rworker {
	struct bm_report r;
	struct bm_report_scan *scan;
	struct rpool *pool;
};

/* A line a worker left, and what the block had before it. */
struct rslow {
	size_t off, len;	/* in the block */
	long line;		/* in the block, 1-based */
	size_t nres, rawlen, nraw;
};

/* junit: a block's <testcase>s of one model, in order. */
struct jslot {
	const char *model;
	struct bm_buf text;
	size_t from, to;	/* take_res's: its part of a segment, */
	size_t tidx;		/* ... the model's tally */
};

/* junit: where result i's element is: slot, offset, length. */
struct jref {
	size_t slot, off, len;
};

/* What a worker made of a block. */
struct rblock {
	struct bm_rres *res;
	size_t nres;
	struct jslot *slot;	/* junit */
	size_t nslot;
	struct jref *ref;
	struct bm_buf raw;	/* keep_raw: ",record" each */
	size_t nraw;
	long ignored;
	struct rslow *slow;
	size_t nslow;
	char **arena;		/* the worker's atoms and answers of it */
	size_t narena;
};

/* A buffer from the pool into b (empty), when it has one. */
static void
pool_take(struct rpool *p, struct bm_buf *b)
{
	pthread_mutex_lock(&p->mu);
	if (p->n) {
		*b = p->buf[--p->n];
		b->len = 0;
	}
	pthread_mutex_unlock(&p->mu);
}

/* b's memory into the pool (or freed); b is left empty. */
static void
pool_give(struct rpool *p, struct bm_buf *b)
{
	pthread_mutex_lock(&p->mu);
	if (b->s && p->n < RPOOL) {
		p->buf[p->n++] = *b;
		memset(b, 0, sizeof(*b));
	}
	pthread_mutex_unlock(&p->mu);
	bm_buf_free(b);
}

struct rread {
	struct bm_report *r;
	struct rpool *pool;
	int (*slow)(void *, struct bm_report *, long, char *, size_t);
	void *arg;
	int bad;
	size_t populated;	/* bytes of r->res surely there */
};

/* junit: each result's element, in a slot per model (a worker's). */
static void
junit_block(struct rblock *k, const struct bm_rres *res, size_t n,
    struct rpool *pool)
{
	struct jslot *sl = NULL;
	size_t i, j;

	k->ref = xcalloc(n ? n : 1, sizeof(*k->ref));
	for (i = 0; i < n; i++) {
		if (!sl || sl->model != res[i].model) {
			for (j = 0; j < k->nslot; j++)
				if (k->slot[j].model == res[i].model)
					break;
			if (j == k->nslot) {
				k->slot = xreallocarray(k->slot, j + 1,
				    sizeof(*k->slot));
				memset(&k->slot[j], 0, sizeof(k->slot[j]));
				pool_take(pool, &k->slot[j].text);
				k->slot[j].model = res[i].model;
				k->nslot++;
			}
			sl = &k->slot[j];
		}
		k->ref[i].slot = (size_t)(sl - k->slot);
		k->ref[i].off = sl->text.len;
		bm_render_junit_case(&sl->text, &res[i]);
		k->ref[i].len = sl->text.len - k->ref[i].off;
	}
}

/*
 * junit: results [from, to) of block k counted, and their elements
 * added to their models' in order: one piece per model.
 */
static void
junit_take(struct bm_report *r, struct rblock *k, size_t from, size_t to)
{
	struct jslot *sl;
	size_t i;

	for (i = 0; i < k->nslot; i++)
		k->slot[i].from = k->slot[i].to = 0;
	for (i = from; i < to; i++) {
		own(r, &k->res[i], 0);
		count(r, &k->res[i]);
		sl = &k->slot[k->ref[i].slot];
		if (sl->to == 0)
			sl->from = k->ref[i].off;
		sl->to = k->ref[i].off + k->ref[i].len;
		sl->tidx = r->tidx;
	}
	for (i = 0; i < k->nslot; i++) {
		sl = &k->slot[i];
		if (sl->to > sl->from)
			junit_add(r, &r->tally[sl->tidx], sl->text.s + sl->from,
			    sl->to - sl->from);
	}
}

static void
read_work(void *arg, struct bm_block *b)
{
	struct rworker *w = arg;
	struct bm_report *r = &w->r;
	struct rblock *k = xcalloc(1, sizeof(*k));
	struct rslow *sl;
	const char *line;
	size_t pos = 0, len;

	r->res = NULL;
	r->nres = r->capres = 0;
	r->nraw = 1;		/* a comma before every record */
	r->ignored = 0;
	scan_forget(w->scan);
	if (r->keep_raw) {	/* about the block's size, grown once */
		pool_take(w->pool, &r->raw);
		bm_buf_grow(&r->raw, b->len + b->len / 8);
	}
	while (bm_lines_next(b, &pos, &line, &len)) {
		if (bm_jsonl_blank(line, len) ||
		    add_line(r, w->scan, line, len))
			continue;
		k->slow = xreallocarray(k->slow, k->nslow + 1,
		    sizeof(*k->slow));
		sl = &k->slow[k->nslow++];
		sl->off = (size_t)(line - b->buf);
		sl->len = len;
		sl->line = b->nlines;
		sl->nres = r->nres;
		sl->rawlen = r->raw.len;
		sl->nraw = r->nraw - 1;
	}
	if (r->junit)
		junit_block(k, r->res, r->nres, w->pool);
	/*
	 * The block's results point at atoms and answers in the worker's
	 * arena: the block takes it, and the calling thread looks up in the
	 * report only what it keeps (own).  Atoms afresh for the next.
	 */
	k->arena = r->arena;
	k->narena = r->narena;
	r->arena = NULL;
	r->narena = r->arena_left = 0;
	r->arena_at = NULL;
	bm_map_free(r->atoms, NULL);
	r->atoms = bm_map_new();
	k->res = r->res;
	k->nres = r->nres;
	k->nraw = r->nraw - 1;
	k->raw = r->raw;
	memset(&r->raw, 0, sizeof(r->raw));
	k->ignored = r->ignored;
	r->res = NULL;
	b->data = k;
}


/*
 * Make sure the pages of r->res up to its n-th result are there: one
 * madvise for a block's results instead of a page fault for each 4 kB (a
 * million results are 96 MB).  *done: bytes made sure of so far.
 */
static void
populate(struct bm_report *r, size_t n, size_t *done)
{
#ifdef MADV_POPULATE_WRITE
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)r->res + *done, e;

	e = ((uintptr_t)r->res + n * sizeof(*r->res)) & ~(uintptr_t)(pg - 1);
	a = (a + pg - 1) & ~(uintptr_t)(pg - 1);
	if (e > a + 16 * pg &&
	    madvise((void *)a, e - a, MADV_POPULATE_WRITE) == 0)
		*done = e - (uintptr_t)r->res;
#else
	(void)r;
	(void)n;
	(void)done;
#endif
}

/* Results [from, to) of a block and its records for json. */
static void
take_res(struct bm_report *r, struct rblock *k, size_t from,
    size_t to, size_t rawfrom, size_t rawto, size_t nraw, size_t *done)
{
	if (rawto > rawfrom) {
		/* Each record has its comma: the first of all drops it. */
		rawfrom += r->nraw == 0;
		raw_add(r, k->raw.s + rawfrom, rawto - rawfrom);
		r->nraw += nraw;
	}
	if (to == from)
		return;
	if (r->junit) {
		junit_take(r, k, from, to);
		return;
	}
	if (r->nres + (to - from) > r->capres) {
		r->capres = r->capres ? 2 * r->capres : 256;
		if (r->capres < r->nres + (to - from))
			r->capres = r->nres + (to - from);
		r->res = xreallocarray(r->res, r->capres, sizeof(*r->res));
	}
	populate(r, r->nres + (to - from), done);
	memcpy(r->res + r->nres, k->res + from,
	    (to - from) * sizeof(*r->res));
	r->nres += to - from;
	settle(r, r->nres - (to - from));
}

static void
read_done(void *arg, struct bm_block *b)
{
	struct rread *rd = arg;
	struct rblock *k = b->data;
	size_t i, res = 0, raw = 0, nraw = 0;
	struct rslow *sl;

	for (i = 0; i < k->nslow; i++) {
		sl = &k->slow[i];
		take_res(rd->r, k, res, sl->nres, raw, sl->rawlen,
		    sl->nraw - nraw, &rd->populated);
		res = sl->nres;
		raw = sl->rawlen;
		nraw = sl->nraw;
		if (rd->slow(rd->arg, rd->r, b->first + sl->line,
		    b->buf + sl->off, sl->len) < 0)
			rd->bad = 1;
	}
	take_res(rd->r, k, res, k->nres, raw, k->raw.len, k->nraw - nraw,
	    &rd->populated);
	rd->r->ignored += k->ignored;
	for (i = 0; i < k->nslot; i++)
		pool_give(rd->pool, &k->slot[i].text);
	free(k->slot);
	free(k->ref);
	free(k->res);
	pool_give(rd->pool, &k->raw);
	free(k->slow);
	for (i = 0; i < k->narena; i++)
		free(k->arena[i]);
	free(k->arena);
	free(k);
}

int
bm_report_read(struct bm_report *r, int fd, const char *name, int threads,
    int (*slow)(void *, struct bm_report *, long, char *, size_t),
    void *arg, struct bm_error *e)
{
	struct rpool pool;
	struct rread rd = { r, &pool, slow, arg, 0,
	    r->nres * sizeof(*r->res) };
	struct bm_lines l;
	struct rworker *w;
	size_t i, nw = bm_lines_threads(threads);
	int rc;

	memset(&pool, 0, sizeof(pool));
	pthread_mutex_init(&pool.mu, NULL);
	memset(&l, 0, sizeof(l));
	w = xcalloc(nw, sizeof(*w));
	l.w = xcalloc(nw, sizeof(*l.w));
	for (i = 0; i < nw; i++) {
		bm_report_init(&w[i].r, NULL);
		w[i].r.local = 1;
		w[i].r.keep_output = r->keep_output;
		w[i].r.keep_raw = r->keep_raw;
		w[i].r.junit = r->junit;
		w[i].r.keep_few = r->keep_few;
		w[i].scan = bm_report_scan_new();
		w[i].pool = &pool;
		l.w[i] = &w[i];
	}
	l.nw = nw;
	l.work = read_work;
	l.done = read_done;
	l.arg = &rd;
	rc = bm_lines_read(&l, fd, name, NULL, NULL, e);
	for (i = 0; i < nw; i++) {
		/* Its atoms and answers went with its blocks. */
		bm_report_free(&w[i].r);
		bm_report_scan_free(w[i].scan);
	}
	free(l.w);
	free(w);
	while (pool.n)
		bm_buf_free(&pool.buf[--pool.n]);
	pthread_mutex_destroy(&pool.mu);
	return rc < 0 ? -1 : rd.bad;
}
