/*
 * hash.h: digests (OpenSSL EVP) and the identities of DESIGN.md §3: the
 * benchmark id (MD5 of the canonical prompt) and the case_id.
 */
#ifndef BM_HASH_H
#define BM_HASH_H

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "err.h"

#define BM_HASH_MD5_LEN 32
#define BM_HASH_SHA256_LEN 64
#define BM_HASH_CASE_ID_LEN 16

/*
 * For a program that uses libcrypto for these digests only (bm-hash), to
 * call before anything else touches it: skips reading openssl.cnf,
 * registering every cipher and digest by name, and the clean-up at exit,
 * most of libcrypto's start-up time.  Not for a program that also speaks
 * TLS: openssl.cnf may set its defaults.
 */
void bm_hash_only(void);
/* Lowercase hex MD5 of p[0..n) into out (33 bytes with the NUL). */
void bm_hash_md5(const void *p, size_t n, char out[BM_HASH_MD5_LEN + 1]);
/* Lowercase hex SHA-256 of p[0..n) into out (65 bytes with the NUL). */
void bm_hash_sha256(const void *p, size_t n, char out[BM_HASH_SHA256_LEN + 1]);

/* Called once per problem: the node at fault (its key when key is set). */
typedef void bm_hash_problem_fn(void *arg, const cJSON *node, int key,
    const char *msg);
/*
 * The benchmark rules of bm-benchmark(5) for what makes the prompt, coded
 * once for bm-hash and bm-ingest: prompt: (a string), else sequence: (a
 * non-empty list of steps, each a string or a mapping whose prompt: is a
 * string), else variants: (a non-empty mapping of mappings, each with its
 * own prompt or sequence unless the document has one).  The canonical
 * prompt goes to out when not NULL: the prompt, else the step prompts
 * joined by 0x1E, else each variant's canonical prompt in written order
 * joined by 0x1E.  strict adds the rules that leave the id alone: not both
 * prompt and sequence, and a sequence or variants that do not make the
 * prompt are checked too.  Every problem goes to fn; returns their number.
 */
size_t bm_hash_rules(const cJSON *doc, int strict, struct bm_buf *out,
    bm_hash_problem_fn *fn, void *arg);
/*
 * The canonical prompt of a benchmark document (a parsed YAML mapping), by
 * bm_hash_rules without strict: 0 and the bytes in out, or -1 with e set
 * (no position) and *where the node of the first problem.
 */
int bm_hash_prompt(const cJSON *doc, struct bm_buf *out,
    const cJSON **where, struct bm_error *e);
/* bm_hash_prompt, then its MD5 as the benchmark id. */
int bm_hash_benchmark_id(const cJSON *doc, char id[BM_HASH_MD5_LEN + 1],
    const cJSON **where, struct bm_error *e);
/*
 * case_id: the first 16 hex digits of SHA-256 over benchmark_id, variant
 * ("" for none), trial, model reference and repeat joined by 0x1F.
 */
void bm_hash_case_id(const char *benchmark_id, const char *variant, long trial,
    const char *model, long repeat, char out[BM_HASH_CASE_ID_LEN + 1]);

#endif
