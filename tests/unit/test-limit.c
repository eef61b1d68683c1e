/* test-limit: buckets, window, breaker, backoff and Retry-After. */
#include <time.h>

#include "limit.h"
#include "tap.h"

int
main(void)
{
	struct bm_bucket b;
	struct bm_window w;
	struct bm_breaker k;
	double ms;
	int i, n;

	/* rpm 600: a burst of 10, then 10 a second. */
	bm_bucket_init(&b, 600, 0);
	for (n = 0; bm_bucket_take(&b, 1, 0); n++)
		;
	is_int(n, 10, "rpm 600 starts with a burst of 10");
	ok(bm_bucket_wait(&b, 1, 0) > 99 && bm_bucket_wait(&b, 1, 0) < 101,
	    "then one more after 100 ms");
	ok(!bm_bucket_take(&b, 1, 50), "not after 50 ms");
	ok(bm_bucket_take(&b, 1, 100), "but after 100 ms");
	bm_bucket_init(&b, 30, 0);
	ok(bm_bucket_take(&b, 1, 0), "rpm 30 holds at least one");
	ok(!bm_bucket_take(&b, 1, 1000), "and refills at 0.5 a second");
	ok(bm_bucket_take(&b, 1, 2000), "one after two seconds");
	bm_bucket_init(&b, 0, 0);
	ok(bm_bucket_take(&b, 1e9, 0), "0 is unlimited");
	bm_bucket_init(&b, 60000, 0);
	ok(bm_bucket_take(&b, 5000, 0), "a request over the bucket passes"
	    " when it is full");
	ok(!bm_bucket_take(&b, 1, 0), "and empties it");

	/* tpm 1200: 20 estimated tokens at once, then 20 a second. */
	bm_bucket_init(&b, 1200, 0);
	ok(bm_bucket_take(&b, 10, 0) && bm_bucket_take(&b, 10, 0),
	    "tpm 1200 starts with 20 tokens");
	ok(!bm_bucket_take(&b, 10, 0), "then no more");
	ok(bm_bucket_wait(&b, 10, 0) > 499 && bm_bucket_wait(&b, 10, 0) < 501,
	    "10 tokens take 500 ms to come back");
	ok(bm_bucket_take(&b, 10, 500), "and are there after 500 ms");
	ok(!bm_bucket_take(&b, 1, 500), "not one more");
	ok(bm_bucket_take(&b, 20, 5000) && !bm_bucket_take(&b, 1, 5000),
	    "an idle bucket holds no more than one second's worth");

	bm_window_init(&w, 8);
	is_int(bm_window_limit(&w), 8, "window starts at its max");
	bm_window_throttled(&w);
	is_int(bm_window_limit(&w), 4, "a 429 halves it");
	bm_window_throttled(&w);
	bm_window_throttled(&w);
	bm_window_throttled(&w);
	is_int(bm_window_limit(&w), 1, "never below 1");
	for (i = 0; i < 20; i++)
		bm_window_success(&w);
	is_int(bm_window_limit(&w), 8, "grows by one per success up to max");
	bm_window_throttled(&w);
	is_int(bm_window_limit(&w), 4, "halves again");
	bm_window_success(&w);
	is_int(bm_window_limit(&w), 5, "one success: one more");
	bm_window_init(&w, 5);
	bm_window_throttled(&w);
	is_int(bm_window_limit(&w), 2, "5 halved is 2 in flight");

	bm_breaker_init(&k, 5, 1000);
	for (i = 0; i < 4; i++)
		bm_breaker_record(&k, 0, 0);
	ok(bm_breaker_allow(&k, 0), "4 failures: still closed");
	bm_breaker_record(&k, 0, 10);
	ok(!bm_breaker_allow(&k, 500), "5 in a row open it");
	ok(bm_breaker_wait(&k, 500) == 510, "for the cool-down");
	ok(bm_breaker_allow(&k, 1010), "then one probe");
	bm_breaker_started(&k);
	ok(!bm_breaker_allow(&k, 1010), "only one");
	bm_breaker_record(&k, 0, 1100);
	ok(!bm_breaker_allow(&k, 1200), "a failed probe opens it again");
	ok(bm_breaker_allow(&k, 2100), "probe again after the cool-down");
	bm_breaker_started(&k);
	bm_breaker_record(&k, 1, 2200);
	ok(bm_breaker_allow(&k, 2200) && k.state == BM_BREAKER_CLOSED,
	    "a good probe closes it");

	is_int((long)bm_backoff_ms(1, 1000, 60000, 0.5), 500,
	    "first retry: up to base");
	is_int((long)bm_backoff_ms(3, 1000, 60000, 0.5), 2000,
	    "third: up to 4 x base");
	is_int((long)bm_backoff_ms(30, 1000, 60000, 0.999999), 59999,
	    "capped at 60 s");
	for (i = 0, n = 1; i < 1000; i++) {
		ms = bm_random01();
		if (ms < 0 || ms >= 1)
			n = 0;
	}
	ok(n, "bm_random01 stays in [0, 1)");

	ok(bm_retry_after_parse("3", 0, &ms) == 0 && ms == 3000,
	    "Retry-After: seconds");
	ok(bm_retry_after_parse(" 1.5 \r\n", 0, &ms) == 0 && ms == 1500,
	    "fractions and blanks");
	ok(bm_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111775,
	    &ms) == 0 && ms == 2000, "an HTTP date, relative to now");
	ok(bm_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111787,
	    &ms) == 0 && ms == 0, "a date in the past is now");
	ok(bm_retry_after_parse("soon", 0, &ms) < 0, "junk is refused");
	ok(bm_retry_after_parse("5x", 0, &ms) < 0, "trailing junk too");
	done_testing();
}
