/*
 * tap.h: the Test Anything Protocol for the C unit tests, read by automake's
 * tap-driver.sh.  ok() prints one line per check; done_testing() the plan.
 */
#ifndef BM_TAP_H
#define BM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int
tap_ok(int pass, const char *file, int line, const char *what)
{
	tap_n++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - %s\n", pass ? "" : "not ", tap_n, what);
	if (!pass)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return pass;
}

/* ok(condition, "what it shows") */
#define ok(cond, what) tap_ok(!!(cond), __FILE__, __LINE__, (what))
/* is(got, want, "what"): string equality, NULL-safe, prints both on failure */
#define is(got, want, what) tap_is((got), (want), __FILE__, __LINE__, (what))
/* is_int(got, want, "what") */
#define is_int(got, want, what) \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, (what))

static inline int
tap_is(const char *got, const char *want, const char *file, int line,
    const char *what)
{
	int pass = (got == NULL && want == NULL) ||
	    (got && want && strcmp(got, want) == 0);

	if (!tap_ok(pass, file, line, what)) {
		printf("#        got: '%s'\n", got ? got : "(null)");
		printf("#   expected: '%s'\n", want ? want : "(null)");
	}
	return pass;
}

static inline int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *what)
{
	if (!tap_ok(got == want, file, line, what)) {
		printf("#        got: %lld\n", got);
		printf("#   expected: %lld\n", want);
		return 0;
	}
	return 1;
}

/* Print the plan; the exit status of main. */
static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
