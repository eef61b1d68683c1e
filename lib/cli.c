/* cli.c: shared option handling, so no program copies it. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"

void
bm_cli_init(struct bm_cli *cli, const char *argv0, const char *usage)
{
	bm_err_init(argv0);
	cli->usage = usage;
	cli->opts = NULL;
	cli->db = NULL;
	cli->config = NULL;
	cli->config_given = 0;
	cli->no_db = 0;
}

void
bm_cli_options(struct bm_cli *cli, const struct bm_cli_opt *opts)
{
	cli->opts = opts;
}

/* As git's usage_with_options: flags from column 4, help from column 26. */
#define OPTS_INDENT	4
#define OPTS_WIDTH	24
#define OPTS_GAP	2

void
bm_cli_help(const struct bm_cli *cli, FILE *fp)
{
	const struct bm_cli_opt *o;
	int pos;

	fputs(cli->usage, fp);
	if (!cli->opts)
		return;
	fputc('\n', fp);
	for (o = cli->opts; o->flags; o++) {
		pos = fprintf(fp, "%*s%s", OPTS_INDENT, "", o->flags);
		if (pos > OPTS_WIDTH) {
			fputc('\n', fp);
			pos = 0;
		}
		fprintf(fp, "%*s%s\n", OPTS_WIDTH + OPTS_GAP - pos, "",
		    o->help);
	}
}

void
bm_cli_option(struct bm_cli *cli, int opt, const char *arg)
{
	switch (opt) {
	case 'h':
		bm_cli_help(cli, stdout);
		exit(fflush(stdout) == 0 ? 0 : 2);
	case BM_CLI_OPT_VERSION:
		printf("%s %s\n", bm_prog(), BM_VERSION);
		exit(fflush(stdout) == 0 ? 0 : 2);
	case 'q':
		bm_verbosity = -1;
		break;
	case 'v':
		bm_verbosity = bm_verbosity < 0 ? 1 : bm_verbosity + 1;
		break;
	case BM_CLI_OPT_DB:
		cli->db = arg;
		break;
	case BM_CLI_OPT_CONFIG:
		cli->config = arg;
		cli->config_given = 1;
		break;
	case BM_CLI_OPT_NO_DB:
		cli->no_db = 1;
		break;
	default:
		/* getopt has already named the bad option. */
		fputs(cli->usage, stderr);
		exit(2);
	}
}

void
bm_cli_finish(struct bm_cli *cli)
{
	const char *env;

	if (!cli->db) {
		env = getenv("BM_DB");
		cli->db = env && *env ? env : "bm.db";
	}
	if (!cli->config) {
		env = getenv("BM_CONFIG");
		if (env && *env) {
			cli->config = env;
			cli->config_given = 1;
		} else if (access("bm.yml", F_OK) == 0) {
			cli->config = "bm.yml";
		}
	}
}

void
bm_cli_usage_error(const struct bm_cli *cli, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	bm_errorf("%s", msg ? msg : "usage error");
	free(msg);
	fputs(cli->usage, stderr);
	exit(2);
}

/*
 * Read the whole of s as a decimal integer (into *l) or, l NULL, as a
 * number (into *d): 0, or -1 on junk, an empty string or an overflow.
 */
static int
scan(const char *s, long *l, double *d)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	if (l)
		*l = strtol(s, &end, 10);
	else
		*d = strtod(s, &end);
	return errno || *end || end == s ? -1 : 0;
}

int
bm_cli_parse_long(const char *s, long min, long max, long *out)
{
	long v;

	if (scan(s, &v, NULL) < 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
bm_cli_parse_double(const char *s, double min, double max, double *out)
{
	double v;

	if (scan(s, NULL, &v) < 0 || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long
bm_cli_long(const char *opt, const char *s, long min, long max)
{
	long v;

	if (bm_cli_parse_long(s, LONG_MIN, LONG_MAX, &v) < 0)
		bm_die(2, "%s: invalid number '%s'", opt, s);
	if (v < min || v > max)
		bm_die(2, "%s: %ld is out of range (%ld to %ld)", opt, v, min,
		    max);
	return v;
}

double
bm_cli_double(const char *opt, const char *s, double min, double max)
{
	double v;

	if (bm_cli_parse_double(s, -DBL_MAX, DBL_MAX, &v) < 0)
		bm_die(2, "%s: invalid number '%s'", opt, s);
	if (v < min || v > max)
		bm_die(2, "%s: %g is out of range (%g to %g)", opt, v, min,
		    max);
	return v;
}
