/* scan.c: fields of a JSON line by dotted path, tokenized with jsmn. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS	/* no backward search per comma */
#include <jsmn.h>

#include "scan.h"
#include "xalloc.h"

struct path {
	char **seg;
	size_t *seglen;
	size_t nseg;
	size_t top;	/* index into the scanner's top-level names */
};

struct bm_scan {
	struct path *paths;
	size_t n;
	char **top;	/* distinct first segments */
	size_t *toplen;
	size_t ntop;
	int *topval;	/* per line: token index of each top name, or -1 */
	int *next;	/* the next top name with the same first byte, or -1 */
	int first[256];	/* the first top name starting with each byte */
	jsmntok_t *tok;
	unsigned ntok;
};

struct bm_scan *
bm_scan_new(const char *const *paths, size_t n)
{
	struct bm_scan *s = xcalloc(1, sizeof(*s));
	struct path *p;
	const char *a, *dot;
	size_t i, j;

	s->paths = xcalloc(n ? n : 1, sizeof(*s->paths));
	s->top = xcalloc(n ? n : 1, sizeof(char *));
	s->toplen = xcalloc(n ? n : 1, sizeof(size_t));
	s->topval = xcalloc(n ? n : 1, sizeof(int));
	s->n = n;
	for (i = 0; i < n; i++) {
		p = &s->paths[i];
		for (a = paths[i]; ; a = dot + 1) {
			dot = strchr(a, '.');
			p->seg = xreallocarray(p->seg, p->nseg + 1,
			    sizeof(char *));
			p->seglen = xreallocarray(p->seglen, p->nseg + 1,
			    sizeof(size_t));
			p->seg[p->nseg] = dot ? xstrndup(a, (size_t)(dot - a)) :
			    xstrdup(a);
			p->seglen[p->nseg] = strlen(p->seg[p->nseg]);
			p->nseg++;
			if (!dot)
				break;
		}
		for (j = 0; j < s->ntop; j++)
			if (strcmp(s->top[j], p->seg[0]) == 0)
				break;
		if (j == s->ntop) {
			s->top[j] = xstrdup(p->seg[0]);
			s->toplen[j] = strlen(p->seg[0]);
			s->ntop++;
		}
		p->top = j;
	}
	s->next = xcalloc(s->ntop ? s->ntop : 1, sizeof(int));
	for (i = 0; i < 256; i++)
		s->first[i] = -1;
	for (j = s->ntop; j-- > 0; ) {
		s->next[j] = s->first[(unsigned char)s->top[j][0]];
		s->first[(unsigned char)s->top[j][0]] = (int)j;
	}
	s->ntok = 128;
	s->tok = xreallocarray(NULL, s->ntok, sizeof(*s->tok));
	return s;
}

void
bm_scan_free(struct bm_scan *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		for (j = 0; j < s->paths[i].nseg; j++)
			free(s->paths[i].seg[j]);
		free(s->paths[i].seg);
		free(s->paths[i].seglen);
	}
	for (i = 0; i < s->ntop; i++)
		free(s->top[i]);
	free(s->paths);
	free(s->top);
	free(s->toplen);
	free(s->topval);
	free(s->next);
	free(s->tok);
	free(s);
}

/* The index of the token after token v and everything inside it. */
static int
skip(const jsmntok_t *t, int n, int v)
{
	int j = v + 1;

	while (j < n && t[j].start < t[v].end)
		j++;
	return j;
}

/* Is key token k the n bytes name? */
static int
keyis(const char *line, const jsmntok_t *k, const char *name, size_t n)
{
	return k->type == JSMN_STRING && (size_t)(k->end - k->start) == n &&
	    memcmp(line + k->start, name, n) == 0;
}

/* The value token of key name in object token o, or -1. */
static int
member(const char *line, const jsmntok_t *t, int n, int o,
    const char *name, size_t len)
{
	int i = o + 1, k;

	if (t[o].type != JSMN_OBJECT)
		return -1;
	for (k = 0; k < t[o].size && i + 1 < n; k++) {
		if (keyis(line, &t[i], name, len))
			return i + 1;
		i = skip(t, n, i + 1);
	}
	return -1;
}

static void
span(const char *line, const jsmntok_t *t, struct bm_span *sp)
{
	char c;

	sp->p = line + t->start;
	sp->len = (size_t)(t->end - t->start);
	switch (t->type) {
	case JSMN_STRING:
		sp->p--;
		sp->len += 2;
		sp->kind = BM_SPAN_STRING;
		break;
	case JSMN_OBJECT:
		sp->kind = BM_SPAN_OBJECT;
		break;
	case JSMN_ARRAY:
		sp->kind = BM_SPAN_ARRAY;
		break;
	default:
		c = line[t->start];
		sp->kind = c == 't' || c == 'f' || c == 'n' ?
		    BM_SPAN_LITERAL : BM_SPAN_NUMBER;
		break;
	}
}

static const char *
kind(const char *line, const jsmntok_t *t)
{
	switch (t->type) {
	case JSMN_ARRAY:
		return "an array";
	case JSMN_STRING:
		return "a string";
	default:
		break;
	}
	switch (line[t->start]) {
	case 'n':
		return "null";
	case 't':
	case 'f':
		return "a boolean";
	default:
		return "a number";
	}
}

int
bm_scan_line(struct bm_scan *s, const char *line, size_t len,
    struct bm_span *out, struct bm_error *e)
{
	jsmn_parser jp;
	jsmntok_t *t;
	size_t i, end;
	int r, k, v, j;

	for (;;) {
		jsmn_init(&jp);
		r = jsmn_parse(&jp, line, len, s->tok, s->ntok);
		if (r != JSMN_ERROR_NOMEM)
			break;
		s->ntok *= 2;
		s->tok = xreallocarray(s->tok, s->ntok, sizeof(*s->tok));
	}
	t = s->tok;
	if (r < 0 || r == 0) {
		bm_error_set(e, NULL, 0, 0, "invalid JSON near column %lu",
		    (unsigned long)(r == JSMN_ERROR_PART || r == 0 ? len + 1 :
		    jp.pos + 1));
		return -1;
	}
	if (t[0].type != JSMN_OBJECT) {
		bm_error_set(e, NULL, 0, 0, "expected an object, got %s",
		    kind(line, &t[0]));
		return -1;
	}
	/* Nothing but blanks after the object. */
	for (end = (size_t)t[0].end; end < len; end++)
		if (!isspace((unsigned char)line[end])) {
			bm_error_set(e, NULL, 0, 0,
			    "invalid JSON near column %lu",
			    (unsigned long)end + 1);
			return -1;
		}
	for (i = 0; i < s->ntop; i++)
		s->topval[i] = -1;
	v = 1;
	for (k = 0; k < t[0].size && v + 1 < r; k++) {
		int c = t[v].end > t[v].start ?
		    (unsigned char)line[t[v].start] : 0;

		for (j = s->first[c]; j >= 0; j = s->next[j])
			if (s->topval[j] < 0 &&
			    keyis(line, &t[v], s->top[j], s->toplen[j])) {
				s->topval[j] = v + 1;
				break;
			}
		v = skip(t, r, v + 1);
	}
	for (i = 0; i < s->n; i++) {
		const struct path *p = &s->paths[i];

		size_t g;

		v = s->topval[p->top];
		for (g = 1; g < p->nseg && v >= 0; g++)
			v = member(line, t, r, v, p->seg[g], p->seglen[g]);
		if (v < 0) {
			out[i].p = NULL;
			out[i].len = 0;
			out[i].kind = BM_SPAN_NONE;
		} else {
			span(line, &t[v], &out[i]);
		}
	}
	return 0;
}

/* 10^0 .. 10^22: exact doubles. */
static const double pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * A plain decimal of at most 15 digits ("-812.4"): its digits as an exact
 * integer divided by an exact power of ten is the correctly rounded value,
 * as strtod would give (Clinger's fast path).  0 when it is not one.
 */
static int
fastnum(const char *p, size_t n, double *d)
{
	const char *e = p + n;
	unsigned long long m = 0;
	int digits = 0, frac = -1, neg = 0;

	if (p < e && *p == '-')
		neg = 1, p++;
	if (p == e || (*p == '0' && p + 1 < e && p[1] != '.'))
		return 0;
	for (; p < e; p++) {
		if (*p >= '0' && *p <= '9') {
			m = m * 10 + (unsigned)(*p - '0');
			if (++digits > 15)
				return 0;
			if (frac >= 0)
				frac++;
		} else if (*p == '.' && frac < 0 && digits) {
			frac = 0;
		} else {
			return 0;	/* exponents: strtod */
		}
	}
	if (!digits || frac == 0)
		return 0;
	*d = frac > 0 ? (double)m / pow10[frac] : (double)m;
	if (neg)
		*d = -*d;
	return 1;
}

int
bm_span_num(const struct bm_span *sp, double *d)
{
	char *end;
	double x;

	if (sp->kind != BM_SPAN_NUMBER)
		return 0;
	if (fastnum(sp->p, sp->len, d))
		return 1;
	x = strtod(sp->p, &end);
	if (end != sp->p + sp->len || !isfinite(x))
		return 0;
	*d = x;
	return 1;
}

int
bm_span_is(const struct bm_span *sp, const char *s)
{
	size_t n = strlen(s);

	return sp->kind == BM_SPAN_STRING && sp->len == n + 2 &&
	    memcmp(sp->p + 1, s, n) == 0;
}

/* n digits at p as a number, or -1. */
static int
digits(const char *p, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long
days(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
bm_span_time(const struct bm_span *sp, double *ms)
{
	const char *p, *end;
	int y, mo, d, h, mi, sec, oh, om;
	double frac = 0, scale = 0.1, off = 0;

	if (sp->kind != BM_SPAN_STRING || sp->len < 22)
		return 0;
	p = sp->p + 1;
	end = sp->p + sp->len - 1;
	y = digits(p, 4);
	mo = digits(p + 5, 2);
	d = digits(p + 8, 2);
	h = digits(p + 11, 2);
	mi = digits(p + 14, 2);
	sec = digits(p + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 ||
	    p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't' &&
	    p[10] != ' ') || p[13] != ':' || p[16] != ':')
		return 0;
	p += 19;
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (end - p == 6 && (*p == '+' || *p == '-') && p[3] == ':') {
		oh = digits(p + 1, 2);
		om = digits(p + 4, 2);
		if (oh < 0 || om < 0)
			return 0;
		off = (*p == '-' ? -1 : 1) * (oh * 60 + om) * 60000.0;
		p += 6;
	}
	if (p != end)
		return 0;
	*ms = ((double)days(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0 +
	    sec + frac) * 1000.0 - off;
	return 1;
}
