/*
 * bm-hash: benchmark identities.
 *
 *   bm-hash [-t] [-c FILE] [-p TEXT] [FILE|DIR...]
 *
 * Writes a benchmark record per YAML document: its id (the MD5 of the
 * canonical prompt, DESIGN.md §3) and version (SHA-256 of the document's
 * text).  -t prints md5sum-style lines instead, -c verifies such a list.
 * It never opens the database: identity depends on the files alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bench.h"
#include "buf.h"
#include "cli.h"
#include "err.h"
#include "hash.h"
#include "jsonl.h"
#include "walk.h"
#include "xalloc.h"
#include "yaml.h"

static const char usage[] =
    "usage: bm-hash [-t] [-c FILE] [-p TEXT] [-q] [-v] [FILE|DIR...]\n";
static int tflag;		/* md5sum-style lines */
static const char *cflag, *pflag;
static const struct bm_cli_opt options[] = {
	BM_OPT_FLAG('t', "text", &tflag, "print md5sum-style lines: ID  PATH"),
	BM_OPT_STRING('c', "check", "FILE", &cflag,
	    "check the ids listed in FILE (- for stdin)"),
	BM_OPT_STRING('p', "prompt", "TEXT", &pflag,
	    "print the benchmark id of the prompt TEXT"),
	BM_OPT_QUIET, BM_OPT_VERBOSE, BM_OPT_HELP, BM_OPT_VERSION, BM_OPT_END
};

/* What -c needs of each document: its id, in order. */
typedef void (*doc_fn)(const char *id, void *arg);

/*
 * Hash every document of the file path holding data[0..len): records or
 * -t lines on stdout (the path in the second column for every document,
 * as md5sum(1) has it), or each id to fn.  0, or -1 when a document was
 * bad (already reported; the documents before a syntax error are still
 * hashed).
 */
static int
hash_text(const char *path, const char *data, size_t len, doc_fn fn,
    void *arg)
{
	struct bm_error e = BM_ERROR_INIT;
	const char *shown = strcmp(path, "-") ? path : "<stdin>";
	struct bm_yaml_doc *doc;
	struct bm_bench *b = NULL;
	struct bm_yaml *y;
	const cJSON *where;
	char id[BM_HASH_MD5_LEN + 1], *msg;
	int rc = 0, r, bad;

	y = bm_yaml_open(data, len, shown);
	while ((r = bm_yaml_next(y, &doc, &e)) != 0) {
		if (r < 0) {
			bm_error_print(&e);
			rc = -1;
			continue;
		}
		/* -t and -c need only the id, records the whole identity. */
		if (fn || tflag)
			bad = bm_hash_benchmark_id(doc->root, id, &where,
			    &e) < 0;
		else
			bad = !(b = bm_bench_identify(doc, path, NULL, &where,
			    &e));
		if (bad) {
			msg = xstrdup(e.msg);
			bm_yaml_error(&e, doc, shown, where, 0, "%s", msg);
			bm_error_print(&e);
			free(msg);
			rc = -1;
		} else if (fn) {
			fn(id, arg);
		} else if (tflag) {
			fputs(id, stdout);
			fputs("  ", stdout);
			fputs(path, stdout);
			putchar('\n');
		} else if (bm_bench_write_record(stdout, b) < 0) {
			bm_die(2, "stdout: %s", strerror(errno));
		}
		bm_bench_free(b);
		b = NULL;
		bm_yaml_doc_free(doc);
	}
	bm_error_clear(&e);
	bm_yaml_close(y);
	return rc;
}

/*
 * Hash one file: read ahead by pf (the files operands name), else here.
 * 0, or -1 when it or a document was bad (already reported).
 */
static int
hash_file(const char *path, struct bm_prefetch *pf, doc_fn fn, void *arg)
{
	/* One buffer for every file read here. */
	static struct bm_reader reader = BM_READER_INIT;
	struct bm_error e = BM_ERROR_INIT;
	const char *data;
	size_t len;
	int rc;

	rc = pf ? bm_prefetch_next(pf, &data, &len, &e) :
	    bm_reader_read(&reader, path, 0, &data, &len, &e);
	if (rc < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		return -1;
	}
	return hash_text(path, data, len, fn, arg);
}

/* What the walk skipped (a directory cycle, a FIFO): a warning. */
static void
skipped(void *arg, const struct bm_error *e)
{
	(void)arg;
	bm_warnf("%s", bm_error_str(e));
}

/* The ids of one file's documents, in order, for -c. */
struct seen {
	char **ids;
	size_t n;
};

static void
remember(const char *id, void *arg)
{
	struct seen *s = arg;

	s->ids = xreallocarray(s->ids, s->n + 1, sizeof(char *));
	s->ids[s->n++] = xstrdup(id);
}

static void
forget(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->ids[i]);
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

/* Split "ID  PATH" into its parts. */
static int
parse_check_line(char *line, char **id, char **path)
{
	char *sep = strstr(line, "  ");

	if (!sep || sep - line != BM_HASH_MD5_LEN || !sep[2])
		return -1;
	*sep = '\0';
	*id = line;
	*path = sep + 2;
	return 0;
}

/*
 * -c FILE: verify each listed id, md5sum -c style.  The lines of one path
 * come together, one per document in order: the K-th line of a run of
 * lines naming a path checks its K-th document.  The exit status.
 */
static int
check(const char *list)
{
	FILE *f = strcmp(list, "-") == 0 ? stdin : fopen(list, "r");
	struct seen s = { 0 };
	char *line = NULL, *id, *path, *cached = NULL;
	size_t cap = 0, k = 0;
	ssize_t n;
	long lineno = 0, failed = 0, bad = 0;
	int ok;

	if (!f)
		bm_die(2, "%s: %s", list, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (parse_check_line(line, &id, &path) < 0) {
			bm_errorf("%s:%ld: improperly formatted line", list,
			    lineno);
			bad++;
			continue;
		}
		/* Lines of one file come together: hash it once. */
		if (!cached || strcmp(cached, path) != 0) {
			forget(&s);
			free(cached);
			cached = xstrdup(path);
			hash_file(path, NULL, remember, &s);
			k = 0;
		}
		ok = k < s.n && strcmp(s.ids[k], id) == 0;
		k++;
		printf("%s: %s\n", path, ok ? "OK" : "FAILED");
		failed += !ok;
	}
	forget(&s);
	free(cached);
	free(line);
	if (f != stdin)
		fclose(f);
	if (failed)
		bm_warnf("%ld computed id%s did not match", failed,
		    failed == 1 ? "" : "s");
	return failed || bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_files files = { 0 };
	struct bm_prefetch *pf;
	struct bm_cli cli;
	char id[BM_HASH_MD5_LEN + 1];
	int status = 0;
	size_t i;

	bm_hash_only();
	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	bm_cli_parse(&cli, argc, argv);
	argc -= optind;
	argv += optind;
	if ((cflag || pflag) && argc > 0)
		bm_cli_usage_error(&cli, "%s takes no FILE arguments",
		    cflag ? "-c" : "-p");
	if (cflag && pflag)
		bm_cli_usage_error(&cli, "-c and -p cannot be combined");

	if (pflag) {
		bm_hash_md5(pflag, strlen(pflag), id);
		printf("%s\n", id);
	} else if (cflag) {
		status = check(cflag);
	} else {
		files.warn = skipped;
		for (i = 0; i < (size_t)(argc ? argc : 1); i++) {
			if (bm_walk(argc ? argv[i] : "-", &files, &e) < 0) {
				bm_error_print(&e);
				status = 1;
			}
		}
		/* Reading on a thread of its own overlaps parsing. */
		pf = bm_prefetch_start(&files);
		for (i = 0; i < files.n; i++)
			if (hash_file(files.paths[i], pf, NULL, NULL) < 0)
				status = 1;
		bm_prefetch_free(pf);
		bm_files_free(&files);
	}
	bm_error_clear(&e);
	if (bm_jsonl_finish(stdout) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	return status;
}
