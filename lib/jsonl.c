/* jsonl.c: streaming JSON-lines reader and writer. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "err.h"
#include "jsonl.h"
#include "xalloc.h"

void
bm_jsonl_open(struct bm_jsonl *r, FILE *f, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->name = xstrdup(!name || strcmp(name, "-") == 0 ? "<stdin>" : name);
}

void
bm_jsonl_close(struct bm_jsonl *r)
{
	free(r->line);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

static const char *
kind(const cJSON *j)
{
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	return "an object";
}

int
bm_jsonl_blank(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	return n == 0;
}

int
bm_jsonl_next(struct bm_jsonl *r, cJSON **out, struct bm_error *e)
{
	*out = NULL;
	for (;;) {
		errno = 0;
		r->len = getline(&r->line, &r->cap, r->f);
		if (r->len < 0) {
			if (ferror(r->f)) {
				bm_error_set(e, r->name, 0, 0, "%s",
				    strerror(errno ? errno : EIO));
				clearerr(r->f);
				return -1;
			}
			return 0;
		}
		r->lineno++;
		if (r->len > 0 && r->line[r->len - 1] == '\n')
			r->line[--r->len] = '\0';
		if (!bm_jsonl_blank(r->line, (size_t)r->len))
			break;
	}
	return bm_jsonl_parse(r->line, (size_t)r->len, r->name, r->lineno, out,
	    e);
}

int
bm_jsonl_parse(const char *line, size_t len, const char *name,
    long lineno, cJSON **out, struct bm_error *e)
{
	const char *end = NULL;
	cJSON *j;

	*out = NULL;
	if (strlen(line) != len) {
		bm_error_set(e, name, lineno, 0, "NUL byte in line");
		return -1;
	}
	/* The length includes the NUL: cJSON checks that it ends the text. */
	j = cJSON_ParseWithLengthOpts(line, len + 1, &end, 1);
	if (!j) {
		long col = end && end >= line ? (long)(end - line) + 1 : 0;

		bm_error_set(e, name, lineno, 0,
		    "invalid JSON near column %ld", col);
		return -1;
	}
	if (!cJSON_IsObject(j)) {
		bm_error_set(e, name, lineno, 0,
		    "expected an object, got %s", kind(j));
		cJSON_Delete(j);
		return -1;
	}
	*out = j;
	return 1;
}

const char *
bm_jsonl_type(const cJSON *rec)
{
	return bm_json_str(rec, "type");
}

const char *
bm_json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
bm_json_num(const cJSON *o, const char *k, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		return 0;
	*out = v->valuedouble;
	return 1;
}

double
bm_json_numor(const cJSON *o, const char *k, double dflt)
{
	bm_json_num(o, k, &dflt);
	return dflt;
}

/* s as a JSON string, escaped as cJSON escapes. */
void
bm_json_put_str(struct bm_buf *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	const unsigned char *last = p + n;
	char *w;

	/* Room for s unescaped and the quotes; more only at an escape. */
	bm_buf_grow(o, n + 2);
	w = o->s + o->len;
	*w++ = '"';
	for (; p < last; p++) {
		if (*p >= 32 && *p != '"' && *p != '\\') {
			*w++ = (char)*p;
			continue;
		}
		o->len = (size_t)(w - o->s);
		bm_buf_grow(o, 6 + (size_t)(last - p) + 1);
		w = o->s + o->len;
		*w++ = '\\';
		switch (*p) {
		case '"': *w++ = '"'; break;
		case '\\': *w++ = '\\'; break;
		case '\b': *w++ = 'b'; break;
		case '\f': *w++ = 'f'; break;
		case '\n': *w++ = 'n'; break;
		case '\r': *w++ = 'r'; break;
		case '\t': *w++ = 't'; break;
		default:
			memcpy(w, "u00", 3);
			w[3] = hex[*p >> 4];
			w[4] = hex[*p & 15];
			w += 5;
		}
	}
	*w++ = '"';
	o->len = (size_t)(w - o->s);
	o->s[o->len] = '\0';
}

void
bm_json_put_long(struct bm_buf *o, long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do
		d[--i] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		d[--i] = '-';
	bm_buf_add(o, d + i, sizeof(d) - i);
}

/*
 * A whole number below 1e15 as cJSON prints it ("%1.15g": its digits,
 * "-0" for negative zero); 0 for any other number.
 */
static int
put_whole(struct bm_buf *o, double d)
{
	if (!(d > -1e15 && d < 1e15) || d != (double)(long long)d)
		return 0;
	if (d == 0 && signbit(d))
		bm_buf_adds(o, "-0");
	else
		bm_json_put_long(o, (long)d);
	return 1;
}

void
bm_json_put_with(struct bm_buf *o, const cJSON *node, bm_json_str_fn *str,
    void *arg)
{
	char num[64];
	const cJSON *c;

	if (cJSON_IsString(node) && str) {
		str(o, node->valuestring, arg);
	} else if (cJSON_IsString(node)) {
		bm_json_put_str(o, node->valuestring);
	} else if (cJSON_IsArray(node) || cJSON_IsObject(node)) {
		bm_buf_addc(o, cJSON_IsArray(node) ? '[' : '{');
		cJSON_ArrayForEach(c, node) {
			if (c != node->child)
				bm_buf_addc(o, ',');
			if (cJSON_IsObject(node)) {
				bm_json_put_str(o, c->string);
				bm_buf_addc(o, ':');
			}
			bm_json_put_with(o, c, str, arg);
		}
		bm_buf_addc(o, cJSON_IsArray(node) ? ']' : '}');
	} else if (cJSON_IsNumber(node) && put_whole(o, node->valuedouble)) {
		;
	} else if (cJSON_IsRaw(node)) {
		bm_buf_adds(o, node->valuestring);	/* printed already */
	} else if (cJSON_PrintPreallocated((cJSON *)node, num, sizeof(num),
	    0)) {
		bm_buf_adds(o, num);	/* other numbers, booleans, null */
	} else {
		bm_buf_adds(o, "null");
	}
}

void
bm_json_put(struct bm_buf *o, const cJSON *node)
{
	bm_json_put_with(o, node, NULL, NULL);
}

char *
bm_json_print(const cJSON *node)
{
	struct bm_buf b = BM_BUF_INIT;

	bm_json_put(&b, node);
	return bm_buf_detach(&b, NULL);
}

/* Flush per record unless writing to a regular file (as git does). */
static int
want_flush(FILE *f)
{
	static int fd = -1, flush;
	struct stat st;

	if (fileno(f) != fd) {
		fd = fileno(f);
		flush = fstat(fd, &st) < 0 || !S_ISREG(st.st_mode);
	}
	return flush;
}

/*
 * Records are written as they are: redaction rewrites the string values
 * that may carry a secret before they are encoded (DESIGN.md §10), never
 * a whole line, which would break its JSON and alter data.
 */
int
bm_jsonl_write_raw(FILE *f, const char *json, size_t len)
{
	if (fwrite(json, 1, len, f) != len || putc('\n', f) == EOF)
		return -1;
	if (want_flush(f) && fflush(f) == EOF)
		return -1;
	return 0;
}

int
bm_jsonl_write(FILE *f, const cJSON *rec)
{
	/* One buffer for every record: most programs write many. */
	static struct bm_buf b;

	bm_buf_reset(&b);
	bm_json_put(&b, rec);
	return bm_jsonl_write_raw(f, bm_buf_str(&b), b.len);
}

int
bm_jsonl_finish(FILE *f)
{
	int rc = 0;

	if (fflush(f) == EOF || ferror(f))
		rc = -1;
	if (fclose(f) == EOF)
		rc = -1;
	return rc;
}

void
bm_json_index(const cJSON *o, const char *const *keys, const cJSON **f)
{
	const cJSON *it;
	size_t i, n;

	for (n = 0; keys[n]; n++)
		f[n] = NULL;
	if (!cJSON_IsObject(o))
		return;
	cJSON_ArrayForEach(it, o)
		for (i = 0; it->string && i < n; i++)
			if (!f[i] && it->string[0] == keys[i][0] &&
			    strcmp(it->string, keys[i]) == 0) {
				f[i] = it;
				break;
			}
}

void
bm_json_put_strn(struct bm_buf *o, const char *s, size_t n)
{
	/* The tests for a zero byte and a byte below 32, 8 bytes at once. */
	const unsigned long long one = 0x0101010101010101ULL;
	unsigned long long w = 0, q, b;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		q = w ^ (one * '"');
		b = w ^ (one * '\\');
		if ((((q - one) & ~q) | ((b - one) & ~b) |
		    ((w - one * 32) & ~w)) & (one << 7))
			goto escape;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] < 32 || s[i] == '"' || s[i] == '\\')
			goto escape;
	bm_buf_grow(o, n + 2);
	o->s[o->len] = '"';
	memcpy(o->s + o->len + 1, s, n);
	o->len += n + 2;
	o->s[o->len - 1] = '"';
	o->s[o->len] = '\0';
	return;
escape:
	bm_json_put_str(o, s);
}
