/* err.c: messages to stderr, error values, and secret redaction. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "xalloc.h"

int bm_verbosity;

static const char *prog = "bm";
static char **secrets;
static size_t nsecrets;

void
bm_err_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0 && *argv0)
		prog = slash ? slash + 1 : argv0;
}

const char *
bm_prog(void)
{
	return prog;
}

void
bm_error_vset(struct bm_error *e, const char *file, long line, long col,
    const char *fmt, va_list ap)
{
	struct bm_buf b = BM_BUF_INIT;
	char *f = file ? xstrdup(file) : NULL;

	bm_buf_vaddf(&b, fmt, ap);
	bm_error_clear(e);
	e->msg = bm_buf_detach(&b, NULL);
	e->file = f;
	e->line = line;
	e->col = col;
}

void
bm_error_set(struct bm_error *e, const char *file, long line, long col,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bm_error_vset(e, file, line, col, fmt, ap);
	va_end(ap);
}

void
bm_error_prefix(struct bm_error *e, const char *fmt, ...)
{
	struct bm_buf b = BM_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	bm_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	bm_buf_adds(&b, ": ");
	bm_buf_adds(&b, e->msg ? e->msg : "unknown error");
	free(e->msg);
	e->msg = bm_buf_detach(&b, NULL);
}

void
bm_error_clear(struct bm_error *e)
{
	free(e->msg);
	free(e->file);
	e->msg = e->file = NULL;
	e->line = e->col = 0;
}

const char *
bm_error_str(const struct bm_error *e)
{
	static struct bm_buf b;

	bm_buf_reset(&b);
	if (e->file) {
		bm_buf_adds(&b, e->file);
		if (e->line > 0)
			bm_buf_addf(&b, ":%ld", e->line);
		if (e->line > 0 && e->col > 0)
			bm_buf_addf(&b, ":%ld", e->col);
		bm_buf_adds(&b, ": ");
	}
	bm_buf_adds(&b, e->msg ? e->msg : "unknown error");
	return bm_buf_str(&b);
}

int
bm_color(int fd)
{
	const char *nc = getenv("NO_COLOR");

	if (nc && *nc)
		return 0;
	return isatty(fd);
}

/* Every line printed goes through here: prefix, optional colour, redaction. */
static void
emit(const char *tag, const char *color, const char *fmt, va_list ap)
{
	struct bm_buf b = BM_BUF_INIT;
	char *clean;
	int c = bm_color(2);

	bm_buf_addf(&b, c ? "\033[1m%s:\033[0m " : "%s: ", prog);
	if (tag)
		bm_buf_addf(&b, c ? "%s%s:\033[0m " : "%.0s%s: ", color, tag);
	bm_buf_vaddf(&b, fmt, ap);
	clean = bm_redact(bm_buf_str(&b));
	fprintf(stderr, "%s\n", clean);
	free(clean);
	bm_buf_free(&b);
}

static void
emitf(const char *tag, const char *color, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(tag, color, fmt, ap);
	va_end(ap);
}

void
bm_error_print(const struct bm_error *e)
{
	emitf(NULL, NULL, "%s", bm_error_str(e));
}

void
bm_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(NULL, NULL, fmt, ap);
	va_end(ap);
}

void
bm_warnf(const char *fmt, ...)
{
	va_list ap;

	if (bm_verbosity < 0)
		return;
	va_start(ap, fmt);
	emit("warning", "\033[33m", fmt, ap);
	va_end(ap);
}

void
bm_notef(const char *fmt, ...)
{
	va_list ap;

	if (bm_verbosity < 0)
		return;
	va_start(ap, fmt);
	emit(NULL, NULL, fmt, ap);
	va_end(ap);
}

void
bm_debugf(int level, const char *fmt, ...)
{
	va_list ap;

	if (bm_verbosity < level)
		return;
	va_start(ap, fmt);
	emit(NULL, NULL, fmt, ap);
	va_end(ap);
}

void
bm_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(NULL, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}

void
bm_redact_add(const char *secret)
{
	size_t i;

	/* Short values would redact ordinary words; keys are long. */
	if (!secret || strlen(secret) < 4)
		return;
	for (i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			return;
	secrets = xreallocarray(secrets, nsecrets + 1, sizeof(*secrets));
	secrets[nsecrets++] = xstrdup(secret);
}

int
bm_redact_has(const char *s)
{
	size_t i;

	for (i = 0; s && i < nsecrets; i++)
		if (strstr(s, secrets[i]))
			return 1;
	return 0;
}

char *
bm_redact(const char *s)
{
	struct bm_buf b = BM_BUF_INIT;
	const char *p;
	size_t i, best;

	if (!bm_redact_has(s))
		return xstrdup(s ? s : "");
	while (*s) {
		/* The earliest, then longest, secret occurrence wins. */
		const char *hit = NULL;

		best = 0;
		for (i = 0; i < nsecrets; i++) {
			p = strstr(s, secrets[i]);
			if (p && (!hit || p < hit ||
			    (p == hit && strlen(secrets[i]) > best))) {
				hit = p;
				best = strlen(secrets[i]);
			}
		}
		if (!hit) {
			bm_buf_adds(&b, s);
			break;
		}
		bm_buf_add(&b, s, (size_t)(hit - s));
		bm_buf_adds(&b, "[REDACTED]");
		s = hit + best;
	}
	return bm_buf_detach(&b, NULL);
}
