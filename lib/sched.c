/*
 * sched.c: bm-exec's scheduler.  Jobs live in a list in input order, so
 * dispatch is fair to the input; a job is either waiting (for its turn,
 * a limit or a backoff) or running one attempt (a transfer or a child).
 * Input is read only while fewer than `ahead' jobs are alive, so memory
 * stays bounded whatever the input size.  Every job ends in exactly one
 * result hook call per step, even when stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "jsonl.h"
#include "judge.h"
#include "limit.h"
#include "map.h"
#include "sched.h"
#include "spawn.h"
#include "xalloc.h"

/* Per provider: its limits and what it has in flight. */
struct prov {
	const struct bm_provider *p;
	const char *key;	/* API key from the environment, or NULL */
	int key_missing;	/* api_key_env names an unset variable */
	long inflight, max;
	struct bm_window win;
	struct bm_bucket rpm, tpm;
	struct bm_breaker brk;
	double last_ok;		/* ms: the last success, or the first attempt */
	enum bm_class last_cls;	/* the class of the last failure */
	int down;		/* --give-up: its cases end at once */
};

/*
 * A job waits (for its turn, a limit or a backoff), runs one attempt, or,
 * once its step is answered, is scoring: its sub-requests (judges asked,
 * exec scorers run) are jobs of their own, right after it in the list, so
 * that they go through the same limits, attempts and retries.
 */
enum jstate { J_WAITING, J_RUNNING, J_SCORING };

/* What a job is: a case's step, or a sub-request scoring one. */
enum jkind { K_STEP, K_JUDGE, K_SCORER };

/* Per expect entry of a step being scored. */
struct entry {
	struct bm_judge_vote *votes;	/* its judges' (a scorer's) verdicts */
	size_t nvotes;
	char *reason;			/* a prior verdict's, copied */
};

/* A step in its scoring phase: the answer, kept until the verdicts are in. */
struct scoring {
	struct bm_sched_outcome o;
	struct bm_verdict *v;		/* one per expect entry */
	struct entry *e;
	int n;
	long pending;			/* sub-requests not done */
	enum bm_class cls;		/* the first sub-request error, or 0 */
	char *msg;
	char *rec;			/* the record exec scorers read */
	int judges, priced;
	long pt, ct;
	double cost;
};

/* One case being worked on: a plain case or a sequence of steps. */
struct job {
	struct job *prev, *next;
	enum jkind kind;
	struct job *parent;	/* sub-requests: the job they score */
	int entry;		/* sub-requests: the expect entry */
	char *cmd;		/* K_SCORER: the command */
	char *judge;		/* K_JUDGE: the model reference */
	struct scoring *sc;	/* J_SCORING */
	int scored;		/* the step's verdicts are in */
	double answered_ms;	/* ms, monotonic: the answer came */
	int err_lines;		/* stderr lines of a child handed on */
	long err_dropped;	/* and not */
	cJSON *kase;
	struct bm_target t;
	struct prov *pv;
	const cJSON *steps;	/* sequence steps, or NULL */
	long step, nsteps;
	cJSON *messages;	/* the conversation sent for this step */
	cJSON *params;		/* model params <- case <- step */
	const cJSON *expect;
	long est;		/* estimated prompt tokens + max_tokens */
	enum jstate state;
	int attempts;
	double ready_at;	/* ms, monotonic: not before (backoff) */
	double attempt_ms;	/* ms, monotonic: this attempt began */
	double ttft;		/* ms; < 0 until the first token */
	long barrier;		/* results stored before this step is sent */
	char started_at[BM_CLOCK_TIME_LEN + 1];
	struct bm_http_xfer *xfer;
	struct bm_sse sse;
	int streaming, has_child;
	struct bm_child child;
};

struct bm_sched {
	struct bm_sched_opts o;
	struct bm_sched_hooks h;
	struct bm_http *http;
	struct prov **provs;	/* pointers: jobs keep them */
	size_t nprovs;
	struct prov none;	/* of jobs whose model did not resolve */
	struct prov scorers;	/* of exec scorers: -j alone limits them */
	long nsubs;		/* sub-requests alive */
	struct bm_map *warned;	/* warnings given */
	struct job *jobs, *tail;	/* alive, in input order */
	long ahead;		/* jobs alive at most */
	struct bm_sched_stats st;
	/* input */
	struct bm_buf in;
	size_t in_off;
	long lineno;
	/* stop */
	int wake[2];		/* self-pipe: bm_sched_wake to the loop */
	double grace_end;	/* ms, monotonic: cancel what runs then */
	const char *why;	/* the message of what a stop cancels */
	long written;		/* results handed to the result hook */
	int kick;		/* a job became ready: do not wait */
	char **drop;		/* key variables an exec child does not get */
	/* poll set */
	struct bm_pollfd *fds;
	size_t nfds, fdcap;
};

/* At most this many stderr lines of a child are handed on per attempt. */
#define ERR_LINES 5

static void next_step(struct bm_sched *s, struct job *j);
static int score_begin(struct bm_sched *s, struct job *j,
    struct bm_sched_outcome *o);
static void sub_done(struct bm_sched *s, struct job *k,
    struct bm_sched_outcome *o);

/* Merge b's keys into the object into (b's win); returns into. */
static cJSON *
merged(cJSON *into, const cJSON *b)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, b) {
		cJSON_DeleteItemFromObjectCaseSensitive(into, it->string);
		cJSON_AddItemToObject(into, it->string, cJSON_Duplicate(it, 1));
	}
	return into;
}

/* Parameters of a step: t's model <- the case's <- step's (may be NULL). */
static cJSON *
step_params(const struct bm_target *t, const cJSON *kase,
    const cJSON *step)
{
	const cJSON *mp = t->model ? t->model->params : NULL;
	cJSON *p = mp ? cJSON_Duplicate(mp, 1) : cJSON_CreateObject();

	merged(p, cJSON_GetObjectItemCaseSensitive(kase, "params"));
	if (step)
		merged(p, cJSON_GetObjectItemCaseSensitive(step, "params"));
	return p;
}

/* params.max_tokens, or 0 when absent. */
static long
max_tokens(const cJSON *params)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "max_tokens");

	return cJSON_IsNumber(v) && v->valuedouble > 0 ?
	    (long)v->valuedouble : 0;
}

/* Append {role, content} to messages (content NULL: ""). */
static void
say(cJSON *messages, const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", content ? content : "");
	cJSON_AddItemToArray(messages, m);
}

/* The messages a case starts with: a sequence's system message alone. */
static cJSON *
conversation(const cJSON *kase)
{
	cJSON *msgs;

	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(kase, "steps")))
		return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(kase,
		    "messages"), 1);
	msgs = cJSON_CreateArray();
	if (bm_json_str(kase, "system"))
		say(msgs, "system", bm_json_str(kase, "system"));
	return msgs;
}

static struct prov *
prov_of(struct bm_sched *s, const struct bm_provider *p)
{
	struct prov *v;
	size_t i;

	for (i = 0; i < s->nprovs; i++)
		if (s->provs[i]->p == p ||
		    strcmp(s->provs[i]->p->name, p->name) == 0)
			return s->provs[i];
	s->provs = xreallocarray(s->provs, s->nprovs + 1, sizeof(*s->provs));
	v = s->provs[s->nprovs++] = xcalloc(1, sizeof(*v));
	v->p = p;
	v->key = bm_config_api_key(p);
	v->key_missing = p->api_key_env && !v->key;
	v->max = p->max_concurrency > 0 ? p->max_concurrency : s->o.jobs;
	bm_window_init(&v->win, v->max);
	bm_bucket_init(&v->rpm, p->rpm, bm_clock_ms());
	bm_bucket_init(&v->tpm, p->tpm, bm_clock_ms());
	bm_breaker_init(&v->brk, 5, s->o.backoff_ms * 10);
	return v;
}

/* j's current step as the hooks see it. */
static void
view(const struct job *j, struct bm_sched_step *v)
{
	v->kase = j->kase;
	v->t = &j->t;
	v->step = j->step;
	v->nsteps = j->nsteps;
	v->messages = j->messages;
	v->params = j->params;
	v->expect = j->expect;
	v->attempts = j->attempts;
	v->attempt_ms = j->attempt_ms;
	v->ttft_ms = j->ttft;
	v->started_at = j->started_at;
	v->answered_ms = j->answered_ms;
}

/* Hand the result of j's current step to the caller. */
static enum bm_class
finish(struct bm_sched *s, struct job *j, const struct bm_sched_outcome *o)
{
	struct bm_sched_step v;

	if (!j->started_at[0])
		bm_clock_rfc3339(j->started_at);
	view(j, &v);
	s->written++;
	return s->h.result(s->h.user, &v, o);
}

/* The attempt is over (j no longer in flight). */
static void
landed(struct bm_sched *s, struct job *j)
{
	j->pv->inflight--;
	s->st.inflight--;
	if (j->streaming) {
		bm_sse_free(&j->sse);
		j->streaming = 0;
	}
	if (j->has_child) {
		bm_spawn_free(&j->child);
		j->has_child = 0;
	}
	j->xfer = NULL;
}

static void
scoring_free(struct scoring *sc)
{
	size_t k;
	int i;

	if (!sc)
		return;
	for (i = 0; i < sc->n; i++) {
		for (k = 0; k < sc->e[i].nvotes; k++)
			bm_judge_vote_free(&sc->e[i].votes[k]);
		free(sc->e[i].votes);
		free(sc->e[i].reason);
	}
	bm_reply_free(&sc->o.reply);
	free(sc->e);
	free(sc->v);
	free(sc->msg);
	free(sc->rec);
	free(sc);
}

static void
job_free(struct bm_sched *s, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		s->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		s->tail = j->prev;
	if (j->parent) {
		s->nsubs--;	/* the case is its parent's */
	} else {
		s->st.alive--;
		cJSON_Delete(j->kase);
	}
	scoring_free(j->sc);
	cJSON_Delete(j->messages);
	cJSON_Delete(j->params);
	free(j->cmd);
	free(j->judge);
	free(j);
}

/*
 * The step is over with outcome o: have its result written, then go on
 * with the next step of a sequence, or give the steps an error left
 * unrun their own error results, and free the job.
 */
static void
step_done(struct bm_sched *s, struct job *j, struct bm_sched_outcome *o)
{
	enum bm_class cls;
	char *msg;

	if (j->parent) {
		sub_done(s, j, o);
		return;
	}
	if (o->cls == BM_CLASS_NONE && j->answered_ms == 0)
		j->answered_ms = bm_clock_ms();
	/* Judges and exec scorers first: the result waits for them. */
	if (o->cls == BM_CLASS_NONE && !j->scored && score_begin(s, j, o))
		return;
	cls = finish(s, j, o);

	if (j->step + 1 < j->nsteps && cls == BM_CLASS_NONE) {
		say(j->messages, "assistant", o->reply.output);
		bm_reply_free(&o->reply);
		/* Not sent before the steps so far are stored. */
		j->barrier = s->written;
		j->step++;
		next_step(s, j);
		return;
	}
	bm_reply_free(&o->reply);
	msg = xasprintf("not run: step %ld ended in error", j->step);
	while (++j->step < j->nsteps) {
		struct bm_sched_outcome rest = bm_sched_outcome(cls, msg);

		j->attempts = 0;
		j->ttft = -1;
		if (cls == BM_CLASS_CANCELLED || j->pv->down)
			rest.msg = o->msg;
		finish(s, j, &rest);
	}
	free(msg);
	job_free(s, j);
}

/* End j's step with an error of class cls (no answer). */
static void
step_error(struct bm_sched *s, struct job *j, enum bm_class cls,
    const char *msg, long status)
{
	struct bm_sched_outcome o = bm_sched_outcome(cls, msg);

	o.http_status = status;
	step_done(s, j, &o);
}

/* --- scoring: judges and exec scorers ------------------------------------ */

/* Put job k into the list after job at (NULL: at the head). */
static void
link_after(struct bm_sched *s, struct job *at, struct job *k)
{
	k->prev = at;
	k->next = at ? at->next : s->jobs;
	if (k->next)
		k->next->prev = k;
	else
		s->tail = k;
	if (at)
		at->next = k;
	else
		s->jobs = k;
}

/* A sub-request of p's step for expect entry i, placed after job at. */
static struct job *
sub_new(struct bm_sched *s, struct job *p, enum jkind kind, int i,
    struct job *at)
{
	struct job *k = xcalloc(1, sizeof(*k));

	k->kind = kind;
	k->parent = p;
	k->entry = i;
	k->kase = p->kase;
	k->step = p->step;
	k->nsteps = p->nsteps;
	k->ttft = -1;
	k->state = J_WAITING;
	link_after(s, at, k);
	s->nsubs++;
	p->sc->pending++;
	s->kick = 1;
	return k;
}

/* Give msg to the warning hook, once per run. */
static void
warn_once(struct bm_sched *s, const char *msg)
{
	if (!s->h.warning || bm_map_get(s->warned, msg))
		return;
	bm_map_put(s->warned, msg, s);
	s->h.warning(s->h.user, msg);
}

/* Ask judge entry i (type node type) of j's step; returns the last job. */
static struct job *
ask_judges(struct bm_sched *s, struct job *j, int i, const cJSON *type,
    const struct bm_sched_step *v, struct job *at)
{
	struct bm_error e = BM_ERROR_INIT;
	struct scoring *sc = j->sc;
	struct bm_verdict pv = { 0 };
	struct job *k;
	const char **m;
	char *prompt, *msg;
	size_t n, x;
	int rc;

	pv.agreement = -1;
	if (s->h.prior_verdict && (rc = s->h.prior_verdict(s->h.user, v, i,
	    &pv)) != 0) {
		sc->e[i].reason = pv.reason ? xstrdup(pv.reason) : NULL;
		pv.reason = sc->e[i].reason;
		pv.known = rc == 1;
		sc->v[i] = pv;
		return at;
	}
	m = bm_judge_models(type, s->o.cfg, &n);
	prompt = bm_judge_prompt(s->o.cfg ? s->o.cfg->judge_template : NULL,
	    bm_judge_question(j->messages), sc->o.reply.output,
	    bm_judge_rubric(type));
	sc->e[i].votes = xcalloc(n ? n : 1, sizeof(*sc->e[i].votes));
	for (x = 0; x < n; x++) {
		k = sub_new(s, j, K_JUDGE, i, at);
		k->judge = xstrdup(m[x]);
		k->messages = cJSON_CreateArray();
		say(k->messages, "user", prompt);
		if (!s->o.cfg || bm_config_resolve(s->o.cfg, m[x], &k->t,
		    &e) < 0) {
			/* judges_check let it pass: the case is at fault */
			k->pv = &s->none;
			step_error(s, k, BM_CLASS_CONFIG, e.msg ? e.msg :
			    "no configuration", 0);	/* frees k */
			bm_error_clear(&e);
			continue;
		}
		at = k;
		k->pv = prov_of(s, k->t.provider);
		k->params = step_params(&k->t, NULL, NULL);
		k->est = bm_estimate_tokens(k->messages,
		    k->t.chars_per_token) + max_tokens(k->params);
		if (k->t.provider == j->t.provider && k->t.api_model &&
		    j->t.api_model && strcmp(k->t.api_model,
		    j->t.api_model) == 0) {
			msg = xasprintf("judge model %s is the model under"
			    " test", m[x]);
			warn_once(s, msg);
			free(msg);
		}
	}
	free(prompt);
	free(m);
	return at;
}

/* Run exec entry i (type node type) of j's step; returns the last job. */
static struct job *
run_scorer(struct bm_sched *s, struct job *j, int i, const cJSON *type,
    const struct bm_sched_step *v, struct job *at)
{
	struct scoring *sc = j->sc;
	struct job *k;

	if (!sc->rec)
		sc->rec = s->h.record ? s->h.record(s->h.user, v, &sc->o) :
		    bm_json_print(j->kase);
	k = sub_new(s, j, K_SCORER, i, at);
	k->cmd = xstrdup(type->valuestring);
	k->t = j->t;		/* the step's timeout */
	k->pv = &s->scorers;
	return k;
}

/* Every verdict of p's step is in: score and write it. */
static void
score_end(struct bm_sched *s, struct job *p)
{
	struct scoring *sc = p->sc;
	struct bm_sched_outcome o;
	int i;

	p->sc = NULL;
	for (i = 0; i < sc->n; i++)
		if (sc->e[i].nvotes > 0)
			bm_judge_panel(sc->e[i].votes, sc->e[i].nvotes,
			    &sc->v[i]);
	o = sc->o;
	sc->o.reply.output = NULL;	/* step_done frees it */
	o.verdicts = sc->v;
	o.judges = sc->judges;
	o.judge_prompt_tokens = sc->pt;
	o.judge_completion_tokens = sc->ct;
	o.judge_cost_usd = sc->cost;
	o.judge_priced = sc->priced;
	if (sc->cls != BM_CLASS_NONE) {
		o.cls = sc->cls;
		o.msg = sc->msg;
	}
	p->scored = 1;
	step_done(s, p, &o);
	scoring_free(sc);
}

/* Sub-request k is over: free it; the last one ends the scoring. */
static void
sub_release(struct bm_sched *s, struct job *k)
{
	struct job *p = k->parent;

	job_free(s, k);
	if (--p->sc->pending == 0)
		score_end(s, p);
}

/* Note the first error of p's scoring: why (malloc'd) of class cls. */
static void
sub_error(struct scoring *sc, enum bm_class cls, char *why)
{
	if (sc->cls == BM_CLASS_NONE) {
		sc->cls = cls;
		sc->msg = why;
	} else {
		free(why);
	}
}

/*
 * Sub-request k ended with outcome o (an answer, or an error after its
 * retries): a judge's vote, or the error that ends the step.
 */
static void
sub_done(struct bm_sched *s, struct job *k, struct bm_sched_outcome *o)
{
	struct bm_error e = BM_ERROR_INIT;
	struct scoring *sc = k->parent->sc;
	struct entry *en = &sc->e[k->entry];
	const struct bm_model *m = k->t.model;
	const char *what = k->kind == K_JUDGE ? "judge" : "exec scorer";
	const char *who = k->kind == K_JUDGE ? k->judge : k->cmd;
	long pt, ct;

	if (o->cls == BM_CLASS_CANCELLED) {
		sub_error(sc, o->cls, xstrdup(o->msg ? o->msg : ""));
	} else if (o->cls != BM_CLASS_NONE) {
		sub_error(sc, k->kind == K_JUDGE ? BM_CLASS_JUDGE :
		    BM_CLASS_EXEC, xasprintf("%s %s: %s: %s", what, who,
		    bm_class_name(o->cls), o->msg ? o->msg : ""));
	} else {
		pt = o->reply.prompt_tokens > 0 ? o->reply.prompt_tokens : 0;
		ct = o->reply.completion_tokens > 0 ?
		    o->reply.completion_tokens : 0;
		sc->judges++;
		sc->pt += pt;
		sc->ct += ct;
		if (m && m->has_price)
			sc->cost += ((double)pt * m->price_input +
			    (double)ct * m->price_output) / 1e6;
		else
			sc->priced = 0;
		if (bm_judge_parse(o->reply.output, &en->votes[en->nvotes],
		    &e) == 0)
			en->nvotes++;
		else
			sub_error(sc, BM_CLASS_JUDGE, xasprintf("judge %s: %s",
			    who, e.msg));
		bm_error_clear(&e);
	}
	bm_reply_free(&o->reply);
	sub_release(s, k);
}

/*
 * j's step is answered with o: ask its judges and run its exec scorers
 * (sub-requests), unless their verdicts are known.  1 when the step is
 * scoring (j then owns the answer), 0 when it has nothing to ask.
 */
static int
score_begin(struct bm_sched *s, struct job *j, struct bm_sched_outcome *o)
{
	const cJSON *spec, *type;
	struct bm_sched_step v;
	struct scoring *sc = NULL;
	struct job *at = j;
	int i = -1, n;

	n = cJSON_IsArray(j->expect) ? cJSON_GetArraySize(j->expect) : 0;
	cJSON_ArrayForEach(spec, j->expect) {
		i++;
		type = bm_assert_type(spec);
		if (!type || (strcmp(type->string, "judge") != 0 &&
		    (strcmp(type->string, "exec") != 0 ||
		    !cJSON_IsString(type))))
			continue;
		if (!sc) {
			sc = j->sc = xcalloc(1, sizeof(*sc));
			sc->o = *o;
			sc->n = n;
			sc->v = xcalloc((size_t)n, sizeof(*sc->v));
			sc->e = xcalloc((size_t)n, sizeof(*sc->e));
			sc->priced = 1;
			sc->pending = 1;	/* until every one is asked */
			j->state = J_SCORING;
			view(j, &v);
		}
		if (*type->string == 'j')
			at = ask_judges(s, j, i, type, &v, at);
		else
			at = run_scorer(s, j, i, type, &v, at);
	}
	if (!sc)
		return 0;
	if (--sc->pending == 0)
		score_end(s, j);
	return 1;
}

/*
 * Can every judge of expect be asked?  NULL, or why not (malloc'd): no
 * judge named, a model that does not resolve, a key that is not set.
 */
static char *
judges_check(struct bm_sched *s, const cJSON *expect)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_target t;
	const cJSON *spec, *type;
	const char **m;
	char *msg = NULL;
	size_t k, n;

	cJSON_ArrayForEach(spec, expect) {
		type = bm_assert_type(spec);
		if (!type || strcmp(type->string, "judge") != 0)
			continue;
		m = bm_judge_models(type, s->o.cfg, &n);
		if (!m)
			return xstrdup("judge: no judge model (give the"
			    " assertion a model: or bm.yml a judge:)");
		for (k = 0; k < n && !msg && s->o.cfg; k++) {
			if (bm_config_resolve(s->o.cfg, m[k], &t, &e) < 0)
				msg = xasprintf("judge: %s", e.msg);
			else if (t.provider->api_key_env &&
			    !bm_config_api_key(t.provider))
				msg = xasprintf("judge model %s: %s is not"
				    " set", m[k], t.provider->api_key_env);
			bm_error_clear(&e);
		}
		free(m);
		if (msg)
			return msg;
	}
	return NULL;
}

/*
 * Set up j's current step: the conversation, parameters and expectations;
 * then skip it if the resumed run finished it, refuse it if it cannot fit
 * the context, answer it from the cache, or queue it.
 */
static void
next_step(struct bm_sched *s, struct job *j)
{
	struct bm_sched_step v;
	struct bm_sched_outcome ro = bm_sched_outcome(BM_CLASS_NONE, NULL);
	const cJSON *st = NULL;
	char *out, *msg;
	long mt;

	j->attempts = 0;
	j->ttft = -1;
	j->started_at[0] = '\0';
	j->answered_ms = 0;
	j->scored = 0;
	if (j->steps)
		st = cJSON_GetArrayItem(j->steps, (int)j->step);
	cJSON_Delete(j->params);
	j->params = step_params(&j->t, j->kase, st);
	if (st) {
		j->expect = cJSON_GetObjectItemCaseSensitive(st, "expect");
		say(j->messages, "user", bm_json_str(st, "prompt"));
	} else {
		j->expect = cJSON_GetObjectItemCaseSensitive(j->kase, "expect");
	}
	view(j, &v);
	out = NULL;
	if ((s->h.recorded && s->h.recorded(s->h.user, &v, &out) == 1) ||
	    (s->h.replay && s->h.replay(s->h.user, &v, &ro.reply) == 0)) {
		/* Done in the resumed run, or skipped in a replay: the
		 * caller passed it on. */
		if (j->step + 1 < j->nsteps) {
			say(j->messages, "assistant", out ? out : "");
			free(out);
			j->step++;
			next_step(s, j);
			return;
		}
		free(out);
		job_free(s, j);
		return;
	}
	if (s->st.stopping) {
		bm_reply_free(&ro.reply);
		step_error(s, j, BM_CLASS_CANCELLED, s->why, 0);
		return;
	}
	if (s->h.replay) {
		/* The stored answer: no request, so no context or key. */
		if ((msg = judges_check(s, j->expect))) {
			bm_reply_free(&ro.reply);
			step_error(s, j, BM_CLASS_CONFIG, msg, 0);
			free(msg);
			return;
		}
		j->attempt_ms = bm_clock_ms();
		step_done(s, j, &ro);
		return;
	}
	mt = max_tokens(j->params);
	j->est = bm_estimate_tokens(j->messages, j->t.chars_per_token) + mt;
	if (j->t.context > 0 && j->est > j->t.context) {
		msg = bm_sched_context_msg(j->est - mt, mt, j->t.context);
		step_error(s, j, BM_CLASS_CONTEXT_LENGTH, msg, 0);
		free(msg);
		return;
	}
	if (j->pv->key_missing) {
		msg = xasprintf("%s is not set", j->t.provider->api_key_env);
		step_error(s, j, BM_CLASS_CONFIG, msg, 0);
		free(msg);
		return;
	}
	if ((msg = judges_check(s, j->expect))) {
		step_error(s, j, BM_CLASS_CONFIG, msg, 0);
		free(msg);
		return;
	}
	if (s->h.cache_get) {
		struct bm_sched_outcome o = bm_sched_outcome(BM_CLASS_NONE,
		    NULL);

		/* A stored answer was a success: an exec child's was 0. */
		o.exit_code = 0;
		o.cached = 1;
		if (s->h.cache_get(s->h.user, &v, &o.reply) == 1) {
			j->attempt_ms = bm_clock_ms();
			step_done(s, j, &o);
			return;
		}
	}
	j->state = J_WAITING;
	j->ready_at = 0;
	s->kick = 1;
}

struct bm_sched_outcome
bm_sched_outcome(enum bm_class cls, const char *msg)
{
	struct bm_sched_outcome o = { .cls = cls, .msg = msg,
	    .reply = { .output = NULL, .prompt_tokens = -1,
	    .completion_tokens = -1 }, .exit_code = -1 };

	return o;
}

/* Each entry of case id's array has a string key: 0, or -1 with e. */
static int
check_entries(const cJSON *arr, const char *key, const char *id,
    const char *what, struct bm_error *e)
{
	const cJSON *it;
	int k = 0;

	cJSON_ArrayForEach(it, arr) {
		if (!bm_json_str(it, key)) {
			bm_error_set(e, NULL, 0, 0, "case %s: %s %d has no %s",
			    id, what, k, key);
			return -1;
		}
		k++;
	}
	return 0;
}

int
bm_sched_check(const cJSON *rec, struct bm_error *e)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	const char *id = bm_json_str(rec, "case_id");

	if (!id || !bm_json_str(rec, "model") ||
	    (!cJSON_IsArray(msgs) && !cJSON_IsArray(steps))) {
		bm_error_set(e, NULL, 0, 0, "case needs case_id, model and"
		    " messages or steps");
		return -1;
	}
	if (!cJSON_IsArray(steps))
		return check_entries(msgs, "role", id, "message", e);
	if (cJSON_GetArraySize(steps) == 0) {
		bm_error_set(e, NULL, 0, 0, "case %s has no steps", id);
		return -1;
	}
	return check_entries(steps, "prompt", id, "step", e);
}

int
bm_sched_add(struct bm_sched *s, cJSON *rec, struct bm_error *e)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rec, "steps");
	const char *model = bm_json_str(rec, "model");
	struct job *j;

	if (bm_sched_check(rec, e) < 0) {
		cJSON_Delete(rec);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->kase = rec;
	/* Appended: dispatch goes in input order. */
	link_after(s, s->tail, j);
	s->st.alive++;
	j->ttft = -1;
	j->messages = conversation(rec);
	if (cJSON_IsArray(steps)) {
		j->steps = steps;
		j->nsteps = cJSON_GetArraySize(steps);
	} else {
		j->nsteps = 1;
	}
	s->st.expected += j->nsteps;
	if (bm_config_resolve(s->o.cfg, model, &j->t, e) < 0) {
		memset(&j->t, 0, sizeof(j->t));
		j->pv = &s->none;
		step_error(s, j, BM_CLASS_CONFIG, e->msg, 0);
		bm_error_clear(e);
		return 0;
	}
	j->pv = prov_of(s, j->t.provider);
	next_step(s, j);
	return 0;
}

/* Read input lines while there is room for jobs. */
static void
read_input(struct bm_sched *s)
{
	struct bm_error e = BM_ERROR_INIT;
	struct pollfd p = { s->o.in_fd, POLLIN, 0 };
	char *nl, *line, chunk[65536];
	size_t len;
	ssize_t n;

	while (!s->st.stopping && s->st.alive < s->ahead) {
		line = s->in.s ? s->in.s + s->in_off : NULL;
		nl = line ? memchr(line, '\n', s->in.len - s->in_off) : NULL;
		if (!nl && !s->st.eof) {
			/* One read only when it cannot block. */
			if (poll(&p, 1, 0) <= 0)
				return;
			n = read(s->o.in_fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				return;
			if (n <= 0) {
				if (n < 0 && s->h.warn) {
					bm_error_set(&e, s->o.in_name, 0, 0,
					    "%s", strerror(errno));
					s->h.warn(s->h.user, &e);
					bm_error_clear(&e);
				}
				s->st.eof = 1;
			} else {
				if (s->in_off > 0) {
					memmove(s->in.s, s->in.s + s->in_off,
					    s->in.len - s->in_off);
					s->in.len -= s->in_off;
					s->in_off = 0;
				}
				bm_buf_add(&s->in, chunk, (size_t)n);
			}
			continue;
		}
		if (!nl && s->in_off >= s->in.len)
			return;
		len = nl ? (size_t)(nl - line) : s->in.len - s->in_off;
		s->in_off += len + (nl != NULL);
		s->lineno++;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '
		    || line[len - 1] == '\t'))
			len--;
		if (len > 0 && s->h.line)
			s->h.line(s->h.user, line, len, s->lineno);
	}
}

/* The case JSON an exec provider reads: the case, as sent at this step. */
static char *
exec_input(const struct job *j)
{
	cJSON *c = cJSON_Duplicate(j->kase, 1);
	char *str;

	cJSON_DeleteItemFromObjectCaseSensitive(c, "messages");
	cJSON_AddItemToObject(c, "messages", cJSON_Duplicate(j->messages, 1));
	cJSON_DeleteItemFromObjectCaseSensitive(c, "params");
	cJSON_AddItemToObject(c, "params", cJSON_Duplicate(j->params, 1));
	if (j->steps) {
		cJSON_DeleteItemFromObjectCaseSensitive(c, "step");
		cJSON_AddNumberToObject(c, "step", (double)j->step);
	}
	str = bm_json_print(c);
	cJSON_Delete(c);
	return str;
}

static void
on_data(void *user, const char *p, size_t n)
{
	struct job *j = user;

	if (bm_sse_feed(&j->sse, p, n) && j->ttft < 0)
		j->ttft = bm_clock_ms() - j->attempt_ms;
}

static double
timeout_s(const struct bm_sched *s, const struct job *j)
{
	if (s->o.timeout_s > 0)
		return s->o.timeout_s;
	return j->t.provider->timeout > 0 ? j->t.provider->timeout : 120;
}

static long
retries(const struct bm_sched *s, const struct job *j)
{
	if (s->o.retries >= 0)
		return s->o.retries;
	return j->t.provider->retries >= 0 ? j->t.provider->retries : 3;
}

/* Send j's step over HTTP: 0, or -1 when it ended in an error. */
static int
send_http(struct bm_sched *s, struct job *j)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_preq pr;
	struct bm_http_req req;

	j->streaming = s->o.stream || j->t.provider->stream;
	if (bm_provider_request(&j->t, j->pv->key, j->messages, j->params,
	    j->streaming, &pr, &e) < 0) {
		step_error(s, j, BM_CLASS_CONFIG, e.msg, 0);
		bm_error_clear(&e);
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.url = pr.url;
	req.headers = (const char *const *)pr.headers;
	req.body = pr.body.s;
	req.body_len = pr.body.len;
	req.timeout_ms = (long)(timeout_s(s, j) * 1000);
	req.user = j;
	req.max_body = j->t.provider->max_response_bytes > 0 ?
	    (size_t)j->t.provider->max_response_bytes : 16 << 20;
	if (j->streaming) {
		bm_sse_init(&j->sse, j->t.provider->type);
		req.on_data = on_data;
	}
	j->xfer = bm_http_start(s->http, &req, &e);
	bm_preq_free(&pr);
	if (!j->xfer) {
		if (j->streaming)
			bm_sse_free(&j->sse);
		step_error(s, j, BM_CLASS_CONNECTION, e.msg, 0);
		bm_error_clear(&e);
		return -1;
	}
	return 0;
}

/*
 * Least privilege: the key variables of every other provider, which an
 * exec child p does not get, unless p lists them under env:.  Fills and
 * returns s->drop.
 */
static const char *const *
drop_for(struct bm_sched *s, const struct bm_provider *p)
{
	const struct bm_provider *q;
	size_t i, k, n = 0;

	for (i = 0; s->o.cfg && i < s->o.cfg->nproviders; i++) {
		q = &s->o.cfg->providers[i];
		if (!q->api_key_env || q == p || (p->api_key_env &&
		    strcmp(q->api_key_env, p->api_key_env) == 0))
			continue;
		for (k = 0; k < p->nenv; k++)
			if (strcmp(p->env[k], q->api_key_env) == 0)
				break;
		if (k == p->nenv)
			s->drop[n++] = q->api_key_env;
	}
	s->drop[n] = NULL;
	return (const char *const *)s->drop;
}

/* Start one attempt at j's step (or sub-request). */
static void
start(struct bm_sched *s, struct job *j)
{
	struct bm_error e = BM_ERROR_INIT;
	static const struct bm_provider no_keys;
	const char *cmd;
	char *in;

	j->attempts++;
	j->attempt_ms = bm_clock_ms();
	j->ttft = -1;
	j->err_lines = 0;
	j->err_dropped = 0;
	if (!j->started_at[0])
		bm_clock_rfc3339(j->started_at);
	if (j->kind == K_SCORER) {
		/* No key of any provider: a scorer is no provider. */
		in = j->parent->sc->rec;
		if (bm_spawn_env(j->cmd, in, strlen(in), drop_for(s,
		    &no_keys), 1, &j->child, &e) < 0) {
			step_error(s, j, BM_CLASS_EXEC, e.msg, 0);
			bm_error_clear(&e);
			return;
		}
		j->has_child = 1;
	} else switch (j->t.provider->type) {
	case BM_PROVIDER_ECHO: {
		struct bm_sched_outcome o = bm_sched_outcome(BM_CLASS_NONE,
		    NULL);

		o.reply.output = bm_provider_echo(j->messages);
		step_done(s, j, &o);
		return;
	}
	case BM_PROVIDER_EXEC:
		cmd = j->t.api_model && *j->t.api_model ? j->t.api_model :
		    j->t.provider->command;
		in = exec_input(j);
		if (!cmd || bm_spawn_env(cmd, in, strlen(in),
		    drop_for(s, j->t.provider), s->h.child_stderr != NULL,
		    &j->child, &e) < 0) {
			free(in);
			step_error(s, j, BM_CLASS_EXEC, cmd ? e.msg :
			    "no command", 0);
			bm_error_clear(&e);
			return;
		}
		free(in);
		j->has_child = 1;
		break;
	default:
		if (send_http(s, j) < 0)
			return;
	}
	j->state = J_RUNNING;
	if (j->pv->last_ok == 0)
		j->pv->last_ok = j->attempt_ms;
	j->pv->inflight++;
	s->st.inflight++;
	bm_breaker_started(&j->pv->brk);
}

/* An attempt failed: retry it later, or end the step with the error. */
static void
failed(struct bm_sched *s, struct job *j, enum bm_class cls,
    const char *msg, long status, const char *retry_after)
{
	struct bm_sched_step v;
	double now = bm_clock_ms(), delay;

	j->pv->last_cls = cls;
	if (cls != BM_CLASS_BAD_REQUEST && cls != BM_CLASS_CONTEXT_LENGTH &&
	    cls != BM_CLASS_EXEC)
		bm_breaker_record(&j->pv->brk, 0, now);
	if (cls == BM_CLASS_RATE_LIMIT)
		bm_window_throttled(&j->pv->win);
	if (!bm_class_retryable(cls) || j->attempts > retries(s, j) ||
	    s->st.stopping) {
		step_error(s, j, cls, msg, status);
		return;
	}
	if (!retry_after || bm_retry_after_parse(retry_after, time(NULL),
	    &delay) < 0)
		delay = bm_backoff_ms(j->attempts, s->o.backoff_ms, 60000,
		    bm_random01());
	if (s->h.retry) {
		view(j, &v);
		s->h.retry(s->h.user, &v, msg, delay);
	}
	j->state = J_WAITING;
	j->ready_at = now + delay;
}

/* A provider answered: note the success, and write the result. */
static void
answered(struct bm_sched *s, struct job *j, struct bm_sched_outcome *o)
{
	struct bm_sched_step v;

	/* Every record is valid UTF-8; the result says when it was not. */
	o->repaired = bm_utf8_fix(&o->reply.output);
	bm_breaker_record(&j->pv->brk, 1, bm_clock_ms());
	j->pv->last_ok = bm_clock_ms();
	bm_window_success(&j->pv->win);
	if (s->h.cache_put && !j->parent) {
		view(j, &v);
		s->h.cache_put(s->h.user, &v, &o->reply);
	}
	step_done(s, j, o);
}

static void
http_done(struct bm_sched *s, struct bm_http_done *d)
{
	struct bm_error e = BM_ERROR_INIT;
	struct job *j = d->user;
	struct bm_sched_outcome o = bm_sched_outcome(BM_CLASS_NONE, NULL);
	enum bm_class cls;
	char *msg = NULL;
	int rc;

	if (d->fail != BM_HTTP_OK) {
		cls = d->fail == BM_HTTP_TIMEOUT ? BM_CLASS_TIMEOUT :
		    d->fail == BM_HTTP_PROTOCOL ||
		    d->fail == BM_HTTP_TOO_BIG ? BM_CLASS_PARSE :
		    BM_CLASS_CONNECTION;
		landed(s, j);
		failed(s, j, cls, d->message, 0, NULL);
		return;
	}
	if (d->status < 200 || d->status > 299) {
		cls = bm_provider_classify(d->status, d->body.s, d->body.len,
		    &msg);
		landed(s, j);
		failed(s, j, cls, msg, d->status, d->retry_after);
		free(msg);
		return;
	}
	if (j->streaming && j->sse.tokens + j->sse.done > 0)
		rc = bm_sse_finish(&j->sse, &o.reply, &e);
	else
		rc = bm_provider_parse(j->t.provider->type,
		    bm_buf_str(&d->body), d->body.len, &o.reply, &e);
	landed(s, j);
	if (rc < 0) {
		failed(s, j, BM_CLASS_PARSE, e.msg, d->status, NULL);
		bm_error_clear(&e);
		return;
	}
	answered(s, j, &o);
}

/*
 * Hand the complete lines of a child's stderr (all, at the end) over: at
 * most ERR_LINES an attempt, then how many more there were.
 */
static void
child_lines(struct bm_sched *s, struct job *j, int all)
{
	struct bm_buf *b = &j->child.err;
	struct bm_sched_step v;
	char *nl, *p, more[64];
	size_t off = 0;

	if (!s->h.child_stderr)
		return;
	view(j, &v);
	while (off < b->len) {
		p = b->s + off;
		nl = memchr(p, '\n', b->len - off);
		if (!nl && !all)
			break;
		if (nl) {
			*nl = '\0';
		} else {
			bm_buf_addc(b, '\0');	/* may move b->s */
			p = b->s + off;
		}
		if (j->err_lines < ERR_LINES) {
			s->h.child_stderr(s->h.user, &v, p);
			j->err_lines++;
		} else {
			j->err_dropped++;
		}
		off += strlen(p) + 1;
	}
	if (all && j->err_dropped > 0) {
		snprintf(more, sizeof(more), "(%ld more lines on stderr)",
		    j->err_dropped);
		s->h.child_stderr(s->h.user, &v, more);
		j->err_dropped = 0;
	}
	if (b->len == 0) {
		/* nothing left */
	} else if (off >= b->len) {
		bm_buf_reset(b);
	} else {
		memmove(b->s, b->s + off, b->len - off);
		b->len -= off;
		b->s[b->len] = '\0';
	}
}

/* The most bytes an answer of j's provider may have. */
static size_t
max_bytes(const struct job *j)
{
	return j->t.provider->max_response_bytes > 0 ?
	    (size_t)j->t.provider->max_response_bytes : 16 << 20;
}

/* Has the expect list an entry of type t? */
static int
has_type(const cJSON *expect, const char *t)
{
	const cJSON *spec, *type;

	cJSON_ArrayForEach(spec, expect)
		if ((type = bm_assert_type(spec)) &&
		    strcmp(type->string, t) == 0)
			return 1;
	return 0;
}

/* An exec scorer made progress or timed out: its verdict, or an error. */
static void
scorer_step(struct bm_sched *s, struct job *k, double now)
{
	struct scoring *sc = k->parent->sc;
	struct entry *en = &sc->e[k->entry];
	struct bm_buf how = BM_BUF_INIT;
	char *msg = NULL;
	int code;

	if (now - k->attempt_ms >= timeout_s(s, k) * 1000) {
		bm_spawn_kill(&k->child);
		msg = xasprintf("exec scorer %s: no verdict within %g s",
		    k->cmd, timeout_s(s, k));
	} else if (!bm_spawn_step(&k->child) &&
	    k->child.out.len + k->child.err.len <= max_bytes(k)) {
		return;
	} else if (!k->child.exited) {
		/* As an answer too big: not kept. */
		bm_spawn_kill(&k->child);
		msg = xasprintf("exec scorer %s: output larger than %zu bytes",
		    k->cmd, max_bytes(k));
	} else if ((code = bm_spawn_describe(&k->child, &how)) < 0) {
		msg = xasprintf("exec scorer %s %s", k->cmd, bm_buf_str(&how));
	} else {
		en->votes = xcalloc(1, sizeof(*en->votes));
		bm_judge_exec(bm_buf_str(&k->child.out),
		    bm_buf_str(&k->child.err), code == 0, &en->votes[0]);
		en->nvotes = 1;
	}
	bm_buf_free(&how);
	if (msg)
		sub_error(sc, BM_CLASS_EXEC, msg);
	landed(s, k);
	sub_release(s, k);
}

/* j's child ended its attempt in an error: "exec MODEL" and fmt. */
static void __attribute__((format(printf, 4, 5)))
child_failed(struct bm_sched *s, struct job *j, enum bm_class cls,
    const char *fmt, ...)
{
	struct bm_buf msg = BM_BUF_INIT;
	va_list ap;

	bm_buf_addf(&msg, "exec %s", j->t.api_model);
	va_start(ap, fmt);
	bm_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	landed(s, j);
	failed(s, j, cls, bm_buf_str(&msg), 0, NULL);
	bm_buf_free(&msg);
}

/* A child made progress or timed out. */
static void
child_step(struct bm_sched *s, struct job *j, double now)
{
	struct bm_sched_outcome o = bm_sched_outcome(BM_CLASS_NONE, NULL);
	struct bm_buf how = BM_BUF_INIT;
	size_t n;

	if (now - j->attempt_ms >= timeout_s(s, j) * 1000) {
		bm_spawn_kill(&j->child);
		child_lines(s, j, 1);
		child_failed(s, j, BM_CLASS_TIMEOUT, ": no answer within %g s",
		    timeout_s(s, j));
		return;
	}
	if (!bm_spawn_step(&j->child)) {
		child_lines(s, j, 0);
		if (j->child.out.len > max_bytes(j)) {
			/* As an HTTP answer too big: not kept. */
			bm_spawn_kill(&j->child);
			child_lines(s, j, 1);
			child_failed(s, j, BM_CLASS_PARSE, ": answer larger"
			    " than %zu bytes", max_bytes(j));
		}
		return;
	}
	child_lines(s, j, 1);
	o.exit_code = bm_spawn_describe(&j->child, &how);
	/* With an exit-code assertion, an exit status is an answer. */
	if (how.len > 0 && !(o.exit_code > 0 && has_type(j->expect,
	    "exit-code"))) {
		child_failed(s, j, BM_CLASS_EXEC, " %s", bm_buf_str(&how));
		bm_buf_free(&how);
		return;
	}
	bm_buf_free(&how);
	n = j->child.out.len;
	if (n > max_bytes(j)) {
		child_failed(s, j, BM_CLASS_PARSE, ": answer larger than %zu"
		    " bytes", max_bytes(j));
		return;
	}
	if (n > 0 && j->child.out.s[n - 1] == '\n')
		n--;
	if (memchr(bm_buf_str(&j->child.out), '\0', n)) {
		child_failed(s, j, BM_CLASS_EXEC, ": the answer holds a NUL"
		    " byte, which cannot be kept");
		return;
	}
	o.reply.output = xstrndup(bm_buf_str(&j->child.out), n);
	landed(s, j);
	answered(s, j, &o);
}

/*
 * Is there, after j, a job of j's provider that has not failed yet and is
 * ready?  While the breaker is not closed the probe is such a case, not
 * one that keeps failing (which waits for its own retry).
 */
static int
fresh_after(const struct job *j, double now)
{
	const struct job *k;

	for (k = j->next; k; k = k->next)
		if (k->pv == j->pv && k->state == J_WAITING &&
		    k->attempts == 0 && k->ready_at <= now)
			return 1;
	return 0;
}

/*
 * --give-up: a provider whose breaker is open and that has had no success
 * for give_up_ms is down from now on.
 */
static int
is_down(struct bm_sched *s, struct prov *pv, double now)
{
	if (!pv->down && s->o.give_up_ms > 0 && pv->p &&
	    pv->brk.state != BM_BREAKER_CLOSED && pv->last_ok > 0 &&
	    now - pv->last_ok >= s->o.give_up_ms)
		pv->down = 1;
	return pv->down;
}

/* End j's step at once: its provider is down. */
static void
give_up(struct bm_sched *s, struct job *j)
{
	char *msg;

	msg = xasprintf("%s is down: no success for %g s (the last error was"
	    " %s); not sent", j->pv->p->name, s->o.give_up_ms / 1000,
	    bm_class_name(j->pv->last_cls));
	step_error(s, j, j->pv->last_cls ? j->pv->last_cls :
	    BM_CLASS_CONNECTION, msg, 0);
	free(msg);
}

/* Start what the limits allow; returns ms until something may become ready. */
static double
dispatch(struct bm_sched *s, double now)
{
	struct job *j, *next;
	double wait = 1000, w;
	struct prov *pv;
	long stored = s->h.stored ? s->h.stored(s->h.user) : s->written;

	s->st.held = 0;
	for (j = s->jobs; j; j = next) {
		next = j->next;
		if (j->state != J_WAITING)
			continue;
		if (s->st.stopping) {
			step_error(s, j, BM_CLASS_CANCELLED, s->why, 0);
			continue;
		}
		pv = j->pv;
		if (is_down(s, pv, now)) {
			give_up(s, j);
			continue;
		}
		if (j->barrier > stored) {
			s->st.held++;
			continue;
		}
		if (s->st.inflight >= s->o.jobs)
			break;
		if (j->ready_at > now) {
			if (j->ready_at - now < wait)
				wait = j->ready_at - now;
			continue;
		}
		if (pv->inflight >= pv->max ||
		    pv->inflight >= bm_window_limit(&pv->win))
			continue;
		if (pv->brk.state != BM_BREAKER_CLOSED && j->attempts > 0 &&
		    fresh_after(j, now))
			continue;
		if (!bm_breaker_allow(&pv->brk, now)) {
			w = bm_breaker_wait(&pv->brk, now);
			if (w > 0 && w < wait)
				wait = w;
			continue;
		}
		w = bm_bucket_wait(&pv->rpm, 1, now);
		if (w <= 0)
			w = bm_bucket_wait(&pv->tpm, (double)j->est, now);
		if (w > 0) {
			if (w < wait)
				wait = w;
			continue;
		}
		bm_bucket_take(&pv->rpm, 1, now);
		bm_bucket_take(&pv->tpm, (double)j->est, now);
		start(s, j);
	}
	return wait;
}

/* After the grace period, or a second signal: cancel what is in flight. */
static void
cancel_running(struct bm_sched *s)
{
	struct job *j, *next;

	for (j = s->jobs; j; j = next) {
		next = j->next;
		if (j->state != J_RUNNING)
			continue;
		if (j->xfer)
			bm_http_cancel(s->http, j->xfer);
		landed(s, j);
		step_error(s, j, BM_CLASS_CANCELLED, s->why, 0);
	}
}

/* Watch fd for events. */
static void
watch(struct bm_sched *s, int fd, short events)
{
	s->fds[s->nfds++] = (struct bm_pollfd){ fd, events, 0 };
}

/* One turn of the loop's wait: the descriptors and the timeout. */
static int
wait_events(struct bm_sched *s, double wait, struct bm_error *e)
{
	double now = bm_clock_ms(), left;
	struct job *j;
	char drain[64];

	if (s->fdcap < 2 + 3 * (size_t)(s->st.alive + s->nsubs)) {
		s->fdcap = 2 + 3 * (size_t)(s->st.alive + s->nsubs) + 16;
		s->fds = xreallocarray(s->fds, s->fdcap, sizeof(*s->fds));
	}
	s->nfds = 0;
	watch(s, s->wake[0], POLLIN);
	if (!s->st.eof && !s->st.stopping && s->st.alive < s->ahead)
		watch(s, s->o.in_fd, POLLIN);
	for (j = s->jobs; j; j = j->next) {
		if (!j->has_child)
			continue;
		if (j->child.in_fd >= 0)
			watch(s, j->child.in_fd, POLLOUT);
		if (j->child.out_fd >= 0)
			watch(s, j->child.out_fd, POLLIN);
		if (j->child.err_fd >= 0)
			watch(s, j->child.err_fd, POLLIN);
		else
			wait = wait > 10 ? 10 : wait;	/* reap soon */
		left = j->attempt_ms + timeout_s(s, j) * 1000 - now;
		if (left < wait)
			wait = left;
	}
	if (s->st.stopping && s->grace_end - now < wait)
		wait = s->grace_end - now;
	if (wait < 0 || s->kick)
		wait = 0;
	s->kick = 0;
	if (bm_http_poll(s->http, s->fds, (unsigned)s->nfds,
	    (int)wait + (wait > 0), e) < 0 || bm_http_perform(s->http, e) < 0)
		return -1;
	if (s->fds[0].revents)
		while (read(s->wake[0], drain, sizeof(drain)) > 0)
			;
	return 0;
}

int
bm_sched_run(struct bm_sched *s, struct bm_error *e)
{
	struct bm_http_done d;
	struct job *j, *next;
	double now, wait, w;

	for (;;) {
		now = bm_clock_ms();
		if (s->h.turn) {
			s->h.turn(s->h.user, now);
			now = bm_clock_ms();	/* a stop counts from now */
		}
		read_input(s);
		wait = dispatch(s, now);
		if (s->st.stopping && now >= s->grace_end)
			cancel_running(s);
		if (s->h.idle) {
			w = s->h.idle(s->h.user, now);
			if (w < wait)
				wait = w;
		}
		if (s->st.alive == 0 && (s->st.eof || s->st.stopping))
			return 0;
		if (wait_events(s, wait, e) < 0)
			return -1;
		while (bm_http_next(s->http, &d)) {
			http_done(s, &d);
			bm_http_done_free(&d);
		}
		now = bm_clock_ms();
		for (j = s->jobs; j; j = next) {
			next = j->next;
			if (j->has_child && j->kind == K_SCORER)
				scorer_step(s, j, now);
			else if (j->has_child)
				child_step(s, j, now);
		}
	}
}

void
bm_sched_stop(struct bm_sched *s, double grace_ms)
{
	bm_sched_stop_why(s, grace_ms, "interrupted");
}

void
bm_sched_stop_why(struct bm_sched *s, double grace_ms, const char *why)
{
	if (!s->st.stopping || grace_ms <= 0)
		s->grace_end = bm_clock_ms() + grace_ms;
	if (!s->st.stopping)
		s->why = why;
	s->st.stopping = 1;
}

void
bm_sched_wake(struct bm_sched *s)
{
	char c = 0;
	int saved = errno;

	if (write(s->wake[1], &c, 1) < 0) {
		/* The pipe is full: the loop wakes anyway. */
	}
	errno = saved;
}

const struct bm_sched_stats *
bm_sched_stats(const struct bm_sched *s)
{
	return &s->st;
}

int
bm_sched_load(const struct bm_sched *s, size_t i, struct bm_sched_load *l)
{
	const struct prov *v;

	if (i >= s->nprovs)
		return 0;
	v = s->provs[i];
	l->name = v->p->name;
	l->inflight = v->inflight;
	l->window = bm_window_limit(&v->win);
	l->open = v->brk.state != 0;
	l->down = v->down;
	return 1;
}

void
bm_sched_pace(const struct bm_sched_tally *t, double elapsed_ms,
    struct bm_sched_pace *p)
{
	p->rate = elapsed_ms > 0 ? t->done / (elapsed_ms / 1000) : 0;
	p->eta_s = -1;
	if (t->total >= 0 && p->rate > 0 && t->total > t->done)
		p->eta_s = (long)((double)(t->total - t->done) / p->rate +
		    0.5);
}

void
bm_sched_totals_add(struct bm_sched_totals **tot, size_t *n,
    const char *model, const struct bm_target *t,
    const struct bm_sched_est *steps, int nsteps)
{
	struct bm_sched_totals *x = NULL;
	size_t i;
	int k;

	for (i = 0; i < *n && !x; i++)
		if (strcmp((*tot)[i].model, model) == 0)
			x = &(*tot)[i];
	if (!x) {
		*tot = xreallocarray(*tot, *n + 1, sizeof(**tot));
		x = memset(&(*tot)[(*n)++], 0, sizeof(**tot));
		x->model = xstrdup(model);
		x->priced = t->model && t->model->has_price;
	}
	x->cases++;
	for (k = 0; k < nsteps; k++) {
		x->prompt += steps[k].prompt;
		x->completion += steps[k].completion;
		if (x->priced)
			x->cost += ((double)steps[k].prompt *
			    t->model->price_input +
			    (double)steps[k].completion *
			    t->model->price_output) / 1e6;
	}
}

void
bm_sched_totals_free(struct bm_sched_totals *tot, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(tot[i].model);
	free(tot);
}

struct bm_sched_est *
bm_sched_estimate(const struct bm_target *t, const cJSON *kase, int *n)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(kase, "steps");
	const cJSON *st = NULL;
	struct bm_sched_est *est;
	cJSON *msgs = conversation(kase), *params;
	int k;

	*n = cJSON_IsArray(steps) ? cJSON_GetArraySize(steps) : 1;
	est = xreallocarray(NULL, *n > 0 ? (size_t)*n : 1, sizeof(*est));
	for (k = 0; k < *n; k++) {
		if (cJSON_IsArray(steps)) {
			st = cJSON_GetArrayItem(steps, k);
			say(msgs, "user", bm_json_str(st, "prompt"));
		}
		params = step_params(t, kase, st);
		est[k].completion = max_tokens(params);
		cJSON_Delete(params);
		est[k].prompt = bm_estimate_tokens(msgs, t->chars_per_token);
		est[k].over = t->context > 0 &&
		    est[k].prompt + est[k].completion > t->context;
	}
	cJSON_Delete(msgs);
	return est;
}

struct bm_sched *
bm_sched_new(const struct bm_sched_opts *o, const struct bm_sched_hooks *h,
    struct bm_error *e)
{
	struct bm_sched *s = xcalloc(1, sizeof(*s));

	s->o = *o;
	s->h = *h;
	s->ahead = o->jobs * 2 + 16;
	s->why = "interrupted";
	s->drop = xcalloc(o->cfg ? o->cfg->nproviders + 1 : 1,
	    sizeof(*s->drop));
	s->wake[0] = s->wake[1] = -1;
	s->warned = bm_map_new();
	s->scorers.max = o->jobs;
	bm_window_init(&s->scorers.win, o->jobs);
	bm_breaker_init(&s->scorers.brk, 5, o->backoff_ms * 10);
	s->http = bm_http_new(o->jobs + 16);
	if (!s->http) {
		bm_error_set(e, NULL, 0, 0, "cannot start libcurl");
		goto fail;
	}
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		bm_error_set(e, NULL, 0, 0, "pipe: %s", strerror(errno));
		goto fail;
	}
	return s;
fail:
	bm_sched_free(s);
	return NULL;
}

void
bm_sched_free(struct bm_sched *s)
{
	size_t i;

	if (!s)
		return;
	while (s->jobs) {
		if (s->jobs->state == J_RUNNING)
			landed(s, s->jobs);
		job_free(s, s->jobs);
	}
	bm_http_free(s->http);
	bm_map_free(s->warned, NULL);
	for (i = 0; i < s->nprovs; i++)
		free(s->provs[i]);
	free(s->provs);
	free(s->fds);
	free(s->drop);
	bm_buf_free(&s->in);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	free(s);
}

char *
bm_sched_context_msg(long prompt, long max_tokens, long context)
{
	if (max_tokens > 0)
		return xasprintf("the prompt (about %ld tokens, estimated)"
		    " and max_tokens %ld exceed the model's context of %ld"
		    " tokens", prompt, max_tokens, context);
	return xasprintf("the prompt (about %ld tokens, estimated) exceeds"
	    " the model's context of %ld tokens", prompt, context);
}

int
bm_sched_plan_case(const struct bm_config *cfg, const cJSON *rec,
    struct bm_sched_totals **tot, size_t *n, struct bm_sched_plan *p,
    struct bm_error *e)
{
	struct bm_error why = BM_ERROR_INIT;
	struct bm_target t;

	memset(p, 0, sizeof(*p));
	if (bm_sched_check(rec, e) < 0)
		return -1;
	p->case_id = bm_json_str(rec, "case_id");
	if (bm_assert_check_case(rec, &why) < 0 ||
	    bm_config_resolve(cfg, bm_json_str(rec, "model"), &t, &why) < 0) {
		bm_error_set(e, NULL, 0, 0, "case %s: %s", p->case_id,
		    why.msg);
		bm_error_clear(&why);
		return -1;
	}
	if (t.provider->api_key_env && !bm_config_api_key(t.provider))
		p->key_env = t.provider->api_key_env;
	p->context = t.context;
	p->steps = bm_sched_estimate(&t, rec, &p->nsteps);
	bm_sched_totals_add(tot, n, bm_json_str(rec, "model"), &t, p->steps,
	    p->nsteps);
	return 0;
}
