/* test-clock: timestamps as records spell them. */
#include <string.h>

#include "clock.h"
#include "tap.h"

int
main(void)
{
	char t[BM_CLOCK_TIME_LEN + 1], c[17];
	double a, b;

	bm_clock_rfc3339(t);
	is_int(strlen(t), 24, "RFC 3339 with milliseconds is 24 characters");
	ok(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z',
	    "shaped 2026-11-23T10:15:00.123Z");
	bm_clock_compact(c);
	is_int(strlen(c), 16, "compact form is 16 characters");
	ok(c[8] == 'T' && c[15] == 'Z', "shaped 20261123T101500Z");
	a = bm_clock_ms();
	b = bm_clock_ms();
	ok(b >= a && a > 0, "the monotonic clock does not go back");
	return done_testing();
}
