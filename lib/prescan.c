/* prescan.c: the case stream read ahead: totals, digest, unset keys. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "assert.h"
#include "buf.h"
#include "hash.h"
#include "jsonl.h"
#include "judge.h"
#include "prescan.h"
#include "xalloc.h"

/* An unset API key variable and the models that need it. */
struct nokey {
	const char *var;
	struct bm_buf models;
	struct bm_map *seen;
};

struct bm_prescan {
	const struct bm_config *cfg;
	struct bm_map *ids;	/* the caller's, or NULL */
	long total;
	struct bm_buf idlist;	/* "case_id\n" of every case */
	struct nokey *nk;
	size_t nnk;
};

struct bm_prescan *
bm_prescan_new(const struct bm_config *cfg, struct bm_map *ids)
{
	struct bm_prescan *p = xcalloc(1, sizeof(*p));

	p->cfg = cfg;
	p->ids = ids;
	return p;
}

void
bm_prescan_free(struct bm_prescan *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nnk; i++) {
		bm_buf_free(&p->nk[i].models);
		bm_map_free(p->nk[i].seen, NULL);
	}
	free(p->nk);
	bm_buf_free(&p->idlist);
	free(p);
}

/* Note model when its provider's key is unset. */
static void
note_key(struct bm_prescan *p, const char *model)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_target t;
	struct nokey *k;
	size_t i;

	if (bm_config_resolve(p->cfg, model, &t, &e) < 0 ||
	    !t.provider->api_key_env || bm_config_api_key(t.provider)) {
		bm_error_clear(&e);
		return;
	}
	for (i = 0; i < p->nnk; i++)
		if (strcmp(p->nk[i].var, t.provider->api_key_env) == 0)
			break;
	if (i == p->nnk) {
		p->nk = xreallocarray(p->nk, p->nnk + 1, sizeof(*p->nk));
		p->nk[i].var = t.provider->api_key_env;
		memset(&p->nk[i].models, 0, sizeof(p->nk[i].models));
		p->nk[i].seen = bm_map_new();
		p->nnk++;
	}
	k = &p->nk[i];
	if (!bm_map_get(k->seen, model)) {
		bm_map_put(k->seen, model, k->seen);
		bm_buf_addf(&k->models, "%s%s", k->models.len ? ", " : "",
		    model);
	}
}

/* Note the judges of expect whose providers' keys are unset. */
static void
note_judge_keys(struct bm_prescan *p, const cJSON *expect)
{
	const cJSON *spec, *type;
	const char **m;
	size_t k, n;

	cJSON_ArrayForEach(spec, expect) {
		type = bm_assert_type(spec);
		if (!type || strcmp(type->string, "judge") != 0)
			continue;
		m = bm_judge_models(type, p->cfg, &n);
		for (k = 0; k < n; k++)
			note_key(p, m[k]);
		free(m);
	}
}

void
bm_prescan_line(struct bm_prescan *p, const char *line)
{
	const char *id, *model;
	const cJSON *steps, *st;
	cJSON *rec = cJSON_Parse(line);

	if (!rec || strcmp(bm_jsonl_type(rec) ? bm_jsonl_type(rec) : "",
	    "case") != 0)
		goto out;
	steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	p->total += cJSON_IsArray(steps) ? cJSON_GetArraySize(steps) : 1;
	if ((id = bm_json_str(rec, "case_id"))) {
		bm_buf_addf(&p->idlist, "%s\n", id);
		if (p->ids)
			bm_map_put(p->ids, id, p->ids);
	}
	if ((model = bm_json_str(rec, "model")))
		note_key(p, model);
	note_judge_keys(p, cJSON_GetObjectItemCaseSensitive(rec, "expect"));
	if (!cJSON_IsArray(steps))
		steps = NULL;
	cJSON_ArrayForEach(st, steps)
		note_judge_keys(p, cJSON_GetObjectItemCaseSensitive(st,
		    "expect"));
out:
	cJSON_Delete(rec);
}

long
bm_prescan_total(const struct bm_prescan *p)
{
	return p->total;
}

void
bm_prescan_digest(const struct bm_prescan *p, char out[65])
{
	bm_hash_sha256(p->idlist.s ? p->idlist.s : "", p->idlist.len, out);
}

int
bm_prescan_nokey(const struct bm_prescan *p, size_t i, const char **var,
    const char **models)
{
	if (i >= p->nnk)
		return 0;
	*var = p->nk[i].var;
	*models = bm_buf_str(&p->nk[i].models);
	return 1;
}
