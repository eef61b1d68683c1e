/* clock.c: time as bm records and run ids spell it. */
#include <stdio.h>
#include <time.h>

#include "clock.h"

double
bm_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
bm_clock_rfc3339(char out[BM_CLOCK_TIME_LEN + 1])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, BM_CLOCK_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, BM_CLOCK_TIME_LEN + 1 - 19, ".%03uZ",
	    (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

void
bm_clock_compact(char out[17])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
