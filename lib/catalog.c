/* catalog.c: the SQL of the benchmark catalog. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "catalog.h"
#include "clock.h"
#include "hash.h"
#include "jsonl.h"
#include "map.h"
#include "xalloc.h"

/* Stored documents, each one allocation with its strings after it. */
struct docs {
	struct bm_catalog_doc **v;
	size_t n;
};

struct bm_catalog {
	struct bm_db *db;
	struct docs all;		/* what ids and shas point to */
	struct bm_map *ids;		/* id -> its current document */
	struct bm_map *shas;		/* content_sha256 -> document */
	size_t nstored;			/* documents stored at open */
	struct bm_map *paths;	/* path -> struct docs, when loaded */
	char **order;			/* paths in catalog order */
	size_t npaths;
	char now[BM_CLOCK_TIME_LEN + 1];

	/* The writer thread and its queue, under mu. */
	pthread_t thread;
	int running;			/* thread is started (main's) */
	pthread_mutex_t mu;
	pthread_cond_t more;		/* a job is queued, or stop */
	pthread_cond_t room;		/* a job is done */
	struct job *head, *tail;
	size_t queued;
	struct job *done;		/* written, for main to free */
	int stop;
	int idle, full;			/* the writer, main is waiting */
	int failed;			/* err holds why; no more writes */
	int dirty;			/* writes queued, not yet committed */
	struct bm_error err;
	double began;			/* ms: the open transaction's start */
};

static const char sql_insert[] =
    "INSERT INTO benchmarks (id, name, prompt, content, content_sha256,"
    " path, tags, description, created_at, updated_at, doc, tree)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)";
static const char sql_update[] =
    "UPDATE benchmarks SET name = ?2, prompt = ?3, content = ?4,"
    " content_sha256 = ?5, path = ?6, tags = ?7, description = ?8,"
    " updated_at = ?9, doc = ?10, tree = ?11, retired_at = NULL"
    " WHERE id = ?1";
static const char sql_move[] =
    "UPDATE benchmarks SET name = ?2, path = ?3, doc = ?4,"
    " retired_at = NULL WHERE id = ?1";
static const char sql_retire[] =
    "UPDATE benchmarks SET retired_at = ?2 WHERE id = ?1"
    " AND retired_at IS NULL";
static const char sql_version[] =
    "INSERT OR IGNORE INTO benchmark_versions (benchmark_id,"
    " content_sha256, content, first_seen_at) VALUES (?1, ?2, ?3, ?4)";
/* The columns of a struct bm_catalog_doc, as doc_row reads them. */
#define DOC_COLUMNS "id, name, coalesce(path, ''), coalesce(doc, 0)," \
    " content_sha256, tree, retired_at IS NOT NULL"

static void
push_doc(struct docs *ds, struct bm_catalog_doc *d)
{
	/* Capacity: the next power of two. */
	if ((ds->n & (ds->n - 1)) == 0)
		ds->v = xreallocarray(ds->v, ds->n ? 2 * ds->n : 1,
		    sizeof(*ds->v));
	ds->v[ds->n++] = d;
}

/* One allocation: the struct, then its strings (s[i] of n[i] bytes). */
static struct bm_catalog_doc *
doc_new(const char *const s[6], int doc)
{
	struct bm_catalog_doc *d;
	const char **field[6];
	size_t n[6], total = sizeof(*d), i;
	char *p;

	for (i = 0; i < 6; i++) {
		n[i] = s[i] ? strlen(s[i]) + 1 : 0;
		total += n[i];
	}
	d = xcalloc(1, total);
	field[0] = &d->id;
	field[1] = &d->name;
	field[2] = &d->path;
	field[3] = &d->sha256;
	field[4] = &d->tree;
	field[5] = &d->content;
	p = (char *)(d + 1);
	for (i = 0; i < 6; i++) {
		if (!s[i])
			continue;
		*field[i] = memcpy(p, s[i], n[i]);
		p += n[i];
	}
	d->doc = doc;
	return d;
}

/* The document in the current row of st (DOC_COLUMNS, then content?). */
static struct bm_catalog_doc *
doc_row(struct bm_db_stmt *st, int content)
{
	struct bm_catalog_doc *d;
	const char *s[6];

	s[0] = bm_db_col_text(st, 0);
	s[1] = bm_db_col_text(st, 1);
	s[2] = bm_db_col_text(st, 2);
	s[3] = bm_db_col_text(st, 4);
	s[4] = bm_db_col_text(st, 5);
	s[5] = content ? bm_db_col_text(st, 7) : NULL;
	d = doc_new(s, (int)bm_db_col_int(st, 3));
	d->retired = bm_db_col_int(st, 6) != 0;
	return d;
}

/* Make d the current document of its id (and of its content). */
static void
remember(struct bm_catalog *c, struct bm_catalog_doc *d)
{
	push_doc(&c->all, d);
	bm_map_put(c->ids, d->id, d);
	bm_map_put(c->shas, d->sha256, d);
}

struct bm_catalog *
bm_catalog_open(struct bm_db *db, struct bm_error *e)
{
	struct bm_catalog *c = xcalloc(1, sizeof(*c));
	struct bm_db_stmt *st;
	int rc;

	c->db = db;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->more, NULL);
	pthread_cond_init(&c->room, NULL);
	c->ids = bm_map_new();
	c->shas = bm_map_new();
	bm_clock_rfc3339(c->now);
	/*
	 * Room for a large batch in memory (SQLite allocates it as needed):
	 * with the default 2 MB, a big first ingest spills pages to the WAL
	 * and reads them back again and again.
	 */
	if (bm_db_exec(db, "PRAGMA cache_size = -65536", e) < 0)
		goto fail;
	st = bm_db_prepare(db, "SELECT " DOC_COLUMNS " FROM benchmarks", e);
	if (!st)
		goto fail;
	while ((rc = bm_db_step(st, e)) == 1)
		remember(c, doc_row(st, 0));
	c->nstored = c->all.n;
	if (rc < 0)
		goto fail;
	return c;
fail:
	bm_catalog_close(c);
	return NULL;
}

struct bm_bench *
bm_catalog_bench(const struct bm_catalog_doc *d)
{
	return bm_bench_stored(d->tree, d->id, d->sha256, d->name, d->path,
	    d->doc);
}

struct bm_bench *
bm_catalog_file(struct bm_catalog *c, const char *path, const char *data,
    size_t len)
{
	const struct bm_catalog_doc *d;
	char sha[BM_HASH_SHA256_LEN + 1];

	/* Nothing stored: no file can be unchanged, none needs a hash. */
	if (!c->nstored || strcmp(path, "-") == 0)
		return NULL;
	bm_hash_sha256(data, len, sha);
	d = bm_map_get(c->shas, sha);
	/* An older version of a benchmark updated since is not current. */
	if (!d || bm_map_get(c->ids, d->id) != d || d->retired)
		return NULL;
	return d->doc == 0 && strcmp(d->path, path) == 0 ?
	    bm_catalog_bench(d) : NULL;
}

/* --- writes, on their own thread ---------------------------------------- */

/*
 * The main thread decides what each document needs (its maps are the
 * catalog as it will be) and queues the SQL; a writer thread runs it, so
 * that parsing the next files and writing the last ones overlap.  The
 * connection is the writer's while it runs: bm_catalog_flush stops it
 * before the main thread uses the database again.
 */

enum { J_INSERT, J_UPDATE, J_MOVE, J_RETIRE };
enum { F_ID, F_NAME, F_PROMPT, F_CONTENT, F_SHA, F_PATH, F_TAGS, F_DESC,
    F_TREE, NF };

struct job {
	int kind;
	int doc;
	char *f[NF];
	size_t content_len;
	struct job *next;
};

static void
job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < NF; i++)
		free(j->f[i]);
	free(j);
}

static void
free_jobs(struct job *j)
{
	struct job *next;

	for (; j; j = next) {
		next = j->next;
		job_free(j);
	}
}

static int
run(struct bm_db_stmt *st, struct bm_error *e)
{
	return bm_db_step(st, e) < 0 ? -1 : 0;
}

static int
write_job(struct bm_catalog *c, const struct job *j, struct bm_error *e)
{
	struct bm_db_stmt *st, *ver;
	char *const *f = j->f;

	if (!bm_db_in_tx(c->db)) {
		if (bm_db_begin(c->db, e) < 0)
			return -1;
		c->began = bm_clock_ms();
	}
	if (j->kind == J_RETIRE) {
		st = bm_db_prepare(c->db, sql_retire, e);
		if (!st || bm_db_bind_text(st, 1, f[F_ID]) ||
		    bm_db_bind_text(st, 2, c->now) || run(st, e) < 0)
			goto fail;
		return 0;
	}
	if (j->kind == J_MOVE) {
		st = bm_db_prepare(c->db, sql_move, e);
		if (!st || bm_db_bind_text(st, 1, f[F_ID]) ||
		    bm_db_bind_text(st, 2, f[F_NAME]) ||
		    bm_db_bind_text(st, 3, f[F_PATH]) ||
		    bm_db_bind_int(st, 4, j->doc) || run(st, e) < 0)
			goto fail;
		return 0;
	}
	st = bm_db_prepare(c->db, j->kind == J_UPDATE ? sql_update :
	    sql_insert, e);
	ver = st ? bm_db_prepare(c->db, sql_version, e) : NULL;
	if (!ver || bm_db_bind_text(st, 1, f[F_ID]) ||
	    bm_db_bind_text(st, 2, f[F_NAME]) ||
	    bm_db_bind_text(st, 3, f[F_PROMPT]) ||
	    bm_db_bind_textn(st, 4, f[F_CONTENT], j->content_len) ||
	    bm_db_bind_text(st, 5, f[F_SHA]) ||
	    bm_db_bind_text(st, 6, f[F_PATH]) ||
	    bm_db_bind_text(st, 7, f[F_TAGS]) ||
	    bm_db_bind_text(st, 8, f[F_DESC]) ||
	    bm_db_bind_text(st, 9, c->now) || bm_db_bind_int(st, 10, j->doc) ||
	    bm_db_bind_text(st, 11, f[F_TREE]) || run(st, e) < 0 ||
	    bm_db_bind_text(ver, 1, f[F_ID]) ||
	    bm_db_bind_text(ver, 2, f[F_SHA]) ||
	    bm_db_bind_textn(ver, 3, f[F_CONTENT], j->content_len) ||
	    bm_db_bind_text(ver, 4, c->now) || run(ver, e) < 0)
		goto fail;
	return 0;
fail:
	if (!e->msg)
		bm_error_set(e, bm_db_path(c->db), 0, 0, "cannot bind values");
	bm_db_rollback(c->db);
	return -1;
}

/* Run queued jobs; commit a transaction once it is BM_CATALOG_TX_MS old. */
static void *
writer(void *arg)
{
	struct bm_catalog *c = arg;
	struct bm_error e = BM_ERROR_INIT;
	struct timespec until;
	struct job *j;
	long ms;
	int rc;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (!c->head && c->stop)
			break;
		if (!c->head && (!bm_db_in_tx(c->db) || c->failed)) {
			c->idle = 1;
			pthread_cond_wait(&c->more, &c->mu);
			c->idle = 0;
			continue;
		}
		if (!c->head) {
			/* Idle in a transaction: commit when it is due. */
			ms = (long)(c->began + BM_CATALOG_TX_MS -
			    bm_clock_ms()) + 1;
			if (ms > 0) {
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += ms / 1000;
				until.tv_nsec += ms % 1000 * 1000000L;
				if (until.tv_nsec >= 1000000000L) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000L;
				}
				c->idle = 1;
				pthread_cond_timedwait(&c->more, &c->mu,
				    &until);
				c->idle = 0;
				continue;
			}
			j = NULL;
		} else {
			j = c->head;
			c->head = j->next;
			c->queued--;
		}
		pthread_mutex_unlock(&c->mu);
		rc = c->failed ? 0 : j ? write_job(c, j, &e) : 0;
		if (rc == 0 && !c->failed && bm_db_in_tx(c->db) &&
		    bm_clock_ms() - c->began >= BM_CATALOG_TX_MS)
			rc = bm_db_commit(c->db, &e);
		pthread_mutex_lock(&c->mu);
		/* The main thread frees it: its memory is the main arena's. */
		if (j) {
			j->next = c->done;
			c->done = j;
		}
		if (rc < 0 && !c->failed) {
			c->failed = 1;
			c->err = e;
			memset(&e, 0, sizeof(e));
		}
		if (c->full)
			pthread_cond_signal(&c->room);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Stop the writer once it has run every queued job. */
static void
stop(struct bm_catalog *c)
{
	if (!c->running)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->more);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	c->running = 0;
	c->stop = 0;
	free_jobs(c->done);
	c->done = NULL;
}

/* The writer's failure, if any, into e: -1, else 0. */
static int
failed(struct bm_catalog *c, struct bm_error *e)
{
	if (!c->failed)
		return 0;
	bm_error_set(e, c->err.file, c->err.line, c->err.col, "%s",
	    c->err.msg ? c->err.msg : "cannot write");
	return -1;
}

/* Queue j, starting the writer when it is not running; -1 with e. */
static int
queue(struct bm_catalog *c, struct job *j, struct bm_error *e)
{
	struct job *done;

	if (!c->running) {
		if (failed(c, e) < 0) {
			job_free(j);
			return -1;
		}
		if (pthread_create(&c->thread, NULL, writer, c) != 0) {
			/* No thread: the write is done here and now. */
			if (write_job(c, j, e) < 0) {
				job_free(j);
				return -1;
			}
			job_free(j);
			return 0;
		}
		c->running = 1;
	}
	pthread_mutex_lock(&c->mu);
	while (c->queued >= BM_CATALOG_QUEUE && !c->failed) {
		c->full = 1;
		pthread_cond_wait(&c->room, &c->mu);
		c->full = 0;
	}
	if (c->failed) {
		pthread_mutex_unlock(&c->mu);
		job_free(j);
		return failed(c, e);
	}
	done = c->done;
	c->done = NULL;
	j->next = NULL;
	if (c->head)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	c->queued++;
	/* Wake an idle writer for a few jobs at once: a wake is a syscall. */
	if (c->idle && c->queued >= BM_CATALOG_QUEUE / 8)
		pthread_cond_signal(&c->more);
	pthread_mutex_unlock(&c->mu);
	free_jobs(done);
	return 0;
}

/* The same version in another place (file moved, documents reordered). */
static int
moved(const struct bm_catalog_doc *old, const struct bm_bench *b)
{
	return old->doc != b->doc || strcmp(old->path, b->path) != 0 ||
	    strcmp(old->name, b->name) != 0;
}

int
bm_catalog_put(struct bm_catalog *c, struct bm_bench *b, struct bm_error *e)
{
	const struct bm_catalog_doc *old = bm_map_get(c->ids, b->id);
	int same = old && strcmp(old->sha256, b->sha256) == 0;
	const char *s[6];
	struct job *j;

	if (same && !moved(old, b) && !old->retired)
		return BM_CATALOG_UNCHANGED;
	j = xcalloc(1, sizeof(*j));
	j->kind = same ? J_MOVE : old ? J_UPDATE : J_INSERT;
	j->doc = b->doc;
	j->f[F_ID] = xstrdup(b->id);
	j->f[F_NAME] = xstrdup(b->name);
	j->f[F_PATH] = xstrdup(b->path);
	if (!same) {
		j->f[F_PROMPT] = b->prompt;
		j->f[F_CONTENT] = b->text;
		j->content_len = b->text_len;
		b->prompt = b->text = NULL;
		j->f[F_SHA] = xstrdup(b->sha256);
		j->f[F_TAGS] = bm_json_print(bm_bench_tags(b));
		if (bm_bench_description(b))
			j->f[F_DESC] = xstrdup(bm_bench_description(b));
		j->f[F_TREE] = bm_json_print(b->root);
	}
	s[0] = b->id;
	s[1] = b->name;
	s[2] = b->path;
	s[3] = b->sha256;
	s[4] = same ? old->tree : j->f[F_TREE];
	s[5] = NULL;
	remember(c, doc_new(s, b->doc));
	if (queue(c, j, e) < 0)
		return -1;
	c->dirty = 1;
	return same ? BM_CATALOG_UNCHANGED : old ? BM_CATALOG_UPDATED :
	    BM_CATALOG_NEW;
}

int
bm_catalog_flush(struct bm_catalog *c, struct bm_error *e)
{
	stop(c);
	if (failed(c, e) < 0)
		return -1;
	if (bm_db_in_tx(c->db) && bm_db_commit(c->db, e) < 0)
		return -1;
	c->dirty = 0;
	return 0;
}

int
bm_catalog_dirty(const struct bm_catalog *c)
{
	return c->dirty;
}

static void
free_docs(void *p)
{
	struct docs *ds = p;
	size_t i;

	for (i = 0; i < ds->n; i++)
		free(ds->v[i]);
	free(ds->v);
	free(ds);
}

void
bm_catalog_close(struct bm_catalog *c)
{
	size_t i;

	if (!c)
		return;
	/* Queued writes are not wanted: the caller did not flush. */
	pthread_mutex_lock(&c->mu);
	free_jobs(c->head);
	c->head = NULL;
	c->queued = 0;
	pthread_mutex_unlock(&c->mu);
	stop(c);
	if (bm_db_in_tx(c->db))
		bm_db_rollback(c->db);
	bm_error_clear(&c->err);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->more);
	pthread_cond_destroy(&c->room);
	bm_map_free(c->ids, NULL);
	bm_map_free(c->shas, NULL);
	for (i = 0; i < c->all.n; i++)
		free(c->all.v[i]);
	free(c->all.v);
	bm_map_free(c->paths, free_docs);
	free(c->order);
	free(c);
}

/* Load every stored document with its content, grouped by path, once. */
static int
load(struct bm_catalog *c, struct bm_error *e)
{
	struct bm_catalog_doc *d;
	struct bm_db_stmt *st;
	struct docs *ds;
	int rc;

	if (c->paths)
		return 0;
	/* The connection is the writer's while it runs. */
	if (bm_catalog_flush(c, e) < 0)
		return -1;
	c->paths = bm_map_new();
	st = bm_db_prepare(c->db, "SELECT " DOC_COLUMNS ", content FROM"
	    " benchmarks WHERE retired_at IS NULL ORDER BY path, doc, rowid",
	    e);
	if (!st)
		return -1;
	while ((rc = bm_db_step(st, e)) == 1) {
		d = doc_row(st, 1);
		ds = bm_map_get(c->paths, d->path);
		if (!ds) {
			ds = xcalloc(1, sizeof(*ds));
			bm_map_put(c->paths, d->path, ds);
			c->order = xreallocarray(c->order, c->npaths + 1,
			    sizeof(*c->order));
			c->order[c->npaths++] = (char *)d->path;
		}
		push_doc(ds, d);
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
	return bm_map_get(c->paths, path) != NULL;
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
		ds = bm_map_get(c->paths, c->order[k]);
		for (i = 0; i < ds->n; i++) {
			rc = fn(arg, ds->v[i]);
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
	struct bm_db_stmt *st, *up;
	const char *id;
	cJSON *rec;
	size_t i, nfill = 0;
	int rc = -1, r;

	*filled = *unmatched = 0;
	st = bm_db_prepare(c->db, "SELECT id, name, prompt FROM benchmarks"
	    " ORDER BY rowid", e);
	if (!st)
		return -1;
	while ((r = bm_db_step(st, e)) == 1) {
		ps.id = xreallocarray(ps.id, ps.n + 1, sizeof(char *));
		ps.name = xreallocarray(ps.name, ps.n + 1, sizeof(char *));
		ps.prompt = xreallocarray(ps.prompt, ps.n + 1, sizeof(char *));
		ps.id[ps.n] = xstrdup(bm_db_col_text(st, 0));
		ps.name[ps.n] = xstrdup(bm_db_col_text(st, 1));
		ps.prompt[ps.n++] = xstrdup(bm_db_col_text(st, 2));
	}
	if (r < 0)
		goto out;
	/*
	 * Read first, then write: never update rows under a running scan.
	 * NULL is missing, and so is '': an empty id names nothing.
	 */
	st = bm_db_prepare(c->db, "SELECT rowid, record FROM results WHERE"
	    " benchmark_id IS NULL OR benchmark_id = ''", e);
	if (!st)
		goto out;
	while ((r = bm_db_step(st, e)) == 1) {
		rec = cJSON_Parse(bm_db_col_text(st, 1) ?
		    bm_db_col_text(st, 1) : "");
		id = rec ? match(&ps, rec) : NULL;
		if (id) {
			fill = xreallocarray(fill, nfill + 1, sizeof(*fill));
			fill[nfill].rowid = bm_db_col_int(st, 0);
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
		bm_db_bind_text(up, 1, fill[i].id);
		bm_db_bind_int(up, 2, fill[i].rowid);
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

/* --- retiring, versions -------------------------------------------------- */

int
bm_catalog_retire(struct bm_catalog *c, bm_catalog_gone_fn *gone, void *arg,
    long *n, struct bm_error *e)
{
	const struct bm_catalog_doc *d;
	struct bm_catalog_doc *r;
	const char *s[6];
	struct job *j;
	size_t i, total = c->all.n;

	*n = 0;
	for (i = 0; i < total; i++) {
		d = c->all.v[i];
		/* Only the current document of an id; once. */
		if (d->retired || bm_map_get(c->ids, d->id) != d ||
		    !gone(arg, d))
			continue;
		j = xcalloc(1, sizeof(*j));
		j->kind = J_RETIRE;
		j->f[F_ID] = xstrdup(d->id);
		s[0] = d->id;
		s[1] = d->name;
		s[2] = d->path;
		s[3] = d->sha256;
		s[4] = d->tree;
		s[5] = NULL;
		r = doc_new(s, d->doc);
		r->retired = 1;
		remember(c, r);
		if (queue(c, j, e) < 0)
			return -1;
		c->dirty = 1;
		(*n)++;
	}
	return 0;
}

int
bm_catalog_versions(struct bm_catalog *c, const char *key,
    bm_catalog_version_fn *fn, void *arg, struct bm_error *e)
{
	struct bm_catalog_version v;
	struct bm_db_stmt *st;
	char *id = NULL;
	int rc;

	if (bm_catalog_flush(c, e) < 0)
		return -1;
	st = bm_db_prepare(c->db, "SELECT id FROM benchmarks WHERE id = ?1"
	    " OR name = ?1 ORDER BY id = ?1 DESC, retired_at IS NOT NULL,"
	    " rowid", e);
	if (!st || bm_db_bind_text(st, 1, key))
		return -1;
	/* The id itself first, else the name's in use, else its first. */
	rc = bm_db_step(st, e);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		bm_error_set(e, key, 0, 0, "no such benchmark");
		return -1;
	}
	id = xstrdup(bm_db_col_text(st, 0));
	st = bm_db_prepare(c->db, "SELECT b.id, b.name, coalesce(b.path, ''),"
	    " coalesce(b.doc, 0), v.content_sha256, v.content,"
	    " v.first_seen_at, b.retired_at FROM benchmark_versions v"
	    " JOIN benchmarks b ON b.id = v.benchmark_id"
	    " WHERE v.benchmark_id = ?1 ORDER BY v.first_seen_at, v.rowid", e);
	if (!st || bm_db_bind_text(st, 1, id))
		goto fail;
	while ((rc = bm_db_step(st, e)) == 1) {
		v.id = bm_db_col_text(st, 0);
		v.name = bm_db_col_text(st, 1);
		v.path = bm_db_col_text(st, 2);
		v.doc = (int)bm_db_col_int(st, 3);
		v.sha256 = bm_db_col_text(st, 4);
		v.content = bm_db_col_text(st, 5);
		v.first_seen_at = bm_db_col_text(st, 6);
		v.retired_at = bm_db_col_text(st, 7);
		rc = fn(arg, &v);
		if (rc)
			break;
	}
	free(id);
	return rc < 0 ? -1 : rc;
fail:
	free(id);
	return -1;
}

/* --- what a run read, for bm_catalog_retire ------------------------------ */

struct bm_catalog_scope {
	struct bm_map *read;		/* path -> &clean or &tainted */
	char **dirs;			/* "dir/" of each directory walked */
	size_t ndirs;
};

static int clean, tainted;

struct bm_catalog_scope *
bm_catalog_scope_new(void)
{
	struct bm_catalog_scope *s = xcalloc(1, sizeof(*s));

	s->read = bm_map_new();
	return s;
}

void
bm_catalog_scope_file(struct bm_catalog_scope *s, const char *path,
    int whole)
{
	bm_map_put(s->read, path, whole ? &clean : &tainted);
}

void
bm_catalog_scope_dir(struct bm_catalog_scope *s, const char *dir)
{
	s->dirs = xreallocarray(s->dirs, s->ndirs + 1, sizeof(*s->dirs));
	s->dirs[s->ndirs++] = xasprintf("%s%s", dir,
	    strchr(dir, '\0')[-1] == '/' ? "" : "/");
}

int
bm_catalog_scope_gone(const struct bm_catalog_scope *s,
    const struct bm_catalog_doc *d)
{
	const int *state = bm_map_get(s->read, d->path);
	size_t i;

	if (state)
		return state == &clean;
	for (i = 0; i < s->ndirs; i++)
		if (strncmp(d->path, s->dirs[i], strlen(s->dirs[i])) == 0)
			return 1;
	return 0;
}

void
bm_catalog_scope_free(struct bm_catalog_scope *s)
{
	size_t i;

	if (!s)
		return;
	bm_map_free(s->read, NULL);
	for (i = 0; i < s->ndirs; i++)
		free(s->dirs[i]);
	free(s->dirs);
	free(s);
}
