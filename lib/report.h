/*
 * report.h: what bm-report renders.  Records are read into one model
 * (aggregates kept as JSON trees, results cut down to the fields the
 * formats need, so a million of them fit in memory), then each format
 * writes the model to a stream.  Renderers never print anything else
 * and never exit; the command checks the stream at the end.
 */
#ifndef BM_REPORT_H
#define BM_REPORT_H

#include <stdio.h>

#include <cJSON.h>

#include "buf.h"
#include "db.h"
#include "err.h"

struct bm_map;

/* One result record, as the renderers need it. */
struct bm_rres {
	const char *run_id;	/* interned strings: NULL when absent */
	const char *model;
	const char *benchmark;
	const char *benchmark_id;
	const char *variant;
	const char *error_class;
	int trial, repeat, step;	/* 0 when beyond an int (a million
					   of these: 96 bytes each) */
	char status;		/* 'p' pass, 'f' fail, 'e' error */
	double latency_ms;	/* NAN when absent */
	const char *error_message;	/* interned; NULL when absent */
	const char *reasons;	/* failed assertions' reasons, "; "-joined,
				   interned (they repeat) */
	const char *output;	/* kept only with keep_output (in the
				   report's arena, cut to what html shows:
				   BM_REPORT_OUTPUT_MAX bytes and one more) */
};

/* Bytes of raw (and the spill file before it) from offset off. */
struct bm_report_span {
	unsigned long long off;
	size_t len;
};

/* The results of one model ("-" for none), counted. */
struct bm_report_tally {
	const char *model;
	long n, pass, fail, error;
	double secs;		/* bm_report_secs summed in input order */
	struct bm_report_span *junit;	/* junit: its <testcase>s */
	size_t njunit;
};

#define BM_REPORT_FEW 50	/* results keep_few keeps of each status */
#define BM_REPORT_TCACHE 16	/* models found by address, not name */
#define BM_REPORT_CASES 5000	/* html: heat-map rows */
#define BM_REPORT_OUTPUT_MAX 1000	/* html: bytes of an answer shown */

/*
 * html's heat-map rows: case identities (benchmark, variant, trial,
 * model) in order of first appearance, the first BM_REPORT_CASES of
 * them.
 */
struct bm_report_rows {
	struct bm_map *keys;	/* row key -> index + 1 */
	size_t n;
	struct bm_map *benches;	/* the benchmarks the rows have */
	struct bm_buf lastb;	/* once full: the last benchmark asked, */
	int haslast, lastin;	/* ... and whether a row has it */
	struct bm_buf key;
};

/* keep_output: a run of the input's results, counted. */
struct bm_report_run {
	const char *id;		/* "-" for none */
	long pass, fail, error;
	long cases;		/* its results of step 0 */
};

/* Where a benchmark's YAML document is, for annotations. */
struct bm_where {
	char *path;
	long line;		/* 1-based first line; 0 when unknown */
};

/* A run of the history, oldest first (--history). */
struct bm_hrun {
	cJSON *run;		/* a "run" record built from runs/run_models */
	cJSON *models;		/* {model: {pass_rate, p95, cost_usd, n}} */
};

struct bm_report {
	const char *title;
	int keep_output;	/* html: keep answers for the cases tab */
	int keep_raw;		/* json: keep each result record as read
				   (instead of res: json needs no more) */
	int local;		/* a worker's of bm_report_read: atoms and
				   answers in the arena, per block */
	/* Aggregate records by type, in input order (arrays, owned). */
	cJSON *stats, *comparisons, *regressions, *case_stats, *runs;
	/*
	 * The results kept: with keep_output (html), those of the heat
	 * map's rows (rows), the input's others only counted (dropped, and
	 * by run in run); with keep_few, a few; with junit or keep_raw,
	 * none.
	 */
	struct bm_rres *res;
	size_t nres, capres;
	struct bm_report_rows rows;
	long dropped;
	struct bm_report_run *run;	/* in order of first appearance */
	size_t nrun;
	struct bm_map *runidx;	/* run id -> index + 1 in run */
	size_t lastrun;		/* index + 1 of the last run counted */
	struct bm_buf raw;	/* keep_raw: results, comma-separated, */
	FILE *spill;		/* ... the first of them in a temporary file */
	size_t nraw;
	int spill_err;		/* errno of a failed write to it */
	long ignored;		/* records of other types */
	/*
	 * Every result read, counted as it comes (whatever res keeps):
	 * with keep_few, res keeps only the first BM_REPORT_FEW failures
	 * and the first BM_REPORT_FEW errors, all that md, console, csv,
	 * github and bencher show of the results one by one.
	 */
	int keep_few;
	/*
	 * junit: each result's <testcase> written as it is read (by the
	 * workers), into raw and its spill file, where each model's tally
	 * has them; res keeps none.
	 */
	int junit;
	unsigned long long rawpos;	/* bytes raw_add took, in all */
	struct bm_buf scratch;
	double secs;		/* bm_report_secs of all, in input order */
	size_t nall;
	long npass, nfail, nerror;
	struct bm_report_tally *tally;	/* per model, in order of first
					   appearance */
	size_t ntally;
	struct bm_map *tallies;	/* model -> index + 1 in tally */
	size_t tidx;		/* the last model counted */
	size_t tcache[BM_REPORT_TCACHE];	/* index + 1 in tally of
					   models, by their address */
	struct bm_hrun *hist;
	size_t nhist;
	/*
	 * keep_output: the stored results of the history's runs, for the
	 * heat map (case identity and status; no answers or reasons).
	 */
	struct bm_rres *hres;
	size_t nhres, caphres;
	struct bm_map *where;	/* benchmark_id -> struct bm_where */
	struct bm_map *atoms;	/* interned strings */
	char **arena;		/* answers kept: blocks of 1 MB or more */
	size_t narena;
	char *arena_at;		/* free space in the last block */
	size_t arena_left;
};

/* Record types the model keeps. */
enum { BM_REC_OTHER, BM_REC_STAT, BM_REC_COMPARISON, BM_REC_REGRESSION,
	BM_REC_CASE_STAT, BM_REC_RUN, BM_REC_RESULT };

/* An empty report with the given title (NULL: "bm report"). */
void bm_report_init(struct bm_report *r, const char *title);
/* Free everything the report holds. */
void bm_report_free(struct bm_report *r);
/* Take rec (the report frees it); which BM_REC_ kind it was. */
int bm_report_add(struct bm_report *r, cJSON *rec);
/*
 * The fast path for millions of results: a result line's fields picked
 * out with lib/scan.h, no tree built.  1 when the line was taken (a
 * result, or a result of unknown status, counted as ignored); 0 when the
 * caller is to parse it and bm_report_add it (other types, invalid JSON
 * for the caller's message).  One scanner per thread, for one report.
 */
struct bm_report_scan;
struct bm_report_scan *bm_report_scan_new(void);
void bm_report_scan_free(struct bm_report_scan *s);
int bm_report_add_line(struct bm_report *r, struct bm_report_scan *s,
    const char *line, size_t len);
/*
 * Read every line of fd, called name in messages, into r: result lines
 * on worker threads (threads: 0, one per CPU; lib/lines.h), in input
 * order as one thread would.  Each line the fast path leaves (other
 * types, invalid JSON) goes, in order and on the calling thread, to
 * slow(arg, r, lineno, line, len) (the line is not NUL-terminated and
 * may be changed in place), which parses it, bm_report_adds it or says
 * why not, and returns -1 for a bad line.  0; 1 when slow said -1 for a
 * line; -1 and e on a read error (the lines before it are taken).
 */
int bm_report_read(struct bm_report *r, int fd, const char *name,
    int threads, int (*slow)(void *arg, struct bm_report *r, long lineno,
    char *line, size_t len), void *arg, struct bm_error *e);
/*
 * Read the last n runs (by started_at) with results up to and including
 * run until (NULL: the latest) from db, with per-model pass rate, p95
 * latency and cost from the stats table (else run_models' counts); with
 * keep_output, their stored results too (hres).  0 or -1 and e.
 */
int bm_report_history(struct bm_report *r, struct bm_db *db, long n,
    const char *until, struct bm_error *e);
/* Add run's stored stats and results as records; 0 or -1 and e. */
int bm_report_load_run(struct bm_report *r, struct bm_db *db,
    const char *run, struct bm_error *e);
/*
 * Look up, in db's catalog, the file and first line of every benchmark
 * that a result names; 0 or -1 and e.
 */
int bm_report_locate(struct bm_report *r, struct bm_db *db,
    struct bm_error *e);
/* The 1-based line where document doc of the YAML file starts; 0. */
long bm_report_doc_line(const char *path, long doc);

/* Rows start empty; free frees what they hold. */
void bm_report_rows_init(struct bm_report_rows *h);
void bm_report_rows_free(struct bm_report_rows *h);
/*
 * The row of x's case: its index (*added set when x's case made it), or
 * -1 when the rows are full and x's case is not one of them.
 */
long bm_report_row(struct bm_report_rows *h, const struct bm_rres *x,
    int *added);
/* x's row key, "id\x1fvariant\x1ftrial\x1fmodel", into o (reset). */
const char *bm_report_row_key(struct bm_buf *o, const struct bm_rres *x);

/* A group as "a/b" (its values joined by '/'; caller frees). */
char *bm_report_group(const cJSON *rec);
/* open, then rec's group through put (an escaper) to o. */
void bm_report_put_group(struct bm_buf *o, const cJSON *rec,
    const char *open, void (*put)(struct bm_buf *o, const char *text));
/* "variant/trial/repeat/step" of a result ("-" for no variant). */
char *bm_report_case_name(const struct bm_rres *x);
/* The one-line verdict (caller frees), without a trailing newline. */
char *bm_report_verdict(const struct bm_report *r);
/* A dotted path's number in rec ("latency_ms.p95"): 1 and *out, or 0. */
int bm_report_num(const cJSON *rec, const char *path, double *out);
/* A dotted path's rate as "72.5%" ("%.1f%%" of 100 x), "-" when absent. */
void bm_report_pct(struct bm_buf *b, const cJSON *rec, const char *path);
/*
 * The regressions as table rows: each is open, its group through put,
 * sep, its metric (no_metric when absent) through put, then cell[i] and
 * its baseline and current ("%.1f%%" of 100 x for a pass rate, else
 * "%.4g"), change ("%+.1f%%" of 100 rel) and p ("%.3g"), each none when
 * the record lacks it, then close.
 */
struct bm_report_row {
	const char *open, *sep, *no_metric, *cell[4], *none, *close;
	void (*put)(struct bm_buf *o, const char *text);
};
void bm_report_reg_rows(struct bm_buf *o, const cJSON *regs,
    const struct bm_report_row *row);
/*
 * A comparison's pass rates: 1 with *b (baseline), *a (candidate) and *d
 * (its delta, else a - b); 0 when it lacks either rate.
 */
int bm_report_cmp_rate(const cJSON *s, double *b, double *a, double *d);

/* The formats.  Each writes the whole report to f; 0, or -1 and e. */
struct bm_console {
	int color;		/* ANSI colours */
	int width;		/* columns, at least 60 */
};
int bm_render_console(FILE *f, const struct bm_report *r,
    const struct bm_console *c);
int bm_render_md(FILE *f, const struct bm_report *r);
int bm_render_csv(FILE *f, const struct bm_report *r);
int bm_render_json(FILE *f, const struct bm_report *r);
/* junit: r read with junit set. */
int bm_render_junit(FILE *f, const struct bm_report *r);
/* At most max annotations, then a summary line. */
int bm_render_github(FILE *f, const struct bm_report *r, int max);
int bm_render_bencher(FILE *f, const struct bm_report *r);
int bm_render_html(FILE *f, const struct bm_report *r);

/* s with & < > " ' as entities, for HTML and XML text and attributes. */
void bm_report_xml(struct bm_buf *o, const char *s);
/* A result's latency in seconds (0 when absent). */
double bm_report_secs(const struct bm_rres *x);
/* Result x as a JUnit <testcase> element (ci.c). */
void bm_render_junit_case(struct bm_buf *o, const struct bm_rres *x);
/*
 * Bytes [off, off + len) of what went to raw (json's records, junit's
 * elements), its spill file first, to f (len (size_t)-1: to the end):
 * 0, or -1 and errno.
 */
int bm_report_copy_raw(FILE *f, const struct bm_report *r,
    unsigned long long off, size_t len);

/* v in decimal, as "%ld" prints it, without printf (hot loops). */
void bm_report_long(struct bm_buf *o, long v);

#endif
