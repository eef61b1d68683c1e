/*
 * bm-stats: statistics of result records.
 *
 *   bm-stats [-g FIELD[,FIELD...]] [--compare FIELD=VALUE] [--baseline ...]
 *            [--cases] [--top N] [--by METRIC] [--save] [--run RUN] [FILE...]
 *
 * Reads result records (or a run's from the database), writes a stat
 * record per group, then comparison, regression and case_stat records.
 * Statistics are computed over every input, so nothing is written before
 * the input ends.  The formulas are in lib/stats.c and bm-stats(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "compare.h"
#include "db.h"
#include "err.h"
#include "jsonl.h"
#include "runs.h"
#include "tally.h"
#include "xalloc.h"

static const char usage[] =
    "usage: bm-stats [-g FIELD[,FIELD...]] [--compare FIELD=VALUE]\n"
    "                [--baseline FILE|run:RUN|last] [--threshold PCT]\n"
    "                [--fail-on-regression] [--fail-under RATE] [--cases]\n"
    "                [--top N] [--by METRIC] [--save] [--run RUN]\n"
    "                [--db PATH] [--no-db] [-q] [-v] [FILE...]\n";

enum { OPT_COMPARE = BM_CLI_OPT_PROGRAM };

static struct bm_cli cli;
static const char **gfields;	/* -g, plus the --compare field */
static size_t ngfields;
static char *cmp_field, *cmp_value;
static const char *baseline_spec, *run_spec, *by = "pass_rate";
static double threshold = 5, fail_under = -1;
static long top;
static int cases, save, fail_on_regression;
static struct bm_db *db;
static int status;		/* exit status so far */
static char *baseline_run;	/* JSON string of the baseline's run id */

static const struct bm_cli_opt options[] = {
	BM_OPT_KEY('g', NULL, "FIELD[,FIELD...]",
	    "group by these fields (default model)"),
	BM_OPT_KEY(OPT_COMPARE, "compare", "FIELD=VALUE",
	    "compare each other value of FIELD to VALUE"),
	BM_OPT_STRING(0, "baseline", "SPEC", &baseline_spec,
	    "regressions against a file, run:RUN or last"),
	BM_OPT_DOUBLE(0, "threshold", "PCT", &threshold, 0, 1e9, 1,
	    "relative change that counts (default 5)"),
	BM_OPT_FLAG(0, "fail-on-regression", &fail_on_regression,
	    "exit 1 when a regression was found"),
	BM_OPT_DOUBLE(0, "fail-under", "RATE", &fail_under, 0, 1, 1,
	    "exit 1 when a pass rate is below RATE"),
	BM_OPT_FLAG(0, "cases", &cases, "a case_stat record per case"),
	BM_OPT_LONG(0, "top", "N", &top, 1, 1000000000L,
	    "only the best N groups"),
	BM_OPT_STRING(0, "by", "METRIC", &by,
	    "the metric of --top (default pass_rate)"),
	BM_OPT_FLAG(0, "save", &save, "store the stat records in the database"),
	BM_OPT_STRING(0, "run", "RUN", &run_spec,
	    "read a run's results from the database"),
	BM_OPT_DB, BM_OPT_NO_DB, BM_OPT_QUIET, BM_OPT_VERBOSE, BM_OPT_HELP,
	BM_OPT_VERSION, BM_OPT_END
};

static int
lower_better(const char *m)
{
	static const char *const low[] = {
		"latency_ms", "ttft_ms", "cost", "tokens_per_pass", "fail",
		"error", "wall_ms", "usage", NULL
	};
	size_t i;

	for (i = 0; low[i]; i++)
		if (strncmp(m, low[i], strlen(low[i])) == 0)
			return 1;
	return 0;
}

static const char *by_path;

static int
top_cmp(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	double u = bm_compare_num(x, by_path), v = bm_compare_num(y, by_path);

	if (isnan(u) != isnan(v))
		return isnan(u) ? 1 : -1;
	if (!isnan(u) && u != v)
		return (u < v) == !lower_better(by_path) ? 1 : -1;
	u = bm_compare_num(x, "n");
	v = bm_compare_num(y, "n");
	return u < v ? 1 : u > v ? -1 : 0;
}

static void
emit(cJSON *r, void *arg)
{
	(void)arg;
	if (bm_jsonl_write(stdout, r) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
}

/* Store stat record r (of group g) in the stats table. */
static void
save_stat(const struct bm_group *g, const cJSON *r)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	cJSON *run;
	char *gk, *rec;

	if (!g->run) {
		bm_warnf("--save: group %s: %s", (gk = bm_json_print(
		    cJSON_GetObjectItemCaseSensitive(r, "group"))),
		    g->mixed ? "results of several runs" : "no run id");
		free(gk);
		return;
	}
	run = cJSON_Parse(g->run);
	gk = bm_json_print(cJSON_GetObjectItemCaseSensitive(r, "group"));
	rec = bm_json_print(r);
	st = bm_db_prepare(db, "INSERT OR REPLACE INTO stats(run_id, "
	    "group_key, record) VALUES (?, ?, ?)", &e);
	if (!st || bm_db_bind_text(st, 1, cJSON_GetStringValue(run)) < 0 ||
	    bm_db_bind_text(st, 2, gk) < 0 || bm_db_bind_text(st, 3, rec) < 0 ||
	    bm_db_step(st, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		status = 2;
	}
	cJSON_Delete(run);
	free(gk);
	free(rec);
}

/* --by METRIC as a path into a stat record. */
static const char *
by_alias(const char *m)
{
	static const char *const alias[][2] = {
		{ "f1", "f1.macro" }, { "latency", "latency_ms.p50" },
		{ "p50", "latency_ms.p50" }, { "p90", "latency_ms.p90" },
		{ "p95", "latency_ms.p95" }, { "p99", "latency_ms.p99" },
		{ "ttft", "ttft_ms.p50" }, { NULL, NULL }
	};
	size_t i;

	for (i = 0; alias[i][0]; i++)
		if (strcmp(m, alias[i][0]) == 0)
			return alias[i][1];
	return m;
}

static int
check_by(const char *m)
{
	static const char *const known[] = {
		"pass_rate", "score_mean", "f1.micro", "f1.macro",
		"cost_per_pass", "cost_usd", "tokens_per_pass",
		"completion_tokens_per_s", "throughput_rps", "n", "pass",
		"fail", "error", "wall_ms", "usage.prompt_tokens",
		"usage.completion_tokens", NULL
	};
	static const char *const dists[] = { "latency_ms.", "ttft_ms.", NULL };
	static const char *const fields[] = {
		"mean", "sd", "min", "p25", "p50", "p75", "p90", "p95", "p99",
		"max", NULL
	};
	size_t i, j;

	m = by_alias(m);
	for (i = 0; known[i]; i++)
		if (strcmp(m, known[i]) == 0)
			return 1;
	for (i = 0; dists[i]; i++)
		for (j = 0; fields[j]; j++)
			if (strncmp(m, dists[i], strlen(dists[i])) == 0 &&
			    strcmp(m + strlen(dists[i]), fields[j]) == 0)
				return 1;
	return 0;
}

/* The stat records of a baseline file of stats. */
static cJSON *
read_stats(const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	cJSON *all = cJSON_CreateArray(), *rec;
	FILE *f = fopen(path, "r");
	const char *type;
	int k;

	if (!f)
		bm_die(2, "%s: %s", path, strerror(errno));
	bm_jsonl_open(&r, f, path);
	while ((k = bm_jsonl_next(&r, &rec, &e)) != 0) {
		if (k < 0)
			continue;	/* reported by the first reading */
		type = bm_jsonl_type(rec);
		if (type && strcmp(type, "stat") == 0)
			cJSON_AddItemToArray(all, rec);
		else
			cJSON_Delete(rec);
	}
	bm_error_clear(&e);
	bm_jsonl_close(&r);
	fclose(f);
	return all;
}

/* Print and forget the malformed lines of the last input. */
static void
report_errors(struct bm_tally *t)
{
	size_t i;

	for (i = 0; i < t->nerrs; i++)
		bm_error_print(&t->errs[i]);
	if (t->nerrs)
		status = status ? status : 1;
	bm_tally_clear_errors(t);
}

/* Read run id's results from the database into t. */
static void
read_run(struct bm_tally *t, const char *id)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_db_stmt *st;
	const char *rec;
	char *name = xasprintf("run %s", id);
	long row = 0;
	int r;

	st = bm_db_prepare(db, "SELECT record FROM results WHERE run_id = ?"
	    " ORDER BY rowid", &e);
	if (!st || bm_db_bind_text(st, 1, id) < 0)
		goto fail;
	while ((r = bm_db_step(st, &e)) == 1) {
		row++;
		rec = bm_db_col_text(st, 0);
		if (rec && bm_tally_line(t, rec, strlen(rec), name, row,
		    &e) < 0) {
			bm_error_print(&e);
			bm_error_clear(&e);
			status = status ? status : 1;
		}
	}
	if (r < 0)
		goto fail;
	free(name);
	return;
fail:
	bm_error_print(&e);
	exit(2);
}

/* Read a file (or "-") into t. */
static void
read_file(struct bm_tally *t, const char *path)
{
	struct bm_error e = BM_ERROR_INIT;
	int fd = 0;
	const char *name = "<stdin>";

	if (strcmp(path, "-") != 0) {
		name = path;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			bm_errorf("%s: %s", path, strerror(errno));
			status = 2;
			return;
		}
	}
	if (bm_tally_fd(t, fd, name, &e) < 0) {
		bm_error_print(&e);
		bm_error_clear(&e);
		status = 2;
	}
	report_errors(t);
	if (fd > 0)
		close(fd);
}

static void
open_db(void)
{
	struct bm_error e = BM_ERROR_INIT;

	if (db)
		return;
	if (cli.no_db)
		bm_cli_usage_error(&cli, "--no-db: the database is needed");
	if (!(db = bm_db_open(cli.db, &e))) {
		bm_error_print(&e);
		exit(2);
	}
}

static char *
resolve(const char *spec)
{
	struct bm_error e = BM_ERROR_INIT;
	char *id;

	open_db();
	if (bm_runs_resolve(db, spec, &id, &e) < 0) {
		bm_error_print(&e);
		exit(2);
	}
	return id;
}

/* Is run id one of the runs read? */
static int
read_run_id(const struct bm_tally *t, const char *id)
{
	size_t i, n = strlen(id);

	for (i = 0; i < t->nruns; i++)
		if (strlen(t->runs[i]) == n + 2 &&
		    memcmp(t->runs[i] + 1, id, n) == 0)
			return 1;
	return 0;
}

/* The baseline: a file of results or stats, or a run. */
static struct bm_tally *
load_baseline(const struct bm_tally_opt *opt, const struct bm_tally *cur,
    cJSON **stats)
{
	struct bm_tally *b = bm_tally_new(opt);
	char *id = NULL, *spec;
	int i;

	*stats = NULL;
	if (strcmp(baseline_spec, "last") == 0) {
		/* The latest run that is not the one being read. */
		for (i = 0; i < 1000; i++) {
			spec = i ? xasprintf("last~%d", i) : xstrdup("last");
			free(id);
			id = resolve(spec);
			free(spec);
			if (!read_run_id(cur, id))
				break;
		}
	} else if (strncmp(baseline_spec, "run:", 4) == 0) {
		id = resolve(baseline_spec + 4);
	}
	if (id) {
		read_run(b, id);
		baseline_run = xasprintf("\"%s\"", id);
		free(id);
	} else {
		read_file(b, baseline_spec);
		if (status == 2)
			exit(2);
		if (b->results == 0)
			*stats = read_stats(baseline_spec);
		if (b->nruns == 1)
			baseline_run = xstrdup(b->runs[0]);
	}
	bm_tally_finish(b);
	return b;
}

static void
split_groups(const char *arg)
{
	static char *s;		/* the fields live here */
	char *p, *comma;

	free(s);
	s = xstrdup(arg);
	ngfields = 0;
	for (p = s; p; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p)
			bm_cli_usage_error(&cli, "-g: empty field in '%s'",
			    arg);
		gfields = xreallocarray(gfields, ngfields + 2, sizeof(char *));
		gfields[ngfields++] = p;
	}
}

int
main(int argc, char **argv)
{
	struct bm_tally_opt opt;
	struct bm_tally *t, *base = NULL;
	cJSON **recs, *bstats = NULL;
	struct bm_compare cx;
	char *eq, *id;
	size_t i, n;
	long nreg;
	int c;

	bm_cli_init(&cli, argv[0], usage);
	split_groups("model");
	bm_cli_options(&cli, options);
	while ((c = bm_cli_next(&cli, argc, argv)) != -1) {
		if (c == 'g') {
			split_groups(cli.arg);
			continue;
		}
		if (!(eq = strchr(cli.arg, '=')) || eq == cli.arg)
			bm_cli_usage_error(&cli, "--compare: expected "
			    "FIELD=VALUE, got '%s'", cli.arg);
		cmp_field = xstrndup(cli.arg, (size_t)(eq - cli.arg));
		cmp_value = xstrdup(eq + 1);
	}
	bm_cli_finish(&cli);
	if (run_spec && optind < argc)
		bm_cli_usage_error(&cli, "--run takes no FILE arguments");
	if (!check_by(by))
		bm_cli_usage_error(&cli, "--by: unknown metric '%s'", by);
	if (save && cli.no_db)
		bm_cli_usage_error(&cli, "--save needs the database");
	/* Stats of a comparison are per value of the compared field too. */
	if (cmp_field) {
		for (i = 0; i < ngfields; i++)
			if (strcmp(gfields[i], cmp_field) == 0)
				break;
		if (i == ngfields)
			gfields[ngfields++] = cmp_field;
	}

	memset(&opt, 0, sizeof(opt));
	opt.group = gfields;
	opt.ngroup = ngfields;
	opt.cmp = cmp_field;
	opt.rows = cmp_field || cases || baseline_spec;
	opt.text = cases || baseline_spec;
	t = bm_tally_new(&opt);
	if (run_spec) {
		id = resolve(run_spec);
		read_run(t, id);
		free(id);
	} else if (optind == argc) {
		read_file(t, "-");
	} else {
		for (; optind < argc; optind++)
			read_file(t, argv[optind]);
	}
	if (status == 2)
		return 2;
	bm_tally_finish(t);
	bm_debugf(1, "%ld results, %ld other records ignored, %ld malformed",
	    t->results, t->ignored, t->bad);
	if (baseline_spec)
		base = load_baseline(&opt, t, &bstats);
	if (save)
		open_db();
	memset(&cx, 0, sizeof(cx));
	cx.fields = gfields;
	cx.nfields = ngfields;
	cx.field = cmp_field;
	cx.value = cmp_value;
	cx.threshold = threshold;
	cx.baseline_run = baseline_run;
	cx.emit = emit;

	/* stat records, best first with --top */
	recs = xcalloc(t->ng + 1, sizeof(*recs));
	for (i = 0; i < t->ng; i++) {
		recs[i] = bm_compare_stat(&cx, t->g[i]);
		if (save)
			save_stat(t->g[i], recs[i]);
		if (fail_under >= 0 && t->g[i]->pass + t->g[i]->fail > 0 &&
		    (double)t->g[i]->pass / (double)(t->g[i]->pass +
		    t->g[i]->fail) < fail_under) {
			char *gk = bm_json_print(
			    cJSON_GetObjectItemCaseSensitive(recs[i], "group"));

			bm_errorf("%s: pass rate %.4g is below %g", gk,
			    (double)t->g[i]->pass / (double)(t->g[i]->pass +
			    t->g[i]->fail), fail_under);
			free(gk);
			status = status ? status : 1;
		}
	}
	n = t->ng;
	if (top) {
		by_path = by_alias(by);
		if (n > 1)
			qsort(recs, n, sizeof(*recs), top_cmp);
		if ((size_t)top < n)
			n = (size_t)top;
	}
	for (i = 0; i < t->ng; i++) {
		if (i < n)
			emit(recs[i], NULL);
		cJSON_Delete(recs[i]);
	}
	free(recs);

	if (cmp_field && (n = bm_compare_run(&cx, t)) > 0)
		bm_debugf(1, "--compare: no %s=%s in %zu group%s", cmp_field,
		    cmp_value, n, n == 1 ? "" : "s");
	if (base && (nreg = bm_compare_regressions(&cx, t, base,
	    bstats)) > 0) {
		bm_notef("%ld regression%s", nreg, nreg == 1 ? "" : "s");
		if (fail_on_regression)
			status = status ? status : 1;
	}
	if (cases)
		bm_compare_cases(&cx, t, base);

	cJSON_Delete(bstats);
	bm_tally_free(base);
	bm_tally_free(t);
	if (db)
		bm_db_close(db, NULL);
	if (bm_jsonl_finish(stdout) < 0)
		bm_die(2, "stdout: %s", strerror(errno));
	return status;
}
