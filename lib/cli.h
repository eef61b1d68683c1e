/*
 * cli.h: option parsing for every program, from one table per program, as
 * git's parse-options does.  The table says, for each option, its letter
 * and long name, the name of its argument, its line of -h, and where its
 * value goes: a flag, a string or a checked number is stored by the
 * library; a BM_CLI_KEY option is handed back by bm_cli_next for the
 * program to act on.  The options every program shares (--db, --config,
 * --no-db, -q, -v, -h, --version) are always accepted; a BM_OPT_COMMON
 * entry only places one of them, and its line, in -h's list.  -h prints
 * the usage (the man page's SYNOPSIS: tests/usage.sh checks it), a blank
 * line and one line per table entry, as git's usage does.
 */
#ifndef BM_CLI_H
#define BM_CLI_H

#include <getopt.h>
#include <stdio.h>

enum {
	BM_CLI_OPT_DB = 0x1000,
	BM_CLI_OPT_CONFIG,
	BM_CLI_OPT_NO_DB,
	BM_CLI_OPT_VERSION,
	BM_CLI_OPT_PROGRAM = 0x1100	/* the first free for a program's own */
};

enum bm_cli_kind {
	BM_CLI_KEY,	/* bm_cli_next returns the key, the argument in arg */
	BM_CLI_FLAG,	/* int *: set to 1; NULL: only seen (cli->seen) */
	BM_CLI_STRING,	/* const char **: the argument */
	BM_CLI_LONG,	/* long *: a whole number within [min, max] */
	BM_CLI_DOUBLE,	/* double *: a number within [min, max], times scale */
	BM_CLI_COMMON	/* a shared option's place (and line) in -h */
};

struct bm_cli_opt {
	int key;		/* its letter (-j), or a BM_CLI_KEY's number */
	const char *name;	/* --name, or NULL */
	const char *arg;	/* -h's name of the argument; NULL: none;
				 * "[N]": optional (--name=N) */
	const char *help;	/* -h's line; NULL: a common option's own */
	enum bm_cli_kind kind;
	void *value;
	double min, max, scale;
};

#define BM_OPT_KEY(K, L, A, H) \
	{ (K), (L), (A), (H), BM_CLI_KEY, NULL, 0, 0, 0 }
#define BM_OPT_FLAG(K, L, V, H) \
	{ (K), (L), NULL, (H), BM_CLI_FLAG, (V), 0, 0, 0 }
#define BM_OPT_STRING(K, L, A, V, H) \
	{ (K), (L), (A), (H), BM_CLI_STRING, (V), 0, 0, 0 }
#define BM_OPT_LONG(K, L, A, V, MIN, MAX, H) \
	{ (K), (L), (A), (H), BM_CLI_LONG, (V), (MIN), (MAX), 1 }
/* A number of seconds stored as milliseconds is BM_OPT_DOUBLE(..., 1000). */
#define BM_OPT_DOUBLE(K, L, A, V, MIN, MAX, SCALE, H) \
	{ (K), (L), (A), (H), BM_CLI_DOUBLE, (V), (MIN), (MAX), (SCALE) }
#define BM_OPT_COMMON(K, H) \
	{ (K), NULL, NULL, (H), BM_CLI_COMMON, NULL, 0, 0, 0 }
#define BM_OPT_DB	BM_OPT_COMMON(BM_CLI_OPT_DB, NULL)
#define BM_OPT_CONFIG	BM_OPT_COMMON(BM_CLI_OPT_CONFIG, NULL)
#define BM_OPT_NO_DB	BM_OPT_COMMON(BM_CLI_OPT_NO_DB, NULL)
#define BM_OPT_QUIET	BM_OPT_COMMON('q', NULL)
#define BM_OPT_VERBOSE	BM_OPT_COMMON('v', NULL)
#define BM_OPT_HELP	BM_OPT_COMMON('h', NULL)
#define BM_OPT_VERSION	BM_OPT_COMMON(BM_CLI_OPT_VERSION, NULL)
/* bm-exec's and bm-ingest's --progress. */
#define BM_OPT_PROGRESS(V) BM_OPT_FLAG(0, "progress", (V), \
	"the progress line even when stderr is no terminal")
#define BM_OPT_END	{ 0, NULL, NULL, NULL, BM_CLI_KEY, NULL, 0, 0, 0 }
/* Every shared option, in the order bm-exec and bm-ingest show them. */
#define BM_OPT_ALL_COMMON \
	BM_OPT_NO_DB, BM_OPT_DB, BM_OPT_CONFIG, BM_OPT_QUIET, BM_OPT_VERBOSE, \
	BM_OPT_HELP, BM_OPT_VERSION

/* getopt_long's tables: the program's options and the shared ones. */
#define BM_CLI_MAX	40

struct bm_cli {
	const char *usage;	/* the SYNOPSIS, printed by -h and on misuse */
	const struct bm_cli_opt *opts;	/* the program's table, or NULL */
	const char *arg;	/* a BM_CLI_KEY option's argument */
	unsigned long long seen; /* bit i: opts[i] was given */
	const char *db;		/* --db, $BM_DB, else "bm.db" */
	const char *config;	/* --config, $BM_CONFIG, else ./bm.yml if any */
	int config_given;	/* named: a missing file is an error */
	int no_db;		/* --no-db */
	struct option longopts[BM_CLI_MAX + 1];
	char shortopts[3 * BM_CLI_MAX + 1];
};

/* Start option parsing: program name for messages, usage text. */
void bm_cli_init(struct bm_cli *cli, const char *argv0, const char *usage);
/* The program's table, ended by BM_OPT_END (not copied). */
void bm_cli_options(struct bm_cli *cli, const struct bm_cli_opt *opts);
/*
 * Parse options up to the next BM_CLI_KEY one and return its key (its
 * argument in cli->arg), or -1 when none is left; optind is then the
 * first operand.  Stores the others' values; -h, --version, an unknown
 * option and a bad number exit as bm_cli_option says.
 */
int bm_cli_next(struct bm_cli *cli, int argc, char **argv);
/* bm_cli_next for a table with no BM_CLI_KEY option. */
void bm_cli_parse(struct bm_cli *cli, int argc, char **argv);
/* How messages spell opts[i]: "-n" when it has a letter, else "--name". */
const char *bm_cli_spelling(const struct bm_cli *cli, size_t i);
/* Print the usage and, with a table, a blank line and the option lines. */
void bm_cli_help(const struct bm_cli *cli, FILE *fp);
/*
 * Handle a common option (or '?' from getopt): -h prints usage and exits 0,
 * --version prints "prog 0.1.0" and exits 0, anything unknown prints usage
 * to stderr and exits 2.
 */
void bm_cli_option(struct bm_cli *cli, int opt, const char *arg);
/* Apply the environment defaults once options are parsed. */
void bm_cli_finish(struct bm_cli *cli);
/* Print "prog: message" and the usage to stderr, exit 2. */
void bm_cli_usage_error(const struct bm_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Parse a whole decimal integer within [min, max]; -1 on junk or range. */
int bm_cli_parse_long(const char *s, long min, long max, long *out);
/* Parse a whole finite number within [min, max]; -1 on junk or range. */
int bm_cli_parse_double(const char *s, double min, double max, double *out);
/* bm_cli_parse_long, or "prog: OPT: invalid number 'S'" and exit 2. */
long bm_cli_long(const char *opt, const char *s, long min, long max);
/* bm_cli_parse_double, or "prog: OPT: invalid number 'S'" and exit 2. */
double bm_cli_double(const char *opt, const char *s, double min, double max);

#endif
