/*
 * llmstub: a fake LLM server that bm-exec is tested and benchmarked against.
 *
 *   llmstub [-p port] [-P portfile] [-l logfile] [-d delay_ms] [-t words]
 *
 * It speaks the OpenAI, Anthropic and Ollama chat APIs on 127.0.0.1 from one
 * single-threaded epoll loop.  Directives such as [[latency=50]] in the last
 * user message choose what it does, so each test case asks for its own
 * fault; tests/stub/README.md is the protocol.  Invariants: a connection
 * works on one request at a time and holds at most one timer, and an answer
 * is prepared in full when its request arrives, then released by fire().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "map.h"
#include "xalloc.h"

static const char usage[] =
    "usage: llmstub [-p port] [-P portfile] [-l logfile] [-d delay_ms] "
    "[-t words]\n";

#define MAX_HEAD	(64 * 1024)		/* request line and headers */
#define MAX_HEADERS	100
#define MAX_BODY	(64L * 1024 * 1024)	/* larger bodies get 413 */
#define MAX_AHEAD	(1024 * 1024)	/* bytes read or queued ahead */
#define MAX_CONNS	10000
#define MAX_MS		(24L * 3600 * 1000)	/* longest delay accepted */
#define LINGER_MS	1000	/* drain time before closing on an error */
#define NO_TIMER	((size_t)-1)

enum vendor { V_NONE = -1, V_OPENAI, V_ANTHROPIC, V_OLLAMA };

enum state {
	S_READ,		/* reading a request (and maybe sending the last answer) */
	S_WAIT,		/* answer prepared, waiting for its latency */
	S_STREAM,	/* between two groups of a stream */
	S_HANG,		/* [[fault=hang]]: silent until the client goes */
	S_LINGER	/* answered with an error, draining before close */
};

enum kind { K_FULL, K_STREAM, K_RESET, K_HANG };

/* The request whose head has been parsed. */
struct req {
	int have_head;
	size_t head_len;	/* bytes up to and including the blank line */
	size_t clen;		/* Content-Length */
	char *method;
	char *path;		/* target without the query */
	char *query;		/* NULL when there is none */
	cJSON *headers;		/* lowercased name: value, for the log */
	int expect;		/* Expect: 100-continue */
};

struct conn {
	int fd;
	enum state state;
	uint32_t mask;		/* events registered with epoll */
	struct bm_buf in;	/* bytes from the start of the current request */
	size_t scan;		/* where to resume looking for the blank line */
	struct bm_buf out;
	size_t off;		/* bytes of out already sent */
	int eof;		/* the peer closed its side */
	int http11;
	int keep;		/* keep the connection after this answer */
	int counted;		/* this request is counted in in_flight */
	int close_after;	/* close once out is sent */
	int linger;		/* ... after draining what the client sends */
	int sent_continue;
	struct req req;
	/* The prepared answer: groups of wire bytes sent at one time. */
	enum kind kind;
	struct bm_buf *groups;
	size_t ngroups;
	size_t next;		/* first group not yet sent */
	long gap;		/* ms between groups */
	int truncate;		/* close after the groups, without an end */
	long delay;		/* ms before the first group */
	double due;		/* ms, monotonic */
	size_t heapi;		/* index in the timer heap, or NO_TIMER */
	struct conn *prev, *next_conn;
};

/* A counter per string key, kept in insertion order for /stats. */
struct counter {
	char *key;
	long n;
};

struct table {
	struct counter *v;
	size_t len, cap;
	struct bm_map *index;	/* key -> index + 1 into v */
};

/* What the directives of one message ask for; -1 or NULL when unset. */
struct dirs {
	struct bm_buf text;	/* the message without its directives */
	char *answer;
	long latency;
	long status;
	long retry_after;
	long retry_after_date;
	char *error_code;
	long fail_first;
	int fault;		/* 0 or one of F_* */
	long sse_delay;
	long usage_p, usage_c;
	int judge;		/* 0 or one of J_*: answer as a judge */
	char *judge_fail;	/* [[judge-fail-model=M]]: M votes fail */
};

enum { J_PASS = 1, J_FAIL, J_GARBAGE, J_WORDS };

/* The answers of a judge, by J_*. */
static const char *const judge_says[] = {
	NULL,
	"{\"pass\": true, \"score\": 1, \"reason\": \"the rubric is met\"}",
	"{\"pass\": false, \"score\": 0, \"reason\": \"the rubric is not"
	    " met\"}",
	"I cannot decide.",
	"Verdict: PASS, score 0.8"
};

enum { F_HANG = 1, F_RESET, F_GARBAGE, F_TRUNCATE, F_NUL, F_BADUTF8 };

static struct {
	int ep, lfd, sfd;
	FILE *log;
	const char *logname;
	long delay;		/* -d */
	long words;		/* -t */
	unsigned long seq;	/* requests since start; ids use it */
	long requests, in_flight, max_in_flight;
	struct table by_message, by_path;
	struct conn **heap;
	size_t nheap, heapcap;
	struct conn *conns;
	size_t nconns;
	int stop;
	int accept_paused;
	double accept_resume;
} g;

/* Markers for the listening socket and the signalfd in epoll data. */
static char lmark, smark;

static int conn_flush(struct conn *);
static int parse(struct conn *);

/* --- counters ------------------------------------------------------------ */

/* Add one to key's counter and return the new count. */
static long
table_bump(struct table *t, const char *key)
{
	uintptr_t i;

	if (!t->index)
		t->index = bm_map_new();
	i = (uintptr_t)bm_map_get(t->index, key);
	if (i)
		return ++t->v[i - 1].n;
	if (t->len == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->len].key = xstrdup(key);
	t->v[t->len].n = 1;
	bm_map_put(t->index, key, (void *)(uintptr_t)++t->len);
	return 1;
}

static void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->len; i++)
		free(t->v[i].key);
	free(t->v);
	bm_map_free(t->index, NULL);
	memset(t, 0, sizeof(*t));
}

static cJSON *
table_json(const struct table *t)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;

	for (i = 0; i < t->len; i++)
		cJSON_AddNumberToObject(o, t->v[i].key, (double)t->v[i].n);
	return o;
}

/* --- timers: a min-heap of connections by due time ------------------------ */

static void
heap_put(size_t i, struct conn *c)
{
	g.heap[i] = c;
	c->heapi = i;
}

static void
heap_up(size_t i)
{
	struct conn *c = g.heap[i];

	while (i > 0 && g.heap[(i - 1) / 2]->due > c->due) {
		heap_put(i, g.heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_put(i, c);
}

static void
heap_down(size_t i)
{
	struct conn *c = g.heap[i];
	size_t k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= g.nheap)
			break;
		if (k + 1 < g.nheap && g.heap[k + 1]->due < g.heap[k]->due)
			k++;
		if (g.heap[k]->due >= c->due)
			break;
		heap_put(i, g.heap[k]);
		i = k;
	}
	heap_put(i, c);
}

static void
timer_clear(struct conn *c)
{
	size_t i = c->heapi;

	if (i == NO_TIMER)
		return;
	c->heapi = NO_TIMER;
	if (i == --g.nheap)
		return;
	heap_put(i, g.heap[g.nheap]);
	/* At most one of these moves anything. */
	heap_up(i);
	heap_down(i);
}

static void
timer_set(struct conn *c, long ms)
{
	timer_clear(c);
	if (g.nheap == g.heapcap) {
		g.heapcap = g.heapcap ? 2 * g.heapcap : 64;
		g.heap = xreallocarray(g.heap, g.heapcap, sizeof(*g.heap));
	}
	c->due = bm_clock_ms() + (double)ms;
	heap_put(g.nheap++, c);
	heap_up(c->heapi);
}

/* --- connections ---------------------------------------------------------- */

static void
req_clear(struct req *r)
{
	free(r->method);
	free(r->path);
	free(r->query);
	cJSON_Delete(r->headers);
	memset(r, 0, sizeof(*r));
}

static void
groups_free(struct conn *c)
{
	size_t i;

	for (i = 0; i < c->ngroups; i++)
		bm_buf_free(&c->groups[i]);
	free(c->groups);
	c->groups = NULL;
	c->ngroups = c->next = 0;
}

/* The request is answered (or abandoned): it is no longer in flight. */
static void
uncount(struct conn *c)
{
	if (c->counted) {
		c->counted = 0;
		g.in_flight--;
	}
}

static void
conn_close(struct conn *c, int reset)
{
	struct linger lg = { 1, 0 };

	uncount(c);
	timer_clear(c);
	if (reset)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	/* close() also removes the descriptor from the epoll set. */
	close(c->fd);
	if (c->prev)
		c->prev->next_conn = c->next_conn;
	else
		g.conns = c->next_conn;
	if (c->next_conn)
		c->next_conn->prev = c->prev;
	g.nconns--;
	bm_buf_free(&c->in);
	bm_buf_free(&c->out);
	req_clear(&c->req);
	groups_free(c);
	free(c);
}

/* Register the events c now needs; epoll_ctl only when they change. */
static void
conn_update(struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	/* A client that sends but does not read waits until it has read. */
	if (!c->eof && c->out.len - c->off <= MAX_AHEAD)
		want |= EPOLLIN;
	if (c->off < c->out.len)
		want |= EPOLLOUT;
	if (want == c->mask)
		return;
	ev.events = want;
	ev.data.ptr = c;
	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->mask = want;
}

static void
conn_accept(void)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/*
				 * Out of descriptors: stop listening for a
				 * while, or level-triggered epoll would spin.
				 */
				epoll_ctl(g.ep, EPOLL_CTL_DEL, g.lfd, NULL);
				g.accept_paused = 1;
				g.accept_resume = bm_clock_ms() + 100;
			}
			return;
		}
		if (g.nconns >= MAX_CONNS) {
			close(fd);
			continue;
		}
		/* Small writes (stream chunks) must leave at once. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->heapi = NO_TIMER;
		c->mask = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
			continue;
		}
		c->next_conn = g.conns;
		if (g.conns)
			g.conns->prev = c;
		g.conns = c;
		g.nconns++;
	}
}

/* Send what we can; -1 when the connection was closed. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->off < c->out.len) {
		n = send(c->fd, c->out.s + c->off, c->out.len - c->off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c, 0);
			return -1;
		}
		c->off += (size_t)n;
	}
	if (c->off == c->out.len) {
		bm_buf_reset(&c->out);
		c->off = 0;
		if (c->close_after && c->state == S_READ) {
			if (!c->linger || c->eof) {
				conn_close(c, 0);
				return -1;
			}
			/*
			 * The client may still be sending a body we refused;
			 * closing now would turn our answer into a reset.
			 */
			shutdown(c->fd, SHUT_WR);
			c->state = S_LINGER;
			timer_set(c, LINGER_MS);
		}
	}
	conn_update(c);
	return 0;
}

/* --- building answers ----------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

static struct bm_buf *
group_add(struct conn *c)
{
	struct bm_buf *b;

	c->groups = xreallocarray(c->groups, c->ngroups + 1,
	    sizeof(*c->groups));
	b = &c->groups[c->ngroups++];
	memset(b, 0, sizeof(*b));
	return b;
}

/*
 * A status line and headers.  clen < 0 means a stream: chunked for
 * HTTP/1.1, ended by closing the connection for HTTP/1.0.
 */
static void
head(struct conn *c, struct bm_buf *b, int status, const char *ctype,
    long long clen, const char *extra)
{
	if (clen < 0 && !c->http11)
		c->keep = 0;
	bm_buf_addf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status,
	    reason(status), ctype);
	if (clen >= 0)
		bm_buf_addf(b, "Content-Length: %lld\r\n", clen);
	else if (c->http11)
		bm_buf_adds(b, "Transfer-Encoding: chunked\r\n"
		    "Cache-Control: no-cache\r\n");
	if (!c->keep)
		bm_buf_adds(b, "Connection: close\r\n");
	else if (!c->http11)
		bm_buf_adds(b, "Connection: keep-alive\r\n");
	if (extra)
		bm_buf_adds(b, extra);
	bm_buf_adds(b, "\r\n");
}

/* Prepare a whole answer with a JSON body (consumed). */
static void
reply_json(struct conn *c, int status, cJSON *body, const char *extra)
{
	struct bm_buf *b;
	char *s = cJSON_PrintUnformatted(body);
	size_t n;

	if (s == NULL)
		bm_die(2, "out of memory");
	n = strlen(s);
	groups_free(c);
	c->kind = K_FULL;
	b = group_add(c);
	head(c, b, status, "application/json", (long long)n, extra);
	bm_buf_add(b, s, n);
	free(s);
	cJSON_Delete(body);
}

/* An error for a request that never reached an endpoint; then close. */
static void
reply_http_error(struct conn *c, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *e;

	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "type", "invalid_request_error");
	cJSON_AddNullToObject(e, "code");
	c->keep = 0;
	c->linger = 1;
	reply_json(c, status, o, NULL);
}

/* Append data to a stream group, as one HTTP chunk when chunked. */
static void
stream_put(struct conn *c, size_t gi, const char *s, size_t n)
{
	struct bm_buf *b = &c->groups[gi];

	if (n == 0)
		return;
	if (c->http11)
		bm_buf_addf(b, "%zx\r\n", n);
	bm_buf_add(b, s, n);
	if (c->http11)
		bm_buf_adds(b, "\r\n");
}

/* Append an SSE event (or an NDJSON line when event is "") with a body. */
static void
stream_event(struct conn *c, size_t gi, const char *event, cJSON *o)
{
	struct bm_buf e = BM_BUF_INIT;
	char *s = cJSON_PrintUnformatted(o);

	if (s == NULL)
		bm_die(2, "out of memory");
	if (event == NULL)
		bm_buf_addf(&e, "%s\n", s);
	else if (*event == '\0')
		bm_buf_addf(&e, "data: %s\n\n", s);
	else
		bm_buf_addf(&e, "event: %s\ndata: %s\n\n", event, s);
	stream_put(c, gi, e.s, e.len);
	bm_buf_free(&e);
	free(s);
	cJSON_Delete(o);
}

/* --- the log and the counters --------------------------------------------- */

static void
log_request(struct conn *c, unsigned long n, double t, cJSON *body,
    const char *raw, size_t rawlen)
{
	cJSON *o;
	char *s, *str;

	if (g.log == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "n", (double)n);
	cJSON_AddStringToObject(o, "method", c->req.method);
	cJSON_AddStringToObject(o, "path", c->req.path);
	if (c->req.query)
		cJSON_AddStringToObject(o, "query", c->req.query);
	cJSON_AddItemReferenceToObject(o, "headers", c->req.headers);
	if (body)
		cJSON_AddItemReferenceToObject(o, "body", body);
	else if (rawlen == 0)
		cJSON_AddNullToObject(o, "body");
	else {
		str = xstrndup(raw, rawlen);
		cJSON_AddStringToObject(o, "body", str);
		free(str);
	}
	/* Microseconds are plenty, and keep the numbers short. */
	cJSON_AddNumberToObject(o, "t_ms", (double)(long long)(t * 1e3) / 1e3);
	cJSON_AddNumberToObject(o, "in_flight", (double)g.in_flight);
	s = cJSON_PrintUnformatted(o);
	if (s == NULL)
		bm_die(2, "out of memory");
	cJSON_Delete(o);
	fputs(s, g.log);
	putc('\n', g.log);
	free(s);
	if (fflush(g.log) == EOF) {
		bm_errorf("%s: %s", g.logname, strerror(errno));
		fclose(g.log);
		g.log = NULL;
	}
}

static void
reply_stats(struct conn *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "requests", (double)g.requests);
	cJSON_AddNumberToObject(o, "max_in_flight", (double)g.max_in_flight);
	cJSON_AddNumberToObject(o, "in_flight", (double)g.in_flight);
	cJSON_AddItemToObject(o, "by_message", table_json(&g.by_message));
	cJSON_AddItemToObject(o, "by_path", table_json(&g.by_path));
	reply_json(c, 200, o, NULL);
}

static void
reply_reset(struct conn *c)
{
	cJSON *o = cJSON_CreateObject();

	g.requests = 0;
	/* Requests still in flight stay counted until they are answered. */
	g.max_in_flight = g.in_flight;
	table_free(&g.by_message);
	table_free(&g.by_path);
	cJSON_AddBoolToObject(o, "ok", 1);
	reply_json(c, 200, o, NULL);
}

/* --- directives ----------------------------------------------------------- */

static void
dirs_free(struct dirs *d)
{
	bm_buf_free(&d->text);
	free(d->answer);
	free(d->error_code);
	free(d->judge_fail);
}

static int
dir_number(const char *v, long max, long *out, struct bm_buf *err,
    const char *key)
{
	if (bm_cli_parse_long(v, 0, max, out) == 0)
		return 0;
	bm_buf_addf(err, "llmstub: bad directive [[%s=%s]]: expected a "
	    "number from 0 to %ld", key, v, max);
	return -1;
}

/* Apply one [[key=value]]; -1 with a message in err when it is bad. */
static int
dir_apply(struct dirs *d, const char *key, const char *v, struct bm_buf *err)
{
	const char *comma;
	char *p;
	int rc;

	if (strcmp(key, "answer") == 0) {
		free(d->answer);
		d->answer = xstrdup(v);
		return 0;
	}
	if (strcmp(key, "latency") == 0)
		return dir_number(v, MAX_MS, &d->latency, err, key);
	if (strcmp(key, "sse-delay") == 0)
		return dir_number(v, MAX_MS, &d->sse_delay, err, key);
	if (strcmp(key, "retry-after") == 0)
		return dir_number(v, 366L * 86400, &d->retry_after, err, key);
	if (strcmp(key, "retry-after-date") == 0)
		return dir_number(v, 366L * 86400, &d->retry_after_date, err,
		    key);
	if (strcmp(key, "fail-first") == 0)
		return dir_number(v, 1000000000L, &d->fail_first, err, key);
	if (strcmp(key, "status") == 0) {
		if (bm_cli_parse_long(v, 400, 599, &d->status) == 0)
			return 0;
		bm_buf_addf(err, "llmstub: bad directive [[status=%s]]: "
		    "expected an HTTP status from 400 to 599", v);
		return -1;
	}
	if (strcmp(key, "error-code") == 0 && *v != '\0') {
		free(d->error_code);
		d->error_code = xstrdup(v);
		return 0;
	}
	if (strcmp(key, "fault") == 0) {
		if (strcmp(v, "hang") == 0)
			d->fault = F_HANG;
		else if (strcmp(v, "reset") == 0)
			d->fault = F_RESET;
		else if (strcmp(v, "garbage") == 0)
			d->fault = F_GARBAGE;
		else if (strcmp(v, "truncate") == 0)
			d->fault = F_TRUNCATE;
		else if (strcmp(v, "nul") == 0)
			d->fault = F_NUL;
		else if (strcmp(v, "bad-utf8") == 0)
			d->fault = F_BADUTF8;
		else {
			bm_buf_addf(err, "llmstub: bad directive [[fault=%s]]: "
			    "expected hang, reset, garbage, truncate, nul or"
			    " bad-utf8", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "judge") == 0) {
		if (strcmp(v, "pass") == 0)
			d->judge = J_PASS;
		else if (strcmp(v, "fail") == 0)
			d->judge = J_FAIL;
		else if (strcmp(v, "garbage") == 0)
			d->judge = J_GARBAGE;
		else if (strcmp(v, "words") == 0)
			d->judge = J_WORDS;
		else {
			bm_buf_addf(err, "llmstub: bad directive [[judge=%s]]: "
			    "expected pass, fail, garbage or words", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "judge-fail-model") == 0 && *v != '\0') {
		free(d->judge_fail);
		d->judge_fail = xstrdup(v);
		return 0;
	}
	if (strcmp(key, "usage") == 0) {
		comma = strchr(v, ',');
		rc = -1;
		if (comma) {
			p = xstrndup(v, (size_t)(comma - v));
			rc = bm_cli_parse_long(p, 0, 1000000000000L,
			    &d->usage_p);
			free(p);
			if (rc == 0)
				rc = bm_cli_parse_long(comma + 1, 0,
				    1000000000000L, &d->usage_c);
		}
		if (rc == 0)
			return 0;
		bm_buf_addf(err, "llmstub: bad directive [[usage=%s]]: "
		    "expected P,C", v);
		return -1;
	}
	bm_buf_addf(err, "llmstub: unknown directive [[%s=%s]]", key, v);
	return -1;
}

static int
is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	    ch == '\f' || ch == '\v';
}

/*
 * Take the [[key=value]] directives out of msg.  A [[ without a key of
 * [a-z0-9-] and an = before its ]] is plain text, so prompts that happen
 * to contain brackets are left alone.
 */
static int
dirs_parse(const char *msg, struct dirs *d, struct bm_buf *err)
{
	const char *p = msg, *q, *end, *eq, *k;
	char *key, *val;
	size_t i;
	int rc;

	memset(d, 0, sizeof(*d));
	d->latency = d->status = d->retry_after = d->retry_after_date = -1;
	d->fail_first = d->sse_delay = d->usage_p = d->usage_c = -1;
	for (;;) {
		q = strstr(p, "[[");
		if (q == NULL)
			break;
		end = strstr(q + 2, "]]");
		if (end == NULL)
			break;
		eq = memchr(q + 2, '=', (size_t)(end - q - 2));
		for (k = q + 2; eq && k < eq; k++)
			if (!((*k >= 'a' && *k <= 'z') ||
			    (*k >= '0' && *k <= '9') || *k == '-'))
				break;
		if (eq == NULL || eq == q + 2 || k != eq) {
			bm_buf_add(&d->text, p, (size_t)(q + 2 - p));
			p = q + 2;
			continue;
		}
		bm_buf_add(&d->text, p, (size_t)(q - p));
		key = xstrndup(q + 2, (size_t)(eq - q - 2));
		val = xstrndup(eq + 1, (size_t)(end - eq - 1));
		rc = dir_apply(d, key, val, err);
		free(key);
		free(val);
		if (rc == -1)
			return -1;
		p = end + 2;
	}
	bm_buf_adds(&d->text, p);
	/* Trim, so "[[latency=5]] Hi" echoes as "Hi". */
	for (i = 0; i < d->text.len && is_space(d->text.s[i]); i++)
		;
	if (i > 0) {
		memmove(d->text.s, d->text.s + i, d->text.len - i + 1);
		d->text.len -= i;
	}
	while (d->text.len > 0 && is_space(d->text.s[d->text.len - 1]))
		d->text.s[--d->text.len] = '\0';
	return 0;
}

static int
number_at(const char *s, long long *v, const char **end)
{
	char *e;

	if (!((*s >= '0' && *s <= '9') ||
	    (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	*v = strtoll(s, &e, 10);
	if (errno != 0 || *e == '.')
		return -1;
	*end = e;
	return 0;
}

/* "What is A + B?" (also -, * and x) answered into out; -1 if none. */
static int
arithmetic(const char *s, struct bm_buf *out)
{
	const char *p, *q;
	long long a, b, r;
	int op, bad;

	for (p = s;; p = q + 1) {
		q = strcasestr(p, "what is ");
		if (q == NULL)
			return -1;
		p = q + 8;
		while (*p == ' ')
			p++;
		if (number_at(p, &a, &p) == -1)
			continue;
		while (*p == ' ')
			p++;
		op = *p;
		if (op != '+' && op != '-' && op != '*' && op != 'x' &&
		    op != 'X')
			continue;
		p++;
		while (*p == ' ')
			p++;
		if (number_at(p, &b, &p) == -1)
			continue;
		if (op == '+')
			bad = __builtin_add_overflow(a, b, &r);
		else if (op == '-')
			bad = __builtin_sub_overflow(a, b, &r);
		else
			bad = __builtin_mul_overflow(a, b, &r);
		if (bad)
			continue;
		bm_buf_addf(out, "%lld", r);
		return 0;
	}
}

/* --- the model endpoints -------------------------------------------------- */

/* UTF-8 characters (not bytes) in s, for the prompt token estimate. */
static size_t
chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * The text of a content: a string, or an array of parts whose "text"
 * members are joined by newlines.  Adds its characters to *nchars.
 */
static void
content_text(const cJSON *content, struct bm_buf *out, size_t *nchars)
{
	const cJSON *part, *t;
	int first = 1;

	if (cJSON_IsString(content)) {
		*nchars += chars(content->valuestring);
		if (out)
			bm_buf_adds(out, content->valuestring);
		return;
	}
	cJSON_ArrayForEach(part, content) {
		t = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(t))
			continue;
		*nchars += chars(t->valuestring);
		if (out) {
			if (!first)
				bm_buf_addc(out, '\n');
			bm_buf_adds(out, t->valuestring);
		}
		first = 0;
	}
}

static long
count_words(const char *s)
{
	long n = 0;
	int in = 0;

	for (; *s; s++) {
		if (is_space((unsigned char)*s))
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

/*
 * The error types each vendor uses for a status; code is OpenAI's
 * error.code (NULL for null).
 */
static const char *
error_type(enum vendor v, int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return v == V_OPENAI ? "invalid_request_error" :
		    "authentication_error";
	case 403: return "permission_error";
	case 404: return v == V_OPENAI ? "invalid_request_error" :
		    "not_found_error";
	case 413: return "request_too_large";
	case 429: return v == V_OPENAI ? "requests" : "rate_limit_error";
	case 529: return "overloaded_error";
	default: return v == V_OPENAI ? "server_error" : "api_error";
	}
}

static void
reply_vendor_error(struct conn *c, enum vendor v, int status,
    const char *code, const char *msg, const struct dirs *d)
{
	struct bm_buf extra = BM_BUF_INIT;
	cJSON *o = cJSON_CreateObject(), *e;
	char date[64];
	struct tm tm;
	time_t t;

	if (v == V_OLLAMA)
		cJSON_AddStringToObject(o, "error", msg);
	else if (v == V_ANTHROPIC) {
		cJSON_AddStringToObject(o, "type", "error");
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "type", error_type(v, status));
		cJSON_AddStringToObject(e, "message", msg);
	} else {
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "message", msg);
		cJSON_AddStringToObject(e, "type", error_type(v, status));
		if (code && strcmp(code, "context_length_exceeded") == 0)
			cJSON_AddStringToObject(e, "param", "messages");
		else
			cJSON_AddNullToObject(e, "param");
		if (code)
			cJSON_AddStringToObject(e, "code", code);
		else
			cJSON_AddNullToObject(e, "code");
	}
	if (d && d->retry_after_date >= 0) {
		t = time(NULL) + d->retry_after_date;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		bm_buf_addf(&extra, "Retry-After: %s\r\n", date);
	} else if (d && d->retry_after >= 0)
		bm_buf_addf(&extra, "Retry-After: %ld\r\n", d->retry_after);
	else if (status == 429)
		bm_buf_adds(&extra, "Retry-After: 1\r\n");
	reply_json(c, status, o, extra.len ? extra.s : NULL);
	bm_buf_free(&extra);
}

/* Everything an answer is built from. */
struct answer {
	enum vendor v;
	unsigned long n;
	const char *model;
	const char *text;
	long p, ctok;		/* prompt and completion tokens */
	int stream;
};

static cJSON *
body_openai(const struct answer *a)
{
	cJSON *o = cJSON_CreateObject(), *ch, *m, *u;
	char *id = xasprintf("chatcmpl-%lu", a->n);

	cJSON_AddStringToObject(o, "id", id);
	free(id);
	cJSON_AddStringToObject(o, "object", "chat.completion");
	cJSON_AddNumberToObject(o, "created", (double)time(NULL));
	cJSON_AddStringToObject(o, "model", a->model);
	ch = cJSON_AddArrayToObject(o, "choices");
	cJSON_AddItemToArray(ch, m = cJSON_CreateObject());
	cJSON_AddNumberToObject(m, "index", 0);
	u = cJSON_AddObjectToObject(m, "message");
	cJSON_AddStringToObject(u, "role", "assistant");
	cJSON_AddStringToObject(u, "content", a->text);
	cJSON_AddStringToObject(m, "finish_reason", "stop");
	u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "prompt_tokens", (double)a->p);
	cJSON_AddNumberToObject(u, "completion_tokens", (double)a->ctok);
	cJSON_AddNumberToObject(u, "total_tokens", (double)(a->p + a->ctok));
	return o;
}

static cJSON *
body_anthropic(const struct answer *a, int streaming)
{
	cJSON *o = cJSON_CreateObject(), *arr, *t, *u;
	char *id = xasprintf("msg_%lu", a->n);

	cJSON_AddStringToObject(o, "id", id);
	free(id);
	cJSON_AddStringToObject(o, "type", "message");
	cJSON_AddStringToObject(o, "role", "assistant");
	cJSON_AddStringToObject(o, "model", a->model);
	arr = cJSON_AddArrayToObject(o, "content");
	if (!streaming) {
		cJSON_AddItemToArray(arr, t = cJSON_CreateObject());
		cJSON_AddStringToObject(t, "type", "text");
		cJSON_AddStringToObject(t, "text", a->text);
		cJSON_AddStringToObject(o, "stop_reason", "end_turn");
	} else
		cJSON_AddNullToObject(o, "stop_reason");
	cJSON_AddNullToObject(o, "stop_sequence");
	u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", (double)a->p);
	cJSON_AddNumberToObject(u, "output_tokens",
	    streaming ? 1 : (double)a->ctok);
	return o;
}

static cJSON *
body_ollama(const struct answer *a, const char *piece, int done)
{
	cJSON *o = cJSON_CreateObject(), *m;
	char now[BM_CLOCK_TIME_LEN + 1];

	bm_clock_rfc3339(now);
	cJSON_AddStringToObject(o, "model", a->model);
	cJSON_AddStringToObject(o, "created_at", now);
	m = cJSON_AddObjectToObject(o, "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddStringToObject(m, "content", piece);
	cJSON_AddBoolToObject(o, "done", done);
	if (done) {
		cJSON_AddStringToObject(o, "done_reason", "stop");
		cJSON_AddNumberToObject(o, "prompt_eval_count", (double)a->p);
		cJSON_AddNumberToObject(o, "eval_count", (double)a->ctok);
	}
	return o;
}

static cJSON *
body_full(const struct answer *a)
{
	if (a->v == V_ANTHROPIC)
		return body_anthropic(a, 0);
	if (a->v == V_OLLAMA)
		return body_ollama(a, a->text, 1);
	return body_openai(a);
}

/* The OpenAI stream chunk carrying piece (NULL: the finish chunk). */
static cJSON *
chunk_openai(const struct answer *a, const char *piece, int usage)
{
	cJSON *o = cJSON_CreateObject(), *ch, *m, *d;
	char *id = xasprintf("chatcmpl-%lu", a->n);

	cJSON_AddStringToObject(o, "id", id);
	free(id);
	cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
	cJSON_AddNumberToObject(o, "created", (double)time(NULL));
	cJSON_AddStringToObject(o, "model", a->model);
	ch = cJSON_AddArrayToObject(o, "choices");
	if (usage) {
		/* As OpenAI does with stream_options.include_usage. */
		d = cJSON_AddObjectToObject(o, "usage");
		cJSON_AddNumberToObject(d, "prompt_tokens", (double)a->p);
		cJSON_AddNumberToObject(d, "completion_tokens",
		    (double)a->ctok);
		cJSON_AddNumberToObject(d, "total_tokens",
		    (double)(a->p + a->ctok));
		return o;
	}
	cJSON_AddItemToArray(ch, m = cJSON_CreateObject());
	cJSON_AddNumberToObject(m, "index", 0);
	d = cJSON_AddObjectToObject(m, "delta");
	if (piece)
		cJSON_AddStringToObject(d, "content", piece);
	if (piece)
		cJSON_AddNullToObject(m, "finish_reason");
	else
		cJSON_AddStringToObject(m, "finish_reason", "stop");
	return o;
}

static cJSON *
event_anthropic(const char *type, int index)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", type);
	if (index >= 0)
		cJSON_AddNumberToObject(o, "index", index);
	return o;
}

/*
 * A streamed answer: one group per piece of -t words (with the whitespace
 * after them, so the pieces join to the exact answer); the vendor's opening
 * events go with the first piece and its closing ones with the last, so the
 * first piece marks the time to first token.
 */
static void
prepare_stream(struct conn *c, const struct answer *a)
{
	const char *p = a->text, *q;
	size_t gi, ngroups;
	cJSON *o, *d;
	char *piece;
	long w;

	groups_free(c);
	c->kind = K_STREAM;
	/* The head travels with the first piece, in group 0. */
	head(c, group_add(c), 200, a->v == V_OLLAMA ? "application/x-ndjson" :
	    "text/event-stream", -1, NULL);
	for (gi = 0; gi == 0 || *p != '\0'; gi++) {
		q = p;
		for (w = 0; w < g.words && *q != '\0'; w++) {
			while (is_space((unsigned char)*q))
				q++;
			while (*q != '\0' && !is_space((unsigned char)*q))
				q++;
		}
		while (is_space((unsigned char)*q))
			q++;
		piece = xstrndup(p, (size_t)(q - p));
		p = q;
		if (gi > 0)
			group_add(c);
		if (a->v == V_ANTHROPIC && gi == 0) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "message_start");
			cJSON_AddItemToObject(o, "message",
			    body_anthropic(a, 1));
			stream_event(c, gi, "message_start", o);
			o = event_anthropic("content_block_start", 0);
			d = cJSON_AddObjectToObject(o, "content_block");
			cJSON_AddStringToObject(d, "type", "text");
			cJSON_AddStringToObject(d, "text", "");
			stream_event(c, gi, "content_block_start", o);
			stream_event(c, gi, "ping", event_anthropic("ping",
			    -1));
		}
		if (a->v == V_ANTHROPIC) {
			o = event_anthropic("content_block_delta", 0);
			d = cJSON_AddObjectToObject(o, "delta");
			cJSON_AddStringToObject(d, "type", "text_delta");
			cJSON_AddStringToObject(d, "text", piece);
			stream_event(c, gi, "content_block_delta", o);
		} else if (a->v == V_OLLAMA)
			stream_event(c, gi, NULL, body_ollama(a, piece, 0));
		else
			stream_event(c, gi, "", chunk_openai(a, piece, 0));
		free(piece);
	}
	gi--;
	if (a->v == V_ANTHROPIC) {
		stream_event(c, gi, "content_block_stop",
		    event_anthropic("content_block_stop", 0));
		o = event_anthropic("message_delta", -1);
		d = cJSON_AddObjectToObject(o, "delta");
		cJSON_AddStringToObject(d, "stop_reason", "end_turn");
		cJSON_AddNullToObject(d, "stop_sequence");
		d = cJSON_AddObjectToObject(o, "usage");
		cJSON_AddNumberToObject(d, "output_tokens", (double)a->ctok);
		stream_event(c, gi, "message_delta", o);
		stream_event(c, gi, "message_stop",
		    event_anthropic("message_stop", -1));
	} else if (a->v == V_OLLAMA)
		stream_event(c, gi, NULL, body_ollama(a, "", 1));
	else {
		stream_event(c, gi, "", chunk_openai(a, NULL, 0));
		stream_event(c, gi, "", chunk_openai(a, NULL, 1));
		stream_put(c, gi, "data: [DONE]\n\n", 14);
	}
	ngroups = c->ngroups;
	if (c->truncate) {
		/* Half the stream, then a close without the last chunk. */
		while (c->ngroups > (ngroups + 1) / 2)
			bm_buf_free(&c->groups[--c->ngroups]);
	} else if (c->http11)
		bm_buf_adds(&c->groups[c->ngroups - 1], "0\r\n\r\n");
}

/* A 200 whose body is cut short: Content-Length promises more. */
static void
prepare_truncated(struct conn *c, const struct answer *a)
{
	cJSON *o = body_full(a);
	char *s = cJSON_PrintUnformatted(o);
	struct bm_buf *b;
	size_t n;

	cJSON_Delete(o);
	if (s == NULL)
		bm_die(2, "out of memory");
	n = strlen(s);
	groups_free(c);
	c->kind = K_FULL;
	c->keep = 0;
	b = group_add(c);
	head(c, b, 200, "application/json", (long long)n, NULL);
	bm_buf_add(b, s, n / 2);
	free(s);
}

static const char garbage[] =
    "{\"id\": \"chatcmpl-garbage\", \"choices\": [<html>502 Bad Gateway</html>";

/* OpenAI answers "before\0after" and "caf\xe9 ok" (Latin-1, not UTF-8). */
static const char nul_answer[] =
    "{\"id\":\"chatcmpl-nul\",\"object\":\"chat.completion\",\"choices\":"
    "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"before\\u0000after\"},\"finish_reason\":\"stop\"}]}";
static const char bad_utf8_answer[] =
    "{\"id\":\"chatcmpl-latin1\",\"object\":\"chat.completion\",\"choices\":"
    "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"caf\xe9 ok\"},\"finish_reason\":\"stop\"}]}";

/* Decide and prepare the answer to a model request; returns the delay. */
static long
model_request(struct conn *c, enum vendor v, cJSON *body, unsigned long n)
{
	const cJSON *model, *msgs, *m, *role, *sys, *stream;
	struct bm_buf last = BM_BUF_INIT, err = BM_BUF_INIT;
	struct bm_buf computed = BM_BUF_INIT;
	struct answer a;
	struct dirs d;
	size_t nchars = 0;
	long ordinal = 0, delay = g.delay;
	int have_last = 0, failing, status;
	char *msg;

	memset(&d, 0, sizeof(d));
	model = cJSON_GetObjectItemCaseSensitive(body, "model");
	msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
	if (v == V_ANTHROPIC && !cJSON_GetObjectItemCaseSensitive(
	    c->req.headers, "anthropic-version")) {
		reply_vendor_error(c, v, 400, NULL,
		    "anthropic-version: header is required", NULL);
		return 0;
	}
	if (body == NULL || !cJSON_IsObject(body)) {
		reply_vendor_error(c, v, 400, NULL,
		    "llmstub: the request body is not a JSON object", NULL);
		return 0;
	}
	if (!cJSON_IsString(model) || !cJSON_IsArray(msgs)) {
		reply_vendor_error(c, v, 400, NULL,
		    "llmstub: the request needs a string \"model\" and an "
		    "array \"messages\"", NULL);
		return 0;
	}
	sys = cJSON_GetObjectItemCaseSensitive(body, "system");
	if (v == V_ANTHROPIC && sys)
		content_text(sys, NULL, &nchars);
	cJSON_ArrayForEach(m, msgs) {
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (cJSON_IsString(role) &&
		    strcmp(role->valuestring, "user") == 0) {
			bm_buf_reset(&last);
			content_text(cJSON_GetObjectItemCaseSensitive(m,
			    "content"), &last, &nchars);
			have_last = 1;
		} else
			content_text(cJSON_GetObjectItemCaseSensitive(m,
			    "content"), NULL, &nchars);
	}
	if (have_last)
		ordinal = table_bump(&g.by_message, bm_buf_str(&last));
	if (dirs_parse(bm_buf_str(&last), &d, &err) == -1) {
		reply_vendor_error(c, v, 400, NULL, err.s, NULL);
		goto out;
	}
	if (d.latency >= 0)
		delay = d.latency;
	c->gap = d.sse_delay > 0 ? d.sse_delay : 0;

	memset(&a, 0, sizeof(a));
	a.v = v;
	a.n = n;
	a.model = model->valuestring;
	if (d.judge_fail && strcmp(d.judge_fail, a.model) == 0)
		a.text = judge_says[J_FAIL];
	else if (d.judge)
		a.text = judge_says[d.judge];
	else if (d.answer)
		a.text = d.answer;
	else if (arithmetic(bm_buf_str(&d.text), &computed) == 0)
		a.text = computed.s;
	else {
		bm_buf_addf(&computed, "echo: %s", bm_buf_str(&d.text));
		a.text = computed.s;
	}
	a.p = d.usage_p >= 0 ? d.usage_p : (long)((nchars + 3) / 4);
	a.ctok = count_words(a.text);
	if (a.ctok < 1)
		a.ctok = 1;
	if (d.usage_c >= 0)
		a.ctok = d.usage_c;
	stream = cJSON_GetObjectItemCaseSensitive(body, "stream");
	a.stream = v == V_OLLAMA ? !cJSON_IsFalse(stream) :
	    cJSON_IsTrue(stream);

	/* fail-first gates the fault or status; without it they always act. */
	failing = d.fail_first >= 0 ? ordinal <= d.fail_first :
	    d.fault || d.status >= 0 || d.error_code;
	if (!failing)
		d.fault = 0;
	if (failing && d.fault == F_HANG)
		c->kind = K_HANG;
	else if (failing && d.fault == F_RESET)
		c->kind = K_RESET;
	else if (failing && d.fault == F_GARBAGE) {
		groups_free(c);
		c->kind = K_FULL;
		head(c, group_add(c), 200, "application/json",
		    (long long)sizeof(garbage) - 1, NULL);
		bm_buf_adds(&c->groups[0], garbage);
	} else if (failing && (d.fault == F_NUL || d.fault == F_BADUTF8)) {
		const char *body = d.fault == F_NUL ? nul_answer :
		    bad_utf8_answer;

		groups_free(c);
		c->kind = K_FULL;
		head(c, group_add(c), 200, "application/json",
		    (long long)strlen(body), NULL);
		bm_buf_adds(&c->groups[0], body);
	} else if (failing && d.fault == F_TRUNCATE) {
		c->truncate = 1;
		c->keep = 0;
		if (a.stream)
			prepare_stream(c, &a);
		else
			prepare_truncated(c, &a);
	} else if (failing) {
		status = d.status >= 0 ? (int)d.status :
		    d.error_code ? 400 : 500;
		if (d.error_code && strcmp(d.error_code,
		    "context_length_exceeded") == 0)
			msg = v == V_ANTHROPIC ? xasprintf("prompt is too long: "
			    "%ld tokens > %d maximum", a.p, 1000) :
			    xasprintf("This model's maximum context length is "
			    "%d tokens. However, your messages resulted in %ld "
			    "tokens. Please reduce the length of the messages.",
			    1000, a.p);
		else
			msg = xasprintf("llmstub: simulated HTTP %d", status);
		reply_vendor_error(c, v, status, d.error_code, msg, &d);
		free(msg);
	} else if (a.stream)
		prepare_stream(c, &a);
	else
		reply_json(c, 200, body_full(&a), NULL);
out:
	dirs_free(&d);
	bm_buf_free(&last);
	bm_buf_free(&err);
	bm_buf_free(&computed);
	return delay;
}

/* --- requests ------------------------------------------------------------- */

/* Handle the complete request at the start of c->in; returns the delay. */
static long
dispatch(struct conn *c)
{
	const char *raw = c->in.s + c->req.head_len;
	size_t rawlen = c->req.clen;
	double t = bm_clock_ms();
	unsigned long n = ++g.seq;
	enum vendor v = V_NONE;
	cJSON *body = NULL;
	char *msg;
	long delay = 0;
	int post = strcmp(c->req.method, "POST") == 0;
	int get = strcmp(c->req.method, "GET") == 0;

	if (post && strcmp(c->req.path, "/v1/chat/completions") == 0)
		v = V_OPENAI;
	else if (post && strcmp(c->req.path, "/v1/messages") == 0)
		v = V_ANTHROPIC;
	else if (post && strcmp(c->req.path, "/api/chat") == 0)
		v = V_OLLAMA;
	if (rawlen > 0)
		body = cJSON_ParseWithLength(raw, rawlen);
	if (v != V_NONE) {
		c->counted = 1;
		if (++g.in_flight > g.max_in_flight)
			g.max_in_flight = g.in_flight;
	}
	if (!(get && strcmp(c->req.path, "/stats") == 0) &&
	    !(post && strcmp(c->req.path, "/reset") == 0)) {
		g.requests++;
		table_bump(&g.by_path, c->req.path);
	}
	log_request(c, n, t, body, raw, rawlen);
	c->kind = K_FULL;
	c->truncate = 0;
	c->gap = 0;
	if (v != V_NONE)
		delay = model_request(c, v, body, n);
	else if (get && strcmp(c->req.path, "/stats") == 0)
		reply_stats(c);
	else if (post && strcmp(c->req.path, "/reset") == 0)
		reply_reset(c);
	else {
		msg = xasprintf("llmstub: no endpoint %s %s", c->req.method,
		    c->req.path);
		reply_vendor_error(c, V_OPENAI, 404, NULL, msg, NULL);
		free(msg);
	}
	cJSON_Delete(body);
	return delay;
}

/* Release the prepared answer (or its next group); -1 when closed. */
static int
fire(struct conn *c)
{
	switch (c->kind) {
	case K_RESET:
		conn_close(c, 1);
		return -1;
	case K_HANG:
		c->state = S_HANG;
		return 0;
	case K_FULL:
	case K_STREAM:
		break;
	}
	do {
		bm_buf_add(&c->out, c->groups[c->next].s,
		    c->groups[c->next].len);
		c->next++;
	} while (c->next < c->ngroups && c->gap == 0);
	if (c->next < c->ngroups) {
		c->state = S_STREAM;
		timer_set(c, c->gap);
		return conn_flush(c);
	}
	groups_free(c);
	uncount(c);
	c->state = S_READ;
	if (!c->keep || c->truncate)
		c->close_after = 1;
	return conn_flush(c);
}

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Does the comma-separated header value list contain token? */
static int
has_token(const char *list, const char *token)
{
	size_t n = strlen(token);
	const char *p = list;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' ||
		    p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

/*
 * Parse the request line and headers in c->in[0, len).  Returns 0, or an
 * HTTP status for a request that cannot be served, with a message in why.
 */
static int
parse_head(struct conn *c, size_t len, const char **why)
{
	struct req *r = &c->req;
	const char *p = c->in.s, *end = c->in.s + len, *eol, *sp1, *sp2, *q;
	const char *colon, *v, *ve, *conn_hdr = NULL, *expect = NULL;
	cJSON *old;
	char *name, *val, *joined;
	int nhdr = 0, have_clen = 0;
	long clen;
	size_t i;

	r->headers = cJSON_CreateObject();
	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	*why = "malformed request line";
	if (sp2 == NULL || sp1 == p || sp1 - p > 32 || sp1[1] != '/')
		return 400;
	for (q = p; q < sp1; q++)
		if (!is_tchar((unsigned char)*q))
			return 400;
	for (q = sp1 + 1; q < sp2; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return 400;
	if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		*why = "only HTTP/1.0 and HTTP/1.1 are supported";
		return 505;
	}
	if (sp2[8] != '0' && sp2[8] != '1')
		return 505;
	c->http11 = sp2[8] == '1';
	r->method = xstrndup(p, (size_t)(sp1 - p));
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	r->path = xstrndup(sp1 + 1, (size_t)((q ? q : sp2) - sp1 - 1));
	if (q)
		r->query = xstrndup(q + 1, (size_t)(sp2 - q - 1));

	for (p = eol + 2; p < end - 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		*why = "malformed header line";
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return 400;
		for (q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return 400;
		for (q = colon + 1; q < eol; q++)
			if (*q == '\0' || *q == '\r' || *q == '\n')
				return 400;
		if (++nhdr > MAX_HEADERS) {
			*why = "too many header fields";
			return 431;
		}
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		name = xstrndup(p, (size_t)(colon - p));
		for (i = 0; name[i]; i++)
			if (name[i] >= 'A' && name[i] <= 'Z')
				name[i] += 'a' - 'A';
		val = xstrndup(v, (size_t)(ve - v));
		old = cJSON_GetObjectItemCaseSensitive(r->headers, name);
		if (old) {
			/* Repeated fields join as one list (RFC 9110 5.3). */
			joined = xasprintf("%s, %s", old->valuestring, val);
			cJSON_ReplaceItemInObjectCaseSensitive(r->headers,
			    name, cJSON_CreateString(joined));
			free(joined);
		} else
			cJSON_AddStringToObject(r->headers, name, val);
		if (strcmp(name, "content-length") == 0) {
			if (*val != '\0' && strspn(val, "0123456789") ==
			    strlen(val) && strlen(val) > 18) {
				/* Too many digits for a long: too large. */
				*why = "request body larger than 64 MiB";
				free(name);
				free(val);
				return 413;
			}
			*why = "bad Content-Length";
			if (bm_cli_parse_long(val, 0, LONG_MAX, &clen) == -1 ||
			    *val == '+' || *val == '-' || *val == ' ' ||
			    (have_clen && (size_t)clen != r->clen)) {
				free(name);
				free(val);
				return 400;
			}
			have_clen = 1;
			r->clen = (size_t)clen;
		}
		free(name);
		free(val);
	}
	conn_hdr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    r->headers, "connection"));
	expect = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    r->headers, "expect"));
	c->keep = c->http11;
	if (conn_hdr && has_token(conn_hdr, "close"))
		c->keep = 0;
	else if (conn_hdr && has_token(conn_hdr, "keep-alive"))
		c->keep = 1;
	if (cJSON_GetObjectItemCaseSensitive(r->headers,
	    "transfer-encoding")) {
		*why = "chunked request bodies are not supported: send "
		    "Content-Length";
		return 411;
	}
	if (r->clen > (size_t)MAX_BODY) {
		*why = "request body larger than 64 MiB";
		return 413;
	}
	if (expect && c->http11) {
		if (strcasecmp(expect, "100-continue") != 0) {
			*why = "unsupported expectation";
			return 417;
		}
		r->expect = 1;
	}
	r->have_head = 1;
	r->head_len = len;
	return 0;
}

/* Serve the requests that are complete in c->in; -1 when closed. */
static int
parse(struct conn *c)
{
	const char *e, *why;
	size_t need, skip;
	long delay;
	int status;

	while (c->state == S_READ && !c->close_after &&
	    c->out.len - c->off <= MAX_AHEAD) {
		if (!c->req.have_head) {
			/* Tolerate blank lines between requests (RFC 9112). */
			for (skip = 0; skip + 1 < c->in.len &&
			    c->in.s[skip] == '\r' && c->in.s[skip + 1] == '\n';
			    skip += 2)
				;
			if (skip > 0) {
				memmove(c->in.s, c->in.s + skip,
				    c->in.len - skip + 1);
				c->in.len -= skip;
				c->scan = 0;
			}
			e = c->in.len < 4 ? NULL : memmem(c->in.s + c->scan,
			    c->in.len - c->scan, "\r\n\r\n", 4);
			if (e == NULL)
				c->scan = c->in.len > 3 ? c->in.len - 3 : 0;
			if ((e == NULL && c->in.len > MAX_HEAD) ||
			    (e != NULL && e + 4 - c->in.s > MAX_HEAD)) {
				reply_http_error(c, 431, "llmstub: request head "
				    "larger than 64 KiB");
				return fire(c);
			}
			if (e == NULL)
				return 0;
			c->scan = 0;
			status = parse_head(c, (size_t)(e + 4 - c->in.s), &why);
			if (status != 0) {
				char *m = xasprintf("llmstub: %s", why);

				reply_http_error(c, status, m);
				free(m);
				return fire(c);
			}
		}
		need = c->req.head_len + c->req.clen;
		if (c->in.len < need) {
			if (c->req.expect && !c->sent_continue) {
				c->sent_continue = 1;
				bm_buf_adds(&c->out,
				    "HTTP/1.1 100 Continue\r\n\r\n");
				return conn_flush(c);
			}
			return 0;
		}
		c->state = S_WAIT;
		delay = dispatch(c);
		memmove(c->in.s, c->in.s + need, c->in.len - need + 1);
		c->in.len -= need;
		req_clear(&c->req);
		c->sent_continue = 0;
		if (delay > 0)
			timer_set(c, delay);
		else if (fire(c) == -1)
			return -1;
	}
	return 0;
}

/* Read what the socket has; -1 when the connection was closed. */
static int
conn_read(struct conn *c)
{
	ssize_t n;

	if (c->in.cap - c->in.len < 16384)
		bm_buf_grow(&c->in, 65536);
	n = recv(c->fd, c->in.s + c->in.len, c->in.cap - c->in.len - 1, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		conn_close(c, 0);
		return -1;
	}
	if (n == 0) {
		c->eof = 1;
		/*
		 * A client that stops sending has given up on its request
		 * (curl does so on a timeout): no longer in flight.
		 */
		if (c->state != S_READ || c->off == c->out.len) {
			conn_close(c, 0);
			return -1;
		}
		c->close_after = 1;
		return 0;
	}
	if (c->state == S_LINGER) {
		bm_buf_reset(&c->in);
		return 0;
	}
	c->in.len += (size_t)n;
	c->in.s[c->in.len] = '\0';
	if (c->state != S_READ) {
		if (c->in.len > MAX_AHEAD) {
			conn_close(c, 0);
			return -1;
		}
		return 0;
	}
	return parse(c);
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	if (ev & (EPOLLERR | EPOLLHUP)) {
		conn_close(c, 0);
		return;
	}
	if ((ev & EPOLLIN) && conn_read(c) == -1)
		return;
	if ((ev & EPOLLOUT) && conn_flush(c) == -1)
		return;
	/* Requests held back while the answers piled up. */
	if ((ev & EPOLLOUT) && c->state == S_READ && c->in.len > 0 &&
	    parse(c) == -1)
		return;
	conn_update(c);
}

static void
on_timer(struct conn *c)
{
	switch (c->state) {
	case S_LINGER:
		conn_close(c, 0);
		return;
	case S_WAIT:
	case S_STREAM:
		if (fire(c) == -1)
			return;
		if (c->state == S_READ && parse(c) == -1)
			return;
		conn_update(c);
		return;
	case S_READ:
	case S_HANG:
		return;
	}
}

/* --- main ----------------------------------------------------------------- */

static int
listen_on(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		bm_die(2, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		bm_die(2, "127.0.0.1:%d: %s", port, strerror(errno));
	if (listen(fd, 1024) == -1)
		bm_die(2, "listen: %s", strerror(errno));
	return fd;
}

static int
bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		bm_die(2, "getsockname: %s", strerror(errno));
	return ntohs(sa.sin_port);
}

/* Write the port so that a reader never sees a partial file. */
static void
write_portfile(const char *path, int port)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");

	if (f == NULL)
		bm_die(2, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%d\n", port);
	if (fflush(f) == EOF || ferror(f) || fclose(f) == EOF) {
		unlink(tmp);
		bm_die(2, "%s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		bm_die(2, "%s: %s", path, strerror(errno));
	}
	free(tmp);
}

static int
next_timeout(void)
{
	double now, t = -1;

	if (g.nheap == 0 && !g.accept_paused)
		return -1;
	now = bm_clock_ms();
	if (g.nheap > 0)
		t = g.heap[0]->due - now;
	if (g.accept_paused && (t < 0 || g.accept_resume - now < t))
		t = g.accept_resume - now;
	if (t <= 0)
		return 0;
	/* Round up: waking early would only spin. */
	return t > 86400000.0 ? 86400000 : (int)t + 1;
}

static void
loop(void)
{
	struct epoll_event evs[256], ev;
	struct signalfd_siginfo si;
	struct conn *c;
	double now;
	int i, n;

	while (!g.stop) {
		n = epoll_wait(g.ep, evs, 256, next_timeout());
		if (n == -1 && errno != EINTR)
			bm_die(2, "epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &lmark)
				conn_accept();
			else if (evs[i].data.ptr == &smark) {
				if (read(g.sfd, &si, sizeof(si)) > 0)
					g.stop = 1;
			} else
				conn_event(evs[i].data.ptr, evs[i].events);
		}
		now = bm_clock_ms();
		while (g.nheap > 0 && g.heap[0]->due <= now) {
			c = g.heap[0];
			timer_clear(c);
			on_timer(c);
		}
		if (g.accept_paused && g.accept_resume <= now) {
			g.accept_paused = 0;
			ev.events = EPOLLIN;
			ev.data.ptr = &lmark;
			epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &ev);
		}
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, BM_CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *portfile = NULL;
	struct epoll_event ev;
	struct rlimit rl;
	sigset_t set;
	long port = 0;
	int opt;

	bm_err_init(argv[0]);
	g.words = 3;
	while ((opt = getopt_long(argc, argv, "p:P:l:d:t:h", longopts,
	    NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = bm_cli_long("-p", optarg, 0, 65535);
			break;
		case 'P':
			portfile = optarg;
			break;
		case 'l':
			g.logname = optarg;
			break;
		case 'd':
			g.delay = bm_cli_long("-d", optarg, 0, MAX_MS);
			break;
		case 't':
			g.words = bm_cli_long("-t", optarg, 1, 1000000);
			break;
		case 'h':
			fputs(usage, stdout);
			return fflush(stdout) == 0 ? 0 : 2;
		case BM_CLI_OPT_VERSION:
			printf("llmstub %s\n", BM_VERSION);
			return fflush(stdout) == 0 ? 0 : 2;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		bm_errorf("unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return 2;
	}
	if (g.logname) {
		g.log = fopen(g.logname, "a");
		if (g.log == NULL)
			bm_die(2, "%s: %s", g.logname, strerror(errno));
	}
	/* Load tests open many connections: take all the descriptors given. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	g.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.sfd == -1 || g.ep == -1)
		bm_die(2, "epoll: %s", strerror(errno));
	g.lfd = listen_on((int)port);
	ev.events = EPOLLIN;
	ev.data.ptr = &lmark;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &ev);
	ev.data.ptr = &smark;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.sfd, &ev);
	if (portfile)
		write_portfile(portfile, bound_port(g.lfd));
	else {
		printf("%d\n", bound_port(g.lfd));
		if (fflush(stdout) == EOF)
			bm_die(2, "stdout: %s", strerror(errno));
	}

	loop();

	while (g.conns)
		conn_close(g.conns, 0);
	free(g.heap);
	table_free(&g.by_message);
	table_free(&g.by_path);
	close(g.lfd);
	close(g.sfd);
	close(g.ep);
	if (g.log && fclose(g.log) == EOF) {
		bm_errorf("%s: %s", g.logname, strerror(errno));
		return 2;
	}
	return 0;
}
