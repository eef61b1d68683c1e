/*
 * pg.c: PostgreSQL through libpq (pg.h).  Errors are libpq's own text,
 * first line only; libpq never puts the password in them.
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "xalloc.h"

#ifdef HAVE_LIBPQ
#include <libpq-fe.h>

struct bm_pg {
	PGconn *conn;
	char sqlstate[6];
};

int
bm_pg_available(void)
{
	return 1;
}

/* Fill e with msg's first line, without libpq's "ERROR:  " prefix. */
static void
set_err(struct bm_error *e, const char *msg)
{
	size_t n;

	if (!msg || !*msg)
		msg = "unknown error";
	if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	n = strcspn(msg, "\n");
	bm_error_set(e, NULL, 0, 0, "%.*s", (int)n, msg);
}

struct bm_pg *
bm_pg_connect(const char *url, struct bm_error *e)
{
	struct bm_pg *pg = xcalloc(1, sizeof(*pg));

	pg->conn = PQconnectdb(url);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		set_err(e, pg->conn ? PQerrorMessage(pg->conn) : NULL);
		bm_pg_close(pg);
		return NULL;
	}
	/* Notices (NOTICE: relation exists, skipping) are not ours to print. */
	PQsetNoticeProcessor(pg->conn, NULL, NULL);
	return pg;
}

void
bm_pg_close(struct bm_pg *pg)
{
	if (!pg)
		return;
	if (pg->conn)
		PQfinish(pg->conn);
	free(pg);
}

/* Take res: 0 when it has status ok, else -1 with e and the SQLSTATE. */
static int
check(struct bm_pg *pg, PGresult *res, ExecStatusType ok,
    struct bm_error *e)
{
	const char *st;

	pg->sqlstate[0] = '\0';
	if (res && PQresultStatus(res) == ok)
		return 0;
	st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (st) {
		memcpy(pg->sqlstate, st, strnlen(st, 5));
		pg->sqlstate[strnlen(st, 5)] = '\0';
	}
	set_err(e, res && PQresultErrorMessage(res)[0] ?
	    PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
	PQclear(res);
	return -1;
}

int
bm_pg_exec(struct bm_pg *pg, const char *sql, int nparams,
    const char *const *params, long long *rows, char **out,
    struct bm_error *e)
{
	PGresult *res;
	ExecStatusType st;
	const char *n;

	if (nparams > 0 || out)
		res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL,
		    NULL, 0);
	else
		res = PQexec(pg->conn, sql);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (check(pg, res, st == PGRES_TUPLES_OK ? PGRES_TUPLES_OK :
	    PGRES_COMMAND_OK, e) < 0)
		return -1;
	if (rows) {
		n = PQcmdTuples(res);
		*rows = st == PGRES_TUPLES_OK ? PQntuples(res) :
		    *n ? strtoll(n, NULL, 10) : 0;
	}
	if (out)
		*out = st == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
		    !PQgetisnull(res, 0, 0) ? xstrdup(PQgetvalue(res, 0, 0)) :
		    NULL;
	PQclear(res);
	return 0;
}

int
bm_pg_copy_begin(struct bm_pg *pg, const char *sql, struct bm_error *e)
{
	PGresult *res = PQexec(pg->conn, sql);

	if (check(pg, res, PGRES_COPY_IN, e) < 0)
		return -1;
	PQclear(res);
	return 0;
}

int
bm_pg_copy_put(struct bm_pg *pg, const char *p, size_t n,
    struct bm_error *e)
{
	while (n > 0) {
		/* PQputCopyData takes an int length. */
		int k = n > (1 << 30) ? 1 << 30 : (int)n;

		if (PQputCopyData(pg->conn, p, k) != 1) {
			set_err(e, PQerrorMessage(pg->conn));
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int
bm_pg_copy_end(struct bm_pg *pg, long long *rows, struct bm_error *e)
{
	PGresult *res, *extra;

	if (PQputCopyEnd(pg->conn, NULL) != 1) {
		set_err(e, PQerrorMessage(pg->conn));
		return -1;
	}
	res = PQgetResult(pg->conn);
	/* Drain to the end so that the connection is ready again. */
	while ((extra = PQgetResult(pg->conn)) != NULL)
		PQclear(extra);
	if (check(pg, res, PGRES_COMMAND_OK, e) < 0)
		return -1;
	if (rows)
		*rows = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int
bm_pg_broken(const struct bm_pg *pg)
{
	return !pg || PQstatus(pg->conn) != CONNECTION_OK;
}

const char *
bm_pg_sqlstate(const struct bm_pg *pg)
{
	return pg ? pg->sqlstate : "";
}

#else /* !HAVE_LIBPQ */

struct bm_pg {
	int unused;
};

int
bm_pg_available(void)
{
	return 0;
}

struct bm_pg *
bm_pg_connect(const char *url, struct bm_error *e)
{
	(void)url;
	bm_error_set(e, NULL, 0, 0,
	    "built without libpq (apt-get install libpq-dev, reconfigure)");
	return NULL;
}

void
bm_pg_close(struct bm_pg *pg)
{
	free(pg);
}

int
bm_pg_exec(struct bm_pg *pg, const char *sql, int nparams,
    const char *const *params, long long *rows, char **out,
    struct bm_error *e)
{
	(void)pg, (void)sql, (void)nparams, (void)params, (void)rows;
	(void)out;
	bm_error_set(e, NULL, 0, 0, "built without libpq");
	return -1;
}

int
bm_pg_copy_begin(struct bm_pg *pg, const char *sql, struct bm_error *e)
{
	return bm_pg_exec(pg, sql, 0, NULL, NULL, NULL, e);
}

int
bm_pg_copy_put(struct bm_pg *pg, const char *p, size_t n,
    struct bm_error *e)
{
	(void)p, (void)n;
	return bm_pg_exec(pg, NULL, 0, NULL, NULL, NULL, e);
}

int
bm_pg_copy_end(struct bm_pg *pg, long long *rows, struct bm_error *e)
{
	(void)rows;
	return bm_pg_exec(pg, NULL, 0, NULL, NULL, NULL, e);
}

int
bm_pg_broken(const struct bm_pg *pg)
{
	(void)pg;
	return 1;
}

const char *
bm_pg_sqlstate(const struct bm_pg *pg)
{
	(void)pg;
	return "";
}

#endif
