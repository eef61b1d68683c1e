/* limit.c: buckets, windows, breakers and backoff for bm-exec. */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "cli.h"
#include "limit.h"

void
bm_bucket_init(struct bm_bucket *b, double per_minute, double now)
{
	if (per_minute <= 0) {
		b->cap = b->tokens = b->rate = 0;
	} else {
		/* One second's worth, at least one: rpm 600 -> 10. */
		b->cap = per_minute / 60.0;
		if (b->cap < 1)
			b->cap = 1;
		b->tokens = b->cap;
		b->rate = per_minute / 60000.0;
	}
	b->last = now;
}

static void
refill(struct bm_bucket *b, double now)
{
	if (now > b->last) {
		b->tokens += (now - b->last) * b->rate;
		if (b->tokens > b->cap)
			b->tokens = b->cap;
	}
	b->last = now;
}

int
bm_bucket_take(struct bm_bucket *b, double n, double now)
{
	if (b->cap == 0)
		return 1;
	if (bm_bucket_wait(b, n, now) > 0)
		return 0;
	b->tokens -= n > b->cap ? b->cap : n;
	return 1;
}

double
bm_bucket_wait(struct bm_bucket *b, double n, double now)
{
	if (b->cap == 0)
		return 0;
	refill(b, now);
	if (n > b->cap)
		n = b->cap;
	/* A small epsilon: refills are fractional. */
	if (b->tokens + 1e-9 >= n)
		return 0;
	return (n - b->tokens) / b->rate;
}

void
bm_window_init(struct bm_window *w, long max)
{
	w->max = max < 1 ? 1 : max;
	w->size = (double)w->max;
}

void
bm_window_throttled(struct bm_window *w)
{
	w->size /= 2;
	if (w->size < 1)
		w->size = 1;
}

void
bm_window_success(struct bm_window *w)
{
	w->size += 1;
	if (w->size > (double)w->max)
		w->size = (double)w->max;
}

long
bm_window_limit(const struct bm_window *w)
{
	return (long)w->size;
}

void
bm_breaker_init(struct bm_breaker *b, int threshold, double cooldown_ms)
{
	memset(b, 0, sizeof(*b));
	b->state = BM_BREAKER_CLOSED;
	b->threshold = threshold;
	b->cooldown = cooldown_ms;
}

int
bm_breaker_allow(struct bm_breaker *b, double now)
{
	switch (b->state) {
	case BM_BREAKER_CLOSED:
		return 1;
	case BM_BREAKER_OPEN:
		if (now < b->until)
			return 0;
		b->state = BM_BREAKER_HALF;
		b->probing = 0;
		/* FALLTHROUGH */
	case BM_BREAKER_HALF:
		return !b->probing;
	}
	return 1;
}

void
bm_breaker_started(struct bm_breaker *b)
{
	if (b->state == BM_BREAKER_HALF)
		b->probing = 1;
}

void
bm_breaker_record(struct bm_breaker *b, int ok, double now)
{
	if (ok) {
		b->fails = 0;
		b->state = BM_BREAKER_CLOSED;
		b->probing = 0;
		return;
	}
	b->fails++;
	if (b->state == BM_BREAKER_HALF ||
	    (b->state == BM_BREAKER_CLOSED && b->fails >= b->threshold)) {
		b->state = BM_BREAKER_OPEN;
		b->until = now + b->cooldown;
		b->probing = 0;
	}
}

double
bm_breaker_wait(const struct bm_breaker *b, double now)
{
	if (b->state != BM_BREAKER_OPEN || now >= b->until)
		return 0;
	return b->until - now;
}

double
bm_backoff_ms(int attempt, double base_ms, double cap_ms, double r01)
{
	double d = base_ms;
	int i;

	for (i = 1; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	return r01 * d;
}

double
bm_random01(void)
{
	static uint64_t s;
	uint64_t x;

	if (s == 0) {
		if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
			s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		s |= 1;
	}
	/* xorshift64*: jitter needs spread, not secrecy. */
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	x = s * 0x2545F4914F6CDD1DULL;
	return (double)(x >> 11) / 9007199254740992.0;
}

static int
month(const char *m)
{
	static const char *const names[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(m, names[i], 3) == 0)
			return i;
	return -1;
}

int
bm_retry_after_parse(const char *s, time_t now, double *ms)
{
	struct tm tm;
	char wd[4], mon[4], tz[4];
	int day, year, h, mi, sec, n = 0;
	double secs;
	time_t t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s >= '0' && *s <= '9') {
		size_t len = strlen(s);
		char *dup;
		int rc;

		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
		    s[len - 1] == '\r' || s[len - 1] == '\n'))
			len--;
		dup = strndup(s, len);
		if (!dup)
			return -1;
		rc = bm_cli_parse_double(dup, 0, 1e9, &secs);
		free(dup);
		if (rc < 0)
			return -1;
		*ms = secs * 1000.0;
		return 0;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
	if (sscanf(s, "%3s, %d %3s %d %d:%d:%d %3s%n", wd, &day, mon, &year,
	    &h, &mi, &sec, tz, &n) != 8 || strcmp(tz, "GMT") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = month(mon);
	tm.tm_year = year - 1900;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if (tm.tm_mon < 0 || day < 1 || day > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	t = timegm(&tm);
	*ms = t > now ? (double)(t - now) * 1000.0 : 0;
	return 0;
}
