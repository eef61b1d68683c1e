/*
 * bm-runs: the runs in the database, as git log and git gc see commits.
 *
 *	bm-runs [list] [-n N] [--since WHEN] [--model MODEL] [--status STATUS]
 *	bm-runs show RUN | label RUN TEXT | rm RUN... | prune | gc | du
 *
 * lib/history does the work; this file reads the command line and prints
 * `run` records, or an aligned table when stdout is a terminal.  Listing
 * reads the counters that triggers keep per run and model, never results;
 * every removal is one transaction, so a kill leaves all or nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "db.h"
#include "err.h"
#include "history.h"
#include "jsonl.h"
#include "runs.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-runs [list] [-n N] [--since WHEN] [--model MODEL]"
    " [--status STATUS]\n"
    "               [-f FORMAT] [-q] [-v] [--db PATH]\n"
    "       bm-runs show [-f FORMAT] RUN\n"
    "       bm-runs label [--force] RUN TEXT\n"
    "       bm-runs label -d RUN\n"
    "       bm-runs rm [--dry-run] [-f FORMAT] RUN...\n"
    "       bm-runs prune [--keep N] [--older-than AGE] [--labelled]"
    " [--dry-run]\n"
    "                     [-f FORMAT]\n"
    "       bm-runs gc [--keep-versions K] [--cache-older-than AGE]"
    " [--dry-run]\n"
    "                  [-f FORMAT]\n"
    "       bm-runs du [-f FORMAT]\n";

/* Each option by its bit in cli.seen: its place in main's table. */
enum {
	F_N = 1, F_SINCE = 2, F_MODEL = 4, F_STATUS = 8, F_FORMAT = 16,
	F_FORCE = 32, F_DELETE = 64, F_DRY = 128, F_KEEP = 256,
	F_OLDER = 512, F_LABELLED = 1024, F_KEEPV = 2048, F_CACHE = 4096,
	NFLAGS = 13
};
#define GIVEN(f)	((O.cli.seen & (f)) != 0)

/* The commands: name, options allowed, operands (min, max; -1 any). */
static const struct command {
	const char *name;
	int flags, min, max;
} commands[] = {
	{ "list", F_N | F_SINCE | F_MODEL | F_STATUS | F_FORMAT, 0, 0 },
	{ "show", F_FORMAT, 1, 1 },
	{ "label", F_FORCE | F_DELETE, 1, 2 },
	{ "rm", F_DRY | F_FORMAT, 1, -1 },
	{ "prune", F_DRY | F_KEEP | F_OLDER | F_LABELLED | F_FORMAT, 0, 0 },
	{ "gc", F_DRY | F_KEEPV | F_CACHE | F_FORMAT, 0, 0 },
	{ "du", F_FORMAT, 0, 0 },
};

static struct {
	int table;		/* print tables, not records */
	long n, keep, keep_versions;
	const char *since, *model, *status, *older, *cache_older;
	char since_at[BM_CLOCK_TIME_LEN + 1], older_at[BM_CLOCK_TIME_LEN + 1];
	char cache_at[BM_CLOCK_TIME_LEN + 1];
	const char *hold;	/* test hook: see step() */
	struct bm_cli cli;
} O;

/*
 * An aligned table for people: a header row then rows of cells, added
 * one by one; columns marked 'r' in right are right-aligned (numbers).
 */
struct table {
	size_t ncol, n;
	const char *right;
	char **cells;
};

static void
cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		bm_die(2, "out of memory");
	va_end(ap);
	t->cells = xreallocarray(t->cells, t->n + 1, sizeof(char *));
	t->cells[t->n++] = s;
}

/* A string field as a cell: "-" when null or empty. */
static void
cell_str(struct table *t, const char *s)
{
	cell(t, "%s", s && *s ? s : "-");
}

static void
table_print(struct table *t)
{
	size_t *w = xcalloc(t->ncol, sizeof(*w)), i, c, len;

	for (i = 0; i < t->n; i++) {
		len = strlen(t->cells[i]);
		c = i % t->ncol;
		w[c] = len > w[c] ? len : w[c];
	}
	for (i = 0; i < t->n; i++) {
		c = i % t->ncol;
		if (t->right[c] == 'r')
			printf("%*s", (int)w[c], t->cells[i]);
		else if (c + 1 < t->ncol)
			printf("%-*s", (int)w[c], t->cells[i]);
		else
			fputs(t->cells[i], stdout);
		fputs(c + 1 < t->ncol ? "  " : "\n", stdout);
		free(t->cells[i]);
	}
	free(t->cells);
	free(w);
	t->cells = NULL;
	t->n = 0;
}

/* Bytes as du -h prints them: 512, 1.5K, 624.2M (into a cell). */
static void
cell_bytes(struct table *t, double b)
{
	static const char units[] = "KMGTP";
	int u = -1;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	if (u < 0)
		cell(t, "%.0f", b);
	else
		cell(t, "%.1f%c", b, units[u]);
}

/* "2026-11-23T10:15:00.123Z" as "2026-11-23 10:15". */
static void
cell_time(struct table *t, const char *v)
{
	if (!v || strlen(v) < 16)
		cell_str(t, v);
	else
		cell(t, "%.10s %.5s", v, v + 11);
}

/*
 * A record on stdout, or exit 2.  Not flushed per record: bm-runs
 * answers at once, and a thousand writes would cost more than the query.
 */
static void
put(const cJSON *rec)
{
	static struct bm_buf b;

	bm_buf_reset(&b);
	bm_json_put(&b, rec);
	bm_buf_addc(&b, '\n');
	if (fwrite(b.s, 1, b.len, stdout) != b.len)
		bm_die(2, "stdout: %s", strerror(errno));
}

/* A run record of bm-runs list, printed as it is read. */
static int
put_run(cJSON *run, void *arg, struct bm_error *e)
{
	(void)arg, (void)e;
	put(run);
	cJSON_Delete(run);
	return 0;
}

/* Runs: records, or the table of bm-runs list. */
static void
print_runs(const cJSON *runs)
{
	struct table t = { 10, 0, "lllllrrrrr", NULL };
	const cJSON *r, *m;
	const char *first;
	int nm;

	if (!O.table) {
		cJSON_ArrayForEach(r, runs)
			put(r);
		return;
	}
	if (cJSON_GetArraySize(runs) == 0)
		return;
	cell(&t, "ID"), cell(&t, "LABEL"), cell(&t, "STARTED");
	cell(&t, "STATUS"), cell(&t, "MODELS"), cell(&t, "CASES");
	cell(&t, "PASS"), cell(&t, "FAIL"), cell(&t, "ERROR");
	cell(&t, "COST");
	cJSON_ArrayForEach(r, runs) {
		cell_str(&t, bm_json_str(r, "id"));
		cell_str(&t, bm_json_str(r, "label"));
		cell_time(&t, bm_json_str(r, "started_at"));
		cell_str(&t, bm_json_str(r, "status"));
		m = cJSON_GetObjectItemCaseSensitive(r, "models");
		nm = cJSON_GetArraySize(m);
		first = nm ? cJSON_GetStringValue(cJSON_GetArrayItem(m, 0)) :
		    NULL;
		if (nm > 1)
			cell(&t, "%s +%d", first ? first : "?", nm - 1);
		else
			cell_str(&t, first);
		cell(&t, "%.0f", bm_json_numor(r, "cases", 0));
		cell(&t, "%.0f", bm_json_numor(r, "pass", 0));
		cell(&t, "%.0f", bm_json_numor(r, "fail", 0));
		cell(&t, "%.0f", bm_json_numor(r, "error", 0));
		cell(&t, "%.4f", bm_json_numor(r, "cost_usd", 0));
	}
	table_print(&t);
}

/* The argv of a run record as one line (its JSON when not an array). */
static char *
argv_line(const cJSON *r)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "argv"), *it;
	struct bm_buf b = BM_BUF_INIT;

	if (!cJSON_IsArray(a))
		return xstrdup(bm_json_str(r, "argv") ? bm_json_str(r, "argv") :
		    "-");
	cJSON_ArrayForEach(it, a)
		bm_buf_addf(&b, "%s%s", b.len ? " " : "",
		    cJSON_IsString(it) ? it->valuestring : "?");
	return bm_buf_detach(&b, NULL);
}

/* bm-runs show: the record with its summary, or a page for people. */
static void
show(cJSON *r, cJSON *summary, char *resume)
{
	struct table t = { 2, 0, "ll", NULL };
	const cJSON *s, *l;
	char *av;

	if (!O.table) {
		cJSON_AddItemToObject(r, "summary", summary);
		cJSON_AddItemToObject(r, "resume", resume ?
		    cJSON_CreateString(resume) : cJSON_CreateNull());
		put(r);
		return;
	}
	av = argv_line(r);
	cell(&t, "run"), cell_str(&t, bm_json_str(r, "id"));
	cell(&t, "label"), cell_str(&t, bm_json_str(r, "label"));
	cell(&t, "status"), cell_str(&t, bm_json_str(r, "status"));
	cell(&t, "started"), cell_str(&t, bm_json_str(r, "started_at"));
	cell(&t, "finished"), cell_str(&t, bm_json_str(r, "finished_at"));
	cell(&t, "host"), cell_str(&t, bm_json_str(r, "host"));
	cell(&t, "git"), cell_str(&t, bm_json_str(r, "git_sha"));
	cell(&t, "argv"), cell_str(&t, av);
	if (bm_json_str(r, "rescored_from"))
		cell(&t, "rescored"), cell_str(&t, bm_json_str(r,
		    "rescored_from"));
	if (bm_json_numor(r, "resumed", 0) > 0)
		cell(&t, "resumed"), cell(&t, "%.0f times",
		    bm_json_numor(r, "resumed", 0));
	cell(&t, "cost"), cell(&t, "%.4f USD", bm_json_numor(r, "cost_usd", 0));
	table_print(&t);
	free(av);
	if (cJSON_GetArraySize(summary) > 0) {
		t = (struct table){ 9, 0, "lrrrrrrrr", NULL };
		cell(&t, "MODEL"), cell(&t, "CASES"), cell(&t, "PASS");
		cell(&t, "FAIL"), cell(&t, "ERROR"), cell(&t, "CANCELLED");
		cell(&t, "P50_MS"), cell(&t, "P95_MS"), cell(&t, "COST");
	}
	cJSON_ArrayForEach(s, summary) {
		cell_str(&t, bm_json_str(s, "model"));
		cell(&t, "%.0f", bm_json_numor(s, "cases", 0));
		cell(&t, "%.0f", bm_json_numor(s, "pass", 0));
		cell(&t, "%.0f", bm_json_numor(s, "fail", 0));
		cell(&t, "%.0f", bm_json_numor(s, "error", 0));
		cell(&t, "%.0f", bm_json_numor(s, "cancelled", 0));
		l = cJSON_GetObjectItemCaseSensitive(s, "latency_ms");
		if (cJSON_IsObject(l)) {
			cell(&t, "%.1f", bm_json_numor(l, "p50", 0));
			cell(&t, "%.1f", bm_json_numor(l, "p95", 0));
		} else {
			cell(&t, "-"), cell(&t, "-");
		}
		cell(&t, "%.4f", bm_json_numor(s, "cost_usd", 0));
	}
	if (t.n) {
		putchar('\n');
		table_print(&t);
	}
	if (resume)
		printf("\nresume it with the same cases on stdin:\n  %s\n",
		    resume);
	cJSON_Delete(summary);
}

/* bm-runs gc: a record, or lines for people. */
static void
print_gc(const struct bm_history_gc *g, int dry)
{
	struct table t = { 2, 0, "lr", NULL };
	cJSON *r;

	if (!O.table) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "type", "gc");
		cJSON_AddNumberToObject(r, "versions", (double)g->versions);
		cJSON_AddNumberToObject(r, "cache", (double)g->cache);
		cJSON_AddNumberToObject(r, "bytes_before",
		    (double)g->bytes_before);
		cJSON_AddNumberToObject(r, "bytes_after",
		    (double)g->bytes_after);
		cJSON_AddBoolToObject(r, "vacuumed", !dry && !g->running);
		cJSON_AddBoolToObject(r, "dry_run", dry);
		put(r);
		cJSON_Delete(r);
		return;
	}
	cell(&t, dry ? "benchmark versions to drop" :
	    "benchmark versions dropped");
	cell(&t, "%lld", g->versions);
	cell(&t, dry ? "cache entries to drop" : "cache entries dropped");
	cell(&t, "%lld", g->cache);
	cell(&t, "bytes before"), cell(&t, "%lld", g->bytes_before);
	cell(&t, "bytes after"), cell(&t, "%lld", g->bytes_after);
	table_print(&t);
}

/* bm-runs du: records, or two tables for people. */
static void
print_du(const cJSON *du)
{
	struct table t = { 3, 0, "lrr", NULL };
	const cJSON *d;

	if (!O.table) {
		cJSON_ArrayForEach(d, du)
			put(d);
		return;
	}
	cell(&t, "TABLE"), cell(&t, "ROWS"), cell(&t, "BYTES");
	cJSON_ArrayForEach(d, du) {
		if (!bm_json_str(d, "table"))
			continue;
		cell_str(&t, bm_json_str(d, "table"));
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "rows")))
			cell(&t, "%.0f", bm_json_numor(d, "rows", 0));
		else
			cell(&t, "-");
		cell_bytes(&t, bm_json_numor(d, "bytes", 0));
	}
	table_print(&t);
	t = (struct table){ 5, 0, "llrrr", NULL };
	cell(&t, "RUN"), cell(&t, "LABEL"), cell(&t, "RESULTS");
	cell(&t, "STATS"), cell(&t, "BYTES");
	cJSON_ArrayForEach(d, du) {
		if (!bm_json_str(d, "run_id"))
			continue;
		cell_str(&t, bm_json_str(d, "run_id"));
		cell_str(&t, bm_json_str(d, "label"));
		cell(&t, "%.0f", bm_json_numor(d, "results", 0));
		cell(&t, "%.0f", bm_json_numor(d, "stats", 0));
		cell_bytes(&t, bm_json_numor(d, "bytes", 0));
	}
	if (t.n > t.ncol) {
		putchar('\n');
		table_print(&t);
	} else {
		while (t.n)
			free(t.cells[--t.n]);
		free(t.cells);
	}
}

/*
 * Inside a removal's transaction, after each run: -v says so.  The test
 * hook BM_TEST_RM_HOLD=PATH writes "held ID" to PATH (a FIFO the test
 * reads) after the first run, then waits up to a minute to be killed
 * there, mid-transaction.
 */
static void
step(const char *id, void *arg)
{
	char *line;
	int fd, i;

	(void)arg;
	bm_debugf(1, "%s %s", GIVEN(F_DRY) ? "would remove" : "removing",
	    id);
	if (!O.hold)
		return;
	fd = open(O.hold, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	line = xasprintf("held %s\n", id);
	if (fd >= 0 && write(fd, line, strlen(line)) < 0)
		bm_warnf("%s: %s", O.hold, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(line);
	O.hold = NULL;
	for (i = 0; i < 600; i++)
		poll(NULL, 0, 100);
}

/* RUN as every program takes it, or exit 2 naming why. */
static char *
resolve(struct bm_db *db, const char *spec)
{
	struct bm_error e = BM_ERROR_INIT;
	char *id;

	if (bm_runs_resolve(db, spec, &id, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
	return id;
}

/* A database error: say it, exit 2. */
static void
fail(struct bm_error *e)
{
	bm_error_print(e);
	exit(2);
}

/* bm-runs rm and prune: print what went; -v counts it. */
static int
removed(int rc, cJSON *runs, const struct bm_history_counts *c,
    struct bm_error *e)
{
	if (rc < 0)
		fail(e);
	if (rc > 0) {
		bm_error_print(e);
		bm_error_clear(e);
		return 1;
	}
	print_runs(runs);
	bm_debugf(1, "%s %lld run%s: %lld results, %lld stats, %lld outbox"
	    " rows", GIVEN(F_DRY) ? "would remove" : "removed", c->runs,
	    c->runs == 1 ? "" : "s", c->results, c->stats, c->outbox);
	cJSON_Delete(runs);
	return 0;
}

/* Parse a --since/--older-than argument into out, or exit 2. */
static void
when(const char *opt, const char *arg, char out[BM_CLOCK_TIME_LEN + 1])
{
	struct bm_error e = BM_ERROR_INIT;

	if (bm_history_when(arg, out, &e) < 0)
		bm_cli_usage_error(&O.cli, "%s: %s", opt, e.msg);
}

int
main(int argc, char **argv)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_history_filter f;
	struct bm_history_counts c;
	struct bm_history_gc g;
	const struct command *cmd = &commands[0];
	const char *format = NULL;
	struct bm_db *db;
	cJSON *out, *summary;
	char **ids, *id, *resume;
	size_t i, j, n;
	int status = 0, rc, min, max;
	const struct bm_cli_opt options[] = {
		BM_OPT_LONG('n', NULL, "N", &O.n, 0, 1000000000L,
		    "at most N runs"),
		BM_OPT_STRING(0, "since", "WHEN", &O.since,
		    "runs started since a date or an age (30d)"),
		BM_OPT_STRING(0, "model", "MODEL", &O.model,
		    "runs with results of MODEL"),
		BM_OPT_STRING(0, "status", "STATUS", &O.status,
		    "running, finished, interrupted or failed"),
		BM_OPT_STRING('f', "format", "FORMAT", &format,
		    "json (records) or table (on a terminal)"),
		BM_OPT_FLAG(0, "force", NULL,
		    "label: move TEXT from the run holding it"),
		BM_OPT_FLAG('d', "delete", NULL,
		    "label: remove the run's label"),
		BM_OPT_FLAG(0, "dry-run", NULL,
		    "rm, prune, gc: show what would go"),
		BM_OPT_LONG(0, "keep", "N", &O.keep, 0, 1000000000L,
		    "prune: keep the newest N runs"),
		BM_OPT_STRING(0, "older-than", "AGE", &O.older,
		    "prune: remove runs started before AGE ago"),
		BM_OPT_FLAG(0, "labelled", NULL, "prune: labelled runs too"),
		BM_OPT_LONG(0, "keep-versions", "K", &O.keep_versions, 0,
		    1000000000L, "gc: versions kept per benchmark (10)"),
		BM_OPT_STRING(0, "cache-older-than", "AGE", &O.cache_older,
		    "gc: cache entries dropped (30d)"),
		BM_OPT_COMMON(BM_CLI_OPT_DB, "the database ($BM_DB, ./bm.db)"),
		BM_OPT_COMMON('q', "only errors on stderr"),
		BM_OPT_COMMON('v', "say what is removed"),
		BM_OPT_HELP, BM_OPT_VERSION, BM_OPT_END
	};

	bm_cli_init(&O.cli, argv[0], usage);
	O.n = O.keep = -1;
	O.keep_versions = 10;
	O.cache_older = "30d";
	bm_cli_options(&O.cli, options);
	bm_cli_parse(&O.cli, argc, argv);
	bm_cli_finish(&O.cli);
	if (O.cli.no_db)
		bm_cli_usage_error(&O.cli, "--no-db: bm-runs reads the"
		    " database");
	argc -= optind;
	argv += optind;
	if (argc > 0) {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(argv[0], commands[i].name) == 0)
				break;
		if (i == sizeof(commands) / sizeof(commands[0]))
			bm_cli_usage_error(&O.cli, "unknown command '%s'",
			    argv[0]);
		cmd = &commands[i];
		argc--;
		argv++;
	}

	/* Check the command line against the command. */
	for (i = 0; i < NFLAGS; i++)
		if (O.cli.seen & ~(unsigned)cmd->flags & (1ULL << i))
			bm_cli_usage_error(&O.cli, "%s does not apply to %s",
			    bm_cli_spelling(&O.cli, i), cmd->name);
	min = cmd->min;
	max = cmd->max;
	if (cmd->flags & F_DELETE)
		min = max = GIVEN(F_DELETE) ? 1 : 2;
	if (argc < min || (max >= 0 && argc > max))
		bm_cli_usage_error(&O.cli, "%s: %s", cmd->name, argc < min ?
		    "missing operand" : "too many operands");
	if (strcmp(cmd->name, "prune") == 0 && !GIVEN(F_KEEP | F_OLDER))
		bm_cli_usage_error(&O.cli, "prune needs --keep or"
		    " --older-than");
	if (format && strcmp(format, "json") != 0 &&
	    strcmp(format, "table") != 0)
		bm_cli_usage_error(&O.cli, "-f: unknown format '%s' (json or"
		    " table)", format);
	O.table = format ? strcmp(format, "table") == 0 : isatty(1);
	if (O.status && !bm_history_status_ok(O.status))
		bm_cli_usage_error(&O.cli, "--status: unknown status '%s'"
		    " (running, finished, interrupted or failed)", O.status);
	if (O.since)
		when("--since", O.since, O.since_at);
	if (O.older)
		when("--older-than", O.older, O.older_at);
	when("--cache-older-than", O.cache_older, O.cache_at);
	O.hold = getenv("BM_TEST_RM_HOLD");

	/* A listing never creates a database where there was none. */
	if (access(O.cli.db, F_OK) < 0)
		bm_die(2, "%s: %s", O.cli.db, strerror(errno));
	db = bm_db_open(O.cli.db, &e);
	if (!db)
		fail(&e);

	if (strcmp(cmd->name, "list") == 0) {
		f = (struct bm_history_filter){ O.n, O.since ? O.since_at :
		    NULL, O.model, O.status, NULL, 0 };
		if (!O.table) {
			if (bm_history_each(db, &f, put_run, NULL, &e) < 0)
				fail(&e);
		} else if ((out = bm_history_list(db, &f, &e))) {
			print_runs(out);
			cJSON_Delete(out);
		} else {
			fail(&e);
		}
	} else if (strcmp(cmd->name, "show") == 0) {
		id = resolve(db, argv[0]);
		out = bm_history_run(db, id, &e);
		summary = out ? bm_history_models(db, id, &e) : NULL;
		if (!summary)
			fail(&e);
		resume = bm_history_resume(out);
		show(out, summary, resume);
		cJSON_Delete(out);
		free(resume);
		free(id);
	} else if (strcmp(cmd->name, "label") == 0) {
		id = resolve(db, argv[0]);
		if (!GIVEN(F_DELETE) &&
		    bm_history_label_check(db, argv[1], &e) < 0)
			fail(&e);
		rc = bm_history_label(db, id, GIVEN(F_DELETE) ? NULL :
		    argv[1], GIVEN(F_FORCE), &e);
		if (rc < 0)
			fail(&e);
		if (rc > 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			status = 1;
		}
		free(id);
	} else if (strcmp(cmd->name, "rm") == 0) {
		/* Every RUN resolves before anything goes; each goes once. */
		ids = xcalloc((size_t)argc, sizeof(*ids));
		for (i = n = 0; i < (size_t)argc; i++) {
			id = resolve(db, argv[i]);
			for (j = 0; j < n && strcmp(ids[j], id) != 0; j++)
				;
			if (j < n)
				free(id);
			else
				ids[n++] = id;
		}
		rc = bm_history_rm(db, ids, n, GIVEN(F_DRY), step, NULL,
		    &out, &c, &e);
		status = removed(rc, out, &c, &e);
		for (i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
	} else if (strcmp(cmd->name, "prune") == 0) {
		rc = bm_history_prune(db, O.keep, O.older ? O.older_at : NULL,
		    GIVEN(F_LABELLED), GIVEN(F_DRY), step, NULL, &out,
		    &c, &e);
		status = removed(rc, out, &c, &e);
	} else if (strcmp(cmd->name, "gc") == 0) {
		if (bm_history_gc(db, O.keep_versions, O.cache_at,
		    GIVEN(F_DRY), &g, &e) < 0)
			fail(&e);
		if (g.running)
			bm_warnf("run %s is running: not vacuumed", g.running);
		print_gc(&g, GIVEN(F_DRY));
		free(g.running);
	} else {
		out = bm_history_du(db, &e);
		if (!out)
			fail(&e);
		print_du(out);
		cJSON_Delete(out);
	}
	if (bm_db_close(db, &e) < 0)
		fail(&e);
	if (bm_jsonl_finish(stdout) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	return status;
}
