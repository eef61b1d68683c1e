/*
 * http.h: HTTP requests over libcurl's multi interface, driven the way
 * curl's own tool drives --parallel: one multi handle (one connection
 * cache, keep-alive, HTTP/2 where offered), a poll that also watches the
 * caller's file descriptors, a perform, and a drain of finished transfers.
 * This is the only header (and http.c the only file) that knows curl.
 */
#ifndef BM_HTTP_H
#define BM_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct bm_http;
struct bm_http_xfer;

/* A descriptor to watch besides the transfers (as struct pollfd). */
struct bm_pollfd {
	int fd;
	short events;	/* POLLIN, POLLOUT */
	short revents;	/* filled by bm_http_poll */
};

/* What to send.  Everything is copied by bm_http_start. */
struct bm_http_req {
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const char *body;		/* POST body, or NULL for GET */
	size_t body_len;
	long timeout_ms;		/* the whole transfer; 0: none */
	/* Called as response bytes arrive (SSE); may be NULL. */
	void (*on_data)(void *user, const char *p, size_t n);
	void *user;			/* handed back with the result */
	/* Bytes of a 2xx body (after decompression) at most; 0: no limit.
	 * Of another status's body only the first 4 KiB are kept. */
	size_t max_body;
};

/* How a transfer failed below HTTP. */
enum bm_http_fail {
	BM_HTTP_OK,		/* a response came (any status) */
	BM_HTTP_CONNECTION,	/* connect, reset, truncated, TLS */
	BM_HTTP_TIMEOUT,	/* timeout_ms passed */
	BM_HTTP_PROTOCOL,	/* not HTTP at all */
	BM_HTTP_TOO_BIG		/* the body passed max_body */
};

/* A finished transfer. */
struct bm_http_done {
	void *user;
	enum bm_http_fail fail;
	char *message;		/* curl's error text when fail; else NULL */
	long status;		/* HTTP status, 0 when none */
	struct bm_buf body;	/* the response body */
	char *retry_after;	/* the Retry-After header, or NULL */
};

/* A multi handle allowing max_conns open connections (0: curl's default). */
struct bm_http *bm_http_new(long max_conns);
/* Abort every transfer and free everything. */
void bm_http_free(struct bm_http *h);
/* Start a transfer; NULL and e when curl refuses it. */
struct bm_http_xfer *bm_http_start(struct bm_http *h,
    const struct bm_http_req *req, struct bm_error *e);
/* Abort a transfer that has not been reported done. */
void bm_http_cancel(struct bm_http *h, struct bm_http_xfer *x);
/*
 * Wait up to timeout_ms for transfer activity or for one of fds; fills
 * their revents.  0, or -1 with e.
 */
int bm_http_poll(struct bm_http *h, struct bm_pollfd *fds, unsigned nfds,
    int timeout_ms, struct bm_error *e);
/* Move the transfers along; 0, or -1 with e. */
int bm_http_perform(struct bm_http *h, struct bm_error *e);
/* The next finished transfer: 1 and *d (free with bm_http_done_free), or 0. */
int bm_http_next(struct bm_http *h, struct bm_http_done *d);
/* Free what a finished transfer holds. */
void bm_http_done_free(struct bm_http_done *d);
/* Transfers started and not yet reported. */
long bm_http_active(const struct bm_http *h);

#endif
