/*
 * db.c: the SQLite file of DESIGN.md §7.  The schema lives in one table of
 * migrations below, keyed on PRAGMA user_version: migration N takes the
 * file from version N-1 to N inside one transaction, so a crash or a
 * second process never sees half a schema.  Statements are prepared once
 * per connection and cached by their SQL text.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "map.h"
#include "xalloc.h"

/* Pipeline stages share the file: wait this long for a lock (ms). */
#define BUSY_TIMEOUT_MS 10000

/*
 * Timestamps written by SQLite itself: RFC 3339 UTC with milliseconds, the
 * same shape as the records' times.
 */
#define NOW "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"

/*
 * The run_models triggers of migration 2: a results row counted in (NEW)
 * and out (OLD) of its run and model; a row that counts nothing goes.
 */
#define COUNT_IN \
	"  INSERT INTO run_models VALUES (NEW.run_id, NEW.model, 1," \
	"    NEW.step = 0, NEW.status = 'pass', NEW.status = 'fail'," \
	"    NEW.status = 'error' AND NEW.error_class IS NOT 'cancelled'," \
	"    NEW.error_class IS 'cancelled', coalesce(NEW.cost_usd, 0))" \
	"  ON CONFLICT (run_id, model) DO UPDATE SET" \
	"    results = results + 1, cases = cases + excluded.cases," \
	"    pass = pass + excluded.pass, fail = fail + excluded.fail," \
	"    error = error + excluded.error," \
	"    cancelled = cancelled + excluded.cancelled," \
	"    cost_usd = cost_usd + excluded.cost_usd;"
#define COUNT_OUT \
	"  UPDATE run_models SET results = results - 1," \
	"    cases = cases - (OLD.step = 0)," \
	"    pass = pass - (OLD.status = 'pass')," \
	"    fail = fail - (OLD.status = 'fail')," \
	"    error = error - (OLD.status = 'error' AND" \
	"      OLD.error_class IS NOT 'cancelled')," \
	"    cancelled = cancelled - (OLD.error_class IS 'cancelled')," \
	"    cost_usd = cost_usd - coalesce(OLD.cost_usd, 0)" \
	"  WHERE run_id = OLD.run_id AND model = OLD.model;" \
	"  DELETE FROM run_models WHERE run_id = OLD.run_id AND" \
	"    model = OLD.model AND results <= 0;"

/*
 * migrations[N] takes the schema from version N-1 to N; index 0 is unused.
 * Only append: a released migration never changes.
 *
 * No foreign keys from results, stats or pushes to runs or benchmarks:
 * those rows also arrive from other machines (shards merged by bm-push,
 * bm-stats --save on a stream) whose runs and catalog are not here.
 * benchmark_versions does reference benchmarks, deferred so that either
 * row may be written first inside one transaction.
 */
static const char *const migrations[] = {
	NULL,
	/* 1: the schema of DESIGN.md §7 */
	"CREATE TABLE benchmarks ("
	"  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),"
	"  name TEXT NOT NULL,"
	"  prompt TEXT NOT NULL,"
	"  content TEXT NOT NULL,"
	"  content_sha256 TEXT NOT NULL CHECK (length(content_sha256) = 64),"
	"  path TEXT,"
	/* The document's 0-based index in its file: --from-db order. */
	"  doc INTEGER CHECK (doc IS NULL OR doc >= 0),"
	/* The checked document as JSON: re-ingest skips its YAML. */
	"  tree TEXT,"
	"  tags TEXT CHECK (tags IS NULL OR json_valid(tags)),"
	"  description TEXT,"
	"  created_at TEXT NOT NULL DEFAULT " NOW ","
	"  updated_at TEXT NOT NULL DEFAULT " NOW
	");"
	"CREATE TABLE benchmark_versions ("
	"  benchmark_id TEXT NOT NULL REFERENCES benchmarks (id)"
	"    DEFERRABLE INITIALLY DEFERRED,"
	"  content_sha256 TEXT NOT NULL CHECK (length(content_sha256) = 64),"
	"  content TEXT NOT NULL,"
	"  first_seen_at TEXT NOT NULL DEFAULT " NOW ","
	"  PRIMARY KEY (benchmark_id, content_sha256)"
	");"
	"CREATE TABLE runs ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  started_at TEXT NOT NULL DEFAULT " NOW ","
	"  finished_at TEXT,"
	"  status TEXT NOT NULL DEFAULT 'running',"
	"  argv TEXT,"
	"  config_sha256 TEXT,"
	"  git_sha TEXT,"
	"  environment TEXT,"
	"  host TEXT"
	");"
	"CREATE TABLE results ("
	"  run_id TEXT NOT NULL,"
	"  case_id TEXT NOT NULL,"
	"  step INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),"
	/* NULL when unknown, until bm-ingest --backfill finds it. */
	"  benchmark_id TEXT,"
	"  model TEXT NOT NULL,"
	"  variant TEXT,"
	"  trial INTEGER NOT NULL DEFAULT 0 CHECK (trial >= 0),"
	"  repeat INTEGER NOT NULL DEFAULT 0 CHECK (repeat >= 0),"
	"  status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error')),"
	"  error_class TEXT,"
	"  latency_ms REAL,"
	"  ttft_ms REAL,"
	"  prompt_tokens INTEGER,"
	"  completion_tokens INTEGER,"
	"  cost_usd REAL,"
	"  score REAL,"
	"  output TEXT,"
	"  record TEXT NOT NULL CHECK (json_valid(record)),"
	"  created_at TEXT NOT NULL DEFAULT " NOW ","
	"  PRIMARY KEY (run_id, case_id, step)"
	");"
	"CREATE INDEX results_benchmark_id ON results (benchmark_id);"
	"CREATE INDEX results_model ON results (model);"
	"CREATE INDEX results_run_status ON results (run_id, status);"
	"CREATE TABLE stats ("
	"  run_id TEXT NOT NULL,"
	"  group_key TEXT NOT NULL CHECK (json_valid(group_key)),"
	"  record TEXT NOT NULL CHECK (json_valid(record)),"
	"  PRIMARY KEY (run_id, group_key)"
	");"
	"CREATE TABLE push_outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  target TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  record TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
	"  last_error TEXT,"
	"  created_at TEXT NOT NULL DEFAULT " NOW
	");"
	"CREATE TABLE pushes ("
	"  target TEXT NOT NULL,"
	"  run_id TEXT NOT NULL,"
	"  snapshot_version INTEGER CHECK (snapshot_version IS NULL OR"
	"    snapshot_version >= 1),"
	"  pushed_at TEXT NOT NULL DEFAULT " NOW
	");"
	/* bm-exec --cache: stored answers keyed on the request's SHA-256. */
	"CREATE TABLE exec_cache ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  output TEXT NOT NULL,"
	"  prompt_tokens INTEGER,"
	"  completion_tokens INTEGER,"
	"  created_at TEXT NOT NULL DEFAULT " NOW
	");",
	/*
	 * 2: a run's lock (pid, on host), label, origin (rescored_from,
	 * resumed) and the digest of its case stream; the benchmark
	 * version each result ran; retired benchmarks; the outbox's
	 * natural key.  run_models keeps per run and model the counts
	 * bm-runs lists, so listing never scans results: triggers keep
	 * it exact on every insert, replace (recursive_triggers is on, so
	 * INSERT OR REPLACE fires the delete trigger) and delete.
	 */
	"ALTER TABLE runs ADD COLUMN pid INTEGER;"
	"ALTER TABLE runs ADD COLUMN label TEXT;"
	"ALTER TABLE runs ADD COLUMN rescored_from TEXT;"
	"ALTER TABLE runs ADD COLUMN stream_sha256 TEXT;"
	"ALTER TABLE runs ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX runs_started_at ON runs (started_at);"
	"CREATE UNIQUE INDEX runs_label ON runs (label)"
	"  WHERE label IS NOT NULL;"
	"ALTER TABLE benchmarks ADD COLUMN retired_at TEXT;"
	"ALTER TABLE results ADD COLUMN content_sha256 TEXT;"
	"ALTER TABLE push_outbox ADD COLUMN key TEXT;"
	"CREATE UNIQUE INDEX push_outbox_key ON"
	"  push_outbox (target, kind, key);"
	"CREATE INDEX pushes_target_run ON pushes (target, run_id);"
	"CREATE TABLE run_models ("
	"  run_id TEXT NOT NULL,"
	"  model TEXT NOT NULL,"
	"  results INTEGER NOT NULL DEFAULT 0," /* rows: one per step */
	"  cases INTEGER NOT NULL DEFAULT 0,"   /* rows of step 0 */
	"  pass INTEGER NOT NULL DEFAULT 0,"
	"  fail INTEGER NOT NULL DEFAULT 0,"
	"  error INTEGER NOT NULL DEFAULT 0,"   /* not counting cancelled */
	"  cancelled INTEGER NOT NULL DEFAULT 0,"
	"  cost_usd REAL NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (run_id, model)"
	") WITHOUT ROWID;"
	"INSERT INTO run_models SELECT run_id, model, count(*),"
	"  total(step = 0), total(status = 'pass'), total(status = 'fail'),"
	"  total(status = 'error' AND error_class IS NOT 'cancelled'),"
	"  total(error_class IS 'cancelled'), total(cost_usd)"
	"  FROM results GROUP BY run_id, model;"
	"CREATE TRIGGER results_count_insert AFTER INSERT ON results BEGIN"
	COUNT_IN "END;"
	"CREATE TRIGGER results_count_delete AFTER DELETE ON results BEGIN"
	COUNT_OUT "END;"
	/* An UPDATE counts as the old row out and the new row in. */
	"CREATE TRIGGER results_count_update AFTER UPDATE OF run_id, model,"
	"  step, status, error_class, cost_usd ON results BEGIN"
	COUNT_OUT COUNT_IN "END;",
	/*
	 * 3: runs.results_rev counts every change to a run's results that
	 * gives a push something to send (triggers on insert, replace and
	 * update; a delete alone sends nothing, and a trigger on it made
	 * bm-runs rm of 100,000 results 0.6 s slower); push_runs keeps per
	 * target and run the revision bm-push last queued and the one the
	 * target confirmed, so that a re-push of an unchanged run sends
	 * nothing (bm-push --resend sends it all the same).
	 */
	"ALTER TABLE runs ADD COLUMN results_rev INTEGER NOT NULL DEFAULT 0;"
	"CREATE TRIGGER results_rev_insert AFTER INSERT ON results BEGIN"
	"  UPDATE runs SET results_rev = results_rev + 1"
	"  WHERE id = NEW.run_id; END;"
	"CREATE TRIGGER results_rev_update AFTER UPDATE ON results BEGIN"
	"  UPDATE runs SET results_rev = results_rev + 1"
	"  WHERE id IN (OLD.run_id, NEW.run_id); END;"
	"CREATE TABLE push_runs ("
	"  target TEXT NOT NULL,"
	"  run_id TEXT NOT NULL,"
	"  queued_rev INTEGER NOT NULL,"
	"  sent_rev INTEGER,"
	"  PRIMARY KEY (target, run_id)"
	") WITHOUT ROWID;",
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(NMIGRATIONS == BM_DB_SCHEMA_VERSION + 1,
    "one migration per schema version");

struct bm_db_stmt {
	sqlite3_stmt *st;
	struct bm_db *db;
};

struct bm_db {
	sqlite3 *h;
	char *path;
	int in_tx;
	struct bm_map *stmts;	/* statement cache: SQL text -> bm_db_stmt */
};

static void
seterr(struct bm_error *e, const char *path, const char *msg)
{
	if (e)
		bm_error_set(e, path, 0, 0, "%s", msg);
}

static void
dberr(struct bm_db *db, struct bm_error *e)
{
	seterr(e, db->path, sqlite3_errmsg(db->h));
}

static void
stmt_free(void *p)
{
	struct bm_db_stmt *s = p;

	sqlite3_finalize(s->st);
	free(s);
}

static int
user_version(struct bm_db *db, int *v, struct bm_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		dberr(db, e);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		dberr(db, e);
		sqlite3_finalize(st);
		return -1;
	}
	*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int
too_new(struct bm_db *db, int v, struct bm_error *e)
{
	if (v <= BM_DB_SCHEMA_VERSION)
		return 0;
	if (e)
		bm_error_set(e, db->path, 0, 0,
		    "schema version %d is newer than this bm (%d)", v,
		    BM_DB_SCHEMA_VERSION);
	return 1;
}

/*
 * Bring the schema up to date.  The version is read again inside the
 * write transaction: another process may have migrated while we waited.
 */
static int
migrate(struct bm_db *db, struct bm_error *e)
{
	int v, i;
	char *bump;

	if (user_version(db, &v, e) == -1)
		return -1;
	if (too_new(db, v, e))
		return -1;
	if (v == BM_DB_SCHEMA_VERSION)
		return 0;
	if (bm_db_begin(db, e) == -1)
		return -1;
	if (user_version(db, &v, e) == -1 || too_new(db, v, e))
		goto fail;
	for (i = v + 1; i <= BM_DB_SCHEMA_VERSION; i++) {
		if (bm_db_exec(db, migrations[i], e) == -1)
			goto fail;
		/* PRAGMA takes no parameters; i is our own integer. */
		bump = xasprintf("PRAGMA user_version = %d", i);
		if (bm_db_exec(db, bump, e) == -1) {
			free(bump);
			goto fail;
		}
		free(bump);
	}
	return bm_db_commit(db, e);
fail:
	bm_db_rollback(db);
	return -1;
}

/*
 * Switch to WAL.  The change needs an exclusive lock and SQLite may report
 * SQLITE_BUSY for it without calling the busy handler (several processes
 * opening a new file at once), so wait here as busy_timeout would.  The
 * pragma returns the mode it got: a file that cannot do WAL (":memory:")
 * keeps its own.
 */
static int
set_wal(struct bm_db *db, struct bm_error *e)
{
	int waited = 0, rc;

	for (;;) {
		rc = sqlite3_exec(db->h, "PRAGMA journal_mode = WAL", NULL,
		    NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
			break;
		waited += sqlite3_sleep(10);
	}
	dberr(db, e);
	return -1;
}

/*
 * SQLite's global settings, made once before its first use: a call after
 * sqlite3_initialize fails (SQLITE_MISUSE) and changes nothing.
 */
static pthread_once_t configured = PTHREAD_ONCE_INIT;

static void
configure(void)
{
	/*
	 * A connection is used by one thread at a time (lib/catalog.c
	 * hands it to its writer and back), so SQLite's own locking and
	 * its allocation statistics, a global mutex per malloc, only cost.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/*
	 * A connection's page cache in one allocation, up to 4 MB (its
	 * cache_size, 2 MB by default), instead of a malloc per page: a
	 * reader's cache is emptied at every commit another connection
	 * makes, and 16 kB mallocs among many small frees cost (glibc
	 * consolidates its fast bins for each).
	 */
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, -4096);
}

struct bm_db *
bm_db_open(const char *path, struct bm_error *e)
{
	struct bm_db *db;
	int rc;

	pthread_once(&configured, configure);
	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	db->stmts = bm_map_new();
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (db->h)
			dberr(db, e);
		else
			seterr(e, path, sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
	/*
	 * WAL lets readers (bm-stats, bm-report) go on while bm-exec
	 * writes; NORMAL is safe with WAL (a power cut may lose the last
	 * commits, never corrupt the file).
	 */
	/*
	 * Larger pages for a new file (ignored once it has content): result
	 * records are a few kB, and fewer pages make commits and checkpoints
	 * cheaper.
	 */
	if (bm_db_exec(db, "PRAGMA page_size = 16384", e) == -1 ||
	    set_wal(db, e) == -1 ||
	    bm_db_exec(db, "PRAGMA foreign_keys = ON", e) == -1 ||
	    bm_db_exec(db, "PRAGMA recursive_triggers = ON", e) == -1 ||
	    bm_db_exec(db, "PRAGMA synchronous = NORMAL", e) == -1)
		goto fail;
	if (migrate(db, e) == -1)
		goto fail;
	return db;
fail:
	bm_db_close(db, NULL);
	return NULL;
}

int
bm_db_close(struct bm_db *db, struct bm_error *e)
{
	int ret = 0;

	if (db == NULL)
		return 0;
	bm_map_free(db->stmts, stmt_free);
	/* Every statement is finalized, so close cannot be busy. */
	if (db->h && sqlite3_close(db->h) != SQLITE_OK) {
		dberr(db, e);
		ret = -1;
	}
	free(db->path);
	free(db);
	return ret;
}

const char *
bm_db_path(const struct bm_db *db)
{
	return db->path;
}

int
bm_db_set_busy_timeout(struct bm_db *db, int ms)
{
	return sqlite3_busy_timeout(db->h, ms) == SQLITE_OK ? 0 : -1;
}

int
bm_db_exec(struct bm_db *db, const char *sql, struct bm_error *e)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		seterr(e, db->path, msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		db->in_tx = !sqlite3_get_autocommit(db->h);
		return -1;
	}
	db->in_tx = !sqlite3_get_autocommit(db->h);
	return 0;
}

int
bm_db_begin(struct bm_db *db, struct bm_error *e)
{
	if (db->in_tx) {
		seterr(e, db->path, "a transaction is already open");
		return -1;
	}
	return bm_db_exec(db, "BEGIN IMMEDIATE", e);
}

int
bm_db_commit(struct bm_db *db, struct bm_error *e)
{
	if (bm_db_exec(db, "COMMIT", e) == -1) {
		bm_db_rollback(db);
		return -1;
	}
	return 0;
}

void
bm_db_rollback(struct bm_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->in_tx = 0;
}

int
bm_db_in_tx(const struct bm_db *db)
{
	/* SQLite may have rolled back by itself (SQLITE_FULL, ...). */
	return db->in_tx && !sqlite3_get_autocommit(db->h);
}

struct bm_db_stmt *
bm_db_prepare(struct bm_db *db, const char *sql, struct bm_error *e)
{
	struct bm_db_stmt *s;
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;

	if ((s = bm_map_get(db->stmts, sql)) != NULL) {
		bm_db_reset(s);
		return s;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    &tail) != SQLITE_OK) {
		dberr(db, e);
		return NULL;
	}
	if (st == NULL) {
		seterr(e, db->path, "no SQL statement to prepare");
		return NULL;
	}
	/* One statement per prepare: the rest would be silently ignored. */
	tail += strspn(tail, " \t\r\n;");
	if (*tail) {
		sqlite3_finalize(st);
		seterr(e, db->path, "more than one SQL statement to prepare");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->st = st;
	s->db = db;
	bm_map_put(db->stmts, sql, s);
	return s;
}

int
bm_db_bind_text(struct bm_db_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return bm_db_bind_null(st, i);
	return sqlite3_bind_text(st->st, i, s, -1, SQLITE_TRANSIENT) ==
	    SQLITE_OK ? 0 : -1;
}

int
bm_db_bind_textn(struct bm_db_stmt *st, int i, const char *s, size_t n)
{
	if (s == NULL)
		return bm_db_bind_null(st, i);
	return sqlite3_bind_text64(st->st, i, s, n, SQLITE_TRANSIENT,
	    SQLITE_UTF8) == SQLITE_OK ? 0 : -1;
}

int
bm_db_bind_int(struct bm_db_stmt *st, int i, long long v)
{
	return sqlite3_bind_int64(st->st, i, v) == SQLITE_OK ? 0 : -1;
}

int
bm_db_bind_double(struct bm_db_stmt *st, int i, double v)
{
	return sqlite3_bind_double(st->st, i, v) == SQLITE_OK ? 0 : -1;
}

int
bm_db_bind_null(struct bm_db_stmt *st, int i)
{
	return sqlite3_bind_null(st->st, i) == SQLITE_OK ? 0 : -1;
}

int
bm_db_step(struct bm_db_stmt *st, struct bm_error *e)
{
	int rc = sqlite3_step(st->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st->st);
		return 0;
	}
	dberr(st->db, e);
	sqlite3_reset(st->st);
	/* A failed statement may end the transaction (SQLITE_FULL ...). */
	if (sqlite3_get_autocommit(st->db->h))
		st->db->in_tx = 0;
	return -1;
}

void
bm_db_reset(struct bm_db_stmt *st)
{
	sqlite3_reset(st->st);
	sqlite3_clear_bindings(st->st);
}

const char *
bm_db_col_text(struct bm_db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->st, col);
}

long long
bm_db_col_int(struct bm_db_stmt *st, int col)
{
	return sqlite3_column_int64(st->st, col);
}

double
bm_db_col_double(struct bm_db_stmt *st, int col)
{
	return sqlite3_column_double(st->st, col);
}

int
bm_db_col_null(struct bm_db_stmt *st, int col)
{
	return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

long long
bm_db_changes(struct bm_db *db)
{
	return sqlite3_changes64(db->h);
}

long long
bm_db_last_rowid(struct bm_db *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

int
bm_db_busy(struct bm_db *db)
{
	int rc = sqlite3_errcode(db->h) & 0xff;

	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

int
bm_db_first(struct bm_db *db, const char *sql, struct bm_db_stmt **st,
    struct bm_error *e, int n, ...)
{
	va_list ap;
	int i;

	if (!(*st = bm_db_prepare(db, sql, e)))
		return -1;
	va_start(ap, n);
	for (i = 1; i <= n; i++)
		bm_db_bind_text(*st, i, va_arg(ap, const char *));
	va_end(ap);
	return bm_db_step(*st, e);
}

int
bm_db_col_is_text(struct bm_db_stmt *st, int col)
{
	int t = sqlite3_column_type(st->st, col);

	return t == SQLITE_TEXT || t == SQLITE_BLOB;
}

int
bm_db_col_type(struct bm_db_stmt *st, int col)
{
	switch (sqlite3_column_type(st->st, col)) {
	case SQLITE_INTEGER: return BM_DB_INT;
	case SQLITE_FLOAT: return BM_DB_REAL;
	case SQLITE_TEXT: return BM_DB_TEXT;
	case SQLITE_BLOB: return BM_DB_BLOB;
	default: return BM_DB_NULL;
	}
}

size_t
bm_db_col_len(struct bm_db_stmt *st, int col)
{
	return (size_t)sqlite3_column_bytes(st->st, col);
}
