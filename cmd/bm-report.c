/*
 * bm-report: render stats, comparisons, regressions and results.
 *
 *   bm-report [-f FORMAT] [-o FILE] [--title TEXT] [--history [N]]
 *             [--run RUN] [FILE...]
 *
 * Reads every record first (a report needs them all), then writes one
 * format.  -o FILE is written to a temporary file in FILE's directory
 * and renamed over FILE, so a reader never sees half a report.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "db.h"
#include "err.h"
#include "jsonl.h"
#include "report.h"
#include "runs.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-report [-f FORMAT] [-o FILE] [--title TEXT] [--history [N]]"
    "\n                 [--run RUN] [--db PATH] [--no-db] [-q] [-v]"
    " [FILE...]\n";

enum { OPT_HISTORY = BM_CLI_OPT_PROGRAM };

enum { F_CONSOLE, F_MD, F_CSV, F_JSON, F_JUNIT, F_GITHUB, F_BENCHER,
	F_HTML };
static const char *const formats[] = { "console", "md", "csv", "json",
	"junit", "github", "bencher", "html" };

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))
#define MAX_ANNOTATIONS 50

static int
format_of(const char *name)
{
	size_t i;

	for (i = 0; i < NFORMATS; i++)
		if (strcmp(name, formats[i]) == 0)
			return (int)i;
	return -1;
}

/* The format an output file's name suggests, or -1. */
static int
format_of_file(const char *path)
{
	static const struct {
		const char *ext;
		int f;
	} ext[] = { { ".html", F_HTML }, { ".htm", F_HTML },
		{ ".md", F_MD }, { ".csv", F_CSV }, { ".json", F_JSON },
		{ ".xml", F_JUNIT } };
	size_t i, n = strlen(path), k;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		k = strlen(ext[i].ext);
		if (n > k && strcmp(path + n - k, ext[i].ext) == 0)
			return ext[i].f;
	}
	return -1;
}

/*
 * One line that the fast path left (another type, or invalid): parsed by
 * bm_jsonl_next, so its messages are the ones every program gives.
 */
static int
add_parsed(void *arg, struct bm_report *r, long lineno, char *line,
    size_t len)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl in;
	const char *name = arg;
	FILE *f = fmemopen(line, len, "r");
	cJSON *rec;
	int rc;

	if (!f) {
		bm_errorf("%s: %s", name, strerror(errno));
		return -1;
	}
	bm_jsonl_open(&in, f, name);
	in.lineno = lineno - 1;
	rc = bm_jsonl_next(&in, &rec, &e);
	if (rc < 0)
		bm_error_print(&e);
	else if (rc > 0)
		bm_report_add(r, rec);
	bm_error_clear(&e);
	bm_jsonl_close(&in);
	fclose(f);
	return rc < 0 ? -1 : 0;
}

/*
 * Read every record of one input into r; -1 when a line was bad.  Result
 * lines, the millions, are read on every core without a tree
 * (bm_report_read); the others come back here in order.
 */
static int
read_input(struct bm_report *r, const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
	const char *name = fd == 0 ? "<stdin>" : path;
	int rc;

	if (fd < 0) {
		bm_errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	rc = bm_report_read(r, fd, name, 0, add_parsed, (void *)name, &e);
	if (rc < 0)
		bm_error_print(&e);
	bm_error_clear(&e);
	if (fd != 0)
		close(fd);
	return rc ? -1 : 0;
}

static int
render(FILE *f, int format, const struct bm_report *r, int color)
{
	struct bm_console c = { color, 80 };

	switch (format) {
	case F_CONSOLE: return bm_render_console(f, r, &c);
	case F_MD: return bm_render_md(f, r);
	case F_CSV: return bm_render_csv(f, r);
	case F_JSON: return bm_render_json(f, r);
	case F_JUNIT: return bm_render_junit(f, r);
	case F_GITHUB: return bm_render_github(f, r, MAX_ANNOTATIONS);
	case F_BENCHER: return bm_render_bencher(f, r);
	default: return bm_render_html(f, r);
	}
}

/*
 * Render into a temporary file next to path, then rename it over path.
 * 0, or the errno of what failed (the temporary file is then removed).
 */
static int
write_file(const char *path, int format, const struct bm_report *r)
{
	char *dir = xstrdup(path);
	char *tmp = xasprintf("%s/.bm-report.XXXXXX", dirname(dir));
	mode_t mask;
	FILE *f = NULL;
	int fd, err = 0;

	free(dir);
	if ((fd = mkstemp(tmp)) < 0) {
		err = errno;
		goto out;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || !(f = fdopen(fd, "w"))) {
		err = errno;
		close(fd);
		goto out;
	}
	errno = 0;
	if (render(f, format, r, 0) < 0 || fflush(f) != 0 || fsync(fd) < 0)
		err = errno ? errno : EIO;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
out:
	if (err && fd >= 0)
		unlink(tmp);
	free(tmp);
	return err;
}

/* The database, or exit 2: it must exist, bm-report never creates one. */
static struct bm_db *
open_db(const struct bm_cli *cli)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db *db;

	if (access(cli->db, F_OK) < 0)
		bm_die(2, "%s: %s", cli->db, strerror(errno));
	if (!(db = bm_db_open(cli->db, &e)))
		bm_die(2, "%s", bm_error_str(&e));
	return db;
}

static void
db_fail(struct bm_error *e)
{
	bm_die(2, "%s", bm_error_str(e));
}

int
main(int argc, char **argv)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_report r;
	struct bm_cli cli;
	struct bm_db *db = NULL;
	const char *out = NULL, *title = NULL, *run = NULL;
	char *run_id = NULL;
	long history = 0;
	int c, format = -1, status = 0, i;
	const struct bm_cli_opt options[] = {
		BM_OPT_KEY('f', "format", "FORMAT",
		    "console md csv json junit github bencher html"),
		BM_OPT_STRING('o', "output", "FILE", &out,
		    "write FILE (atomically) instead of stdout"),
		BM_OPT_STRING(0, "title", "TEXT", &title, "the report's title"),
		BM_OPT_KEY(OPT_HISTORY, "history", "[N]",
		    "the last N runs from the database (default 30)"),
		BM_OPT_STRING(0, "run", "RUN", &run,
		    "read RUN's stats and results from the database"),
		BM_OPT_DB, BM_OPT_NO_DB, BM_OPT_QUIET, BM_OPT_VERBOSE,
		BM_OPT_HELP, BM_OPT_VERSION, BM_OPT_END
	};

	bm_cli_init(&cli, argv[0], usage);
	bm_cli_options(&cli, options);
	while ((c = bm_cli_next(&cli, argc, argv)) != -1) {
		switch (c) {
		case 'f':
			if ((format = format_of(cli.arg)) < 0)
				bm_cli_usage_error(&cli, "-f: unknown format "
				    "'%s'", cli.arg);
			break;
		case OPT_HISTORY:
			/* "--history 20" as well as "--history=20". */
			if (!cli.arg && optind < argc && argv[optind][0] &&
			    strspn(argv[optind], "0123456789") ==
			    strlen(argv[optind]))
				cli.arg = argv[optind++];
			history = cli.arg ? bm_cli_long("--history", cli.arg,
			    1, 100000) : 30;
			break;
		}
	}
	bm_cli_finish(&cli);
	argc -= optind;
	argv += optind;
	if (run && argc > 0)
		bm_cli_usage_error(&cli, "--run takes no FILE arguments");
	if (cli.no_db && (run || history))
		bm_cli_usage_error(&cli, "--no-db cannot be combined with %s",
		    run ? "--run" : "--history");
	if (format < 0 && out)
		format = format_of_file(out);
	if (format < 0)
		format = !out && isatty(1) ? F_CONSOLE : F_MD;

	bm_report_init(&r, title);
	r.keep_output = format == F_HTML;
	r.keep_raw = format == F_JSON;
	/* The others show a few results one by one and count the rest. */
	r.keep_few = format != F_HTML && format != F_JSON && format != F_JUNIT;
	r.junit = format == F_JUNIT;
	if (run || history) {
		db = open_db(&cli);
		if (run && bm_runs_resolve(db, run, &run_id, &e) < 0)
			db_fail(&e);
	}
	if (run) {
		if (bm_report_load_run(&r, db, run_id, &e) < 0)
			db_fail(&e);
	} else if (argc || !history || !isatty(0)) {
		/* The history alone needs no input from a terminal. */
		for (i = 0; i < (argc ? argc : 1); i++)
			if (read_input(&r, argc ? argv[i] : "-") < 0)
				status = 1;
	}
	if (r.ignored)
		bm_debugf(1, "%ld records of other types ignored", r.ignored);
	if (history && bm_report_history(&r, db, history, run_id, &e) < 0)
		db_fail(&e);
	/* Annotations point at the benchmark files the catalog knows. */
	if (format == F_GITHUB && !cli.no_db && !db &&
	    access(cli.db, F_OK) == 0)
		db = open_db(&cli);
	if (format == F_GITHUB && db && bm_report_locate(&r, db, &e) < 0)
		db_fail(&e);
	if (db && bm_db_close(db, &e) < 0)
		db_fail(&e);

	if (out) {
		if ((c = write_file(out, format, &r)) != 0)
			bm_die(2, "%s: %s", out, strerror(c));
	} else if (render(stdout, format, &r, bm_color(1)) < 0 ||
	    bm_jsonl_finish(stdout) < 0) {
		bm_die(2, "stdout: %s", strerror(errno));
	}
	bm_report_free(&r);
	free(run_id);
	bm_error_clear(&e);
	return status;
}
