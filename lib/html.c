/*
 * html.c: bm-report's dashboard, one self-contained HTML file in ASCII.
 * Every chart but the heat map is SVG written here; the page's small
 * script switches tabs, sorts the runs table, builds the heat map from
 * the JSON embedded in the page when its tab is first shown and shows a
 * cell's answers.  A Content-Security-Policy forbids every request, and
 * every text from a record goes through bm_report_xml here, or the
 * page's own escape.
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

#define CELL 14			/* heat-map cell, px */
#define LABEL_W 280		/* heat-map label column, px */
#define LABEL_MAX 44		/* bytes of a heat-map label shown */
#define STR_(x) #x
#define STR(x) STR_(x)

static const char css[] =
":root{--bg:#fff;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;"
"--pass:#1a7f37;--fail:#cf222e;--err:#9a6700;--bar:#0969da;"
"--track:#eef1f4;--alt:#f6f8fa}\n"
"@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;"
"--mute:#9198a1;--line:#3d444d;--pass:#3fb950;--fail:#f85149;"
"--err:#d29922;--bar:#4493f8;--track:#262c36;--alt:#151b23}}\n"
"*{box-sizing:border-box}\n"
"body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
"sans-serif;background:var(--bg);color:var(--fg)}\n"
"header,main,nav{max-width:1200px;margin:0 auto;padding:0 12px}\n"
"h1{font-size:1.35em;margin:14px 0 2px;overflow-wrap:anywhere}\n"
"h2{font-size:1.1em;margin:16px 0 6px}\n"
".verdict{margin:0 0 10px;color:var(--mute)}\n"
".verdict.bad{color:var(--fail);font-weight:600}\n"
"nav{display:flex;flex-wrap:wrap;gap:2px;border-bottom:1px solid "
"var(--line)}\n"
"[role=tab]{font:inherit;background:none;border:0;border-bottom:2px "
"solid transparent;color:var(--fg);padding:8px 10px;cursor:pointer}\n"
"[role=tab][aria-selected=true]{border-bottom-color:var(--bar);"
"font-weight:600}\n"
"[role=tab]:focus-visible,[role=tabpanel]:focus-visible,th button:"
"focus-visible{outline:2px solid var(--bar);outline-offset:1px}\n"
"[role=tabpanel]{padding:8px 0 24px}\n"
".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}\n"
"table{border-collapse:collapse;width:100%;"
"font-variant-numeric:tabular-nums}\n"
"th,td{padding:5px 8px;border-bottom:1px solid var(--line);"
"text-align:left;white-space:nowrap;vertical-align:middle}\n"
"thead th{font-weight:600;color:var(--mute);font-size:.92em}\n"
"tbody tr:nth-child(even){background:var(--alt)}\n"
"td.n,th.n{text-align:right}\n"
"th[scope=row]{font-weight:500;max-width:22em;overflow:hidden;"
"text-overflow:ellipsis}\n"
"th button{font:inherit;color:inherit;background:none;border:0;"
"padding:0;cursor:pointer}\n"
"th[aria-sort=ascending] button::after{content:' \\25b2'}\n"
"th[aria-sort=descending] button::after{content:' \\25bc'}\n"
"svg.bar{width:140px;height:14px;vertical-align:middle;"
"margin-right:6px}\n"
".track{fill:var(--track)}.pr{fill:var(--bar)}.lat{fill:#8250df}"
".cost{fill:#bf8700}\n"
".ci{stroke:var(--fg);stroke-width:1.5}\n"
".up{color:var(--pass)}.down{color:var(--fail)}.sig{font-weight:700}\n"
".chart{width:100%;height:220px;display:block;background:var(--alt);"
"border:1px solid var(--line)}\n"
".chart path{fill:none;stroke-width:2}\n"
".axis{display:flex;justify-content:space-between;color:var(--mute);"
"font-size:.85em}\n"
".legend{display:flex;flex-wrap:wrap;gap:4px 14px;padding:0;"
"list-style:none;font-size:.9em}\n"
".legend i{display:inline-block;width:14px;height:3px;"
"vertical-align:middle;margin-right:4px}\n"
"#cells rect{width:14px;height:14px;stroke:var(--bg);stroke-width:1;"
"cursor:pointer}\n"
"#heat text{fill:var(--fg);font-size:11px}\n"
"#heat .fl{fill:var(--err);font-weight:700}\n"
"rect.p{fill:var(--pass)}rect.f{fill:var(--fail)}rect.e{fill:var(--err)}"
"\n"
"rect.sel{stroke:var(--fg);stroke-width:2}\n"
"#cells rect:focus{outline:none}\n"
"#cells rect:focus-visible{stroke:var(--fg);stroke-width:3}\n"
"#cell-info{border:1px solid var(--line);padding:8px 12px;margin-top:10px;"
"min-height:3em}\n"
"#cell-info pre{white-space:pre-wrap;overflow-wrap:anywhere;"
"background:var(--alt);padding:6px;margin:4px 0 10px}\n"
".key span{display:inline-block;width:12px;height:12px;"
"vertical-align:middle;margin:0 4px 0 10px}\n"
".muted{color:var(--mute)}\n"
"@media (max-width:640px){body{font-size:13px}"
"th,td{padding:4px 5px}th[scope=row]{max-width:9em}"
"header,main,nav{padding:0 8px}"
"#snap thead{display:none}#snap tr{display:block;padding:6px 0;"
"border-bottom:1px solid var(--line)}#snap th,#snap td{display:block;"
"border:0;padding:2px 4px;max-width:none;white-space:normal;"
"text-align:left}#snap td::before{content:attr(data-l);"
"display:inline-block;width:5.5em;color:var(--mute)}}\n";

static const char js[] =
"(function(){\n"
"var tabs=[].slice.call(document.querySelectorAll('[role=tab]'));\n"
/* The embedded data, parsed when first needed (not at load). */
"var data=null;function D(){return data||(data=JSON.parse("
"document.getElementById('bm-data').textContent));}\n"
"function xe(s){return String(s).replace(/[&<>\"']/g,function(c){"
"return '&#'+c.charCodeAt(0)+';';});}\n"
/* At most m bytes of UTF-8, cut on a character, then an ellipsis. */
"function clip(s,m){var b=new TextEncoder().encode(s);if(b.length<=m)"
"return s;while(m>0&&(b[m]&192)===128)m--;"
"return new TextDecoder().decode(b.subarray(0,m))+'\\u2026';}\n"
/*
 * The heat map, built from the data when its tab is first shown: the
 * n-th rect of #cells is data.cells[n].
 */
"function heatmap(){var box=document.getElementById('heat-box');"
"if(!box||box.firstChild)return;var d=D(),L=" STR(LABEL_W) ",C=" STR(CELL)
",w=L+d.runs.length*C+4,h=18+d.cases.length*C,s=['<svg id=\"heat\" "
"width=\"'+w+'\" height=\"'+h+'\" viewBox=\"0 0 '+w+' '+h+'\" "
"role=\"img\" aria-label=\"cases by run\">'];"
"d.runs.forEach(function(r,k){s.push('<text x=\"'+(L+k*C+(C>>1))+"
"'\" y=\"12\" text-anchor=\"middle\">'+(k+1)+'<title>'+xe(r)+"
"'</title></text>');});d.cases.forEach(function(c,k){var l=clip(c[0],"
STR(LABEL_MAX) ");s.push('<text x=\"'+(L-6)+'\" y=\"'+(29+k*C)+"
"'\" text-anchor=\"end\"'+(c[1]?' class=\"fl\">\\u25c6 ':'>')+xe(l)+"
"(l!==c[0]?'<title>'+xe(c[0])+'</title>':'')+'</text>');});"
"s.push('<g id=\"cells\">');d.cells.forEach(function(c){"
"s.push('<rect class=\"'+c[2]+'\" x=\"'+(L+c[1]*C)+'\" y=\"'+"
"(18+c[0]*C)+'\"/>');});s.push('</g></svg>');box.innerHTML=s.join('');}\n"
"function lazy(p){if(p.id==='p-cases'){heatmap();cellkeys();}}\n"
/* One heat-map cell in the tab order (roving tabindex: arrows move). */
"function cellkeys(){var g=document.getElementById('cells');"
"if(!g||g.getAttribute('data-keys'))return;g.setAttribute('data-keys',1);"
"[].forEach.call(g.children,function(r,i){r.tabIndex=i?-1:0;"
"r.setAttribute('role','button');});}\n"
"function show(t,focus){tabs.forEach(function(x){var on=x===t,"
"p=document.getElementById(x.getAttribute('aria-controls'));"
"x.setAttribute('aria-selected',on?'true':'false');x.tabIndex=on?0:-1;"
"p.hidden=!on;if(on)lazy(p);});if(focus)t.focus();}\n"
"tabs.forEach(function(t,i){t.addEventListener('click',function(){"
"show(t);});t.addEventListener('keydown',function(e){var n=tabs.length,"
"j={ArrowRight:i+1,ArrowLeft:i-1+n,Home:0,End:n-1}[e.key];"
"if(j===undefined)return;e.preventDefault();show(tabs[j%n],true);});});\n"
"var t0=document.getElementById('t-'+location.hash.slice(1));"
"if(t0)show(t0);\n"
"[].forEach.call(document.querySelectorAll('table.sortable th button'),"
"function(b){b.addEventListener('click',function(){var th=b.parentNode,"
"tb=th.parentNode.parentNode.parentNode.tBodies[0],i=th.cellIndex,"
"asc=th.getAttribute('aria-sort')!=='ascending';"
"[].forEach.call(th.parentNode.cells,function(x){"
"x.removeAttribute('aria-sort');});"
"th.setAttribute('aria-sort',asc?'ascending':'descending');"
"var rows=[].slice.call(tb.rows);rows.sort(function(a,c){"
"var x=a.cells[i].getAttribute('data-v'),y=c.cells[i].getAttribute("
"'data-v'),nx=parseFloat(x),ny=parseFloat(y),d=(!isNaN(nx)&&!isNaN(ny))?"
"nx-ny:String(x).localeCompare(String(y));return asc?d:-d;});"
"rows.forEach(function(r){tb.appendChild(r);});});});\n"

"var heat=document.getElementById('heat-box'),sel=null,"
"names={p:'pass',f:'fail',e:'error'};\n"
"function el(p,tag,text,cls){var x=document.createElement(tag);"
"if(text!==null&&text!==undefined)x.textContent=text;if(cls)"
"x.className=cls;p.appendChild(x);return x;}\n"
"function cellof(e){var g=e.target.parentNode;"
"return g&&g.id==='cells'?e.target:null;}\n"
"if(heat)heat.addEventListener('keydown',function(e){var r=cellof(e);"
"if(!r)return;var g=r.parentNode,n=g.children.length,"
"k=[].indexOf.call(g.children,r);if(e.key==='Enter'||e.key===' '){"
"e.preventDefault();open(r);return;}"
"var j={ArrowRight:k+1,ArrowDown:k+1,ArrowLeft:k-1,ArrowUp:k-1,Home:0,"
"End:n-1}[e.key];if(j===undefined||j<0||j>=n)return;e.preventDefault();"
"r.tabIndex=-1;g.children[j].tabIndex=0;g.children[j].focus();});\n"
"if(heat)heat.addEventListener('click',function(e){"
"var r=cellof(e);if(r)open(r);});\n"
"function open(r){var g=r.parentNode,k=[].indexOf.call(g.children,r);"
"if(sel)sel.classList.remove('sel');sel=r;"
"sel.classList.add('sel');var data=D(),c=data.cells[+k],"
"info=document.getElementById('cell-info');info.textContent='';"
"el(info,'h3',data.cases[c[0]][0]);el(info,'p','run '+data.runs[c[1]],"
"'muted');c[3].forEach(function(x){el(info,'h4',names[x[0]]+"
"(x[3]?' \\u2014 '+x[3]:''));if(x[2]){var ul=el(info,'ul');"
"el(ul,'li',x[2]);}if(x[1]!==null)el(info,'pre',x[1]);});}\n"
"})();\n";

/* --- small writers --------------------------------------------------- */

static void
esc(struct bm_buf *o, const char *s)
{
	bm_report_xml(o, s);
}

/*
 * The code point of the UTF-8 sequence at s (n > 0 bytes left) in *cp,
 * and its length; a byte that starts no valid sequence is U+FFFD, one
 * byte long.
 */
static size_t
utf8(const unsigned char *s, size_t n, unsigned long *cp)
{
	static const unsigned long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	unsigned long c;

	len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 :
	    (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (len == 1) {
		*cp = s[0];
		return 1;
	}
	*cp = 0xfffd;
	if (len == 0 || len > n)
		return 1;
	c = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 1;
	*cp = c;
	return len;
}

/*
 * Write s as ASCII: every other character as a character reference
 * (markup), or, json, as \u escapes (a surrogate pair past U+FFFF).  A
 * page in ASCII is decoded and parsed by the browser as 8-bit text, a
 * third faster than UTF-8 with a few non-ASCII characters in it.
 */
static void
put_ascii(struct bm_buf *o, const char *s, size_t n, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, j;
	unsigned long c;

	while (i < n) {
		for (j = i; j < n && p[j] < 0x80; j++)
			;
		bm_buf_add(o, s + i, j - i);
		if (j == n)
			break;
		i = j + utf8(p + j, n - j, &c);
		if (!json)
			bm_buf_addf(o, "&#x%lx;", c);
		else if (c < 0x10000)
			bm_buf_addf(o, "\\u%04lx", c);
		else
			bm_buf_addf(o, "\\u%04lx\\u%04lx",
			    0xd800 + ((c - 0x10000) >> 10),
			    0xdc00 + ((c - 0x10000) & 0x3ff));
	}
}

/* Write o to f as ASCII markup; empty o. */
static void
flush_ascii(FILE *f, struct bm_buf *o)
{
	struct bm_buf t = BM_BUF_INIT;

	put_ascii(&t, o->s, o->len, 0);
	fwrite(t.s, 1, t.len, f);
	bm_buf_free(&t);
	bm_buf_reset(o);
}

/*
 * JSON for a <script> element, in ASCII: "<" never appears as itself,
 * nor does anything flush_ascii would change.
 */
static void
put_data(struct bm_buf *o, const cJSON *j)
{
	struct bm_buf t = BM_BUF_INIT, a = BM_BUF_INIT;
	const char *p, *q;

	bm_json_put(&t, j);
	put_ascii(&a, t.s, t.len, 1);
	for (p = bm_buf_str(&a); (q = strchr(p, '<')) != NULL; p = q + 1) {
		bm_buf_add(o, p, (size_t)(q - p));
		bm_buf_adds(o, "\\u003c");
	}
	bm_buf_adds(o, p);
	bm_buf_free(&a);
	bm_buf_free(&t);
}

/* A cut copy of s: at most max bytes, on a UTF-8 boundary, then "…". */
static char *
clip(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return xstrdup(s);
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return xasprintf("%.*s\u2026", (int)max, s);
}

/* The Wilson 95% interval of k of n, z as DESIGN.md §10 gives it. */
static void
wilson(double k, double n, double *lo, double *hi)
{
	const double z = 1.959964;
	double p = k / n, d = 1 + z * z / n;
	double c = (p + z * z / (2 * n)) / d;
	double h = z / d * sqrt(p * (1 - p) / n + z * z / (4 * n * n));

	*lo = c - h;
	*hi = c + h;
}

/* A horizontal bar in a 0..100 box, with an optional interval whisker. */
static void
svg_bar(struct bm_buf *o, const char *cls, double frac, double lo,
    double hi, const char *label)
{
	bm_buf_adds(o, "<svg class=\"bar\" viewBox=\"0 0 100 14\" "
	    "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"");
	esc(o, label);
	bm_buf_addf(o, "\"><rect class=\"track\" x=\"0\" y=\"2\" width=\"100\""
	    " height=\"10\"/><rect class=\"%s\" x=\"0\" y=\"2\" width=\"%.2f\""
	    " height=\"10\"/>", cls, 100 * fmin(fmax(frac, 0), 1));
	if (isfinite(lo) && isfinite(hi))
		bm_buf_addf(o, "<path class=\"ci\" d=\"M%.2f 7H%.2fM%.2f 3V11"
		    "M%.2f 3V11\" vector-effect=\"non-scaling-stroke\"/>",
		    100 * lo, 100 * hi, 100 * lo, 100 * hi);
	bm_buf_adds(o, "</svg>");
}

/* --- snapshot -------------------------------------------------------- */

struct snap {
	char *label;
	double n, rate, lo, hi, p95, cost;	/* NAN when absent */
};

static struct snap *
snapshot_rows(const struct bm_report *r, size_t *n)
{
	struct snap *s = NULL;
	const cJSON *st;
	size_t k = 0, i;

	cJSON_ArrayForEach(st, r->stats) {
		s = xreallocarray(s, k + 1, sizeof(*s));
		s[k].label = bm_report_group(st);
		s[k].n = s[k].rate = s[k].lo = s[k].hi = s[k].p95 =
		    s[k].cost = NAN;
		bm_report_num(st, "n", &s[k].n);
		bm_report_num(st, "pass_rate", &s[k].rate);
		bm_report_num(st, "pass_rate_ci.0", &s[k].lo);
		bm_report_num(st, "pass_rate_ci.1", &s[k].hi);
		bm_report_num(st, "latency_ms.p95", &s[k].p95);
		bm_report_num(st, "cost_usd", &s[k].cost);
		k++;
	}
	if (k) {
		*n = k;
		return s;
	}
	/* No stat records: pass rates per model from the results. */
	for (i = 0; i < r->ntally; i++) {
		const struct bm_report_tally *t = &r->tally[i];

		s = xreallocarray(s, k + 1, sizeof(*s));
		s[k].label = xstrdup(t->model);
		s[k].n = (double)t->n;
		s[k].rate = s[k].lo = s[k].hi = s[k].p95 = s[k].cost = NAN;
		if (t->pass + t->fail > 0) {
			s[k].rate = (double)t->pass / (double)(t->pass +
			    t->fail);
			wilson((double)t->pass, (double)(t->pass + t->fail),
			    &s[k].lo, &s[k].hi);
		}
		k++;
	}
	*n = k;
	return s;
}

static void
snapshot(struct bm_buf *o, const struct bm_report *r)
{
	size_t n, i;
	struct snap *s = snapshot_rows(r, &n);
	double maxlat = 0, maxcost = 0;
	struct bm_buf t = BM_BUF_INIT;

	bm_buf_adds(o, "<h2>Snapshot</h2>");
	if (!n) {
		bm_buf_adds(o, "<p class=\"muted\">No stat or result records."
		    "</p>");
		return;
	}
	for (i = 0; i < n; i++) {
		if (isfinite(s[i].p95) && s[i].p95 > maxlat)
			maxlat = s[i].p95;
		if (isfinite(s[i].cost) && s[i].cost > maxcost)
			maxcost = s[i].cost;
	}
	bm_buf_adds(o, "<div class=\"scroll\"><table id=\"snap\"><thead><tr>"
	    "<th>group</th><th class=\"n\">n</th><th>pass rate (95% CI)</th>"
	    "<th>p95 latency</th><th>cost</th></tr></thead><tbody>\n");
	for (i = 0; i < n; i++) {
		bm_buf_adds(o, "<tr><th scope=\"row\" title=\"");
		esc(o, s[i].label);
		bm_buf_adds(o, "\">");
		esc(o, s[i].label);
		bm_buf_adds(o, "</th><td class=\"n\" data-l=\"n\">");
		if (isfinite(s[i].n))
			bm_buf_addf(o, "%.0f", s[i].n);
		bm_buf_adds(o, "</td><td data-l=\"pass rate\">");
		if (isfinite(s[i].rate)) {
			bm_buf_reset(&t);
			bm_buf_addf(&t, "pass rate %.1f%%", 100 * s[i].rate);
			if (isfinite(s[i].lo) && isfinite(s[i].hi))
				bm_buf_addf(&t, ", 95%% CI %.1f to %.1f",
				    100 * s[i].lo, 100 * s[i].hi);
			svg_bar(o, "pr", s[i].rate, s[i].lo, s[i].hi,
			    bm_buf_str(&t));
			bm_buf_addf(o, "%.1f%%", 100 * s[i].rate);
			if (isfinite(s[i].lo) && isfinite(s[i].hi))
				bm_buf_addf(o, " <span class=\"muted\">"
				    "[%.1f, %.1f]</span>", 100 * s[i].lo,
				    100 * s[i].hi);
		} else {
			bm_buf_adds(o, "-");
		}
		bm_buf_adds(o, "</td><td data-l=\"p95\">");
		if (isfinite(s[i].p95)) {
			bm_buf_reset(&t);
			bm_buf_addf(&t, "p95 latency %.0f ms", s[i].p95);
			svg_bar(o, "lat", maxlat > 0 ? s[i].p95 / maxlat : 0,
			    NAN, NAN, bm_buf_str(&t));
			bm_buf_addf(o, "%.0f ms", s[i].p95);
		} else {
			bm_buf_adds(o, "-");
		}
		bm_buf_adds(o, "</td><td data-l=\"cost\">");
		if (isfinite(s[i].cost)) {
			bm_buf_reset(&t);
			bm_buf_addf(&t, "cost %.4f USD", s[i].cost);
			svg_bar(o, "cost", maxcost > 0 ? s[i].cost / maxcost :
			    0, NAN, NAN, bm_buf_str(&t));
			bm_buf_addf(o, "$%.4f", s[i].cost);
		} else {
			bm_buf_adds(o, "-");
		}
		bm_buf_adds(o, "</td></tr>\n");
		free(s[i].label);
	}
	bm_buf_adds(o, "</tbody></table></div>");
	free(s);
	bm_buf_free(&t);
}

/* --- trends ---------------------------------------------------------- */

static const char *const palette[] = { "#0969da", "#cf222e", "#1a7f37",
	"#8250df", "#bf8700", "#1b7c83", "#e16f24", "#bf3989", "#6e7781",
	"#4d2d00" };

#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

/* The models of the history, in order of first appearance. */
static const char **
trend_models(const struct bm_report *r, size_t *n)
{
	struct bm_map *m = bm_map_new();
	const char **v = NULL;
	const cJSON *x;
	size_t i, k = 0;

	for (i = 0; i < r->nhist; i++) {
		cJSON_ArrayForEach(x, r->hist[i].models) {
			if (bm_map_get(m, x->string))
				continue;
			bm_map_put(m, x->string, (void *)1);
			v = xreallocarray(v, k + 1, sizeof(char *));
			v[k++] = x->string;
		}
	}
	bm_map_free(m, NULL);
	*n = k;
	return v;
}

/* One chart: a path per model of key (scaled to max) over the runs. */
static void
chart(struct bm_buf *o, const struct bm_report *r, const char **models,
    size_t nm, const char *key, double max, const char *label)
{
	const cJSON *x;
	double v, xpos;
	size_t i, k;
	int pen;

	bm_buf_adds(o, "<svg class=\"chart\" viewBox=\"0 0 1000 200\" "
	    "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"");
	esc(o, label);
	bm_buf_adds(o, "\">");
	for (k = 0; k < nm; k++) {
		bm_buf_addf(o, "<path class=\"series\" data-model=\"%zu\" "
		    "stroke=\"%s\"%s vector-effect=\"non-scaling-stroke\" d=\"",
		    k, palette[k % NPALETTE], k / NPALETTE % 2 ?
		    " stroke-dasharray=\"6 3\"" : "");
		pen = 0;
		for (i = 0; i < r->nhist; i++) {
			x = cJSON_GetObjectItemCaseSensitive(
			    r->hist[i].models, models[k]);
			if (!bm_report_num(x, key, &v)) {
				pen = 0;
				continue;
			}
			xpos = r->nhist > 1 ? 1000.0 * (double)i /
			    (double)(r->nhist - 1) : 500;
			bm_buf_addf(o, "%c%.1f %.1f", pen ? 'L' : 'M', xpos,
			    max > 0 ? 195 - 190 * v / max : 195);
			/* A lone point still shows. */
			if (!pen && r->nhist == 1)
				bm_buf_adds(o, "h0.1");
			pen = 1;
		}
		bm_buf_adds(o, "\"><title>");
		esc(o, models[k]);
		bm_buf_adds(o, "</title></path>");
	}
	bm_buf_adds(o, "</svg>");
}

static void
trends(struct bm_buf *o, const struct bm_report *r)
{
	size_t nm, i, k;
	const char **models;
	const cJSON *x;
	double v, maxlat = 0;
	const char *first, *last;

	bm_buf_adds(o, "<h2>Trends</h2>");
	if (!r->nhist) {
		bm_buf_adds(o, "<p class=\"muted\">No history: run bm-report "
		    "--history N with a database that holds runs.</p>");
		return;
	}
	models = trend_models(r, &nm);
	for (i = 0; i < r->nhist; i++)
		cJSON_ArrayForEach(x, r->hist[i].models)
			if (bm_report_num(x, "p95", &v) && v > maxlat)
				maxlat = v;
	first = bm_json_str(r->hist[0].run, "id");
	last = bm_json_str(r->hist[r->nhist - 1].run, "id");
	bm_buf_addf(o, "<p class=\"muted\">%zu runs, oldest first</p>",
	    r->nhist);
	bm_buf_adds(o, "<h3>Pass rate</h3><div class=\"axis\"><span>100%"
	    "</span></div>");
	chart(o, r, models, nm, "pass_rate", 1, "pass rate per model over "
	    "runs");
	bm_buf_adds(o, "<div class=\"axis\"><span>");
	esc(o, first);
	bm_buf_adds(o, "</span><span>0%</span><span>");
	esc(o, last);
	bm_buf_adds(o, "</span></div>");
	bm_buf_addf(o, "<h3>p95 latency</h3><div class=\"axis\"><span>%.0f "
	    "ms</span></div>", maxlat);
	chart(o, r, models, nm, "p95", maxlat, "p95 latency per model over "
	    "runs");
	bm_buf_adds(o, "<div class=\"axis\"><span>");
	esc(o, first);
	bm_buf_adds(o, "</span><span>0 ms</span><span>");
	esc(o, last);
	bm_buf_adds(o, "</span></div><ul class=\"legend\">");
	for (k = 0; k < nm; k++) {
		bm_buf_addf(o, "<li><i style=\"background:%s\"></i>",
		    palette[k % NPALETTE]);
		esc(o, models[k]);
		bm_buf_adds(o, "</li>");
	}
	bm_buf_adds(o, "</ul>");
	free(models);
}

/* --- comparison and regressions --------------------------------------- */

static void
delta(struct bm_buf *o, double d, const char *unit, int good_up, int sig)
{
	int good = good_up ? d > 0 : d < 0;

	bm_buf_addf(o, "<span class=\"%s%s\">%s %+.1f%s%s</span>",
	    d == 0 ? "" : good ? "up" : "down", sig ? " sig" : "",
	    d > 0 ? "\u25b2" : d < 0 ? "\u25bc" : "=", d, unit,
	    sig ? " *" : "");
}

static int
sigof(const cJSON *s, const char *metric)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(s, metric), "significant"));
}

static void
comparison(struct bm_buf *o, const struct bm_report *r)
{
	const cJSON *s;
	double b, a, d, p;
	const char *x;

	bm_buf_adds(o, "<h2>Comparison</h2>");
	if (!r->comparisons->child) {
		bm_buf_adds(o, "<p class=\"muted\">No comparison records "
		    "(bm-stats --compare FIELD=BASE).</p>");
		return;
	}
	bm_buf_adds(o, "<div class=\"scroll\"><table id=\"cmp\"><thead><tr>"
	    "<th>group</th><th>candidate</th><th>baseline</th>"
	    "<th class=\"n\">pass rate</th><th>\u0394 pass rate</th>"
	    "<th class=\"n\">p</th><th>\u0394 latency</th></tr></thead>"
	    "<tbody>\n");
	cJSON_ArrayForEach(s, r->comparisons) {
		bm_report_put_group(o, s, "<tr><th scope=\"row\">", esc);
		bm_buf_adds(o, "</th><td>");
		x = bm_json_str(s, "candidate");
		esc(o, x ? x : "?");
		bm_buf_adds(o, "</td><td>");
		x = bm_json_str(s, "baseline");
		esc(o, x ? x : "?");
		bm_buf_adds(o, "</td><td class=\"n\">");
		if (bm_report_cmp_rate(s, &b, &a, &d)) {
			bm_buf_addf(o, "%.1f%% \u2192 %.1f%%</td><td>",
			    100 * b, 100 * a);
			delta(o, 100 * d, " pp", 1, sigof(s, "pass_rate"));
		} else {
			bm_buf_adds(o, "-</td><td>-");
		}
		bm_buf_adds(o, "</td><td class=\"n\">");
		if (bm_report_num(s, "pass_rate.p_value", &p))
			bm_buf_addf(o, "%.3g", p);
		bm_buf_adds(o, "</td><td>");
		if (bm_report_num(s, "latency_ms.rel", &d))
			delta(o, 100 * d, "%", 0, sigof(s, "latency_ms"));
		bm_buf_adds(o, "</td></tr>\n");
	}
	bm_buf_adds(o, "</tbody></table></div><p class=\"muted\">* "
	    "significant at 0.05</p>");
}

static void
regressions(struct bm_buf *o, const struct bm_report *r)
{
	static const struct bm_report_row row = { "<tr><th scope=\"row\">",
		"</th><td>", "?", { "</td><td class=\"n\">",
		"</td><td class=\"n\">", "</td><td class=\"n down\">",
		"</td><td class=\"n\">" }, "", "</td></tr>\n", esc };

	bm_buf_adds(o, "<h2>Regressions</h2>");
	if (!r->regressions->child) {
		bm_buf_adds(o, "<p class=\"muted\">No regressions.</p>");
		return;
	}
	bm_buf_adds(o, "<div class=\"scroll\"><table id=\"reg\"><thead><tr>"
	    "<th>group</th><th>metric</th><th class=\"n\">baseline</th>"
	    "<th class=\"n\">current</th><th class=\"n\">change</th>"
	    "<th class=\"n\">p</th></tr></thead><tbody>\n");
	bm_report_reg_rows(o, r->regressions, &row);
	bm_buf_adds(o, "</tbody></table></div>");
}

/* --- cases ----------------------------------------------------------- */

/*
 * Rows are case identities without the repeat (benchmark, variant,
 * trial, model: bm_report_row), columns the runs of the results; a cell
 * holds every repeat and step of that case in that run and takes the
 * worst status.
 */
struct heat {
	struct bm_report_rows rows;
	struct bm_map *cols, *cells;
	struct bm_map *input;		/* the runs of the input's results */
	cJSON *cases, *runs, *list;	/* the page's data */
	size_t ncols;
	long dropped;			/* results past the rows */
};

static char *
row_label(const struct bm_rres *x)
{
	return xasprintf("%s%s%s #%ld \u00b7 %s",
	    x->benchmark ? x->benchmark : x->benchmark_id ?
	    x->benchmark_id : "?", x->variant ? " / " : "",
	    x->variant ? x->variant : "", (long)x->trial,
	    x->model ? x->model : "-");
}

static int
worse(int a, int b)
{
	static const char rank[] = "pfe";

	return strchr(rank, b) > strchr(rank, a) ? b : a;
}

/* A column for run (NULL: "-"); its index. */
static size_t
heat_col(struct heat *h, const char *run)
{
	void *v;

	if (!run)
		run = "-";
	if (!(v = bm_map_get(h->cols, run))) {
		v = (void *)(++h->ncols);
		bm_map_put(h->cols, run, v);
		cJSON_AddItemToArray(h->runs, cJSON_CreateString(run));
	}
	return (size_t)v - 1;
}

static void
heat_add(struct heat *h, const struct bm_rres *x)
{
	const char *run = x->run_id ? x->run_id : "-";
	char *ck;
	size_t row, col;
	cJSON *cell, *one, *arr;
	char *out;
	long k;
	int added;

	if ((k = bm_report_row(&h->rows, x, &added)) < 0) {
		h->dropped++;
		return;
	}
	if (added) {
		arr = cJSON_CreateArray();
		out = row_label(x);
		cJSON_AddItemToArray(arr, cJSON_CreateString(out));
		cJSON_AddItemToArray(arr, cJSON_CreateFalse());
		cJSON_AddItemToArray(h->cases, arr);
		free(out);
	}
	row = (size_t)k;
	col = heat_col(h, run);
	ck = xasprintf("%zu,%zu", row, col);
	if (!(cell = bm_map_get(h->cells, ck))) {
		cell = cJSON_CreateArray();
		cJSON_AddItemToArray(cell, cJSON_CreateNumber((double)row));
		cJSON_AddItemToArray(cell, cJSON_CreateNumber((double)col));
		cJSON_AddItemToArray(cell, cJSON_CreateString("p"));
		cJSON_AddItemToArray(cell, cJSON_CreateArray());
		cJSON_AddItemToArray(h->list, cell);
		bm_map_put(h->cells, ck, cell);
	}
	free(ck);
	/* The cell's status is the worst of its results. */
	arr = cJSON_GetArrayItem(cell, 2);
	arr->valuestring[0] = (char)worse(arr->valuestring[0], x->status);
	one = cJSON_CreateArray();
	out = xasprintf("%c", x->status);
	cJSON_AddItemToArray(one, cJSON_CreateString(out));
	free(out);
	if (x->output) {
		out = clip(x->output, BM_REPORT_OUTPUT_MAX);
		cJSON_AddItemToArray(one, cJSON_CreateString(out));
		free(out);
	} else {
		cJSON_AddItemToArray(one, cJSON_CreateNull());
	}
	cJSON_AddItemToArray(one, x->reasons ?
	    cJSON_CreateString(x->reasons) : cJSON_CreateNull());
	if (x->status == 'e') {
		out = xasprintf("%s%s%s", x->error_class ? x->error_class :
		    "error", x->error_message ? ": " : "", x->error_message ?
		    x->error_message : "");
		cJSON_AddItemToArray(one, cJSON_CreateString(out));
		free(out);
	} else {
		cJSON_AddItemToArray(one, cJSON_CreateNull());
	}
	cJSON_AddItemToArray(cJSON_GetArrayItem(cell, 3), one);
}

/*
 * With --history, the columns are first the history's runs that have
 * results here (stored, or in the input), oldest first, then the input's
 * other runs as they come.
 */
static void
heat_history(struct heat *h, const struct bm_report *r)
{
	struct bm_map *has = bm_map_new();
	const char *id;
	size_t i;

	h->input = bm_map_new();
	for (i = 0; i < r->nrun; i++)
		bm_map_put(h->input, r->run[i].id, (void *)1);
	for (i = 0; i < r->nhres; i++)
		bm_map_put(has, r->hres[i].run_id, (void *)1);
	for (i = 0; i < r->nhist; i++) {
		id = bm_json_str(r->hist[i].run, "id");
		if (id && (bm_map_get(has, id) || bm_map_get(h->input, id)))
			heat_col(h, id);
	}
	bm_map_free(has, NULL);
}

/* Mark flaky rows: both outcomes in one row, or a case_stat says so. */
static void
heat_flaky(struct heat *h, const struct bm_report *r, char *mixed)
{
	const cJSON *c, *cell;
	struct bm_rres x;
	const char *label, *key;
	void *v;
	size_t i;

	cJSON_ArrayForEach(c, r->case_stats) {
		label = bm_json_str(c, "label");
		if (!label || strcmp(label, "flaky"))
			continue;
		memset(&x, 0, sizeof(x));
		x.benchmark_id = bm_json_str(c, "benchmark_id");
		x.benchmark = bm_json_str(c, "benchmark");
		x.variant = bm_json_str(c, "variant");
		x.trial = (int)bm_json_numor(c, "trial", 0);
		x.model = bm_json_str(c, "model");
		key = bm_report_row_key(&h->rows.key, &x);
		if ((v = bm_map_get(h->rows.keys, key)))
			mixed[(size_t)v - 1] |= 3;
	}
	cJSON_ArrayForEach(cell, h->list) {
		const cJSON *one;

		i = (size_t)cJSON_GetArrayItem(cell, 0)->valuedouble;
		cJSON_ArrayForEach(one, cJSON_GetArrayItem(cell, 3)) {
			if (one->child->valuestring[0] == 'p')
				mixed[i] |= 1;
			else if (one->child->valuestring[0] == 'f')
				mixed[i] |= 2;
		}
	}
	for (i = 0; i < h->rows.n; i++)
		if (mixed[i] == 3)
			cJSON_ReplaceItemInArray(cJSON_GetArrayItem(h->cases,
			    (int)i), 1, cJSON_CreateTrue());
}

static void
cases(struct bm_buf *o, const struct bm_report *r, cJSON *data)
{
	struct heat h;
	char *mixed;
	size_t i;

	memset(&h, 0, sizeof(h));
	bm_report_rows_init(&h.rows);
	/* The input's results of cases past the rows are counted, not kept. */
	h.dropped = r->dropped;
	h.cols = bm_map_new();
	h.cells = bm_map_new();
	h.cases = cJSON_AddArrayToObject(data, "cases");
	h.runs = cJSON_AddArrayToObject(data, "runs");
	h.list = cJSON_AddArrayToObject(data, "cells");
	heat_history(&h, r);
	for (i = 0; i < r->nres; i++)
		heat_add(&h, &r->res[i]);
	/* The history's stored results, but of runs the input has. */
	for (i = 0; i < r->nhres; i++)
		if (!bm_map_get(h.input, r->hres[i].run_id))
			heat_add(&h, &r->hres[i]);
	mixed = xcalloc(h.rows.n + 1, 1);
	heat_flaky(&h, r, mixed);
	bm_buf_adds(o, "<h2>Cases</h2>");
	if (!h.rows.n) {
		bm_buf_adds(o, "<p class=\"muted\">No result records.</p>");
		goto out;
	}
	bm_buf_addf(o, "<p class=\"muted\">%zu cases \u00d7 %zu run%s; "
	    "\u25c6 flaky. Click a cell, or Tab to the map, arrows and "
	    "Enter, for its answers.", h.rows.n, h.ncols,
	    h.ncols == 1 ? "" : "s");
	if (h.dropped)
		bm_buf_addf(o, " %ld results of further cases not shown.",
		    h.dropped);
	bm_buf_adds(o, "</p><p class=\"key\"><span style=\"background:"
	    "var(--pass)\"></span>pass<span style=\"background:var(--fail)\">"
	    "</span>fail<span style=\"background:var(--err)\"></span>error"
	    "</p>");
	/*
	 * The heat map is thousands of elements: the page builds it from
	 * the embedded data (cases, runs, cells) when the tab is first
	 * shown, so it costs nothing at load, and the page carries no
	 * second copy of it as markup.
	 */
	bm_buf_adds(o, "<div class=\"scroll\" id=\"heat-box\"></div>");
	bm_buf_adds(o, "<div id=\"cell-info\" "
	    "aria-live=\"polite\">"
	    "<p class=\"muted\">No cell selected.</p></div>");
out:
	free(mixed);
	bm_report_rows_free(&h.rows);
	bm_map_free(h.cols, NULL);
	bm_map_free(h.cells, NULL);
	bm_map_free(h.input, NULL);
}

/* --- runs ------------------------------------------------------------ */

/* A td whose sort key is v. */
static void
td_num(struct bm_buf *o, double v, const char *fmt)
{
	if (!isfinite(v)) {
		bm_buf_adds(o, "<td class=\"n\" data-v=\"\">-</td>");
		return;
	}
	bm_buf_addf(o, "<td class=\"n\" data-v=\"%.17g\">", v);
	bm_buf_addf(o, fmt, v);
	bm_buf_adds(o, "</td>");
}

static void
td_text(struct bm_buf *o, const char *s)
{
	bm_buf_adds(o, "<td data-v=\"");
	esc(o, s ? s : "");
	bm_buf_adds(o, "\">");
	esc(o, s ? s : "-");
	bm_buf_adds(o, "</td>");
}

static void
run_row(struct bm_buf *o, const cJSON *run)
{
	double p = bm_json_numor(run, "pass", NAN);
	double f = bm_json_numor(run, "fail", NAN);

	bm_buf_adds(o, "<tr>");
	td_text(o, bm_json_str(run, "id"));
	td_text(o, bm_json_str(run, "label"));
	td_text(o, bm_json_str(run, "started_at"));
	td_text(o, bm_json_str(run, "status"));
	td_num(o, bm_json_numor(run, "models", NAN), "%.0f");
	td_num(o, bm_json_numor(run, "cases", NAN), "%.0f");
	td_num(o, p, "%.0f");
	td_num(o, f, "%.0f");
	td_num(o, bm_json_numor(run, "error", NAN), "%.0f");
	td_num(o, p + f > 0 ? 100 * p / (p + f) : NAN, "%.1f%%");
	td_num(o, bm_json_numor(run, "cost_usd", NAN), "$%.4f");
	bm_buf_adds(o, "</tr>\n");
}

/* Runs seen only in results: as the reader counted them. */
static cJSON *
runs_of_results(const struct bm_report *r)
{
	cJSON *list = cJSON_CreateArray(), *run;
	size_t i;

	for (i = 0; i < r->nrun; i++) {
		run = cJSON_CreateObject();
		cJSON_AddStringToObject(run, "id", r->run[i].id);
		cJSON_AddNumberToObject(run, "cases", (double)r->run[i].cases);
		cJSON_AddNumberToObject(run, "pass", (double)r->run[i].pass);
		cJSON_AddNumberToObject(run, "fail", (double)r->run[i].fail);
		cJSON_AddNumberToObject(run, "error", (double)r->run[i].error);
		cJSON_AddItemToArray(list, run);
	}
	return list;
}

static void
runs(struct bm_buf *o, const struct bm_report *r)
{
	static const char *const cols[] = { "run", "label", "started",
		"status", "models", "cases", "pass", "fail", "error",
		"pass rate", "cost" };
	cJSON *own = NULL;
	const cJSON *run;
	size_t i;

	bm_buf_adds(o, "<h2>Runs</h2>");
	if (!r->nhist && !r->runs->child && !r->nall) {
		bm_buf_adds(o, "<p class=\"muted\">No runs.</p>");
		return;
	}
	bm_buf_adds(o, "<div class=\"scroll\"><table id=\"runs\" "
	    "class=\"sortable\"><thead><tr>");
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		bm_buf_addf(o, "<th%s><button type=\"button\">%s</button>"
		    "</th>", i >= 4 ? " class=\"n\"" : "", cols[i]);
	bm_buf_adds(o, "</tr></thead><tbody>\n");
	if (r->nhist) {
		/* Newest first, as bm-runs lists them. */
		for (i = r->nhist; i-- > 0;)
			run_row(o, r->hist[i].run);
	} else if (r->runs->child) {
		cJSON_ArrayForEach(run, r->runs)
			run_row(o, run);
	} else {
		own = runs_of_results(r);
		cJSON_ArrayForEach(run, own)
			run_row(o, run);
		cJSON_Delete(own);
	}
	bm_buf_adds(o, "</tbody></table></div>");
}

/*
 * The history for the page's data, compact: "history_models" names the
 * models once, "history" holds per run [id, [[pass_rate, p95, cost_usd]
 * per model]], null where a run lacks a model or a figure.
 */
static void
history_data(cJSON *data, const struct bm_report *r)
{
	static const char *const keys[] = { "pass_rate", "p95", "cost_usd" };
	size_t nm, i, k, j;
	const char **models = trend_models(r, &nm);
	cJSON *names = cJSON_AddArrayToObject(data, "history_models");
	cJSON *hist = cJSON_AddArrayToObject(data, "history");
	cJSON *run, *vals, *v;
	const cJSON *x;
	const char *id;
	double d;

	for (k = 0; k < nm; k++)
		cJSON_AddItemToArray(names, cJSON_CreateString(models[k]));
	for (i = 0; i < r->nhist; i++) {
		run = cJSON_CreateArray();
		id = bm_json_str(r->hist[i].run, "id");
		cJSON_AddItemToArray(run, cJSON_CreateString(id ? id : ""));
		vals = cJSON_CreateArray();
		for (k = 0; k < nm; k++) {
			x = cJSON_GetObjectItemCaseSensitive(r->hist[i].models,
			    models[k]);
			if (!x) {
				cJSON_AddItemToArray(vals, cJSON_CreateNull());
				continue;
			}
			v = cJSON_CreateArray();
			for (j = 0; j < 3; j++) {
				int has = bm_report_num(x, keys[j], &d);

				cJSON_AddItemToArray(v, has ?
				    cJSON_CreateNumber(d) : cJSON_CreateNull());
			}
			cJSON_AddItemToArray(vals, v);
		}
		cJSON_AddItemToArray(run, vals);
		cJSON_AddItemToArray(hist, run);
	}
	free(models);
}

/* --- the page -------------------------------------------------------- */

static const char *const tabs[] = { "Snapshot", "Trends", "Comparison",
	"Regressions", "Cases", "Runs" };

static void
open_panel(struct bm_buf *o, size_t i)
{
	bm_buf_addf(o, "<section role=\"tabpanel\" id=\"p-%c%s\" "
	    "aria-labelledby=\"t-%c%s\" tabindex=\"0\"%s>\n",
	    tabs[i][0] | 0x20, tabs[i] + 1, tabs[i][0] | 0x20, tabs[i] + 1,
	    i ? " hidden" : "");
}

int
bm_render_html(FILE *f, const struct bm_report *r)
{
	struct bm_buf o = BM_BUF_INIT;
	cJSON *data = cJSON_CreateObject();
	char *v = bm_report_verdict(r);
	size_t i;

	bm_buf_adds(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\""
	    "width=device-width,initial-scale=1\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'; "
	    "script-src 'unsafe-inline'\">\n"
	    "<meta name=\"color-scheme\" content=\"light dark\">\n<title>");
	esc(&o, r->title);
	bm_buf_addf(&o, "</title>\n<style>\n%s</style></head>\n<body>\n"
	    "<header><h1>", css);
	esc(&o, r->title);
	bm_buf_addf(&o, "</h1><p class=\"verdict%s\">",
	    r->regressions->child ? " bad" : "");
	esc(&o, v);
	bm_buf_adds(&o, "</p></header>\n<nav role=\"tablist\" "
	    "aria-label=\"Views\">");
	for (i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
		bm_buf_addf(&o, "<button type=\"button\" role=\"tab\" "
		    "id=\"t-%c%s\" aria-controls=\"p-%c%s\" "
		    "aria-selected=\"%s\" tabindex=\"%d\">%s</button>",
		    tabs[i][0] | 0x20, tabs[i] + 1, tabs[i][0] | 0x20,
		    tabs[i] + 1, i ? "false" : "true", i ? -1 : 0, tabs[i]);
	bm_buf_adds(&o, "</nav>\n<main>\n");
	open_panel(&o, 0);
	snapshot(&o, r);
	bm_buf_adds(&o, "</section>\n");
	open_panel(&o, 1);
	trends(&o, r);
	bm_buf_adds(&o, "</section>\n");
	open_panel(&o, 2);
	comparison(&o, r);
	bm_buf_adds(&o, "</section>\n");
	open_panel(&o, 3);
	regressions(&o, r);
	bm_buf_adds(&o, "</section>\n");
	flush_ascii(f, &o);
	open_panel(&o, 4);
	cases(&o, r, data);
	bm_buf_adds(&o, "</section>\n");
	open_panel(&o, 5);
	runs(&o, r);
	bm_buf_adds(&o, "</section>\n</main>\n"
	    "<script type=\"application/json\" id=\"bm-data\">");
	cJSON_AddStringToObject(data, "title", r->title);
	cJSON_AddStringToObject(data, "verdict", v);
	cJSON_AddItemReferenceToObject(data, "stat", r->stats);
	cJSON_AddItemReferenceToObject(data, "comparison", r->comparisons);
	cJSON_AddItemReferenceToObject(data, "regression", r->regressions);
	history_data(data, r);
	put_data(&o, data);
	bm_buf_addf(&o, "</script>\n<script>\n%s</script>\n</body></html>\n",
	    js);
	flush_ascii(f, &o);
	bm_buf_free(&o);
	cJSON_Delete(data);
	free(v);
	return ferror(f) ? -1 : 0;
}
