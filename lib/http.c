/*
 * http.c: libcurl multi, driven by its socket interface: curl says which
 * sockets it waits on and when its next timer is due; one poll watches
 * them with the caller's descriptors, and curl is told only of the
 * sockets that are ready.  (curl_multi_perform visits every transfer
 * and polls each one's socket on each call: 64 system calls per wake-up
 * at -j64.)
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "clock.h"
#include "http.h"
#include "xalloc.h"

/* A socket curl waits on, and for what (CURL_POLL_IN, _OUT, _INOUT). */
struct sock {
	curl_socket_t fd;
	int what;
};

struct bm_http {
	CURLM *multi;
	long active;
	struct bm_http_xfer *head;	/* every transfer not yet reported */
	struct sock *socks;		/* what curl waits on */
	size_t nsocks, socks_cap;
	double due;			/* curl's timer (bm_clock_ms), or < 0 */
	struct pollfd *pfds;		/* polled: the caller's, then curl's */
	size_t npfds, ncaller, pfds_cap;
};

struct bm_http_xfer {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	struct bm_buf resp;
	char *retry_after;
	char errbuf[CURL_ERROR_SIZE];
	void (*on_data)(void *, const char *, size_t);
	void *user;
	size_t max_body;
	int too_big;
	struct bm_http_xfer *prev, *next;
};

/* What is kept of an error body: enough for its message. */
#define ERROR_BODY_MAX 4096

/* curl's CURLMOPT_SOCKETFUNCTION: wait on fd for what, or no more. */
static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct bm_http *h = arg;
	size_t i;

	(void)easy;
	(void)sockp;
	for (i = 0; i < h->nsocks && h->socks[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < h->nsocks)
			h->socks[i] = h->socks[--h->nsocks];
		return 0;
	}
	if (i == h->nsocks) {
		if (h->nsocks == h->socks_cap) {
			h->socks_cap = h->socks_cap ? 2 * h->socks_cap : 16;
			h->socks = xreallocarray(h->socks, h->socks_cap,
			    sizeof(*h->socks));
		}
		h->socks[h->nsocks++].fd = fd;
	}
	h->socks[i].what = what;
	return 0;
}

/* curl's CURLMOPT_TIMERFUNCTION: act in ms milliseconds (-1: never). */
static int
on_timer(CURLM *multi, long ms, void *arg)
{
	struct bm_http *h = arg;

	(void)multi;
	h->due = ms < 0 ? -1 : bm_clock_ms() + (double)ms;
	return 0;
}

struct bm_http *
bm_http_new(long max_conns)
{
	static int inited;
	struct bm_http *h;

	if (!inited) {
		/* Once per process: curl_global_init is not thread-safe. */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = 1;
	}
	h = xcalloc(1, sizeof(*h));
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return NULL;
	}
	if (max_conns > 0)
		curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, max_conns);
	/* Several streams over one HTTP/2 connection where offered. */
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	h->due = -1;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

static void
unlink_xfer(struct bm_http *h, struct bm_http_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		h->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	h->active--;
}

static void
xfer_free(struct bm_http_xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->body);
	bm_buf_free(&x->resp);
	free(x->retry_after);
	free(x);
}

void
bm_http_free(struct bm_http *h)
{
	if (!h)
		return;
	while (h->head)
		bm_http_cancel(h, h->head);
	curl_multi_cleanup(h->multi);
	free(h->socks);
	free(h->pfds);
	free(h);
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct bm_http_xfer *x = arg;
	size_t len = size * n, room;
	long code = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300) {
		/* An error body: its message, not its bulk. */
		room = x->resp.len < ERROR_BODY_MAX ?
		    ERROR_BODY_MAX - x->resp.len : 0;
		bm_buf_add(&x->resp, p, len < room ? len : room);
		return len;
	}
	if (x->max_body > 0 && x->resp.len + len > x->max_body) {
		x->too_big = 1;
		return 0;	/* abort the transfer */
	}
	bm_buf_add(&x->resp, p, size * n);
	if (x->on_data)
		x->on_data(x->user, p, size * n);
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct bm_http_xfer *x = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) - 1 &&
	    strncasecmp(p, name, sizeof(name) - 1) == 0) {
		const char *v = p + sizeof(name) - 1;
		size_t vl = len - (sizeof(name) - 1);

		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
		    v[vl - 1] == ' '))
			vl--;
		free(x->retry_after);
		x->retry_after = xstrndup(v, vl);
	} else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue): forget the old. */
		free(x->retry_after);
		x->retry_after = NULL;
	}
	return len;
}

struct bm_http_xfer *
bm_http_start(struct bm_http *h, const struct bm_http_req *req,
    struct bm_error *e)
{
	struct bm_http_xfer *x = xcalloc(1, sizeof(*x));
	const char *const *hd;
	CURLMcode mc;

	x->easy = curl_easy_init();
	if (!x->easy) {
		bm_error_set(e, req->url, 0, 0, "cannot create a transfer");
		goto fail;
	}
	x->on_data = req->on_data;
	x->user = req->user;
	x->max_body = req->max_body;
	for (hd = req->headers; hd && *hd; hd++) {
		struct curl_slist *n = curl_slist_append(x->headers, *hd);

		if (!n) {
			bm_error_set(e, req->url, 0, 0, "out of memory");
			goto fail;
		}
		x->headers = n;
	}
	/* No "Expect: 100-continue" round trip for larger bodies. */
	x->headers = curl_slist_append(x->headers, "Expect:");
	curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(x->easy, CURLOPT_TCP_NODELAY, 1L);
	/*
	 * No CURLOPT_PIPEWAIT: on plain http:// it would hold every new
	 * request behind the first connection's answer (one hang stalls all).
	 */
	if (req->timeout_ms > 0)
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->body) {
		x->body = xmalloc(req->body_len + 1);
		memcpy(x->body, req->body, req->body_len);
		x->body[req->body_len] = '\0';
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	}
	mc = curl_multi_add_handle(h->multi, x->easy);
	if (mc != CURLM_OK) {
		bm_error_set(e, req->url, 0, 0, "%s", curl_multi_strerror(mc));
		goto fail;
	}
	h->active++;
	x->next = h->head;
	if (h->head)
		h->head->prev = x;
	h->head = x;
	return x;
fail:
	xfer_free(x);
	return NULL;
}

void
bm_http_cancel(struct bm_http *h, struct bm_http_xfer *x)
{
	curl_multi_remove_handle(h->multi, x->easy);
	unlink_xfer(h, x);
	xfer_free(x);
}

int
bm_http_poll(struct bm_http *h, struct bm_pollfd *fds, unsigned nfds,
    int timeout_ms, struct bm_error *e)
{
	struct pollfd *p;
	double left;
	size_t i, n = nfds + h->nsocks;

	if (n > h->pfds_cap) {
		h->pfds_cap = n + 16;
		h->pfds = xreallocarray(h->pfds, h->pfds_cap,
		    sizeof(*h->pfds));
	}
	p = h->pfds;
	for (i = 0; i < nfds; i++)
		p[i] = (struct pollfd){ fds[i].fd, fds[i].events, 0 };
	for (i = 0; i < h->nsocks; i++)
		p[nfds + i] = (struct pollfd){ h->socks[i].fd,
		    (short)((h->socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
		    (h->socks[i].what & CURL_POLL_OUT ? POLLOUT : 0)), 0 };
	if (h->due >= 0) {
		left = h->due - bm_clock_ms();
		left = left > 0 ? left + 1 : 0;	/* not a millisecond early */
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = (int)left;
	}
	h->npfds = n;
	h->ncaller = nfds;
	if (poll(p, n, timeout_ms) < 0) {
		h->npfds = nfds;	/* tell curl of nothing */
		for (i = 0; i < n; i++)
			p[i].revents = 0;
		if (errno != EINTR) {
			bm_error_set(e, NULL, 0, 0, "poll: %s",
			    strerror(errno));
			return -1;
		}
	}
	for (i = 0; i < nfds; i++)
		fds[i].revents = p[i].revents;
	return 0;
}

/* Tell curl of the socket fd's events (revents of poll), or a timeout. */
static int
act(struct bm_http *h, curl_socket_t fd, short revents, struct bm_error *e)
{
	int running, ev = 0;
	CURLMcode mc;

	if (revents & (POLLIN | POLLHUP))
		ev |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		ev |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLNVAL))
		ev |= CURL_CSELECT_ERR;
	mc = curl_multi_socket_action(h->multi, fd, ev, &running);
	if (mc != CURLM_OK) {
		bm_error_set(e, NULL, 0, 0, "%s", curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

int
bm_http_perform(struct bm_http *h, struct bm_error *e)
{
	size_t i;

	/* The sockets of the last poll: curl ignores one it closed since. */
	for (i = h->ncaller; i < h->npfds; i++)
		if (h->pfds[i].revents && act(h, h->pfds[i].fd,
		    h->pfds[i].revents, e) < 0)
			return -1;
	h->npfds = h->ncaller = 0;
	if (h->due >= 0 && bm_clock_ms() >= h->due) {
		h->due = -1;
		if (act(h, CURL_SOCKET_TIMEOUT, 0, e) < 0)
			return -1;
	}
	return 0;
}

static enum bm_http_fail
classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return BM_HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return BM_HTTP_TIMEOUT;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		return BM_HTTP_PROTOCOL;
	default:
		return BM_HTTP_CONNECTION;
	}
}

int
bm_http_next(struct bm_http *h, struct bm_http_done *d)
{
	struct bm_http_xfer *x;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		memset(d, 0, sizeof(*d));
		d->user = x->user;
		d->fail = x->too_big ? BM_HTTP_TOO_BIG :
		    classify(m->data.result);
		if (x->too_big)
			d->message = xasprintf("answer larger than %zu bytes",
			    x->max_body);
		else if (d->fail != BM_HTTP_OK)
			d->message = xstrdup(x->errbuf[0] ? x->errbuf :
			    curl_easy_strerror(m->data.result));
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &d->status);
		d->body = x->resp;
		memset(&x->resp, 0, sizeof(x->resp));
		d->retry_after = x->retry_after;
		x->retry_after = NULL;
		curl_multi_remove_handle(h->multi, x->easy);
		unlink_xfer(h, x);
		xfer_free(x);
		return 1;
	}
	return 0;
}

void
bm_http_done_free(struct bm_http_done *d)
{
	free(d->message);
	bm_buf_free(&d->body);
	free(d->retry_after);
	memset(d, 0, sizeof(*d));
}

long
bm_http_active(const struct bm_http *h)
{
	return h->active;
}
