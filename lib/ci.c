/*
 * ci.c: bm-report's formats for CI tools: JUnit XML for test panels,
 * GitHub workflow annotations, Bencher Metric Format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"
#include "map.h"
#include "report.h"
#include "xalloc.h"

/* --- junit ----------------------------------------------------------- */

/*
 * s as "%.3f" prints it: by hand when s * 1000 is clearly not halfway
 * between two integers (the rounding is then the same), else printf.
 */
static void
put_secs(struct bm_buf *o, double s)
{
	double v = s * 1000, f;
	long m;

	if (!(v >= 0 && v < 1e9) ||
	    fabs((f = v - floor(v)) - 0.5) < 1e-6) {
		bm_buf_addf(o, "%.3f", s);
		return;
	}
	m = (long)floor(v) + (f > 0.5);
	bm_report_long(o, m / 1000);
	bm_buf_addc(o, '.');
	bm_buf_addc(o, (char)('0' + m / 100 % 10));
	bm_buf_addc(o, (char)('0' + m / 10 % 10));
	bm_buf_addc(o, (char)('0' + m % 10));
}

/* A string literal to o, without strlen (a million elements). */
#define ADDL(o, lit)	bm_buf_add((o), (lit), sizeof(lit) - 1)

/*
 * msg as the text of a failure or error element, whose type is written:
 * escaped once, for its message attribute and its text.
 */
static void
put_message(struct bm_buf *o, const char *msg, const char *close)
{
	size_t at, n;

	ADDL(o, "\" message=\"");
	at = o->len;
	bm_report_xml(o, msg);
	n = o->len - at;
	ADDL(o, "\">");
	/* Room first: adding from o's own bytes must not move them. */
	bm_buf_grow(o, n);
	bm_buf_add(o, o->s + at, n);
	bm_buf_adds(o, close);
}

void
bm_render_junit_case(struct bm_buf *o, const struct bm_rres *x)
{
	ADDL(o, "    <testcase classname=\"");
	bm_report_xml(o, x->benchmark ? x->benchmark :
	    x->benchmark_id ? x->benchmark_id : "-");
	/* bm_report_case_name(x), written in place. */
	ADDL(o, "\" name=\"");
	bm_report_xml(o, x->variant ? x->variant : "-");
	bm_buf_addc(o, '/');
	bm_report_long(o, x->trial);
	bm_buf_addc(o, '/');
	bm_report_long(o, x->repeat);
	bm_buf_addc(o, '/');
	bm_report_long(o, x->step);
	ADDL(o, "\" time=\"");
	put_secs(o, bm_report_secs(x));
	bm_buf_addc(o, '"');
	if (x->status == 'p') {
		ADDL(o, "/>\n");
		return;
	}
	ADDL(o, ">\n");
	if (x->status == 'f') {
		ADDL(o, "      <failure type=\"assertion");
		put_message(o, x->reasons ? x->reasons :
		    "an assertion failed", "</failure>\n");
	} else {
		ADDL(o, "      <error type=\"");
		bm_report_xml(o, x->error_class ? x->error_class : "error");
		put_message(o, x->error_message ? x->error_message :
		    x->error_class ? x->error_class : "error", "</error>\n");
	}
	ADDL(o, "    </testcase>\n");
}

int
bm_render_junit(FILE *f, const struct bm_report *r)
{
	const struct bm_report_tally *t;
	struct bm_buf o = BM_BUF_INIT;
	size_t k, i;

	bm_buf_adds(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites name=\"");
	bm_report_xml(&o, r->title);
	bm_buf_addf(&o, "\" tests=\"%zu\" failures=\"%ld\" errors=\"%ld\""
	    " time=\"%.3f\">\n", r->nall, r->nfail, r->nerror, r->secs);
	for (k = 0; k < r->ntally; k++) {
		t = &r->tally[k];
		bm_buf_adds(&o, "  <testsuite name=\"");
		bm_report_xml(&o, t->model);
		bm_buf_addf(&o, "\" tests=\"%ld\" failures=\"%ld\""
		    " errors=\"%ld\" skipped=\"0\" time=\"%.3f\">\n",
		    t->n, t->fail, t->error, t->secs);
		fwrite(o.s, 1, o.len, f);
		bm_buf_reset(&o);
		/* Its <testcase>s, as the reader wrote them. */
		for (i = 0; i < t->njunit; i++)
			if (bm_report_copy_raw(f, r, t->junit[i].off,
			    t->junit[i].len) < 0)
				goto out;
		bm_buf_adds(&o, "  </testsuite>\n");
	}
	bm_buf_adds(&o, "</testsuites>\n");
	fwrite(o.s, 1, o.len, f);
out:
	bm_buf_free(&o);
	return ferror(f) || k < r->ntally ? -1 : 0;
}

/* --- github ---------------------------------------------------------- */

/* A workflow command's message (prop = 0) or property value (prop = 1). */
static void
gh(struct bm_buf *o, const char *s, int prop)
{
	for (; s && *s; s++) {
		if (*s == '%')
			bm_buf_adds(o, "%25");
		else if (*s == '\r')
			bm_buf_adds(o, "%0D");
		else if (*s == '\n')
			bm_buf_adds(o, "%0A");
		else if (prop && *s == ':')
			bm_buf_adds(o, "%3A");
		else if (prop && *s == ',')
			bm_buf_adds(o, "%2C");
		else
			bm_buf_addc(o, *s);
	}
}

static void
gh_where(struct bm_buf *o, const struct bm_report *r, const char *id)
{
	const struct bm_where *w = id ? bm_map_get(r->where, id) : NULL;

	if (!w || !w->path)
		return;
	bm_buf_adds(o, "file=");
	gh(o, w->path, 1);
	if (w->line > 0)
		bm_buf_addf(o, ",line=%ld", w->line);
	bm_buf_addc(o, ',');
}

static void
gh_regression(struct bm_buf *o, const struct bm_report *r, const cJSON *s)
{
	const cJSON *grp = cJSON_GetObjectItemCaseSensitive(s, "group");
	const char *metric = bm_json_str(s, "metric");
	struct bm_buf m = BM_BUF_INIT;
	double b, a, v;
	char *g = bm_report_group(s);

	bm_buf_adds(o, "::error ");
	gh_where(o, r, bm_json_str(grp, "benchmark_id"));
	bm_buf_adds(o, "title=");
	bm_buf_addf(&m, "bm regression: %s", metric ? metric : "?");
	gh(o, bm_buf_str(&m), 1);
	bm_buf_reset(&m);
	bm_buf_addf(&m, "%s got worse", g);
	if (bm_report_num(s, "baseline", &b) &&
	    bm_report_num(s, "current", &a)) {
		if (metric && strcmp(metric, "pass_rate") == 0)
			bm_buf_addf(&m, ": %.1f%% \u2192 %.1f%%", 100 * b,
			    100 * a);
		else
			bm_buf_addf(&m, ": %.4g \u2192 %.4g", b, a);
	}
	if (bm_report_num(s, "rel", &v))
		bm_buf_addf(&m, " (%+.1f%%", 100 * v);
	if (bm_report_num(s, "p_value", &v))
		bm_buf_addf(&m, ", p=%.3g", v);
	if (bm_report_num(s, "rel", &v))
		bm_buf_addc(&m, ')');
	bm_buf_adds(o, "::");
	gh(o, bm_buf_str(&m), 0);
	bm_buf_addc(o, '\n');
	bm_buf_free(&m);
	free(g);
}

static void
gh_result(struct bm_buf *o, const struct bm_report *r,
    const struct bm_rres *x)
{
	struct bm_buf m = BM_BUF_INIT;
	char *name = bm_report_case_name(x);
	const char *what = x->benchmark ? x->benchmark : x->benchmark_id;

	bm_buf_adds(o, x->status == 'f' ? "::error " : "::warning ");
	gh_where(o, r, x->benchmark_id);
	bm_buf_addf(&m, "%s %s", what ? what : "?", x->status == 'f' ?
	    "failed" : "error");
	bm_buf_adds(o, "title=");
	gh(o, bm_buf_str(&m), 1);
	bm_buf_reset(&m);
	bm_buf_addf(&m, "%s %s: ", x->model ? x->model : "-", name);
	if (x->status == 'f')
		bm_buf_adds(&m, x->reasons ? x->reasons :
		    "an assertion failed");
	else
		bm_buf_addf(&m, "%s%s%s", x->error_class ? x->error_class :
		    "error", x->error_message ? ": " : "",
		    x->error_message ? x->error_message : "");
	bm_buf_adds(o, "::");
	gh(o, bm_buf_str(&m), 0);
	bm_buf_addc(o, '\n');
	bm_buf_free(&m);
	free(name);
}

int
bm_render_github(FILE *f, const struct bm_report *r, int max)
{
	struct bm_buf o = BM_BUF_INIT;
	const cJSON *s;
	long shown = 0, left, e = r->nerror;
	long nreg = cJSON_GetArraySize(r->regressions);
	size_t i;

	/*
	 * Regressions first, then failures, then errors (res keeps the
	 * first of each: keep_few).
	 */
	cJSON_ArrayForEach(s, r->regressions)
		if (shown < max)
			gh_regression(&o, r, s), shown++;
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < r->nres && shown < max; i++)
			if (r->res[i].status == (pass ? 'e' : 'f'))
				gh_result(&o, r, &r->res[i]), shown++;
		fwrite(o.s ? o.s : "", 1, o.len, f);
		bm_buf_reset(&o);
	}
	left = nreg + r->nfail + r->nerror - shown;
	bm_buf_addf(&o, "::notice title=bm::%zu results: %ld passed, "
	    "%ld failed, %ld error%s; %ld regression%s", r->nall, r->npass,
	    r->nfail, e, e == 1 ? "" : "s", nreg, nreg == 1 ? "" : "s");
	if (left)
		bm_buf_addf(&o, "; %ld more annotation%s not shown", left,
		    left == 1 ? "" : "s");
	bm_buf_addc(&o, '\n');
	fwrite(o.s, 1, o.len, f);
	bm_buf_free(&o);
	return ferror(f) ? -1 : 0;
}

/* --- bencher --------------------------------------------------------- */

static void
measure(cJSON *b, const char *name, const cJSON *s, const char *path,
    const char *lo, const char *hi)
{
	cJSON *m;
	double v, l, h;

	if (!bm_report_num(s, path, &v))
		return;
	m = cJSON_AddObjectToObject(b, name);
	cJSON_AddNumberToObject(m, "value", v);
	if (lo && hi) {
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(s, lo);

		if (cJSON_GetArraySize(ci) == 2 &&
		    cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)) &&
		    cJSON_IsNumber(cJSON_GetArrayItem(ci, 1))) {
			l = cJSON_GetArrayItem(ci, 0)->valuedouble;
			h = cJSON_GetArrayItem(ci, 1)->valuedouble;
			cJSON_AddNumberToObject(m, "lower_value", l);
			cJSON_AddNumberToObject(m, "upper_value", h);
		}
	}
}

int
bm_render_bencher(FILE *f, const struct bm_report *r)
{
	cJSON *doc = cJSON_CreateObject(), *b;
	const cJSON *s;
	char *g, *text;

	cJSON_ArrayForEach(s, r->stats) {
		g = bm_report_group(s);
		b = cJSON_CreateObject();
		measure(b, "pass-rate", s, "pass_rate", "pass_rate_ci", "");
		measure(b, "latency-p50", s, "latency_ms.p50", NULL, NULL);
		measure(b, "latency-p95", s, "latency_ms.p95", NULL, NULL);
		measure(b, "cost-usd", s, "cost_usd", NULL, NULL);
		/* A later group with the same name replaces the earlier. */
		if (cJSON_HasObjectItem(doc, g))
			cJSON_ReplaceItemInObjectCaseSensitive(doc, g, b);
		else
			cJSON_AddItemToObject(doc, g, b);
		free(g);
	}
	text = cJSON_Print(doc);
	fputs(text, f);
	fputc('\n', f);
	free(text);
	cJSON_Delete(doc);
	return ferror(f) ? -1 : 0;
}
