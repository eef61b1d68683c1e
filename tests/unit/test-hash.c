/* test-hash: digests and the identity rules of DESIGN.md §3. */
#include <stdlib.h>

#include <cJSON.h>

#include "hash.h"
#include "tap.h"

static char *
id_of(const char *json, const char **msg)
{
	static char id[BM_HASH_MD5_LEN + 1];
	static struct bm_error e;
	cJSON *doc = cJSON_Parse(json);
	const cJSON *where;
	int rc = bm_hash_benchmark_id(doc, id, &where, &e);

	*msg = rc < 0 ? bm_error_str(&e) : NULL;
	cJSON_Delete(doc);
	return rc < 0 ? NULL : id;
}

/* Each problem as "key?:message;" */
static void
collect(void *arg, const cJSON *node, int key, const char *msg)
{
	(void)node;
	bm_buf_addf(arg, "%s%s;", key ? "key:" : "", msg);
}

/* bm_hash_rules in strict mode: the problems and the canonical prompt. */
static char *
strict_of(const char *json, size_t *n, struct bm_buf *prompt)
{
	static struct bm_buf probs;
	cJSON *doc = cJSON_Parse(json);

	bm_buf_reset(&probs);
	bm_buf_reset(prompt);
	*n = bm_hash_rules(doc, 1, prompt, collect, &probs);
	cJSON_Delete(doc);
	return (char *)bm_buf_str(&probs);
}

static void
strict_rules(void)
{
	struct bm_buf p = BM_BUF_INIT;
	size_t n;

	is(strict_of("{\"prompt\":\"a\",\"sequence\":[\"q\"]}", &n, &p),
	    "key:give prompt or sequence, not both;", "strict: not both");
	is(strict_of("{\"prompt\":\"a\",\"variants\":{\"v\":{\"system\":"
	    "\"s\"},\"w\":{\"prompt\":1,\"sequence\":[]}}}", &n, &p),
	    "variant 'w': prompt: expected a string;variant 'w': sequence: "
	    "expected a list of steps;key:variant 'w': give prompt or "
	    "sequence, not both;",
	    "strict: variants checked even when the top prompts");
	ok(n == 3, "three problems counted");
	is(strict_of("{\"sequence\":[\"a\",{\"system\":\"b\"},7]}", &n, &p),
	    "sequence step: prompt must be a string;sequence step: prompt "
	    "must be a string;", "every bad step");
	is(strict_of("{\"variants\":{\"a\":{\"prompt\":\"x\"},\"b\":{}}}",
	    &n, &p), "key:variant 'b': no prompt or sequence;",
	    "a variant with nothing to inherit, at its key");
	is(strict_of("{\"variants\":{\"a\":{\"prompt\":\"x\"},\"b\":"
	    "{\"sequence\":[\"y\",\"z\"]}}}", &n, &p), "", "valid variants");
	is(bm_buf_str(&p), "x\x1ey\x1ez", "and their canonical prompt");
	bm_buf_free(&p);
}

int
main(void)
{
	char md5[BM_HASH_MD5_LEN + 1], sha[BM_HASH_SHA256_LEN + 1];
	char cid[BM_HASH_CASE_ID_LEN + 1];
	const char *msg;

	bm_hash_md5("", 0, md5);
	is(md5, "d41d8cd98f00b204e9800998ecf8427e", "MD5 of nothing");
	bm_hash_sha256("", 0, sha);
	is(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "SHA-256 of nothing");

	is(id_of("{\"prompt\":\"What is {{a}} + {{b}}? Answer with the number "
	    "only.\"}", &msg), "22926c1e054b24082fdffc6cd441fd0b",
	    "a prompt's id is the MD5 of its bytes, placeholders unexpanded");
	is(id_of("{\"prompt\":\"H\\u00e9llo \\ud83d\\udc4b\"}", &msg),
	    "9fb346d02eebb59b0927d3483cb577a3", "unicode and emoji as UTF-8");
	is(id_of("{\"sequence\":[{\"prompt\":\"a\"},{\"prompt\":\"b\"}]}", &msg),
	    "a3802beabf2d5eee6a529148c47fe29f", "sequence steps joined by 0x1E");
	is(id_of("{\"sequence\":[\"a\",\"b\"]}", &msg),
	    "a3802beabf2d5eee6a529148c47fe29f", "bare-string steps are the same");
	is(id_of("{\"variants\":{\"v1\":{\"prompt\":\"x\"},\"v2\":{\"sequence\":"
	    "[{\"prompt\":\"y\"},{\"prompt\":\"z\"}]}}}", &msg),
	    "466950337da4ca8ec68e5ab6a302ac46",
	    "variants in written order, each canonical, joined by 0x1E");
	is(id_of("{\"prompt\":\"a\",\"sequence\":[\"q\"]}", &msg),
	    "0cc175b9c0f1b6a831c399e269772661", "prompt wins over sequence");

	ok(id_of("{\"name\":\"x\"}", &msg) == NULL, "no prompt is an error");
	is(msg, "no prompt: give prompt, sequence or variants", "saying what to give");
	id_of("{\"prompt\":42}", &msg);
	is(msg, "prompt: expected a string", "a number is not a prompt");
	id_of("{\"sequence\":[]}", &msg);
	is(msg, "sequence: expected a list of steps", "an empty sequence");
	id_of("{\"sequence\":[{\"prompt\":\"a\"},{\"system\":\"b\"}]}", &msg);
	is(msg, "sequence step: prompt must be a string", "a step without prompt");
	id_of("{\"variants\":{\"a\":{\"prompt\":\"x\"},\"b\":{\"system\":\"s\"}}}",
	    &msg);
	is(msg, "variant 'b': no prompt or sequence", "a variant without prompt");
	id_of("[1]", &msg);
	is(msg, "expected a mapping", "a document must be a mapping");

	bm_hash_case_id("0123456789abcdef0123456789abcdef", NULL, 0,
	    "openai:gpt-4o-mini", 0, cid);
	is(cid, "b2c5b8a54cab25b3", "case_id with no variant");
	bm_hash_case_id("0123456789abcdef0123456789abcdef", "baseline", 3, "echo:",
	    12, cid);
	is(cid, "0c33e4c09196d73b", "case_id with variant, trial and repeat");
	strict_rules();
	return done_testing();
}
