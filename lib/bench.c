/*
 * bench.c: benchmark documents: identity, {{var}} rendering, and the case
 * matrix.  Records are built as cJSON trees and printed by bm_json_put; a
 * case's tree is built once per (variant, trial) and only its per-model
 * and per-repeat nodes change, so a million cases cost one print each.
 * The checks are in check.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "jsonl.h"
#include "xalloc.h"
#include "yaml.h"

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}


/* --- placeholders -------------------------------------------------------- */

const char *
bm_bench_next_var(const char *s, const char **end, const char **name,
    size_t *len)
{
	const char *p, *q;

	for (p = strstr(s, "{{"); p; p = strstr(p + 1, "{{")) {
		q = p + 2;
		while (*q == ' ')
			q++;
		*name = q;
		if (!(isalpha((unsigned char)*q) || *q == '_'))
			continue;
		while (isalnum((unsigned char)*q) || *q == '_' || *q == '-' ||
		    *q == '.')
			q++;
		*len = (size_t)(q - *name);
		while (*q == ' ')
			q++;
		if (q[0] == '}' && q[1] == '}') {
			*end = q + 2;
			return p;
		}
	}
	return NULL;
}

const cJSON *
bm_bench_var(const cJSON *vars, const char *name, size_t len)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, vars)
		if (strlen(v->string) == len &&
		    memcmp(v->string, name, len) == 0)
			return v;
	return NULL;
}

void
bm_bench_render(const char *s, const cJSON *vars, struct bm_buf *out)
{
	const char *p, *end, *name;
	const cJSON *v;
	size_t len;

	while ((p = bm_bench_next_var(s, &end, &name, &len)) != NULL) {
		v = bm_bench_var(vars, name, len);
		bm_buf_add(out, s, (size_t)(p - s));
		if (!v) {
			bm_buf_add(out, p, (size_t)(end - p));
		} else if (cJSON_IsString(v)) {
			bm_buf_adds(out, v->valuestring);
		} else {
			bm_json_put(out, v);
		}
		s = end;
	}
	bm_buf_adds(out, s);
}


/* --- documents ----------------------------------------------------------- */

char *
bm_bench_default_name(const char *path, int doc)
{
	const char *base = strrchr(path, '/'), *dot;

	if (strcmp(path, "-") == 0)
		base = "stdin";
	else
		base = base ? base + 1 : path;
	/* The stem: without the last extension; ".yml" itself stays. */
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		dot = base + strlen(base);
	if (doc > 0)
		return xasprintf("%.*s-%d", (int)(dot - base), base, doc + 1);
	return xstrndup(base, (size_t)(dot - base));
}

/* A benchmark with its identity and place, the rest in b->root. */
static struct bm_bench *
make(cJSON *root, const char *name, const char *path, int doc, long line)
{
	struct bm_bench *b = xcalloc(1, sizeof(*b));
	const cJSON *v = get(root, "repeat");

	b->name = xstrdup(name);
	b->path = xstrdup(path);
	b->doc = doc;
	b->line = line;
	b->repeat = cJSON_IsNumber(v) ? (long)v->valuedouble : 1;
	b->root = root;
	return b;
}

struct bm_bench *
bm_bench_identify(struct bm_yaml_doc *doc, const char *path,
    const char *default_name, const cJSON **where, struct bm_error *e)
{
	struct bm_buf canon = BM_BUF_INIT;
	const cJSON *v = get(doc->root, "name");
	struct bm_bench *b;
	char *dflt = NULL;

	if (bm_hash_prompt(doc->root, &canon, where, e) < 0) {
		bm_buf_free(&canon);
		return NULL;
	}
	if (!cJSON_IsString(v) && !default_name)
		default_name = dflt = bm_bench_default_name(path, doc->index);
	b = make(doc->root, cJSON_IsString(v) ? v->valuestring : default_name,
	    path, doc->index, doc->line);
	free(dflt);
	doc->root = NULL;
	bm_hash_md5(bm_buf_str(&canon), canon.len, b->id);
	b->prompt = bm_buf_detach(&canon, NULL);
	bm_hash_sha256(doc->text, doc->text_len, b->sha256);
	b->text = xstrndup(doc->text, doc->text_len);
	b->text_len = doc->text_len;
	return b;
}

struct bm_bench *
bm_bench_stored(const char *json, const char *id, const char *sha256,
    const char *name, const char *path, int doc)
{
	cJSON *root;
	struct bm_bench *b;

	if (!json || strlen(id) != BM_HASH_MD5_LEN ||
	    strlen(sha256) != BM_HASH_SHA256_LEN)
		return NULL;
	root = cJSON_Parse(json);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return NULL;
	}
	b = make(root, name, path, doc, 1);
	memcpy(b->id, id, sizeof(b->id));
	memcpy(b->sha256, sha256, sizeof(b->sha256));
	return b;
}

void
bm_bench_free(struct bm_bench *b)
{
	if (!b)
		return;
	free(b->name);
	free(b->path);
	free(b->prompt);
	free(b->text);
	cJSON_Delete(b->root);
	free(b);
}

const cJSON *
bm_bench_tags(const struct bm_bench *b)
{
	static const cJSON none = { .type = cJSON_Array };
	const cJSON *t = get(b->root, "tags");

	return cJSON_IsArray(t) ? t : &none;
}

int
bm_bench_has_tag(const struct bm_bench *b, char *const *tags, size_t n)
{
	const cJSON *t;
	size_t i;

	if (n == 0)
		return 1;
	cJSON_ArrayForEach(t, bm_bench_tags(b))
		for (i = 0; i < n; i++)
			if (cJSON_IsString(t) &&
			    strcmp(t->valuestring, tags[i]) == 0)
				return 1;
	return 0;
}

const char *
bm_bench_description(const struct bm_bench *b)
{
	const cJSON *d = get(b->root, "description");

	return cJSON_IsString(d) ? d->valuestring : NULL;
}

const char **
bm_bench_models(const struct bm_bench *b, size_t *n)
{
	const cJSON *m = get(b->root, "models"), *x;
	const char **v;

	*n = 0;
	v = xcalloc((size_t)cJSON_GetArraySize(m) + 2, sizeof(*v));
	if (cJSON_IsString(m))
		v[(*n)++] = m->valuestring;
	cJSON_ArrayForEach(x, (cJSON_IsArray(m) ? m : NULL))
		v[(*n)++] = x->valuestring;
	v[*n] = NULL;
	return v;
}

size_t
bm_bench_nvariants(const struct bm_bench *b)
{
	int n = cJSON_GetArraySize(get(b->root, "variants"));

	return n > 0 ? (size_t)n : 1;
}

size_t
bm_bench_ntrials(const struct bm_bench *b)
{
	int n = cJSON_GetArraySize(get(b->root, "vars"));

	return n > 0 ? (size_t)n : 1;
}

/* --- records ------------------------------------------------------------- */

/*
 * Records are cJSON trees in the field order of DESIGN.md §4, printed by
 * bm_json_put.  A case's tree is built once per (variant, trial); per
 * model and repeat only its case_id, model and repeat nodes change.
 */

/*
 * A string member that points at s (not copied, not freed: what it
 * points at outlives the tree), or null when s is NULL.
 */
static cJSON *
add_str_ref(cJSON *obj, const char *key, const char *s)
{
	cJSON *n = s ? cJSON_CreateStringReference(s) : cJSON_CreateNull();

	cJSON_AddItemToObjectCS(obj, key, n);
	return n;
}

/* {{var}} rendered in every string of n (vars: a trial's vars). */
static void
render_tree(cJSON *n, const cJSON *vars, struct bm_buf *tmp)
{
	cJSON *c;

	if (cJSON_IsString(n) && strstr(n->valuestring, "{{")) {
		bm_buf_reset(tmp);
		bm_bench_render(n->valuestring, vars, tmp);
		cJSON_SetValuestring(n, bm_buf_str(tmp));
	}
	cJSON_ArrayForEach(c, n)
		render_tree(c, vars, tmp);
}

/*
 * Add a copy of node as key, {{var}} rendered when vars is set; when
 * node is NULL, empty ("[]", "{}" or "null"), or nothing when empty is
 * NULL too.
 */
static void
add_copy(cJSON *obj, const char *key, const cJSON *node, const char *empty,
    const cJSON *vars, struct bm_buf *tmp)
{
	cJSON *c;

	if (node)
		c = cJSON_Duplicate(node, 1);
	else if (!empty)
		return;
	else
		c = *empty == '[' ? cJSON_CreateArray() : *empty == '{' ?
		    cJSON_CreateObject() : cJSON_CreateNull();
	if (vars)
		render_tree(c, vars, tmp);
	cJSON_AddItemToObject(obj, key, c);
}

cJSON *
bm_bench_record_tree(const struct bm_bench *b)
{
	cJSON *r = cJSON_CreateObject();

	/* References to b's strings and tags: bm-hash prints one a file. */
	add_str_ref(r, "type", "benchmark");
	add_str_ref(r, "id", b->id);
	add_str_ref(r, "name", b->name);
	add_str_ref(r, "path", b->path);
	cJSON_AddItemToObjectCS(r, "doc", cJSON_CreateNumber(b->doc));
	add_str_ref(r, "content_sha256", b->sha256);
	cJSON_AddItemToObjectCS(r, "tags",
	    cJSON_CreateArrayReference(bm_bench_tags(b)->child));
	add_str_ref(r, "description", bm_bench_description(b));
	return r;
}

int
bm_bench_write_record(FILE *f, const struct bm_bench *b)
{
	cJSON *r = bm_bench_record_tree(b);
	int rc = bm_jsonl_write(f, r);

	cJSON_Delete(r);
	return rc;
}

void
bm_bench_record(struct bm_buf *o, const struct bm_bench *b)
{
	cJSON *r = bm_bench_record_tree(b);

	bm_buf_reset(o);
	bm_json_put(o, r);
	cJSON_Delete(r);
}

/* A field of variant v if it has it, else of the document. */
static const cJSON *
pick(const cJSON *root, const cJSON *v, const char *key)
{
	const cJSON *x = v ? get(v, key) : NULL;

	return x ? x : get(root, key);
}

/* A sequence's steps, each {prompt, system when set, expect, params}. */
static void
add_steps(cJSON *c, const cJSON *seq, const cJSON *vars, struct bm_buf *tmp)
{
	cJSON *steps = cJSON_AddArrayToObject(c, "steps"), *s;
	const cJSON *step, *obj;

	cJSON_ArrayForEach(step, seq) {
		obj = cJSON_IsObject(step) ? step : NULL;
		s = cJSON_CreateObject();
		add_copy(s, "prompt", cJSON_IsString(step) ? step :
		    get(step, "prompt"), "null", vars, tmp);
		add_copy(s, "system", get(obj, "system"), NULL, vars, tmp);
		add_copy(s, "expect", get(obj, "expect"), "[]", vars, tmp);
		add_copy(s, "params", get(obj, "params"), "{}", NULL, tmp);
		cJSON_AddItemToArray(steps, s);
	}
}

/* A prompt's messages: the system message when there is one, the user's. */
static void
add_messages(cJSON *c, const cJSON *sys, const cJSON *prompt,
    const cJSON *vars, struct bm_buf *tmp)
{
	cJSON *msgs = cJSON_AddArrayToObject(c, "messages"), *m;

	if (sys) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		add_copy(m, "content", sys, "null", vars, tmp);
		cJSON_AddItemToArray(msgs, m);
	}
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	add_copy(m, "content", prompt, "null", vars, tmp);
	cJSON_AddItemToArray(msgs, m);
}

/* The document's params, variant v's overriding them key by key. */
static void
add_params(cJSON *c, const cJSON *root, const cJSON *v)
{
	const cJSON *vps = v ? get(v, "params") : NULL, *p, *x;
	cJSON *params = cJSON_AddObjectToObject(c, "params");

	cJSON_ArrayForEach(p, get(root, "params")) {
		x = get(vps, p->string);
		add_copy(params, p->string, x ? x : p, NULL, NULL, NULL);
	}
	cJSON_ArrayForEach(p, vps)
		if (!get(get(root, "params"), p->string))
			add_copy(params, p->string, p, NULL, NULL, NULL);
}

/* The nodes of a case tree that change per model and repeat. */
struct case_tree {
	cJSON *root, *case_id, *model, *repeat;
};

/*
 * Print once what every case of the tree shares: each member but those
 * that change becomes raw JSON, copied as it is per case.
 */
static void
freeze(struct case_tree *ct)
{
	cJSON *m, *raw;
	char *s;

	for (m = ct->root->child; m; m = m->next) {
		if (m == ct->case_id || m == ct->model || m == ct->repeat)
			continue;
		s = bm_json_print(m);
		raw = cJSON_CreateRaw(s);
		free(s);
		cJSON_ReplaceItemInObjectCaseSensitive(ct->root, m->string,
		    raw);
		m = raw;
	}
}

/* The case of variant v (NULL: none) and trial t of vars. */
static void
case_tree(struct case_tree *ct, const struct bm_bench *b, const cJSON *v,
    long trial, const cJSON *vars, struct bm_buf *tmp)
{
	const cJSON *root = b->root, *sys = pick(root, v, "system");
	const cJSON *prompt, *seq;
	cJSON *c = cJSON_CreateObject();

	ct->root = c;
	add_str_ref(c, "type", "case");
	ct->case_id = add_str_ref(c, "case_id", "");
	add_str_ref(c, "benchmark_id", b->id);
	add_str_ref(c, "benchmark", b->name);
	/* The version that runs (DESIGN.md §4). */
	add_str_ref(c, "content_sha256", b->sha256);
	ct->model = add_str_ref(c, "model", "");
	add_str_ref(c, "variant", v ? v->string : NULL);
	cJSON_AddNumberToObject(c, "trial", trial);
	ct->repeat = cJSON_AddNumberToObject(c, "repeat", 0);
	/* A variant's prompt replaces the document's sequence and back. */
	prompt = v && get(v, "prompt") ? get(v, "prompt") :
	    v && get(v, "sequence") ? NULL : get(root, "prompt");
	seq = prompt ? NULL : pick(root, v, "sequence");
	if (seq) {
		add_copy(c, "system", sys, "null", vars, tmp);
		add_steps(c, seq, vars, tmp);
	} else {
		add_messages(c, sys, prompt, vars, tmp);
	}
	add_copy(c, "expect", pick(root, v, "expect"), "[]", vars, tmp);
	add_copy(c, "vars", vars, "{}", NULL, tmp);
	add_params(c, root, v);
	add_copy(c, "tags", bm_bench_tags(b), "[]", NULL, tmp);
	freeze(ct);
}

int
bm_bench_cases(const struct bm_bench *b, const char *const *models,
    size_t nmodels, long repeat, bm_bench_case_fn *fn, void *arg)
{
	/* The one trial of a benchmark without vars: no vars at all. */
	static const cJSON empty = { .type = cJSON_Object };
	const cJSON *variants = get(b->root, "variants");
	const cJSON *trials = get(b->root, "vars");
	const cJSON *v, *t;
	struct bm_buf line = BM_BUF_INIT, tmp = BM_BUF_INIT;
	struct case_tree ct;
	struct bm_case c;
	size_t i;
	long r;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.bench = b;
	/* Room for a typical case at once, not by doubling from 64 bytes. */
	bm_buf_grow(&line, 2048);
	v = variants ? variants->child : NULL;
	do {
		c.variant = v ? v->string : NULL;
		c.trial = 0;
		t = trials ? trials->child : &empty;
		for (; t && rc == 0; t = t->next, c.trial++) {
			case_tree(&ct, b, v, c.trial, t, &tmp);
			for (i = 0; i < nmodels && rc == 0; i++) {
				c.model = models[i];
				ct.model->valuestring = (char *)c.model;
				for (r = 0; r < repeat && rc == 0; r++) {
					c.repeat = r;
					bm_hash_case_id(b->id, c.variant,
					    c.trial, c.model, r, c.case_id);
					ct.case_id->valuestring = c.case_id;
					cJSON_SetNumberValue(ct.repeat, r);
					bm_buf_reset(&line);
					bm_json_put(&line, ct.root);
					c.json = line.s;
					c.len = line.len;
					rc = fn(arg, &c);
				}
			}
			cJSON_Delete(ct.root);
		}
		v = v ? v->next : NULL;
	} while (v && rc == 0);
	bm_buf_free(&line);
	bm_buf_free(&tmp);
	return rc;
}

/* --- positions ----------------------------------------------------------- */

void
bm_bench_prompt_at(const struct bm_yaml_doc *doc, const struct bm_bench *b,
    long *line, long *col)
{
	const char *keys[] = { "prompt", "sequence", "variants" };
	const cJSON *at = NULL;
	size_t i;

	for (i = 0; i < 3 && !at; i++)
		at = get(b->root, keys[i]);
	if (!doc || !at || bm_yaml_where(doc, at, 1, line, col) < 0) {
		*line = b->line;
		*col = 1;
	}
}

struct bm_bench *
bm_bench_reparse(const char *path, const char *text, size_t len, int index,
    struct bm_yaml_doc **doc)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_bench *b = NULL;
	struct bm_yaml *y = bm_yaml_open(text, len, path);
	const cJSON *where;

	*doc = NULL;
	while (bm_yaml_next(y, doc, &e) == 1 && (*doc)->index < index) {
		bm_yaml_doc_free(*doc);
		*doc = NULL;
	}
	if (*doc && !(b = bm_bench_identify(*doc, path, NULL, &where, &e))) {
		bm_yaml_doc_free(*doc);
		*doc = NULL;
	}
	bm_yaml_close(y);
	bm_error_clear(&e);
	return b;
}
