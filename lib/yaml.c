/*
 * yaml.c: libyaml events to cJSON trees, one document per call, with a side
 * table of positions keyed on node pointers.
 *
 * The tree is built bottom-up from the event stream with an explicit stack,
 * so libyaml's unbounded nesting never turns into C recursion here; nesting
 * is still capped (MAX_DEPTH) because cJSON's own functions recurse.  Aliases
 * are copies; the copies a document makes are capped, in nodes (MAX_EXPAND)
 * and in bytes of text (MAX_EXPAND_BYTES), so that a "billion laughs" file,
 * or one that repeats a long string many times, fails fast instead of
 * eating the machine.
 *
 * libyaml's marks count characters, not bytes (a CRLF counts two), so byte
 * offsets for the document text are found by walking the UTF-8 input with a
 * cursor that only moves forward in the common case.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libyaml's header; ours is "yaml.h" (lib/ is an -iquote directory). */
#include <yaml.h>

#include "buf.h"
#include "map.h"
#include "suggest.h"
#include "xalloc.h"
#include "yaml.h"

#define MAX_DEPTH	1000		/* nesting levels */
#define MAX_EXPAND	1000000UL	/* nodes copied per document */
#define MAX_EXPAND_BYTES (16UL << 20)	/* text copied per document */

#define TAG_PREFIX	"tag:yaml.org,2002:"

/* A 1-based position; 32 bits keep the side table small. */
struct mark {
	uint32_t line, col;
};

struct pent {
	struct mark pos;	/* where the node starts */
	struct mark kpos;	/* where its key starts (mapping members) */
};

/* The side table: node address -> 1 + its index in ents. */
struct bm_yaml_pos {
	struct bm_map *map;	/* NULL until the first node */
	struct pent *ents;
	size_t n, cap;
	/*
	 * Nodes that left the tree (merge sources, anchored keys) but that
	 * anchors may still point into; freed with the document.
	 */
	cJSON *attic;
};

struct bm_yaml {
	yaml_parser_t p;
	const char *data;
	size_t len;
	char *name;
	int done;		/* stream end or syntax error seen */
	int index;		/* number of the next document */
	size_t next_start;	/* byte where an implicit document starts */
	long next_line;
	size_t ci, bi;		/* cursor: character ci is at byte bi */
	struct bm_error pending; /* syntax error to report on the next call */
	struct mark docmark;	/* where the last document began */
};

/* An anchor of the document being built (b->anc maps names to these). */
struct anchor {
	cJSON *node;		/* NULL while the node is being built */
	size_t count;		/* nodes in node's tree */
	size_t bytes;		/* bytes of text (strings, keys) in it */
	char *raw;		/* a scalar's text, for aliases used as keys */
};

struct frame {
	cJSON *node;
	int map;
	struct mark pos;
	char *key;		/* map: a key waiting for its value */
	struct mark kpos;
	int merge;		/* the waiting key is "<<" */
	cJSON *merges;		/* map: values of "<<" keys, in order */
	char *anchor;
	size_t count0;		/* b->nodes when the node started */
	size_t bytes0;		/* b->bytes when the node started */
};

struct build {
	struct bm_yaml *y;
	struct bm_yaml_pos *pos;
	struct frame *st;
	size_t depth, stcap;
	cJSON *root;
	struct bm_map *anc;	/* anchor name -> struct anchor; or NULL */
	/* Keys seen, for duplicate detection: mapping + key -> member. */
	struct bm_map *keys;
	struct bm_buf kbuf;	/* a key of keys being looked up */
	size_t nodes;		/* created, copies included */
	size_t expanded;	/* copied for aliases and merges */
	size_t bytes;		/* text in the nodes made, copies included */
	size_t copied;		/* of it, copied for aliases and merges */
	int failed;		/* a structure error is in e: skip to doc end */
	struct bm_error *e;
};

/* --- the position side table ---------------------------------------------- */

static struct pent *
pos_put(struct bm_yaml_pos *t, const cJSON *node, struct mark m)
{
	struct pent *s;
	size_t i;

	if (!t->map)
		t->map = bm_map_new();
	i = (size_t)(uintptr_t)bm_map_getn(t->map, (const char *)&node,
	    sizeof(node));
	if (i == 0) {
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 64;
			t->ents = xreallocarray(t->ents, t->cap,
			    sizeof(*t->ents));
		}
		i = ++t->n;
		bm_map_putn(t->map, (const char *)&node, sizeof(node),
		    (void *)(uintptr_t)i);
	}
	s = &t->ents[i - 1];
	s->pos = m;
	s->kpos = m;
	return s;
}

static const struct pent *
pos_get(const struct bm_yaml_pos *t, const cJSON *node)
{
	size_t i;

	if (!t || !t->map || !node)
		return NULL;
	i = (size_t)(uintptr_t)bm_map_getn(t->map, (const char *)&node,
	    sizeof(node));
	return i ? &t->ents[i - 1] : NULL;
}

static void
pos_free(struct bm_yaml_pos *t)
{
	if (!t)
		return;
	bm_map_free(t->map, NULL);
	free(t->ents);
	cJSON_Delete(t->attic);
	free(t);
}

/* --- anchors -------------------------------------------------------------- */

static void
anc_free(void *p)
{
	struct anchor *a = p;

	free(a->raw);
	free(a);
}

static struct anchor *
anc_get(struct build *b, const char *name)
{
	return b->anc ? bm_map_get(b->anc, name) : NULL;
}

/* Define (or redefine: the latest definition wins) an anchor. */
static struct anchor *
anc_put(struct build *b, const char *name)
{
	struct anchor *a;

	if (!b->anc)
		b->anc = bm_map_new();
	a = bm_map_get(b->anc, name);
	if (a) {
		free(a->raw);
	} else {
		a = xmalloc(sizeof(*a));
		bm_map_put(b->anc, name, a);
	}
	a->node = NULL;
	a->count = 0;
	a->raw = NULL;
	return a;
}

/* --- keys seen per mapping ------------------------------------------------ */

/* The table's key for key in the mapping obj: obj's address, then key. */
static const struct bm_buf *
key_of(struct build *b, const cJSON *obj, const char *key)
{
	bm_buf_reset(&b->kbuf);
	bm_buf_add(&b->kbuf, &obj, sizeof(obj));
	bm_buf_adds(&b->kbuf, key);
	return &b->kbuf;
}

static const cJSON *
key_get(struct build *b, const cJSON *obj, const char *key)
{
	const struct bm_buf *k;

	if (!b->keys)
		return NULL;
	k = key_of(b, obj, key);
	return bm_map_getn(b->keys, k->s, k->len);
}

/* Record member (whose ->string is its key) as a key of obj. */
static void
key_put(struct build *b, const cJSON *obj, const cJSON *member)
{
	const struct bm_buf *k = key_of(b, obj, member->string);

	if (!b->keys)
		b->keys = bm_map_new();
	bm_map_putn(b->keys, k->s, k->len, (void *)member);
}

/* --- byte offsets and positions ------------------------------------------- */

/* The byte offset of libyaml's character index ci. */
static size_t
byteoff(struct bm_yaml *y, size_t ci)
{
	const unsigned char *d = (const unsigned char *)y->data;
	uint64_t w;

	if (ci < y->ci)
		y->ci = y->bi = 0;
	/*
	 * Eight ASCII characters at a time: when the eight bytes after the
	 * cursor are all below 0x80, the next eight steps of the loop below
	 * would each move one byte and skip nothing.
	 */
	while (ci - y->ci >= 8 && y->len - y->bi >= 9) {
		memcpy(&w, d + y->bi + 1, sizeof(w));
		if (w & 0x8080808080808080ULL)
			break;
		y->bi += 8;
		y->ci += 8;
	}
	while (y->ci < ci && y->bi < y->len) {
		y->bi++;
		while (y->bi < y->len && (d[y->bi] & 0xc0) == 0x80)
			y->bi++;
		y->ci++;
	}
	return y->bi;
}

/* Length of the line break at d[i], as libyaml counts breaks, or 0. */
static size_t
linebreak(const unsigned char *d, size_t len, size_t i)
{
	if (d[i] == '\r')
		return i + 1 < len && d[i + 1] == '\n' ? 2 : 1;
	if (d[i] == '\n')
		return 1;
	if (d[i] == 0xc2 && i + 1 < len && d[i + 1] == 0x85)
		return 2;	/* NEL */
	if (d[i] == 0xe2 && i + 2 < len && d[i + 1] == 0x80 &&
	    (d[i + 2] == 0xa8 || d[i + 2] == 0xa9))
		return 3;	/* LS, PS */
	return 0;
}

/* The byte after the line break ending the line that holds byte i. */
static size_t
next_line(const struct bm_yaml *y, size_t i)
{
	const unsigned char *d = (const unsigned char *)y->data;
	size_t n;

	for (; i < y->len; i++)
		if ((n = linebreak(d, y->len, i)) > 0)
			return i + n;
	return y->len;
}

/* The first byte of the line that holds byte i. */
static size_t
line_start(const struct bm_yaml *y, size_t i)
{
	while (i > 0 && y->data[i - 1] != '\n' && y->data[i - 1] != '\r')
		i--;
	return i;
}

/* 1-based line and column of byte off, counting as libyaml does. */
static void
off_linecol(const struct bm_yaml *y, size_t off, long *line, long *col)
{
	const unsigned char *d = (const unsigned char *)y->data;
	size_t i, n;

	*line = *col = 1;
	if (off > y->len)
		off = y->len;
	for (i = 0; i < off; ) {
		if ((n = linebreak(d, y->len, i)) > 0) {
			++*line;
			*col = 1;
			i += n;
			continue;
		}
		if ((d[i] & 0xc0) != 0x80)
			++*col;
		i++;
	}
}

static uint32_t
clamp32(size_t v)
{
	return v >= UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static struct mark
mk(yaml_mark_t m)
{
	struct mark r = { clamp32(m.line + 1), clamp32(m.column + 1) };

	return r;
}

/* --- errors --------------------------------------------------------------- */

static void
syntax_error(struct bm_yaml *y, struct bm_error *e)
{
	yaml_parser_t *p = &y->p;
	const char *prob = p->problem ? p->problem : "syntax error";
	long line, col;
	struct bm_buf b = BM_BUF_INIT;
	unsigned char c;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		bm_error_set(e, y->name, 0, 0, "out of memory");
		return;
	case YAML_READER_ERROR:
		off_linecol(y, p->problem_offset, &line, &col);
		c = p->problem_offset < y->len ?
		    (unsigned char)y->data[p->problem_offset] : 0;
		if (strcmp(prob, "invalid leading UTF-8 octet") == 0)
			bm_error_set(e, y->name, line, col,
			    "invalid UTF-8: unexpected byte 0x%02x", c);
		else if (strcmp(prob, "invalid trailing UTF-8 octet") == 0)
			bm_error_set(e, y->name, line, col,
			    "invalid UTF-8: bad continuation byte");
		else if (strcmp(prob, "incomplete UTF-8 octet sequence") == 0)
			bm_error_set(e, y->name, line, col,
			    "invalid UTF-8: truncated sequence");
		else if (strcmp(prob, "invalid length of a UTF-8 sequence")
		    == 0)
			bm_error_set(e, y->name, line, col,
			    "invalid UTF-8: overlong sequence");
		else if (strcmp(prob, "invalid Unicode character") == 0)
			bm_error_set(e, y->name, line, col,
			    "invalid UTF-8: not a Unicode character");
		else if (strcmp(prob, "control characters are not allowed")
		    == 0 && p->problem_value == 0)
			bm_error_set(e, y->name, line, col,
			    "NUL byte is not allowed (binary file?)");
		else if (strcmp(prob, "control characters are not allowed")
		    == 0)
			bm_error_set(e, y->name, line, col,
			    "control character U+%04X is not allowed",
			    (unsigned)p->problem_value);
		else
			bm_error_set(e, y->name, line, col, "%s", prob);
		return;
	default:
		break;
	}
	/*
	 * At the end of the stream libyaml puts the mark on the line after a
	 * last line without a newline; say where the input really ends.
	 */
	if (byteoff(y, p->problem_mark.index) >= y->len)
		off_linecol(y, y->len, &line, &col);
	else {
		line = (long)p->problem_mark.line + 1;
		col = (long)p->problem_mark.column + 1;
	}
	bm_buf_adds(&b, prob);
	if (b.len > 0 && b.s[0] >= 'A' && b.s[0] <= 'Z' &&
	    !(b.len > 1 && b.s[1] >= 'A' && b.s[1] <= 'Z'))
		b.s[0] = (char)(b.s[0] - 'A' + 'a');
	if (p->context)
		bm_buf_addf(&b, " %s started at %lu:%lu", p->context,
		    (unsigned long)p->context_mark.line + 1,
		    (unsigned long)p->context_mark.column + 1);
	bm_error_set(e, y->name, line, col, "%s", bm_buf_str(&b));
	bm_buf_free(&b);
}

/* A structure error: the first one counts, the rest of the doc is skipped. */
static void
fail(struct build *b, struct mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct build *b, struct mark m, const char *fmt, ...)
{
	va_list ap;

	if (b->failed)
		return;
	b->failed = 1;
	va_start(ap, fmt);
	bm_error_vset(b->e, b->y->name, m.line, m.col, fmt, ap);
	va_end(ap);
}

/* --- scalars -------------------------------------------------------------- */

static int
oneof(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes",
	"YES", "on", "On", "ON", NULL };
static const char *const falses[] = { "false", "False", "FALSE", "no", "No",
	"NO", "off", "Off", "OFF", NULL };

static int
digit(int c, int base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return d < base ? d : -1;
}

/* s without its '_' separators, for strtod. */
static double
clean_strtod(const char *s, size_t n)
{
	struct bm_buf b = BM_BUF_INIT;
	double v;
	size_t i;

	bm_buf_grow(&b, n);
	for (i = 0; i < n; i++)
		if (s[i] != '_')
			bm_buf_addc(&b, s[i]);
	v = strtod(bm_buf_str(&b), NULL);
	bm_buf_free(&b);
	return v;
}

/*
 * YAML 1.1 ints as PyYAML resolves them, plus 0o octal from YAML 1.2:
 * [-+]?(0b[01_]+ | 0o[0-7_]+ | 0x[0-9a-fA-F_]+ | 0[0-7_]+ | 0 |
 * [1-9][0-9_]*).  Base 60 (1:30) is left a string: it surprises more
 * people than it helps.
 */
static int
parse_int(const char *s, size_t n, double *out)
{
	size_t i = 0, j;
	int neg = 0, base = 10, d;
	double v = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i >= n)
		return 0;
	if (s[i] == '0' && i + 1 < n) {
		switch (s[i + 1]) {
		case 'b':
			base = 2, i += 2;
			break;
		case 'o':
			base = 8, i += 2;
			break;
		case 'x':
			base = 16, i += 2;
			break;
		default:
			base = 8, i += 1;
			break;
		}
		if (i >= n)
			return 0;
	} else if (s[i] < '0' || s[i] > '9')
		return 0;
	for (j = i; j < n; j++) {
		if (s[j] == '_')
			continue;
		if ((d = digit((unsigned char)s[j], base)) < 0)
			return 0;
		v = v * base + d;
	}
	/*
	 * Decimal through strtod: exact up to 2^53, correctly rounded past.
	 * Up to 15 digits every step above was exact (below 10^15 < 2^53),
	 * so strtod would give the same value.
	 */
	if (base == 10 && n - i > 15)
		v = clean_strtod(s + i, n - i);
	*out = neg ? -v : v;
	return 1;
}

static int
isdig(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * Floats: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?, digits with an
 * exponent, [-+]?.inf and .nan in three casings.  PyYAML insists on a dot
 * and a signed exponent; "1e-3" is meant as a number, so this accepts it.
 */
static int
parse_float(const char *s, size_t n, double *out)
{
	size_t i = 0, start;
	int neg = 0, digits = 0, dot = 0, expo = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (n - i == 4 && (strncmp(s + i, ".inf", 4) == 0 ||
	    strncmp(s + i, ".Inf", 4) == 0 || strncmp(s + i, ".INF", 4) == 0)) {
		*out = neg ? -INFINITY : INFINITY;
		return 1;
	}
	if (n == 4 && (strncmp(s, ".nan", 4) == 0 ||
	    strncmp(s, ".NaN", 4) == 0 || strncmp(s, ".NAN", 4) == 0)) {
		*out = NAN;
		return 1;
	}
	start = i;
	if (i < n && isdig((unsigned char)s[i])) {
		digits = 1;
		while (i < n && (isdig((unsigned char)s[i]) || s[i] == '_'))
			i++;
	}
	if (i < n && s[i] == '.') {
		dot = 1;
		i++;
		/* ".5" needs a digit right after the dot; "1._5" is fine. */
		if (!digits && !(i < n && isdig((unsigned char)s[i])))
			return 0;
		while (i < n && (isdig((unsigned char)s[i]) || s[i] == '_'))
			i++;
		digits = 1;
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!(i < n && isdig((unsigned char)s[i])))
			return 0;
		while (i < n && isdig((unsigned char)s[i]))
			i++;
		expo = 1;
	}
	if (i != n || (!dot && !expo))
		return 0;
	*out = clean_strtod(s + start, n - start);
	if (neg)
		*out = -*out;
	return 1;
}

/* A plain scalar's value under the YAML 1.1 rules; NULL: a string. */
static cJSON *
resolve(const char *s, size_t n)
{
	double v;

	/* Most scalars are text: one test rules out every word below. */
	if (n <= 5 && strchr("~nNtTyYoOfF", s[0])) {
		if (oneof(s, nulls))
			return cJSON_CreateNull();
		if (oneof(s, trues))
			return cJSON_CreateTrue();
		if (oneof(s, falses))
			return cJSON_CreateFalse();
	}
	if (n > 0 && (isdig((unsigned char)s[0]) || strchr("-+.", s[0]))) {
		if (parse_int(s, n, &v) || parse_float(s, n, &v))
			return cJSON_CreateNumber(v);
	}
	return NULL;
}

/*
 * The event's text for the tree, freed with cJSON_free.  libyaml allocates
 * with malloc as cJSON does, so the string moves instead of being copied.
 */
static char *
take(yaml_event_t *ev)
{
	char *s = (char *)ev->data.scalar.value;

	ev->data.scalar.value = NULL;
	return s;
}

/* A string node that owns s. */
static cJSON *
string_node(char *s)
{
	cJSON *n = cJSON_CreateNull();

	if (!n)
		abort();	/* cJSON's malloc failed; xmalloc would exit */
	n->type = cJSON_String;
	n->valuestring = s;
	return n;
}

/* The node for a scalar event, or NULL after fail(). */
static cJSON *
scalar(struct build *b, yaml_event_t *ev, struct mark m)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t n = ev->data.scalar.length;
	cJSON *node;
	double v;

	if (memchr(s, '\0', n)) {
		fail(b, m, "NUL character in a string is not supported");
		return NULL;
	}
	if (tag && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
		tag += strlen(TAG_PREFIX);
		if (strcmp(tag, "str") == 0)
			return string_node(take(ev));
		if (strcmp(tag, "null") == 0)
			return cJSON_CreateNull();
		if (strcmp(tag, "bool") == 0) {
			if (oneof(s, trues))
				return cJSON_CreateTrue();
			if (oneof(s, falses))
				return cJSON_CreateFalse();
			fail(b, m, "invalid !!bool value '%s'", s);
			return NULL;
		}
		if (strcmp(tag, "int") == 0) {
			if (parse_int(s, n, &v))
				return cJSON_CreateNumber(v);
			fail(b, m, "invalid !!int value '%s'", s);
			return NULL;
		}
		if (strcmp(tag, "float") == 0) {
			if (parse_int(s, n, &v) || parse_float(s, n, &v))
				return cJSON_CreateNumber(v);
			fail(b, m, "invalid !!float value '%s'", s);
			return NULL;
		}
	} else if (tag && strcmp(tag, "!") == 0)
		return string_node(take(ev));	/* non-specific: a string */
	/* Other tags are not ours to interpret: the value stands as written. */
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (node = resolve(s, n)) != NULL)
		return node;
	return string_node(take(ev));
}

/* --- tree building -------------------------------------------------------- */

/* Copy src, with every copied node at m, or at its source's place when NULL. */
static cJSON *
dup_tree(struct build *b, const cJSON *src, const struct mark *m)
{
	const struct pent *pe;
	struct pent *ne, old;
	cJSON *d, *c;
	const cJSON *s;
	size_t n;

	if (cJSON_IsObject(src))
		d = cJSON_CreateObject();
	else if (cJSON_IsArray(src))
		d = cJSON_CreateArray();
	else
		d = cJSON_Duplicate(src, 0);
	if (!d)
		abort();	/* cJSON's malloc failed; xmalloc would exit */
	b->nodes++;
	b->expanded++;
	n = (cJSON_IsString(src) ? strlen(src->valuestring) : 0) +
	    (src->string ? strlen(src->string) : 0);
	b->bytes += n;
	b->copied += n;
	if (!m && (pe = pos_get(b->pos, src)) != NULL) {
		/* Copy first: pos_put may move the table. */
		old = *pe;
		ne = pos_put(b->pos, d, old.pos);
		ne->kpos = old.kpos;
	} else
		pos_put(b->pos, d, m ? *m : (struct mark){ 0, 0 });
	if (cJSON_IsObject(src) || cJSON_IsArray(src)) {
		for (s = src->child; s; s = s->next) {
			c = dup_tree(b, s, m);
			if (cJSON_IsObject(src))
				cJSON_AddItemToObject(d, s->string, c);
			else
				cJSON_AddItemToArray(d, c);
		}
	}
	return d;
}

static void
to_attic(struct build *b, cJSON *node)
{
	if (!b->pos->attic)
		b->pos->attic = cJSON_CreateArray();
	cJSON_AddItemToArray(b->pos->attic, node);
}

/* Place a finished node (owned by us) into its parent or as the root. */
static void
attach(struct build *b, cJSON *node, struct mark m)
{
	struct frame *f;
	struct pent *pe;
	const cJSON *c = NULL;

	pe = pos_put(b->pos, node, m);
	if (b->depth == 0) {
		if (b->root)
			cJSON_Delete(b->root);	/* cannot happen: one root */
		b->root = node;
		return;
	}
	f = &b->st[b->depth - 1];
	if (!f->map) {
		cJSON_AddItemToArray(f->node, node);
		return;
	}
	pe->kpos = f->kpos;
	if (f->merge) {
		f->merge = 0;
		cJSON_free(f->key);
		f->key = NULL;
		if (!f->merges)
			f->merges = cJSON_CreateArray();
		cJSON_AddItemToArray(f->merges, node);
		if (cJSON_IsArray(node)) {
			for (c = node->child; c; c = c->next)
				if (!cJSON_IsObject(c))
					break;
		}
		if (!cJSON_IsObject(node) && !(cJSON_IsArray(node) && !c))
			fail(b, m, "expected a mapping or list of mappings "
			    "for merging");
		return;
	}
	/*
	 * cJSON_AddItemToObject would copy the key and we would free ours:
	 * hand it over instead (take() allocated it as cJSON would).
	 */
	if (node->string && !(node->type & cJSON_StringIsConst))
		cJSON_free(node->string);
	node->string = f->key;
	node->type &= ~cJSON_StringIsConst;
	f->key = NULL;
	cJSON_AddItemToArray(f->node, node);
	key_put(b, f->node, node);
}

/*
 * A key scalar (key: ours, freed with cJSON_free): checked for duplicates,
 * then waits.
 */
static void
set_key(struct build *b, struct frame *f, char *key, int merge,
    struct mark m)
{
	const cJSON *first;
	const struct pent *pe;

	if (merge) {
		f->merge = 1;
	} else if ((first = key_get(b, f->node, key)) != NULL) {
		pe = pos_get(b->pos, first);
		fail(b, m, "duplicate key '%s' (first at %lu:%lu)", key,
		    pe ? (unsigned long)pe->kpos.line : 0UL,
		    pe ? (unsigned long)pe->kpos.col : 0UL);
		cJSON_free(key);
		return;
	}
	f->key = key;
	f->kpos = m;
}

static void
push(struct build *b, cJSON *node, int map, struct mark m, const char *anchor)
{
	struct frame *f;

	if (b->depth == b->stcap) {
		b->stcap = b->stcap ? b->stcap * 2 : 16;
		b->st = xreallocarray(b->st, b->stcap, sizeof(*b->st));
	}
	f = &b->st[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node;
	f->map = map;
	f->pos = m;
	f->count0 = b->nodes;
	f->bytes0 = b->bytes;
	b->nodes++;
	if (anchor) {
		f->anchor = xstrdup(anchor);
		anc_put(b, anchor);	/* busy until the node ends */
	}
}

/* Merge keys: the mapping's own keys win, then earlier sources. */
static void
apply_merges(struct build *b, struct frame *f)
{
	cJSON *tmp, *src, *one, *c, *first, *ownlast;
	const cJSON *m;
	int list;

	tmp = cJSON_CreateObject();
	for (src = f->merges->child; src; src = src->next) {
		list = cJSON_IsArray(src);
		for (one = list ? src->child : src; one;
		    one = list ? one->next : NULL) {
			for (m = one->child; m; m = m->next) {
				/* Own keys and earlier merges are in there. */
				if (key_get(b, f->node, m->string))
					continue;
				if (b->expanded >= MAX_EXPAND) {
					fail(b, f->pos, "alias expansion "
					    "limit exceeded");
					cJSON_Delete(tmp);
					return;
				}
				if (b->copied >= MAX_EXPAND_BYTES) {
					fail(b, f->pos, "alias expansion "
					    "larger than %lu bytes",
					    MAX_EXPAND_BYTES);
					cJSON_Delete(tmp);
					return;
				}
				c = dup_tree(b, m, NULL);
				cJSON_AddItemToObject(tmp, m->string, c);
				key_put(b, f->node, c);
			}
		}
	}
	/* Merged keys come first, as in PyYAML's flattened mapping. */
	first = tmp->child;
	if (first) {
		if (f->node->child) {
			ownlast = f->node->child->prev;
			first->prev->next = f->node->child;
			f->node->child->prev = first->prev;
			first->prev = ownlast;
		}
		f->node->child = first;
		tmp->child = NULL;
	}
	cJSON_Delete(tmp);
}

static void
pop(struct build *b)
{
	struct frame f = b->st[--b->depth];
	struct anchor *a;

	if (f.merges) {
		if (!b->failed)
			apply_merges(b, &f);
		to_attic(b, f.merges);
	}
	cJSON_free(f.key);
	if (f.anchor) {
		a = anc_get(b, f.anchor);
		a->node = f.node;
		a->count = b->nodes - f.count0;
		a->bytes = b->bytes - f.bytes0;
		free(f.anchor);
	}
	attach(b, f.node, f.pos);
}

static void
alias(struct build *b, const char *name, struct mark m)
{
	struct anchor *a = anc_get(b, name);
	struct frame *f = b->depth ? &b->st[b->depth - 1] : NULL;
	cJSON *c;

	if (!a) {
		fail(b, m, "found undefined alias '%s'", name);
		return;
	}
	if (!a->node) {
		fail(b, m, "found recursive alias '%s'", name);
		return;
	}
	if (f && f->map && !f->key && !f->merge) {
		if (!a->raw) {
			fail(b, m, "mapping key must be a scalar");
			return;
		}
		set_key(b, f, xstrdup(a->raw), 0, m);
		return;
	}
	if (a->count > MAX_EXPAND - b->expanded) {
		fail(b, m, "alias expansion limit exceeded");
		return;
	}
	if (a->bytes > MAX_EXPAND_BYTES - b->copied) {
		fail(b, m, "alias expansion larger than %lu bytes",
		    MAX_EXPAND_BYTES);
		return;
	}
	c = dup_tree(b, a->node, &m);
	attach(b, c, m);
}

/*
 * The node stack of the last document, for the next one: allocated afresh
 * per document, it is large enough to make malloc consolidate its free
 * lists each time.  Kept only when of the usual size.
 */
static __thread struct {
	struct frame *st;
	size_t stcap;
} spare;

#define SPARE_MAX	1024

static void
build_init(struct build *b)
{
	memset(b, 0, sizeof(*b));
	b->st = spare.st;
	b->stcap = spare.stcap;
	memset(&spare, 0, sizeof(spare));
}

static void
build_free(struct build *b)
{
	while (b->depth > 0) {
		b->depth--;
		cJSON_Delete(b->st[b->depth].node);
		cJSON_Delete(b->st[b->depth].merges);
		cJSON_free(b->st[b->depth].key);
		free(b->st[b->depth].anchor);
	}
	bm_map_free(b->anc, anc_free);
	bm_map_free(b->keys, NULL);
	bm_buf_free(&b->kbuf);
	if (!spare.st && b->stcap <= SPARE_MAX) {
		spare.st = b->st;
		spare.stcap = b->stcap;
		return;
	}
	free(b->st);
}

/* Handle one node event of the document being built. */
static void
node_event(struct build *b, yaml_event_t *ev)
{
	struct mark m = mk(ev->start_mark);
	struct frame *f = b->depth ? &b->st[b->depth - 1] : NULL;
	const char *anchor = NULL, *s;
	struct anchor *a;
	cJSON *node;
	char *raw;
	int iskey = f && f->map && !f->key && !f->merge, merge;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		alias(b, (const char *)ev->data.alias.anchor, m);
		return;
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		s = (const char *)ev->data.scalar.value;
		if (iskey && !anchor && !ev->data.scalar.tag) {
			/*
			 * A plain key needs no node: only its text is kept.
			 * The one check scalar() would make is for NUL.
			 */
			if (memchr(s, '\0', ev->data.scalar.length)) {
				fail(b, m, "NUL character in a string is not "
				    "supported");
				return;
			}
			b->nodes++;
			b->bytes += ev->data.scalar.length;
			merge = ev->data.scalar.style ==
			    YAML_PLAIN_SCALAR_STYLE && strcmp(s, "<<") == 0;
			set_key(b, f, take(ev), merge, m);
			return;
		}
		/* scalar() may take the text: copy it for a key or anchor. */
		merge = iskey && !ev->data.scalar.tag &&
		    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp(s, "<<") == 0;
		raw = anchor || iskey ? xstrdup(s) : NULL;
		if (!(node = scalar(b, ev, m))) {
			free(raw);
			return;
		}
		b->nodes++;
		b->bytes += ev->data.scalar.length;
		if (anchor) {
			a = anc_put(b, anchor);
			a->node = node;
			a->count = 1;
			a->bytes = ev->data.scalar.length;
			a->raw = iskey ? xstrdup(raw) : raw;
		}
		if (!iskey) {
			attach(b, node, m);
			return;
		}
		set_key(b, f, raw, merge, m);
		if (anchor) {
			pos_put(b->pos, node, m);
			to_attic(b, node);
		} else
			cJSON_Delete(node);
		return;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (iskey) {
			fail(b, m, "mapping key must be a scalar");
			return;
		}
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			anchor = (const char *)ev->data.sequence_start.anchor;
			push(b, cJSON_CreateArray(), 0, m, anchor);
		} else {
			anchor = (const char *)ev->data.mapping_start.anchor;
			push(b, cJSON_CreateObject(), 1, m, anchor);
		}
		return;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		pop(b);
		return;
	default:
		return;
	}
}

/* --- documents ------------------------------------------------------------ */

struct bm_yaml *
bm_yaml_open(const char *data, size_t len, const char *name)
{
	struct bm_yaml *y = xcalloc(1, sizeof(*y));

	if (!yaml_parser_initialize(&y->p))
		abort();	/* only on malloc failure */
	/* No UTF-16 guessing: byte offsets must mean UTF-8 characters. */
	yaml_parser_set_encoding(&y->p, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&y->p, (const unsigned char *)data, len);
	y->data = data;
	y->len = len;
	y->name = xstrdup(name ? name : "<input>");
	y->next_line = 1;
	return y;
}

void
bm_yaml_close(struct bm_yaml *y)
{
	if (!y)
		return;
	yaml_parser_delete(&y->p);
	bm_error_clear(&y->pending);
	free(y->name);
	free(y);
}

void
bm_yaml_doc_free(struct bm_yaml_doc *doc)
{
	if (!doc)
		return;
	cJSON_Delete(doc->root);
	pos_free(doc->pos);
	free(doc);
}

/*
 * Read the events of one document (its DOCUMENT-START already read) into
 * *doc.  1, or -1 with e set; the parser is left after the document's end
 * unless a syntax error stopped it.
 */
static int
read_doc(struct bm_yaml *y, yaml_event_t *start, struct bm_yaml_doc **doc,
    struct bm_error *e)
{
	struct build b;
	struct bm_yaml_doc *d;
	yaml_event_t ev;
	size_t text, end, marker_line = 0;
	long line;
	int explicit = !start->data.document_start.implicit, first = 1;
	int rc = -1, level = 0;

	build_init(&b);
	b.y = y;
	b.e = e;
	b.pos = xcalloc(1, sizeof(*b.pos));
	if (explicit) {
		marker_line = start->end_mark.line;
		text = next_line(y, byteoff(y, start->end_mark.index));
		line = (long)marker_line + 2;
	} else {
		text = y->next_start;
		line = y->next_line;
	}
	for (;;) {
		if (!yaml_parser_parse(&y->p, &ev)) {
			y->done = 1;
			syntax_error(y, b.failed ? &y->pending : e);
			goto out;
		}
		if (ev.type == YAML_DOCUMENT_END_EVENT)
			break;
		if (first && explicit && ev.start_mark.line == marker_line) {
			/* "--- |" and the like: the root is on the marker. */
			text = byteoff(y, ev.start_mark.index);
			line = (long)marker_line + 1;
		}
		first = 0;
		if (ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT) {
			/*
			 * libyaml's scanner does work proportional to the
			 * flow depth for every token: stop the stream here
			 * rather than skip to the end of the document.
			 */
			if (++level > MAX_DEPTH) {
				fail(&b, mk(ev.start_mark), "nesting too deep "
				    "(more than %d levels)", MAX_DEPTH);
				yaml_event_delete(&ev);
				y->done = 1;
				goto out;
			}
		} else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT)
			level--;
		if (!b.failed)
			node_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	if (ev.data.document_end.implicit) {
		end = byteoff(y, ev.start_mark.index);
		end = end >= y->len ? y->len : line_start(y, end);
	} else {
		end = byteoff(y, ev.start_mark.index);
		y->next_start = next_line(y, byteoff(y, ev.end_mark.index));
		y->next_line = (long)ev.end_mark.line + 2;
	}
	yaml_event_delete(&ev);
	if (b.failed)
		goto out;
	if (end < text)
		end = text;
	d = xcalloc(1, sizeof(*d));
	d->root = b.root ? b.root : cJSON_CreateNull();
	b.root = NULL;
	d->index = y->index;
	d->text = y->data + text;
	d->text_len = end - text;
	d->line = line;
	d->pos = b.pos;
	if (!pos_get(d->pos, d->root))
		pos_put(d->pos, d->root, (struct mark){ clamp32(line), 1 });
	b.pos = NULL;
	*doc = d;
	rc = 1;
out:
	y->index++;
	cJSON_Delete(b.root);
	pos_free(b.pos);
	build_free(&b);
	return rc;
}

int
bm_yaml_next(struct bm_yaml *y, struct bm_yaml_doc **doc, struct bm_error *e)
{
	yaml_event_t ev;
	int rc;

	*doc = NULL;
	if (y->pending.msg) {
		bm_error_set(e, y->pending.file, y->pending.line,
		    y->pending.col, "%s", y->pending.msg);
		bm_error_clear(&y->pending);
		return -1;
	}
	while (!y->done) {
		if (!yaml_parser_parse(&y->p, &ev)) {
			y->done = 1;
			syntax_error(y, e);
			return -1;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			y->done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			y->docmark = mk(ev.start_mark);
			rc = read_doc(y, &ev, doc, e);
			yaml_event_delete(&ev);
			return rc;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	return 0;
}

/* --- lookups and messages ------------------------------------------------- */

int
bm_yaml_where(const struct bm_yaml_doc *doc, const cJSON *node, int key,
    long *line, long *col)
{
	const struct pent *pe = doc ? pos_get(doc->pos, node) : NULL;

	*line = *col = 0;
	if (!pe)
		return -1;
	*line = key ? pe->kpos.line : pe->pos.line;
	*col = key ? pe->kpos.col : pe->pos.col;
	return 0;
}

int
bm_yaml_verror(struct bm_error *e, const struct bm_yaml_doc *doc,
    const char *name, const cJSON *node, int key, const char *fmt,
    va_list ap)
{
	struct bm_buf b = BM_BUF_INIT;
	long line, col;

	/* Formatted first: an argument may be e's own message. */
	bm_buf_vaddf(&b, fmt, ap);
	if (bm_yaml_where(doc, node, key, &line, &col) < 0 && doc && node) {
		line = doc->line;
		col = 1;
	}
	bm_error_set(e, name, line, col, "%s", bm_buf_str(&b));
	bm_buf_free(&b);
	return -1;
}

int
bm_yaml_error(struct bm_error *e, const struct bm_yaml_doc *doc,
    const char *name, const cJSON *node, int key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bm_yaml_verror(e, doc, name, node, key, fmt, ap);
	va_end(ap);
	return -1;
}

int
bm_yaml_check_keys(const struct bm_yaml_doc *doc, const char *name,
    const cJSON *obj, const char *const *allowed, struct bm_error *e)
{
	const cJSON *c;
	char *hint;

	if (!cJSON_IsObject(obj))
		return 0;
	for (c = obj->child; c; c = c->next) {
		if (oneof(c->string, allowed))
			continue;
		hint = bm_suggest_hint(c->string, allowed);
		bm_yaml_error(e, doc, name, c, 1, "unknown key '%s'%s",
		    c->string, hint);
		free(hint);
		return -1;
	}
	return 0;
}

/* The whole of fd into a NUL-terminated buffer. */
static int
slurp(int fd, char **out, size_t *lenp)
{
	struct stat st;
	size_t cap = 8192, len = 0;
	char *p;
	ssize_t n;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0)
		cap = (size_t)st.st_size + 1;
	p = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			p = xrealloc(p, cap + 1);
		}
		n = read(fd, p + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(p);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	p[len] = '\0';
	*out = p;
	*lenp = len;
	return 0;
}

struct bm_yaml_doc *
bm_yaml_load_file(const char *path, char **data, struct bm_error *e)
{
	struct bm_yaml *y = NULL;
	struct bm_yaml_doc *doc = NULL, *second = NULL;
	char *buf = NULL;
	size_t len;
	int fd, rc;

	*data = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return NULL;
	}
	if (slurp(fd, &buf, &len) < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	close(fd);
	y = bm_yaml_open(buf, len, path);
	rc = bm_yaml_next(y, &doc, e);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		doc = xcalloc(1, sizeof(*doc));
		doc->root = cJSON_CreateNull();
		doc->text = buf;
		doc->text_len = len;
		doc->line = 1;
		doc->pos = xcalloc(1, sizeof(*doc->pos));
		pos_put(doc->pos, doc->root, (struct mark){ 1, 1 });
	} else {
		rc = bm_yaml_next(y, &second, e);
		if (rc < 0)
			goto fail;
		if (rc > 0) {
			bm_error_set(e, path, y->docmark.line, y->docmark.col,
			    "expected one document, found a second");
			goto fail;
		}
	}
	bm_yaml_close(y);
	*data = buf;
	return doc;
fail:
	bm_yaml_doc_free(second);
	bm_yaml_doc_free(doc);
	bm_yaml_close(y);
	free(buf);
	return NULL;
}
