/*
 * bm-ingest: validate benchmark files, upsert them into the catalog, and
 * write the case stream (benchmarks x variants x trials x models x repeats).
 *
 *	bm-ingest [-m MODEL]... [--profile P] [--batch B] [PATH...]
 *
 * Every problem of every document is reported; invalid documents are
 * skipped and the valid ones still ingested and emitted, then exit 1.
 * Cases stream one at a time: memory does not grow with their number.
 * A file that is one stored, unchanged document is not parsed again.
 */
#include <sys/stat.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "buf.h"
#include "catalog.h"
#include "check.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "jsonl.h"
#include "map.h"
#include "suggest.h"
#include "walk.h"
#include "xalloc.h"
#include "yaml.h"

enum {
	OPT_PROFILE = BM_CLI_OPT_PROGRAM,
	OPT_BATCH,
	OPT_REPEAT,
	OPT_TAG,
	OPT_NAME,
	OPT_SHARD,
	OPT_FROM_DB,
	OPT_CHECK,
	OPT_LIST,
	OPT_BACKFILL,
	OPT_PROGRESS,
	OPT_VERSIONS
};

static const char usage[] =
    "usage: bm-ingest [-q] [-v] [-m model] [--profile name] "
    "[--batch name]\n"
    "                 [--repeat N] [--tag tag] [--name glob] "
    "[--shard K/N]\n"
    "                 [--from-db | --check | --list | --backfill |\n"
    "                 --versions id] [--no-db]\n"
    "                 [--db path] [--config path] [--progress] "
    "[path ...]\n";
static const struct bm_cli_opt options[] = {
	{ "-m, --model MODEL", "a model reference (repeatable)" },
	{ "--profile NAME", "the models, repeat and tags of a bm.yml profile" },
	{ "--batch NAME", "likewise for a batch" },
	{ "--repeat N", "runs per case, overriding the benchmark's repeat" },
	{ "--tag TAG", "only benchmarks with this tag (repeatable: any)" },
	{ "--name GLOB", "only benchmarks whose name matches GLOB" },
	{ "--shard K/N", "only the cases of shard K of N (1-based)" },
	{ "--from-db", "benchmarks from the catalog, not from the files" },
	{ "--check", "validate only: no output, no database writes" },
	{ "--list", "a benchmark record per benchmark instead of cases" },
	{ "--backfill", "fill results.benchmark_id where it is missing" },
	{ "--progress", "the progress line even when stderr is no terminal" },
	BM_CLI_HELP_NO_DB, BM_CLI_HELP_DB, BM_CLI_HELP_CONFIG,
	BM_CLI_HELP_QUIET, BM_CLI_HELP_VERBOSE, BM_CLI_HELP_HELP,
	BM_CLI_HELP_VERSION, BM_CLI_HELP_END
};

static const struct option longopts[] = {
	BM_CLI_LONGOPTS,
	{ "model", required_argument, NULL, 'm' },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "from-db", no_argument, NULL, OPT_FROM_DB },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "backfill", no_argument, NULL, OPT_BACKFILL },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "versions", required_argument, NULL, OPT_VERSIONS },
	{ NULL, 0, NULL, 0 }
};

struct ingest {
	struct bm_config *config;
	char **models;			/* -m, --profile or --batch */
	size_t nmodels;
	char **tags;			/* --tag and the batch's tags */
	size_t ntags;
	const char *glob;		/* --name */
	long repeat;			/* 0: the benchmark's own */
	unsigned long shard_k, shard_n;	/* 0-based K; N = 0: none */
	const char *shard;		/* --shard as given */
	int from_db, check, list, cases;
	struct bm_catalog *cat;		/* NULL: --no-db or --check */
	struct bm_db *db;
	const char *dbpath;		/* to create at the first write */
	struct bm_map *seen;		/* id -> struct first */
	long nvalid, nnew, nupdated, nunchanged, ninvalid;
	long nomodel;			/* valid benchmarks without a model */
	long nretired;			/* gone from the paths read */
	struct scope *scope;		/* what this run read */
	long ntagged, nnamed, nselected;	/* by --tag, --name, both */
	long long ncases, nexpanded;	/* in our shard, in all */
	struct bm_reader reader;	/* the files, one after another */
	struct bm_buf held;		/* lines waiting for a commit */
	double held_since;		/* ms: the first of them */
	int bad;			/* this document had a problem */
	int werr;			/* writing stdout failed */
};

/* Lines held for the catalog at most (bytes): then it commits. */
#define HELD_MAX (1 << 20)

/* Print a problem of a document and mark it invalid. */
static void
report(void *arg, const struct bm_error *e)
{
	struct ingest *in = arg;

	bm_error_print(e);
	in->bad = 1;
}

/* What the walk skipped (a directory cycle, a FIFO): a warning. */
static void
skipped(void *arg, const struct bm_error *e)
{
	(void)arg;
	bm_warnf("%s", bm_error_str(e));
}

static void
push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* --profile or --batch: its models, repeat and tags, or exit 2. */
static void
use_selection(struct ingest *in, const char *kind, const char *name)
{
	const struct bm_selection *s;
	const struct bm_selection *all;
	const char **names;
	char *hint;
	size_t i, n;

	s = *kind == 'p' ? bm_config_profile(in->config, name) :
	    bm_config_batch(in->config, name);
	if (!s) {
		all = *kind == 'p' ? in->config->profiles : in->config->batches;
		n = *kind == 'p' ? in->config->nprofiles :
		    in->config->nbatches;
		names = xcalloc(n + 1, sizeof(*names));
		for (i = 0; i < n; i++)
			names[i] = all[i].name;
		hint = bm_suggest_hint(name, names);
		free(names);
		bm_errorf("unknown %s '%s'%s", kind, name, hint);
		free(hint);
		exit(2);
	}
	for (i = 0; i < s->nmodels; i++)
		push(&in->models, &in->nmodels, s->models[i]);
	for (i = 0; i < s->ntags; i++)
		push(&in->tags, &in->ntags, s->tags[i]);
	if (!in->repeat)
		in->repeat = s->repeat;
}

static void
parse_shard(struct ingest *in, const char *arg)
{
	const char *slash = strchr(arg, '/');
	char *k = slash ? xstrndup(arg, (size_t)(slash - arg)) : NULL;
	long kk, nn;

	if (!slash || bm_cli_parse_long(k, 1, 1L << 30, &kk) < 0 ||
	    bm_cli_parse_long(slash + 1, 1, 1L << 30, &nn) < 0 || kk > nn) {
		free(k);
		bm_die(2, "--shard: invalid shard '%s' (want K/N with "
		    "1 <= K <= N)", arg);
	}
	free(k);
	in->shard = arg;
	in->shard_k = (unsigned long)kk - 1;
	in->shard_n = (unsigned long)nn;
}

/* Does the case fall in our shard?  First 8 hex digits mod N. */
static int
in_shard(const struct ingest *in, const char *case_id)
{
	char head[9];

	if (!in->shard_n)
		return 1;
	memcpy(head, case_id, 8);
	head[8] = '\0';
	return strtoul(head, NULL, 16) % in->shard_n == in->shard_k;
}

/*
 * Commit the catalog, then print the lines that waited for it.  A
 * catalog that cannot be written ends the output here: exit 2, naming
 * why, with no line printed for a benchmark it does not hold.
 */
static void
release(struct ingest *in)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *p, *end, *nl;

	if (bm_catalog_flush(in->cat, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
	p = in->held.s;
	end = p + in->held.len;
	for (; p < end && !in->werr; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (bm_jsonl_write_raw(stdout, p, (size_t)(nl - p)) < 0)
			in->werr = 1;
	}
	bm_buf_reset(&in->held);
}

/*
 * Write one record line.  While the catalog has writes not yet
 * committed, lines are held (in order) until it commits them: a case is
 * printed only once its benchmark is stored.
 */
static int
output(struct ingest *in, const char *json, size_t len)
{
	if (in->werr)
		return 1;
	if (in->cat && (in->held.len || bm_catalog_dirty(in->cat))) {
		if (!in->held.len)
			in->held_since = bm_clock_ms();
		bm_buf_add(&in->held, json, len);
		bm_buf_addc(&in->held, '\n');
		if (in->held.len >= HELD_MAX)
			release(in);
		return in->werr;
	}
	if (bm_jsonl_write_raw(stdout, json, len) < 0)
		in->werr = 1;
	return in->werr;
}

static int
emit_case(void *arg, const struct bm_case *c)
{
	struct ingest *in = arg;

	in->nexpanded++;
	if (!in_shard(in, c->case_id))
		return 0;
	in->ncases++;
	return output(in, c->json, c->len);
}

/* Borrowed copies of n model references, NULL-ended. */
static const char **
borrow(char *const *models, size_t n)
{
	const char **v = xcalloc(n + 1, sizeof(*v));
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = models[i];
	return v;
}

/* Do a and b name the same model (as written, or once resolved)? */
static int
same_model(const struct ingest *in, const char *a, const char *b)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_target ta, tb;
	int same;

	if (strcmp(a, b) == 0)
		return 1;
	same = bm_config_resolve(in->config, a, &ta, &e) == 0 &&
	    bm_config_resolve(in->config, b, &tb, &e) == 0 &&
	    ta.provider == tb.provider &&
	    strcmp(ta.api_model, tb.api_model) == 0;
	bm_error_clear(&e);
	return same;
}

/*
 * The models for b's cases (DESIGN.md §10): those asked for (-m,
 * --profile, --batch or bm.yml's default_profile), restricted to b's
 * models: when it has any; none asked for, b's models: (checked against
 * bm.yml).  0 with *out (possibly none: b's models: excludes them all);
 * 1 when there is no model at all (told once, at the end); -1 with a
 * problem reported, or without doc (a stored benchmark: no positions)
 * nothing reported.
 */
static int
models_for(struct ingest *in, struct bm_yaml_doc *doc,
    const struct bm_bench *b, const char ***out, size_t *n)
{
	struct bm_error e = BM_ERROR_INIT;
	const cJSON *list;
	struct bm_target t;
	const char **v, **own;
	char *msg;
	size_t i, k, nown;

	*out = NULL;
	*n = 0;
	if (in->nmodels) {
		own = bm_bench_models(b, &nown);
		v = borrow(in->models, in->nmodels);
		for (i = 0; i < in->nmodels; i++) {
			for (k = 0; k < nown; k++)
				if (same_model(in, in->models[i], own[k]))
					break;
			if (!nown || k < nown)
				v[(*n)++] = in->models[i];
		}
		v[*n] = NULL;
		free(own);
		*out = v;
		return 0;
	}
	v = bm_bench_models(b, n);
	if (!*n) {
		free(v);
		return 1;
	}
	list = cJSON_GetObjectItemCaseSensitive(b->root, "models");
	for (i = 0; i < *n; i++) {
		if (bm_config_resolve(in->config, v[i], &t, &e) == 0)
			continue;
		if (!doc)
			break;
		msg = xstrdup(e.msg);
		bm_yaml_error(&e, doc, b->path, cJSON_IsArray(list) ?
		    cJSON_GetArrayItem(list, (int)i) : list, 0, "models: %s",
		    msg);
		free(msg);
		report(in, &e);
	}
	bm_error_clear(&e);
	if (in->bad || i < *n) {
		free(v);
		return -1;
	}
	*out = v;
	return 0;
}

/* Where b's prompt (or sequence, or variants) starts in doc. */
static void
prompt_at(const struct bm_yaml_doc *doc, const struct bm_bench *b,
    long *line, long *col)
{
	const char *keys[] = { "prompt", "sequence", "variants" };
	const cJSON *at = NULL;
	size_t i;

	for (i = 0; i < 3 && !at; i++)
		at = cJSON_GetObjectItemCaseSensitive(b->root, keys[i]);
	if (!at || bm_yaml_where(doc, at, 1, line, col) < 0) {
		*line = b->line;
		*col = 1;
	}
}

/*
 * "path:line:col" of the prompt of document index of path, for a stored
 * benchmark that was taken without reading its YAML.
 */
static char *
locate(const char *path, int index)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *doc = NULL;
	struct bm_bench *b = NULL;
	struct bm_yaml *y;
	const cJSON *where;
	long line = 1, col = 1;
	char *data;
	size_t len;

	if (bm_read_file(path, &data, &len, &e) < 0) {
		bm_error_clear(&e);
		return xasprintf("%s:1:1", path);
	}
	y = bm_yaml_open(data, len, path);
	while (bm_yaml_next(y, &doc, &e) == 1 && doc->index < index) {
		bm_yaml_doc_free(doc);
		doc = NULL;
	}
	if (doc && (b = bm_bench_identify(doc, path, NULL, &where, &e)))
		prompt_at(doc, b, &line, &col);
	bm_bench_free(b);
	bm_yaml_doc_free(doc);
	bm_yaml_close(y);
	bm_error_clear(&e);
	free(data);
	return xasprintf("%s:%ld:%ld", path, line, col);
}

/* The first benchmark of an id, for the message about a second one. */
struct first {
	char *path;
	long line, col;		/* of its prompt; 0: not known, then */
	int doc;		/*   locate() document doc of path */
};

static void
first_free(void *p)
{
	struct first *f = p;

	free(f->path);
	free(f);
}

/*
 * A second document with the same prompt: name both places.  doc is NULL
 * for a stored benchmark, which takes_stored() lets through only when it
 * is first.
 */
static int
duplicate(struct ingest *in, struct bm_yaml_doc *doc, struct bm_bench *b)
{
	struct bm_error e = BM_ERROR_INIT;
	struct first *f = bm_map_get(in->seen, b->id);
	char *where;
	long line, col;

	if (!f) {
		f = xcalloc(1, sizeof(*f));
		f->path = xstrdup(b->path);
		f->doc = b->doc;
		if (doc)
			prompt_at(doc, b, &f->line, &f->col);
		bm_map_put(in->seen, b->id, f);
		return 0;
	}
	where = f->line ? xasprintf("%s:%ld:%ld", f->path, f->line, f->col) :
	    locate(f->path, f->doc);
	prompt_at(doc, b, &line, &col);
	bm_error_set(&e, b->path, line, col, "duplicate prompt: same "
	    "benchmark id %s as %s", b->id, where);
	free(where);
	report(in, &e);
	bm_error_clear(&e);
	return 1;
}

/* Open (creating it) the database and its catalog, or exit 2. */
static void
open_catalog(struct ingest *in)
{
	struct bm_error e = BM_ERROR_INIT;

	in->db = bm_db_open(in->dbpath, &e);
	in->dbpath = NULL;
	if (!in->db || !(in->cat = bm_catalog_open(in->db, &e))) {
		bm_error_print(&e);
		exit(2);
	}
}

/* b's benchmark record (--list). */
static void
list(struct ingest *in, const struct bm_bench *b)
{
	static struct bm_buf rec;

	bm_bench_record(&rec, b);
	(void)output(in, rec.s, rec.len);
}

/*
 * Can stored benchmark b be taken as it is?  Not when it would have a
 * problem to report (a prompt seen before, a model bm.yml does not
 * know): that needs its YAML, for the positions.
 */
static int
takes_stored(struct ingest *in, const struct bm_bench *b)
{
	const char **models;
	size_t n;

	if (bm_map_get(in->seen, b->id))
		return 0;
	if (in->cases && models_for(in, NULL, b, &models, &n) < 0)
		return 0;
	if (in->cases)
		free(models);
	return 1;
}

/*
 * Catalog, selection, output for one valid benchmark.  doc is NULL for a
 * stored benchmark that takes_stored() let through: it has nothing to
 * report.
 */
static void
take(struct ingest *in, struct bm_yaml_doc *doc, struct bm_bench *b,
    int stored)
{
	struct bm_error e = BM_ERROR_INIT;
	const char **models = NULL;
	size_t nmodels = 0;
	int st, mrc = 0, tag, name;

	if (duplicate(in, doc, b))
		return;
	if (in->cases) {
		mrc = models_for(in, doc, b, &models, &nmodels);
		if (mrc < 0)
			return;
	}
	in->nvalid++;
	if (mrc == 1) {
		/* Nothing to run it on: neither stored nor written. */
		in->nomodel++;
		return;
	}
	if (in->dbpath)
		open_catalog(in);
	/* The catalog first (it takes b's prompt and text): see output(). */
	st = stored ? BM_CATALOG_UNCHANGED : in->cat ?
	    bm_catalog_put(in->cat, b, &e) : -2;
	if (st == -1) {
		bm_error_print(&e);
		exit(2);
	}
	in->nnew += st == BM_CATALOG_NEW;
	in->nupdated += st == BM_CATALOG_UPDATED;
	tag = bm_bench_has_tag(b, in->tags, in->ntags);
	name = !in->glob || fnmatch(in->glob, b->name, 0) == 0;
	in->ntagged += tag;
	in->nnamed += name;
	in->nselected += tag && name;
	if (!in->check && !in->werr && tag && name) {
		if (in->list)
			list(in, b);
		else
			bm_bench_cases(b, models, nmodels,
			    in->repeat ? in->repeat : b->repeat, emit_case,
			    in);
	}
	free(models);
	/* Held lines wait at most as long as a catalog transaction. */
	if (in->held.len &&
	    bm_clock_ms() - in->held_since >= BM_CATALOG_TX_MS)
		release(in);
	in->nunchanged += st == BM_CATALOG_UNCHANGED;
}

/*
 * Every document of data (from path).  name, when set, is the stored
 * name of a catalog document, whose index in its file is doc_index.
 */
static void
documents(struct ingest *in, const char *path, const char *data, size_t len,
    const char *name, int doc_index)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct bm_yaml *y = bm_yaml_open(data, len, shown);
	struct bm_yaml_doc *doc;
	struct bm_bench *b;
	char *dflt;
	int rc, ndocs = 0;

	for (;;) {
		rc = bm_yaml_next(y, &doc, &e);
		if (rc == 0)
			break;
		in->bad = 0;
		if (rc < 0) {
			report(in, &e);
			in->ninvalid++;
			continue;
		}
		ndocs++;
		dflt = name || strcmp(path, "-") != 0 ? NULL :
		    bm_bench_default_name(path, doc->index);
		rc = bm_check_bench(doc, shown, name ? name : dflt, &b,
		    report, in);
		free(dflt);
		if (rc == 0) {
			if (name)
				b->doc = doc_index;
			take(in, doc, b, name != NULL);
			bm_bench_free(b);
		}
		in->ninvalid += in->bad;
		bm_yaml_doc_free(doc);
	}
	if (ndocs == 0 && !e.msg) {
		bm_error_set(&e, shown, 1, 1, "empty file");
		report(in, &e);
		in->ninvalid++;
	}
	bm_error_clear(&e);
	bm_yaml_close(y);
}

/* Binary junk: a NUL byte, reported where it is. */
static int
binary(struct ingest *in, const char *path, const char *data, size_t len)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *nul = memchr(data, '\0', len), *p, *bol = data;
	long line = 1;

	if (!nul)
		return 0;
	for (p = data; p < nul; p++)
		if (*p == '\n') {
			line++;
			bol = p + 1;
		}
	bm_error_set(&e, strcmp(path, "-") == 0 ? "<stdin>" : path, line,
	    (long)(nul - bol) + 1, "binary data (NUL byte), not YAML");
	report(in, &e);
	bm_error_clear(&e);
	in->ninvalid++;
	return 1;
}

/*
 * A stored benchmark from its checked tree, without YAML; 0 when it must
 * be read from its YAML after all (to report a problem at its position).
 */
static int
stored(struct ingest *in, const struct bm_catalog_doc *d)
{
	struct bm_bench *b = bm_bench_stored(d->tree, d->id, d->sha256,
	    d->name, d->path, d->doc);
	int ok = b && takes_stored(in, b);

	if (ok) {
		in->bad = 0;
		take(in, NULL, b, 1);
	}
	bm_bench_free(b);
	return ok;
}

static int
stored_doc(void *arg, const struct bm_catalog_doc *d)
{
	struct ingest *in = arg;

	if (!stored(in, d))
		documents(in, d->path, d->content, strlen(d->content),
		    d->name, d->doc);
	return in->werr;
}

/*
 * A file that is exactly one stored document, unchanged since it was
 * checked (same content_sha256, same place): taken from the catalog.
 */
static int
unchanged(struct ingest *in, const char *path, const char *data, size_t len)
{
	const struct bm_catalog_doc *d;

	if (!in->cat || strcmp(path, "-") == 0)
		return 0;
	d = bm_catalog_file(in->cat, path, data, len);
	return d ? stored(in, d) : 0;
}

/* One file (regular: known to be one), read ahead by pf, else here. */
static void
file(struct ingest *in, const char *path, int regular,
    struct bm_prefetch *pf)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *data;
	size_t len;
	int rc;

	if (in->from_db && in->cat && bm_catalog_has_path(in->cat, path)) {
		if (bm_catalog_docs(in->cat, path, stored_doc, in, &e) < 0) {
			bm_error_print(&e);
			exit(2);
		}
		return;
	}
	rc = pf ? bm_prefetch_next(pf, &data, &len, &e) :
	    bm_reader_read(&in->reader, path, regular, &data, &len, &e);
	if (rc < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		in->ninvalid++;
		return;
	}
	if (!binary(in, path, data, len) && !unchanged(in, path, data, len))
		documents(in, path, data, len, NULL, 0);
}

/* "\rbm-ingest: 1234/10000 files" on a terminal, at most every 100 ms. */
static void
progress(int on, double start, size_t i, size_t n)
{
	static double last;
	double now;

	if (!on)
		return;
	now = bm_clock_ms();
	if (i == n) {
		if (last)
			fputs("\r\033[K", stderr);
		return;
	}
	if (now - start < 1000 || now - last < 100)
		return;
	last = now;
	fprintf(stderr, "\r%s: %zu/%zu files", bm_prog(), i, n);
}

static void
summary(const struct ingest *in)
{
	struct bm_buf b = BM_BUF_INIT;

	/* "6 valid benchmarks, 2 invalid": the 6 are apart from the 2. */
	bm_buf_addf(&b, "%ld valid benchmark%s", in->nvalid,
	    in->nvalid == 1 ? "" : "s");
	if (in->cat && !in->from_db)
		bm_buf_addf(&b, " (%ld new, %ld updated, %ld unchanged%s",
		    in->nnew, in->nupdated, in->nunchanged,
		    in->nretired ? "" : ")");
	if (in->nretired)
		bm_buf_addf(&b, ", %ld retired)", in->nretired);
	bm_buf_addf(&b, ", %ld invalid", in->ninvalid);
	if (in->cases)
		bm_buf_addf(&b, "; %lld case%s", in->ncases,
		    in->ncases == 1 ? "" : "s");
	bm_notef("%s", bm_buf_str(&b));
	bm_buf_free(&b);
}

/*
 * A filter that selects nothing, or no model anywhere: told once each.
 * The exit status they call for: 2 when no benchmark had a model, 1 when
 * a filter selected nothing (as grep), else 0.
 */
static int
nothing(const struct ingest *in)
{
	struct bm_buf f = BM_BUF_INIT;
	size_t i;
	int rc = 0, tags, name, both;

	if (in->nomodel) {
		bm_errorf("no model: give -m, --profile or --batch, or "
		    "models: in the benchmarks");
		rc = in->nomodel == in->nvalid ? 2 : 1;
	}
	if (in->check || in->nvalid == in->nomodel)
		return rc;
	/* The filter that selects nothing alone, else all of them. */
	tags = in->ntags && !in->ntagged;
	name = in->glob && !in->nnamed;
	both = !tags && !name;
	for (i = 0; i < in->ntags && (tags || both); i++)
		bm_buf_addf(&f, "%s--tag %s", i ? " " : "", in->tags[i]);
	if (in->glob && (name || both))
		bm_buf_addf(&f, "%s--name %s", f.len ? " " : "", in->glob);
	if (!in->nselected && f.len) {
		bm_warnf("%s: no benchmark selected", bm_buf_str(&f));
		rc = rc ? rc : 1;
	} else if (in->nexpanded && !in->ncases) {
		bm_warnf("--shard %s: no case selected", in->shard);
		rc = rc ? rc : 1;
	}
	bm_buf_free(&f);
	return rc;
}

/* One stored version as a benchmark record, with its first_seen_at. */
static int
version_record(void *arg, const struct bm_catalog_version *v)
{
	struct ingest *in = arg;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *doc = NULL;
	struct bm_bench *b = NULL;
	struct bm_yaml *y;
	const cJSON *where;
	cJSON *rec;

	y = bm_yaml_open(v->content, strlen(v->content), v->path);
	if (bm_yaml_next(y, &doc, &e) == 1)
		b = bm_bench_identify(doc, v->path, v->name, &where, &e);
	if (b) {
		b->doc = v->doc;
		memcpy(b->sha256, v->sha256, sizeof(b->sha256) - 1);
		rec = bm_bench_record_tree(b);
		cJSON_AddStringToObject(rec, "first_seen_at",
		    v->first_seen_at);
		if (v->retired_at)
			cJSON_AddStringToObject(rec, "retired_at",
			    v->retired_at);
		else
			cJSON_AddNullToObject(rec, "retired_at");
		if (bm_jsonl_write(stdout, rec) < 0)
			in->werr = 1;
		cJSON_Delete(rec);
	} else {
		bm_errorf("%s: version %.12s: stored YAML unreadable", v->id,
		    v->sha256);
		in->ninvalid++;
	}
	bm_bench_free(b);
	bm_yaml_doc_free(doc);
	bm_yaml_close(y);
	bm_error_clear(&e);
	return in->werr;
}

/* --versions KEY: every stored version of a benchmark, oldest first. */
static void
list_versions(struct ingest *in, const char *db, const char *key)
{
	struct bm_error e = BM_ERROR_INIT;

	if (!in->cat && access(db, F_OK) < 0)
		bm_die(2, "%s: no such benchmark", key);
	if (!in->cat)
		open_catalog(in);
	if (bm_catalog_versions(in->cat, key, version_record, in, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
}

/* The files read by this run and the directories walked, for retire. */
struct scope {
	struct bm_map *read;		/* path -> &clean or &tainted */
	char **dirs;			/* "dir/" of each directory walked */
	size_t ndirs;
};

static int clean, tainted;

/*
 * Is d's document gone: its file was read whole without a problem and
 * no longer holds it, or its file is no longer under a directory walked
 * without a problem?
 */
static int
gone(void *arg, const struct bm_catalog_doc *d)
{
	struct ingest *in = arg;
	const struct scope *sc = in->scope;
	const int *state = bm_map_get(sc->read, d->path);
	size_t i;

	if (bm_map_get(in->seen, d->id))
		return 0;
	if (state)
		return state == &clean;
	for (i = 0; i < sc->ndirs; i++)
		if (strncmp(d->path, sc->dirs[i], strlen(sc->dirs[i])) == 0)
			return 1;
	return 0;
}

/* Retire what is gone from the paths read: see bm_catalog_retire. */
static void
retire(struct ingest *in)
{
	struct bm_error e = BM_ERROR_INIT;

	if (!in->cat || in->from_db || in->werr)
		return;
	if (bm_catalog_retire(in->cat, gone, in, &in->nretired, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
}

static void
backfill(struct ingest *in)
{
	struct bm_error e = BM_ERROR_INIT;
	long filled, unmatched;

	if (bm_catalog_backfill(in->cat, &filled, &unmatched, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
	bm_notef("backfill: %ld rows filled, %ld not matched", filled,
	    unmatched);
}

int
main(int argc, char **argv)
{
	/* Static: what an early exit leaves is still reachable, not leaked. */
	static struct ingest in;
	static struct bm_error e = BM_ERROR_INIT;
	static struct bm_files files = { 0 };
	struct bm_cli cli;
	struct bm_target t;
	struct bm_prefetch *pf;
	const char *profile = NULL, *batch = NULL, *versions = NULL;
	int opt, bfill = 0, bar = isatty(2), status = 0;
	static struct scope scope;
	const char *arg;
	struct stat st;
	long bad;
	double start = bm_clock_ms();
	size_t i;

	memset(&in, 0, sizeof(in));
	in.reader.dirfd = -1;
	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	while ((opt = getopt_long(argc, argv, BM_CLI_SHORTOPTS "m:", longopts,
	    NULL)) != -1) {
		switch (opt) {
		case 'm': push(&in.models, &in.nmodels, optarg); break;
		case OPT_PROFILE: profile = optarg; break;
		case OPT_BATCH: batch = optarg; break;
		case OPT_REPEAT:
			in.repeat = bm_cli_long("--repeat", optarg, 1, 1000000);
			break;
		case OPT_TAG: push(&in.tags, &in.ntags, optarg); break;
		case OPT_NAME: in.glob = optarg; break;
		case OPT_SHARD: parse_shard(&in, optarg); break;
		case OPT_FROM_DB: in.from_db = 1; break;
		case OPT_CHECK: in.check = 1; break;
		case OPT_LIST: in.list = 1; break;
		case OPT_BACKFILL: bfill = 1; break;
		case OPT_PROGRESS: bar = 1; break;
		case OPT_VERSIONS: versions = optarg; break;
		default: bm_cli_option(&cli, opt, optarg); break;
		}
	}
	bm_cli_finish(&cli);
	if (in.check + in.list + bfill + (versions != NULL) > 1 ||
	    (in.from_db && (in.check || bfill || versions)))
		bm_cli_usage_error(&cli, "--check, --list, --backfill, "
		    "--versions and --from-db: give one (--list may go with "
		    "--from-db)");
	if (cli.no_db && (in.from_db || bfill || versions))
		bm_cli_usage_error(&cli, "--no-db excludes --from-db, "
		    "--backfill and --versions");
	in.cases = !in.check && !in.list && !bfill && !versions;

	in.config = bm_config_load(cli.config, &e);
	if (!in.config) {
		bm_error_print(&e);
		return 2;
	}
	if (profile)
		use_selection(&in, "profile", profile);
	if (batch)
		use_selection(&in, "batch", batch);
	/* bm.yml's default_profile stands in for a missing --profile. */
	if (!profile && !batch && !in.nmodels && in.config->default_profile)
		use_selection(&in, "profile", in.config->default_profile);
	for (i = 0; i < in.nmodels; i++)
		if (bm_config_resolve(in.config, in.models[i], &t, &e) < 0) {
			bm_error_print(&e);
			return 2;
		}

	if (!cli.no_db && !in.check) {
		/* A run that stores nothing creates no database. */
		in.dbpath = cli.db;
		if (in.from_db || bfill || access(cli.db, F_OK) == 0)
			open_catalog(&in);
	}
	if (bfill) {
		backfill(&in);
		goto out;
	}
	if (versions) {
		list_versions(&in, cli.db, versions);
		goto out;
	}

	in.seen = bm_map_new();
	files.warn = skipped;
	if (in.from_db && optind == argc) {
		/* The whole catalog. */
		if (bm_catalog_docs(in.cat, NULL, stored_doc, &in, &e) < 0) {
			bm_error_print(&e);
			return 2;
		}
	} else {
		in.scope = &scope;
		scope.read = bm_map_new();
		for (i = optind; i < (size_t)argc || i == (size_t)optind; i++) {
			arg = i < (size_t)argc ? argv[i] : "benchmarks";
			if (bm_walk(arg, &files, &e) < 0) {
				bm_error_print(&e);
				bm_error_clear(&e);
				in.ninvalid++;
			} else if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
				/* Walked whole: what is not found is gone. */
				scope.dirs = xreallocarray(scope.dirs,
				    scope.ndirs + 1, sizeof(*scope.dirs));
				scope.dirs[scope.ndirs++] = xasprintf("%s%s",
				    arg, strchr(arg, '\0')[-1] == '/' ? "" :
				    "/");
			}
			if (i >= (size_t)argc)
				break;
		}
		/* --from-db reads only what the catalog lacks. */
		pf = in.from_db ? NULL : bm_prefetch_start(&files);
		for (i = 0; i < files.n && !in.werr; i++) {
			progress(bar, start, i, files.n);
			bad = in.ninvalid;
			file(&in, files.paths[i], files.regular[i], pf);
			bm_map_put(scope.read, files.paths[i],
			    bad == in.ninvalid ? &clean : &tainted);
		}
		retire(&in);
		bm_prefetch_free(pf);
		progress(bar, start, files.n, files.n);
	}
	if (in.cat)
		release(&in);
	status = nothing(&in);
	summary(&in);
out:
	if (bm_jsonl_finish(stdout) < 0 || in.werr) {
		bm_errorf("stdout: write error");
		return 2;
	}
	bm_catalog_close(in.cat);
	if (in.db && bm_db_close(in.db, &e) < 0) {
		bm_error_print(&e);
		return 2;
	}
	bm_map_free(in.seen, first_free);
	bm_map_free(scope.read, NULL);
	for (i = 0; i < scope.ndirs; i++)
		free(scope.dirs[i]);
	free(scope.dirs);
	bm_buf_free(&in.held);
	bm_files_free(&files);
	bm_reader_free(&in.reader);
	for (i = 0; i < in.nmodels; i++)
		free(in.models[i]);
	for (i = 0; i < in.ntags; i++)
		free(in.tags[i]);
	free(in.models);
	free(in.tags);
	bm_config_free(in.config);
	return status > 1 || in.ninvalid == 0 ? status : 1;
}
