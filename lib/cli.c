/* cli.c: shared option handling, so no program copies it. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"

/* The options every program takes, and their lines of -h. */
static const struct bm_cli_opt common[] = {
	{ 'h', "help", NULL, "print this help and exit", BM_CLI_COMMON,
	    NULL, 0, 0, 0 },
	{ 'q', "quiet", NULL, "print only errors on stderr", BM_CLI_COMMON,
	    NULL, 0, 0, 0 },
	{ 'v', "verbose", NULL, "say more on stderr (-vv: more still)",
	    BM_CLI_COMMON, NULL, 0, 0, 0 },
	{ BM_CLI_OPT_VERSION, "version", NULL, "print the version and exit",
	    BM_CLI_COMMON, NULL, 0, 0, 0 },
	{ BM_CLI_OPT_DB, "db", "PATH",
	    "the database (default: $BM_DB, else bm.db)", BM_CLI_COMMON,
	    NULL, 0, 0, 0 },
	{ BM_CLI_OPT_CONFIG, "config", "PATH",
	    "bm.yml to read (default: $BM_CONFIG or ./bm.yml)", BM_CLI_COMMON,
	    NULL, 0, 0, 0 },
	{ BM_CLI_OPT_NO_DB, "no-db", NULL, "do not open the database",
	    BM_CLI_COMMON, NULL, 0, 0, 0 },
	BM_OPT_END
};

/* getopt's value for a program's option that has no letter: AUTO + i. */
#define AUTO	0x2000

static int
is_end(const struct bm_cli_opt *o)
{
	return !o->key && !o->name;
}

static int
is_letter(int key)
{
	return key > 0 && key < 128 && isalnum(key);
}

/* The shared option whose key is key (a BM_OPT_COMMON's full entry). */
static const struct bm_cli_opt *
common_of(int key)
{
	const struct bm_cli_opt *o;

	for (o = common; !is_end(o); o++)
		if (o->key == key)
			return o;
	return NULL;
}

void
bm_cli_init(struct bm_cli *cli, const char *argv0, const char *usage)
{
	bm_err_init(argv0);
	memset(cli, 0, sizeof(*cli));
	cli->usage = usage;
}

void
bm_cli_options(struct bm_cli *cli, const struct bm_cli_opt *opts)
{
	cli->opts = opts;
}

/* Add o (getopt value val) to getopt_long's tables. */
static void
add(struct bm_cli *cli, size_t *n, const struct bm_cli_opt *o, int val)
{
	int has = !o->arg ? no_argument : o->arg[0] == '[' ?
	    optional_argument : required_argument;
	size_t len = strlen(cli->shortopts);

	if (*n >= BM_CLI_MAX)
		abort();	/* a table longer than BM_CLI_MAX: a bug */
	if (o->name)
		cli->longopts[(*n)++] = (struct option){ o->name, has, NULL,
		    val };
	if (is_letter(o->key))
		snprintf(cli->shortopts + len, sizeof(cli->shortopts) - len,
		    "%c%s", o->key, has == no_argument ? "" :
		    has == optional_argument ? "::" : ":");
}

static void
build(struct bm_cli *cli)
{
	const struct bm_cli_opt *o;
	size_t n = 0;

	for (o = cli->opts; o && !is_end(o); o++)
		if (o->kind != BM_CLI_COMMON)
			add(cli, &n, o, o->key ? o->key :
			    AUTO + (int)(o - cli->opts));
	for (o = common; !is_end(o); o++)
		add(cli, &n, o, o->key);
	cli->longopts[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* The program's entry getopt returned c for, or NULL. */
static const struct bm_cli_opt *
find(const struct bm_cli *cli, int c)
{
	const struct bm_cli_opt *o;

	for (o = cli->opts; o && !is_end(o); o++)
		if (o->kind != BM_CLI_COMMON && (o->key ? o->key == c :
		    c == AUTO + (int)(o - cli->opts)))
			return o;
	return NULL;
}

const char *
bm_cli_spelling(const struct bm_cli *cli, size_t i)
{
	static char buf[64];
	const struct bm_cli_opt *o = &cli->opts[i];

	if (o->kind == BM_CLI_COMMON)
		o = common_of(o->key);
	if (is_letter(o->key))
		snprintf(buf, sizeof(buf), "-%c", o->key);
	else
		snprintf(buf, sizeof(buf), "--%s", o->name);
	return buf;
}

/* Store o's value from arg; 1 for a BM_CLI_KEY, the program's to act on. */
static int
store(const struct bm_cli *cli, const struct bm_cli_opt *o, const char *arg)
{
	const char *opt = bm_cli_spelling(cli, (size_t)(o - cli->opts));

	switch (o->kind) {
	case BM_CLI_FLAG:
		if (o->value)
			*(int *)o->value = 1;
		return 0;
	case BM_CLI_STRING:
		*(const char **)o->value = arg;
		return 0;
	case BM_CLI_LONG:
		*(long *)o->value = bm_cli_long(opt, arg, (long)o->min,
		    (long)o->max);
		return 0;
	case BM_CLI_DOUBLE:
		*(double *)o->value = o->scale * bm_cli_double(opt, arg,
		    o->min, o->max);
		return 0;
	default:
		return 1;
	}
}

int
bm_cli_next(struct bm_cli *cli, int argc, char **argv)
{
	const struct bm_cli_opt *o;
	int c;

	if (!cli->shortopts[0])
		build(cli);
	while ((c = getopt_long(argc, argv, cli->shortopts, cli->longopts,
	    NULL)) != -1) {
		if (!(o = find(cli, c))) {
			bm_cli_option(cli, c, optarg);
			continue;
		}
		cli->seen |= 1ULL << (o - cli->opts);
		if (store(cli, o, optarg)) {
			cli->arg = optarg;
			return o->key;
		}
	}
	return -1;
}

void
bm_cli_parse(struct bm_cli *cli, int argc, char **argv)
{
	while (bm_cli_next(cli, argc, argv) != -1)
		abort();	/* a BM_CLI_KEY option in the table: a bug */
}

/* As git's usage_with_options: flags from column 4, help from column 26. */
#define OPTS_INDENT	4
#define OPTS_WIDTH	24
#define OPTS_GAP	2

void
bm_cli_help(const struct bm_cli *cli, FILE *fp)
{
	const struct bm_cli_opt *o, *c;
	const char *help;
	int pos;

	fputs(cli->usage, fp);
	if (!cli->opts)
		return;
	fputc('\n', fp);
	for (o = cli->opts; !is_end(o); o++) {
		c = o->kind == BM_CLI_COMMON ? common_of(o->key) : o;
		help = o->help ? o->help : c->help;
		pos = fprintf(fp, "%*s", OPTS_INDENT, "");
		if (is_letter(c->key))
			pos += fprintf(fp, "-%c%s", c->key,
			    c->name ? ", " : "");
		if (c->name)
			pos += fprintf(fp, "--%s", c->name);
		if (c->arg)
			pos += fprintf(fp, " %s", c->arg);
		if (pos > OPTS_WIDTH) {
			fputc('\n', fp);
			pos = 0;
		}
		fprintf(fp, "%*s%s\n", OPTS_WIDTH + OPTS_GAP - pos, "", help);
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
