/* buf.c: growable strings (git's strbuf in miniature). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

void
bm_buf_grow(struct bm_buf *b, size_t n)
{
	size_t need = b->len + n + 1;

	if (need <= b->cap)
		return;
	if (need < b->len)	/* overflow */
		need = (size_t)-1;
	b->cap = b->cap ? b->cap : 64;
	while (b->cap < need)
		b->cap = b->cap * 2 > b->cap ? b->cap * 2 : need;
	b->s = xrealloc(b->s, b->cap);
}

void
bm_buf_add(struct bm_buf *b, const void *p, size_t n)
{
	bm_buf_grow(b, n);
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
bm_buf_adds(struct bm_buf *b, const char *s)
{
	bm_buf_add(b, s, strlen(s));
}

void
bm_buf_addc(struct bm_buf *b, int c)
{
	bm_buf_grow(b, 1);
	b->s[b->len++] = (char)c;
	b->s[b->len] = '\0';
}

void
bm_buf_vaddf(struct bm_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	bm_buf_grow(b, 64);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		bm_buf_grow(b, (size_t)n);
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void
bm_buf_addf(struct bm_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bm_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

const char *
bm_buf_str(const struct bm_buf *b)
{
	return b->s ? b->s : "";
}

void
bm_buf_reset(struct bm_buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

char *
bm_buf_detach(struct bm_buf *b, size_t *len)
{
	char *s;

	if (!b->s)
		bm_buf_grow(b, 0), b->s[0] = '\0';
	s = b->s;
	if (len)
		*len = b->len;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
bm_buf_free(struct bm_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}
