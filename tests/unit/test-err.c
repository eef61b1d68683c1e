/* test-err: error values, message format and secret redaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "tap.h"

/* Run fn with stderr captured into a string (caller frees). */
static char *
capture(void (*fn)(void))
{
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	FILE *saved = stderr;

	stderr = mem;
	fn();
	fflush(stderr);
	stderr = saved;
	fclose(mem);
	return out;
}

static void
print_positioned(void)
{
	struct bm_error e = BM_ERROR_INIT;

	bm_error_set(&e, "benchmarks/a.yml", 12, 3, "unknown key '%s'", "promt");
	bm_error_print(&e);
	bm_error_clear(&e);
}

static void
print_secret(void)
{
	bm_errorf("request failed: Authorization: Bearer sk-SENTINEL-123 x");
}

static void
print_warn(void)
{
	bm_warnf("careful");
}

static void
print_debug(void)
{
	bm_debugf(1, "details");
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	char *s;

	bm_err_init("/usr/bin/bm-test");
	is(bm_prog(), "bm-test", "the program name is argv[0]'s basename");

	bm_error_set(&e, "x.yml", 3, 7, "bad %s", "thing");
	is(bm_error_str(&e), "x.yml:3:7: bad thing", "file:line:col: message");
	bm_error_set(&e, "<stdin>", 57, 0, "expected an object");
	is(bm_error_str(&e), "<stdin>:57: expected an object",
	    "no column: file:line: message");
	bm_error_set(&e, "bm.db", 0, 0, "database is locked");
	is(bm_error_str(&e), "bm.db: database is locked", "no line: file: message");
	bm_error_set(&e, NULL, 0, 0, "plain");
	is(bm_error_str(&e), "plain", "no subject: message alone");
	bm_error_prefix(&e, "step %d", 2);
	is(bm_error_str(&e), "step 2: plain", "prefix adds context");
	bm_error_clear(&e);
	ok(e.msg == NULL && e.file == NULL, "clear resets");

	setenv("NO_COLOR", "1", 1);
	s = capture(print_positioned);
	is(s, "bm-test: benchmarks/a.yml:12:3: unknown key 'promt'\n",
	    "printed as prog: file:line:col: message");
	free(s);

	bm_redact_add("sk-SENTINEL-123");
	bm_redact_add("abc");	/* too short to redact safely: ignored */
	s = capture(print_secret);
	is(s, "bm-test: request failed: Authorization: Bearer [REDACTED] x\n",
	    "a registered secret never prints");
	free(s);
	s = bm_redact("sk-SENTINEL-123sk-SENTINEL-123 and abc");
	is(s, "[REDACTED][REDACTED] and abc", "every occurrence is replaced");
	free(s);
	ok(bm_redact_has("..sk-SENTINEL-123.."), "redact_has finds a secret");
	ok(!bm_redact_has("nothing here"), "and not where there is none");

	bm_verbosity = -1;
	s = capture(print_warn);
	is(s, "", "-q hides warnings");
	free(s);
	bm_verbosity = 0;
	s = capture(print_warn);
	is(s, "bm-test: warning: careful\n", "warnings say so");
	free(s);
	s = capture(print_debug);
	is(s, "", "debug output needs -v");
	free(s);
	bm_verbosity = 1;
	s = capture(print_debug);
	is(s, "bm-test: details\n", "and -v shows it");
	free(s);

	ok(!bm_color(1) || getenv("NO_COLOR") == NULL, "NO_COLOR disables colour");
	return done_testing();
}
