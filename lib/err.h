/*
 * err.h: the one error path.  Library functions fill a struct bm_error and
 * return -1 or NULL; commands print it as "prog: file:line:col: message".
 * Registered secrets are replaced by "[REDACTED]" in everything printed here.
 */
#ifndef BM_ERR_H
#define BM_ERR_H

#include <stdarg.h>

struct bm_error {
	char *msg;	/* NULL when no error is set */
	char *file;	/* subject: a path, "<stdin>", a URL; may be NULL */
	long line;	/* 1-based; 0 when unknown */
	long col;	/* 1-based; 0 when unknown */
};

#define BM_ERROR_INIT { NULL, NULL, 0, 0 }

/* Verbosity: -1 with -q, 0 by default, 1 or more with -v. */
extern int bm_verbosity;

/* Set the program name used as the prefix of every message. */
void bm_err_init(const char *argv0);
/* The program name ("bm-exec"). */
const char *bm_prog(void);

/* Fill e (replacing what it held) with a message about file:line:col. */
void bm_error_set(struct bm_error *e, const char *file, long line, long col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Like bm_error_set with a va_list. */
void bm_error_vset(struct bm_error *e, const char *file, long line, long col,
    const char *fmt, va_list ap);
/* Prefix the message with "what: " (adds context as an error travels up). */
void bm_error_prefix(struct bm_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Free what e holds and reset it. */
void bm_error_clear(struct bm_error *e);
/* The error as "file:line:col: message" (static storage until next call). */
const char *bm_error_str(const struct bm_error *e);

/* Print "prog: file:line:col: message" to stderr, always. */
void bm_error_print(const struct bm_error *e);
/* Print "prog: message" to stderr, always (errors are not hidden by -q). */
void bm_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: warning: message" unless -q. */
void bm_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: message" unless -q (summaries, the run id). */
void bm_notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: message" only with -v (level 1) or -vv (level 2). */
void bm_debugf(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* bm_errorf, then exit with the given status (commands only). */
void bm_die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Never print this value again: messages show "[REDACTED]" in its place. */
void bm_redact_add(const char *secret);
/* A copy of s with every registered secret replaced (caller frees). */
char *bm_redact(const char *s);
/* Non-zero when s contains a registered secret. */
int bm_redact_has(const char *s);

/* Non-zero when colour may be used on fd (a terminal, NO_COLOR unset). */
int bm_color(int fd);

#endif
