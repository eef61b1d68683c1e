/* xalloc.h: allocation that cannot fail: running out of memory is fatal. */
#ifndef BM_XALLOC_H
#define BM_XALLOC_H

#include <stddef.h>

/* malloc(n), or exit 2 with a message when memory is exhausted. */
void *xmalloc(size_t n);
/* calloc(n, size), checked for overflow and exhaustion. */
void *xcalloc(size_t n, size_t size);
/* realloc(p, n), or exit 2. */
void *xrealloc(void *p, size_t n);
/* realloc(p, n * size), checked for overflow. */
void *xreallocarray(void *p, size_t n, size_t size);
/* strdup(s); NULL stays NULL. */
char *xstrdup(const char *s);
/* The first n bytes of s as a new NUL-terminated string. */
char *xstrndup(const char *s, size_t n);
/* A newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
