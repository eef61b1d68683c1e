/* test-hash: digests and the identity rules of DESIGN.md §3. */
#include <stdlib.h>

#include <cJSON.h>

#include "hash.h"
#include "tap.h"

static char *
id_of(const char *json, const char **msg)
{
	static char id[BM_MD5_HEX_LEN + 1];
	static struct bm_error e;
	cJSON *doc = cJSON_Parse(json);
	const cJSON *where;
	int rc = bm_benchmark_id(doc, id, &where, &e);

	*msg = rc < 0 ? bm_error_str(&e) : NULL;
	cJSON_Delete(doc);
	return rc < 0 ? NULL : id;
}

int
main(void)
{
	char md5[BM_MD5_HEX_LEN + 1], sha[BM_SHA256_HEX_LEN + 1];
	char cid[BM_CASE_ID_LEN + 1];
	const char *msg;

	bm_md5_hex("", 0, md5);
	is(md5, "d41d8cd98f00b204e9800998ecf8427e", "MD5 of nothing");
	bm_sha256_hex("", 0, sha);
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

	bm_case_id("0123456789abcdef0123456789abcdef", NULL, 0,
	    "openai:gpt-4o-mini", 0, cid);
	is(cid, "b2c5b8a54cab25b3", "case_id with no variant");
	bm_case_id("0123456789abcdef0123456789abcdef", "baseline", 3, "echo:",
	    12, cid);
	is(cid, "0c33e4c09196d73b", "case_id with variant, trial and repeat");
	return done_testing();
}
