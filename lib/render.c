/*
 * render.c: bm-report's formats for people and scripts: console, md,
 * csv, json (ci.c has those for CI tools).  Each builds its output in a
 * buffer per record or per table and writes it to the stream; the caller
 * checks the stream.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"
#include "map.h"
#include "report.h"
#include "xalloc.h"

#define ARRLEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- shared helpers -------------------------------------------------- */

static int
done(FILE *f)
{
	return ferror(f) ? -1 : 0;
}

/* t's pass rate in percent with fmt; none when none passed or failed. */
static void
tally_rate(struct bm_buf *o, const struct bm_report_tally *t,
    const char *fmt, const char *none)
{
	if (t->pass + t->fail)
		bm_buf_addf(o, fmt, 100.0 * t->pass /
		    (double)(t->pass + t->fail));
	else
		bm_buf_adds(o, none);
}

/* Code points of s (a terminal column each; wide characters are rare). */
static size_t
width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* s in exactly w columns: cut with "…" or padded (left or right). */
static void
cell(struct bm_buf *o, const char *s, size_t w, int right)
{
	size_t n = width(s), k = 0;
	const char *p;

	if (n > w) {
		for (p = s; *p; p++) {
			if (((unsigned char)*p & 0xc0) != 0x80 && k++ == w - 1)
				break;
		}
		bm_buf_add(o, s, (size_t)(p - s));
		bm_buf_adds(o, "\u2026");
		return;
	}
	if (right)
		while (n++ < w)
			bm_buf_addc(o, ' ');
	bm_buf_adds(o, s);
	if (!right)
		while (n++ < w)
			bm_buf_addc(o, ' ');
}

/* A number with fmt, "-" when absent. */
static void
num(struct bm_buf *o, const cJSON *rec, const char *path, const char *fmt)
{
	double v;

	if (bm_report_num(rec, path, &v))
		bm_buf_addf(o, fmt, v);
	else
		bm_buf_adds(o, "-");
}

/* The names of the group's fields, "model/variant". */
static char *
group_fields(const cJSON *rec)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(rec, "group"), *v;
	struct bm_buf b = BM_BUF_INIT;

	cJSON_ArrayForEach(v, g) {
		if (b.len)
			bm_buf_addc(&b, '/');
		bm_buf_adds(&b, v->string);
	}
	if (!b.len)
		bm_buf_adds(&b, "group");
	return bm_buf_detach(&b, NULL);
}

static int
significant(const cJSON *cmp, const char *metric)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(cmp, metric);

	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m,
	    "significant"));
}

/* "tools vs baseline" of a comparison. */
static char *
versus(const cJSON *cmp)
{
	const char *c = bm_json_str(cmp, "candidate");
	const char *b = bm_json_str(cmp, "baseline");

	return xasprintf("%s vs %s", c ? c : "?", b ? b : "?");
}

/* --- console --------------------------------------------------------- */

#define GREEN "\033[32m"
#define RED "\033[31m"
#define BOLD "\033[1m"
#define DIM "\033[2m"
#define OFF "\033[0m"

static void
paint(struct bm_buf *o, const struct bm_console *c, const char *color,
    const char *s)
{
	if (c->color)
		bm_buf_addf(o, "%s%s%s", color, s, OFF);
	else
		bm_buf_adds(o, s);
}

/* A blank and then s in a cell of w columns (cell). */
static void
col(struct bm_buf *o, const char *s, size_t w, int right)
{
	bm_buf_addc(o, ' ');
	cell(o, s, w, right);
}

/* A bold heading line. */
static void
heading(struct bm_buf *o, const struct bm_console *c, const char *s)
{
	paint(o, c, BOLD, s);
	bm_buf_addc(o, '\n');
}

/* "GROUP WHAT" of record s, in a cell of w columns. */
static void
label(struct bm_buf *o, const cJSON *s, const char *what, size_t w)
{
	char *g = bm_report_group(s), *t = xasprintf("%s %s", g, what);

	cell(o, t, w, 0);
	free(t);
	free(g);
}

/*
 * A pass-rate bar of w cells: solid to the interval's low end, shaded to
 * the rate, light to the interval's high end.
 */
static void
rate_bar(struct bm_buf *o, double p, double lo, double hi, int w)
{
	double x;
	int i;

	for (i = 0; i < w; i++) {
		x = (i + 0.5) / w;
		if (x <= lo)
			bm_buf_adds(o, "\u2588");
		else if (x <= p)
			bm_buf_adds(o, "\u2593");
		else if (x <= hi)
			bm_buf_adds(o, "\u2591");
		else
			bm_buf_addc(o, ' ');
	}
}

/* A bar of v/max over w cells, in eighths. */
static void
bar(struct bm_buf *o, double v, double max, int w)
{
	static const char *const part[] = { "", "\u258f", "\u258e", "\u258d",
		"\u258c", "\u258b", "\u258a", "\u2589" };
	long e = max > 0 && v > 0 ? lround(v / max * w * 8) : 0;
	int i;

	for (i = 0; i < w; i++, e -= 8) {
		if (e >= 8)
			bm_buf_adds(o, "\u2588");
		else if (e > 0)
			bm_buf_adds(o, part[e]);
		else
			bm_buf_addc(o, ' ');
		if (e > 0 && e < 8)
			e = 0;
	}
}

/* Milliseconds as "812ms" or "12.3s". */
static void
ms(struct bm_buf *o, double v)
{
	if (v < 10000)
		bm_buf_addf(o, "%.0fms", v);
	else
		bm_buf_addf(o, "%.1fs", v / 1000);
}

static void
console_stats(struct bm_buf *o, const struct bm_report *r,
    const struct bm_console *c)
{
	const cJSON *s;
	struct bm_buf t = BM_BUF_INIT;
	double maxlat = 0, v, p, lo, hi;
	size_t nw = (size_t)c->width - 63;
	int ci;
	char *g;

	cJSON_ArrayForEach(s, r->stats)
		if (bm_report_num(s, "latency_ms.p95", &v) && v > maxlat)
			maxlat = v;
	g = group_fields(r->stats->child);
	cell(&t, g, nw, 0);
	free(g);
	col(&t, "n", 6, 1);
	col(&t, "pass rate (95% interval)", 30, 0);
	col(&t, "p95 latency", 14, 0);
	col(&t, "cost", 9, 1);
	paint(o, c, BOLD, bm_buf_str(&t));
	bm_buf_addc(o, '\n');
	cJSON_ArrayForEach(s, r->stats) {
		g = bm_report_group(s);
		cell(o, g, nw, 0);
		free(g);
		bm_buf_reset(&t);
		num(&t, s, "n", "%.0f");
		col(o, bm_buf_str(&t), 6, 1);
		bm_buf_addc(o, ' ');
		if (bm_report_num(s, "pass_rate", &p)) {
			lo = hi = p;
			ci = bm_report_num(s, "pass_rate_ci.0", &lo) &&
			    bm_report_num(s, "pass_rate_ci.1", &hi);
			rate_bar(o, p, lo, hi, 10);
			bm_buf_reset(&t);
			bm_buf_addf(&t, "%.1f%%", 100 * p);
			col(o, bm_buf_str(&t), 6, 1);
			bm_buf_reset(&t);
			if (ci)
				bm_buf_addf(&t, "[%.1f, %.1f]", 100 * lo,
				    100 * hi);
			col(o, bm_buf_str(&t), 12, 0);
		} else {
			cell(o, "", 10, 0);
			col(o, "-", 6, 1);
			col(o, "", 12, 0);
		}
		bm_buf_addc(o, ' ');
		if (bm_report_num(s, "latency_ms.p95", &v)) {
			bar(o, v, maxlat, 6);
			bm_buf_reset(&t);
			ms(&t, v);
			col(o, bm_buf_str(&t), 7, 1);
		} else {
			cell(o, "", 6, 0);
			col(o, "-", 7, 1);
		}
		bm_buf_reset(&t);
		if (bm_report_num(s, "cost_usd", &v))
			bm_buf_addf(&t, "$%.4f", v);
		else
			bm_buf_adds(&t, "-");
		col(o, bm_buf_str(&t), 9, 1);
		bm_buf_addc(o, '\n');
	}
	bm_buf_free(&t);
}

/* "▲ +8.0 pp *" for a pass-rate change, coloured by direction. */
static void
arrow(struct bm_buf *o, const struct bm_console *c, double d, int good,
    int sig, const char *text)
{
	struct bm_buf t = BM_BUF_INIT;

	bm_buf_addf(&t, "%s %s%s", d > 0 ? "\u25b2" : d < 0 ? "\u25bc" :
	    "=", text, sig ? " *" : "  ");
	if (d == 0)
		paint(o, c, "", bm_buf_str(&t));
	else
		paint(o, c, good ? GREEN : RED, bm_buf_str(&t));
	bm_buf_free(&t);
}

/* One comparison's row (t: scratch). */
static void
console_comparison(struct bm_buf *o, struct bm_buf *t,
    const struct bm_console *c, const cJSON *s)
{
	double b, a, d;
	char *vs = versus(s);

	label(o, s, vs, (size_t)c->width - 47);
	free(vs);
	if (bm_report_cmp_rate(s, &b, &a, &d)) {
		bm_buf_addf(t, "%5.1f%% \u2192 %5.1f%%", 100 * b, 100 * a);
		col(o, bm_buf_str(t), 16, 0);
		bm_buf_reset(t);
		bm_buf_addf(t, "%+5.1f pp", 100 * d);
		bm_buf_addc(o, ' ');
		arrow(o, c, d, d > 0, significant(s, "pass_rate"),
		    bm_buf_str(t));
	} else {
		col(o, "-", 29, 0);
	}
	bm_buf_reset(t);
	if (bm_report_num(s, "latency_ms.rel", &d)) {
		bm_buf_addf(t, "%+5.1f%%", 100 * d);
		bm_buf_adds(o, "  lat ");
		arrow(o, c, d, d < 0, significant(s, "latency_ms"),
		    bm_buf_str(t));
	}
}

/* One regression's row (t: scratch). */
static void
console_regression(struct bm_buf *o, struct bm_buf *t,
    const struct bm_console *c, const cJSON *s)
{
	const char *metric = bm_json_str(s, "metric");
	double b, a, p;

	metric = metric ? metric : "?";
	label(o, s, metric, (size_t)c->width - 40);
	if (bm_report_num(s, "baseline", &b) &&
	    bm_report_num(s, "current", &a)) {
		if (strcmp(metric, "pass_rate") == 0)
			bm_buf_addf(t, " %.1f%% \u2192 %.1f%%", 100 * b,
			    100 * a);
		else
			bm_buf_addf(t, " %.4g \u2192 %.4g", b, a);
	}
	if (bm_report_num(s, "rel", &p))
		bm_buf_addf(t, " (%+.1f%%)", 100 * p);
	if (bm_report_num(s, "p_value", &p))
		bm_buf_addf(t, " p=%.3g", p);
	paint(o, c, RED, "\u25bc");
	bm_buf_adds(o, bm_buf_str(t));
}

/*
 * A section after what o has (a blank line between): its heading, then
 * a row(o, scratch, c, record) line for each record of list.
 */
static void
console_section(struct bm_buf *o, const struct bm_console *c,
    const char *title, const cJSON *list, void (*row)(struct bm_buf *,
    struct bm_buf *, const struct bm_console *, const cJSON *))
{
	struct bm_buf t = BM_BUF_INIT;
	const cJSON *s;

	if (o->len)
		bm_buf_addc(o, '\n');
	heading(o, c, title);
	cJSON_ArrayForEach(s, list) {
		bm_buf_reset(&t);
		row(o, &t, c, s);
		bm_buf_addc(o, '\n');
	}
	bm_buf_free(&t);
}

static void
console_tally(struct bm_buf *o, const struct bm_report *r,
    const struct bm_console *c)
{
	const struct bm_report_tally *t = r->tally;
	size_t n = r->ntally, i, nw = (size_t)c->width - 45;
	struct bm_buf s = BM_BUF_INIT;

	cell(&s, "model", nw, 0);
	bm_buf_adds(&s, "       n    pass    fail   error  pass rate");
	paint(o, c, BOLD, bm_buf_str(&s));
	bm_buf_addc(o, '\n');
	for (i = 0; i < n; i++) {
		cell(o, t[i].model, nw, 0);
		bm_buf_addf(o, " %7ld %7ld %7ld %7ld", t[i].n, t[i].pass,
		    t[i].fail, t[i].error);
		tally_rate(o, &t[i], "  %8.1f%%\n", "          -\n");
	}
	bm_buf_free(&s);
}

int
bm_render_console(FILE *f, const struct bm_report *r,
    const struct bm_console *c0)
{
	struct bm_console c = *c0;
	struct bm_buf o = BM_BUF_INIT;
	char *v;

	if (c.width < 60)
		c.width = 60;
	if (r->stats->child)
		console_stats(&o, r, &c);
	else if (r->nall)
		console_tally(&o, r, &c);
	if (r->comparisons->child)
		console_section(&o, &c, "comparisons (* significant at 0.05)",
		    r->comparisons, console_comparison);
	if (r->regressions->child)
		console_section(&o, &c, "regressions", r->regressions,
		    console_regression);
	if (o.len)
		bm_buf_addc(&o, '\n');
	v = bm_report_verdict(r);
	paint(&o, &c, r->regressions->child ? BOLD RED : BOLD, v);
	bm_buf_addc(&o, '\n');
	free(v);
	fwrite(o.s, 1, o.len, f);
	bm_buf_free(&o);
	return done(f);
}

/* --- md -------------------------------------------------------------- */

/* Text in a table cell: Markdown punctuation escaped, one line. */
static void
md(struct bm_buf *o, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\n' || *s == '\r')
			bm_buf_addc(o, ' ');
		else if (*s == '<')
			bm_buf_adds(o, "&lt;");
		else if (*s == '&')
			bm_buf_adds(o, "&amp;");
		else if (strchr("\\|`*_[]#>~", *s))
			bm_buf_addc(o, '\\'), bm_buf_addc(o, *s);
		else
			bm_buf_addc(o, *s);
	}
}

static void
md_stats(struct bm_buf *o, const struct bm_report *r)
{
	static const char *const counts[] = { "n", "pass", "fail", "error" };
	static const char *const figs[] = { "latency_ms.p50", "%.0f",
		"latency_ms.p95", "%.0f", "cost_usd", "%.4f" };
	const cJSON *s, *ci;
	char *g = group_fields(r->stats->child);
	size_t i;

	bm_buf_adds(o, "| ");
	md(o, g);
	free(g);
	bm_buf_adds(o, " | n | pass | fail | error | pass rate | 95% CI |"
	    " p50 ms | p95 ms | cost USD |\n"
	    "|:--|--:|--:|--:|--:|--:|:--|--:|--:|--:|\n");
	cJSON_ArrayForEach(s, r->stats) {
		bm_report_put_group(o, s, "| ", md);
		for (i = 0; i < 4; i++) {
			bm_buf_adds(o, " | ");
			num(o, s, counts[i], "%.0f");
		}
		bm_buf_adds(o, " | ");
		bm_report_pct(o, s, "pass_rate");
		bm_buf_adds(o, " | ");
		ci = cJSON_GetObjectItemCaseSensitive(s, "pass_rate_ci");
		if (cJSON_GetArraySize(ci) == 2 &&
		    cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)))
			bm_buf_addf(o, "%.1f\u2013%.1f%%",
			    100 * cJSON_GetArrayItem(ci, 0)->valuedouble,
			    100 * cJSON_GetArrayItem(ci, 1)->valuedouble);
		else
			bm_buf_adds(o, "-");
		for (i = 0; i < ARRLEN(figs); i += 2) {
			bm_buf_adds(o, " | ");
			num(o, s, figs[i], figs[i + 1]);
		}
		bm_buf_adds(o, " |\n");
	}
}

static void
md_tally(struct bm_buf *o, const struct bm_report *r)
{
	const struct bm_report_tally *t = r->tally;
	size_t i;

	bm_buf_adds(o, "| model | n | pass | fail | error | pass rate |\n"
	    "|:--|--:|--:|--:|--:|--:|\n");
	for (i = 0; i < r->ntally; i++) {
		bm_buf_adds(o, "| ");
		md(o, t[i].model);
		bm_buf_addf(o, " | %ld | %ld | %ld | %ld | ", t[i].n,
		    t[i].pass, t[i].fail, t[i].error);
		tally_rate(o, &t[i], "%.1f%% |\n", "- |\n");
	}
}

/* "▲ +8.0 pp" or "▼ -3.1 pp", with " (significant)" in bold. */
static void
md_delta(struct bm_buf *o, double d, const char *unit, int sig)
{
	bm_buf_addf(o, "%s%s %+.1f%s%s", sig ? "**" : "",
	    d > 0 ? "\u25b2" : d < 0 ? "\u25bc" : "=", d, unit,
	    sig ? "**" : "");
}

static void
md_comparisons(struct bm_buf *o, const struct bm_report *r)
{
	const cJSON *s;
	double b, a, d, p;
	char *vs;

	bm_buf_adds(o, "\n### Comparisons\n\n"
	    "| group | candidate vs baseline | pass rate | \u0394 pass rate |"
	    " p | \u0394 latency |\n"
	    "|:--|:--|--:|--:|--:|--:|\n");
	cJSON_ArrayForEach(s, r->comparisons) {
		bm_report_put_group(o, s, "| ", md);
		vs = versus(s);
		bm_buf_adds(o, " | ");
		md(o, vs);
		bm_buf_adds(o, " | ");
		free(vs);
		if (bm_report_cmp_rate(s, &b, &a, &d)) {
			bm_buf_addf(o, "%.1f%% \u2192 %.1f%% | ", 100 * b,
			    100 * a);
			md_delta(o, 100 * d, " pp", significant(s,
			    "pass_rate"));
		} else {
			bm_buf_adds(o, "- | -");
		}
		bm_buf_adds(o, " | ");
		if (bm_report_num(s, "pass_rate.p_value", &p))
			bm_buf_addf(o, "%.3g", p);
		else
			bm_buf_adds(o, "-");
		bm_buf_adds(o, " | ");
		if (bm_report_num(s, "latency_ms.rel", &d))
			md_delta(o, 100 * d, "%", significant(s,
			    "latency_ms"));
		else
			bm_buf_adds(o, "-");
		bm_buf_adds(o, " |\n");
	}
}

static void
md_regressions(struct bm_buf *o, const struct bm_report *r)
{
	static const struct bm_report_row row = { "| ", " | ", "-",
		{ " | ", " | ", " | ", " | " }, "-", " |\n", md };

	bm_buf_adds(o, "\n### Regressions\n\n"
	    "| group | metric | baseline | current | change | p |\n"
	    "|:--|:--|--:|--:|--:|--:|\n");
	bm_report_reg_rows(o, r->regressions, &row);
}

#define MD_CASES 20	/* failed cases listed in md */

static void
md_failures(struct bm_buf *o, const struct bm_report *r)
{
	const struct bm_rres *x;
	size_t i, n = (size_t)(r->nfail + r->nerror), shown = 0;
	char *name;

	if (!n)
		return;
	bm_buf_adds(o, "\n### Failed cases\n\n"
	    "| benchmark | model | case | status | why |\n"
	    "|:--|:--|:--|:--|:--|\n");
	for (i = 0; i < r->nres && shown < MD_CASES; i++) {
		x = &r->res[i];
		if (x->status == 'p')
			continue;
		shown++;
		name = bm_report_case_name(x);
		bm_buf_adds(o, "| ");
		md(o, x->benchmark ? x->benchmark : x->benchmark_id ?
		    x->benchmark_id : "-");
		bm_buf_adds(o, " | ");
		md(o, x->model ? x->model : "-");
		bm_buf_adds(o, " | ");
		md(o, name);
		bm_buf_adds(o, x->status == 'f' ? " | fail | " : " | error | ");
		if (x->status == 'f')
			md(o, x->reasons ? x->reasons : "an assertion failed");
		else
			md(o, x->error_message ? x->error_message :
			    x->error_class ? x->error_class : "error");
		bm_buf_adds(o, " |\n");
		free(name);
	}
	if (n > shown)
		bm_buf_addf(o, "\n%zu more not shown.\n", n - shown);
}

int
bm_render_md(FILE *f, const struct bm_report *r)
{
	struct bm_buf o = BM_BUF_INIT;
	char *v;

	bm_buf_adds(&o, "## ");
	md(&o, r->title);
	bm_buf_adds(&o, "\n\n");
	if (r->stats->child)
		md_stats(&o, r);
	else if (r->nall)
		md_tally(&o, r);
	if (r->comparisons->child)
		md_comparisons(&o, r);
	if (r->regressions->child)
		md_regressions(&o, r);
	md_failures(&o, r);
	v = bm_report_verdict(r);
	bm_buf_adds(&o, o.len > 20 ? "\n**Verdict:** " : "**Verdict:** ");
	md(&o, v);
	bm_buf_addc(&o, '\n');
	free(v);
	fwrite(o.s, 1, o.len, f);
	bm_buf_free(&o);
	return done(f);
}

/* --- csv ------------------------------------------------------------- */

/*
 * The column order: type, the group's fields, then these (DESIGN.md §4
 * order of each record type), then any other field in order of first
 * appearance.  A column that no record has is left out.
 */
static const char *const csv_order[] = {
	"n", "pass", "fail", "error", "pass_rate", "pass_rate_ci.0",
	"pass_rate_ci.1",
	"latency_ms.mean", "latency_ms.sd", "latency_ms.min",
	"latency_ms.p25", "latency_ms.p50", "latency_ms.p75",
	"latency_ms.p90", "latency_ms.p95", "latency_ms.p99",
	"latency_ms.max",
	"ttft_ms.mean", "ttft_ms.sd", "ttft_ms.min", "ttft_ms.p25",
	"ttft_ms.p50", "ttft_ms.p75", "ttft_ms.p90", "ttft_ms.p95",
	"ttft_ms.p99", "ttft_ms.max",
	"usage.prompt_tokens", "usage.completion_tokens", "cost_usd",
	"score_mean", "f1.micro", "f1.macro",
	"errors.connection", "errors.timeout", "errors.rate_limit",
	"errors.server", "errors.auth", "errors.bad_request",
	"errors.context_length", "errors.parse", "errors.exec",
	"errors.judge", "errors.cancelled", "errors.config",
	"wall_ms", "throughput_rps",
	/* comparison */
	"field", "baseline", "candidate", "paired", "n_pairs",
	"pass_rate.baseline", "pass_rate.candidate", "pass_rate.delta",
	"pass_rate.rel", "pass_rate.p_value", "pass_rate.test",
	"pass_rate.significant",
	"latency_ms.baseline", "latency_ms.candidate", "latency_ms.delta",
	"latency_ms.rel", "latency_ms.p_value", "latency_ms.test",
	"latency_ms.significant",
	"prompt_tokens.baseline", "prompt_tokens.candidate",
	"prompt_tokens.delta", "prompt_tokens.rel", "prompt_tokens.p_value",
	"prompt_tokens.test", "prompt_tokens.significant",
	"completion_tokens.baseline", "completion_tokens.candidate",
	"completion_tokens.delta", "completion_tokens.rel",
	"completion_tokens.p_value", "completion_tokens.test",
	"completion_tokens.significant",
	"cost_usd.baseline", "cost_usd.candidate", "cost_usd.delta",
	"cost_usd.rel",
	/* regression */
	"metric", "current", "delta", "rel", "threshold_pct", "p_value",
	"test", "baseline_run", "run_id",
	/* case_stat */
	"benchmark_id", "benchmark", "variant", "trial", "model", "label",
	/* run */
	"id", "started_at", "finished_at", "status", "models", "cases",
	"cancelled", "git_sha", "environment", "host",
};

struct csv {
	struct bm_map *col;	/* name -> column index + 1 */
	char **names;
	size_t n;
};

static void
csv_col(struct csv *c, const char *name)
{
	if (bm_map_get(c->col, name))
		return;
	c->names = xreallocarray(c->names, c->n + 1, sizeof(char *));
	c->names[c->n] = xstrdup(name);
	bm_map_put(c->col, name, (void *)(++c->n));
}

/* Call fn(name, value) for each leaf of v under the dotted prefix. */
static void
flatten(const cJSON *v, struct bm_buf *name,
    void (*fn)(const char *, const cJSON *, void *), void *arg)
{
	const cJSON *c;
	size_t len = name->len, i = 0;
	int split = cJSON_IsObject(v);

	/* A short array of numbers (an interval) gets a column each. */
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) <= 4) {
		split = 1;
		cJSON_ArrayForEach(c, v)
			split &= cJSON_IsNumber(c);
	}
	if (!split) {
		/* Any other array is one cell of JSON. */
		fn(bm_buf_str(name), v, arg);
		return;
	}
	cJSON_ArrayForEach(c, v) {
		if (len)
			bm_buf_addc(name, '.');
		if (cJSON_IsArray(v))
			bm_buf_addf(name, "%zu", i++);
		else
			bm_buf_adds(name, c->string);
		flatten(c, name, fn, arg);
		name->len = len;
		name->s[len] = '\0';
	}
}

static void
see(const char *name, const cJSON *v, void *arg)
{
	if (cJSON_IsNull(v) || strncmp(name, "group.", 6) == 0 ||
	    bm_map_get(arg, name))
		return;
	bm_map_put(arg, name, (void *)1);
}

static void
see_group(const char *name, const cJSON *v, void *arg)
{
	if (!cJSON_IsNull(v) && strncmp(name, "group.", 6) == 0)
		csv_col(arg, name);
}

static void
see_any(const char *name, const cJSON *v, void *arg)
{
	if (!cJSON_IsNull(v))
		csv_col(arg, name);
}

struct csv_row {
	struct csv *c;
	char **cells;
};

static void
fill(const char *name, const cJSON *v, void *arg)
{
	struct csv_row *row = arg;
	size_t k = (size_t)bm_map_get(row->c->col, name);

	if (!k || cJSON_IsNull(v))
		return;
	free(row->cells[k - 1]);
	if (cJSON_IsString(v))
		row->cells[k - 1] = xstrdup(v->valuestring);
	else
		row->cells[k - 1] = bm_json_print(v);
}

static void
csv_field(struct bm_buf *o, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		bm_buf_adds(o, s);
		return;
	}
	bm_buf_addc(o, '"');
	for (; *s; s++) {
		if (*s == '"')
			bm_buf_addc(o, '"');
		bm_buf_addc(o, *s);
	}
	bm_buf_addc(o, '"');
}

int
bm_render_csv(FILE *f, const struct bm_report *r)
{
	const cJSON *const kinds[] = { r->stats, r->comparisons,
		r->regressions, r->case_stats, r->runs };
	struct csv c = { bm_map_new(), NULL, 0 };
	struct bm_map *seen = bm_map_new();
	struct bm_buf name = BM_BUF_INIT, o = BM_BUF_INIT;
	struct csv_row row = { &c, NULL };
	const cJSON *s;
	size_t k, i;

	csv_col(&c, "type");
	for (k = 0; k < ARRLEN(kinds); k++) {
		cJSON_ArrayForEach(s, kinds[k]) {
			flatten(s, &name, see_group, &c);
			flatten(s, &name, see, seen);
		}
	}
	for (i = 0; i < ARRLEN(csv_order); i++)
		if (bm_map_get(seen, csv_order[i]))
			csv_col(&c, csv_order[i]);
	/* The rest, in order of first appearance. */
	for (k = 0; k < ARRLEN(kinds); k++)
		cJSON_ArrayForEach(s, kinds[k])
			flatten(s, &name, see_any, &c);
	for (i = 0; i < c.n; i++) {
		if (i)
			bm_buf_addc(&o, ',');
		csv_field(&o, c.names[i]);
	}
	bm_buf_adds(&o, "\r\n");
	row.cells = xcalloc(c.n, sizeof(char *));
	for (k = 0; k < ARRLEN(kinds); k++) {
		cJSON_ArrayForEach(s, kinds[k]) {
			bm_buf_reset(&name);
			flatten(s, &name, fill, &row);
			for (i = 0; i < c.n; i++) {
				if (i)
					bm_buf_addc(&o, ',');
				csv_field(&o, row.cells[i]);
				free(row.cells[i]);
				row.cells[i] = NULL;
			}
			bm_buf_adds(&o, "\r\n");
		}
		fwrite(o.s, 1, o.len, f);
		bm_buf_reset(&o);
	}
	fwrite(bm_buf_str(&o), 1, o.len, f);
	free(row.cells);
	for (i = 0; i < c.n; i++)
		free(c.names[i]);
	free(c.names);
	bm_map_free(c.col, NULL);
	bm_map_free(seen, NULL);
	bm_buf_free(&name);
	bm_buf_free(&o);
	return done(f);
}

/* --- json ------------------------------------------------------------ */

static void
json_hist(struct bm_buf *o, const struct bm_report *r)
{
	size_t i;
	cJSON *run;

	for (i = 0; i < r->nhist; i++) {
		if (i)
			bm_buf_addc(o, ',');
		run = cJSON_Duplicate(r->hist[i].run, 1);
		cJSON_AddItemReferenceToObject(run, "by_model",
		    r->hist[i].models);
		bm_json_put(o, run);
		cJSON_Delete(run);
	}
}

int
bm_render_json(FILE *f, const struct bm_report *r)
{
	const struct {
		const char *name;
		const cJSON *a;
	} kinds[] = {
		{ "run", r->runs }, { "stat", r->stats },
		{ "comparison", r->comparisons },
		{ "regression", r->regressions },
		{ "case_stat", r->case_stats },
	};
	struct bm_buf o = BM_BUF_INIT;
	size_t k;

	bm_buf_adds(&o, "{\"title\":");
	bm_json_put_str(&o, r->title);
	for (k = 0; k < ARRLEN(kinds); k++) {
		bm_buf_addf(&o, ",\"%s\":", kinds[k].name);
		bm_json_put(&o, kinds[k].a);
	}
	fwrite(o.s, 1, o.len, f);
	fputs(",\"result\":[", f);
	/* The results: all of raw, the spill file first. */
	if (bm_report_copy_raw(f, r, 0, (size_t)-1) < 0)
		return -1;
	bm_buf_reset(&o);
	bm_buf_adds(&o, "],\"history\":[");
	json_hist(&o, r);
	bm_buf_adds(&o, "]}\n");
	fwrite(o.s, 1, o.len, f);
	bm_buf_free(&o);
	return done(f);
}
