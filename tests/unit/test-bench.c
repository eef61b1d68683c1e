/* test-bench.c: benchmark documents and the case matrix. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bench.h"
#include "buf.h"
#include "check.h"
#include "err.h"
#include "map.h"
#include "tap.h"
#include "xalloc.h"
#include "yaml.h"

static struct bm_buf problems = BM_BUF_INIT;

static void
collect(void *arg, const struct bm_error *e)
{
	(void)arg;
	bm_buf_adds(&problems, bm_error_str(e));
	bm_buf_addc(&problems, '\n');
}

/* Parse the first document of text as a.yml; problems go to problems. */
static struct bm_bench *
parse(const char *text)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml *y = bm_yaml_open(text, strlen(text), "a.yml");
	struct bm_yaml_doc *doc = NULL;
	struct bm_bench *b = NULL;

	bm_buf_reset(&problems);
	if (bm_yaml_next(y, &doc, &e) == 1) {
		bm_check_bench(doc, "dir/a.yml", NULL, &b, collect, NULL);
		bm_yaml_doc_free(doc);
	}
	bm_error_clear(&e);
	bm_yaml_close(y);
	return b;
}

struct count {
	long n;
	char first[4096];
	struct bm_map *ids;
};

static int
count(void *arg, const struct bm_case *c)
{
	struct count *k = arg;
	cJSON *j = cJSON_ParseWithLength(c->json, c->len);

	if (k->n == 0 && c->len < sizeof(k->first))
		memcpy(k->first, c->json, c->len + 1);
	if (j && !bm_map_get(k->ids, c->case_id))
		bm_map_put(k->ids, c->case_id, k);
	cJSON_Delete(j);
	k->n++;
	return 0;
}

int
main(void)
{
	const char *models[] = { "echo:", "openai:gpt-4o-mini", "x:y" };
	struct bm_buf out = BM_BUF_INIT;
	struct count k;
	struct bm_bench *b;
	cJSON *vars;

	b = parse("prompt: \"{{a}} + {{ b }} = {{c}}\"\n"
	    "vars: [{a: 2, b: 2.5, c: x}, {a: 1, b: 1, c: y}]\n"
	    "variants: {}\n");
	ok(b == NULL, "invalid document gives no benchmark");
	is(bm_buf_str(&problems), "dir/a.yml:3:11: variants: expected a "
	    "mapping of variant names\n", "empty variants");

	b = parse("name: Bad\npromt: x\nprompt: 1\nrepeat: 0\n");
	is(bm_buf_str(&problems),
	    "dir/a.yml:2:1: unknown key 'promt' (did you mean 'prompt'?)\n"
	    "dir/a.yml:1:7: name: expected a slug ([a-z0-9][a-z0-9._-]*)\n"
	    "dir/a.yml:3:9: prompt: expected a string\n"
	    "dir/a.yml:4:9: repeat: expected a whole number from 1 to "
	    "1000000\n", "all problems, with positions");

	b = parse("prompt: \"{{a}} and {{zz}}\"\nvars: [{a: 1}]\n");
	is(bm_buf_str(&problems), "dir/a.yml:1:9: placeholder {{zz}} names "
	    "no var of trial 0\n", "unknown placeholder");

	b = parse("prompt: x\nexpect: [{regex: '{{p}}('}]\nvars: [{p: a}]\n");
	is(bm_buf_str(&problems), "dir/a.yml:2:18: regex: missing closing "
	    "parenthesis at offset 2\n", "regex checked after rendering");

	vars = cJSON_Parse("{\"a\":2,\"b\":2.5,\"s\":\"x\",\"t\":true}");
	bm_bench_render("{{a}}+{{ b }}={{s}} {{t}} {{nope}} {{", vars, &out);
	is(bm_buf_str(&out), "2+2.5=x true {{nope}} {{", "render");
	cJSON_Delete(vars);
	bm_buf_free(&out);

	b = parse("prompt: \"Say {{w}}\"\nsystem: Be brief.\n"
	    "vars: [{w: a}, {w: b}, {w: c}]\n"
	    "variants:\n  one: {params: {t: 1}}\n  two: {prompt: \"Shout {{w}}\"}\n"
	    "expect: [{equals: \"{{w}}\"}]\nrepeat: 2\nparams: {t: 0, k: 5}\n");
	is(bm_buf_str(&problems), "", "valid document");
	ok(b != NULL, "benchmark built");
	is(b->name, "a", "default name is the file stem");
	is_int(bm_bench_ntrials(b), 3, "three trials");
	is_int(bm_bench_nvariants(b), 2, "two variants");
	memset(&k, 0, sizeof(k));
	k.ids = bm_map_new();
	bm_bench_cases(b, models, 3, b->repeat, count, &k);
	is_int(k.n, 2 * 3 * 3 * 2, "variants x trials x models x repeat");
	k.n = 0;
	bm_map_free(k.ids, NULL);
	k.ids = bm_map_new();
	bm_bench_cases(b, models, 3, b->repeat, count, &k);
	is(k.first, "{\"type\":\"case\",\"case_id\":\"701e8e71c1f6dcd2\","
	    "\"benchmark_id\":\"eebcb3c5a151806f3a7c67b87c6a7fbd\","
	    "\"benchmark\":\"a\",\"content_sha256\":\"f9d727c8c51970b127c9"
	    "007b287d99511964f477930571caa6b1f1b2f370810d\","
	    "\"model\":\"echo:\",\"variant\":\"one\","
	    "\"trial\":0,\"repeat\":0,\"messages\":[{\"role\":\"system\","
	    "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
	    "\"Say a\"}],\"expect\":[{\"equals\":\"a\"}],\"vars\":{\"w\":\"a\"},"
	    "\"params\":{\"t\":1,\"k\":5},\"tags\":[]}", "the first case record");
	bm_map_free(k.ids, NULL);
	bm_bench_free(b);

	b = parse("sequence:\n  - one\n  - prompt: two\n    expect: "
	    "[{contains: x}]\n");
	memset(&k, 0, sizeof(k));
	k.ids = bm_map_new();
	bm_bench_cases(b, models, 1, 1, count, &k);
	ok(strstr(k.first, "\"system\":null,\"steps\":[{\"prompt\":\"one\","
	    "\"expect\":[],\"params\":{}},{\"prompt\":\"two\",\"expect\":"
	    "[{\"contains\":\"x\"}],\"params\":{}}],\"expect\":[]") != NULL,
	    "a sequence has steps");
	bm_map_free(k.ids, NULL);
	bm_bench_free(b);

	b = parse("prompt: x\n");
	ok(b && bm_bench_has_tag(b, NULL, 0), "no tag filter");
	bm_bench_free(b);
	bm_buf_free(&problems);
	return done_testing();
}
