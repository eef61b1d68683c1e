/* test-cli: number parsing rejects junk; defaults from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "tap.h"

/* What bm_cli_help writes for usage and opts. */
static char *
help_of(const char *usage, const struct bm_cli_opt *opts)
{
	struct bm_cli cli;
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);

	bm_cli_init(&cli, "bm-test", usage);
	if (opts)
		bm_cli_options(&cli, opts);
	bm_cli_help(&cli, fp);
	fclose(fp);
	return s;
}

static void
help_lines(void)
{
	static const struct bm_cli_opt opts[] = {
		BM_OPT_KEY('t', "text", NULL, "print md5sum-style lines"),
		BM_OPT_KEY('c', "check", "FILE",
		    "check the ids listed in FILE"),
		BM_OPT_KEY(0x1200, "a-very-long-option", "[VALUE]",
		    "its help on the next line"),
		BM_OPT_KEY('n', NULL, "N", "a letter alone"),
		BM_OPT_QUIET,
		BM_OPT_COMMON(BM_CLI_OPT_DB, "a common option, its own line"),
		BM_OPT_END
	};
	char *s;

	s = help_of("usage: bm-test [-t]\n", NULL);
	is(s, "usage: bm-test [-t]\n", "without a table, -h is the usage");
	free(s);
	s = help_of("usage: bm-test [-t]\n", opts);
	is(s, "usage: bm-test [-t]\n"
	    "\n"
	    "    -t, --text            print md5sum-style lines\n"
	    "    -c, --check FILE      check the ids listed in FILE\n"
	    "    --a-very-long-option [VALUE]\n"
	    "                          its help on the next line\n"
	    "    -n N                  a letter alone\n"
	    "    -q, --quiet           print only errors on stderr\n"
	    "    --db PATH             a common option, its own line\n",
	    "then a blank line and one line per option, as git's");
	free(s);
}

/* One table parses every kind of option; keys come back in order. */
static void
parsing(void)
{
	const char *name = NULL;
	long n = 0;
	double ms = 0;
	int flag = 0, c, keys = 0;
	struct bm_cli cli;
	const struct bm_cli_opt opts[] = {
		BM_OPT_FLAG('t', "text", &flag, "a flag"),
		BM_OPT_STRING(0, "name", "NAME", &name, "a string"),
		BM_OPT_LONG('n', NULL, "N", &n, 0, 100, "a number"),
		BM_OPT_DOUBLE(0, "wait", "S", &ms, 0, 60, 1000, "seconds as ms"),
		BM_OPT_KEY('k', "key", "[V]", "handed back"),
		BM_OPT_FLAG(0, "seen-only", NULL, "only recorded"),
		BM_OPT_DB, BM_OPT_END
	};
	char *argv[] = { "bm-test", "-t", "--name", "x", "-n", "7",
	    "--wait=0.25", "--key=a", "-k", "--seen-only", "--db", "d.db",
	    "operand", NULL };

	bm_cli_init(&cli, "bm-test", "usage: bm-test\n");
	bm_cli_options(&cli, opts);
	optind = 1;
	while ((c = bm_cli_next(&cli, 13, argv)) != -1) {
		ok(c == 'k', "a BM_CLI_KEY option comes back");
		is(cli.arg, ++keys == 1 ? "a" : NULL, "with its argument");
	}
	ok(keys == 2, "both of them");
	ok(flag == 1, "-t set its flag");
	is(name, "x", "--name stored its string");
	ok(n == 7, "-n stored its number");
	ok(ms == 250, "--wait stored seconds times its scale");
	ok(cli.seen == 0x3f, "every option given is seen, by its place");
	is(cli.db, "d.db", "a common option is handled");
	ok(optind == 12, "optind is the first operand");
	is(bm_cli_spelling(&cli, 2), "-n", "a letter spells the option");
	is(bm_cli_spelling(&cli, 3), "--wait", "else its long name");
	is(bm_cli_spelling(&cli, 6), "--db", "a common one too");
}

int
main(void)
{
	struct bm_cli cli;
	double d;
	long v;

	ok(bm_cli_parse_long("12", 1, 100, &v) == 0 && v == 12, "12 parses");
	ok(bm_cli_parse_long("-3", -10, 10, &v) == 0 && v == -3, "negatives parse");
	ok(bm_cli_parse_long("x", 0, 100, &v) < 0, "x is junk");
	ok(bm_cli_parse_long("12x", 0, 100, &v) < 0, "trailing junk is rejected");
	ok(bm_cli_parse_long("", 0, 100, &v) < 0, "empty is rejected");
	ok(bm_cli_parse_long(" 1", 0, 100, &v) == 0, "leading blanks as strtol");
	ok(bm_cli_parse_long("101", 0, 100, &v) < 0, "above the range");
	ok(bm_cli_parse_long("99999999999999999999", 0, 100, &v) < 0, "overflow");
	ok(bm_cli_parse_double("0.5", 0, 1, &d) == 0 && d == 0.5, "0.5 parses");
	ok(bm_cli_parse_double("nan", 0, 1, &d) < 0, "nan is rejected");
	ok(bm_cli_parse_double("1e999", 0, 1e308, &d) < 0, "infinity is rejected");
	ok(bm_cli_parse_double("2.5s", 0, 10, &d) < 0, "units are junk");

	unsetenv("BM_DB");
	unsetenv("BM_CONFIG");
	bm_cli_init(&cli, "bm-test", "usage: bm-test\n");
	bm_cli_finish(&cli);
	is(cli.db, "bm.db", "the database defaults to ./bm.db");
	setenv("BM_DB", "/tmp/x.db", 1);
	setenv("BM_CONFIG", "/tmp/bm.yml", 1);
	bm_cli_init(&cli, "bm-test", "usage: bm-test\n");
	bm_cli_finish(&cli);
	is(cli.db, "/tmp/x.db", "BM_DB overrides it");
	is(cli.config, "/tmp/bm.yml", "BM_CONFIG names the config");
	ok(cli.config_given, "and then a missing file is an error");
	bm_cli_init(&cli, "bm-test", "usage: bm-test\n");
	bm_cli_option(&cli, BM_CLI_OPT_DB, "given.db");
	bm_cli_finish(&cli);
	is(cli.db, "given.db", "--db beats the environment");
	help_lines();
	parsing();
	return done_testing();
}
