/* hash.c: MD5/SHA-256 through OpenSSL EVP, and bm's identity rules. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "err.h"
#include "hash.h"
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
bm_md5_hex(const void *p, size_t n, char out[BM_MD5_HEX_LEN + 1])
{
	digest(&md5, p, n, out);
}

void
bm_sha256_hex(const void *p, size_t n, char out[BM_SHA256_HEX_LEN + 1])
{
	digest(&sha256, p, n, out);
}

/* One step of a sequence: {prompt: "..."} or a bare string. */
static const cJSON *
step_prompt(const cJSON *step)
{
	if (cJSON_IsString(step))
		return step;
	return cJSON_GetObjectItemCaseSensitive(step, "prompt");
}

static int
add_sequence(const cJSON *seq, struct bm_buf *out, const cJSON **where,
    struct bm_error *e)
{
	const cJSON *step, *p;
	int first = 1;

	if (!cJSON_IsArray(seq) || !seq->child) {
		*where = seq;
		bm_error_set(e, NULL, 0, 0,
		    "sequence: expected a list of steps");
		return -1;
	}
	cJSON_ArrayForEach(step, seq) {
		p = step_prompt(step);
		if (!cJSON_IsString(p)) {
			*where = p ? p : step;
			bm_error_set(e, NULL, 0, 0,
			    "sequence step: prompt must be a string");
			return -1;
		}
		if (!first)
			bm_buf_addc(out, 0x1e);
		bm_buf_adds(out, p->valuestring);
		first = 0;
	}
	return 0;
}

static int
add_prompt(const cJSON *doc, struct bm_buf *out, const cJSON **where,
    struct bm_error *e, int nested)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "prompt");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(doc, "sequence");
	const cJSON *vars = cJSON_GetObjectItemCaseSensitive(doc, "variants");
	const cJSON *v;
	int first = 1;

	if (p) {
		if (!cJSON_IsString(p)) {
			*where = p;
			bm_error_set(e, NULL, 0, 0,
			    "prompt: expected a string");
			return -1;
		}
		bm_buf_adds(out, p->valuestring);
		return 0;
	}
	if (seq)
		return add_sequence(seq, out, where, e);
	if (vars && !nested) {
		if (!cJSON_IsObject(vars) || !vars->child) {
			*where = vars;
			bm_error_set(e, NULL, 0, 0,
			    "variants: expected a mapping of variant names");
			return -1;
		}
		cJSON_ArrayForEach(v, vars) {
			if (!first)
				bm_buf_addc(out, 0x1e);
			first = 0;
			if (!cJSON_IsObject(v)) {
				*where = v;
				bm_error_set(e, NULL, 0, 0,
				    "variant '%s': expected a mapping",
				    v->string);
				return -1;
			}
			if (add_prompt(v, out, where, e, 1) < 0) {
				bm_error_prefix(e, "variant '%s'", v->string);
				return -1;
			}
		}
		return 0;
	}
	*where = doc;
	bm_error_set(e, NULL, 0, 0, nested ? "no prompt or sequence" :
	    "no prompt: give prompt, sequence or variants");
	return -1;
}

int
bm_canonical_prompt(const cJSON *doc, struct bm_buf *out,
    const cJSON **where, struct bm_error *e)
{
	*where = NULL;
	bm_buf_reset(out);
	if (!cJSON_IsObject(doc)) {
		*where = doc;
		bm_error_set(e, NULL, 0, 0, "expected a mapping");
		return -1;
	}
	return add_prompt(doc, out, where, e, 0);
}

int
bm_benchmark_id(const cJSON *doc, char id[BM_MD5_HEX_LEN + 1],
    const cJSON **where, struct bm_error *e)
{
	struct bm_buf b = BM_BUF_INIT;
	int rc = bm_canonical_prompt(doc, &b, where, e);

	if (rc == 0)
		bm_md5_hex(bm_buf_str(&b), b.len, id);
	bm_buf_free(&b);
	return rc;
}

void
bm_case_id(const char *benchmark_id, const char *variant, long trial,
    const char *model, long repeat, char out[BM_CASE_ID_LEN + 1])
{
	struct bm_buf b = BM_BUF_INIT;
	char full[BM_SHA256_HEX_LEN + 1];

	bm_buf_addf(&b, "%s\x1f%s\x1f%ld\x1f%s\x1f%ld", benchmark_id,
	    variant ? variant : "", trial, model, repeat);
	bm_sha256_hex(b.s, b.len, full);
	memcpy(out, full, BM_CASE_ID_LEN);
	out[BM_CASE_ID_LEN] = '\0';
	bm_buf_free(&b);
}
