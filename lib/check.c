/*
 * check.c: benchmark documents checked against bm-benchmark(5), every
 * problem reported with its place; assertions compiled (assert.h) and
 * {{var}} placeholders matched against every trial.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "bench.h"
#include "check.h"
#include "hash.h"
#include "suggest.h"
#include "xalloc.h"
#include "yaml.h"

static const char *const top_keys[] = {
	"name", "description", "tags", "system", "prompt", "sequence", "vars",
	"expect", "models", "repeat", "params", "variants", NULL
};
static const char *const step_keys[] = {
	"prompt", "system", "expect", "params", NULL
};
static const char *const variant_keys[] = {
	"prompt", "system", "sequence", "params", "expect", NULL
};

struct check {
	struct bm_yaml_doc *doc;
	const char *path;
	bm_check_report_fn *report;
	void *arg;
	int problems;
};

static void
problem(struct check *k, const cJSON *node, int key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(struct check *k, const cJSON *node, int key, const char *fmt, ...)
{
	struct bm_error e = BM_ERROR_INIT;
	va_list ap;

	va_start(ap, fmt);
	bm_yaml_verror(&e, k->doc, k->path, node, key, fmt, ap);
	va_end(ap);
	k->report(k->arg, &e);
	k->problems++;
	bm_error_clear(&e);
}

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Report every key of obj not in allowed, with a suggestion. */
static void
check_keys(struct check *k, const cJSON *obj, const char *const *allowed,
    const char *what)
{
	const cJSON *m;
	char *hint;
	size_t i;

	cJSON_ArrayForEach(m, obj) {
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], m->string) == 0)
				break;
		if (allowed[i])
			continue;
		hint = bm_suggest_hint(m->string, allowed);
		problem(k, m, 1, "%sunknown key '%s'%s", what, m->string,
		    hint);
		free(hint);
	}
}

static void
want_string(struct check *k, const cJSON *v, const char *what)
{
	if (v && !cJSON_IsString(v))
		problem(k, v, 0, "%s: expected a string", what);
}

static void
want_mapping(struct check *k, const cJSON *v, const char *what)
{
	if (v && !cJSON_IsObject(v))
		problem(k, v, 0, "%s: expected a mapping", what);
}

static void
want_strings(struct check *k, const cJSON *v, const char *what, int one)
{
	const cJSON *x;

	if (!v || (one && cJSON_IsString(v) && *v->valuestring))
		return;
	if (!cJSON_IsArray(v)) {
		problem(k, v, 0, "%s: expected a list of strings", what);
		return;
	}
	cJSON_ArrayForEach(x, v)
		if (!cJSON_IsString(x) || !*x->valuestring)
			problem(k, x, 0, "%s: expected a non-empty string",
			    what);
}

static void
check_expect(struct check *k, const cJSON *v)
{
	if (v && !cJSON_IsArray(v))
		problem(k, v, 0, "expect: expected a list of assertions");
}

/*
 * What a sequence's steps hold besides their prompt (hash.c checks that
 * and the sequence's shape: bm_hash_rules).
 */
static void
check_steps(struct check *k, const cJSON *seq)
{
	const cJSON *step;

	if (!cJSON_IsArray(seq))
		return;
	cJSON_ArrayForEach(step, seq) {
		if (!cJSON_IsObject(step))
			continue;
		check_keys(k, step, step_keys, "sequence step: ");
		want_string(k, get(step, "system"), "system");
		want_mapping(k, get(step, "params"), "params");
		check_expect(k, get(step, "expect"));
	}
}

static int
is_slug(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* What variants hold besides their prompt (see check_steps). */
static void
check_variants(struct check *k, const cJSON *vs)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, vs) {
		if (!cJSON_IsObject(v))
			continue;
		check_keys(k, v, variant_keys, "variant: ");
		want_string(k, get(v, "system"), "system");
		want_mapping(k, get(v, "params"), "params");
		check_expect(k, get(v, "expect"));
		check_steps(k, get(v, "sequence"));
	}
}

/* A problem of the prompt's structure, from bm_hash_rules. */
static void
rule_problem(void *arg, const cJSON *node, int key, const char *msg)
{
	problem(arg, node, key, "%s", msg);
}

static int
has_var(const cJSON *node)
{
	const char *end, *name;
	const cJSON *c;
	size_t len;

	if (cJSON_IsString(node))
		return bm_bench_next_var(node->valuestring, &end, &name,
		    &len) != NULL;
	cJSON_ArrayForEach(c, node)
		if (has_var(c))
			return 1;
	return 0;
}

/* A copy of node with {{var}} rendered in every string value. */
static cJSON *
render_tree(const cJSON *node, const cJSON *vars, struct bm_buf *b)
{
	const cJSON *c;
	cJSON *copy;

	if (cJSON_IsString(node)) {
		bm_buf_reset(b);
		bm_bench_render(node->valuestring, vars, b);
		return cJSON_CreateString(bm_buf_str(b));
	}
	if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
		return cJSON_Duplicate(node, 1);
	copy = cJSON_IsArray(node) ? cJSON_CreateArray() : cJSON_CreateObject();
	cJSON_ArrayForEach(c, node) {
		if (cJSON_IsArray(node))
			cJSON_AddItemToArray(copy, render_tree(c, vars, b));
		else
			cJSON_AddItemToObject(copy, c->string,
			    render_tree(c, vars, b));
	}
	return copy;
}

/* Every {{name}} in the strings under node must be a var of every trial. */
static void
check_vars(struct check *k, const cJSON *node, const cJSON *trials)
{
	const char *s, *p, *end, *name;
	const cJSON *c, *t;
	size_t len;
	long i;

	if (!node)
		return;
	if (!cJSON_IsString(node)) {
		cJSON_ArrayForEach(c, node)
			check_vars(k, c, trials);
		return;
	}
	for (s = node->valuestring;
	    (p = bm_bench_next_var(s, &end, &name, &len)) != NULL; s = end) {
		if (!cJSON_IsArray(trials) || !trials->child) {
			problem(k, node, 0, "placeholder {{%.*s}} names no var "
			    "(no vars: given)", (int)len, name);
			continue;
		}
		i = 0;
		cJSON_ArrayForEach(t, trials) {
			if (cJSON_IsObject(t) && !bm_bench_var(t, name, len)) {
				problem(k, node, 0, "placeholder {{%.*s}} "
				    "names no var of trial %ld", (int)len,
				    name, i);
				break;
			}
			i++;
		}
	}
}

/* The text fields of a prompt-bearing mapping (the top or a variant). */
static void
check_vars_in(struct check *k, const cJSON *m, const cJSON *trials)
{
	const cJSON *step;

	check_vars(k, get(m, "prompt"), trials);
	check_vars(k, get(m, "system"), trials);
	check_vars(k, get(m, "expect"), trials);
	cJSON_ArrayForEach(step, get(m, "sequence")) {
		if (cJSON_IsString(step)) {
			check_vars(k, step, trials);
			continue;
		}
		check_vars(k, get(step, "prompt"), trials);
		check_vars(k, get(step, "system"), trials);
		check_vars(k, get(step, "expect"), trials);
	}
}

/* --- assertions ---------------------------------------------------------- */

static void
assert_problem(struct check *k, const cJSON *spec, const cJSON *where,
    const struct bm_error *e)
{
	long line, col;
	int key;

	if (!where || bm_yaml_where(k->doc, where, 0, &line, &col) < 0)
		where = spec;
	key = where->string && e->msg && strncmp(e->msg, "unknown", 7) == 0;
	problem(k, where, key, "%s", e->msg ? e->msg : "invalid assertion");
}

/* Check each spec of list, rendered with each trial when it has a {{var}}. */
static void
check_asserts(struct check *k, const cJSON *list, const cJSON *trials)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_buf b = BM_BUF_INIT;
	const cJSON *spec, *t, *where;
	cJSON *r;
	int bad;

	if (!cJSON_IsArray(list))
		return;
	cJSON_ArrayForEach(spec, list) {
		if (!has_var(spec) || !cJSON_IsArray(trials)) {
			if (bm_assert_check(spec, &where, &e) < 0)
				assert_problem(k, spec, where, &e);
			continue;
		}
		cJSON_ArrayForEach(t, trials) {
			r = render_tree(spec, t, &b);
			bad = bm_assert_check(r, &where, &e) < 0;
			/* Point at the original of the rendered value. */
			if (bad)
				assert_problem(k, spec, where && where->string ?
				    get(spec, where->string) : NULL, &e);
			cJSON_Delete(r);
			if (bad)
				break;
		}
	}
	bm_error_clear(&e);
	bm_buf_free(&b);
}

static void
check_asserts_in(struct check *k, const cJSON *m, const cJSON *trials)
{
	const cJSON *step;

	check_asserts(k, get(m, "expect"), trials);
	cJSON_ArrayForEach(step, get(m, "sequence"))
		if (cJSON_IsObject(step))
			check_asserts(k, get(step, "expect"), trials);
}


/* --- documents ----------------------------------------------------------- */

static void
check_doc(struct check *k, const cJSON *root)
{
	const cJSON *v, *t, *trials = get(root, "vars");
	long i;

	check_keys(k, root, top_keys, "");
	v = get(root, "name");
	if (v && (!cJSON_IsString(v) || !is_slug(v->valuestring)))
		problem(k, v, 0,
		    "name: expected a slug ([a-z0-9][a-z0-9._-]*)");
	want_string(k, get(root, "description"), "description");
	want_strings(k, get(root, "tags"), "tags", 0);
	want_string(k, get(root, "system"), "system");
	/* prompt, sequence and variants: the rules are hash.c's. */
	bm_hash_rules(root, 1, NULL, rule_problem, k);
	check_steps(k, get(root, "sequence"));
	if (trials && !cJSON_IsArray(trials)) {
		problem(k, trials, 0, "vars: expected a list of mappings, one "
		    "per trial");
		trials = NULL;
	}
	i = 0;
	cJSON_ArrayForEach(t, trials) {
		if (!cJSON_IsObject(t))
			problem(k, t, 0, "vars: trial %ld: expected a mapping",
			    i);
		i++;
	}
	check_expect(k, get(root, "expect"));
	want_strings(k, get(root, "models"), "models", 1);
	v = get(root, "repeat");
	if (v && (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble > 1e6 || v->valuedouble != floor(v->valuedouble)))
		problem(k, v, 0, "repeat: expected a whole number from 1 to "
		    "1000000");
	want_mapping(k, get(root, "params"), "params");
	check_variants(k, get(root, "variants"));
	if (k->problems)
		return;		/* the rest assumes the shapes above */
	check_vars_in(k, root, trials);
	check_asserts_in(k, root, trials);
	cJSON_ArrayForEach(v, get(root, "variants")) {
		check_vars_in(k, v, trials);
		check_asserts_in(k, v, trials);
	}
}

int
bm_check_bench(struct bm_yaml_doc *doc, const char *path,
    const char *default_name, struct bm_bench **out,
    bm_check_report_fn *report, void *arg)
{
	struct check k = { doc, path, report, arg, 0 };
	struct bm_error e = BM_ERROR_INIT;
	const cJSON *root = doc->root, *where;

	*out = NULL;
	if (!cJSON_IsObject(root)) {
		problem(&k, root, 0, cJSON_IsNull(root) || !root ?
		    "empty document" : "expected a mapping");
		return -1;
	}
	check_doc(&k, root);
	if (k.problems)
		return -1;
	*out = bm_bench_identify(doc, path, default_name, &where, &e);
	if (!*out) {
		problem(&k, where ? where : root, 0, "%s", e.msg);
		bm_error_clear(&e);
		return -1;
	}
	return 0;
}

