/* hash.c: MD5/SHA-256 through OpenSSL EVP, and bm's identity rules. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "err.h"
#include "hash.h"
#include "jsonl.h"
#include "xalloc.h"

/*
 * Each algorithm is fetched once and keeps a context of its own, re-armed
 * with EVP_DigestInit_ex2(ctx, NULL): fetching, or switching one context
 * between algorithms, costs more than hashing a small prompt.
 */
struct algo {
	const char *name;
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static struct algo md5 = { "MD5", NULL, NULL };
static struct algo sha256 = { "SHA256", NULL, NULL };

static void
hex(const unsigned char *d, unsigned n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void
bm_hash_only(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_NO_ATEXIT, NULL);
}

static void
digest(struct algo *a, const void *p, size_t n, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int ok;

	if (!a->ctx) {
		a->md = EVP_MD_fetch(NULL, a->name, NULL);
		a->ctx = EVP_MD_CTX_new();
		ok = a->md && a->ctx && EVP_DigestInit_ex2(a->ctx, a->md, NULL);
	} else {
		ok = EVP_DigestInit_ex2(a->ctx, NULL, NULL);
	}
	if (!ok || !EVP_DigestUpdate(a->ctx, p, n) ||
	    !EVP_DigestFinal_ex(a->ctx, d, &len)) {
		/* Only allocation failure or a broken libcrypto. */
		fprintf(stderr, "%s: libcrypto: %s digest failed\n",
		    bm_prog(), a->name);
		abort();
	}
	hex(d, len, out);
}

void
bm_hash_md5(const void *p, size_t n, char out[BM_HASH_MD5_LEN + 1])
{
	digest(&md5, p, n, out);
}

void
bm_hash_sha256(const void *p, size_t n, char out[BM_HASH_SHA256_LEN + 1])
{
	digest(&sha256, p, n, out);
}

/* --- the benchmark rules: what makes the prompt ------------------------- */

struct walk {
	int strict;		/* also the rules that leave the id alone */
	bm_hash_problem_fn *fn;
	void *arg;
	size_t problems;
	const char *variant;	/* the variant being walked, for messages */
};

static void
problem(struct walk *w, const cJSON *node, int key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(struct walk *w, const cJSON *node, int key, const char *fmt, ...)
{
	struct bm_buf b = BM_BUF_INIT;
	va_list ap;

	if (w->variant)
		bm_buf_addf(&b, "variant '%s': ", w->variant);
	va_start(ap, fmt);
	bm_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	w->fn(w->arg, node, key, bm_buf_str(&b));
	w->problems++;
	bm_buf_free(&b);
}

static const cJSON *
get(const cJSON *m, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(m, key);
}

/* A sequence: each step a string or a mapping with a string prompt. */
static void
walk_sequence(struct walk *w, const cJSON *seq, struct bm_buf *out)
{
	const cJSON *step, *p;
	int first = 1;

	if (!cJSON_IsArray(seq) || !seq->child) {
		problem(w, seq, 0, "sequence: expected a list of steps");
		return;
	}
	cJSON_ArrayForEach(step, seq) {
		p = cJSON_IsString(step) ? step : cJSON_IsObject(step) ?
		    get(step, "prompt") : NULL;
		if (!cJSON_IsString(p)) {
			problem(w, p ? p : step, 0,
			    "sequence step: prompt must be a string");
			continue;
		}
		if (out && !first)
			bm_buf_addc(out, 0x1e);
		if (out)
			bm_buf_adds(out, p->valuestring);
		first = 0;
	}
}

static void walk_variants(struct walk *, const cJSON *, int,
    struct bm_buf *);

/*
 * A mapping that bears a prompt: the document (top) or a variant, which
 * may lack one when the document has it (inherited).
 */
static void
walk_mapping(struct walk *w, const cJSON *m, int top, int inherited,
    struct bm_buf *out)
{
	const cJSON *p = get(m, "prompt"), *seq = get(m, "sequence");
	const cJSON *vs = top ? get(m, "variants") : NULL;

	if (p && !cJSON_IsString(p))
		problem(w, p, 0, "prompt: expected a string");
	else if (p && out)
		bm_buf_adds(out, p->valuestring);
	if (seq && (w->strict || !p))
		walk_sequence(w, seq, p ? NULL : out);
	if (p && seq && w->strict)
		problem(w, seq, 1, "give prompt or sequence, not both");
	if (vs && (w->strict || (!p && !seq)))
		walk_variants(w, vs, p || seq, p || seq ? NULL : out);
	if (!p && !seq && !vs && !inherited)
		problem(w, m, !top, top ? "no prompt: give prompt, sequence "
		    "or variants" : "no prompt or sequence");
}

/* Variants: each one's canonical prompt, in written order. */
static void
walk_variants(struct walk *w, const cJSON *vs, int inherited,
    struct bm_buf *out)
{
	const cJSON *v;
	int first = 1;

	if (!cJSON_IsObject(vs) || !vs->child) {
		problem(w, vs, 0, "variants: expected a mapping of variant "
		    "names");
		return;
	}
	cJSON_ArrayForEach(v, vs) {
		if (out && !first)
			bm_buf_addc(out, 0x1e);
		first = 0;
		if (!cJSON_IsObject(v)) {
			problem(w, v, 0, "variant '%s': expected a mapping",
			    v->string);
			continue;
		}
		w->variant = v->string;
		walk_mapping(w, v, 0, inherited, out);
		w->variant = NULL;
	}
}

size_t
bm_hash_rules(const cJSON *doc, int strict, struct bm_buf *out,
    bm_hash_problem_fn *fn, void *arg)
{
	struct walk w = { strict, fn, arg, 0, NULL };

	walk_mapping(&w, doc, 1, 0, out);
	return w.problems;
}

/* The first problem, for bm_hash_prompt. */
struct first {
	const cJSON *where;
	char *msg;
};

static void
first_problem(void *arg, const cJSON *node, int key, const char *msg)
{
	struct first *f = arg;

	(void)key;
	if (!f->msg) {
		f->where = node;
		f->msg = xstrdup(msg);
	}
}

int
bm_hash_prompt(const cJSON *doc, struct bm_buf *out,
    const cJSON **where, struct bm_error *e)
{
	struct first f = { NULL, NULL };

	*where = NULL;
	bm_buf_reset(out);
	if (!cJSON_IsObject(doc)) {
		*where = doc;
		bm_error_set(e, NULL, 0, 0, "expected a mapping");
		return -1;
	}
	if (bm_hash_rules(doc, 0, out, first_problem, &f) == 0)
		return 0;
	*where = f.where;
	bm_error_set(e, NULL, 0, 0, "%s", f.msg);
	free(f.msg);
	return -1;
}

int
bm_hash_benchmark_id(const cJSON *doc, char id[BM_HASH_MD5_LEN + 1],
    const cJSON **where, struct bm_error *e)
{
	struct bm_buf b = BM_BUF_INIT;
	int rc = bm_hash_prompt(doc, &b, where, e);

	if (rc == 0)
		bm_hash_md5(bm_buf_str(&b), b.len, id);
	bm_buf_free(&b);
	return rc;
}

void
bm_hash_case_id(const char *benchmark_id, const char *variant, long trial,
    const char *model, long repeat, char out[BM_HASH_CASE_ID_LEN + 1])
{
	struct bm_buf b = BM_BUF_INIT;
	char full[BM_HASH_SHA256_LEN + 1];

	/* "%s\x1f%s\x1f%ld\x1f%s\x1f%ld", without printf: once per case. */
	bm_buf_grow(&b, 128);
	bm_buf_adds(&b, benchmark_id);
	bm_buf_addc(&b, '\x1f');
	bm_buf_adds(&b, variant ? variant : "");
	bm_buf_addc(&b, '\x1f');
	bm_json_put_long(&b, trial);
	bm_buf_addc(&b, '\x1f');
	bm_buf_adds(&b, model);
	bm_buf_addc(&b, '\x1f');
	bm_json_put_long(&b, repeat);
	bm_hash_sha256(b.s, b.len, full);
	memcpy(out, full, BM_HASH_CASE_ID_LEN);
	out[BM_HASH_CASE_ID_LEN] = '\0';
	bm_buf_free(&b);
}
