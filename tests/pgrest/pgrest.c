/*
 * pgrest: a small server speaking the part of PostgREST's protocol that
 * bm-push uses, applied to a real PostgreSQL, for the tests.
 *
 *   pgrest -d CONNINFO [-P portfile] [-l logfile] [-F STATUS:N] [-m BYTES]
 *
 * POST /rest/v1/TABLE?on_conflict=COLS with "Prefer:
 * resolution=merge-duplicates" upserts a JSON array of rows; POST
 * /rest/v1/rpc/FN {"p": ...} and GET /rest/v1/rpc/FN call a function.
 * The key (apikey and Authorization: Bearer) picks the role, as on
 * Supabase: $PGREST_KEY is service_role, $PGREST_ANON_KEY anon.  Errors
 * are PostgREST's JSON bodies and statuses.  Every request is logged as a
 * JSON line (method, path, query, headers with the keys masked, body,
 * status, t_ms).  -F 503:2 answers the first 2 POSTs with 503 (429 adds
 * Retry-After: 1); -m answers 413 to bodies over BYTES.  One connection
 * at a time (keep-alive), which is how bm-push talks.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "jsonl.h"
#include "pg.h"
#include "xalloc.h"

static struct bm_pg *pg;
static const char *conninfo, *service_key, *anon_key;
static FILE *logf;
static long fault_status, fault_left, max_body = -1;
static double t0;
static char state[6];		/* SQLSTATE of the last failed request */

struct req {
	char method[16];
	struct bm_buf target, body;
	cJSON *headers;		/* name (lower case) -> value, for the log */
	char *apikey, *auth, *prefer, *expect;
	long content_length;
};

/* Read one request from fd into r; 0, or -1 at end of connection. */
static int
read_req(int fd, struct bm_buf *in, struct req *r)
{
	char *end, *line, *next, *colon, *v;
	size_t hlen, n;
	ssize_t k;
	char tmp[65536];

	memset(r, 0, sizeof(*r));
	while (!(end = in->s ? strstr(in->s, "\r\n\r\n") : NULL)) {
		if ((k = read(fd, tmp, sizeof(tmp))) <= 0)
			return -1;
		bm_buf_add(in, tmp, (size_t)k);
	}
	hlen = (size_t)(end - in->s) + 4;
	*end = '\0';
	r->headers = cJSON_CreateObject();
	r->content_length = 0;
	line = in->s;
	next = strstr(line, "\r\n");
	if (next)
		*next = '\0';
	n = strcspn(line, " ");
	if (n >= sizeof(r->method))
		return -1;
	memcpy(r->method, line, n);
	line += n + (line[n] == ' ');
	bm_buf_add(&r->target, line, strcspn(line, " "));
	for (line = next ? next + 2 : NULL; line && *line; line = next) {
		next = strstr(line, "\r\n");
		if (next) {
			*next = '\0';
			next += 2;
		}
		if (!(colon = strchr(line, ':')))
			continue;
		*colon = '\0';
		for (v = line; *v; v++)
			*v = (char)tolower((unsigned char)*v);
		v = colon + 1 + strspn(colon + 1, " ");
		if (strcmp(line, "content-length") == 0)
			r->content_length = strtol(v, NULL, 10);
		else if (strcmp(line, "apikey") == 0)
			r->apikey = xstrdup(v);
		else if (strcmp(line, "authorization") == 0)
			r->auth = xstrdup(v);
		else if (strcmp(line, "prefer") == 0)
			r->prefer = xstrdup(v);
		else if (strcmp(line, "expect") == 0)
			r->expect = xstrdup(v);
		cJSON_AddStringToObject(r->headers, line,
		    strcmp(line, "apikey") == 0 ||
		    strcmp(line, "authorization") == 0 ? "***" : v);
	}
	/* curl waits for this before a big body. */
	if (r->expect && strncasecmp(r->expect, "100", 3) == 0 &&
	    write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
		return -1;
	n = in->len - hlen;
	bm_buf_add(&r->body, in->s + hlen, n < (size_t)r->content_length ?
	    n : (size_t)r->content_length);
	while (r->body.len < (size_t)r->content_length) {
		if ((k = read(fd, tmp, sizeof(tmp))) <= 0)
			return -1;
		bm_buf_add(&r->body, tmp, (size_t)k);
	}
	/* Keep what follows (a pipelined request). */
	n = hlen + (size_t)r->content_length;
	if (n < in->len) {
		memmove(in->s, in->s + n, in->len - n);
		in->len -= n;
		in->s[in->len] = '\0';
	} else {
		bm_buf_reset(in);
	}
	bm_buf_adds(&r->body, "");
	return 0;
}

static void
req_free(struct req *r)
{
	bm_buf_free(&r->target);
	bm_buf_free(&r->body);
	cJSON_Delete(r->headers);
	free(r->apikey);
	free(r->auth);
	free(r->prefer);
	free(r->expect);
}

/* Send a response and log the request with its status. */
static void
respond(int fd, struct req *r, long status, const char *body,
    const char *extra)
{
	struct bm_buf o = BM_BUF_INIT;
	const char *reason = status < 300 ? "OK" : "Error";
	char *q = strchr(bm_buf_str(&r->target), '?');
	cJSON *l;

	bm_buf_addf(&o, "HTTP/1.1 %ld %s\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\n%s\r\n%s", status, reason,
	    strlen(body), extra ? extra : "", body);
	if (write(fd, o.s, o.len) != (ssize_t)o.len)
		bm_warnf("write: %s", strerror(errno));
	bm_buf_free(&o);
	if (!logf)
		return;
	l = cJSON_CreateObject();
	cJSON_AddNumberToObject(l, "t_ms", bm_clock_ms() - t0);
	cJSON_AddStringToObject(l, "method", r->method);
	if (q)
		*q = '\0';
	cJSON_AddStringToObject(l, "path", bm_buf_str(&r->target));
	cJSON_AddStringToObject(l, "query", q ? q + 1 : "");
	if (q)
		*q = '?';
	cJSON_AddItemReferenceToObject(l, "headers", r->headers);
	cJSON_AddStringToObject(l, "body", bm_buf_str(&r->body));
	cJSON_AddNumberToObject(l, "status", (double)status);
	bm_jsonl_write(logf, l);
	fflush(logf);
	cJSON_Delete(l);
}

/* PostgREST's error body. */
static void
fail(int fd, struct req *r, long status, const char *code,
    const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddNullToObject(o, "details");
	cJSON_AddNullToObject(o, "hint");
	cJSON_AddStringToObject(o, "message", msg);
	s = bm_json_print(o);
	respond(fd, r, status, s, NULL);
	free(s);
	cJSON_Delete(o);
}

/* An SQL error as PostgREST maps it. */
static void
fail_sql(int fd, struct req *r, int anon, const struct bm_error *e)
{
	const char *st = state;
	long status = 400;

	if (bm_pg_broken(pg)) {
		fail(fd, r, 503, "PGRST000", e->msg);
		bm_pg_close(pg);
		pg = NULL;
		return;
	}
	if (strcmp(st, "42501") == 0)
		status = anon ? 401 : 403;
	else if (strcmp(st, "23505") == 0)
		status = 409;
	else if (strcmp(st, "42P01") == 0 || strcmp(st, "42883") == 0)
		status = 404;
	fail(fd, r, status, st, e->msg);
}

static int
ident(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || s[i] == '_' ||
		    (i > 0 && isdigit((unsigned char)s[i])) ||
		    (s[i] == ',' && i > 0)))
			return 0;
	return 1;
}

/* Run sql with one parameter as role, in a transaction. */
static int
as_role(const char *role, const char *sql, const char *arg, char **out,
    struct bm_error *e)
{
	const char *p[1] = { arg };
	char *set = xasprintf("SET LOCAL ROLE %s", role);
	int rc = -1;

	if (bm_pg_exec(pg, "BEGIN", 0, NULL, NULL, NULL, e) == 0 &&
	    bm_pg_exec(pg, set, 0, NULL, NULL, NULL, e) == 0 &&
	    bm_pg_exec(pg, sql, arg ? 1 : 0, arg ? p : NULL, NULL, out,
	    e) == 0 &&
	    bm_pg_exec(pg, "COMMIT", 0, NULL, NULL, NULL, e) == 0)
		rc = 0;
	if (rc < 0)
		snprintf(state, sizeof(state), "%s", bm_pg_sqlstate(pg));
	if (rc < 0 && !bm_pg_broken(pg)) {
		struct bm_error ign = BM_ERROR_INIT;

		bm_pg_exec(pg, "ROLLBACK", 0, NULL, NULL, NULL, &ign);
		bm_error_clear(&ign);
	}
	free(set);
	return rc;
}

static void
handle(int fd, struct req *r)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_buf sql = BM_BUF_INIT;
	const char *path = bm_buf_str(&r->target), *name, *q, *oc, *role;
	char *out = NULL, *cols = NULL, *bearer;
	size_t n;
	int anon;

	if (strncmp(path, "/rest/v1/", 9) != 0) {
		fail(fd, r, 404, "PGRST125", "Invalid path specified in"
		    " request URL");
		return;
	}
	bearer = r->auth && strncmp(r->auth, "Bearer ", 7) == 0 ?
	    r->auth + 7 : NULL;
	if (!r->apikey || !bearer || strcmp(r->apikey, bearer) != 0 ||
	    (strcmp(r->apikey, service_key) && (!anon_key ||
	    strcmp(r->apikey, anon_key)))) {
		fail(fd, r, 401, "PGRST301", "Invalid API key");
		return;
	}
	anon = strcmp(r->apikey, service_key) != 0;
	role = anon ? "anon" : "service_role";
	if (strcmp(r->method, "POST") == 0 && fault_left > 0) {
		fault_left--;
		if (fault_status == 429)
			respond(fd, r, 429, "{\"message\":\"slow down\"}",
			    "Retry-After: 1\r\n");
		else
			fail(fd, r, fault_status, "PGRST000", "injected");
		return;
	}
	if (max_body >= 0 && (long)r->body.len > max_body) {
		fail(fd, r, 413, "PGRST000", "Payload Too Large");
		return;
	}
	if (!pg && !(pg = bm_pg_connect(conninfo, &e))) {
		fail(fd, r, 503, "PGRST000", e.msg);
		bm_error_clear(&e);
		return;
	}
	name = path + 9;
	if (strncmp(name, "rpc/", 4) == 0) {
		name += 4;
		if (!ident(name, strlen(name)) || strchr(name, ',')) {
			fail(fd, r, 404, "PGRST202", "no such function");
			return;
		}
		if (strcmp(r->method, "GET") == 0)
			bm_buf_addf(&sql, "SELECT to_json(%s())::text", name);
		else
			bm_buf_addf(&sql, "SELECT to_json(%s(($1::jsonb)->"
			    "'p'))::text", name);
		if (as_role(role, sql.s, strcmp(r->method, "GET") ?
		    r->body.s : NULL, &out, &e) < 0) {
			if (strcmp(state, "42883") == 0)
				fail(fd, r, 404, "PGRST202", "Could not find"
				    " the function in the schema cache");
			else
				fail_sql(fd, r, anon, &e);
		} else {
			respond(fd, r, 200, out ? out : "null", NULL);
		}
		goto out;
	}
	if (strcmp(r->method, "POST") != 0) {
		fail(fd, r, 405, "PGRST000", "only POST here");
		goto out;
	}
	n = strcspn(name, "?");
	q = name + n;
	oc = strstr(q, "on_conflict=");
	if (!ident(name, n) || memchr(name, ',', n)) {
		fail(fd, r, 404, "42P01", "relation does not exist");
		goto out;
	}
	/* The table's columns that the first row names, in table order. */
	bm_buf_addf(&sql, "SELECT string_agg(column_name, ',' ORDER BY"
	    " ordinal_position) FROM information_schema.columns WHERE"
	    " table_schema = 'public' AND table_name = '%.*s' AND"
	    " ($1::jsonb)->0 ? column_name", (int)n, name);
	if (as_role("service_role", sql.s, r->body.s, &cols, &e) < 0 ||
	    !cols) {
		if (e.msg)
			fail_sql(fd, r, anon, &e);
		else
			fail(fd, r, 404, "42P01", "relation does not exist");
		goto out;
	}
	bm_buf_reset(&sql);
	bm_buf_addf(&sql, "INSERT INTO %.*s (%s) SELECT %s FROM"
	    " jsonb_populate_recordset(NULL::%.*s, $1::jsonb)", (int)n, name,
	    cols, cols, (int)n, name);
	if (oc && r->prefer && strstr(r->prefer,
	    "resolution=merge-duplicates")) {
		oc += 12;
		if (!ident(oc, strcspn(oc, "&"))) {
			fail(fd, r, 400, "PGRST100", "bad on_conflict");
			goto out;
		}
		bm_buf_addf(&sql, " ON CONFLICT (%.*s) DO UPDATE SET",
		    (int)strcspn(oc, "&"), oc);
		for (name = cols; *name; name += n + (name[n] == ',')) {
			n = strcspn(name, ",");
			bm_buf_addf(&sql, "%s %.*s = excluded.%.*s",
			    name == cols ? "" : ",", (int)n, name, (int)n,
			    name);
		}
	}
	if (as_role(role, sql.s, r->body.s, NULL, &e) < 0)
		fail_sql(fd, r, anon, &e);
	else
		respond(fd, r, 201, "", NULL);
out:
	free(out);
	free(cols);
	bm_buf_free(&sql);
	bm_error_clear(&e);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct bm_buf in = BM_BUF_INIT;
	struct req r;
	const char *portfile = NULL;
	FILE *f;
	int c, lfd, fd, one = 1;

	bm_err_init(argv[0]);
	while ((c = getopt(argc, argv, "d:P:l:F:m:")) != -1) {
		switch (c) {
		case 'd': conninfo = optarg; break;
		case 'P': portfile = optarg; break;
		case 'l':
			if (!(logf = fopen(optarg, "a")))
				bm_die(2, "%s: %s", optarg, strerror(errno));
			break;
		case 'F':
			fault_status = strtol(optarg, NULL, 10);
			fault_left = strchr(optarg, ':') ?
			    strtol(strchr(optarg, ':') + 1, NULL, 10) : 1;
			break;
		case 'm': max_body = strtol(optarg, NULL, 10); break;
		default:
			fputs("usage: pgrest -d CONNINFO [-P portfile]"
			    " [-l logfile] [-F STATUS:N] [-m BYTES]\n", stderr);
			return 2;
		}
	}
	service_key = getenv("PGREST_KEY");
	anon_key = getenv("PGREST_ANON_KEY");
	if (!conninfo || !service_key || !*service_key)
		bm_die(2, "-d CONNINFO and $PGREST_KEY are needed");
	signal(SIGPIPE, SIG_IGN);
	t0 = bm_clock_ms();
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) == -1)
		bm_die(2, "listen: %s", strerror(errno));
	if (portfile) {
		/* Written whole, then renamed: a reader never sees half. */
		char *tmp = xasprintf("%s.tmp", portfile);

		if (!(f = fopen(tmp, "w")) ||
		    fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f))
			bm_die(2, "%s: %s", tmp, strerror(errno));
		if (rename(tmp, portfile) == -1)
			bm_die(2, "%s: %s", portfile, strerror(errno));
		free(tmp);
	}
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		while (read_req(fd, &in, &r) == 0) {
			handle(fd, &r);
			req_free(&r);
		}
		req_free(&r);
		bm_buf_reset(&in);
		close(fd);
	}
}
