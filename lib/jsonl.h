/*
 * jsonl.h: JSON lines in and out.  Lines may be any length; each input line
 * is numbered for messages ("<stdin>:57: ...").  Output is one compact
 * record per line, flushed per record unless the stream is a regular file.
 */
#ifndef BM_JSONL_H
#define BM_JSONL_H

#include <stdio.h>
#include <sys/types.h>

#include <cJSON.h>

#include "buf.h"
#include "err.h"

struct bm_jsonl {
	FILE *f;
	char *name;	/* "<stdin>" or the path, for messages */
	long lineno;	/* number of the line last read, 1-based */
	char *line;	/* getline buffer */
	size_t cap;
	ssize_t len;	/* length of the line last read, without newline */
};

/* Read from f, called name in messages ("-" or NULL means "<stdin>"). */
void bm_jsonl_open(struct bm_jsonl *r, FILE *f, const char *name);
/*
 * The next record: 1 with *out a JSON object (caller frees), 0 at end of
 * input, -1 when the line is not a JSON object (e names name:line; the
 * caller may call again to go on with the next line).  Blank lines are
 * skipped.  A read error is -1 with *out NULL and then 0.
 */
int bm_jsonl_next(struct bm_jsonl *r, cJSON **out, struct bm_error *e);
/* Is s[0..n) only JSON white space: a blank line, which readers skip? */
int bm_jsonl_blank(const char *s, size_t n);
/*
 * One line (len bytes, line[len] must be NUL) as bm_jsonl_next takes it:
 * 1 with *out a JSON object (caller frees), or -1 with e naming
 * name:lineno -- for lines read some other way (bm-exec's event loop).
 */
int bm_jsonl_parse(const char *line, size_t len, const char *name,
    long lineno, cJSON **out, struct bm_error *e);
/* Free the reader's memory (does not close f). */
void bm_jsonl_close(struct bm_jsonl *r);

/* The string value of rec's "type", or NULL. */
const char *bm_jsonl_type(const cJSON *rec);

/* o's member k when it is a string, else NULL (also when o is NULL). */
const char *bm_json_str(const cJSON *o, const char *k);
/* o's member k when it is a number: 1 and *out; else 0, *out untouched. */
int bm_json_num(const cJSON *o, const char *k, double *out);
/* o's member k when it is a number, else dflt. */
double bm_json_numor(const cJSON *o, const char *k, double dflt);

/*
 * Compact JSON, byte for byte what cJSON_PrintUnformatted prints, with
 * fewer allocations and no sscanf round trip per number.
 */
void bm_json_put(struct bm_buf *o, const cJSON *node);
/* Writes string value s (escaped: bm_json_put_str) as it sees fit. */
typedef void bm_json_str_fn(struct bm_buf *o, const char *s, void *arg);
/* bm_json_put, with every string value (not the keys) written by str. */
void bm_json_put_with(struct bm_buf *o, const cJSON *node,
    bm_json_str_fn *str, void *arg);
/* s (NULL: "") as a JSON string, escaped as cJSON escapes. */
void bm_json_put_str(struct bm_buf *o, const char *s);
/* v as a JSON number. */
void bm_json_put_long(struct bm_buf *o, long v);
/* node as compact JSON in a new string, as bm_json_put prints it. */
char *bm_json_print(const cJSON *node);

/* Write rec as one line; 0, or -1 on a write error (errno set). */
int bm_jsonl_write(FILE *f, const cJSON *rec);
/* Write an already printed record (no newline in it) as one line. */
int bm_jsonl_write_raw(FILE *f, const char *json, size_t len);
/* Flush and check f at exit: 0, or -1 when anything failed to be written. */
int bm_jsonl_finish(FILE *f);

/*
 * Object o's members named keys[0], keys[1], ... (NULL-ended) in one
 * pass: f[i] the first member named keys[i], else NULL (as
 * cJSON_GetObjectItemCaseSensitive finds them, for many keys at once).
 */
void bm_json_index(const cJSON *o, const char *const *keys, const cJSON **f);
/*
 * bm_json_put_str of s, n bytes long (s[n] is its NUL), faster: a string
 * with nothing to escape (most) is found 8 bytes at a time and copied.
 */
void bm_json_put_strn(struct bm_buf *o, const char *s, size_t n);

#endif
