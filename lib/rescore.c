/* rescore.c: score the answers a run stored against new expectations. */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "buf.h"
#include "clock.h"
#include "hash.h"
#include "jsonl.h"
#include "judge.h"
#include "provider.h"
#include "rescore.h"
#include "sched.h"
#include "xalloc.h"

/*
 * The writer: a thread that stores the results the main thread scores,
 * so that scoring and SQLite run on two cores.  During a batch the
 * writer owns db (the batch's write transaction, the batch's lines);
 * the main thread reads RUN's answers on a connection of its own (rd).
 * bm_rescore_commit waits for the writer to be idle before committing,
 * so a line handed out is still a line committed.
 */
struct writer {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct line **q;	/* results to store, in order */
	size_t n, cap;
	int busy;		/* storing what it took from q */
	int quit;
	int failed;		/* an insert failed: err; store no more */
	struct bm_error err;
};

/* Results stored by one INSERT statement. */
#define GROUP 64

/*
 * A result as the writer takes it: its JSON line and its row in one
 * allocation, the row's strings after the line (made on the main thread,
 * so the writer only stores).
 */
struct line {
	struct bm_runs_row row;
	size_t len;		/* the line's bytes, no newline */
	char text[];		/* the line, a NUL, the row's strings */
};

struct bm_rescore {
	struct bm_db *db;
	struct bm_db *rd;	/* the main thread's reads of RUN */
	struct bm_runs *runs;
	char *from, *run_id;
	int busy_ms;
	struct bm_verdict *v;	/* one per expect entry, reused */
	size_t nv;
	struct bm_buf batch;	/* the open batch's lines */
	struct bm_buf taken;	/* the lines last handed out */
	long pending;		/* results in the batch */
	size_t pending_bytes;	/* and their lines' bytes */
	int open;		/* the batch's transaction is open */
	int failed;		/* the database failed: store no more */
	struct writer w;
	int started;		/* the writer thread runs */
	int wfail;		/* the writer's failed, as last seen */
	struct line **hand;	/* results not yet handed to the writer */
	size_t nhand;
	struct line *group[GROUP];	/* the writer's, not yet stored */
	size_t ngroup;
	struct bm_buf line;	/* the main thread's line being made */
	struct bm_buf scored;	/* fast()'s verdicts, as text */
	struct bm_buf ids;	/* "case_id\n" of every case scored */
	cJSON *prior;		/* the record bm_rescore_prior read */
	struct bm_rescore_tally t;
};

/* What a result keeps of the stored one: the answer and how it came. */
static const char *const carried[] = {
	"error", "output", "latency_ms", "ttft_ms", "attempts", "usage",
	"cost_usd", "cached", "output_repaired", "judge_usage",
	"judge_cost_usd", "exit_code", "started_at", "finished_at", NULL
};

/* Is k one of set's (NULL-ended)? */
static int
is_in(const char *k, const char *const *set)
{
	for (; *set; set++)
		if (k[0] == (*set)[0] && strcmp(k, *set) == 0)
			return 1;
	return 0;
}

/* The fields of a result that come from the case, in the record's order. */
static const char *const from_kase[] = {
	"case_id", "benchmark_id", "benchmark", "model", "variant", "trial",
	"repeat", NULL
};
/* Fields of a case that a result does not take (from_case's). */
static const char *const dropped[] = {
	"type", "run_id", "messages", "steps", "system", "step", NULL
};
/*
 * The result's own fields (a case that has one is made the long way), as
 * bm_json_index finds them in a record: O_ + the name.
 */
enum {
	O_STATUS, O_ERROR, O_OUTPUT, O_LATENCY, O_TTFT, O_ATTEMPTS, O_USAGE,
	O_COST, O_SCORE, O_ASSERTIONS, O_METRICS, O_STARTED, O_FINISHED,
	O_CACHED, O_REPAIRED, O_JUDGE_USAGE, O_JUDGE_COST, O_EXIT, O_N
};
static const char *const own[O_N + 1] = {
	"status", "error", "output", "latency_ms", "ttft_ms", "attempts",
	"usage", "cost_usd", "score", "assertions", "metrics", "started_at",
	"finished_at", "cached", "output_repaired", "judge_usage",
	"judge_cost_usd", "exit_code", NULL
};

/* RUN's result: its record, and the columns fast() reads instead. */
static const char sql[] = "SELECT record, output, error_class, latency_ms,"
    " ttft_ms, prompt_tokens, completion_tokens, cost_usd FROM results"
    " WHERE run_id = ? AND case_id = ? AND step = ?";
enum {
	C_RECORD, C_OUTPUT, C_CLASS, C_LATENCY, C_TTFT, C_PROMPT,
	C_COMPLETION, C_COST
};

static void *writer_main(void *);

struct bm_rescore *
bm_rescore_open(struct bm_db *db, struct bm_runs *r, const char *run_id,
    const char *from, int busy_ms, struct bm_error *e)
{
	struct bm_rescore *rs;
	struct bm_db *rd;

	/*
	 * INSERT OR REPLACE with triggers keeps a statement journal per
	 * row: in memory, not in a temporary file.
	 */
	if (bm_db_exec(db, "PRAGMA temp_store = MEMORY", e) < 0 ||
	    !(rd = bm_db_open(bm_db_path(db), e)))
		return NULL;
	bm_db_set_busy_timeout(rd, busy_ms);
	if (!bm_db_prepare(rd, sql, e)) {
		bm_db_close(rd, NULL);
		return NULL;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->db = db;
	rs->rd = rd;
	rs->runs = r;
	rs->run_id = xstrdup(run_id);
	rs->from = xstrdup(from);
	rs->busy_ms = busy_ms;
	pthread_mutex_init(&rs->w.mu, NULL);
	pthread_cond_init(&rs->w.work, NULL);
	pthread_cond_init(&rs->w.idle, NULL);
	/* No thread: the results are stored as they come. */
	rs->started = pthread_create(&rs->w.tid, NULL, writer_main, rs) == 0;
	return rs;
}

static void drain(struct bm_rescore *);
static void checks(struct bm_rescore *, int);
static void close_batch(struct bm_rescore *);

void
bm_rescore_free(struct bm_rescore *rs)
{
	if (!rs)
		return;
	drain(rs);
	if (rs->started) {
		pthread_mutex_lock(&rs->w.mu);
		rs->w.quit = 1;
		pthread_cond_signal(&rs->w.work);
		pthread_mutex_unlock(&rs->w.mu);
		pthread_join(rs->w.tid, NULL);
	}
	pthread_mutex_destroy(&rs->w.mu);
	pthread_cond_destroy(&rs->w.work);
	pthread_cond_destroy(&rs->w.idle);
	close_batch(rs);
	if (rs->pending > 0)
		bm_runs_rollback(rs->runs);
	bm_db_close(rs->rd, NULL);
	free(rs->w.q);
	free(rs->hand);
	bm_error_clear(&rs->w.err);
	free(rs->from);
	free(rs->run_id);
	free(rs->v);
	bm_buf_free(&rs->batch);
	bm_buf_free(&rs->taken);
	bm_buf_free(&rs->line);
	bm_buf_free(&rs->scored);
	bm_buf_free(&rs->ids);
	cJSON_Delete(rs->prior);
	free(rs);
}

/*
 * Look RUN's result for case_id's step up: 1 and *st on its row (reset
 * it), 0 none, -1 with e.
 */
static int
lookup(struct bm_rescore *rs, const char *case_id, long step,
    struct bm_db_stmt **st, struct bm_error *e)
{
	*st = bm_db_prepare(rs->rd, sql, e);
	if (!*st)
		return -1;
	bm_db_bind_text(*st, 1, rs->from);
	bm_db_bind_text(*st, 2, case_id);
	bm_db_bind_int(*st, 3, step);
	return bm_db_step(*st, e);
}

/* The record of st's row (reset here): 1 and *rec, or -1 with e. */
static int
parse(struct bm_rescore *rs, struct bm_db_stmt *st, const char *case_id,
    long step, cJSON **rec, struct bm_error *e)
{
	const char *text = bm_db_col_text(st, C_RECORD);

	*rec = text ? cJSON_Parse(text) : NULL;
	bm_db_reset(st);
	if (!cJSON_IsObject(*rec)) {
		cJSON_Delete(*rec);
		*rec = NULL;
		bm_error_set(e, bm_db_path(rs->db), 0, 0, "run %s: case %s:"
		    " step %ld: the stored result is not a JSON object",
		    rs->from, case_id, step);
		return -1;
	}
	return 1;
}

/* The stored record of case_id's step: 1 and *rec, 0 none, -1 with e. */
static int
stored(struct bm_rescore *rs, const char *case_id, long step, cJSON **rec,
    struct bm_error *e)
{
	struct bm_db_stmt *st;
	int rc;

	*rec = NULL;
	rc = lookup(rs, case_id, step, &st, e);
	return rc == 1 ? parse(rs, st, case_id, step, rec, e) : rc;
}

/*
 * The verdicts of expect's judge and exec entries, from the entries the
 * stored result's assertions list has at the same positions with the
 * same types.  A stored entry is after its spec's `not:`: the verdict is
 * the inverse when that spec had one.  When the stored result names its
 * expect list (plain cases do), the spec must be the same (the rubric, the
 * command): a verdict on another question is no verdict.
 */
static const struct bm_verdict *
verdicts(struct bm_rescore *rs, const cJSON *expect, const cJSON *old)
{
	const cJSON *was = cJSON_GetObjectItemCaseSensitive(old, "assertions");
	const cJSON *olds = cJSON_GetObjectItemCaseSensitive(old, "expect");
	const cJSON *spec, *type, *ent, *ospec, *otype;
	struct bm_verdict *v;
	size_t n = (size_t)cJSON_GetArraySize(expect), i = 0;
	double d;
	int neg;

	if (n > rs->nv) {
		rs->v = xreallocarray(rs->v, n, sizeof(*rs->v));
		rs->nv = n;
	}
	cJSON_ArrayForEach(spec, expect) {
		v = &rs->v[i];
		memset(v, 0, sizeof(*v));
		v->agreement = -1;
		type = bm_assert_type(spec);
		ent = cJSON_GetArrayItem(was, (int)i);
		ospec = cJSON_IsArray(olds) ? cJSON_GetArrayItem(olds,
		    (int)i) : NULL;
		otype = ospec ? bm_assert_type(ospec) : NULL;
		i++;
		if (!type || (strcmp(type->string, "judge") != 0 &&
		    strcmp(type->string, "exec") != 0) ||
		    !cJSON_IsObject(ent) || !bm_json_str(ent, "type") ||
		    strcmp(bm_json_str(ent, "type"), type->string) != 0 ||
		    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(ent,
		    "pass")))
			continue;
		if (cJSON_IsArray(olds) && (!otype ||
		    strcmp(otype->string, type->string) != 0 ||
		    !cJSON_Compare(otype, type, 1)))
			continue;
		neg = ospec && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    ospec, "not"));
		v->known = 1;
		v->pass = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ent,
		    "pass")) != neg;
		d = bm_json_numor(ent, "score", v->pass != neg ? 1 : 0);
		v->score = neg ? 1 - d : d;
		v->reason = bm_json_str(ent, "reason");
		v->agreement = bm_json_numor(ent, "agreement", -1);
	}
	return rs->v;
}

/* The result record's fields that come from the case, as bm-exec's. */
static cJSON *
from_case(const cJSON *kase, long step, const char *run_id)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *it;

	cJSON_AddStringToObject(r, "type", "result");
	cJSON_AddStringToObject(r, "run_id", run_id);
	cJSON_ArrayForEach(it, kase) {
		if (strcmp(it->string, "type") == 0 ||
		    strcmp(it->string, "run_id") == 0 ||
		    strcmp(it->string, "messages") == 0 ||
		    strcmp(it->string, "steps") == 0 ||
		    strcmp(it->string, "system") == 0 ||
		    strcmp(it->string, "step") == 0)
			continue;
		cJSON_AddItemToObject(r, it->string, cJSON_Duplicate(it, 1));
	}
	cJSON_AddNumberToObject(r, "step", (double)step);
	return r;
}

/* The result of kase's step with what it carries of old (taken from it). */
static cJSON *
carry(struct bm_rescore *rs, const cJSON *kase, long step, cJSON *old)
{
	cJSON *r = from_case(kase, step, rs->run_id), *it;
	size_t i;

	for (i = 0; carried[i]; i++)
		if ((it = cJSON_DetachItemFromObjectCaseSensitive(old,
		    carried[i])))
			cJSON_AddItemToObject(r, carried[i], it);
	return r;
}

/* Number v, else dflt. */
static double
num_or(const cJSON *v, double dflt)
{
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/*
 * The answer to score: the one of a record whose own fields are f (the
 * stored one, or a result carrying it), with the stored verdicts of old
 * for expect's judge and exec entries.
 */
static void
answer(struct bm_rescore *rs, const cJSON *const *f, const cJSON *expect,
    const cJSON *old, struct bm_answer *a)
{
	a->output = cJSON_IsString(f[O_OUTPUT]) ?
	    f[O_OUTPUT]->valuestring : "";
	a->latency_ms = num_or(f[O_LATENCY], -1);
	a->completion_tokens = (long)bm_json_numor(f[O_USAGE],
	    "completion_tokens", -1);
	a->exit_code = (int)num_or(f[O_EXIT], -1);
	a->verdicts = cJSON_IsArray(expect) ? verdicts(rs, expect, old) : NULL;
}

/* Set r's error: class cls, message msg. */
static void
set_error(cJSON *r, const char *cls, const char *msg)
{
	cJSON *err;

	cJSON_DeleteItemFromObjectCaseSensitive(r, "error");
	err = cJSON_AddObjectToObject(r, "error");
	cJSON_AddStringToObject(err, "class", cls);
	cJSON_AddStringToObject(err, "message", msg ? msg : "");
	cJSON_AddNullToObject(err, "http_status");
}

/*
 * Score step `step` of kase against old, the record RUN stored for it
 * (freed here); o: the scheduler's outcome (--rejudge), or NULL for the
 * stored verdicts.
 */
static cJSON *
score_stored(struct bm_rescore *rs, const cJSON *kase, long step,
    cJSON *old, const struct bm_sched_outcome *o)
{
	struct bm_error se = BM_ERROR_INIT;
	struct bm_answer a = { .exit_code = -1 };
	const cJSON *expect, *steps, *f[O_N];
	cJSON *r, *sc;
	int rc;

	r = carry(rs, kase, step, old);
	steps = cJSON_GetObjectItemCaseSensitive(kase, "steps");
	expect = cJSON_IsArray(steps) ? cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(steps, (int)step), "expect") :
	    cJSON_GetObjectItemCaseSensitive(kase, "expect");
	if (o) {
		/* The judges' usage is the new judges'. */
		cJSON_DeleteItemFromObjectCaseSensitive(r, "judge_usage");
		cJSON_DeleteItemFromObjectCaseSensitive(r, "judge_cost_usd");
		if (o->judges > 0)
			bm_judge_add_usage(r, o->judge_prompt_tokens,
			    o->judge_completion_tokens, o->judge_cost_usd,
			    o->judge_priced);
	}
	rc = -1;
	sc = cJSON_CreateObject();
	if (strcmp(bm_json_str(old, "status") ? bm_json_str(old, "status") :
	    "", "error") != 0 && (!o || o->cls == BM_CLASS_NONE)) {
		bm_json_index(r, own, f);
		answer(rs, f, expect, old, &a);
		if (o)
			a.verdicts = o->verdicts;
		rc = bm_assert_score(expect, &a, sc, &se);
	} else if (o && o->cls != BM_CLASS_NONE) {
		/* The scheduler's error (a judge's, a stop, a config). */
		set_error(r, bm_class_name(o->cls), o->msg);
	}
	if (rc < 0 && se.msg) {
		/* As bm-exec's: a spec that does not check is the case's
		 * config error, else no verdict was reached. */
		struct bm_error ce = BM_ERROR_INIT;

		if (bm_assert_check_case(kase, &ce) < 0)
			set_error(r, "config", ce.msg);
		else
			set_error(r, "judge", se.msg);
		bm_error_clear(&ce);
	}
	cJSON_AddStringToObject(r, "status", rc < 0 ? "error" : rc ? "pass" :
	    "fail");
	bm_assert_attach(r, sc, rc >= 0);
	if (rc >= 0 && !cJSON_GetObjectItemCaseSensitive(r, "error"))
		cJSON_AddNullToObject(r, "error");
	bm_runs_shape(r);
	cJSON_Delete(old);
	bm_error_clear(&se);
	return r;
}

/* Line text (len bytes) with row in one allocation (struct line). */
static struct line *
pack(const struct bm_runs_row *row, const char *text, size_t len)
{
	struct bm_runs_row w = *row;
	const char **f[] = { &w.case_id, &w.benchmark_id, &w.model,
	    &w.variant, &w.status, &w.error_class, &w.output,
	    &w.content_sha256 };
	size_t n = len + 1, i, k;
	struct line *l;
	char *p;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		n += *f[i] ? strlen(*f[i]) + 1 : 0;
	l = xmalloc(sizeof(*l) + n);
	memcpy(l->text, text, len);
	l->text[len] = '\0';
	l->len = len;
	w.record = l->text;
	p = l->text + len + 1;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (*f[i]) {
			k = strlen(*f[i]) + 1;
			memcpy(p, *f[i], k);
			*f[i] = p;
			p += k;
		}
	l->row = w;
	return l;
}

/* Is it the member f[i] of keys[i] (NULL-ended) for one of them? */
static int
first(const cJSON *it, const char *const *keys, const cJSON *const *f)
{
	size_t i;

	for (i = 0; keys[i]; i++)
		if (f[i] == it)
			return 1;
	return 0;
}

/* ,"k":v to b, v null when NULL. */
static void
put_field(struct bm_buf *b, const char *k, const cJSON *v)
{
	bm_buf_addc(b, ',');
	bm_json_put_str(b, k);
	bm_buf_addc(b, ':');
	if (v)
		bm_json_put(b, v);
	else
		bm_buf_adds(b, "null");
}

/* A value in a record's text: n bytes at s; s NULL when absent. */
struct span {
	const char *s;
	size_t n;
};

static const char *
ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/*
 * Past the JSON value at p: its strings and brackets followed, nothing
 * more checked (the record is JSON: CHECK json_valid, or bm_json_put's).
 * NULL when the text ends first.
 */
static const char *
skip(const char *p)
{
	int depth = 0;

	do {
		if (*p == '"') {
			for (p++; *p != '"'; p++)
				if (*p == '\0' || (*p == '\\' && *++p == '\0'))
					return NULL;
			p++;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (depth-- == 0)
				return NULL;
			p++;
		} else if (*p == '\0') {
			return NULL;
		} else if (depth > 0) {
			p++;
		} else {
			/* A number or a literal. */
			p += strcspn(p, ",:{}[]\" \t\n\r");
		}
	} while (depth > 0);
	return p;
}

/*
 * The values of record text j's members named keys[i] (NULL-ended; the
 * first of a name, as bm_json_index) into v[i].  0, or -1 when j is not
 * an object this reads (a key with an escape: cJSON's to read).
 */
static int
members(const char *j, const char *const *keys, struct span *v)
{
	const char *p = ws(j), *k, *end;
	size_t i, n;

	for (i = 0; keys[i]; i++)
		v[i].s = NULL;
	if (*p++ != '{')
		return -1;
	p = ws(p);
	while (*p != '}') {
		if (*p != '"')
			return -1;
		for (k = ++p; *p != '"'; p++)
			if (*p == '\\' || *p == '\0')
				return -1;
		n = (size_t)(p - k);
		p = ws(p + 1);
		if (*p++ != ':')
			return -1;
		p = ws(p);
		if ((end = skip(p)) == NULL || end == p)
			return -1;
		for (i = 0; keys[i]; i++)
			if (!v[i].s && keys[i][0] == *k &&
			    strncmp(keys[i], k, n) == 0 && keys[i][n] == '\0') {
				v[i].s = p;
				v[i].n = (size_t)(end - p);
				break;
			}
		p = ws(end);
		if (*p == ',')
			p = ws(p + 1);
		else if (*p != '}')
			return -1;
	}
	return *ws(p + 1) == '\0' ? 0 : -1;
}

/*
 * Is v printed as bm_json_put prints it: a literal, a whole number, or a
 * string with no escape that bm_json_put_str writes otherwise?  (Other
 * numbers, objects and arrays are parsed and printed.)
 */
static int
printed(const struct span *v)
{
	const char *p = v->s, *end = v->s + v->n - 1;
	unsigned x;

	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		/* A whole number as put_whole prints it: below 1e15, no
		 * leading zero. */
		p += *p == '-';
		if (*p == '0')
			return p == end;
		return (size_t)(end - p) < 15 &&
		    strspn(p, "0123456789") == (size_t)(end - p) + 1;
	}
	if (*p != '"')
		return (v->n == 4 && (memcmp(p, "null", 4) == 0 ||
		    memcmp(p, "true", 4) == 0)) ||
		    (v->n == 5 && memcmp(p, "false", 5) == 0);
	for (p++; p < end; p++) {
		if ((unsigned char)*p < 32)
			return 0;
		if (*p != '\\')
			continue;
		p++;
		if (strchr("\"\\bfnrt", *p))
			continue;
		/* \u00XX, lowercase, for a control character that has no
		 * letter (not NUL: cJSON's strings end there). */
		if (end - p < 5 || memcmp(p, "u00", 3) != 0 ||
		    !strchr("01", p[3]) || !strchr("0123456789abcdef", p[4]))
			return 0;
		x = (unsigned)(p[3] - '0') * 16 + (unsigned)(p[4] <= '9' ?
		    p[4] - '0' : p[4] - 'a' + 10);
		if (x == 0 || x == '\b' || x == '\f' || x == '\n' ||
		    x == '\r' || x == '\t')
			return 0;
		p += 4;
	}
	return 1;
}

/* v's number, else dflt. */
static double
span_num(const struct span *v, double dflt)
{
	cJSON *j = v->s ? cJSON_ParseWithLength(v->s, v->n) : NULL;

	if (cJSON_IsNumber(j))
		dflt = j->valuedouble;
	cJSON_Delete(j);
	return dflt;
}

/*
 * ,"k":v to b as put_field prints the member parsed (null when absent):
 * 0, or -1 when v does not parse.
 */
static int
put_span(struct bm_buf *b, const char *k, const struct span *v)
{
	cJSON *j;

	bm_buf_addc(b, ',');
	bm_json_put_str(b, k);
	bm_buf_addc(b, ':');
	if (!v->s) {
		bm_buf_adds(b, "null");
	} else if (printed(v)) {
		bm_buf_add(b, v->s, v->n);
	} else {
		if (!(j = cJSON_ParseWithLength(v->s, v->n)))
			return -1;
		bm_json_put(b, j);
		cJSON_Delete(j);
	}
	return 0;
}

/* Column c of st, a number, or dflt when NULL. */
static double
col_num(struct bm_db_stmt *st, int c, double dflt)
{
	return bm_db_col_null(st, c) ? dflt : bm_db_col_double(st, c);
}

/*
 * The result of a one-step kase scored against RUN's stored result on
 * st's row (not an error), written straight into its line and row, in
 * the order bm_runs_shape gives score_stored's result: the same bytes,
 * without parsing the stored record or building the result.  The answer
 * and the row's measures are the row's columns (made from the record);
 * the members the result carries are copied from the record's text.
 * NULL when the case is one score_stored makes (a field of the result's
 * own in the case, a judge or exec entry, a scoring that fails, a record
 * this does not read).
 */
static struct line *
fast(struct bm_rescore *rs, const cJSON *kase, struct bm_db_stmt *st)
{
	const cJSON *expect = cJSON_GetObjectItemCaseSensitive(kase,
	    "expect"), *it, *c[8], *type;
	const char *rec = bm_db_col_text(st, C_RECORD);
	struct bm_error se = BM_ERROR_INIT;
	struct bm_answer a = { .exit_code = -1 };
	struct bm_buf *b = &rs->line;
	struct span f[O_N];
	struct bm_buf *sc = &rs->scored;
	struct bm_runs_row row;
	double score;
	size_t i;
	int rc;

	if (!rec || members(rec, own, f) < 0 || !f[O_STATUS].s ||
	    (f[O_STATUS].n == 7 && memcmp(f[O_STATUS].s, "\"error\"", 7) ==
	    0) || memchr(f[O_STATUS].s, '\\', f[O_STATUS].n))
		return NULL;
	cJSON_ArrayForEach(it, kase)
		if (!it->string || is_in(it->string, own))
			return NULL;
	cJSON_ArrayForEach(it, expect)
		if ((type = bm_assert_type(it)) &&
		    (strcmp(type->string, "judge") == 0 ||
		    strcmp(type->string, "exec") == 0))
			return NULL;
	bm_buf_reset(b);
	bm_buf_adds(b, "{\"type\":\"result\",\"run_id\":");
	bm_json_put_str(b, rs->run_id);
	bm_json_index(kase, from_kase, c);
	for (i = 0; from_kase[i]; i++)
		put_field(b, from_kase[i], c[i]);
	a.exit_code = (int)span_num(&f[O_EXIT], -1);
	a.output = bm_db_col_text(st, C_OUTPUT);
	if (!a.output)
		a.output = "";
	a.latency_ms = col_num(st, C_LATENCY, -1);
	a.completion_tokens = (long)col_num(st, C_COMPLETION, -1);
	bm_buf_reset(sc);
	rc = bm_assert_put(expect, &a, sc, &score, &se);
	bm_error_clear(&se);
	if (rc < 0)
		return NULL;
	bm_buf_adds(b, ",\"step\":0,\"status\":");
	bm_buf_adds(b, rc ? "\"pass\"" : "\"fail\"");
	for (i = O_ERROR; i <= O_COST; i++)
		if (put_span(b, own[i], &f[i]) < 0)
			return NULL;
	bm_buf_addc(b, ',');
	bm_buf_add(b, sc->s, sc->len);
	if (put_span(b, own[O_STARTED], &f[O_STARTED]) < 0 ||
	    put_span(b, own[O_FINISHED], &f[O_FINISHED]) < 0)
		return NULL;
	/* The rest: the case's other fields, the stored extras. */
	cJSON_ArrayForEach(it, kase)
		if (!is_in(it->string, dropped) && !first(it, from_kase, c))
			put_field(b, it->string, it);
	for (i = O_CACHED; i < O_N; i++)
		if (f[i].s && put_span(b, own[i], &f[i]) < 0)
			return NULL;
	bm_buf_addc(b, '}');
	/* The row: the stored answer's columns, the case's fields, the
	 * verdict. */
	memset(&row, 0, sizeof(row));
	row.case_id = cJSON_GetStringValue(c[0]);
	row.benchmark_id = cJSON_GetStringValue(c[1]);
	row.model = cJSON_GetStringValue(c[3]);
	row.variant = cJSON_GetStringValue(c[4]);
	row.content_sha256 = bm_json_str(kase, "content_sha256");
	row.status = rc ? "pass" : "fail";
	row.error_class = bm_db_col_text(st, C_CLASS);
	row.output = bm_db_col_text(st, C_OUTPUT);
	row.step = 0;
	row.trial = (long long)num_or(c[5], 0);
	row.repeat = (long long)num_or(c[6], 0);
	if (!bm_db_col_null(st, C_LATENCY)) {
		row.known |= BM_ROW_LATENCY;
		row.latency_ms = bm_db_col_double(st, C_LATENCY);
	}
	if (!bm_db_col_null(st, C_TTFT)) {
		row.known |= BM_ROW_TTFT;
		row.ttft_ms = bm_db_col_double(st, C_TTFT);
	}
	if (!bm_db_col_null(st, C_PROMPT)) {
		row.known |= BM_ROW_PROMPT;
		row.prompt_tokens = bm_db_col_int(st, C_PROMPT);
	}
	if (!bm_db_col_null(st, C_COMPLETION)) {
		row.known |= BM_ROW_COMPLETION;
		row.completion_tokens = bm_db_col_int(st, C_COMPLETION);
	}
	if (!bm_db_col_null(st, C_COST)) {
		row.known |= BM_ROW_COST;
		row.cost_usd = bm_db_col_double(st, C_COST);
	}
	row.known |= BM_ROW_SCORE;
	row.score = score;
	return pack(&row, b->s, b->len);
}

/*
 * Score step `step` of kase against the answer RUN stored for it: 1 and
 * *line, 0 when RUN has no result for that step, -1 with e.
 */
static int
step_result(struct bm_rescore *rs, const cJSON *kase, long step,
    struct line **line, struct bm_error *e)
{
	const char *cid = bm_json_str(kase, "case_id");
	struct bm_runs_row row;
	struct bm_db_stmt *st;
	cJSON *old, *r;
	int rc;

	*line = NULL;
	if (!cid)
		cid = "";
	rc = lookup(rs, cid, step, &st, e);
	if (rc != 1)
		return rc;
	if (step == 0 && !cJSON_GetObjectItemCaseSensitive(kase, "steps") &&
	    (*line = fast(rs, kase, st))) {
		bm_db_reset(st);
		return 1;
	}
	if (parse(rs, st, cid, step, &old, e) < 0)
		return -1;
	r = score_stored(rs, kase, step, old, NULL);
	bm_buf_reset(&rs->line);
	bm_json_put(&rs->line, r);
	bm_runs_row_of(r, NULL, &row);
	*line = pack(&row, rs->line.s, rs->line.len);
	cJSON_Delete(r);
	return 1;
}

/*
 * Try f (bm_runs_try_begin or bm_runs_try_commit) until the file is not
 * busy, for busy_ms at most; 0, or -1 with e.
 */
static int
retry(struct bm_rescore *rs, int (*f)(struct bm_runs *, struct bm_error *),
    struct bm_error *e)
{
	double t0 = bm_clock_ms();
	int rc;

	while ((rc = f(rs->runs, e)) == 0 && bm_clock_ms() - t0 < rs->busy_ms)
		poll(NULL, 0, 50);
	if (rc == 0)
		bm_error_set(e, bm_db_path(rs->db), 0, 0, "database is locked"
		    " (tried for %g s)", rs->busy_ms / 1000.0);
	return rc == 1 ? 0 : -1;
}

/* Count the result of row w. */
static void
count(struct bm_rescore *rs, const struct bm_runs_row *w)
{
	const char *cls = w->error_class, *st = w->status;
	int i;

	rs->t.done++;
	if (strcmp(st ? st : "", "pass") == 0) {
		rs->t.pass++;
	} else if (strcmp(st ? st : "", "fail") == 0) {
		rs->t.fail++;
	} else {
		rs->t.errors++;
		for (i = 1; cls && i <= BM_CLASS_CONFIG; i++)
			if (strcmp(cls, bm_class_name((enum bm_class)i)) == 0)
				rs->t.by_class[i]++;
		if (cls && strcmp(cls, "cancelled") == 0)
			rs->t.cancelled++;
	}
}

/*
 * The CHECKs of results on (on) or off (0) for db: the rows the writer
 * stores meet them by construction (add() below) and json_valid(record),
 * the costliest, parses every record again.  The pragma is db's only;
 * the CHECKs are off only while a batch is open.
 */
static void
checks(struct bm_rescore *rs, int on)
{
	(void)bm_db_exec(rs->db, on ? "PRAGMA ignore_check_constraints = OFF" :
	    "PRAGMA ignore_check_constraints = ON", NULL);
}

/*
 * Does row w break a CHECK of results that the writer skips?  Record is
 * valid JSON (bm_json_put's) and status one of pass, fail, error by
 * construction; step, trial and repeat come from the case.
 */
static int
breaks_checks(const struct bm_runs_row *w)
{
	return w->step < 0 || w->trial < 0 || w->repeat < 0;
}

/*
 * Store the writer's group of results with bm_runs_add_rows; none once
 * an insert failed (*failed, with e).
 */
static void
flush(struct bm_rescore *rs, int *failed, struct bm_error *e)
{
	struct bm_runs_row rows[GROUP];
	size_t i;

	for (i = 0; i < rs->ngroup; i++)
		rows[i] = rs->group[i]->row;
	if (rs->ngroup > 0 && !*failed && bm_runs_add_rows(rs->runs, rows,
	    rs->ngroup, e) < 0)
		*failed = 1;
	for (i = 0; i < rs->ngroup; i++)
		free(rs->group[i]);
	rs->ngroup = 0;
}

/*
 * The writer's part of a result l: its line in the batch, its row (none
 * once an insert failed: *failed, with e), l freed; in groups of GROUP.
 * A result breaking a CHECK is stored alone with the CHECKs on, to fail
 * as it would.
 */
static void
store(struct bm_rescore *rs, struct line *l, int *failed, struct bm_error *e)
{
	bm_buf_add(&rs->batch, l->text, l->len);
	bm_buf_addc(&rs->batch, '\n');
	if (breaks_checks(&l->row)) {
		flush(rs, failed, e);
		checks(rs, 1);
		if (!*failed && bm_runs_add_rows(rs->runs, &l->row, 1, e) < 0)
			*failed = 1;
		checks(rs, 0);
		free(l);
		return;
	}
	rs->group[rs->ngroup++] = l;
	if (rs->ngroup == GROUP)
		flush(rs, failed, e);
}

static void *
writer_main(void *arg)
{
	struct bm_rescore *rs = arg;
	struct writer *w = &rs->w;
	struct bm_error e = BM_ERROR_INIT;
	struct line **q = NULL, **t;
	size_t n, i, cap = 0, c;
	int failed;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->n == 0 && !w->quit)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->n == 0)
			break;
		/* Take the queue; the main thread fills the other array. */
		t = w->q, w->q = q, q = t;
		c = w->cap, w->cap = cap, cap = c;
		n = w->n;
		w->n = 0;
		w->busy = 1;
		failed = w->failed;
		pthread_mutex_unlock(&w->mu);
		for (i = 0; i < n; i++)
			store(rs, q[i], &failed, &e);
		flush(rs, &failed, &e);
		pthread_mutex_lock(&w->mu);
		if (failed && !w->failed) {
			w->failed = 1;
			w->err = e;
			e = (struct bm_error)BM_ERROR_INIT;
		}
		w->busy = 0;
		if (w->n == 0)
			pthread_cond_signal(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	bm_error_clear(&e);
	free(q);
	return NULL;
}

/* Hand the results the main thread holds to the writer. */
static void
push(struct bm_rescore *rs)
{
	struct writer *w = &rs->w;

	if (rs->nhand == 0)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->n + rs->nhand > w->cap) {
		w->cap = (w->n + rs->nhand) * 2;
		w->q = xreallocarray(w->q, w->cap, sizeof(*w->q));
	}
	memcpy(w->q + w->n, rs->hand, rs->nhand * sizeof(*w->q));
	w->n += rs->nhand;
	rs->wfail = w->failed;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	rs->nhand = 0;
}

/* Result l goes to the writer (a few at a time). */
static void
hand(struct bm_rescore *rs, struct line *l)
{
	int failed;

	if (!rs->started || breaks_checks(&l->row)) {
		/* Stored here, once the writer is idle: an error is told
		 * for this result, as bm_runs_add's. */
		drain(rs);
		failed = rs->w.failed;
		store(rs, l, &failed, &rs->w.err);
		flush(rs, &failed, &rs->w.err);
		rs->w.failed = rs->wfail = failed;
		return;
	}
	if (rs->hand == NULL)
		rs->hand = xreallocarray(NULL, 64, sizeof(*rs->hand));
	rs->hand[rs->nhand++] = l;
	if (rs->nhand == 64)
		push(rs);
}

/* Wait until the writer has stored all it was handed: db is ours. */
static void
drain(struct bm_rescore *rs)
{
	struct writer *w = &rs->w;

	if (!rs->started)
		return;
	push(rs);
	pthread_mutex_lock(&w->mu);
	while (w->n > 0 || w->busy)
		pthread_cond_wait(&w->idle, &w->mu);
	rs->wfail = w->failed;
	pthread_mutex_unlock(&w->mu);
}

/* The writer failed (seen by drain): its error in e; 1, else 0. */
static int
writer_failed(struct bm_rescore *rs, struct bm_error *e)
{
	if (!rs->wfail || !rs->w.err.msg)
		return rs->wfail;
	bm_error_clear(e);
	*e = rs->w.err;
	rs->w.err = (struct bm_error)BM_ERROR_INIT;
	return 1;
}

/* The batch is no longer open: the CHECKs on, RUN's reads ended. */
static void
close_batch(struct bm_rescore *rs)
{
	if (rs->open) {
		checks(rs, 1);
		if (bm_db_in_tx(rs->rd))
			bm_db_rollback(rs->rd);
	}
	rs->open = 0;
}

/* The database failed: nothing more is stored. */
static int
failed(struct bm_rescore *rs)
{
	drain(rs);
	close_batch(rs);
	bm_runs_rollback(rs->runs);
	rs->failed = 1;
	return -1;
}

int
bm_rescore_case(struct bm_rescore *rs, const cJSON *kase,
    struct bm_error *e)
{
	const char *cid = bm_json_str(kase, "case_id");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(kase, "steps");
	long k, n = cJSON_IsArray(steps) ? cJSON_GetArraySize(steps) : 1;
	struct line *r;
	int rc;

	if (rs->failed) {
		bm_error_set(e, bm_db_path(rs->db), 0, 0, "the database"
		    " failed earlier");
		return -1;
	}
	/* A batch opens with the writer idle: db is ours. */
	if (!rs->open) {
		if (!bm_db_in_tx(rs->db) && retry(rs, bm_runs_try_begin,
		    e) < 0)
			return failed(rs);
		checks(rs, 0);
		rs->open = 1;
		/* RUN's answers are read in one read transaction a batch. */
		(void)bm_db_exec(rs->rd, "BEGIN", NULL);
	}
	rs->t.cases++;
	if (cid)
		bm_buf_addf(&rs->ids, "%s\n", cid);
	for (k = 0; k < n; k++) {
		rc = step_result(rs, kase, k, &r, e);
		if (rc < 0)
			return failed(rs);
		if (rc == 0 && k == 0) {
			rs->t.unanswered++;
			return 0;
		}
		if (rc == 0)	/* later steps, after an error: never asked */
			break;
		count(rs, &r->row);
		rs->pending++;
		rs->pending_bytes += r->len + 1;
		hand(rs, r);
		if (rs->wfail) {
			(void)writer_failed(rs, e);
			return failed(rs);
		}
	}
	return 1;
}

long
bm_rescore_pending(const struct bm_rescore *rs)
{
	return rs->pending;
}

size_t
bm_rescore_pending_bytes(const struct bm_rescore *rs)
{
	return rs->pending_bytes;
}

int
bm_rescore_commit(struct bm_rescore *rs, struct bm_error *e)
{
	int rc = 0;

	drain(rs);
	close_batch(rs);
	if (!rs->failed && writer_failed(rs, e)) {
		rc = failed(rs);
	} else if (!rs->failed && bm_db_in_tx(rs->db) &&
	    (rc = retry(rs, bm_runs_try_commit, e)) < 0) {
		(void)failed(rs);
	}
	rs->pending = 0;
	rs->pending_bytes = 0;
	bm_buf_add(&rs->taken, rs->batch.s, rs->batch.len);
	bm_buf_reset(&rs->batch);
	return rc;
}

const char *
bm_rescore_take(struct bm_rescore *rs, size_t *len)
{
	const char *s;

	if (rs->batch.len > 0) {
		/* Not stored (the database failed): handed out as is. */
		bm_buf_add(&rs->taken, rs->batch.s, rs->batch.len);
		bm_buf_reset(&rs->batch);
		rs->pending = 0;
		rs->pending_bytes = 0;
	}
	*len = rs->taken.len;
	s = bm_buf_str(&rs->taken);
	rs->taken.len = 0;
	return s;
}

const struct bm_rescore_tally *
bm_rescore_tally(const struct bm_rescore *rs)
{
	return &rs->t;
}

void
bm_rescore_stream(const struct bm_rescore *rs, char out[65])
{
	bm_hash_sha256(bm_buf_str(&rs->ids), rs->ids.len, out);
}

int
bm_rescore_stored(struct bm_rescore *rs, const cJSON *kase, long step,
    cJSON **rec, struct bm_error *e)
{
	const char *cid = bm_json_str(kase, "case_id");

	return stored(rs, cid ? cid : "", step, rec, e);
}

int
bm_rescore_is_error(const cJSON *rec)
{
	const char *st = bm_json_str(rec, "status");

	return strcmp(st ? st : "", "error") == 0;
}

cJSON *
bm_rescore_result(struct bm_rescore *rs, const cJSON *kase, long step,
    cJSON *old, const struct bm_sched_outcome *o)
{
	return score_stored(rs, kase, step, old, o);
}

char *
bm_rescore_record(struct bm_rescore *rs, const cJSON *kase, long step,
    cJSON *old)
{
	static const char *const scored[] = {
		"status", "score", "assertions", "metrics", "finished_at",
		"judge_usage", "judge_cost_usd", NULL
	};
	cJSON *r = carry(rs, kase, step, old);
	char *json;
	size_t i;

	cJSON_Delete(old);
	cJSON_DeleteItemFromObjectCaseSensitive(r, "error");
	cJSON_AddNullToObject(r, "error");
	bm_runs_shape(r);
	for (i = 0; scored[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(r, scored[i]);
	json = bm_json_print(r);
	cJSON_Delete(r);
	return json;
}

int
bm_rescore_prior(struct bm_rescore *rs, const cJSON *kase, long step,
    const cJSON *expect, int i, struct bm_verdict *v, struct bm_error *e)
{
	const struct bm_verdict *all;
	int rc;

	cJSON_Delete(rs->prior);
	rs->prior = NULL;
	rc = bm_rescore_stored(rs, kase, step, &rs->prior, e);
	if (rc != 1 || !cJSON_IsArray(expect) ||
	    i >= cJSON_GetArraySize(expect))
		return rc < 0 ? -1 : 0;
	all = verdicts(rs, expect, rs->prior);
	*v = all[i];
	return all[i].known;
}

void
bm_rescore_add_id(struct bm_rescore *rs, const char *case_id)
{
	rs->t.cases++;
	bm_buf_addf(&rs->ids, "%s\n", case_id ? case_id : "");
}
