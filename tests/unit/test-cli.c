/* test-cli: number parsing rejects junk; defaults from the environment. */
#include <stdlib.h>

#include "cli.h"
#include "tap.h"

int
main(void)
{
	struct bm_cli cli;
	double d;
	long v;

	ok(bm_parse_long("12", 1, 100, &v) == 0 && v == 12, "12 parses");
	ok(bm_parse_long("-3", -10, 10, &v) == 0 && v == -3, "negatives parse");
	ok(bm_parse_long("x", 0, 100, &v) < 0, "x is junk");
	ok(bm_parse_long("12x", 0, 100, &v) < 0, "trailing junk is rejected");
	ok(bm_parse_long("", 0, 100, &v) < 0, "empty is rejected");
	ok(bm_parse_long(" 1", 0, 100, &v) == 0, "leading blanks as strtol");
	ok(bm_parse_long("101", 0, 100, &v) < 0, "above the range");
	ok(bm_parse_long("99999999999999999999", 0, 100, &v) < 0, "overflow");
	ok(bm_parse_double("0.5", 0, 1, &d) == 0 && d == 0.5, "0.5 parses");
	ok(bm_parse_double("nan", 0, 1, &d) < 0, "nan is rejected");
	ok(bm_parse_double("1e999", 0, 1e308, &d) < 0, "infinity is rejected");
	ok(bm_parse_double("2.5s", 0, 10, &d) < 0, "units are junk");

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
	bm_cli_option(&cli, BM_OPT_DB, "given.db");
	bm_cli_finish(&cli);
	is(cli.db, "given.db", "--db beats the environment");
	return done_testing();
}
