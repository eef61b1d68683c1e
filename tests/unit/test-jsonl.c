/* test-jsonl: line numbers, bad lines, long lines, and the writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonl.h"
#include "tap.h"
#include "xalloc.h"

int
main(void)
{
	static const char input[] =
	    "{\"type\":\"case\",\"n\":1}\n"
	    "\n"
	    "[1,2]\n"
	    "{\"type\":\"result\"\n"
	    "  {\"type\":\"x\"}  \r\n"
	    "{\"a\":1} trailing\n"
	    "{\"last\":true}";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_jsonl r;
	struct bm_buf big = BM_BUF_INIT;
	cJSON *j;
	FILE *f;
	char *out;
	size_t len, i;

	f = fmemopen((void *)input, sizeof(input) - 1, "r");
	bm_jsonl_open(&r, f, NULL);
	ok(bm_jsonl_next(&r, &j, &e) == 1, "line 1 is a record");
	is(bm_jsonl_type(j), "case", "with its type");
	cJSON_Delete(j);
	ok(bm_jsonl_next(&r, &j, &e) == -1 && j == NULL, "an array is refused");
	is(bm_error_str(&e), "<stdin>:3: expected an object, got an array",
	    "naming the line, blank lines counted");
	ok(bm_jsonl_next(&r, &j, &e) == -1, "truncated JSON is refused");
	is(bm_error_str(&e), "<stdin>:4: invalid JSON near column 17",
	    "with its line");
	ok(bm_jsonl_next(&r, &j, &e) == 1, "blanks and CR around a record are fine");
	is(bm_jsonl_type(j), "x", "and it is read");
	cJSON_Delete(j);
	ok(bm_jsonl_next(&r, &j, &e) == -1, "trailing junk is refused");
	is(bm_error_str(&e), "<stdin>:6: invalid JSON near column 9", "at line 6");
	ok(bm_jsonl_next(&r, &j, &e) == 1, "a last line without newline is read");
	cJSON_Delete(j);
	ok(bm_jsonl_next(&r, &j, &e) == 0, "then the end");
	ok(bm_jsonl_next(&r, &j, &e) == 0, "and it stays at the end");
	bm_jsonl_close(&r);
	fclose(f);

	/* A 10 MB line: no line-length limit. */
	bm_buf_adds(&big, "{\"type\":\"result\",\"output\":\"");
	for (i = 0; i < 10 * 1024 * 1024; i++)
		bm_buf_addc(&big, 'a' + (int)(i % 26));
	bm_buf_adds(&big, "\"}\n{\"type\":\"next\"}\n");
	f = fmemopen(big.s, big.len, "r");
	bm_jsonl_open(&r, f, "big.jsonl");
	ok(bm_jsonl_next(&r, &j, &e) == 1, "a 10 MB line is read");
	is_int(strlen(cJSON_GetObjectItem(j, "output")->valuestring),
	    10 * 1024 * 1024, "whole");
	cJSON_Delete(j);
	ok(bm_jsonl_next(&r, &j, &e) == 1 && r.lineno == 2, "then line 2");
	cJSON_Delete(j);
	bm_jsonl_close(&r);
	fclose(f);
	bm_buf_free(&big);

	f = fmemopen((void *)"{\"a\":1}\n{\"b\":\0}\n", 16, "r");
	bm_jsonl_open(&r, f, "nul.jsonl");
	ok(bm_jsonl_next(&r, &j, &e) == 1, "before a NUL byte");
	cJSON_Delete(j);
	ok(bm_jsonl_next(&r, &j, &e) == -1, "a NUL byte in a line is refused");
	is(bm_error_str(&e), "nul.jsonl:2: NUL byte in line", "by name");
	bm_jsonl_close(&r);
	fclose(f);

	f = open_memstream(&out, &len);
	j = cJSON_Parse("{ \"type\" : \"stat\", \"x\" : 4333.6, \"s\":\"a\\nb\" }");
	ok(bm_jsonl_write(f, j) == 0, "a record is written");
	cJSON_Delete(j);
	bm_redact_add("null");
	ok(bm_jsonl_write_raw(f, "{\"k\":null}", 10) == 0,
	    "a raw line is written");
	fflush(f);
	is(out, "{\"type\":\"stat\",\"x\":4333.6,\"s\":\"a\\nb\"}\n"
	    "{\"k\":null}\n",
	    "compact, one per line, numbers short, data never redacted");
	fclose(f);
	free(out);
	bm_error_clear(&e);

	/* bm_json_print prints what cJSON prints, byte for byte. */
	{
		static const char *const trees[] = {
			"{}", "[]", "[{}, [], null, true, false]",
			"{\"n\": [0, -0, 1, -1, 42, 1e15, -1e15, 999999999999999,"
			" 0.1, 1.5e300, -2.5e-300, 3.14159265358979, 1e-7,"
			" 123456789012345678, 4333.6]}",
			"{\"s\": \"tab\\t nl\\n cr\\r bs\\\\ q\\\" "
			"ctl\\u0001\\u001f del\\u007f \\/ \\u00e9 \\ud83d\\ude00\"}",
			"{\"\": \"\", \"k\\\"q\": {\"deep\": [[[[1]]]]}}",
		};
		char *want, *got;

		for (i = 0; i < sizeof(trees) / sizeof(*trees); i++) {
			j = cJSON_Parse(trees[i]);
			want = cJSON_PrintUnformatted(j);
			got = bm_json_print(j);
			is(got, want, trees[i]);
			free(want);
			free(got);
			cJSON_Delete(j);
		}
	}

	/* A line read some other way parses with the same messages. */
	is_int(bm_jsonl_parse("[1]", 3, "<stdin>", 7, &j, &e), -1,
	    "bm_jsonl_parse: not an object");
	is(bm_error_str(&e), "<stdin>:7: expected an object, got an array",
	    "bm_jsonl_parse names the line");
	bm_error_clear(&e);
	is_int(bm_jsonl_parse("{\"a\":1}", 7, "x", 1, &j, &e), 1,
	    "bm_jsonl_parse: an object");
	cJSON_Delete(j);

	/* bm_json_index: the first member of each name, in one pass. */
	{
		static const char *const keys[] = { "a", "b", "ab", "z",
		    NULL };
		const cJSON *f4[4];

		j = cJSON_Parse("{\"b\":1,\"ab\":2,\"a\":3,\"b\":4}");
		bm_json_index(j, keys, f4);
		ok(f4[0] && f4[0]->valuedouble == 3, "bm_json_index: a");
		ok(f4[1] == cJSON_GetObjectItemCaseSensitive(j, "b") &&
		    f4[1]->valuedouble == 1, "bm_json_index: the first b");
		ok(f4[2] && f4[2]->valuedouble == 2, "bm_json_index: ab");
		ok(f4[3] == NULL, "bm_json_index: none named z");
		cJSON_Delete(j);
		f4[0] = keys[0] ? (const cJSON *)keys : NULL;
		bm_json_index(NULL, keys, f4);
		ok(!f4[0] && !f4[1] && !f4[2] && !f4[3],
		    "bm_json_index: not an object, no member");
	}

	f = fopen("/dev/full", "w");
	if (f) {
		j = cJSON_CreateObject();
		bm_jsonl_write(f, j);
		ok(bm_jsonl_finish(f) < 0, "a write error is seen at exit");
		cJSON_Delete(j);
	}
	return done_testing();
}
