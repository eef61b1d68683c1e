/*
 * test-yaml: scalar typing, block scalars, document text ranges, node and
 * key positions, anchors and merge keys, every error message (exact), the
 * inputs the fuzzer found, and large inputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "jsonl.h"
#include "tap.h"
#include "xalloc.h"
#include "yaml.h"

/* The first document of text (NUL-terminated), or NULL and e. */
static struct bm_yaml_doc *
first(const char *text, size_t len, struct bm_error *e)
{
	struct bm_yaml *y = bm_yaml_open(text, len, "t.yml");
	struct bm_yaml_doc *d = NULL;

	if (bm_yaml_next(y, &d, e) != 1)
		d = NULL;
	bm_yaml_close(y);
	return d;
}

/* The first error reading all of text, as printed, or "no error". */
static const char *
errof(const char *text, size_t len)
{
	static char *last;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml *y = bm_yaml_open(text, len, "t.yml");
	struct bm_yaml_doc *d;
	int rc;

	free(last);
	last = NULL;
	while ((rc = bm_yaml_next(y, &d, &e)) != 0) {
		if (rc < 0) {
			last = xstrdup(bm_error_str(&e));
			break;
		}
		bm_yaml_doc_free(d);
	}
	bm_yaml_close(y);
	bm_error_clear(&e);
	return last ? last : "no error";
}

#define ERR(s) errof((s), sizeof(s) - 1)

/* The value of "v: text" printed as compact JSON. */
static const char *
val(const char *text)
{
	static char *last;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_buf b = BM_BUF_INIT;
	struct bm_yaml_doc *d;

	free(last);
	bm_buf_addf(&b, "v: %s\n", text);
	d = first(b.s, b.len, &e);
	if (!d)
		last = xstrdup(bm_error_str(&e));
	else
		last = bm_json_print(
		    cJSON_GetObjectItemCaseSensitive(d->root, "v"));
	bm_yaml_doc_free(d);
	bm_buf_free(&b);
	bm_error_clear(&e);
	return last;
}

/* The text of each document of s, joined by "|", and their lines. */
static const char *
texts(const char *s, size_t len)
{
	static struct bm_buf b;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml *y = bm_yaml_open(s, len, "t.yml");
	struct bm_yaml_doc *d;
	int rc;

	bm_buf_reset(&b);
	while ((rc = bm_yaml_next(y, &d, &e)) != 0) {
		if (rc < 0) {
			bm_buf_addf(&b, "ERROR %s", bm_error_str(&e));
			break;
		}
		if (d->index > 0)
			bm_buf_adds(&b, "|");
		bm_buf_addf(&b, "%ld:", d->line);
		bm_buf_add(&b, d->text, d->text_len);
		bm_yaml_doc_free(d);
	}
	bm_yaml_close(y);
	bm_error_clear(&e);
	return bm_buf_str(&b);
}

#define TEXTS(s) texts((s), sizeof(s) - 1)

/* Every result of reading s: "ERROR message" or the doc's index, by "|". */
static const char *
results(const char *s, size_t len)
{
	static struct bm_buf b;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml *y = bm_yaml_open(s, len, "t.yml");
	struct bm_yaml_doc *d;
	int rc, n = 0;

	bm_buf_reset(&b);
	while ((rc = bm_yaml_next(y, &d, &e)) != 0 && n++ < 10) {
		if (rc < 0)
			bm_buf_addf(&b, "ERROR %s|", bm_error_str(&e));
		else
			bm_buf_addf(&b, "%d|", d->index);
		bm_yaml_doc_free(d);
	}
	bm_buf_adds(&b, "end");
	bm_yaml_close(y);
	bm_error_clear(&e);
	return bm_buf_str(&b);
}

/* "line:col" of node (or its key), or "none". */
static const char *
where(const struct bm_yaml_doc *d, const cJSON *node, int key)
{
	static char out[64];
	long line, col;

	if (bm_yaml_where(d, node, key, &line, &col) < 0)
		return "none";
	snprintf(out, sizeof(out), "%ld:%ld", line, col);
	return out;
}

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static void
test_typing(void)
{
	static const char *const table[][2] = {
		/* plain scalars: YAML 1.1 */
		{ "~", "null" }, { "null", "null" }, { "Null", "null" },
		{ "NULL", "null" }, { "", "null" }, { "nUll", "\"nUll\"" },
		{ "true", "true" }, { "True", "true" }, { "TRUE", "true" },
		{ "yes", "true" }, { "Yes", "true" }, { "YES", "true" },
		{ "on", "true" }, { "On", "true" }, { "ON", "true" },
		{ "false", "false" }, { "No", "false" }, { "off", "false" },
		{ "OFF", "false" }, { "y", "\"y\"" }, { "tRue", "\"tRue\"" },
		{ "42", "42" }, { "-17", "-17" }, { "+5", "5" },
		{ "1_000", "1000" }, { "0", "0" }, { "0x1F", "31" },
		{ "0x1f", "31" }, { "-0x10", "-16" }, { "0o17", "15" },
		{ "017", "15" }, { "0b101", "5" }, { "08", "\"08\"" },
		{ "0x", "\"0x\"" }, { "12abc", "\"12abc\"" },
		{ "123456789012", "123456789012" },
		{ "1.5", "1.5" }, { "-2.25", "-2.25" }, { "1.", "1" },
		{ ".5", "0.5" }, { "1e3", "1000" }, { "1.5e-3", "0.0015" },
		{ "2E+2", "200" }, { "1_0.5", "10.5" }, { "1.5e", "\"1.5e\"" },
		{ ".", "\".\"" }, { "+", "\"+\"" }, { "1:30", "\"1:30\"" },
		{ "1.2.3", "\"1.2.3\"" }, { "hello world", "\"hello world\"" },
		{ "a # comment", "\"a\"" },
		/* quoted: always strings */
		{ "\"42\"", "\"42\"" }, { "'yes'", "\"yes\"" },
		{ "\"~\"", "\"~\"" }, { "''", "\"\"" },
		{ "\"1.5\"", "\"1.5\"" },
		{ "'null'", "\"null\"" }, { "\"a\\tb\"", "\"a\\tb\"" },
		{ "'it''s'", "\"it's\"" },
		/* tags */
		{ "!!str 42", "\"42\"" }, { "!!str yes", "\"yes\"" },
		{ "!!str", "\"\"" }, { "!!int \"42\"", "42" },
		{ "!!float 1", "1" }, { "!!bool 'yes'", "true" },
		{ "!!null x", "null" }, { "! 42", "\"42\"" },
		{ "!custom 42", "42" }, { "!custom '42'", "\"42\"" },
		{ "[1, '1', one]", "[1,\"1\",\"one\"]" },
		{ "{a: 1}", "{\"a\":1}" },
	};
	size_t i;
	char what[128];

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		snprintf(what, sizeof(what), "v: %s", table[i][0]);
		is(val(table[i][0]), table[i][1], what);
	}
	is(val("!!int x"), "t.yml:1:4: invalid !!int value 'x'",
	    "a bad !!int is an error at the value");
	is(val("!!bool maybe"), "t.yml:1:4: invalid !!bool value 'maybe'",
	    "a bad !!bool too");
	is(val("!!float 1x"), "t.yml:1:4: invalid !!float value '1x'",
	    "a bad !!float too");
}

static void
test_special_floats(void)
{
	struct bm_error e = BM_ERROR_INIT;
	static const char in[] = "- .inf\n- -.Inf\n- +.INF\n- .nan\n- .NaN\n"
	    "- -.nan\n- .infinity\n";
	struct bm_yaml_doc *d = first(in, sizeof(in) - 1, &e);
	const cJSON *r = d ? d->root : NULL;

	ok(d && cJSON_GetArraySize(r) == 7, "seven items");
	ok(isinf(cJSON_GetArrayItem(r, 0)->valuedouble) &&
	    cJSON_GetArrayItem(r, 0)->valuedouble > 0, ".inf");
	ok(isinf(cJSON_GetArrayItem(r, 1)->valuedouble) &&
	    cJSON_GetArrayItem(r, 1)->valuedouble < 0, "-.Inf");
	ok(isinf(cJSON_GetArrayItem(r, 2)->valuedouble), "+.INF");
	ok(isnan(cJSON_GetArrayItem(r, 3)->valuedouble), ".nan");
	ok(isnan(cJSON_GetArrayItem(r, 4)->valuedouble), ".NaN");
	ok(cJSON_IsString(cJSON_GetArrayItem(r, 5)), "-.nan is a string");
	ok(cJSON_IsString(cJSON_GetArrayItem(r, 6)), ".infinity is a string");
	bm_yaml_doc_free(d);
}

static void
test_block_scalars(void)
{
	is(val("|\n  one\n  two\n\n\nw: 1"), "\"one\\ntwo\\n\"",
	    "| keeps one trailing newline");
	is(val("|-\n  one\n  two\n\n"), "\"one\\ntwo\"", "|- strips it");
	/* val() adds a newline of its own. */
	is(val("|+\n  one\n\n\n"), "\"one\\n\\n\\n\\n\"", "|+ keeps them all");
	is(val(">\n  one\n  two\n\n  three\n"), "\"one two\\nthree\\n\"",
	    "> folds lines");
	is(val(">-\n  a\n  b\n"), "\"a b\"", ">- folds and strips");
	is(val("|\n  42\n"), "\"42\\n\"", "a block scalar is a string");
	is(val("|2\n   indented\n"), "\" indented\\n\"",
	    "an indentation indicator keeps the extra spaces");
}

static void
test_documents(void)
{
	is(TEXTS("a: 1\nb: 2\n"), "1:a: 1\nb: 2\n",
	    "one document without markers: the whole input");
	is(TEXTS("# head\na: 1\n# tail\n"), "1:# head\na: 1\n# tail\n",
	    "comments around it belong to it");
	is(TEXTS("a: 1"), "1:a: 1", "no final newline");
	is(TEXTS("---\na: 1\n---\nb: 2\n"), "2:a: 1\n|4:b: 2\n",
	    "--- lines are left out");
	is(TEXTS("# c\n---\na: 1\n--- # two\nb: 2\n...\n# after\n"),
	    "3:a: 1\n|5:b: 2\n", "comments on marker lines and after ... too");
	is(TEXTS("a: 1\n...\n---\nb: 2\n...\n"), "1:a: 1\n|4:b: 2\n",
	    "... ends a document");
	is(TEXTS("--- |\n  lit\n--- >\n  fold\n"), "1:|\n  lit\n|3:>\n  fold\n",
	    "a root on the --- line starts there");
	is(TEXTS("--- text\n"), "1:text\n", "a plain root on the --- line");
	is(TEXTS("---\r\na: 1\r\n---\r\nb: 2\r\n"), "2:a: 1\r\n|4:b: 2\r\n",
	    "CRLF line ends");
	is(TEXTS("---\n---\n# only a comment\n---\n"),
	    "2:|3:# only a comment\n|5:", "empty documents have empty text");
	is(TEXTS("a: 1\n---\nb: 2"), "1:a: 1\n|3:b: 2",
	    "an implicit first document ends at the next ---");
	is(TEXTS("%YAML 1.1\n---\na: 1\n"), "3:a: 1\n", "directives left out");
	is(TEXTS("x: \"\xc3\xa9\xf0\x9f\x98\x80\"\n---\ny: 1\n"),
	    "1:x: \"\xc3\xa9\xf0\x9f\x98\x80\"\n|3:y: 1\n",
	    "byte offsets right after multibyte characters");
	is(TEXTS("\xef\xbb\xbf" "a: 1\n---\nb: 2\n"),
	    "1:\xef\xbb\xbf" "a: 1\n|3:b: 2\n", "a byte order mark stays");
	is(TEXTS(""), "", "empty input: no document");
	is(TEXTS("# only comments\n\n"), "",
	    "comments only: no document either (as libyaml sees it)");
	is(TEXTS("a: 1\nb: 2\na: 3\n---\nok: 1\n"),
	    "ERROR t.yml:3:1: duplicate key 'a' (first at 1:1)",
	    "a structure error is returned in its turn");
}

static void
test_stream_goes_on(void)
{
	static const char in[] = "a: 1\na: 2\n---\nok: 1\n---\n[1, *x]\n"
	    "---\nlast: 1\n---\n{bad\n";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml *y = bm_yaml_open(in, sizeof(in) - 1, "s.yml");
	struct bm_yaml_doc *d = NULL;

	is_int(bm_yaml_next(y, &d, &e), -1, "a duplicate key fails doc 0");
	is(bm_error_str(&e), "s.yml:2:1: duplicate key 'a' (first at 1:1)",
	    "with its message");
	is_int(bm_yaml_next(y, &d, &e), 1, "doc 1 still comes");
	ok(d && d->index == 1 && cJSON_IsNumber(get(d->root, "ok")),
	    "as itself, numbered 1");
	bm_yaml_doc_free(d);
	is_int(bm_yaml_next(y, &d, &e), -1, "an undefined alias fails doc 2");
	is(bm_error_str(&e), "s.yml:6:5: found undefined alias 'x'",
	    "with its message");
	is_int(bm_yaml_next(y, &d, &e), 1, "doc 3 comes");
	ok(d && d->index == 3, "numbered 3");
	bm_yaml_doc_free(d);
	is_int(bm_yaml_next(y, &d, &e), -1, "a syntax error in doc 4");
	is(bm_error_str(&e), "s.yml:11:1: did not find expected ',' or '}' "
	    "while parsing a flow mapping started at 10:1", "with its message");
	is_int(bm_yaml_next(y, &d, &e), 0, "then the stream ends");
	is_int(bm_yaml_next(y, &d, &e), 0, "and stays ended");
	bm_yaml_close(y);
	bm_error_clear(&e);
}

static void
test_positions(void)
{
	static const char in[] =
	    "name: x\n"
	    "vars:\n"
	    "  - {a: 1, b: \"two\"}\n"
	    "  -   c: [x,\n"
	    "         y]\n"
	    "\xc3\xa9t\xc3\xa9: \xf0\x9f\x98\x80 z\n";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *d = first(in, sizeof(in) - 1, &e);
	const cJSON *vars, *m0, *m1, *c;
	long line, col;

	ok(d != NULL, "parsed");
	if (!d)
		return;
	vars = get(d->root, "vars");
	m0 = cJSON_GetArrayItem(vars, 0);
	m1 = cJSON_GetArrayItem(vars, 1);
	c = get(m1, "c");
	is(where(d, d->root, 0), "1:1", "root");
	is(where(d, get(d->root, "name"), 0), "1:7", "a value");
	is(where(d, get(d->root, "name"), 1), "1:1", "its key");
	is(where(d, vars, 0), "3:3", "a block sequence starts at its dash");
	is(where(d, vars, 1), "2:1", "its key");
	is(where(d, m0, 0), "3:5", "a flow mapping at its brace");
	is(where(d, m0, 1), "3:5", "a list item's key position is itself");
	is(where(d, get(m0, "b"), 0), "3:15", "a quoted scalar at its quote");
	is(where(d, get(m0, "b"), 1), "3:12", "its key");
	is(where(d, m1, 0), "4:7", "a block mapping at its first key");
	is(where(d, cJSON_GetArrayItem(c, 1), 0), "5:10",
	    "the second line of a flow sequence");
	is(where(d, get(d->root, "\xc3\xa9t\xc3\xa9"), 0), "6:6",
	    "columns count characters, not bytes");
	ok(bm_yaml_where(d, (const cJSON *)&e, 0, &line, &col) == -1 &&
	    line == 0 && col == 0, "an unknown node is -1 and 0:0");
	bm_yaml_error(&e, d, "p.yml", get(m0, "b"), 1, "bad %s", "key");
	is(bm_error_str(&e), "p.yml:3:12: bad key", "bm_yaml_error at a key");
	bm_yaml_error(&e, d, "p.yml", get(m0, "b"), 0, "expected %d", 3);
	is(bm_error_str(&e), "p.yml:3:15: expected 3",
	    "bm_yaml_error at a value");
	bm_yaml_error(&e, d, "p.yml", NULL, 0, "no node");
	is(bm_error_str(&e), "p.yml: no node", "and without a node");
	bm_yaml_doc_free(d);
	bm_error_clear(&e);
}

static void
test_anchors(void)
{
	static const char in[] =
	    "base: &b {x: 1, y: [a, b]}\n"
	    "other: &o {z: 3, x: 9}\n"
	    "copy: *b\n"
	    "one:\n"
	    "  <<: *b\n"
	    "  y: own\n"
	    "two:\n"
	    "  <<: [*o, *b]\n"
	    "inline: {<<: {q: 1}, r: 2}\n"
	    "s: &s str\n"
	    "*s : keyed\n"
	    "'<<': quoted\n";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *d = first(in, sizeof(in) - 1, &e);
	const cJSON *r, *one, *two;
	char *p;

	ok(d != NULL, "parsed");
	if (!d)
		return;
	r = d->root;
	p = bm_json_print(get(r, "copy"));
	is(p, "{\"x\":1,\"y\":[\"a\",\"b\"]}", "an alias is a copy");
	free(p);
	ok(get(r, "copy") != get(r, "base"), "not the same node");
	is(where(d, get(r, "copy"), 0), "3:7", "the copy is at the alias");
	is(where(d, get(get(r, "copy"), "y"), 0), "3:7", "all of it");
	is(where(d, get(r, "copy"), 1), "3:1", "with its own key");
	one = get(r, "one");
	p = bm_json_print(one);
	is(p, "{\"x\":1,\"y\":\"own\"}", "<<: own keys win over merged ones");
	free(p);
	is(where(d, get(one, "x"), 0), "5:7", "a merged value is at the alias");
	two = get(r, "two");
	p = bm_json_print(two);
	is(p, "{\"z\":3,\"x\":9,\"y\":[\"a\",\"b\"]}",
	    "<<: [list]: earlier mappings win");
	free(p);
	p = bm_json_print(get(r, "inline"));
	is(p, "{\"q\":1,\"r\":2}", "an inline mapping merges too");
	free(p);
	is(where(d, get(get(r, "inline"), "q"), 1), "9:15",
	    "keeping its own positions");
	is(get(r, "str") ? get(r, "str")->valuestring : NULL, "keyed",
	    "an alias of a scalar can be a key");
	is(get(r, "<<") ? get(r, "<<")->valuestring : NULL, "quoted",
	    "a quoted << is an ordinary key");
	bm_yaml_doc_free(d);

	is(ERR("a: &a [1, *a]\n"), "t.yml:1:11: found recursive alias 'a'",
	    "a recursive alias");
	is(ERR("a: *nope\n"), "t.yml:1:4: found undefined alias 'nope'",
	    "an undefined alias");
	is(ERR("a:\n  <<: 3\n"), "t.yml:2:7: expected a mapping or list of "
	    "mappings for merging", "merging a scalar");
	is(ERR("a:\n  <<: [{x: 1}, 2]\n"), "t.yml:2:7: expected a mapping or "
	    "list of mappings for merging", "merging a list with a scalar");
	is(ERR("a: &a [1]\n*a : x\n"),
	    "t.yml:2:1: mapping key must be a scalar",
	    "an alias of a list as a key");
	is(ERR("a: &x 1\nb: &x 2\nc: *x\n"), "no error",
	    "anchors may be redefined");
}

static void
test_errors(void)
{
	static const char nul[] = "a: b\0c\n";
	static const char junk[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
	static const char qnul[] = "a: \"x\\0y\"\n";

	is(ERR("a: 1\nb: 2\na: 3\n"), "t.yml:3:1: duplicate key 'a' (first at "
	    "1:1)", "duplicate key at the second key");
	is(ERR("x:\n  name: 1\n  other: 2\n  name: 3\n"),
	    "t.yml:4:3: duplicate key 'name' (first at 2:3)",
	    "duplicate key in a nested mapping");
	is(ERR("- {a: 1}\n- {a: 1}\n"), "no error",
	    "the same key in two mappings is fine");
	is(ERR("a: [1, 2"), "t.yml:1:9: did not find expected ',' or ']' "
	    "while parsing a flow sequence started at 1:4", "truncated flow");
	is(ERR("a: [1, 2\n"), "t.yml:2:1: did not find expected ',' or ']' "
	    "while parsing a flow sequence started at 1:4",
	    "truncated flow with a newline");
	is(ERR("a: b: c\n"), "t.yml:1:5: mapping values are not allowed in "
	    "this context", "mapping values in the wrong place");
	is(ERR("a: \"open\n"), "t.yml:2:1: found unexpected end of stream "
	    "while scanning a quoted scalar started at 1:4", "open quote");
	is(ERR("a: 1\n b: 2\n"), "t.yml:2:3: mapping values are not allowed in "
	    "this context", "bad indentation");
	is(ERR("a:\n\t- 1\n"), "t.yml:2:1: found character that cannot start "
	    "any token while scanning for the next token started at 2:1",
	    "a tab for indentation");
	is(ERR("a: 1\nb: \xff\n"), "t.yml:2:4: invalid UTF-8: unexpected byte "
	    "0xff", "invalid UTF-8 byte");
	is(ERR("a: \xc3\x28\n"), "t.yml:1:5: invalid UTF-8: bad continuation "
	    "byte", "bad continuation byte");
	is(ERR("a: \xc3"), "t.yml:1:4: invalid UTF-8: truncated sequence",
	    "truncated sequence at the end");
	is(ERR("a: \xc0\xaf\n"), "t.yml:1:4: invalid UTF-8: overlong sequence",
	    "overlong encoding");
	is(ERR("a: \xed\xa0\x80\n"), "t.yml:1:4: invalid UTF-8: not a Unicode "
	    "character", "an encoded surrogate");
	is(errof(nul, sizeof(nul) - 1), "t.yml:1:5: NUL byte is not allowed "
	    "(binary file?)", "a NUL byte");
	is(errof(junk, sizeof(junk) - 1), "t.yml:1:1: control character U+007F "
	    "is not allowed", "binary junk");
	is(ERR("a: \x01\n"), "t.yml:1:4: control character U+0001 is not "
	    "allowed", "a control character");
	is(errof(qnul, sizeof(qnul) - 1),
	    "t.yml:1:4: NUL character in a string is not supported",
	    "an escaped NUL cannot be kept in a string");
	is(ERR("? [a, b]\n: c\n"), "t.yml:1:3: mapping key must be a scalar",
	    "a list as a key");
	is(ERR("{? {a: 1} : c}\n"), "t.yml:1:4: mapping key must be a scalar",
	    "a mapping as a key");
	is(ERR("\xfe\xff\0a\0:\0 \0\x31\n"), "t.yml:1:1: invalid UTF-8: "
	    "unexpected byte 0xfe", "UTF-16 is not read as such");
}

static void
test_nesting(void)
{
	struct bm_buf b = BM_BUF_INIT;
	size_t i;

	for (i = 0; i < 999; i++)
		bm_buf_addc(&b, '[');
	for (i = 0; i < 999; i++)
		bm_buf_addc(&b, ']');
	is(errof(b.s, b.len), "no error", "999 levels are fine");
	bm_buf_reset(&b);
	for (i = 0; i < 100000; i++)
		bm_buf_addc(&b, '[');
	is(errof(b.s, b.len), "t.yml:1:1001: nesting too deep (more than 1000 "
	    "levels)", "100000 levels are refused, not a stack overflow");
	bm_buf_reset(&b);
	bm_buf_adds(&b, "a: 1\na: 2\nb: ");
	for (i = 0; i < 200000; i++)
		bm_buf_addc(&b, '{');
	bm_buf_adds(&b, "\n---\nc: 1\n");
	is(results(b.s, b.len), "ERROR t.yml:2:1: duplicate key 'a' (first at "
	    "1:1)|end", "deep nesting after an error ends the stream "
	    "at once (libyaml is slow on it)");
	bm_buf_free(&b);
}

/*
 * Few copies of a long string: the bytes copied are bounded too (16 MiB),
 * a 140 kB file does not become gigabytes.
 */
static void
long_string(void)
{
	struct bm_buf b = BM_BUF_INIT;
	size_t i;

	bm_buf_adds(&b, "s: &a \"");
	for (i = 0; i < 100000; i++)
		bm_buf_addc(&b, 'x');
	bm_buf_adds(&b, "\"\nl: [*a");
	for (i = 1; i < 10000; i++)
		bm_buf_adds(&b, ", *a");
	bm_buf_adds(&b, "]\n");
	is(errof(b.s, b.len), "t.yml:2:673: alias expansion larger than "
	    "16777216 bytes", "10000 copies of 100 kB stop at 16 MiB");
	bm_buf_reset(&b);
	bm_buf_adds(&b, "s: &a {k: \"");
	for (i = 0; i < 100000; i++)
		bm_buf_addc(&b, 'x');
	bm_buf_adds(&b, "\"}\n");
	for (i = 0; i < 200; i++)
		bm_buf_addf(&b, "m%zu: {<<: *a}\n", i);
	ok(strstr(errof(b.s, b.len), "alias expansion larger than 16777216 "
	    "bytes") != NULL, "merged copies count their bytes too");
	bm_buf_reset(&b);
	bm_buf_adds(&b, "s: &a \"");
	for (i = 0; i < 100000; i++)
		bm_buf_addc(&b, 'x');
	bm_buf_adds(&b, "\"\nl: [*a");
	for (i = 1; i < 100; i++)
		bm_buf_adds(&b, ", *a");
	bm_buf_adds(&b, "]\n");
	is(errof(b.s, b.len), "no error", "100 copies of 100 kB are fine");
	bm_buf_free(&b);
}

static void
test_alias_bomb(void)
{
	static const char bomb[] =
	    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	static const char merges[] =
	    "a: &a {a: [1, 2, 3, 4, 5, 6, 7, 8]}\n"
	    "b: &b {<<: *a, b: *a, c: *a, d: *a}\n"
	    "c: &c {<<: *b, e: *b, f: *b, g: *b, h: *b}\n"
	    "d: &d {<<: *c, i: *c, j: *c, k: *c, l: *c}\n"
	    "e: &e {<<: *d, m: *d, n: *d, o: *d, p: *d}\n"
	    "f: &f {<<: *e, q: *e, r: *e, s: *e, t: *e}\n"
	    "g: &g {<<: *f, u: *f, v: *f, w: *f, x: *f}\n"
	    "h: &h {<<: *g, y: *g, z: *g, A: *g, B: *g}\n"
	    "i: &i {<<: *h, C: *h, D: *h, E: *h, F: *h}\n";

	is(errof(bomb, sizeof(bomb) - 1), "t.yml:6:36: alias expansion limit "
	    "exceeded", "a billion laughs stops at the limit");
	ok(strstr(errof(merges, sizeof(merges) - 1), "alias expansion limit "
	    "exceeded") != NULL, "merges count towards the limit too");
	long_string();
}

static void
test_check_keys(void)
{
	static const char *const allowed[] = { "name", "prompt", "vars",
		"expect", NULL };
	static const char in[] = "name: a\nprompt: b\n  \nvars: []\npromt: c\n"
	    "zzzzzz: d\n";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *d = first(in, sizeof(in) - 1, &e);
	cJSON *list;

	ok(d != NULL, "parsed");
	if (!d)
		return;
	is_int(bm_yaml_check_keys(d, "k.yml", d->root, allowed, &e), -1,
	    "an unknown key fails");
	is(bm_error_str(&e), "k.yml:5:1: unknown key 'promt' (did you mean "
	    "'prompt'?)", "did you mean, at the key");
	cJSON_DeleteItemFromObjectCaseSensitive(d->root, "promt");
	is_int(bm_yaml_check_keys(d, "k.yml", d->root, allowed, &e), -1,
	    "the next one too");
	is(bm_error_str(&e), "k.yml:6:1: unknown key 'zzzzzz'",
	    "without a hint when nothing is close");
	cJSON_DeleteItemFromObjectCaseSensitive(d->root, "zzzzzz");
	bm_error_clear(&e);
	is_int(bm_yaml_check_keys(d, "k.yml", d->root, allowed, &e), 0,
	    "known keys pass");
	ok(e.msg == NULL, "and leave e alone");
	list = cJSON_CreateArray();
	is_int(bm_yaml_check_keys(d, "k.yml", list, allowed, &e), 0,
	    "a non-mapping has no keys to check");
	cJSON_Delete(list);
	bm_yaml_doc_free(d);
}

static void
test_unicode(void)
{
	static const char in[] = "s: \"caf\xc3\xa9 \xf0\x9f\x8e\x89 \\u00e9 "
	    "\\U0001F600\"\n\xe6\x97\xa5\xe6\x9c\xac: plain \xf0\x9f\x98\x80\n";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *d = first(in, sizeof(in) - 1, &e);

	ok(d != NULL, "parsed");
	if (!d)
		return;
	is(get(d->root, "s")->valuestring, "caf\xc3\xa9 \xf0\x9f\x8e\x89 "
	    "\xc3\xa9 \xf0\x9f\x98\x80", "UTF-8 and escapes intact");
	is(get(d->root, "\xe6\x97\xa5\xe6\x9c\xac") ? get(d->root,
	    "\xe6\x97\xa5\xe6\x9c\xac")->valuestring : NULL,
	    "plain \xf0\x9f\x98\x80", "a non-ASCII key");
	bm_yaml_doc_free(d);
}

static void
test_big(void)
{
	struct bm_buf b = BM_BUF_INIT;
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *d;
	size_t i, n = 10 * 1024 * 1024;
	const cJSON *v;

	bm_buf_adds(&b, "big: |\n");
	for (i = 0; i < n / 64; i++)
		bm_buf_adds(&b, "  abcdefghijklmnopqrstuvwxyz0123456789"
		    "abcdefghijklmnopqrstuvwxyz\n");
	bm_buf_adds(&b, "after: 1\n");
	d = first(b.s, b.len, &e);
	v = d ? get(d->root, "big") : NULL;
	ok(v && strlen(v->valuestring) == n / 64 * 63, "a 10 MB scalar");
	is(d ? where(d, get(d->root, "after"), 1) : "", "163842:1",
	    "positions after it");
	ok(d && d->text_len == b.len, "its text is the whole input");
	bm_yaml_doc_free(d);

	/* Many keys: duplicate detection must not be quadratic. */
	bm_buf_reset(&b);
	for (i = 0; i < 200000; i++)
		bm_buf_addf(&b, "k%zu: %zu\n", i, i);
	d = first(b.s, b.len, &e);
	ok(d && cJSON_GetArraySize(d->root) == 200000, "200000 keys");
	is(d ? where(d, get(d->root, "k199999"), 1) : "", "200000:1",
	    "the last one's position");
	bm_yaml_doc_free(d);
	bm_buf_addf(&b, "k%d: again\n", 123);
	is(errof(b.s, b.len), "t.yml:200001:1: duplicate key 'k123' (first at "
	    "124:1)", "a duplicate among them");
	bm_buf_free(&b);
	bm_error_clear(&e);
}

/* Inputs the fuzzer found (tests/fuzz, scripts/fuzz). */
static void
test_fuzz_finds(void)
{
	/*
	 * Merging many keys grew the position table while a pointer into
	 * it was held (heap-use-after-free).
	 */
	static const char merge_grow[] =
	    "# two documents\n--- &top\nname: Sne\nname: ta|\n  line one\n"
	    "  line two\n...\n---\nname: two\nbase: &b {x: 1, y: [0.5, .%inf, "
	    "x: 1, y:\xef\xbb\xbf.5, .inf, ~, ytres, 0o17off]}\nuse:\n"
	    "  <<: *b\n"
	    "[o1  z: !!str 3\nlis:t [*b, *d7\n  texk\n";
	struct bm_buf b = BM_BUF_INIT;
	size_t i;

	ok(strlen(errof(merge_grow, sizeof(merge_grow) - 1)) > 0,
	    "fuzz: merge while the table grows");
	bm_buf_adds(&b, "base: &b {");
	for (i = 0; i < 300; i++)
		bm_buf_addf(&b, "%sk%zu: [%zu, {x: y}]", i ? ", " : "", i, i);
	bm_buf_adds(&b, "}\nm1: {<<: *b}\nm2: {<<: [*b, {z: 1}], k1: own}\n");
	is(errof(b.s, b.len), "no error", "large merges");
	bm_buf_free(&b);
}

static void
test_load_file(void)
{
	char dir[] = "/tmp/test-yaml-XXXXXX", path[128];
	struct bm_error e = BM_ERROR_INIT;
	struct bm_yaml_doc *d;
	char *data = NULL;
	FILE *f;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/nope.yml", dir);
	d = bm_yaml_load_file(path, &data, &e);
	ok(d == NULL && data == NULL, "a missing file fails");
	ok(e.file && strcmp(e.file, path) == 0 && e.line == 0,
	    "naming the file");
	is(e.msg, "No such file or directory", "with strerror");

	snprintf(path, sizeof(path), "%s/one.yml", dir);
	f = fopen(path, "w");
	fputs("# config\nmodels:\n  a: {provider: echo}\n", f);
	fclose(f);
	d = bm_yaml_load_file(path, &data, &e);
	ok(d && cJSON_IsObject(get(d->root, "models")), "one document loads");
	ok(d && data && d->text == data && d->text_len == 39,
	    "its text is the whole file, in *data");
	bm_yaml_doc_free(d);
	free(data);

	f = fopen(path, "w");
	fclose(f);
	d = bm_yaml_load_file(path, &data, &e);
	ok(d && cJSON_IsNull(d->root) && d->text_len == 0 && data,
	    "an empty file is a null document");
	ok(d && bm_yaml_where(d, d->root, 0, &e.line, &e.col) == 0,
	    "with a position");
	bm_yaml_doc_free(d);
	free(data);

	f = fopen(path, "w");
	fputs("a: 1\n---\nb: 2\n", f);
	fclose(f);
	d = bm_yaml_load_file(path, &data, &e);
	ok(d == NULL && data == NULL, "two documents fail");
	ok(e.msg && e.line == 2 && e.col == 1 &&
	    strcmp(e.msg, "expected one document, found a second") == 0,
	    "at the second");

	f = fopen(path, "w");
	fputs("a: [1\n", f);
	fclose(f);
	d = bm_yaml_load_file(path, &data, &e);
	ok(d == NULL && e.line == 2, "a syntax error fails with its line");

	d = bm_yaml_load_file(dir, &data, &e);
	ok(d == NULL, "a directory fails");
	is(e.msg, "Is a directory", "with strerror");
	unlink(path);
	rmdir(dir);
	bm_error_clear(&e);
}

static void
all(void)
{
	test_typing();
	test_special_floats();
	test_block_scalars();
	test_documents();
	test_stream_goes_on();
	test_positions();
	test_anchors();
	test_errors();
	test_nesting();
	test_alias_bomb();
	test_check_keys();
	test_unicode();
	test_big();
	test_fuzz_finds();
	test_load_file();
}

int
main(void)
{
	all();
	return done_testing();
}
