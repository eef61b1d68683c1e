/* test-sched: jobs, sequences, hooks, stop and input, with no network. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "sched.h"
#include "tap.h"
#include "exec-show.h"
#include "xalloc.h"

static struct bm_sched *S;
static struct bm_buf got;	/* "case/step:class:output:attempts\n"... */
static long nlines;
static int judge_step0;		/* the result hook fails step 0 as judge */

static const char *
cid(const struct bm_sched_step *s)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->kase, "case_id");

	return cJSON_IsString(v) ? v->valuestring : "?";
}

static void
on_line(void *user, const char *line, size_t len, long lineno)
{
	struct bm_error e = BM_ERROR_INIT;
	cJSON *rec = cJSON_ParseWithLength(line, len);

	(void)user;
	nlines++;
	if (line[len - 1] == '\r' || line[len - 1] == ' ')
		bm_buf_addf(&got, "untrimmed line %ld\n", lineno);
	if (bm_sched_add(S, rec, &e) < 0) {
		bm_buf_addf(&got, "line %ld: %s\n", lineno, e.msg);
		bm_error_clear(&e);
	}
}

static enum bm_class
on_result(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	(void)user;
	bm_buf_addf(&got, "%s/%ld:%s:%s:%d%s\n", cid(s), s->step,
	    o->cls ? bm_class_name(o->cls) : "ok",
	    o->cls ? o->msg : o->reply.output, s->attempts,
	    o->cached ? ":cached" : "");
	if (judge_step0 && s->step == 0)
		return BM_CLASS_JUDGE;
	return o->cls;
}

static int
on_recorded(void *user, const struct bm_sched_step *s, char **output)
{
	(void)user;
	if (strcmp(cid(s), "r1") != 0 || s->step != 0)
		return 0;
	*output = xstrdup("prior");
	return 1;
}

static int
on_cache_get(void *user, const struct bm_sched_step *s, struct bm_reply *r)
{
	(void)user;
	if (strcmp(cid(s), "k1") != 0)
		return 0;
	r->output = xstrdup("from cache");
	return 1;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* got's lines, sorted: the order of completion is not the point. */
static const char *
sorted(void)
{
	static struct bm_buf b;
	char *lines[64], *s = xstrdup(bm_buf_str(&got)), *p, *nl;
	size_t n = 0, i;

	for (p = s; n < 64 && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		lines[n++] = p;
	}
	qsort(lines, n, sizeof(*lines), cmp);
	bm_buf_reset(&b);
	for (i = 0; i < n; i++)
		bm_buf_addf(&b, "%s\n", lines[i]);
	free(s);
	return bm_buf_str(&b);
}

/* A scheduler reading lines from a pipe holding input. */
static struct bm_sched *
sched(const struct bm_config *cfg, const struct bm_sched_hooks *h,
    const char *input, int *fd)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_sched_opts o = { .cfg = cfg, .jobs = 4, .retries = 0,
	    .timeout_s = 5, .backoff_ms = 1, .in_fd = -1,
	    .in_name = "<stdin>" };
	int p[2];

	if (pipe(p) < 0)
		return NULL;
	if (write(p[1], input, strlen(input)) < 0)
		return NULL;
	close(p[1]);
	o.in_fd = *fd = p[0];
	return bm_sched_new(&o, h, &e);
}

/* Scoring: verdicts as the result hook receives them. */
static enum bm_class
on_scored(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	int i;

	(void)user;
	bm_buf_addf(&got, "%s/%ld:%s:%s:judges %d", cid(s), s->step,
	    o->cls ? bm_class_name(o->cls) : "ok",
	    o->cls ? o->msg : o->reply.output, o->judges);
	for (i = 0; o->verdicts && i < cJSON_GetArraySize(s->expect); i++)
		bm_buf_addf(&got, " [%d %d %g %s]", o->verdicts[i].known,
		    o->verdicts[i].pass, o->verdicts[i].score,
		    o->verdicts[i].reason ? o->verdicts[i].reason : "-");
	bm_buf_addc(&got, '\n');
	return o->cls;
}

/* Entry 0 of case p1 has a verdict already; nothing else has. */
static int
on_prior(void *user, const struct bm_sched_step *s, int i,
    struct bm_verdict *v)
{
	(void)user;
	if (strcmp(cid(s), "p1") != 0 || i != 0)
		return 0;
	v->pass = 0;
	v->score = 0.25;
	v->reason = "stored";
	return 1;
}

static char *
on_record(void *user, const struct bm_sched_step *s,
    const struct bm_sched_outcome *o)
{
	(void)user;
	return xasprintf("{\"case_id\":\"%s\",\"output\":\"%s\"}\n",
	    cid(s), o->reply.output);
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_sched_hooks h = { .line = on_line,
	    .recorded = on_recorded, .cache_get = on_cache_get,
	    .result = on_result };
	struct bm_config *cfg = bm_config_load(NULL, &e);
	struct bm_sched_est *est;
	struct bm_sched_tally tally = { 0, 0, 0, 0, 0, -1 };
	struct bm_buf line = BM_BUF_INIT;
	struct bm_sched_pace pace;
	struct bm_sched_load load;
	struct bm_target t;
	cJSON *rec;
	int fd, n;

	ok(cfg != NULL, "the embedded configuration");
	S = sched(cfg, &h,
	    "{\"case_id\":\"e1\",\"model\":\"echo:\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}\r\n"
	    "\n"
	    "{\"case_id\":\"s1\",\"model\":\"echo:\",\"system\":\"S\","
	    "\"steps\":[{\"prompt\":\"one\"},{\"prompt\":\"two\"}]}  \n"
	    "{\"case_id\":\"x1\",\"model\":\"nosuch:m\",\"messages\":[]}\n"
	    "{\"case_id\":\"x2\",\"model\":\"exec:exit 3\",\"messages\":[]}\n"
	    "{\"case_id\":\"r1\",\"model\":\"exec:jq -c .messages\","
	    "\"steps\":[{\"prompt\":\"a\"},{\"prompt\":\"b\"}]}\n"
	    "{\"case_id\":\"k1\",\"model\":\"exec:false\",\"messages\":[]}\n"
	    "{\"case_id\":\"bad\"}\n"
	    "{\"case_id\":\"z\",\"model\":\"echo:\",\"steps\":[]}",
	    &fd);
	ok(S != NULL, "new");
	ok(bm_sched_run(S, &e) == 0, "run");
	is(sorted(),
	    "e1/0:ok:hello:1\n"
	    "k1/0:ok:from cache:0:cached\n"
	    "line 8: case needs case_id, model and messages or steps\n"
	    "line 9: case z has no steps\n"
	    "r1/1:ok:[{\"role\":\"user\",\"content\":\"a\"},"
	    "{\"role\":\"assistant\",\"content\":\"prior\"},"
	    "{\"role\":\"user\",\"content\":\"b\"}]:1\n"
	    "s1/0:ok:one:1\n"
	    "s1/1:ok:two:1\n"
	    "x1/0:config:unknown provider 'nosuch' in"
	    " 'nosuch:m':0\n"
	    "x2/0:exec:exec exit 3 exited with status 3:1\n",
	    "one result per step, trimmed lines, bad cases named");
	is_int(nlines, 8, "blank lines are not delivered");
	is_int(bm_sched_stats(S)->expected, 8, "results expected");
	ok(bm_sched_stats(S)->eof && bm_sched_stats(S)->alive == 0 &&
	    bm_sched_stats(S)->inflight == 0, "all done");
	tally.done = 3;
	tally.pass = 2;
	tally.fail = 1;
	show_progress(S, &tally, 1500, 0, &line);
	is(bm_buf_str(&line), "3 done: 2 pass, 1 fail, 0 error | 2.0 req/s",
	    "progress: done, pass/fail/error, rate; no total, no ETA");
	bm_buf_reset(&line);
	tally.total = 8;
	show_progress(S, &tally, 1500, 0, &line);
	is(bm_buf_str(&line), "3/8 done: 2 pass, 1 fail, 0 error | 2.0 req/s |"
	    " ETA 3s", "progress: done/total, pass/fail/error, rate, ETA");
	bm_buf_reset(&line);
	tally.done = tally.errors = 1;
	tally.cancelled = 2;
	show_progress(S, &tally, 100000, 1, &line);
	is(bm_buf_str(&line), "1/8 done: 2 pass, 1 fail, \033[31m1 error\033[0m,"
	    " 2 cancelled | 0.0 req/s | ETA 11m40s",
	    "errors in red, cancelled apart, ETA in minutes");
	bm_buf_reset(&line);
	show_progress(S, &tally, 1e6, 0, &line);
	ok(strstr(bm_buf_str(&line), "| ETA 1h56m") != NULL, "in hours");
	bm_sched_pace(&tally, 1e6, &pace);
	ok(pace.rate == 0.001 && pace.eta_s == 7000, "pace: rate and ETA");
	tally.total = -1;
	bm_sched_pace(&tally, 1e6, &pace);
	is_int(pace.eta_s, -1, "pace: no ETA without a total");
	ok(bm_sched_load(S, 0, &load) == 1, "load: the first provider");
	is(load.name, "echo", "load: in the order first used");
	ok(load.inflight == 0 && load.window > 0 && !load.open && !load.down,
	    "load: nothing in flight, breaker closed, not down");
	ok(bm_sched_load(S, 100, &load) == 0, "load: past the last");
	bm_buf_free(&line);
	bm_sched_free(S);
	close(fd);

	/* A step that ends in error gives the rest of the sequence theirs. */
	bm_buf_reset(&got);
	judge_step0 = 1;
	h.recorded = NULL;
	S = sched(cfg, &h, "{\"case_id\":\"j\",\"model\":\"echo:\","
	    "\"steps\":[{\"prompt\":\"a\"},{\"prompt\":\"b\"},"
	    "{\"prompt\":\"c\"}]}\n", &fd);
	ok(bm_sched_run(S, &e) == 0, "run a sequence");
	is(bm_buf_str(&got), "j/0:ok:a:1\n"
	    "j/1:judge:not run: step 0 ended in error:0\n"
	    "j/2:judge:not run: step 0 ended in error:0\n",
	    "steps left unrun are errors of the same class");
	bm_sched_free(S);
	close(fd);

	/* After a stop, what waits is cancelled and nothing is read. */
	bm_buf_reset(&got);
	judge_step0 = 0;
	S = sched(cfg, &h, "{\"case_id\":\"n\",\"model\":\"echo:\","
	    "\"messages\":[]}\n", &fd);
	rec = cJSON_Parse("{\"case_id\":\"w\",\"model\":\"echo:\","
	    "\"steps\":[{\"prompt\":\"a\"},{\"prompt\":\"b\"}]}");
	ok(bm_sched_add(S, rec, &e) == 0, "add");
	bm_sched_stop(S, 0);
	ok(bm_sched_run(S, &e) == 0, "run stopped");
	is(bm_buf_str(&got), "w/0:cancelled:interrupted:0\n"
	    "w/1:cancelled:interrupted:0\n", "cancelled, input left unread");
	bm_sched_free(S);
	close(fd);

	/* --dry-run's estimate: the conversation grows without answers. */
	rec = cJSON_Parse("{\"model\":\"echo:\",\"system\":\"12345678\","
	    "\"params\":{\"max_tokens\":5},\"steps\":[{\"prompt\":\"1234\"},"
	    "{\"prompt\":\"12345678\",\"params\":{\"max_tokens\":9}}]}");
	ok(bm_config_resolve(cfg, "echo:", &t, &e) == 0, "resolve");
	est = bm_sched_estimate(&t, rec, &n);
	is_int(n, 2, "two steps");
	ok(est[0].prompt < est[1].prompt, "step 1 counts step 0's prompt");
	is_int(est[0].completion, 5, "the case's max_tokens");
	is_int(est[1].completion, 9, "the step's max_tokens wins");
	free(est);
	cJSON_Delete(rec);

	/* Scoring: a prior verdict, an exec scorer fed the record, a judge. */
	bm_buf_reset(&got);
	h.result = on_scored;
	h.prior_verdict = on_prior;
	h.record = on_record;
	h.cache_get = NULL;
	S = sched(cfg, &h, "{\"case_id\":\"p1\",\"model\":\"echo:\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"expect\":[{\"judge\":{\"rubric\":\"r\",\"model\":\"echo:\"}},"
	    "{\"exec\":\"jq -e '.output == \\\"hi\\\"' >/dev/null\"},"
	    "{\"judge\":{\"rubric\":\"r\",\"model\":\"exec:echo FAIL 0.1\"}}]}\n"
	    "{\"case_id\":\"p2\",\"model\":\"echo:\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"expect\":[{\"judge\":{\"rubric\":\"r\","
	    "\"model\":\"exec:echo so-so\"}}]}\n", &fd);
	ok(bm_sched_run(S, &e) == 0, "run with scoring");
	is(sorted(), "p1/0:ok:hi:judges 1 [1 0 0.25 stored] [1 1 1 -]"
	    " [1 0 0.1 -]\n"
	    "p2/0:judge:judge exec:echo so-so: no verdict in the judge's"
	    " answer \"so-so\":judges 1 [0 0 0 -]\n",
	    "prior verdict used, scorer run, judges asked; garbage: judge");
	bm_sched_free(S);
	close(fd);

	bm_buf_free(&got);
	bm_config_free(cfg);
	return done_testing();
}
