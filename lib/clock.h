/* clock.h: wall-clock timestamps (RFC 3339 UTC) and monotonic milliseconds. */
#ifndef BM_CLOCK_H
#define BM_CLOCK_H

#define BM_CLOCK_TIME_LEN 24	/* "2026-11-23T10:15:00.123Z" */

/* Milliseconds on the monotonic clock (for durations and timers). */
double bm_clock_ms(void);
/* Now as "2026-11-23T10:15:00.123Z" into out (BM_CLOCK_TIME_LEN + 1 bytes). */
void bm_clock_rfc3339(char out[BM_CLOCK_TIME_LEN + 1]);
/* Now as "20261123T101500Z" (for run ids) into out (17 bytes). */
void bm_clock_compact(char out[17]);

#endif
