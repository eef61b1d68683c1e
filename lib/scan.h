/*
 * scan.h: pick a few fields out of a JSON line without building a tree,
 * for hot loops over millions of records (bm-stats).  The line is
 * tokenized with jsmn (strict mode); each field asked for by a dotted path
 * ("type", "usage.prompt_tokens", "vars.lang") comes back as a span of
 * the line: its JSON text, quotes included for a string.  One scanner
 * per thread: it owns its token buffer.
 */
#ifndef BM_SCAN_H
#define BM_SCAN_H

#include <stddef.h>

#include "err.h"

/* What a span holds. */
enum bm_span_kind {
	BM_SPAN_NONE,		/* the field is absent */
	BM_SPAN_STRING,
	BM_SPAN_NUMBER,
	BM_SPAN_LITERAL,	/* true, false, null */
	BM_SPAN_OBJECT,
	BM_SPAN_ARRAY
};

/* A value in the line: p[0..len) is its JSON text. */
struct bm_span {
	const char *p;
	size_t len;
	enum bm_span_kind kind;
};

struct bm_scan;

/* A scanner for n dotted paths (copied). */
struct bm_scan *bm_scan_new(const char *const *paths, size_t n);
/* Free a scanner. */
void bm_scan_free(struct bm_scan *s);
/*
 * Scan one line (len bytes, no newline): 0 and out[i] for path i (kind
 * BM_SPAN_NONE when absent), or -1 with e's message ("invalid JSON near
 * column N", "expected an object, got an array"; no file or line: the
 * caller sets them).  Blank lines are the caller's to skip.
 */
int bm_scan_line(struct bm_scan *s, const char *line, size_t len,
    struct bm_span *out, struct bm_error *e);

/* The span's number: 1 and *d when it is a finite JSON number, else 0. */
int bm_span_num(const struct bm_span *sp, double *d);
/* Non-zero when the span is the JSON string s (no escapes in s). */
int bm_span_is(const struct bm_span *sp, const char *s);
/*
 * An RFC 3339 time string ("2026-11-23T10:15:00.123Z", offsets allowed)
 * as milliseconds since the epoch: 1 and *ms, or 0 when it is not one.
 */
int bm_span_time(const struct bm_span *sp, double *ms);

#endif
