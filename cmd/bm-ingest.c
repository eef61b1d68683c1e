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
#include "select.h"
#include "walk.h"
#include "xalloc.h"
#include "yaml.h"

enum { OPT_TAG = BM_CLI_OPT_PROGRAM, OPT_SHARD };

static const char usage[] =
    "usage: bm-ingest [-q] [-v] [-m model] [--profile name] "
    "[--batch name]\n"
    "                 [--repeat N] [--tag tag] [--name glob] "
    "[--shard K/N]\n"
    "                 [--from-db | --check | --list | --backfill |\n"
    "                 --versions id] [--no-db]\n"
    "                 [--db path] [--config path] [--progress] "
    "[path ...]\n";
struct ingest {
	struct bm_config *config;
	struct bm_select sel;		/* models, --tag, --name, --shard */
	const char *shard;		/* --shard as given */
	int from_db, check, list, cases;
	struct bm_catalog *cat;		/* NULL: --no-db or --check */
	struct bm_db *db;
	const char *dbpath;		/* to create at the first write */
	struct bm_map *seen;		/* id -> struct first */
	long nvalid, nnew, nupdated, nunchanged, ninvalid;
	long nomodel;			/* valid benchmarks without a model */
	long nretired;			/* gone from the paths read */
	struct bm_catalog_scope *scope;	/* what this run read */
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

/* --profile or --batch: its models, repeat and tags, or exit 2. */
static void
use_selection(struct ingest *in, const char *kind, const char *name)
{
	struct bm_error e = BM_ERROR_INIT;

	if (bm_select_use(&in->sel, kind, name, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
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
	if (!bm_select_in_shard(&in->sel, c->case_id))
		return 0;
	in->ncases++;
	return output(in, c->json, c->len);
}

/*
 * A benchmark to take, and its YAML for the positions of its problems:
 * doc when it was parsed; else (one taken from the catalog unchanged)
 * text, parsed again only when a message needs a position.
 */
struct source {
	struct bm_bench *b;
	struct bm_yaml_doc *doc;
	const char *text;
	size_t len;
	int stored;			/* b is the catalog's, unchanged */
	struct bm_bench *again;		/* b parsed again from text */
};

/* b's document, parsed, and the benchmark whose nodes it places. */
static const struct bm_yaml_doc *
where(struct source *src, const struct bm_bench **b)
{
	if (!src->doc && !src->again)
		src->again = bm_bench_reparse(src->b->path, src->text,
		    src->len, 0, &src->doc);
	*b = src->again ? src->again : src->b;
	return src->doc;
}

static void
source_free(struct source *src)
{
	if (src->again) {
		bm_bench_free(src->again);
		bm_yaml_doc_free(src->doc);
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
	struct bm_yaml_doc *doc;
	struct bm_bench *b;
	long line = 1, col = 1;
	char *data;
	size_t len;

	if (bm_read_file(path, &data, &len, &e) < 0) {
		bm_error_clear(&e);
		return xasprintf("%s:1:1", path);
	}
	if ((b = bm_bench_reparse(path, data, len, index, &doc))) {
		bm_bench_prompt_at(doc, b, &line, &col);
		bm_bench_free(b);
		bm_yaml_doc_free(doc);
	}
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

/* A second document with the same prompt: name both places. */
static int
duplicate(struct ingest *in, struct source *src)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_bench *b = src->b;
	struct first *f = bm_map_get(in->seen, b->id);
	const struct bm_yaml_doc *doc;
	const struct bm_bench *at;
	char *place;
	long line, col;

	if (!f) {
		/* Its place now if at hand, else when a second one comes. */
		f = xcalloc(1, sizeof(*f));
		f->path = xstrdup(b->path);
		f->doc = b->doc;
		if (src->doc)
			bm_bench_prompt_at(src->doc, b, &f->line, &f->col);
		bm_map_put(in->seen, b->id, f);
		return 0;
	}
	place = f->line ? xasprintf("%s:%ld:%ld", f->path, f->line, f->col) :
	    locate(f->path, f->doc);
	doc = where(src, &at);
	bm_bench_prompt_at(doc, at, &line, &col);
	bm_error_set(&e, b->path, line, col, "duplicate prompt: same "
	    "benchmark id %s as %s", b->id, place);
	free(place);
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

/* Catalog, selection, output for one valid benchmark. */
static void
take(struct ingest *in, struct source *src)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_bench *b = src->b;
	const struct bm_yaml_doc *doc;
	const struct bm_bench *at;
	const char **models = NULL;
	size_t nmodels = 0;
	int st, mrc = 0, tag, name;

	if (duplicate(in, src))
		return;
	if (in->cases) {
		mrc = bm_select_models(&in->sel, b, &models, &nmodels);
		if (mrc < 0) {
			doc = where(src, &at);
			bm_select_report_models(&in->sel, doc, at, report, in);
			return;
		}
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
	st = src->stored ? BM_CATALOG_UNCHANGED : in->cat ?
	    bm_catalog_put(in->cat, b, &e) : -2;
	if (st == -1) {
		bm_error_print(&e);
		exit(2);
	}
	in->nnew += st == BM_CATALOG_NEW;
	in->nupdated += st == BM_CATALOG_UPDATED;
	tag = bm_select_tagged(&in->sel, b);
	name = bm_select_named(&in->sel, b);
	in->ntagged += tag;
	in->nnamed += name;
	in->nselected += tag && name;
	if (!in->check && !in->werr && tag && name) {
		if (in->list)
			list(in, b);
		else
			bm_bench_cases(b, models, nmodels, in->sel.repeat ?
			    in->sel.repeat : b->repeat, emit_case, in);
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
	struct source src;
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
			src = (struct source){ .b = b, .doc = doc,
			    .stored = name != NULL };
			take(in, &src);
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

/* A benchmark taken from the catalog unchanged; text is its YAML. */
static void
stored(struct ingest *in, struct bm_bench *b, const char *text, size_t len)
{
	struct source src = { .b = b, .text = text, .len = len, .stored = 1 };

	in->bad = 0;
	take(in, &src);
	in->ninvalid += in->bad;
	source_free(&src);
	bm_bench_free(b);
}

static int
stored_doc(void *arg, const struct bm_catalog_doc *d)
{
	struct ingest *in = arg;
	struct bm_bench *b = bm_catalog_bench(d);
	size_t len = strlen(d->content);

	if (b)
		stored(in, b, d->content, len);
	else
		documents(in, d->path, d->content, len, d->name, d->doc);
	return in->werr;
}

/* One file (regular: known to be one), read ahead by pf, else here. */
static void
file(struct ingest *in, const char *path, int regular,
    struct bm_prefetch *pf)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_bench *b;
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
	if (binary(in, path, data, len))
		return;
	b = in->cat ? bm_catalog_file(in->cat, path, data, len) : NULL;
	if (b)
		stored(in, b, data, len);
	else
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
	tags = in->sel.ntags && !in->ntagged;
	name = in->sel.glob && !in->nnamed;
	both = !tags && !name;
	for (i = 0; i < in->sel.ntags && (tags || both); i++)
		bm_buf_addf(&f, "%s--tag %s", i ? " " : "", in->sel.tags[i]);
	if (in->sel.glob && (name || both))
		bm_buf_addf(&f, "%s--name %s", f.len ? " " : "",
		    in->sel.glob);
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

/* Is d's document gone from the paths read?  Not when it was taken. */
static int
gone(void *arg, const struct bm_catalog_doc *d)
{
	struct ingest *in = arg;

	return !bm_map_get(in->seen, d->id) &&
	    bm_catalog_scope_gone(in->scope, d);
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
	const struct bm_cli_opt options[] = {
		BM_OPT_KEY('m', "model", "MODEL",
		    "a model reference (repeatable)"),
		BM_OPT_STRING(0, "profile", "NAME", &profile,
		    "the models, repeat and tags of a bm.yml profile"),
		BM_OPT_STRING(0, "batch", "NAME", &batch,
		    "likewise for a batch"),
		BM_OPT_LONG(0, "repeat", "N", &in.sel.repeat, 1, 1000000,
		    "runs per case, overriding the benchmark's repeat"),
		BM_OPT_KEY(OPT_TAG, "tag", "TAG",
		    "only benchmarks with this tag (repeatable: any)"),
		BM_OPT_STRING(0, "name", "GLOB", &in.sel.glob,
		    "only benchmarks whose name matches GLOB"),
		BM_OPT_KEY(OPT_SHARD, "shard", "K/N",
		    "only the cases of shard K of N (1-based)"),
		BM_OPT_FLAG(0, "from-db", &in.from_db,
		    "benchmarks from the catalog, not from the files"),
		BM_OPT_FLAG(0, "check", &in.check,
		    "validate only: no output, no database writes"),
		BM_OPT_FLAG(0, "list", &in.list,
		    "a benchmark record per benchmark instead of cases"),
		BM_OPT_FLAG(0, "backfill", &bfill,
		    "fill results.benchmark_id where it is missing"),
		BM_OPT_STRING(0, "versions", "ID", &versions,
		    "a record per stored version of benchmark ID"),
		BM_OPT_PROGRESS(&bar),
		BM_OPT_ALL_COMMON, BM_OPT_END
	};
	const char *arg;
	struct stat st;
	long bad;
	double start = bm_clock_ms();
	size_t i;

	memset(&in, 0, sizeof(in));
	in.reader.dirfd = -1;
	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	while ((opt = bm_cli_next(&cli, argc, argv)) != -1) {
		if (opt == 'm') {
			bm_select_push(&in.sel.models, &in.sel.nmodels,
			    cli.arg);
		} else if (opt == OPT_TAG) {
			bm_select_push(&in.sel.tags, &in.sel.ntags, cli.arg);
		} else if (bm_select_shard(&in.sel, cli.arg, &e) < 0) {
			bm_error_print(&e);
			return 2;
		} else {
			in.shard = cli.arg;
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
	in.sel.config = in.config;
	if (!in.config) {
		bm_error_print(&e);
		return 2;
	}
	if (profile)
		use_selection(&in, "profile", profile);
	if (batch)
		use_selection(&in, "batch", batch);
	/* bm.yml's default_profile stands in for a missing --profile. */
	if (!profile && !batch && !in.sel.nmodels &&
	    in.config->default_profile)
		use_selection(&in, "profile", in.config->default_profile);
	for (i = 0; i < in.sel.nmodels; i++)
		if (bm_config_resolve(in.config, in.sel.models[i], &t,
		    &e) < 0) {
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
		in.scope = bm_catalog_scope_new();
		for (i = optind; i < (size_t)argc || i == (size_t)optind; i++) {
			arg = i < (size_t)argc ? argv[i] : "benchmarks";
			if (bm_walk(arg, &files, &e) < 0) {
				bm_error_print(&e);
				bm_error_clear(&e);
				in.ninvalid++;
			} else if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
				/* Walked whole: what is not found is gone. */
				bm_catalog_scope_dir(in.scope, arg);
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
			bm_catalog_scope_file(in.scope, files.paths[i],
			    bad == in.ninvalid);
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
	bm_catalog_scope_free(in.scope);
	bm_buf_free(&in.held);
	bm_files_free(&files);
	bm_reader_free(&in.reader);
	bm_select_free(&in.sel);
	bm_config_free(in.config);
	return status > 1 || in.ninvalid == 0 ? status : 1;
}
