/*
 * config.c: bm.yml (DESIGN.md §5).  The file is parsed into a cJSON tree
 * by yaml.c, then checked and copied into struct bm_config section by
 * section: providers first (models name them), then models, profiles
 * (extends resolved iteratively, so a long chain cannot overflow the
 * stack), batches.  Every string value goes through bm_config_expand, and
 * every problem is reported at the node that caused it.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "hash.h"
#include "price.h"
#include "suggest.h"
#include "xalloc.h"
#include "yaml.h"

/* Chosen so that no sane file reaches them and junk is still caught. */
#define MAX_CONCURRENCY 100000
#define MAX_RETRIES 100
#define MAX_REPEAT 1000000

/*
 * The provider types, in the order of enum bm_provider_type: the one list.
 * Each is also the name of a built-in provider of that type, added in this
 * order after the configured ones.
 */
static const char *const type_names[] = {
	"openai", "anthropic", "ollama", "exec", "echo", NULL
};

static const char *const top_keys[] = {
	"providers", "models", "profiles", "batches", "default_profile",
	"judge", NULL
};
static const char *const judge_keys[] = {
	"model", "models", "template", NULL
};
static const char *const provider_keys[] = {
	"type", "base_url", "api_key_env", "command", "max_concurrency", "rpm",
	"tpm", "timeout", "retries", "stream", "max_response_bytes", "env", NULL
};
static const char *const model_keys[] = {
	"provider", "model", "context", "price", "chars_per_token", "params",
	NULL
};
static const char *const price_keys[] = { "input", "output", NULL };
static const char *const profile_keys[] = {
	"extends", "models", "repeat", "tags", "description", NULL
};
static const char *const batch_keys[] = {
	"profile", "models", "repeat", "tags", "description", NULL
};

/* What one load works with: where messages point. */
struct ctx {
	const struct bm_yaml_doc *doc;
	const char *path;
	struct bm_error *e;
	struct bm_config *c;
};

/*
 * A profile or batch as written, before extends/profile is applied.
 * The "has" flags tell an empty list written from no list at all.
 */
struct raw_sel {
	const cJSON *node;	/* the member (its key is the name) */
	const cJSON *parent;	/* the extends: or profile: value node */
	char *parent_name;
	int has_models, has_tags;
	int state;		/* profiles: 0 new, 1 on the chain, 2 done */
};

/* ------------------------------------------------------------------------ */
/* ${VAR} expansion */

static int
isnamestart(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    ch == '_';
}

static int
isnamechar(int ch)
{
	return isnamestart(ch) || (ch >= '0' && ch <= '9');
}

static int expand(const char *s, size_t n, struct bm_buf *out,
    struct bm_error *e);

/*
 * One ${...} starting at s (after "${"), within s[0..n).  *used gets the
 * bytes consumed including the closing brace.
 */
static int
expand_ref(const char *s, size_t n, size_t *used, struct bm_buf *out,
    struct bm_error *e)
{
	size_t i = 0, wstart, depth;
	char *name, op = 0;
	const char *val;
	int colon = 0, ret = 0, isset;

	while (i < n && (i == 0 ? isnamestart(s[i]) : isnamechar(s[i])))
		i++;
	if (i == n) {
		bm_error_set(e, NULL, 0, 0, "unterminated '${%.*s'", (int)n, s);
		return -1;
	}
	if (i == 0) {
		if (memchr(s, '}', n) == NULL)
			bm_error_set(e, NULL, 0, 0, "unterminated '${'");
		else
			bm_error_set(e, NULL, 0, 0,
			    "bad substitution '${%.*s}'",
			    (int)((const char *)memchr(s, '}', n) - s), s);
		return -1;
	}
	name = xstrndup(s, i);
	if (s[i] == ':' && i + 1 < n && (s[i + 1] == '-' || s[i + 1] == '?')) {
		colon = 1;
		op = s[i + 1];
		i += 2;
	} else if (s[i] == '-' || s[i] == '?') {
		op = s[i];
		i++;
	} else if (s[i] != '}') {
		bm_error_set(e, NULL, 0, 0, "bad substitution in '${%s%c...'",
		    name, s[i]);
		free(name);
		return -1;
	}
	/* The word runs to the matching brace: defaults may nest ${...}. */
	wstart = i;
	for (depth = 0; i < n; i++) {
		if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
			depth++;
			i++;
		} else if (s[i] == '}') {
			if (depth == 0)
				break;
			depth--;
		}
	}
	if (i == n) {
		bm_error_set(e, NULL, 0, 0, "unterminated '${%s'", name);
		free(name);
		return -1;
	}
	*used = i + 1;
	val = getenv(name);
	isset = val != NULL && (!colon || *val != '\0');
	if (isset || op == 0) {
		bm_buf_adds(out, val ? val : "");
	} else if (op == '-') {
		ret = expand(s + wstart, i - wstart, out, e);
	} else {
		struct bm_buf msg = BM_BUF_INIT;

		/* As the shell says it: "VAR: message". */
		if (expand(s + wstart, i - wstart, &msg, e) == 0)
			bm_error_set(e, NULL, 0, 0, "%s: %s", name,
			    msg.len ? bm_buf_str(&msg) :
			    "parameter null or not set");
		bm_buf_free(&msg);
		ret = -1;
	}
	free(name);
	return ret;
}

static int
expand(const char *s, size_t n, struct bm_buf *out, struct bm_error *e)
{
	size_t i, used;

	for (i = 0; i < n; i++) {
		if (s[i] != '$' || i + 1 == n) {
			bm_buf_addc(out, s[i]);
		} else if (s[i + 1] == '$') {
			bm_buf_addc(out, '$');
			i++;
		} else if (s[i + 1] == '{') {
			if (expand_ref(s + i + 2, n - i - 2, &used, out,
			    e) == -1)
				return -1;
			i += 1 + used;
		} else {
			/* $NAME is left alone: only the braced form expands. */
			bm_buf_addc(out, '$');
		}
	}
	return 0;
}

char *
bm_config_expand(const char *s, struct bm_error *e)
{
	struct bm_buf b = BM_BUF_INIT;

	if (expand(s, strlen(s), &b, e) == -1) {
		bm_buf_free(&b);
		return NULL;
	}
	return bm_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------------ */
/* Typed values, each error at its node */

/* The name a message uses for node: its key, else what. */
static const char *
label(const cJSON *node, const char *what)
{
	return what ? what : node->string ? node->string : "value";
}

/* A string scalar, expanded. */
static int
get_str(struct ctx *x, const cJSON *node, const char *what, char **out)
{
	struct bm_error ee = BM_ERROR_INIT;
	char *s;

	if (!cJSON_IsString(node))
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected a string", label(node, what));
	s = bm_config_expand(node->valuestring, &ee);
	if (s == NULL) {
		bm_yaml_error(x->e, x->doc, x->path, node, 0, "%s: %s",
		    label(node, what), ee.msg);
		bm_error_clear(&ee);
		return -1;
	}
	free(*out);
	*out = s;
	return 0;
}

/*
 * A number: a YAML number, or a string that is one after expansion
 * ("${RPM:-60}").  0, 1 when node is not a number, -1 with e set.
 */
static int
get_num(struct ctx *x, const cJSON *node, const char *what, double *v)
{
	char *s = NULL;
	int r;

	if (cJSON_IsNumber(node)) {
		*v = node->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(node) || strchr(node->valuestring, '$') == NULL)
		return 1;
	if (get_str(x, node, what, &s) == -1)
		return -1;
	r = bm_cli_parse_double(s, -DBL_MAX, DBL_MAX, v) == 0 ? 0 : 1;
	free(s);
	return r;
}

static int
get_long(struct ctx *x, const cJSON *node, const char *what, long min,
    long max, long *out)
{
	double v;
	int r = get_num(x, node, what, &v);

	if (r == -1)
		return -1;
	/* Compare as doubles first: out of range casts are undefined. */
	if (r == 1 || !(v >= (double)LONG_MIN && v < -(double)LONG_MIN) ||
	    (double)(long)v != v)
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected an integer", label(node, what));
	if (v < min || v > max) {
		if (max == LONG_MAX)
			return bm_yaml_error(x->e, x->doc, x->path, node, 0,
			    "%s: expected an integer >= %ld, got %.17g",
			    label(node, what), min, v);
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected an integer from %ld to %ld, got %.17g",
		    label(node, what), min, max, v);
	}
	*out = (long)v;
	return 0;
}

/* A finite number >= min (> min when strict). */
static int
get_double(struct ctx *x, const cJSON *node, const char *what, double min,
    int strict, double *out)
{
	double v;
	int r = get_num(x, node, what, &v);

	if (r == -1)
		return -1;
	if (r == 1 || v != v || v > DBL_MAX || v < -DBL_MAX)
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected a number", label(node, what));
	if (v < min || (strict && v == min))
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected a number %s %g, got %g", label(node, what),
		    strict ? ">" : ">=", min, v);
	*out = v;
	return 0;
}

static int
get_bool(struct ctx *x, const cJSON *node, const char *what, int *out)
{
	if (!cJSON_IsBool(node))
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected true or false", label(node, what));
	*out = cJSON_IsTrue(node);
	return 0;
}

/* A list of strings (a single string is a list of one). */
static int
get_strlist(struct ctx *x, const cJSON *node, const char *what,
    char ***out, size_t *n)
{
	const cJSON *it;
	char **v;
	size_t i = 0;

	if (cJSON_IsString(node)) {
		v = xcalloc(1, sizeof(*v));
		if (get_str(x, node, what, &v[0]) == -1) {
			free(v);
			return -1;
		}
		*out = v;
		*n = 1;
		return 0;
	}
	if (!cJSON_IsArray(node))
		return bm_yaml_error(x->e, x->doc, x->path, node, 0,
		    "%s: expected a list of strings", label(node, what));
	v = xcalloc((size_t)cJSON_GetArraySize(node) + 1, sizeof(*v));
	cJSON_ArrayForEach(it, node) {
		if (get_str(x, it, label(node, what), &v[i]) == -1) {
			while (i > 0)
				free(v[--i]);
			free(v);
			return -1;
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

/* A mapping; a null value (a key with nothing after it) is an empty one. */
static int
check_map(struct ctx *x, const cJSON *node, const char *what)
{
	if (cJSON_IsObject(node) || cJSON_IsNull(node))
		return 0;
	return bm_yaml_error(x->e, x->doc, x->path, node, 0,
	    "%s: expected a mapping", label(node, what));
}

/* Expand every string in copy, a duplicate of orig (errors at orig). */
static int
expand_tree(struct ctx *x, const cJSON *orig, cJSON *copy)
{
	const cJSON *o;
	cJSON *c;
	char *s = NULL;

	if (cJSON_IsString(copy)) {
		if (get_str(x, orig, NULL, &s) == -1)
			return -1;
		cJSON_SetValuestring(copy, s);
		free(s);
		return 0;
	}
	for (o = orig->child, c = copy->child; o && c;
	    o = o->next, c = c->next)
		if (expand_tree(x, o, c) == -1)
			return -1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Names for "did you mean" */

/*
 * The names of n entries of size bytes at base, NULL-ended, for bm_suggest:
 * providers, models and profiles all begin with their char *name.
 */
static const char **
names_of(const void *base, size_t n, size_t size)
{
	const char **v = xcalloc(n + 1, sizeof(*v));
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = *(char *const *)((const char *)base + i * size);
	return v;
}

static const char **
provider_names(const struct bm_config *c)
{
	return names_of(c->providers, c->nproviders, sizeof(*c->providers));
}

/* ------------------------------------------------------------------------ */
/* Providers */

static void
default_base_url(struct bm_provider *p)
{
	const char *v;

	if (p->base_url)
		return;
	switch (p->type) {
	case BM_PROVIDER_OPENAI:
		v = getenv("OPENAI_BASE_URL");
		p->base_url = xstrdup(v && *v ? v :
		    "https://api.openai.com/v1");
		break;
	case BM_PROVIDER_ANTHROPIC:
		v = getenv("ANTHROPIC_BASE_URL");
		p->base_url = xstrdup(v && *v ? v :
		    "https://api.anthropic.com");
		break;
	case BM_PROVIDER_OLLAMA:
		/* OLLAMA_HOST is often host:port alone, as ollama accepts. */
		v = getenv("OLLAMA_HOST");
		if (v && *v)
			p->base_url = strstr(v, "://") ? xstrdup(v) :
			    xasprintf("http://%s", v);
		else
			p->base_url = xstrdup("http://127.0.0.1:11434");
		break;
	default:
		break;
	}
}

static void
provider_init(struct bm_provider *p, const char *name,
    enum bm_provider_type type)
{
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->type = type;
	p->retries = -1;
}

static void
provider_defaults(struct bm_provider *p, int has_key_env)
{
	default_base_url(p);
	if (!has_key_env && p->api_key_env == NULL) {
		if (p->type == BM_PROVIDER_OPENAI)
			p->api_key_env = xstrdup("OPENAI_API_KEY");
		else if (p->type == BM_PROVIDER_ANTHROPIC)
			p->api_key_env = xstrdup("ANTHROPIC_API_KEY");
	}
}

/* "openai, anthropic, ollama, exec or echo", for messages (a new string). */
static char *
type_list(void)
{
	struct bm_buf b = BM_BUF_INIT;
	size_t i;

	for (i = 0; type_names[i]; i++)
		bm_buf_addf(&b, "%s%s", i == 0 ? "" : type_names[i + 1] ? ", " :
		    " or ", type_names[i]);
	return bm_buf_detach(&b, NULL);
}

static int
find_type(const char *s)
{
	int i;

	for (i = 0; type_names[i]; i++)
		if (strcmp(type_names[i], s) == 0)
			return i;
	return -1;
}

static int
parse_provider(struct ctx *x, const cJSON *member, struct bm_provider *p)
{
	const cJSON *v;
	char *type = NULL, *m, *list;
	int t, has_key_env = 0;

	if (*member->string == '\0' || strchr(member->string, ':'))
		return bm_yaml_error(x->e, x->doc, x->path, member, 1,
		    "provider name '%s' must be non-empty and without ':'",
		    member->string);
	if (check_map(x, member, NULL) == -1 ||
	    bm_yaml_check_keys(x->doc, x->path, member, provider_keys,
	    x->e) == -1)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(member, "type");
	if (v == NULL) {
		/* "openai: {rpm: 60}" tunes the built-in of that name. */
		t = find_type(member->string);
		if (t == -1) {
			m = type_list();
			bm_yaml_error(x->e, x->doc, x->path, member, 1,
			    "provider '%s': missing 'type' (%s)",
			    member->string, m);
			free(m);
			return -1;
		}
	} else {
		if (get_str(x, v, NULL, &type) == -1)
			return -1;
		t = find_type(type);
		if (t == -1) {
			m = bm_suggest_hint(type, type_names);
			list = type_list();
			bm_yaml_error(x->e, x->doc, x->path, v, 0,
			    "type: unknown provider type '%s'%s%s%s", type,
			    *m ? m : " (expected ", *m ? "" : list,
			    *m ? "" : ")");
			free(list);
			free(m);
			free(type);
			return -1;
		}
		free(type);
	}
	provider_init(p, member->string, (enum bm_provider_type)t);
	cJSON_ArrayForEach(v, member) {
		const char *k = v->string;
		int r = 0;

		if (strcmp(k, "base_url") == 0)
			r = get_str(x, v, NULL, &p->base_url);
		else if (strcmp(k, "api_key_env") == 0) {
			/* null: this server needs no key. */
			has_key_env = 1;
			if (!cJSON_IsNull(v))
				r = get_str(x, v, NULL, &p->api_key_env);
		} else if (strcmp(k, "command") == 0)
			r = get_str(x, v, NULL, &p->command);
		else if (strcmp(k, "max_concurrency") == 0)
			r = get_long(x, v, NULL, 0, MAX_CONCURRENCY,
			    &p->max_concurrency);
		else if (strcmp(k, "rpm") == 0)
			r = get_double(x, v, NULL, 0, 0, &p->rpm);
		else if (strcmp(k, "tpm") == 0)
			r = get_double(x, v, NULL, 0, 0, &p->tpm);
		else if (strcmp(k, "timeout") == 0)
			r = get_double(x, v, NULL, 0, 0, &p->timeout);
		else if (strcmp(k, "retries") == 0)
			r = get_long(x, v, NULL, 0, MAX_RETRIES, &p->retries);
		else if (strcmp(k, "stream") == 0)
			r = get_bool(x, v, NULL, &p->stream);
		else if (strcmp(k, "max_response_bytes") == 0)
			r = get_long(x, v, NULL, 1, LONG_MAX,
			    &p->max_response_bytes);
		else if (strcmp(k, "env") == 0)
			r = get_strlist(x, v, NULL, &p->env, &p->nenv);
		if (r == -1)
			return -1;
	}
	if (p->api_key_env && *p->api_key_env == '\0') {
		free(p->api_key_env);
		p->api_key_env = NULL;
	}
	if (p->base_url && *p->base_url == '\0') {
		free(p->base_url);
		p->base_url = NULL;
	}
	provider_defaults(p, has_key_env);
	return 0;
}

static void
add_builtins(struct bm_config *c)
{
	size_t i, j;

	for (i = 0; type_names[i]; i++) {
		for (j = 0; j < c->nproviders; j++)
			if (strcmp(c->providers[j].name, type_names[i]) == 0)
				break;
		if (j < c->nproviders)
			continue;
		c->providers = xreallocarray(c->providers, c->nproviders + 1,
		    sizeof(*c->providers));
		provider_init(&c->providers[c->nproviders], type_names[i],
		    (enum bm_provider_type)i);
		c->providers[c->nproviders].builtin = 1;
		provider_defaults(&c->providers[c->nproviders], 0);
		c->nproviders++;
	}
}

/*
 * The number of entries of a section of named ones (providers:, models:,
 * profiles:, batches:): 0 when it is absent, null or empty, -1 when it is
 * not a mapping (reported).
 */
static int
section_size(struct ctx *x, const cJSON *sec)
{
	if (sec == NULL || cJSON_IsNull(sec))
		return 0;
	if (check_map(x, sec, NULL) == -1)
		return -1;
	return cJSON_GetArraySize(sec);
}

static int
parse_providers(struct ctx *x, const cJSON *sec)
{
	const cJSON *m;
	struct bm_config *c = x->c;
	int n = section_size(x, sec);

	if (n <= 0)
		return n;
	c->providers = xcalloc((size_t)n, sizeof(*c->providers));
	cJSON_ArrayForEach(m, sec) {
		/* Counted first: a half-parsed entry is freed with the rest. */
		c->nproviders++;
		if (parse_provider(x, m, &c->providers[c->nproviders - 1]) ==
		    -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Models */

/* The price table's vendor for a provider type, or NULL. */
static const char *
vendor_of(const struct bm_provider *p)
{
	if (p && p->type == BM_PROVIDER_OPENAI)
		return "openai";
	if (p && p->type == BM_PROVIDER_ANTHROPIC)
		return "anthropic";
	return NULL;
}

/*
 * The built-in prices (price.h): a models: entry of an openai or anthropic
 * provider without price: gets its model's list price; c->listed holds one
 * model per table row, for references such as openai:gpt-4o-mini that
 * name no entry.
 */
static void
add_prices(struct bm_config *c)
{
	struct bm_model *m;
	const char *v;
	long k;
	size_t i;

	for (i = 0; i < c->nmodels; i++) {
		m = &c->models[i];
		v = vendor_of(bm_config_provider(c, m->provider));
		if (m->has_price || !v || (k = bm_price_find(v, m->model)) < 0)
			continue;
		m->has_price = 1;
		m->price_input = bm_prices[k].input;
		m->price_output = bm_prices[k].output;
	}
	c->listed = xcalloc(bm_nprices, sizeof(*c->listed));
	for (i = 0; i < bm_nprices; i++) {
		m = &c->listed[i];
		m->name = xstrdup(bm_prices[i].model);
		m->provider = xstrdup(bm_prices[i].vendor);
		m->model = xstrdup(bm_prices[i].model);
		m->has_price = 1;
		m->price_input = bm_prices[i].input;
		m->price_output = bm_prices[i].output;
		m->chars_per_token = 4;
	}
	c->nlisted = bm_nprices;
}

static int
parse_price(struct ctx *x, const cJSON *node, struct bm_model *m)
{
	const cJSON *v;

	if (check_map(x, node, NULL) == -1 ||
	    bm_yaml_check_keys(x->doc, x->path, node, price_keys, x->e) == -1)
		return -1;
	m->has_price = 1;
	v = cJSON_GetObjectItemCaseSensitive(node, "input");
	if (v && get_double(x, v, NULL, 0, 0, &m->price_input) == -1)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(node, "output");
	if (v && get_double(x, v, NULL, 0, 0, &m->price_output) == -1)
		return -1;
	return 0;
}

static int
parse_model(struct ctx *x, const cJSON *member, struct bm_model *m)
{
	const cJSON *v;
	const char **names;
	char *msg;
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->name = xstrdup(member->string);
	m->chars_per_token = 4;
	if (*member->string == '\0')
		return bm_yaml_error(x->e, x->doc, x->path, member, 1,
		    "model name must not be empty");
	if (check_map(x, member, NULL) == -1 ||
	    bm_yaml_check_keys(x->doc, x->path, member, model_keys,
	    x->e) == -1)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(member, "provider");
	if (v == NULL)
		return bm_yaml_error(x->e, x->doc, x->path, member, 1,
		    "model '%s': missing 'provider'", member->string);
	if (get_str(x, v, NULL, &m->provider) == -1)
		return -1;
	if (bm_config_provider(x->c, m->provider) == NULL) {
		names = provider_names(x->c);
		msg = bm_suggest_hint(m->provider, names);
		bm_yaml_error(x->e, x->doc, x->path, v, 0,
		    "provider: unknown provider '%s'%s", m->provider, msg);
		free(msg);
		free(names);
		return -1;
	}
	cJSON_ArrayForEach(v, member) {
		const char *k = v->string;

		if (strcmp(k, "model") == 0)
			r = get_str(x, v, NULL, &m->model);
		else if (strcmp(k, "context") == 0)
			r = get_long(x, v, NULL, 0, LONG_MAX, &m->context);
		else if (strcmp(k, "price") == 0)
			r = parse_price(x, v, m);
		else if (strcmp(k, "chars_per_token") == 0)
			r = get_double(x, v, NULL, 0, 1, &m->chars_per_token);
		else if (strcmp(k, "params") == 0 && !cJSON_IsNull(v)) {
			if (!cJSON_IsObject(v))
				return bm_yaml_error(x->e, x->doc, x->path, v,
				    0, "params: expected a mapping");
			m->params = cJSON_Duplicate(v, 1);
			r = expand_tree(x, v, m->params);
		}
		if (r == -1)
			return -1;
	}
	m->model_given = m->model && *m->model;
	if (!m->model_given) {
		free(m->model);
		m->model = xstrdup(m->name);
	}
	return 0;
}

static int
parse_models(struct ctx *x, const cJSON *sec)
{
	const cJSON *m;
	struct bm_config *c = x->c;
	int n = section_size(x, sec);

	if (n <= 0)
		return n;
	c->models = xcalloc((size_t)n, sizeof(*c->models));
	cJSON_ArrayForEach(m, sec) {
		/* Counted first: a half-parsed entry is freed with the rest. */
		c->nmodels++;
		if (parse_model(x, m, &c->models[c->nmodels - 1]) == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Profiles and batches */

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **
copy_list(char *const *v, size_t n)
{
	char **c = xcalloc(n + 1, sizeof(*c));
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

/* Model references are checked where they are written. */
static int
check_refs(struct ctx *x, const cJSON *node, const struct bm_selection *s)
{
	struct bm_error ee = BM_ERROR_INIT;
	struct bm_target t;
	const cJSON *it;
	size_t i;

	for (i = 0; i < s->nmodels; i++)
		if (bm_config_resolve(x->c, s->models[i], &t, &ee) == -1) {
			/* The list item, or a string standing for a list. */
			it = cJSON_IsArray(node) ?
			    cJSON_GetArrayItem(node, (int)i) : node;
			bm_yaml_error(x->e, x->doc, x->path, it ? it : node, 0,
			    "%s", ee.msg);
			bm_error_clear(&ee);
			return -1;
		}
	return 0;
}

/*
 * The fields a profile or batch writes for itself; keys are the allowed
 * keys, pkey the one naming its parent ("extends" or "profile").
 */
static int
parse_sel(struct ctx *x, const cJSON *member, const char *const *keys,
    const char *pkey, struct bm_selection *s, struct raw_sel *r)
{
	const cJSON *v;
	char *desc = NULL;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	s->name = xstrdup(member->string);
	r->node = member;
	if (check_map(x, member, NULL) == -1 ||
	    bm_yaml_check_keys(x->doc, x->path, member, keys, x->e) == -1)
		return -1;
	cJSON_ArrayForEach(v, member) {
		const char *k = v->string;

		if (strcmp(k, pkey) == 0) {
			r->parent = v;
			rc = get_str(x, v, NULL, &r->parent_name);
		} else if (strcmp(k, "models") == 0) {
			r->has_models = 1;
			rc = get_strlist(x, v, NULL, &s->models, &s->nmodels);
			if (rc == 0)
				rc = check_refs(x, v, s);
		} else if (strcmp(k, "repeat") == 0)
			rc = get_long(x, v, NULL, 1, MAX_REPEAT, &s->repeat);
		else if (strcmp(k, "tags") == 0) {
			r->has_tags = 1;
			rc = get_strlist(x, v, NULL, &s->tags, &s->ntags);
		} else if (strcmp(k, "description") == 0) {
			/* Checked, not kept: it is for people reading. */
			rc = get_str(x, v, NULL, &desc);
			free(desc);
			desc = NULL;
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Fill what s left unset from its parent p (already resolved). */
static void
inherit(struct bm_selection *s, const struct raw_sel *r,
    const struct bm_selection *p)
{
	if (!r->has_models) {
		s->models = copy_list(p->models, p->nmodels);
		s->nmodels = p->nmodels;
	}
	if (!r->has_tags) {
		s->tags = copy_list(p->tags, p->ntags);
		s->ntags = p->ntags;
	}
	if (s->repeat == 0)
		s->repeat = p->repeat;
}

static const char **
profile_names(const struct bm_config *c)
{
	return names_of(c->profiles, c->nprofiles, sizeof(*c->profiles));
}

/* The index of profile name, or -1 with e at node ("unknown profile"). */
static long
profile_index(struct ctx *x, const char *name, const cJSON *node)
{
	const char **names;
	char *msg;
	size_t i;

	for (i = 0; i < x->c->nprofiles; i++)
		if (strcmp(x->c->profiles[i].name, name) == 0)
			return (long)i;
	names = profile_names(x->c);
	msg = bm_suggest_hint(name, names);
	bm_yaml_error(x->e, x->doc, x->path, node, 0, "unknown profile '%s'%s",
	    name, msg);
	free(msg);
	free(names);
	return -1;
}

/*
 * Apply extends to every profile.  From each profile not yet done, walk
 * up the chain of parents until one that is done or has no parent, then
 * resolve back down.  Meeting a profile already on the chain is a cycle.
 */
static int
resolve_extends(struct ctx *x, struct raw_sel *raw)
{
	struct bm_config *c = x->c;
	size_t *chain, len, i, j, k;
	struct bm_buf b = BM_BUF_INIT;
	long p;
	int ret = -1;

	chain = xcalloc(c->nprofiles + 1, sizeof(*chain));
	for (i = 0; i < c->nprofiles; i++) {
		if (raw[i].state == 2)
			continue;
		len = 0;
		chain[len++] = i;
		raw[i].state = 1;
		for (j = i; raw[j].parent_name; j = (size_t)p) {
			p = profile_index(x, raw[j].parent_name, raw[j].parent);
			if (p == -1)
				goto out;
			if (raw[p].state == 2)
				break;
			if (raw[p].state == 1) {
				for (k = 0; chain[k] != (size_t)p; k++)
					;
				for (; k < len; k++)
					bm_buf_addf(&b, "%s -> ",
					    c->profiles[chain[k]].name);
				bm_buf_adds(&b, c->profiles[p].name);
				bm_yaml_error(x->e, x->doc, x->path,
				    raw[p].parent, 0,
				    "profile '%s': extends cycle %s",
				    c->profiles[p].name, bm_buf_str(&b));
				goto out;
			}
			raw[p].state = 1;
			chain[len++] = (size_t)p;
		}
		while (len > 0) {
			k = chain[--len];
			if (raw[k].parent_name) {
				p = profile_index(x, raw[k].parent_name,
				    raw[k].parent);
				inherit(&c->profiles[k], &raw[k],
				    &c->profiles[p]);
			}
			raw[k].state = 2;
		}
	}
	ret = 0;
out:
	bm_buf_free(&b);
	free(chain);
	return ret;
}

static int
parse_profiles(struct ctx *x, const cJSON *sec)
{
	struct bm_config *c = x->c;
	struct raw_sel *raw;
	const cJSON *m;
	size_t i;
	int n = section_size(x, sec), ret = -1;

	if (n <= 0)
		return n;
	c->profiles = xcalloc((size_t)n, sizeof(*c->profiles));
	raw = xcalloc((size_t)n, sizeof(*raw));
	cJSON_ArrayForEach(m, sec) {
		c->nprofiles++;
		if (parse_sel(x, m, profile_keys, "extends",
		    &c->profiles[c->nprofiles - 1],
		    &raw[c->nprofiles - 1]) == -1)
			goto out;
	}
	ret = resolve_extends(x, raw);
out:
	for (i = 0; i < (size_t)n; i++)
		free(raw[i].parent_name);
	free(raw);
	return ret;
}

static int
parse_batches(struct ctx *x, const cJSON *sec)
{
	struct bm_config *c = x->c;
	struct raw_sel raw;
	const cJSON *m;
	long p;
	int r, n = section_size(x, sec);

	if (n <= 0)
		return n;
	c->batches = xcalloc((size_t)n, sizeof(*c->batches));
	cJSON_ArrayForEach(m, sec) {
		memset(&raw, 0, sizeof(raw));
		c->nbatches++;
		r = parse_sel(x, m, batch_keys, "profile",
		    &c->batches[c->nbatches - 1], &raw);
		if (r == 0 && raw.parent_name) {
			p = profile_index(x, raw.parent_name, raw.parent);
			if (p == -1)
				r = -1;
			else
				inherit(&c->batches[c->nbatches - 1], &raw,
				    &c->profiles[p]);
		}
		free(raw.parent_name);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading */

static int
read_file(const char *path, struct bm_buf *b, struct bm_error *e)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;
	int err;

	if (f == NULL) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bm_buf_add(b, chunk, n);
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err) {
		bm_error_set(e, path, 0, 0, "%s", strerror(err));
		return -1;
	}
	return 0;
}

/* judge: {model: M | models: [A, B, C], template: T} */
static int
parse_judge(struct ctx *x, const cJSON *node)
{
	const cJSON *m, *ms, *t;

	if (node == NULL || cJSON_IsNull(node))
		return 0;
	if (check_map(x, node, "judge") == -1 ||
	    bm_yaml_check_keys(x->doc, x->path, node, judge_keys, x->e) == -1)
		return -1;
	m = cJSON_GetObjectItemCaseSensitive(node, "model");
	ms = cJSON_GetObjectItemCaseSensitive(node, "models");
	t = cJSON_GetObjectItemCaseSensitive(node, "template");
	if (m && ms)
		return bm_yaml_error(x->e, x->doc, x->path, ms, 0,
		    "judge: model and models exclude each other");
	if ((m || ms) && get_strlist(x, m ? m : ms, m ? "model" : "models",
	    &x->c->judges, &x->c->njudges) == -1)
		return -1;
	if (ms && x->c->njudges == 0)
		return bm_yaml_error(x->e, x->doc, x->path, ms, 0,
		    "models: expected at least one model");
	if (t && get_str(x, t, "template", &x->c->judge_template) == -1)
		return -1;
	return 0;
}

static int
parse_root(struct ctx *x, const cJSON *root)
{
	const cJSON *v;

	if (root == NULL || cJSON_IsNull(root))
		return 0;
	if (!cJSON_IsObject(root))
		return bm_yaml_error(x->e, x->doc, x->path, root, 0,
		    "expected a mapping");
	if (bm_yaml_check_keys(x->doc, x->path, root, top_keys, x->e) == -1)
		return -1;
	if (parse_providers(x,
	    cJSON_GetObjectItemCaseSensitive(root, "providers")) == -1)
		return -1;
	add_builtins(x->c);
	if (parse_models(x,
	    cJSON_GetObjectItemCaseSensitive(root, "models")) == -1 ||
	    parse_profiles(x,
	    cJSON_GetObjectItemCaseSensitive(root, "profiles")) == -1 ||
	    parse_batches(x,
	    cJSON_GetObjectItemCaseSensitive(root, "batches")) == -1)
		return -1;
	if (parse_judge(x, cJSON_GetObjectItemCaseSensitive(root, "judge")) ==
	    -1)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "default_profile");
	if (v && !cJSON_IsNull(v)) {
		if (get_str(x, v, NULL, &x->c->default_profile) == -1 ||
		    profile_index(x, x->c->default_profile, v) == -1)
			return -1;
	}
	return 0;
}

struct bm_config *
bm_config_load(const char *path, struct bm_error *e)
{
	struct bm_config *c = xcalloc(1, sizeof(*c));
	struct bm_buf data = BM_BUF_INIT;
	struct bm_yaml *y = NULL;
	struct bm_yaml_doc *doc = NULL, *extra = NULL;
	struct ctx x;
	int rc;

	if (path == NULL) {
		add_builtins(c);
		add_prices(c);
		return c;
	}
	c->path = xstrdup(path);
	if (read_file(path, &data, e) == -1)
		goto fail;
	bm_hash_sha256(bm_buf_str(&data), data.len, c->sha256);
	y = bm_yaml_open(bm_buf_str(&data), data.len, path);
	rc = bm_yaml_next(y, &doc, e);
	if (rc == -1)
		goto fail;
	x.doc = doc;
	x.path = path;
	x.e = e;
	x.c = c;
	if (rc == 1) {
		rc = bm_yaml_next(y, &extra, e);
		if (rc == -1)
			goto fail;
		if (rc == 1) {
			bm_yaml_error(e, extra, path, extra->root, 0,
			    "expected one YAML document, found a second");
			goto fail;
		}
		if (parse_root(&x, doc->root) == -1)
			goto fail;
	}
	add_builtins(c);
	add_prices(c);
	bm_yaml_doc_free(doc);
	bm_yaml_close(y);
	bm_buf_free(&data);
	return c;
fail:
	bm_yaml_doc_free(extra);
	bm_yaml_doc_free(doc);
	if (y)
		bm_yaml_close(y);
	bm_buf_free(&data);
	bm_config_free(c);
	return NULL;
}

static void
free_sels(struct bm_selection *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free_list(v[i].models, v[i].nmodels);
		free_list(v[i].tags, v[i].ntags);
	}
	free(v);
}

void
bm_config_free(struct bm_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nproviders; i++) {
		free(c->providers[i].name);
		free(c->providers[i].base_url);
		free(c->providers[i].api_key_env);
		free(c->providers[i].command);
		free_list(c->providers[i].env, c->providers[i].nenv);
	}
	free(c->providers);
	for (i = 0; i < c->nlisted; i++) {
		free(c->listed[i].name);
		free(c->listed[i].provider);
		free(c->listed[i].model);
	}
	free(c->listed);
	for (i = 0; i < c->nmodels; i++) {
		free(c->models[i].name);
		free(c->models[i].provider);
		free(c->models[i].model);
		cJSON_Delete(c->models[i].params);
	}
	free(c->models);
	free_sels(c->profiles, c->nprofiles);
	free_sels(c->batches, c->nbatches);
	free(c->default_profile);
	free_list(c->judges, c->njudges);
	free(c->judge_template);
	free(c->path);
	free(c);
}

/* ------------------------------------------------------------------------ */
/* Lookups */

const struct bm_provider *
bm_config_provider(const struct bm_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nproviders; i++)
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	return NULL;
}

static const struct bm_selection *
find_selection(const struct bm_selection *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

const struct bm_selection *
bm_config_profile(const struct bm_config *c, const char *name)
{
	return find_selection(c->profiles, c->nprofiles, name);
}

const struct bm_selection *
bm_config_batch(const struct bm_config *c, const char *name)
{
	return find_selection(c->batches, c->nbatches, name);
}

static const struct bm_model *
find_model(const struct bm_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nmodels; i++)
		if (strcmp(c->models[i].name, name) == 0)
			return &c->models[i];
	return NULL;
}

static void
target_model(struct bm_target *t, const struct bm_model *m)
{
	t->model = m;
	t->chars_per_token = m->chars_per_token;
	t->context = m->context;
}

/*
 * The command of a models: entry on an exec provider: its model: key, else
 * the provider's own command; the entry's name only when there is neither.
 */
static const char *
exec_command(const struct bm_model *m, const struct bm_provider *p)
{
	if (!m->model_given && p->command && *p->command)
		return p->command;
	return m->model;
}

int
bm_config_resolve(const struct bm_config *c, const char *ref,
    struct bm_target *t, struct bm_error *e)
{
	const struct bm_model *m;
	const char **names, *colon, *rest;
	char *prov, *msg;
	size_t i;
	long k;

	memset(t, 0, sizeof(*t));
	t->chars_per_token = 4;
	if (ref == NULL || *ref == '\0') {
		bm_error_set(e, NULL, 0, 0, "empty model reference");
		return -1;
	}
	m = find_model(c, ref);
	if (m) {
		t->provider = bm_config_provider(c, m->provider);
		t->api_model = m->model;
		if (t->provider && t->provider->type == BM_PROVIDER_EXEC)
			t->api_model = exec_command(m, t->provider);
		target_model(t, m);
		return 0;
	}
	colon = strchr(ref, ':');
	if (colon == NULL) {
		names = names_of(c->models, c->nmodels, sizeof(*c->models));
		if (bm_config_provider(c, ref))
			msg = xasprintf(" (did you mean '%s:'?)", ref);
		else
			msg = bm_suggest_hint(ref, names);
		bm_error_set(e, NULL, 0, 0, "unknown model '%s'%s", ref, msg);
		free(msg);
		free(names);
		return -1;
	}
	prov = xstrndup(ref, (size_t)(colon - ref));
	rest = colon + 1;
	t->provider = bm_config_provider(c, prov);
	if (t->provider == NULL) {
		names = provider_names(c);
		msg = bm_suggest_hint(prov, names);
		bm_error_set(e, NULL, 0, 0, "unknown provider '%s' in '%s'%s",
		    prov, ref, msg);
		free(msg);
		free(names);
		free(prov);
		return -1;
	}
	free(prov);
	switch (t->provider->type) {
	case BM_PROVIDER_EXEC:
		/* The reference's command, else the provider's own. */
		t->api_model = *rest ? rest : t->provider->command;
		if (t->api_model == NULL || *t->api_model == '\0') {
			bm_error_set(e, NULL, 0, 0, "no command in '%s' "
			    "(write '%s./script' or give provider '%s' a "
			    "command)", ref, ref, t->provider->name);
			return -1;
		}
		break;
	case BM_PROVIDER_ECHO:
		t->api_model = rest;
		break;
	default:
		if (*rest == '\0') {
			bm_error_set(e, NULL, 0, 0, "no model in '%s'", ref);
			return -1;
		}
		t->api_model = rest;
		break;
	}
	/* openai:gpt-4o-mini picks up the context and price of its entry,
	 * else the built-in price of its model. */
	for (i = 0; i < c->nmodels; i++)
		if (strcmp(c->models[i].provider, t->provider->name) == 0 &&
		    strcmp(c->models[i].model, t->api_model) == 0) {
			target_model(t, &c->models[i]);
			return 0;
		}
	if (vendor_of(t->provider) && (k = bm_price_find(
	    vendor_of(t->provider), t->api_model)) >= 0 &&
	    (size_t)k < c->nlisted)
		target_model(t, &c->listed[k]);
	return 0;
}

const char *
bm_config_api_key(const struct bm_provider *p)
{
	const char *v;

	if (p == NULL || p->api_key_env == NULL)
		return NULL;
	v = getenv(p->api_key_env);
	if (v == NULL || *v == '\0')
		return NULL;
	bm_redact_add(v);
	return v;
}
