/*
 * limit.h: the politeness machinery of bm-exec (DESIGN.md §8, §10): token
 * buckets for rpm/tpm, an adaptive concurrency window that halves on a 429,
 * a circuit breaker, exponential backoff with full jitter, and Retry-After.
 * Times are milliseconds on the monotonic clock, passed in by the caller so
 * that everything here is deterministic and testable.
 */
#ifndef BM_LIMIT_H
#define BM_LIMIT_H

#include <time.h>

/* A token bucket: starts full, holds one second's worth. */
struct bm_bucket {
	double cap;	/* tokens; 0: unlimited */
	double tokens;
	double rate;	/* tokens per ms */
	double last;	/* ms of the last refill */
};

/* Set up for per_minute tokens a minute (0: unlimited), full at now. */
void bm_bucket_init(struct bm_bucket *b, double per_minute, double now);
/*
 * Take n tokens if there are enough: 1, else 0.  A request larger than
 * the bucket passes when the bucket is full, so it cannot wait forever.
 */
int bm_bucket_take(struct bm_bucket *b, double n, double now);
/* Milliseconds until n tokens can be taken (0 when now). */
double bm_bucket_wait(struct bm_bucket *b, double n, double now);

/* Adaptive concurrency: halve on a 429, grow by one per success. */
struct bm_window {
	double size;	/* current window, >= 1 */
	long max;	/* upper bound, >= 1 */
};

/* Start at max (at least 1). */
void bm_window_init(struct bm_window *w, long max);
/* A request was rate limited. */
void bm_window_throttled(struct bm_window *w);
/* A request succeeded. */
void bm_window_success(struct bm_window *w);
/* Requests that may be in flight now. */
long bm_window_limit(const struct bm_window *w);

/* Circuit breaker: open after a run of failures, then one probe. */
enum bm_breaker_state { BM_BREAKER_CLOSED, BM_BREAKER_OPEN, BM_BREAKER_HALF };

struct bm_breaker {
	enum bm_breaker_state state;
	int fails;		/* failures in a row */
	int threshold;		/* failures that open it */
	double cooldown;	/* ms open before the probe */
	double until;		/* ms: open until */
	int probing;		/* the probe is in flight */
};

/* Closed, opening after threshold failures for cooldown_ms. */
void bm_breaker_init(struct bm_breaker *b, int threshold, double cooldown_ms);
/* May a request start now?  In half-open state, lets one probe through. */
int bm_breaker_allow(struct bm_breaker *b, double now);
/* Note that a request allowed by bm_breaker_allow was started. */
void bm_breaker_started(struct bm_breaker *b);
/* Record an outcome: ok non-zero for success. */
void bm_breaker_record(struct bm_breaker *b, int ok, double now);
/* Milliseconds until the breaker lets a probe through (0 when closed). */
double bm_breaker_wait(const struct bm_breaker *b, double now);

/*
 * Full-jitter backoff before retry number attempt (1 for the first
 * retry): r01 * min(cap, base * 2^(attempt-1)), r01 uniform in [0, 1).
 */
double bm_backoff_ms(int attempt, double base_ms, double cap_ms, double r01);
/* A uniform random number in [0, 1) (not for secrets). */
double bm_random01(void);

/*
 * Parse a Retry-After value: delta seconds or an HTTP date (RFC 9110,
 * IMF-fixdate), relative to now.  0 and *ms (>= 0), or -1 when malformed.
 */
int bm_retry_after_parse(const char *s, time_t now, double *ms);

#endif
