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

static const char *const judge_keys[] = { "rubric", "model", "models",
	NULL };

/* A compiled program, keyed by its source text. */
struct cached {
	char *src;
	void *code;		/* pcre2_code * or jq_state * */
	void *md;		/* regexes: pcre2_match_data *, or NULL */
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
		pcre2_match_data_free(regexes[i].md);
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
	c->md = NULL;
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
	c->md = NULL;
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
	    strcmp(m->valuestring, "case-insensitive") != 0 &&
	    strcmp(m->valuestring, "normalized") != 0)))
		return fail(m, where, e, "entities: match must be exact,"
		    " case-insensitive or normalized");
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
	const cJSON *r, *m, *ms, *x;

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
	ms = cJSON_GetObjectItemCaseSensitive(v, "models");
	if (ms && m)
		return fail(ms, where, e,
		    "judge: give model or models, not both");
	if (ms && cJSON_GetArraySize(ms) == 0)
		return fail(ms, where, e,
		    "judge: models must be a list of model references");
	cJSON_ArrayForEach(x, ms)
		if (!cJSON_IsArray(ms) || !cJSON_IsString(x) ||
		    !*x->valuestring)
			return fail(ms, where, e, "judge: models must be a"
			    " list of model references");
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

/* s without leading and trailing white space, as a new string. */
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

/* Values quoted in a reason: this many characters at most, then "…". */
#define SHOWN 60

/* Bytes of s's first max characters; *cut when s is longer. */
static size_t
clip_len(const char *s, size_t max, int *cut)
{
	size_t i, n = 0;

	*cut = 0;
	for (i = 0; s[i]; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == max) {
			*cut = 1;
			break;
		}
	return i;
}

/* s as a JSON string, shortened: "5", "Once upon a time…". */
static void
quote(struct bm_buf *b, const char *s)
{
	int cut;
	size_t n = clip_len(s, SHOWN, &cut);
	char *t = cut ? xasprintf("%.*s\xe2\x80\xa6", (int)n, s) : xstrdup(s);

	bm_json_put_str(b, t);
	free(t);
}

/* s as it is, shortened, control characters as blanks (programs). */
static void
raw(struct bm_buf *b, const char *s)
{
	int cut;
	size_t i, n = clip_len(s, SHOWN, &cut);

	for (i = 0; i < n; i++)
		bm_buf_addc(b, iscntrl((unsigned char)s[i]) ? ' ' : s[i]);
	if (cut)
		bm_buf_adds(b, "\xe2\x80\xa6");
}

/* A measure for a person: 812, 812.4, 0.6667. */
static void
put_num(struct bm_buf *b, double d)
{
	if (d == floor(d) || fabs(d) >= 1000)
		bm_buf_addf(b, "%.0f", d);
	else
		bm_buf_addf(b, "%.4g", d);
}

/* A parser's message without its "(while parsing ...)" tail, lowercase. */
static void
put_msg(struct bm_buf *b, const char *msg)
{
	const char *end = strstr(msg, " (while parsing");
	size_t n = end ? (size_t)(end - msg) : strlen(msg), at = b->len;

	bm_buf_add(b, msg, n);
	if (n > 1 && isupper((unsigned char)b->s[at]) &&
	    !isupper((unsigned char)b->s[at + 1]))
		b->s[at] = (char)tolower((unsigned char)b->s[at]);
}

/* The entry as named in "not: LABEL passed": contains "x", regex '^a'. */
static void
put_label(struct bm_buf *b, const char *t, const cJSON *v)
{
	char *s;

	bm_buf_adds(b, t);
	if (cJSON_IsString(v) && (strcmp(t, "regex") == 0 ||
	    strcmp(t, "jq") == 0 || strcmp(t, "exec") == 0)) {
		bm_buf_adds(b, " '");
		raw(b, v->valuestring);
		bm_buf_addc(b, '\'');
	} else if (cJSON_IsString(v) || (cJSON_IsNumber(v) &&
	    strcmp(t, "exit-code") != 0 && strcmp(t, "max-tokens") != 0 &&
	    strcmp(t, "max-latency-ms") != 0)) {
		s = text_of(v);
		bm_buf_addc(b, ' ');
		quote(b, s);
		free(s);
	} else if (cJSON_IsNumber(v)) {
		bm_buf_addc(b, ' ');
		put_num(b, v->valuedouble);
	}
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
	int rc;

	if (c->err)
		return 0;
	/* The match data is the pattern's own: one allocation, not one
	 * per answer. */
	if (!c->md)
		c->md = pcre2_match_data_create_from_pattern(c->code, NULL);
	rc = pcre2_match(c->code, (PCRE2_SPTR)out, strlen(out), 0, 0, c->md,
	    NULL);
	return rc >= 0;
}

/*
 * The next ``` fenced block of the text at *p: its content (after the
 * opening fence and its language word, "```json") and *len; *p moves past
 * the closing fence (an unclosed block runs to the end).  NULL: no more.
 */
static const char *
fence_next(const char **p, size_t *len)
{
	const char *open = strstr(*p, "```"), *body, *close;

	if (!open)
		return NULL;
	body = open + 3;
	while (isalnum((unsigned char)*body) || *body == '-' ||
	    *body == '+' || *body == '_' || *body == '.')
		body++;
	while (*body == ' ' || *body == '\t' || *body == '\r')
		body++;
	if (*body == '\n')
		body++;
	else if (strncmp(body, "```", 3) == 0)
		body = open + 3;	/* "```true```": no language word */
	close = strstr(body, "```");
	*len = close ? (size_t)(close - body) : strlen(body);
	*p = close ? close + 3 : body + *len;
	return body;
}

/*
 * The answer as JSON (libjq's parser, for json and jq alike): the answer
 * itself, else the first ``` fenced block in it that parses.  Invalid,
 * with the first fenced block's message (else the answer's), when none.
 */
static jv
answer_json(const char *out)
{
	jv v = jv_parse(out), f;
	const char *p = out, *body;
	size_t len;
	int first = 1;

	if (jv_is_valid(v) || !strstr(out, "```"))
		return v;
	while ((body = fence_next(&p, &len))) {
		f = jv_parse_sized(body, (int)(len < INT32_MAX ? len :
		    INT32_MAX));
		if (jv_is_valid(f) || first) {
			jv_free(v);
			v = f;
			if (jv_is_valid(v))
				break;
		} else {
			jv_free(f);
		}
		first = 0;
	}
	return v;
}

/* The message of an invalid jv, into b (consumes v). */
static void
put_invalid(struct bm_buf *b, jv v)
{
	jv msg = jv_invalid_get_msg(v);

	if (jv_get_kind(msg) == JV_KIND_STRING) {
		put_msg(b, jv_string_value(msg));
		jv_free(msg);
	} else {
		msg = jv_dump_string(msg, 0);
		raw(b, jv_string_value(msg));
		jv_free(msg);
	}
}

static int
score_json(const char *out, int want_why, struct bm_buf *why)
{
	jv v = answer_json(out);

	if (jv_is_valid(v)) {
		jv_free(v);
		return 1;
	}
	if (want_why) {
		bm_buf_adds(why, "json: ");
		if (jv_invalid_has_msg(jv_copy(v))) {
			put_invalid(why, v);
			return 0;
		}
		bm_buf_adds(why, "not JSON");
	}
	jv_free(v);
	return 0;
}

/*
 * jq: the first output of program src over the answer is true.  A reason
 * (when the entry fails as a plain jq) says what came out instead.
 */
static int
score_jq(const char *src, const char *out, int want_why, struct bm_buf *why)
{
	struct cached *c = jq_get(src);
	jv in, r, d;
	int pass;

	if (c->err)
		return 0;
	in = answer_json(out);
	if (!jv_is_valid(in)) {
		if (want_why) {
			bm_buf_adds(why, "jq: the answer is not JSON: ");
			put_invalid(why, in);
		} else {
			jv_free(in);
		}
		return 0;
	}
	jq_start(c->code, in, 0);
	r = jq_next(c->code);
	pass = jv_get_kind(r) == JV_KIND_TRUE;
	if (!pass && want_why) {
		bm_buf_adds(why, "jq: ");
		raw(why, src);
		if (jv_is_valid(r)) {
			bm_buf_adds(why, " gave ");
			d = jv_dump_string(jv_copy(r), 0);
			raw(why, jv_string_value(d));
			jv_free(d);
		} else if (jv_invalid_has_msg(jv_copy(r))) {
			bm_buf_adds(why, " failed: ");
			put_invalid(why, jv_copy(r));
		} else {
			bm_buf_adds(why, " gave no output");
		}
	}
	/* Only the first output counts: the rest is never asked for (a
	 * generator such as range(1e9) would take long), and jq_start
	 * resets the state for the next answer. */
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
 * The entities an answer names: a JSON list of strings (also in a ```
 * fence), or else its items split at newlines, commas and semicolons.
 */
static char **
answer_items(const char *out, size_t *n)
{
	jv j = answer_json(out), x;
	char **items = NULL;
	const char *p, *q;
	int i, len;

	*n = 0;
	if (jv_get_kind(j) == JV_KIND_ARRAY) {
		len = jv_array_length(jv_copy(j));
		for (i = 0; i < len; i++) {
			x = jv_array_get(jv_copy(j), i);
			if (jv_get_kind(x) == JV_KIND_STRING)
				add_item(&items, n, jv_string_value(x),
				    (size_t)jv_string_length_bytes(jv_copy(x)));
			jv_free(x);
		}
		jv_free(j);
		return items;
	}
	jv_free(j);
	for (p = out; *p; p = *q ? q + 1 : q) {
		q = p + strcspn(p, "\n,;");
		add_item(&items, n, p, (size_t)(q - p));
	}
	return items;
}

enum { M_EXACT, M_CASE, M_NORM };

/*
 * An entity as the match mode compares it: normalized drops the white
 * space and punctuation around it, folds ASCII case and turns each run
 * of inner white space into one blank.
 */
static char *
entity_key(const char *s, int mode)
{
	struct bm_buf b = BM_BUF_INIT;
	size_t n;
	int blank = 0;

	if (mode != M_NORM)
		return xstrdup(s);
	while (*s && (isspace((unsigned char)*s) || ispunct((unsigned char)*s)))
		s++;
	n = strlen(s);
	while (n > 0 && (isspace((unsigned char)s[n - 1]) ||
	    ispunct((unsigned char)s[n - 1])))
		n--;
	for (; n > 0; s++, n--) {
		if (isspace((unsigned char)*s)) {
			blank = 1;
			continue;
		}
		if (blank)
			bm_buf_addc(&b, ' ');
		blank = 0;
		bm_buf_addc(&b, tolower((unsigned char)*s));
	}
	return bm_buf_detach(&b, NULL);
}

static void
set_metric(cJSON *metrics, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(metrics, k);
	cJSON_AddNumberToObject(metrics, k, v);
}

/*
 * entities: precision, recall and F1 of the answer's entities against
 * the gold list, each gold entity matched once.  The result's metrics get
 * precision, recall, f1 and the counts tp, fp, fn; *more the entry's
 * missing (gold order) and extra (answer order) lists.
 */
static double
score_entities(const cJSON *v, const char *out, int *pass, cJSON *result,
    cJSON **more)
{
	const cJSON *gold = cJSON_GetObjectItemCaseSensitive(v, "expected");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "match");
	const cJSON *mf = cJSON_GetObjectItemCaseSensitive(v, "min_f1");
	int mode = !cJSON_IsString(m) ? M_EXACT :
	    strcmp(m->valuestring, "case-insensitive") == 0 ? M_CASE :
	    strcmp(m->valuestring, "normalized") == 0 ? M_NORM : M_EXACT;
	double min_f1 = cJSON_IsNumber(mf) ? mf->valuedouble : 1.0;
	size_t npred, ngold, tp = 0, i, k;
	char **pred = answer_items(out, &npred), **gk, *pk;
	const cJSON *g;
	char *used;
	double p, r, f1;
	cJSON *metrics, *missing, *extra;

	ngold = (size_t)cJSON_GetArraySize(gold);
	used = xcalloc(ngold + 1, 1);
	gk = xcalloc(ngold + 1, sizeof(*gk));
	k = 0;
	cJSON_ArrayForEach(g, gold)
		gk[k++] = entity_key(cJSON_IsString(g) ? g->valuestring : "",
		    mode);
	*more = cJSON_CreateObject();
	missing = cJSON_AddArrayToObject(*more, "missing");
	extra = cJSON_AddArrayToObject(*more, "extra");
	for (i = 0; i < npred; i++) {
		pk = entity_key(pred[i], mode);
		for (k = 0; k < ngold; k++)
			if (!used[k] && (mode == M_CASE ?
			    strcasecmp(gk[k], pk) == 0 :
			    strcmp(gk[k], pk) == 0))
				break;
		if (k < ngold) {
			used[k] = 1;
			tp++;
		} else {
			cJSON_AddItemToArray(extra,
			    cJSON_CreateString(pred[i]));
		}
		free(pk);
		free(pred[i]);
	}
	k = 0;
	cJSON_ArrayForEach(g, gold) {
		if (!used[k] && cJSON_IsString(g))
			cJSON_AddItemToArray(missing,
			    cJSON_CreateString(g->valuestring));
		free(gk[k++]);
	}
	free(gk);
	free(pred);
	free(used);
	p = npred ? (double)tp / npred : (ngold ? 0 : 1);
	r = ngold ? (double)tp / ngold : 1;
	f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
	*pass = f1 >= min_f1 - 1e-9;
	metrics = cJSON_GetObjectItemCaseSensitive(result, "metrics");
	if (!metrics)
		metrics = cJSON_AddObjectToObject(result, "metrics");
	set_metric(metrics, "precision", p);
	set_metric(metrics, "recall", r);
	set_metric(metrics, "f1", f1);
	set_metric(metrics, "tp", (double)tp);
	set_metric(metrics, "fp", (double)(npred - tp));
	set_metric(metrics, "fn", (double)(ngold - tp));
	return f1;
}

/* What scoring one entry found. */
struct verdict {
	int pass;
	double score;		/* < 0: 1 when it passed, else 0 */
	cJSON *more;		/* fields for the entry, or NULL */
};

/*
 * Score one checked spec of type t and value v: 0 with o, or -1 with e
 * when the type is not evaluated here.  The reason of a failure goes to
 * why; it is written only when want_why (the entry is not negated), and
 * only when the entry fails, so a passing answer costs no text.
 */
static int
score_one(const char *t, const cJSON *v, const struct bm_answer *a,
    const struct bm_verdict *ext, int want_why, struct verdict *o,
    struct bm_buf *why, cJSON *result, struct bm_error *e)
{
	const char *out = a->output ? a->output : "";
	char *want, *got;
	int pass = 0;

	o->score = -1;
	o->more = NULL;
	if (strcmp(t, "judge") == 0 || strcmp(t, "exec") == 0) {
		if (!ext || !ext->known) {
			bm_error_set(e, NULL, 0, 0, "%s: no verdict", t);
			return -1;
		}
		pass = ext->pass;
		o->score = ext->score;
		if (!pass && want_why) {
			if (ext->reason && *ext->reason)
				bm_buf_adds(why, ext->reason);
			else
				bm_buf_addf(why, "%s: failed", t);
		}
	} else if (strcmp(t, "equals") == 0 || strcmp(t, "starts-with") == 0) {
		want = text_of(v);
		got = trimmed(out);
		pass = *t == 'e' ? strcmp(got, want) == 0 :
		    strncmp(got, want, strlen(want)) == 0;
		if (!pass && want_why) {
			if (*t == 'e')
				bm_buf_adds(why, "expected ");
			else
				bm_buf_adds(why, "starts-with ");
			quote(why, want);
			bm_buf_adds(why, *t == 'e' ? ", got " : ": got ");
			quote(why, got);
		}
		free(want);
		free(got);
	} else if (strcmp(t, "contains") == 0 ||
	    strcmp(t, "not-contains") == 0 || strcmp(t, "icontains") == 0) {
		want = text_of(v);
		pass = *t == 'i' ? ci_strstr(out, want) != NULL :
		    (strstr(out, want) != NULL) == (*t == 'c');
		if (!pass && want_why) {
			bm_buf_addf(why, "%s ", t);
			quote(why, want);
			bm_buf_adds(why, *t == 'n' ? ": found" :
			    ": not found");
		}
		free(want);
	} else if (strcmp(t, "regex") == 0) {
		pass = score_regex(v->valuestring, out);
		if (!pass && want_why) {
			bm_buf_adds(why, "regex '");
			raw(why, v->valuestring);
			bm_buf_adds(why, "' did not match");
		}
	} else if (strcmp(t, "json") == 0) {
		pass = score_json(out, want_why, why);
	} else if (strcmp(t, "jq") == 0) {
		pass = score_jq(v->valuestring, out, want_why, why);
	} else if (strcmp(t, "entities") == 0) {
		o->score = score_entities(v, out, &pass, result, &o->more);
		if (!pass && want_why) {
			bm_buf_adds(why, "entities: f1 ");
			put_num(why, o->score);
			bm_buf_adds(why, " < ");
			put_num(why, bm_json_numor(v, "min_f1", 1.0));
		}
	} else if (strcmp(t, "exit-code") == 0) {
		pass = a->exit_code >= 0 && a->exit_code == v->valueint;
		if (!pass && want_why && a->exit_code < 0)
			bm_buf_addf(why, "no exit code (not an exec"
			    " provider), expected %d", v->valueint);
		else if (!pass && want_why)
			bm_buf_addf(why, "exit code %d, expected %d",
			    a->exit_code, v->valueint);
	} else if (strcmp(t, "max-latency-ms") == 0) {
		pass = a->latency_ms >= 0 && a->latency_ms <= v->valuedouble;
		if (!pass && want_why) {
			bm_buf_adds(why, "latency ");
			if (a->latency_ms >= 0) {
				put_num(why, a->latency_ms);
				bm_buf_adds(why, " ms > ");
			} else {
				bm_buf_adds(why, "unknown, limit ");
			}
			put_num(why, v->valuedouble);
		}
	} else if (strcmp(t, "max-tokens") == 0) {
		pass = a->completion_tokens >= 0 &&
		    a->completion_tokens <= v->valuedouble;
		if (!pass && want_why && a->completion_tokens >= 0)
			bm_buf_addf(why, "completion tokens %ld > %.0f",
			    a->completion_tokens, v->valuedouble);
		else if (!pass && want_why)
			bm_buf_addf(why, "completion tokens unknown, limit"
			    " %.0f", v->valuedouble);
	} else {
		bm_error_set(e, NULL, 0, 0, "%s: not evaluated here", t);
		return -1;
	}
	o->pass = pass;
	if (o->score < 0)
		o->score = pass ? 1 : 0;
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

/* Number d as bm_json_put prints a cJSON number. */
static void
put_number(struct bm_buf *b, double d)
{
	cJSON n;

	memset(&n, 0, sizeof(n));
	n.type = cJSON_Number;
	n.valuedouble = d;
	bm_json_put(b, &n);
}

/* Entry o of type t as JSON text, the members bm_assert_score's has. */
static void
put_entry(struct bm_buf *b, const char *t, const struct verdict *o,
    const struct bm_verdict *ext, struct bm_buf *why)
{
	const cJSON *it;

	bm_buf_adds(b, "{\"type\":");
	bm_json_put_str(b, t);
	bm_buf_adds(b, o->pass ? ",\"pass\":true,\"score\":" :
	    ",\"pass\":false,\"score\":");
	put_number(b, o->score);
	if (ext && ext->known && ext->agreement >= 0) {
		bm_buf_adds(b, ",\"agreement\":");
		put_number(b, ext->agreement);
	}
	if (!o->pass) {
		bm_buf_adds(b, ",\"reason\":");
		bm_json_put_str(b, bm_buf_str(why));
	}
	cJSON_ArrayForEach(it, o->more) {
		bm_buf_addc(b, ',');
		bm_json_put_str(b, it->string);
		bm_buf_addc(b, ':');
		bm_json_put(b, it);
	}
	bm_buf_addc(b, '}');
}

/*
 * Score a against expect: each entry to list as a cJSON item or, list
 * NULL, to text as JSON ("," between); an entities entry's metrics to
 * result; *score the weighted mean.  1 when every entry passed, 0, -1
 * with e (bm_assert_score).
 */
static int
score_all(const cJSON *expect, const struct bm_answer *a, cJSON *result,
    cJSON *list, struct bm_buf *text, double *score, struct bm_error *e)
{
	const cJSON *spec, *type, *w;
	const cJSON *where;
	const struct bm_verdict *ext;
	struct bm_buf why = BM_BUF_INIT;
	struct verdict o;
	cJSON *item, *it;
	double sum = 0, wsum = 0, weight;
	int all = 1, i = 0, neg, rc = 0;

	cJSON_ArrayForEach(spec, expect) {
		if (bm_assert_check(spec, &where, e) < 0) {
			rc = -1;
			goto out;
		}
		type = bm_assert_type(spec);
		ext = a->verdicts ? &a->verdicts[i] : NULL;
		neg = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec,
		    "not"));
		bm_buf_reset(&why);
		if (score_one(type->string, type, a, ext, !neg, &o, &why,
		    result, e) < 0) {
			rc = -1;
			goto out;
		}
		if (neg) {
			o.pass = !o.pass;
			o.score = 1 - o.score;
			if (!o.pass) {
				bm_buf_adds(&why, "not: ");
				put_label(&why, type->string, type);
				bm_buf_adds(&why, " passed");
			}
		}
		w = cJSON_GetObjectItemCaseSensitive(spec, "weight");
		weight = cJSON_IsNumber(w) ? w->valuedouble : 1;
		sum += weight * o.score;
		wsum += weight;
		all = all && o.pass;
		if (!list) {
			if (i > 0)
				bm_buf_addc(text, ',');
			put_entry(text, type->string, &o, ext, &why);
			cJSON_Delete(o.more);
			i++;
			continue;
		}
		i++;
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "type", type->string);
		cJSON_AddBoolToObject(item, "pass", o.pass);
		cJSON_AddNumberToObject(item, "score", o.score);
		if (ext && ext->known && ext->agreement >= 0)
			cJSON_AddNumberToObject(item, "agreement",
			    ext->agreement);
		if (!o.pass)
			cJSON_AddStringToObject(item, "reason",
			    bm_buf_str(&why));
		while (o.more && (it = o.more->child)) {
			cJSON_DetachItemViaPointer(o.more, it);
			cJSON_AddItemToObject(item, it->string, it);
		}
		cJSON_Delete(o.more);
		cJSON_AddItemToArray(list, item);
	}
	*score = wsum > 0 ? sum / wsum : (all ? 1 : 0);
	rc = all;
out:
	bm_buf_free(&why);
	return rc;
}

int
bm_assert_score(const cJSON *expect, const struct bm_answer *a,
    cJSON *result, struct bm_error *e)
{
	cJSON *list;
	double score;
	int rc;

	cJSON_DeleteItemFromObjectCaseSensitive(result, "assertions");
	cJSON_DeleteItemFromObjectCaseSensitive(result, "score");
	list = cJSON_AddArrayToObject(result, "assertions");
	rc = score_all(expect, a, result, list, NULL, &score, e);
	if (rc >= 0)
		cJSON_AddNumberToObject(result, "score", score);
	return rc;
}

int
bm_assert_put(const cJSON *expect, const struct bm_answer *a,
    struct bm_buf *out, double *score, struct bm_error *e)
{
	struct bm_buf list = BM_BUF_INIT;
	cJSON *result = cJSON_CreateObject();
	int rc;

	rc = score_all(expect, a, result, NULL, &list, score, e);
	if (rc >= 0) {
		bm_buf_adds(out, "\"score\":");
		put_number(out, *score);
		bm_buf_adds(out, ",\"assertions\":[");
		bm_buf_add(out, list.s, list.len);
		bm_buf_adds(out, "],\"metrics\":");
		if (result->child)
			bm_json_put(out, result->child);
		else
			bm_buf_adds(out, "null");
	}
	bm_buf_free(&list);
	cJSON_Delete(result);
	return rc;
}

int
bm_assert_check_case(const cJSON *kase, struct bm_error *e)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(kase, "steps");
	const cJSON *x, *spec, *where, *st = NULL;
	const char *name = bm_json_str(kase, "benchmark");
	struct bm_error sub = BM_ERROR_INIT;
	char *in;
	int k = 0, i;

	if (!name)
		name = bm_json_str(kase, "benchmark_id");
	if (!name)
		name = "?";
	if (cJSON_IsArray(steps))
		st = steps->child;
	do {
		x = cJSON_GetObjectItemCaseSensitive(st ? st : kase, "expect");
		in = st ? xasprintf("step %d: ", k) : xstrdup("");
		if (x && !cJSON_IsNull(x) && !cJSON_IsArray(x)) {
			bm_error_set(e, NULL, 0, 0, "%s: %sexpect: expected a"
			    " list of assertions", name, in);
			free(in);
			return -1;
		}
		i = 0;
		if (!cJSON_IsArray(x))
			x = NULL;
		cJSON_ArrayForEach(spec, x) {
			if (bm_assert_check(spec, &where, &sub) < 0) {
				bm_error_set(e, NULL, 0, 0, "%s: %sexpect[%d]:"
				    " %s", name, in, i, sub.msg);
				bm_error_clear(&sub);
				free(in);
				return -1;
			}
			i++;
		}
		free(in);
		k++;
	} while (st && (st = st->next));
	return 0;
}

void
bm_assert_attach(cJSON *result, cJSON *scored, int scored_ok)
{
	cJSON *it;

	if (!scored_ok) {
		cJSON_Delete(scored);
		cJSON_AddNullToObject(result, "score");
		cJSON_AddArrayToObject(result, "assertions");
		return;
	}
	while ((it = scored->child)) {
		cJSON_DetachItemViaPointer(scored, it);
		cJSON_AddItemToObject(result, it->string, it);
	}
	cJSON_Delete(scored);
}
