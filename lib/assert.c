/*
 * assert.c: check and score the assertions of DESIGN.md §6.  Compiled
 * regexes (PCRE2) and jq programs are cached by their text for the life of
 * the process, since a case stream repeats the same few specs many times.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <jq.h>

#include "assert.h"
#include "buf.h"
#include "jsonl.h"
#include "suggest.h"
#include "xalloc.h"

static const char *const types[] = {
	"equals", "contains", "icontains", "not-contains", "starts-with",
	"regex", "json", "jq", "entities", "judge", "exit-code",
	"max-latency-ms", "max-tokens", "exec", NULL
};

static const char *const entity_keys[] = {
	"expected", "match", "min_f1", NULL
};

static const char *const judge_keys[] = { "rubric", "model", NULL };

/* A compiled program, keyed by its source text. */
struct cached {
	char *src;
	void *code;		/* pcre2_code * or jq_state * */
	char *err;		/* compile error message, or NULL */
};

static struct cached *regexes, *jqs;
static size_t nregexes, njqs;

/*
 * Free the caches at exit: libjq keeps pointers past the end of its
 * blocks, which leak checkers cannot follow, so the states must go.
 */
static void
free_caches(void)
{
	size_t i;

	for (i = 0; i < nregexes; i++) {
		pcre2_code_free(regexes[i].code);
		free(regexes[i].src);
		free(regexes[i].err);
	}
	for (i = 0; i < njqs; i++) {
		if (jqs[i].code)
			jq_teardown((jq_state **)&jqs[i].code);
		free(jqs[i].src);
		free(jqs[i].err);
	}
	free(regexes);
	free(jqs);
	regexes = jqs = NULL;
	nregexes = njqs = 0;
}

static struct cached *
grow(struct cached **tab, size_t *n)
{
	static int registered;

	if (!registered && atexit(free_caches) == 0)
		registered = 1;
	*tab = xreallocarray(*tab, *n + 1, sizeof(**tab));
	return &(*tab)[(*n)++];
}

static struct cached *
lookup(struct cached *tab, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].src, src) == 0)
			return &tab[i];
	return NULL;
}

static struct cached *
regex_get(const char *src)
{
	struct cached *c = lookup(regexes, nregexes, src);
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;

	if (c)
		return c;
	c = grow(&regexes, &nregexes);
	c->src = xstrdup(src);
	c->err = NULL;
	c->code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF, &code, &off, NULL);
	if (!c->code) {
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			c->err = xstrdup("invalid pattern");
		else
			c->err = xasprintf("%s at offset %zu", (char *)msg,
			    (size_t)off);
	}
	return c;
}

/* jq reports compile errors through a callback: keep the first one. */
static void
jq_errcb(void *arg, jv msg)
{
	static const char hint[] = " (Unix shell quoting issues?)";
	char **err = arg;
	const char *s, *nl;

	if (!*err && jv_get_kind(msg) == JV_KIND_STRING) {
		s = jv_string_value(msg);
		if (strncmp(s, "jq: error: ", 11) == 0)
			s += 11;
		nl = strchr(s, '\n');
		*err = nl ? xstrndup(s, (size_t)(nl - s)) : xstrdup(s);
		/* "... at <top-level>, line 1:" says nothing useful here. */
		nl = strstr(*err, " at <top-level>");
		if (nl)
			(*err)[nl - *err] = '\0';
		/* Nor does a shell hint about an expression from YAML. */
		nl = strstr(*err, hint);
		if (nl)
			memmove((char *)nl, nl + sizeof(hint) - 1,
			    strlen(nl + sizeof(hint) - 1) + 1);
	}
	jv_free(msg);
}

static struct cached *
jq_get(const char *src)
{
	struct cached *c = lookup(jqs, njqs, src);
	jq_state *jq;

	if (c)
		return c;
	c = grow(&jqs, &njqs);
	c->src = xstrdup(src);
	c->err = NULL;
	c->code = NULL;
	jq = jq_init();
	if (!jq) {
		c->err = xstrdup("cannot initialise libjq");
		return c;
	}
	jq_set_error_cb(jq, jq_errcb, &c->err);
	if (!jq_compile(jq, src)) {
		if (!c->err)
			c->err = xstrdup("compile error");
		jq_teardown(&jq);
		return c;
	}
	/* Later runtime errors are reported per answer, not here. */
	jq_set_error_cb(jq, NULL, NULL);
	c->code = jq;
	return c;
}

static int
is_type(const char *k)
{
	size_t i;

	for (i = 0; types[i]; i++)
		if (strcmp(types[i], k) == 0)
			return 1;
	return 0;
}

/* The one error of a check: no position here, *where is its node. */
static int
fail(const cJSON *node, const cJSON **where, struct bm_error *e,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(const cJSON *node, const cJSON **where, struct bm_error *e,
    const char *fmt, ...)
{
	va_list ap;

	*where = node;
	va_start(ap, fmt);
	bm_error_vset(e, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int
check_keys(const cJSON *obj, const char *type, const char *const *allowed,
    const cJSON **where, struct bm_error *e)
{
	const cJSON *k;
	char *hint;
	size_t i;

	cJSON_ArrayForEach(k, obj) {
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], k->string) == 0)
				break;
		if (allowed[i])
			continue;
		hint = bm_suggest_hint(k->string, allowed);
		fail(k, where, e, "%s: unknown key '%s'%s", type, k->string,
		    hint);
		free(hint);
		return -1;
	}
	return 0;
}

static int
check_entities(const cJSON *v, const cJSON **where, struct bm_error *e)
{
	const cJSON *x, *m, *f;

	if (!cJSON_IsObject(v))
		return fail(v, where, e,
		    "entities: expected a mapping with expected: [...]");
	if (check_keys(v, "entities", entity_keys, where, e) < 0)
		return -1;
	x = cJSON_GetObjectItemCaseSensitive(v, "expected");
	if (!cJSON_IsArray(x))
		return fail(x ? x : v, where, e,
		    "entities: expected must be a list of strings");
	cJSON_ArrayForEach(m, x)
		if (!cJSON_IsString(m))
			return fail(m, where, e,
			    "entities: expected must be a list of strings");
	m = cJSON_GetObjectItemCaseSensitive(v, "match");
	if (m && (!cJSON_IsString(m) ||
	    (strcmp(m->valuestring, "exact") != 0 &&
	    strcmp(m->valuestring, "case-insensitive") != 0)))
		return fail(m, where, e,
		    "entities: match must be exact or case-insensitive");
	f = cJSON_GetObjectItemCaseSensitive(v, "min_f1");
	if (f && (!cJSON_IsNumber(f) || f->valuedouble < 0 ||
	    f->valuedouble > 1))
		return fail(f, where, e,
		    "entities: min_f1 must be a number from 0 to 1");
	return 0;
}

static int
check_judge(const cJSON *v, const cJSON **where, struct bm_error *e)
{
	const cJSON *r, *m;

	if (cJSON_IsString(v) && *v->valuestring)
		return 0;	/* the rubric alone */
	if (!cJSON_IsObject(v))
		return fail(v, where, e,
		    "judge: expected a rubric or {rubric: ..., model: ...}");
	if (check_keys(v, "judge", judge_keys, where, e) < 0)
		return -1;
	r = cJSON_GetObjectItemCaseSensitive(v, "rubric");
	if (!cJSON_IsString(r) || !*r->valuestring)
		return fail(r ? r : v, where, e,
		    "judge: rubric must be a non-empty string");
	m = cJSON_GetObjectItemCaseSensitive(v, "model");
	if (m && (!cJSON_IsString(m) || !*m->valuestring))
		return fail(m, where, e,
		    "judge: model must be a model reference");
	return 0;
}

static int
whole(double d)
{
	return isfinite(d) && d == floor(d) && fabs(d) < 1e15;
}

/* The value of one assertion type. */
static int
check_value(const char *t, const cJSON *v, const cJSON **where,
    struct bm_error *e)
{
	struct cached *c;

	if (strcmp(t, "regex") == 0 || strcmp(t, "jq") == 0 ||
	    strcmp(t, "exec") == 0) {
		if (!cJSON_IsString(v) || !*v->valuestring)
			return fail(v, where, e,
			    "%s: expected a non-empty string", t);
		if (strcmp(t, "exec") == 0)
			return 0;
		c = *t == 'r' ? regex_get(v->valuestring) :
		    jq_get(v->valuestring);
		if (c->err)
			return fail(v, where, e, "%s: %s", t, c->err);
		return 0;
	}
	if (strcmp(t, "json") == 0) {
		if (!cJSON_IsBool(v) && !cJSON_IsNull(v))
			return fail(v, where, e, "%s: expected true", t);
		return 0;
	}
	if (strcmp(t, "entities") == 0)
		return check_entities(v, where, e);
	if (strcmp(t, "judge") == 0)
		return check_judge(v, where, e);
	if (strcmp(t, "exit-code") == 0) {
		if (!cJSON_IsNumber(v) || !whole(v->valuedouble) ||
		    v->valuedouble < 0 || v->valuedouble > 255)
			return fail(v, where, e,
			    "%s: expected an integer from 0 to 255", t);
		return 0;
	}
	if (strcmp(t, "max-latency-ms") == 0) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
			return fail(v, where, e, "%s: expected a number >= 0",
			    t);
		return 0;
	}
	if (strcmp(t, "max-tokens") == 0) {
		if (!cJSON_IsNumber(v) || !whole(v->valuedouble) ||
		    v->valuedouble < 0)
			return fail(v, where, e, "%s: expected an integer >= 0",
			    t);
		return 0;
	}
	/* equals, contains, icontains, not-contains, starts-with */
	if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
		return fail(v, where, e, "%s: expected a string", t);
	return 0;
}

int
bm_assert_check(const cJSON *spec, const cJSON **where, struct bm_error *e)
{
	const cJSON *k, *type = NULL;
	char *hint;

	*where = spec;
	if (!cJSON_IsObject(spec))
		return fail(spec, where, e,
		    "expected an assertion such as {contains: \"4\"}");
	cJSON_ArrayForEach(k, spec) {
		if (strcmp(k->string, "weight") == 0) {
			if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0) ||
			    !isfinite(k->valuedouble))
				return fail(k, where, e,
				    "weight: expected a number >= 0");
			continue;
		}
		if (strcmp(k->string, "not") == 0) {
			if (!cJSON_IsBool(k))
				return fail(k, where, e,
				    "not: expected true or false");
			continue;
		}
		if (!is_type(k->string)) {
			hint = bm_suggest_hint(k->string, types);
			fail(k, where, e, "unknown assertion '%s'%s",
			    k->string, hint);
			free(hint);
			return -1;
		}
		if (type)
			return fail(k, where, e, "assertion has two types, "
			    "'%s' and '%s'", type->string, k->string);
		type = k;
	}
	if (!type)
		return fail(spec, where, e, "assertion has no type");
	return check_value(type->string, type, where, e);
}

/* --- scoring ------------------------------------------------------------- */

/* A scalar spec value as text: strings as they are, numbers as cJSON prints. */
static char *
text_of(const cJSON *v)
{
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	return bm_json_print(v);
}

/* out without leading and trailing white space, as a new string. */
static char *
trimmed(const char *s)
{
	size_t n;

	while (*s && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static const char *
ci_strstr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return n == 0 ? hay : NULL;
}

static int
score_regex(const char *src, const char *out)
{
	struct cached *c = regex_get(src);
	pcre2_match_data *md;
	int rc;

	if (c->err)
		return 0;
	md = pcre2_match_data_create_from_pattern(c->code, NULL);
	rc = pcre2_match(c->code, (PCRE2_SPTR)out, strlen(out), 0, 0, md,
	    NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

static int
score_jq(const char *src, const char *out)
{
	struct cached *c = jq_get(src);
	jv in, r;
	int pass;

	if (c->err)
		return 0;
	in = jv_parse(out);
	if (!jv_is_valid(in)) {
		jv_free(in);
		return 0;
	}
	jq_start(c->code, in, 0);
	r = jq_next(c->code);
	pass = jv_get_kind(r) == JV_KIND_TRUE;
	jv_free(r);
	/* Drain, so the state is clean for the next answer. */
	while (jv_is_valid(r = jq_next(c->code)))
		jv_free(r);
	jv_free(r);
	return pass;
}

static void
add_item(char ***items, size_t *n, const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	/* List markers: "- x", "* x", "• x". */
	if (len >= 2 && (*s == '-' || *s == '*') && s[1] == ' ') {
		s += 2;
		len -= 2;
	} else if (len >= 4 && memcmp(s, "\xe2\x80\xa2 ", 4) == 0) {
		s += 4;
		len -= 4;
	}
	while (len > 0 && (isspace((unsigned char)s[len - 1]) ||
	    s[len - 1] == '.'))
		len--;
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len == 0)
		return;
	*items = xreallocarray(*items, *n + 1, sizeof(**items));
	(*items)[(*n)++] = xstrndup(s, len);
}

/*
 * The entities an answer names: a JSON array of strings, or else its
 * items split at newlines, commas and semicolons.
 */
static char **
answer_items(const char *out, size_t *n)
{
	cJSON *j = cJSON_Parse(out), *x;
	char **items = NULL;
	const char *p, *q;

	*n = 0;
	if (cJSON_IsArray(j)) {
		cJSON_ArrayForEach(x, j)
			if (cJSON_IsString(x))
				add_item(&items, n, x->valuestring,
				    strlen(x->valuestring));
		cJSON_Delete(j);
		return items;
	}
	cJSON_Delete(j);
	for (p = out; *p; p = *q ? q + 1 : q) {
		q = p + strcspn(p, "\n,;");
		add_item(&items, n, p, (size_t)(q - p));
	}
	return items;
}

static double
score_entities(const cJSON *v, const char *out, int *pass, cJSON *result)
{
	const cJSON *gold = cJSON_GetObjectItemCaseSensitive(v, "expected");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "match");
	const cJSON *mf = cJSON_GetObjectItemCaseSensitive(v, "min_f1");
	int ci = cJSON_IsString(m) &&
	    strcmp(m->valuestring, "case-insensitive") == 0;
	double min_f1 = cJSON_IsNumber(mf) ? mf->valuedouble : 1.0;
	size_t npred, ngold = 0, tp = 0, i, k;
	char **pred = answer_items(out, &npred);
	const cJSON *g;
	char *used;
	double p, r, f1;
	cJSON *metrics;

	ngold = (size_t)cJSON_GetArraySize(gold);
	used = xcalloc(ngold + 1, 1);
	for (i = 0; i < npred; i++) {
		k = 0;
		cJSON_ArrayForEach(g, gold) {
			if (!used[k] && cJSON_IsString(g) && (ci ?
			    strcasecmp(g->valuestring, pred[i]) == 0 :
			    strcmp(g->valuestring, pred[i]) == 0)) {
				used[k] = 1;
				tp++;
				break;
			}
			k++;
		}
		free(pred[i]);
	}
	free(pred);
	free(used);
	p = npred ? (double)tp / npred : (ngold ? 0 : 1);
	r = ngold ? (double)tp / ngold : 1;
	f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
	*pass = f1 >= min_f1 - 1e-9;
	metrics = cJSON_GetObjectItemCaseSensitive(result, "metrics");
	if (!metrics)
		metrics = cJSON_AddObjectToObject(result, "metrics");
	cJSON_DeleteItemFromObjectCaseSensitive(metrics, "precision");
	cJSON_DeleteItemFromObjectCaseSensitive(metrics, "recall");
	cJSON_DeleteItemFromObjectCaseSensitive(metrics, "f1");
	cJSON_AddNumberToObject(metrics, "precision", p);
	cJSON_AddNumberToObject(metrics, "recall", r);
	cJSON_AddNumberToObject(metrics, "f1", f1);
	return f1;
}

/*
 * Score one checked spec: 0 with *pass and *score, or -1 with e when the
 * type is not evaluated here.
 */
static int
score_one(const char *t, const cJSON *v, const struct bm_answer *a,
    const struct bm_verdict *ext, int *pass, double *score, cJSON *result,
    struct bm_error *e)
{
	const char *out = a->output ? a->output : "";
	char *want, *got;
	cJSON *j;

	*score = -1;
	if (strcmp(t, "judge") == 0 || strcmp(t, "exec") == 0) {
		if (!ext || !ext->known) {
			bm_error_set(e, NULL, 0, 0, "%s: no verdict", t);
			return -1;
		}
		*pass = ext->pass;
		*score = ext->score;
	} else if (strcmp(t, "equals") == 0 || strcmp(t, "starts-with") == 0) {
		want = text_of(v);
		got = trimmed(out);
		*pass = *t == 'e' ? strcmp(got, want) == 0 :
		    strncmp(got, want, strlen(want)) == 0;
		free(want);
		free(got);
	} else if (strcmp(t, "contains") == 0 ||
	    strcmp(t, "not-contains") == 0) {
		want = text_of(v);
		*pass = (strstr(out, want) != NULL) == (*t == 'c');
		free(want);
	} else if (strcmp(t, "icontains") == 0) {
		want = text_of(v);
		*pass = ci_strstr(out, want) != NULL;
		free(want);
	} else if (strcmp(t, "regex") == 0) {
		*pass = score_regex(v->valuestring, out);
	} else if (strcmp(t, "json") == 0) {
		j = cJSON_Parse(out);
		*pass = j != NULL;
		cJSON_Delete(j);
	} else if (strcmp(t, "jq") == 0) {
		*pass = score_jq(v->valuestring, out);
	} else if (strcmp(t, "entities") == 0) {
		*score = score_entities(v, out, pass, result);
	} else if (strcmp(t, "exit-code") == 0) {
		*pass = a->exit_code >= 0 && a->exit_code == v->valueint;
	} else if (strcmp(t, "max-latency-ms") == 0) {
		*pass = a->latency_ms >= 0 && a->latency_ms <= v->valuedouble;
	} else if (strcmp(t, "max-tokens") == 0) {
		*pass = a->completion_tokens >= 0 &&
		    a->completion_tokens <= v->valuedouble;
	} else {
		bm_error_set(e, NULL, 0, 0, "%s: not evaluated here", t);
		return -1;
	}
	if (*score < 0)
		*score = *pass ? 1 : 0;
	return 0;
}

const cJSON *
bm_assert_type(const cJSON *spec)
{
	const cJSON *k, *type = NULL;

	cJSON_ArrayForEach(k, spec)
		if (strcmp(k->string, "weight") != 0 &&
		    strcmp(k->string, "not") != 0)
			type = k;
	return type;
}

int
bm_assert_score(const cJSON *expect, const struct bm_answer *a,
    cJSON *result, struct bm_error *e)
{
	const cJSON *spec, *type, *w, *neg;
	const cJSON *where;
	const struct bm_verdict *ext;
	cJSON *list, *item;
	double sum = 0, wsum = 0, weight, score;
	int all = 1, pass, i = 0;

	cJSON_DeleteItemFromObjectCaseSensitive(result, "assertions");
	cJSON_DeleteItemFromObjectCaseSensitive(result, "score");
	list = cJSON_AddArrayToObject(result, "assertions");
	cJSON_ArrayForEach(spec, expect) {
		if (bm_assert_check(spec, &where, e) < 0)
			return -1;
		type = bm_assert_type(spec);
		ext = a->verdicts ? &a->verdicts[i] : NULL;
		i++;
		if (score_one(type->string, type, a, ext, &pass, &score,
		    result, e) < 0)
			return -1;
		neg = cJSON_GetObjectItemCaseSensitive(spec, "not");
		if (cJSON_IsTrue(neg)) {
			pass = !pass;
			score = 1 - score;
		}
		w = cJSON_GetObjectItemCaseSensitive(spec, "weight");
		weight = cJSON_IsNumber(w) ? w->valuedouble : 1;
		sum += weight * score;
		wsum += weight;
		all = all && pass;
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "type", type->string);
		cJSON_AddBoolToObject(item, "pass", pass);
		cJSON_AddNumberToObject(item, "score", score);
		if (ext && ext->known && ext->agreement >= 0)
			cJSON_AddNumberToObject(item, "agreement",
			    ext->agreement);
		if (ext && ext->known && ext->reason && !pass)
			cJSON_AddStringToObject(item, "reason", ext->reason);
		cJSON_AddItemToArray(list, item);
	}
	cJSON_AddNumberToObject(result, "score",
	    wsum > 0 ? sum / wsum : (all ? 1 : 0));
	return all;
}
