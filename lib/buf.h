/* buf.h: growable byte strings, always NUL-terminated; never truncate. */
#ifndef BM_BUF_H
#define BM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct bm_buf {
	char *s;	/* NULL until the first add; see bm_buf_str */
	size_t len;
	size_t cap;
};

#define BM_BUF_INIT { NULL, 0, 0 }

/* Make room for n more bytes (plus the NUL). */
void bm_buf_grow(struct bm_buf *b, size_t n);
/* Append n bytes. */
void bm_buf_add(struct bm_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
void bm_buf_adds(struct bm_buf *b, const char *s);
/* Append one byte. */
void bm_buf_addc(struct bm_buf *b, int c);
/* Append formatted text. */
void bm_buf_addf(struct bm_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append formatted text from a va_list. */
void bm_buf_vaddf(struct bm_buf *b, const char *fmt, va_list ap);
/* The contents as a C string ("" when empty). */
const char *bm_buf_str(const struct bm_buf *b);
/* Empty the buffer, keeping its memory. */
void bm_buf_reset(struct bm_buf *b);
/* Hand the string to the caller (never NULL) and reinitialise the buffer. */
char *bm_buf_detach(struct bm_buf *b, size_t *len);
/* Free the memory and reinitialise. */
void bm_buf_free(struct bm_buf *b);

#endif
