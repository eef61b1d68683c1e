/* jsonl.c: streaming JSON-lines reader and writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]))
			return 0;
	return 1;
}

int
bm_jsonl_next(struct bm_jsonl *r, cJSON **out, struct bm_error *e)
{
	const char *end = NULL;
	cJSON *j;

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
		if (!blank(r->line, (size_t)r->len))
			break;
	}
	if (strlen(r->line) != (size_t)r->len) {
		bm_error_set(e, r->name, r->lineno, 0, "NUL byte in line");
		return -1;
	}
	/* The length includes the NUL: cJSON checks that it ends the text. */
	j = cJSON_ParseWithLengthOpts(r->line, (size_t)r->len + 1, &end, 1);
	if (!j) {
		long col = end && end >= r->line ?
		    (long)(end - r->line) + 1 : 0;

		bm_error_set(e, r->name, r->lineno, 0,
		    "invalid JSON near column %ld", col);
		return -1;
	}
	if (!cJSON_IsObject(j)) {
		bm_error_set(e, r->name, r->lineno, 0,
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
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "type");

	return cJSON_IsString(t) ? t->valuestring : NULL;
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

int
bm_jsonl_write_raw(FILE *f, const char *json, size_t len)
{
	char *clean = NULL;

	if (bm_redact_has(json)) {
		clean = bm_redact(json);
		json = clean;
		len = strlen(clean);
	}
	if (fwrite(json, 1, len, f) != len || putc('\n', f) == EOF) {
		free(clean);
		return -1;
	}
	free(clean);
	if (want_flush(f) && fflush(f) == EOF)
		return -1;
	return 0;
}

int
bm_jsonl_write(FILE *f, const cJSON *rec)
{
	char *s = cJSON_PrintUnformatted(rec);
	int rc;

	if (!s)
		return -1;
	rc = bm_jsonl_write_raw(f, s, strlen(s));
	free(s);
	return rc;
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
