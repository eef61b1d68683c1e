/*
 * yaml.h: YAML (libyaml) to cJSON trees, one document at a time, keeping
 * each node's position in a side table (cJSON has no room for it) so that
 * messages can say file:line:col.  Plain scalars are typed as YAML 1.1 does
 * (null ~, bools true/false/yes/no/on/off, ints incl. 0x/0o, floats incl.
 * .inf/.nan); quoted and block scalars are always strings.  Aliases are
 * resolved by copying; duplicate keys are an error.
 */
#ifndef BM_YAML_H
#define BM_YAML_H

#include <stdarg.h>
#include <stddef.h>

#include <cJSON.h>

#include "err.h"

struct bm_yaml;		/* a stream of documents over one buffer */

struct bm_yaml_doc {
	cJSON *root;		/* the document's value (mapping, list, ...) */
	int index;		/* 0-based document number in the stream */
	const char *text;	/* the document's bytes in the input buffer, */
	size_t text_len;	/*   without its ---/... marker lines */
	long line;		/* 1-based line where the document starts */
	struct bm_yaml_pos *pos; /* side table: node -> position (private) */
};

/*
 * Start reading data[0..len) (not copied: keep it alive while reading),
 * called name in messages.
 */
struct bm_yaml *bm_yaml_open(const char *data, size_t len, const char *name);
/*
 * The next document: 1 and *doc (free with bm_yaml_doc_free), 0 at the end,
 * -1 with e set to name:line:col on a syntax or structure error.  After a
 * syntax error the stream cannot go on (the next call returns 0); after a
 * structure error inside one document (duplicate key, alias limit) the
 * next call goes on with the following document when libyaml can.
 */
int bm_yaml_next(struct bm_yaml *y, struct bm_yaml_doc **doc,
    struct bm_error *e);
/* Free a stream (its documents stay valid). */
void bm_yaml_close(struct bm_yaml *y);
/* Free a document and its side table. */
void bm_yaml_doc_free(struct bm_yaml_doc *doc);

/*
 * Where node (any node of doc's tree) starts: 1-based line and column.
 * With key set and node a mapping member, where its key starts instead.
 * 0 when found, -1 (and 0:0) when the node is not in the table.
 */
int bm_yaml_where(const struct bm_yaml_doc *doc, const cJSON *node, int key,
    long *line, long *col);
/*
 * The one "error at this node": set e to "name:line:col: message" where
 * node starts (where its key starts when key), at the document's first
 * line when node is not in doc's table (a copy), without a position when
 * node is NULL.  The arguments may include e's own
 * message.  Returns -1, for "return bm_yaml_error(...)".
 */
int bm_yaml_error(struct bm_error *e, const struct bm_yaml_doc *doc,
    const char *name, const cJSON *node, int key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* bm_yaml_error with a va_list. */
int bm_yaml_verror(struct bm_error *e, const struct bm_yaml_doc *doc,
    const char *name, const cJSON *node, int key, const char *fmt,
    va_list ap) __attribute__((format(printf, 6, 0)));

/*
 * Check that every key of the mapping obj is one of allowed (NULL-ended).
 * 0, or -1 with e at the first unknown key:
 * "unknown key 'promt' (did you mean 'prompt'?)".
 */
int bm_yaml_check_keys(const struct bm_yaml_doc *doc, const char *name,
    const cJSON *obj, const char *const *allowed, struct bm_error *e);

/* Parse a whole file into one document (config files): NULL and e on error. */
struct bm_yaml_doc *bm_yaml_load_file(const char *path, char **data,
    struct bm_error *e);

#endif
