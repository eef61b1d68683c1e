/* test-judge.c: rubric prompts, judges' answers, panels, exec scorers. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "judge.h"
#include "tap.h"

/* Parse answer: "pass 0.75 why", "fail 0 -", or the error message. */
static char *
parsed(const char *answer)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_judge_vote v;
	char buf[512], *out;

	if (bm_judge_parse(answer, &v, &e) < 0) {
		out = e.msg;
		e.msg = NULL;
		return out;
	}
	snprintf(buf, sizeof(buf), "%s %g %s", v.pass ? "pass" : "fail",
	    v.score, v.reason ? v.reason : "-");
	bm_judge_vote_free(&v);
	return strdup(buf);
}

static void
is_parsed(const char *answer, const char *want, const char *what)
{
	char *got = parsed(answer);

	is(got, want, what);
	free(got);
}

static struct bm_judge_vote
vote(int pass, double score, const char *reason)
{
	struct bm_judge_vote v = { pass, score, (char *)reason };

	return v;
}

int
main(void)
{
	struct bm_config c = { 0 };
	struct bm_judge_vote votes[4], v;
	struct bm_verdict out;
	cJSON *x, *msgs;
	const char **m;
	char *p, *judges[] = { "a", "b" };
	size_t n;

	/* prompts */
	p = bm_judge_prompt("Q={{question}} A={{answer}} R={{rubric}} {{x}}",
	    "2+2?", "4", "is it 4?");
	is(p, "Q=2+2? A=4 R=is it 4? {{x}}", "template placeholders");
	free(p);
	p = bm_judge_prompt(NULL, "q", "a", "r");
	ok(strstr(p, "Question:\nq\n") && strstr(p, "Answer:\na\n") &&
	    strstr(p, "Rubric:\nr\n") && strstr(p, "\"pass\": true or false"),
	    "default template");
	ok(strstr(p, "{{") == NULL, "default template: nothing left over");
	free(p);
	msgs = cJSON_Parse("[{\"role\":\"system\",\"content\":\"s\"},"
	    "{\"role\":\"user\",\"content\":\"first\"},"
	    "{\"role\":\"assistant\",\"content\":\"x\"},"
	    "{\"role\":\"user\",\"content\":\"last\"}]");
	is(bm_judge_question(msgs), "last", "question: the last user message");
	cJSON_Delete(msgs);
	is(bm_judge_question(NULL), "", "question: none");

	/* which judges */
	c.judges = judges;
	c.njudges = 2;
	x = cJSON_Parse("\"is it good?\"");
	m = bm_judge_models(x, &c, &n);
	ok(n == 2 && strcmp(m[0], "a") == 0 && strcmp(m[1], "b") == 0,
	    "a rubric alone: bm.yml's judges");
	is(bm_judge_rubric(x), "is it good?", "rubric of a string");
	free(m);
	cJSON_Delete(x);
	x = cJSON_Parse("{\"rubric\":\"r\",\"model\":\"j\"}");
	m = bm_judge_models(x, &c, &n);
	ok(n == 1 && strcmp(m[0], "j") == 0, "the entry's model wins");
	is(bm_judge_rubric(x), "r", "rubric of an object");
	free(m);
	cJSON_Delete(x);
	x = cJSON_Parse("{\"rubric\":\"r\",\"models\":[\"x\",\"y\",\"z\"]}");
	m = bm_judge_models(x, &c, &n);
	ok(n == 3 && strcmp(m[2], "z") == 0, "the entry's panel");
	free(m);
	cJSON_Delete(x);
	c.njudges = 0;
	x = cJSON_Parse("{\"rubric\":\"r\"}");
	ok(bm_judge_models(x, &c, &n) == NULL && n == 0, "no judge named");
	cJSON_Delete(x);

	/* answers */
	is_parsed("{\"pass\": true, \"score\": 0.9, \"reason\": \"fine\"}",
	    "pass 0.9 fine", "JSON verdict");
	is_parsed("Sure. ```json\n{\"pass\": false, \"score\": 0.2,"
	    " \"reason\": \"wrong sum\"}\n```", "fail 0.2 wrong sum",
	    "JSON in a fence, after prose");
	is_parsed("{not json} then {\"pass\":\"PASS\"}", "pass 1 -",
	    "the first object that parses; pass as a word");
	is_parsed("{\"pass\": false, \"score\": 7}", "fail 0 -",
	    "a score out of 0..1 is ignored");
	is_parsed("Verdict: FAIL, score 0.3", "fail 0.3 -", "FAIL and a number");
	is_parsed("PASS", "pass 1 -", "PASS alone");
	is_parsed("The answer passed with 10 of 10; 0.95",
	    "pass 0.95 -", "a word and the first number from 0 to 1");
	is_parsed("I cannot decide.", "no verdict in the judge's answer"
	    " \"I cannot decide.\"", "garbage");
	is_parsed("compass", "no verdict in the judge's answer \"compass\"",
	    "pass inside a word is no verdict");
	p = malloc(301);
	memset(p, 'x', 300);
	p[300] = '\0';
	v.reason = parsed(p);
	ok(strlen(v.reason) < 140 && strstr(v.reason, "xxx...\""),
	    "a long answer is shortened");
	free(v.reason);
	free(p);
	p = bm_judge_shorten("\xc3\xa9\xc3\xa9", 3);
	is(p, "\xc3\xa9...", "shortened on a UTF-8 boundary");
	free(p);

	/* panels */
	votes[0] = vote(1, 1, "good");
	bm_judge_panel(votes, 1, &out);
	ok(out.known && out.pass && out.score == 1 && out.agreement == -1,
	    "one judge: no agreement");
	is(out.reason, "good", "one judge: its reason");
	votes[0] = vote(1, 0.9, "good");
	votes[1] = vote(0, 0.3, "bad");
	votes[2] = vote(1, 0.6, NULL);
	bm_judge_panel(votes, 3, &out);
	ok(out.pass && out.agreement == 0.6667, "2 of 3: pass, 0.6667");
	ok(out.score > 0.5999 && out.score < 0.6001, "mean score");
	is(out.reason, "good", "a reason of the majority");
	bm_judge_panel(votes, 2, &out);
	ok(!out.pass && out.agreement == 0.5, "a tie fails");
	is(out.reason, "bad", "a tie: the reason of a failing vote");
	votes[3] = vote(0, 0, NULL);
	votes[0].pass = 0;
	bm_judge_panel(votes, 4, &out);
	ok(!out.pass && out.agreement == 0.75, "3 of 4 fail");

	/* exec scorers */
	bm_judge_exec("{\"score\":0.7,\"reason\":\"close\"}", "", 1, &v);
	ok(v.pass && v.score == 0.7, "scorer: score from stdout");
	is(v.reason, "close", "scorer: reason from stdout");
	bm_judge_vote_free(&v);
	bm_judge_exec("not json", "too short\nmore\n", 0, &v);
	ok(!v.pass && v.score == 0, "scorer: exit 1 fails");
	is(v.reason, "too short", "scorer: reason from stderr's first line");
	bm_judge_vote_free(&v);
	bm_judge_exec("", "", 1, &v);
	ok(v.pass && v.score == 1 && !v.reason, "scorer: exit 0 passes");
	bm_judge_vote_free(&v);
	return done_testing();
}
