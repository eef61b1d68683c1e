/*
 * pg.h: PostgreSQL through libpq, the only header (and pg.c the only
 * file) that knows libpq.  A connection runs statements with text
 * parameters and streams COPY data.  Built without libpq, bm_pg_connect
 * fails saying so and bm_pg_available is 0.
 */
#ifndef BM_PG_H
#define BM_PG_H

#include <stddef.h>

#include "err.h"

struct bm_pg;

/* Non-zero when bm was built with libpq. */
int bm_pg_available(void);
/* Connect to a postgresql:// URL; NULL and e (the password never shown). */
struct bm_pg *bm_pg_connect(const char *url, struct bm_error *e);
/* Close and free (NULL is fine). */
void bm_pg_close(struct bm_pg *pg);
/*
 * Run sql (one statement when nparams > 0) with text parameters (NULL is
 * SQL NULL).  0 and, when rows is not NULL, the rows it affected or
 * returned; -1 and e.  With out, the first row's first column is copied
 * there (caller frees; NULL when there is no row or it is NULL).
 */
int bm_pg_exec(struct bm_pg *pg, const char *sql, int nparams,
    const char *const *params, long long *rows, char **out,
    struct bm_error *e);
/* Start COPY ... FROM STDIN; 0 or -1 and e. */
int bm_pg_copy_begin(struct bm_pg *pg, const char *sql, struct bm_error *e);
/* Send n bytes of COPY data; 0 or -1 and e. */
int bm_pg_copy_put(struct bm_pg *pg, const char *p, size_t n,
    struct bm_error *e);
/* End the COPY; 0 and *rows copied, or -1 and e. */
int bm_pg_copy_end(struct bm_pg *pg, long long *rows, struct bm_error *e);
/* Non-zero when the connection is gone (a retry needs a new one). */
int bm_pg_broken(const struct bm_pg *pg);
/* The SQLSTATE of the last error ("" when none or not from the server). */
const char *bm_pg_sqlstate(const struct bm_pg *pg);

#endif
