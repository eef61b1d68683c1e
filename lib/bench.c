/*
 * bench.c: benchmark documents: identity, {{var}} rendering, and the case
 * matrix.  A case line is assembled from a part printed once per (variant,
 * trial) and the few fields that change per model and repeat, so a million
 * cases cost string copies, not trees.  The checks are in check.c.
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
	static cJSON none = { NULL, NULL, NULL, cJSON_Array, NULL, 0, 0, NULL };
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

/* --- cases --------------------------------------------------------------- */

/*
 * A case line is printed straight from the document's nodes, byte for
 * byte as cJSON_PrintUnformatted would print the tree it describes, but
 * without building that tree.
 */

struct render {
	const cJSON *vars;
	struct bm_buf *tmp;
};

static void
put_rendered(struct bm_buf *o, const char *s, void *arg)
{
	struct render *r = arg;

	bm_buf_reset(r->tmp);
	bm_bench_render(s, r->vars, r->tmp);
	bm_json_put_str(o, bm_buf_str(r->tmp));
}

/* node as JSON, {{var}} rendered in its strings when vars is set. */
static void
put(struct bm_buf *o, const cJSON *node, const cJSON *vars,
    struct bm_buf *tmp)
{
	struct render r = { vars, tmp };

	bm_json_put_with(o, node, vars ? put_rendered : NULL, &r);
}

/* "key": after a comma, unless it is an object's first member. */
static void
put_key(struct bm_buf *o, const char *key)
{
	if (o->len == 0 || o->s[o->len - 1] != '{')
		bm_buf_addc(o, ',');
	bm_json_put_str(o, key);
	bm_buf_addc(o, ':');
}

/* "key": then node rendered, or empty when node is NULL. */
static void
put_field(struct bm_buf *o, const char *key, const cJSON *node,
    const char *empty, const cJSON *vars, struct bm_buf *tmp)
{
	put_key(o, key);
	if (node)
		put(o, node, vars, tmp);
	else
		bm_buf_adds(o, empty);
}

int
bm_bench_write_record(FILE *f, const struct bm_bench *b)
{
	/* One buffer for every record, as in bm_jsonl_write. */
	static struct bm_buf buf;

	bm_bench_record(&buf, b);
	return bm_jsonl_write_raw(f, bm_buf_str(&buf), buf.len);
}

void
bm_bench_record(struct bm_buf *o, const struct bm_bench *b)
{
	const char *d = bm_bench_description(b);

	bm_buf_reset(o);
	bm_buf_adds(o, "{\"type\":\"benchmark\",\"id\":");
	bm_json_put_str(o, b->id);
	bm_buf_adds(o, ",\"name\":");
	bm_json_put_str(o, b->name);
	bm_buf_adds(o, ",\"path\":");
	bm_json_put_str(o, b->path);
	bm_buf_adds(o, ",\"doc\":");
	bm_json_put_long(o, b->doc);
	bm_buf_adds(o, ",\"content_sha256\":");
	bm_json_put_str(o, b->sha256);
	bm_buf_adds(o, ",\"tags\":");
	bm_json_put(o, bm_bench_tags(b));
	bm_buf_adds(o, ",\"description\":");
	if (d)
		bm_json_put_str(o, d);
	else
		bm_buf_adds(o, "null");
	bm_buf_addc(o, '}');
}

/* A field of variant v if it has it, else of the document. */
static const cJSON *
pick(const cJSON *root, const cJSON *v, const char *key)
{
	const cJSON *x = v ? get(v, key) : NULL;

	return x ? x : get(root, key);
}

/*
 * The per-(variant, trial) part of a case: messages or steps and so on,
 * from the first field's comma to the closing brace.
 */
static void
case_body(const struct bm_bench *bn, const cJSON *v, const cJSON *vars,
    struct bm_buf *o, struct bm_buf *tmp)
{
	const cJSON *root = bn->root, *sys = pick(root, v, "system");
	const cJSON *prompt, *seq, *step, *x, *p, *vps;

	/* A variant's prompt replaces the document's sequence and back. */
	prompt = v && get(v, "prompt") ? get(v, "prompt") :
	    v && get(v, "sequence") ? NULL : get(root, "prompt");
	seq = prompt ? NULL : pick(root, v, "sequence");
	if (seq) {
		put_field(o, "system", sys, "null", vars, tmp);
		bm_buf_adds(o, ",\"steps\":[");
		cJSON_ArrayForEach(step, seq) {
			if (step != seq->child)
				bm_buf_addc(o, ',');
			x = cJSON_IsString(step) ? step : get(step, "prompt");
			bm_buf_adds(o, "{\"prompt\":");
			put(o, x, vars, tmp);
			x = cJSON_IsObject(step) ? get(step, "system") : NULL;
			if (x)
				put_field(o, "system", x, NULL, vars, tmp);
			x = cJSON_IsObject(step) ? get(step, "expect") : NULL;
			put_field(o, "expect", x, "[]", vars, tmp);
			x = cJSON_IsObject(step) ? get(step, "params") : NULL;
			put_field(o, "params", x, "{}", NULL, tmp);
			bm_buf_addc(o, '}');
		}
		bm_buf_addc(o, ']');
	} else {
		bm_buf_adds(o, ",\"messages\":[");
		if (sys) {
			bm_buf_adds(o, "{\"role\":\"system\",\"content\":");
			put(o, sys, vars, tmp);
			bm_buf_adds(o, "},");
		}
		bm_buf_adds(o, "{\"role\":\"user\",\"content\":");
		put(o, prompt, vars, tmp);
		bm_buf_adds(o, "}]");
	}
	put_field(o, "expect", pick(root, v, "expect"), "[]", vars, tmp);
	put_field(o, "vars", vars, "{}", NULL, tmp);
	/* Variant params override the document's key by key. */
	vps = v ? get(v, "params") : NULL;
	bm_buf_adds(o, ",\"params\":{");
	cJSON_ArrayForEach(p, get(root, "params")) {
		x = get(vps, p->string);
		put_field(o, p->string, x ? x : p, NULL, NULL, tmp);
	}
	cJSON_ArrayForEach(p, vps)
		if (!get(get(root, "params"), p->string))
			put_field(o, p->string, p, NULL, NULL, tmp);
	bm_buf_addc(o, '}');
	put_field(o, "tags", bm_bench_tags(bn), "[]", NULL, tmp);
	bm_buf_addc(o, '}');
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
	struct bm_buf body = BM_BUF_INIT, head = BM_BUF_INIT;
	struct bm_case c;
	size_t i, mark;
	long r;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.bench = b;
	/* Room for a typical case at once, not by doubling from 64 bytes. */
	bm_buf_grow(&line, 2048);
	bm_buf_grow(&body, 2048);
	bm_buf_grow(&head, 512);
	v = variants ? variants->child : NULL;
	do {
		c.variant = v ? v->string : NULL;
		c.trial = 0;
		t = trials ? trials->child : &empty;
		for (; t && rc == 0; t = t->next, c.trial++) {
			bm_buf_reset(&body);
			case_body(b, v, t, &body, &tmp);
			/* What the cases of this (variant, trial) share. */
			bm_buf_reset(&head);
			bm_buf_adds(&head, ",\"benchmark_id\":\"");
			bm_buf_adds(&head, b->id);
			bm_buf_adds(&head, "\",\"benchmark\":");
			bm_json_put_str(&head, b->name);
			/* The version that runs (DESIGN.md §4). */
			bm_buf_adds(&head, ",\"content_sha256\":\"");
			bm_buf_adds(&head, b->sha256);
			bm_buf_addc(&head, '"');
			mark = head.len;
			for (i = 0; i < nmodels && rc == 0; i++) {
				c.model = models[i];
				head.len = mark;
				bm_buf_adds(&head, ",\"model\":");
				bm_json_put_str(&head, c.model);
				bm_buf_adds(&head, ",\"variant\":");
				if (c.variant)
					bm_json_put_str(&head, c.variant);
				else
					bm_buf_adds(&head, "null");
				bm_buf_adds(&head, ",\"trial\":");
				bm_json_put_long(&head, c.trial);
				bm_buf_adds(&head, ",\"repeat\":");
				for (r = 0; r < repeat && rc == 0; r++) {
					c.repeat = r;
					bm_hash_case_id(b->id, c.variant,
					    c.trial, c.model, r, c.case_id);
					bm_buf_reset(&line);
					bm_buf_adds(&line, "{\"type\":\"case\","
					    "\"case_id\":\"");
					bm_buf_add(&line, c.case_id,
					    BM_HASH_CASE_ID_LEN);
					bm_buf_addc(&line, '"');
					bm_buf_add(&line, head.s, head.len);
					bm_json_put_long(&line, r);
					bm_buf_add(&line, body.s, body.len);
					c.json = line.s;
					c.len = line.len;
					rc = fn(arg, &c);
				}
			}
		}
		v = v ? v->next : NULL;
	} while (v && rc == 0);
	bm_buf_free(&line);
	bm_buf_free(&tmp);
	bm_buf_free(&body);
	bm_buf_free(&head);
	return rc;
}
