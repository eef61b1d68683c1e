/*
 * select.c: what bm-ingest takes of the benchmarks it reads: models per
 * benchmark, profiles and batches, tags, name glob and shard.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "select.h"
#include "suggest.h"
#include "xalloc.h"

void
bm_select_push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

int
bm_select_use(struct bm_select *s, const char *kind, const char *name,
    struct bm_error *e)
{
	const struct bm_config *c = s->config;
	const struct bm_selection *sel, *all;
	const char **names;
	char *hint;
	size_t i, n;

	sel = *kind == 'p' ? bm_config_profile(c, name) :
	    bm_config_batch(c, name);
	if (!sel) {
		all = *kind == 'p' ? c->profiles : c->batches;
		n = *kind == 'p' ? c->nprofiles : c->nbatches;
		names = xcalloc(n + 1, sizeof(*names));
		for (i = 0; i < n; i++)
			names[i] = all[i].name;
		hint = bm_suggest_hint(name, names);
		free(names);
		bm_error_set(e, NULL, 0, 0, "unknown %s '%s'%s", kind, name,
		    hint);
		free(hint);
		return -1;
	}
	for (i = 0; i < sel->nmodels; i++)
		bm_select_push(&s->models, &s->nmodels, sel->models[i]);
	for (i = 0; i < sel->ntags; i++)
		bm_select_push(&s->tags, &s->ntags, sel->tags[i]);
	if (!s->repeat)
		s->repeat = sel->repeat;
	return 0;
}

int
bm_select_shard(struct bm_select *s, const char *arg, struct bm_error *e)
{
	const char *slash = strchr(arg, '/');
	char *k = slash ? xstrndup(arg, (size_t)(slash - arg)) : NULL;
	long kk, nn;
	int bad;

	bad = !slash || bm_cli_parse_long(k, 1, 1L << 30, &kk) < 0 ||
	    bm_cli_parse_long(slash + 1, 1, 1L << 30, &nn) < 0 || kk > nn;
	free(k);
	if (bad) {
		bm_error_set(e, NULL, 0, 0, "--shard: invalid shard '%s' "
		    "(want K/N with 1 <= K <= N)", arg);
		return -1;
	}
	s->shard_k = (unsigned long)kk - 1;
	s->shard_n = (unsigned long)nn;
	return 0;
}

int
bm_select_in_shard(const struct bm_select *s, const char *case_id)
{
	char head[9];

	if (!s->shard_n)
		return 1;
	memcpy(head, case_id, 8);
	head[8] = '\0';
	return strtoul(head, NULL, 16) % s->shard_n == s->shard_k;
}

int
bm_select_tagged(const struct bm_select *s, const struct bm_bench *b)
{
	return bm_bench_has_tag(b, s->tags, s->ntags);
}

int
bm_select_named(const struct bm_select *s, const struct bm_bench *b)
{
	return !s->glob || fnmatch(s->glob, b->name, 0) == 0;
}

/* Do a and b name the same model (as written, or once resolved)? */
static int
same_model(const struct bm_config *c, const char *a, const char *b)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_target ta, tb;
	int same;

	if (strcmp(a, b) == 0)
		return 1;
	same = bm_config_resolve(c, a, &ta, &e) == 0 &&
	    bm_config_resolve(c, b, &tb, &e) == 0 &&
	    ta.provider == tb.provider &&
	    strcmp(ta.api_model, tb.api_model) == 0;
	bm_error_clear(&e);
	return same;
}

/* Does bm.yml resolve model reference m? */
static int
resolves(const struct bm_config *c, const char *m, struct bm_error *e)
{
	struct bm_target t;

	return bm_config_resolve(c, m, &t, e) == 0;
}

int
bm_select_models(const struct bm_select *s, const struct bm_bench *b,
    const char ***out, size_t *n)
{
	struct bm_error e = BM_ERROR_INIT;
	const char **v, **own;
	size_t i, k, nown;

	*out = NULL;
	*n = 0;
	if (s->nmodels) {
		own = bm_bench_models(b, &nown);
		v = xcalloc(s->nmodels + 1, sizeof(*v));
		for (i = 0; i < s->nmodels; i++) {
			for (k = 0; k < nown; k++)
				if (same_model(s->config, s->models[i],
				    own[k]))
					break;
			if (!nown || k < nown)
				v[(*n)++] = s->models[i];
		}
		free(own);
		*out = v;
		return 0;
	}
	v = bm_bench_models(b, n);
	for (i = 0; i < *n && resolves(s->config, v[i], &e); i++)
		;
	bm_error_clear(&e);
	if (!*n || i < *n) {
		free(v);
		return *n ? -1 : 1;
	}
	*out = v;
	return 0;
}

void
bm_select_report_models(const struct bm_select *s,
    const struct bm_yaml_doc *doc, const struct bm_bench *b,
    bm_check_report_fn *report, void *arg)
{
	struct bm_error e = BM_ERROR_INIT;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(b->root,
	    "models");
	const char **v;
	char *msg;
	size_t i, n;

	v = bm_bench_models(b, &n);
	for (i = 0; i < n; i++) {
		if (resolves(s->config, v[i], &e))
			continue;
		msg = xstrdup(e.msg);
		bm_yaml_error(&e, doc, b->path, cJSON_IsArray(list) ?
		    cJSON_GetArrayItem(list, (int)i) : list, 0, "models: %s",
		    msg);
		free(msg);
		report(arg, &e);
	}
	bm_error_clear(&e);
	free(v);
}

void
bm_select_free(struct bm_select *s)
{
	size_t i;

	for (i = 0; i < s->nmodels; i++)
		free(s->models[i]);
	for (i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->models);
	free(s->tags);
}
