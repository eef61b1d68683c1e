/*
 * judge.c: rubric prompts, reading judges' answers, panel majorities, and
 * reading an exec scorer's output.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"
#include "judge.h"
#include "xalloc.h"

const char bm_judge_template[] =
    "You are grading an answer to a question against a rubric.\n"
    "\n"
    "Question:\n"
    "{{question}}\n"
    "\n"
    "Answer:\n"
    "{{answer}}\n"
    "\n"
    "Rubric:\n"
    "{{rubric}}\n"
    "\n"
    "Reply with only a JSON object, no other text:\n"
    "{\"pass\": true or false, \"score\": a number from 0 to 1,"
    " \"reason\": \"one short sentence\"}\n";

const char **
bm_judge_models(const cJSON *v, const struct bm_config *c, size_t *n)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "model");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(v, "models");
	const cJSON *it;
	const char **out = NULL;
	size_t i;

	*n = 0;
	if (cJSON_IsObject(v) && cJSON_IsString(m)) {
		out = xcalloc(1, sizeof(*out));
		out[(*n)++] = m->valuestring;
	} else if (cJSON_IsObject(v) && cJSON_IsArray(ms) &&
	    cJSON_GetArraySize(ms) > 0) {
		out = xcalloc((size_t)cJSON_GetArraySize(ms), sizeof(*out));
		cJSON_ArrayForEach(it, ms)
			if (cJSON_IsString(it))
				out[(*n)++] = it->valuestring;
	} else if (c && c->njudges > 0) {
		out = xcalloc(c->njudges, sizeof(*out));
		for (i = 0; i < c->njudges; i++)
			out[(*n)++] = c->judges[i];
	}
	if (*n == 0) {
		free(out);
		return NULL;
	}
	return out;
}

const char *
bm_judge_rubric(const cJSON *v)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	return bm_json_str(v, "rubric");
}

const char *
bm_judge_question(const cJSON *messages)
{
	const cJSON *m;
	const char *q = "", *role, *c;

	cJSON_ArrayForEach(m, messages) {
		role = bm_json_str(m, "role");
		c = bm_json_str(m, "content");
		if (role && strcmp(role, "user") == 0 && c)
			q = c;
	}
	return q;
}

char *
bm_judge_prompt(const char *tmpl, const char *question, const char *answer,
    const char *rubric)
{
	static const char *const names[] = {
		"{{question}}", "{{answer}}", "{{rubric}}"
	};
	const char *vals[3];
	struct bm_buf b = BM_BUF_INIT;
	const char *p;
	size_t k, len;

	vals[0] = question ? question : "";
	vals[1] = answer ? answer : "";
	vals[2] = rubric ? rubric : "";
	for (p = tmpl ? tmpl : bm_judge_template; *p; ) {
		for (k = 0; k < 3; k++) {
			len = strlen(names[k]);
			if (strncmp(p, names[k], len) == 0)
				break;
		}
		if (k < 3) {
			bm_buf_adds(&b, vals[k]);
			p += len;
		} else {
			bm_buf_addc(&b, *p++);
		}
	}
	return bm_buf_detach(&b, NULL);
}

char *
bm_judge_shorten(const char *s, size_t max)
{
	size_t n = strlen(s);
	char *out;

	if (n <= max)
		return xstrdup(s);
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	out = xreallocarray(NULL, max + 4, 1);
	memcpy(out, s, max);
	memcpy(out + max, "...", 4);
	return out;
}

void
bm_judge_vote_free(struct bm_judge_vote *v)
{
	free(v->reason);
	v->reason = NULL;
}

/* A verdict from the JSON object o: 0, or -1 when it has none. */
static int
vote_json(const cJSON *o, struct bm_judge_vote *v)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pass");
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "score");
	const char *r = bm_json_str(o, "reason");

	if (cJSON_IsBool(p))
		v->pass = cJSON_IsTrue(p);
	else if (cJSON_IsString(p) && (strcasecmp(p->valuestring, "pass") ==
	    0 || strcasecmp(p->valuestring, "true") == 0))
		v->pass = 1;
	else if (cJSON_IsString(p) && (strcasecmp(p->valuestring, "fail") ==
	    0 || strcasecmp(p->valuestring, "false") == 0))
		v->pass = 0;
	else
		return -1;
	v->score = v->pass ? 1 : 0;
	if (cJSON_IsNumber(sc) && sc->valuedouble >= 0 &&
	    sc->valuedouble <= 1)
		v->score = sc->valuedouble;
	v->reason = r && *r ? xstrdup(r) : NULL;
	return 0;
}

/* The first JSON object in s that holds a verdict: 0, or -1. */
static int
find_object(const char *s, struct bm_judge_vote *v)
{
	const char *p, *end;
	cJSON *o;
	int rc;

	for (p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		o = cJSON_ParseWithOpts(p, &end, 0);
		if (!o)
			continue;
		rc = cJSON_IsObject(o) ? vote_json(o, v) : -1;
		cJSON_Delete(o);
		if (rc == 0)
			return 0;
	}
	return -1;
}

/* Is s[i..i+n) the word w (case-insensitive), standing alone? */
static int
word_at(const char *s, size_t i, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(s + i, w, n) == 0 &&
	    (i == 0 || !isalnum((unsigned char)s[i - 1])) &&
	    !isalnum((unsigned char)s[i + n]);
}

/* A PASS/FAIL word and a number from 0 to 1: 0, or -1. */
static int
find_words(const char *s, struct bm_judge_vote *v)
{
	size_t i;
	int found = 0;
	char *end;
	double d;

	for (i = 0; s[i] && !found; i++) {
		if (word_at(s, i, "pass") || word_at(s, i, "passed")) {
			v->pass = 1;
			found = 1;
		} else if (word_at(s, i, "fail") || word_at(s, i, "failed")) {
			v->pass = 0;
			found = 1;
		}
	}
	if (!found)
		return -1;
	v->score = v->pass ? 1 : 0;
	v->reason = NULL;
	for (i = 0; s[i]; i++) {
		if (!isdigit((unsigned char)s[i]) || (i > 0 &&
		    (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.')))
			continue;
		d = strtod(s + i, &end);
		if (d >= 0 && d <= 1 && !isalnum((unsigned char)*end)) {
			v->score = d;
			break;
		}
		i = (size_t)(end - s) - 1;
	}
	return 0;
}

int
bm_judge_parse(const char *answer, struct bm_judge_vote *v,
    struct bm_error *e)
{
	char *shown;

	memset(v, 0, sizeof(*v));
	if (answer && (find_object(answer, v) == 0 ||
	    find_words(answer, v) == 0))
		return 0;
	shown = bm_judge_shorten(answer ? answer : "", 80);
	bm_error_set(e, NULL, 0, 0, "no verdict in the judge's answer \"%s\"",
	    shown);
	free(shown);
	return -1;
}

void
bm_judge_panel(const struct bm_judge_vote *v, size_t n,
    struct bm_verdict *out)
{
	size_t i, yes = 0, agree;
	double sum = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		yes += v[i].pass != 0;
		sum += v[i].score;
	}
	out->known = n > 0;
	out->pass = 2 * yes > n;
	out->score = n > 0 ? sum / (double)n : 0;
	agree = out->pass ? yes : n - yes;
	out->agreement = n > 1 ?
	    (double)llround((double)agree / (double)n * 1e4) / 1e4 : -1;
	for (i = 0; i < n; i++)
		if ((v[i].pass != 0) == out->pass && v[i].reason) {
			out->reason = v[i].reason;
			break;
		}
}

void
bm_judge_exec(const char *out, const char *err, int ok,
    struct bm_judge_vote *v)
{
	const cJSON *sc;
	const char *r, *nl;
	cJSON *o = out ? cJSON_Parse(out) : NULL;

	memset(v, 0, sizeof(*v));
	v->pass = ok;
	v->score = ok ? 1 : 0;
	if (cJSON_IsObject(o)) {
		sc = cJSON_GetObjectItemCaseSensitive(o, "score");
		if (cJSON_IsNumber(sc) && sc->valuedouble >= 0 &&
		    sc->valuedouble <= 1)
			v->score = sc->valuedouble;
		r = bm_json_str(o, "reason");
		if (r && *r)
			v->reason = xstrdup(r);
	}
	cJSON_Delete(o);
	if (!v->reason && !ok && err && *err) {
		nl = strchr(err, '\n');
		v->reason = nl ? xstrndup(err, (size_t)(nl - err)) :
		    xstrdup(err);
	}
}

void
bm_judge_add_usage(cJSON *r, long prompt_tokens, long completion_tokens,
    double cost_usd, int priced)
{
	cJSON *u = cJSON_AddObjectToObject(r, "judge_usage");

	cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt_tokens);
	cJSON_AddNumberToObject(u, "completion_tokens",
	    (double)completion_tokens);
	if (priced)
		cJSON_AddNumberToObject(r, "judge_cost_usd", cost_usd);
	else
		cJSON_AddNullToObject(r, "judge_cost_usd");
}
