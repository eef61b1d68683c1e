/*
 * cli.h: the options every program shares (--db, --config, --no-db, -q, -v,
 * -h, --version) and number parsing that rejects junk.  Each program puts
 * BM_CLI_SHORTOPTS and BM_CLI_LONGOPTS in its getopt_long tables and passes
 * any option it does not handle itself to bm_cli_option.  -h prints the
 * usage (the man page's SYNOPSIS: tests/usage.sh checks it), then, when the
 * program gave bm_cli_options a table, a blank line and one line per option
 * as git's usage does.
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

#define BM_CLI_SHORTOPTS "hqv"
#define BM_CLI_LONGOPTS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "version", no_argument, NULL, BM_CLI_OPT_VERSION }, \
	{ "db", required_argument, NULL, BM_CLI_OPT_DB }, \
	{ "config", required_argument, NULL, BM_CLI_OPT_CONFIG }, \
	{ "no-db", no_argument, NULL, BM_CLI_OPT_NO_DB }

/* One line of -h's option list: {"-j, --jobs N", "requests in flight"}. */
struct bm_cli_opt {
	const char *flags;
	const char *help;
};

/* The common options' lines, for a table that ends with BM_CLI_HELP_END. */
#define BM_CLI_HELP_DB \
	{ "--db PATH", "the database (default: $BM_DB, else bm.db)" }
#define BM_CLI_HELP_CONFIG \
	{ "--config PATH", "bm.yml to read (default: $BM_CONFIG or ./bm.yml)" }
#define BM_CLI_HELP_NO_DB \
	{ "--no-db", "do not open the database" }
#define BM_CLI_HELP_QUIET \
	{ "-q, --quiet", "print only errors on stderr" }
#define BM_CLI_HELP_VERBOSE \
	{ "-v, --verbose", "say more on stderr (-vv: more still)" }
#define BM_CLI_HELP_HELP \
	{ "-h, --help", "print this help and exit" }
#define BM_CLI_HELP_VERSION \
	{ "--version", "print the version and exit" }
#define BM_CLI_HELP_END { NULL, NULL }

struct bm_cli {
	const char *usage;	/* the SYNOPSIS, printed by -h and on misuse */
	const struct bm_cli_opt *opts;	/* -h's option list, or NULL */
	const char *db;		/* --db, $BM_DB, else "bm.db" */
	const char *config;	/* --config, $BM_CONFIG, else ./bm.yml if any */
	int config_given;	/* named: a missing file is an error */
	int no_db;		/* --no-db */
};

/* Start option parsing: program name for messages, usage text. */
void bm_cli_init(struct bm_cli *cli, const char *argv0, const char *usage);
/* The option lines -h prints after the usage (the table is not copied). */
void bm_cli_options(struct bm_cli *cli, const struct bm_cli_opt *opts);
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
