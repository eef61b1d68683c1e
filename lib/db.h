/*
 * db.h: the SQLite file (DESIGN.md §7).  Opening applies WAL, busy_timeout
 * and foreign keys and runs the migrations keyed on PRAGMA user_version.
 * Statements are prepared once and bound, never built by printf.  A
 * connection may move between threads but is used by one at a time
 * (SQLite's own locking is off).  This is the only header that knows
 * about SQLite.
 */
#ifndef BM_DB_H
#define BM_DB_H

#include <stddef.h>

#include "err.h"

struct bm_db;
struct bm_db_stmt;

/* The schema version that bm_db_open migrates to. */
#define BM_DB_SCHEMA_VERSION 3

/* Open (creating if needed) and migrate; NULL and e ("path: message"). */
struct bm_db *bm_db_open(const char *path, struct bm_error *e);
/* Finalize every statement, close; 0 or -1 with e. */
int bm_db_close(struct bm_db *db, struct bm_error *e);
/* The path the database was opened with. */
const char *bm_db_path(const struct bm_db *db);

/* Run SQL without results (may hold several statements); 0 or -1. */
int bm_db_exec(struct bm_db *db, const char *sql, struct bm_error *e);
/* BEGIN IMMEDIATE (waits for busy_timeout on a busy file); 0 or -1. */
int bm_db_begin(struct bm_db *db, struct bm_error *e);
/* COMMIT; 0 or -1 (the transaction is then rolled back). */
int bm_db_commit(struct bm_db *db, struct bm_error *e);
/* ROLLBACK, ignoring errors (there may be no transaction). */
void bm_db_rollback(struct bm_db *db);
/* Non-zero inside a transaction. */
int bm_db_in_tx(const struct bm_db *db);

/*
 * A prepared statement, cached on db by its SQL text: preparing the same
 * SQL again returns the same statement, reset.  Freed by bm_db_close.
 */
struct bm_db_stmt *bm_db_prepare(struct bm_db *db, const char *sql,
    struct bm_error *e);
/* Bind parameter i (1-based); NULL text binds SQL NULL. 0 or -1. */
int bm_db_bind_text(struct bm_db_stmt *st, int i, const char *s);
/* Bind n bytes of text. */
int bm_db_bind_textn(struct bm_db_stmt *st, int i, const char *s, size_t n);
/* Bind an integer. */
int bm_db_bind_int(struct bm_db_stmt *st, int i, long long v);
/* Bind a double. */
int bm_db_bind_double(struct bm_db_stmt *st, int i, double v);
/* Bind NULL. */
int bm_db_bind_null(struct bm_db_stmt *st, int i);
/* Step: 1 a row is ready, 0 done (the statement is reset), -1 error. */
int bm_db_step(struct bm_db_stmt *st, struct bm_error *e);
/* Reset and clear bindings (after a partial read of rows). */
void bm_db_reset(struct bm_db_stmt *st);
/* Column col (0-based) of the current row as text; NULL for SQL NULL. */
const char *bm_db_col_text(struct bm_db_stmt *st, int col);
/* Column col as an integer (0 for NULL). */
long long bm_db_col_int(struct bm_db_stmt *st, int col);
/* Column col as a double (0 for NULL). */
double bm_db_col_double(struct bm_db_stmt *st, int col);
/* Non-zero when column col is SQL NULL. */
int bm_db_col_null(struct bm_db_stmt *st, int col);
/* Rows changed by the last INSERT/UPDATE/DELETE on db. */
long long bm_db_changes(struct bm_db *db);
/* The rowid of the last successful INSERT on db (push_outbox.id). */
long long bm_db_last_rowid(struct bm_db *db);
/* Change how long a busy file is waited for (default 10000 ms); 0 or -1. */
int bm_db_set_busy_timeout(struct bm_db *db, int ms);
/* Non-zero when the last failure on db was a busy or locked file. */
int bm_db_busy(struct bm_db *db);
/*
 * Prepare sql, bind the n texts that follow to ?1..?n (NULL binds SQL
 * NULL) and step once: 1 with *st on the first row (read it, then
 * bm_db_reset), 0 when there is none, -1 and e.
 */
int bm_db_first(struct bm_db *db, const char *sql, struct bm_db_stmt **st,
    struct bm_error *e, int n, ...);
/* Non-zero when column col of the current row is text (or a blob). */
int bm_db_col_is_text(struct bm_db_stmt *st, int col);
/* The type of column col of the current row (read it before the text). */
enum { BM_DB_NULL, BM_DB_INT, BM_DB_REAL, BM_DB_TEXT, BM_DB_BLOB };
int bm_db_col_type(struct bm_db_stmt *st, int col);
/* The length in bytes of column col (after bm_db_col_text). */
size_t bm_db_col_len(struct bm_db_stmt *st, int col);

#endif
