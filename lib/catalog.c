/* catalog.c: the SQL of the benchmark catalog. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "catalog.h"
#include "clock.h"
#include "xalloc.h"

struct docs {
	struct bm_catalog_doc *v;
	size_t n;
};

struct bm_catalog {
	struct bm_db *db;
	struct bm_strmap *shas;		/* id -> content_sha256 */
	struct bm_strmap *paths;	/* path -> struct docs, when loaded */
	char **order;			/* paths in catalog order */
	size_t npaths;
	int pending;			/* writes in the open batch */
	char now[BM_TIME_LEN + 1];
};

static const char sql_insert[] =
    "INSERT INTO benchmarks (id, name, prompt, content, content_sha256,"
    " path, tags, description, created_at, updated_at, doc)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)";
static const char sql_update[] =
    "UPDATE benchmarks SET name = ?2, prompt = ?3, content = ?4,"
    " content_sha256 = ?5, path = ?6, tags = ?7, description = ?8,"
    " updated_at = ?9, doc = ?10 WHERE id = ?1";
static const char sql_version[] =
    "INSERT OR IGNORE INTO benchmark_versions (benchmark_id,"
    " content_sha256, content, first_seen_at) VALUES (?1, ?2, ?3, ?4)";

struct bm_catalog *
bm_catalog_open(struct bm_db *db, struct bm_error *e)
{
	struct bm_catalog *c = xcalloc(1, sizeof(*c));
	struct bm_stmt *st;
	int rc;

	c->db = db;
	c->shas = bm_strmap_new();
	bm_clock_rfc3339(c->now);
	if (bm_db_exec(db, "PRAGMA cache_size = -65536", e) < 0)
		goto fail;
	st = bm_db_prepare(db, "SELECT id, content_sha256 FROM benchmarks", e);
	if (!st)
		goto fail;
	while ((rc = bm_stmt_step(st, e)) == 1)
		bm_strmap_put(c->shas, bm_stmt_col_text(st, 0),
		    xstrdup(bm_stmt_col_text(st, 1)));
	if (rc < 0)
		goto fail;
	return c;
fail:
	bm_catalog_close(c);
	return NULL;
}

static int
bind_bench(struct bm_stmt *st, const struct bm_bench *b, const char *now)
{
	char *tags = cJSON_PrintUnformatted(bm_bench_tags(b));
	int rc;

	rc = bm_stmt_text(st, 1, b->id) | bm_stmt_text(st, 2, b->name) |
	    bm_stmt_text(st, 3, b->prompt) |
	    bm_stmt_textn(st, 4, b->text, b->text_len) |
	    bm_stmt_text(st, 5, b->sha256) | bm_stmt_text(st, 6, b->path) |
	    bm_stmt_text(st, 7, tags) |
	    bm_stmt_text(st, 8, bm_bench_description(b)) |
	    bm_stmt_text(st, 9, now) | bm_stmt_int(st, 10, b->doc);
	free(tags);
	return rc ? -1 : 0;
}

static int
run(struct bm_stmt *st, struct bm_error *e)
{
	return bm_stmt_step(st, e) < 0 ? -1 : 0;
}

int
bm_catalog_put(struct bm_catalog *c, const struct bm_bench *b,
    struct bm_error *e)
{
	const char *old = bm_strmap_get(c->shas, b->id);
	struct bm_stmt *st, *ver;

	if (old && strcmp(old, b->sha256) == 0)
		return BM_CATALOG_UNCHANGED;
	if (!bm_db_in_tx(c->db) && bm_db_begin(c->db, e) < 0)
		return -1;
	st = bm_db_prepare(c->db, old ? sql_update : sql_insert, e);
	ver = bm_db_prepare(c->db, sql_version, e);
	if (!st || !ver || bind_bench(st, b, c->now) < 0 || run(st, e) < 0)
		goto fail;
	if (bm_stmt_text(ver, 1, b->id) || bm_stmt_text(ver, 2, b->sha256) ||
	    bm_stmt_textn(ver, 3, b->text, b->text_len) ||
	    bm_stmt_text(ver, 4, c->now) || run(ver, e) < 0)
		goto fail;
	free(bm_strmap_put(c->shas, b->id, xstrdup(b->sha256)));
	if (++c->pending >= BM_CATALOG_BATCH && bm_catalog_flush(c, e) < 0)
		return -1;
	return old ? BM_CATALOG_UPDATED : BM_CATALOG_NEW;
fail:
	if (!e->msg)
		bm_error_set(e, bm_db_path(c->db), 0, 0, "cannot bind values");
	bm_db_rollback(c->db);
	return -1;
}

int
bm_catalog_flush(struct bm_catalog *c, struct bm_error *e)
{
	c->pending = 0;
	if (!bm_db_in_tx(c->db))
		return 0;
	return bm_db_commit(c->db, e);
}

static void
free_docs(void *p)
{
	struct docs *d = p;
	size_t i;

	for (i = 0; i < d->n; i++) {
		free((char *)d->v[i].id);
		free((char *)d->v[i].name);
		free((char *)d->v[i].path);
		free((char *)d->v[i].content);
	}
	free(d->v);
	free(d);
}

void
bm_catalog_close(struct bm_catalog *c)
{
	if (!c)
		return;
	if (bm_db_in_tx(c->db))
		bm_db_rollback(c->db);
	bm_strmap_free(c->shas, free);
	bm_strmap_free(c->paths, free_docs);
	free(c->order);
	free(c);
}

/* Load every stored document, grouped by path, once. */
static int
load(struct bm_catalog *c, struct bm_error *e)
{
	struct bm_catalog_doc d;
	struct bm_stmt *st;
	struct docs *ds;
	const char *p;
	int rc;

	if (c->paths)
		return 0;
	c->paths = bm_strmap_new();
	st = bm_db_prepare(c->db, "SELECT id, name, coalesce(path, ''),"
	    " content, coalesce(doc, 0) FROM benchmarks ORDER BY path, doc, rowid", e);
	if (!st)
		return -1;
	while ((rc = bm_stmt_step(st, e)) == 1) {
		p = bm_stmt_col_text(st, 2);
		ds = bm_strmap_get(c->paths, p);
		if (!ds) {
			ds = xcalloc(1, sizeof(*ds));
			bm_strmap_put(c->paths, p, ds);
			c->order = xreallocarray(c->order, c->npaths + 1,
			    sizeof(*c->order));
			c->order[c->npaths++] = NULL;
		}
		d.id = xstrdup(bm_stmt_col_text(st, 0));
		d.name = xstrdup(bm_stmt_col_text(st, 1));
		d.path = xstrdup(p);
		d.content = xstrdup(bm_stmt_col_text(st, 3));
		d.doc = (int)bm_stmt_col_int(st, 4);
		ds->v = xreallocarray(ds->v, ds->n + 1, sizeof(*ds->v));
		ds->v[ds->n++] = d;
		if (!c->order[c->npaths - 1])
			c->order[c->npaths - 1] = (char *)d.path;
	}
	return rc < 0 ? -1 : 0;
}

int
bm_catalog_has_path(struct bm_catalog *c, const char *path)
{
	struct bm_error e = BM_ERROR_INIT;

	if (load(c, &e) < 0) {
		bm_error_clear(&e);
		return 0;
	}
	return bm_strmap_get(c->paths, path) != NULL;
}

int
bm_catalog_docs(struct bm_catalog *c, const char *path,
    bm_catalog_doc_fn *fn, void *arg, struct bm_error *e)
{
	struct docs *ds;
	size_t i, k;
	int rc;

	if (load(c, e) < 0)
		return -1;
	for (k = 0; k < c->npaths; k++) {
		if (path && strcmp(path, c->order[k]) != 0)
			continue;
		ds = bm_strmap_get(c->paths, c->order[k]);
		for (i = 0; i < ds->n; i++) {
			rc = fn(arg, &ds->v[i]);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* --- backfill ------------------------------------------------------------ */

/* Does text match the template t, where {{...}} stands for any text? */
static int
template_match(const char *t, const char *text)
{
	const char *end;

	for (;;) {
		if (t[0] == '{' && t[1] == '{' &&
		    (end = strstr(t + 2, "}}")) != NULL) {
			t = end + 2;
			for (;; text++) {
				if (template_match(t, text))
					return 1;
				if (!*text)
					return 0;
			}
		}
		if (!*t)
			return !*text;
		if (*t != *text)
			return 0;
		t++;
		text++;
	}
}

/* The prompt a result record was asked with, or NULL. */
static const char *
record_prompt(const cJSON *rec)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, "prompt");
	const cJSON *m, *role, *content;
	const char *last = NULL;

	if (cJSON_IsString(p))
		return p->valuestring;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(rec,
	    "messages")) {
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (cJSON_IsString(role) && strcmp(role->valuestring,
		    "user") == 0 && cJSON_IsString(content))
			last = content->valuestring;
	}
	return last;
}

struct prompts {
	char **id, **name, **prompt;
	size_t n;
};

static const char *
match(const struct prompts *ps, const cJSON *rec)
{
	const char *p = record_prompt(rec);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "benchmark");
	size_t i;

	if (p)
		for (i = 0; i < ps->n; i++)
			if (template_match(ps->prompt[i], p))
				return ps->id[i];
	if (cJSON_IsString(name))
		for (i = 0; i < ps->n; i++)
			if (strcmp(ps->name[i], name->valuestring) == 0)
				return ps->id[i];
	return NULL;
}

int
bm_catalog_backfill(struct bm_catalog *c, long *filled, long *unmatched,
    struct bm_error *e)
{
	struct prompts ps = { NULL, NULL, NULL, 0 };
	struct { long long rowid; const char *id; } *fill = NULL;
	struct bm_stmt *st, *up;
	const char *id;
	cJSON *rec;
	size_t i, nfill = 0;
	int rc = -1, r;

	*filled = *unmatched = 0;
	st = bm_db_prepare(c->db, "SELECT id, name, prompt FROM benchmarks"
	    " ORDER BY rowid", e);
	if (!st)
		return -1;
	while ((r = bm_stmt_step(st, e)) == 1) {
		ps.id = xreallocarray(ps.id, ps.n + 1, sizeof(char *));
		ps.name = xreallocarray(ps.name, ps.n + 1, sizeof(char *));
		ps.prompt = xreallocarray(ps.prompt, ps.n + 1, sizeof(char *));
		ps.id[ps.n] = xstrdup(bm_stmt_col_text(st, 0));
		ps.name[ps.n] = xstrdup(bm_stmt_col_text(st, 1));
		ps.prompt[ps.n++] = xstrdup(bm_stmt_col_text(st, 2));
	}
	if (r < 0)
		goto out;
	/*
	 * Read first, then write: never update rows under a running scan.
	 * NULL is missing; so is '', which lib/runs.c stores for a result
	 * without a benchmark_id.
	 */
	st = bm_db_prepare(c->db, "SELECT rowid, record FROM results WHERE"
	    " benchmark_id IS NULL OR benchmark_id = ''", e);
	if (!st)
		goto out;
	while ((r = bm_stmt_step(st, e)) == 1) {
		rec = cJSON_Parse(bm_stmt_col_text(st, 1) ?
		    bm_stmt_col_text(st, 1) : "");
		id = rec ? match(&ps, rec) : NULL;
		if (id) {
			fill = xreallocarray(fill, nfill + 1, sizeof(*fill));
			fill[nfill].rowid = bm_stmt_col_int(st, 0);
			fill[nfill++].id = id;
		} else {
			(*unmatched)++;
		}
		cJSON_Delete(rec);
	}
	if (r < 0 || bm_db_begin(c->db, e) < 0)
		goto out;
	up = bm_db_prepare(c->db, "UPDATE results SET benchmark_id = ?1"
	    " WHERE rowid = ?2", e);
	if (!up)
		goto fail;
	for (i = 0; i < nfill; i++) {
		bm_stmt_text(up, 1, fill[i].id);
		bm_stmt_int(up, 2, fill[i].rowid);
		if (run(up, e) < 0)
			goto fail;
	}
	*filled = (long)nfill;
	if (r < 0 || bm_db_commit(c->db, e) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	bm_db_rollback(c->db);
out:
	for (i = 0; i < ps.n; i++) {
		free(ps.id[i]);
		free(ps.name[i]);
		free(ps.prompt[i]);
	}
	free(ps.id);
	free(ps.name);
	free(ps.prompt);
	free(fill);
	return rc;
}
