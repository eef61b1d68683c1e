/*
 * check.h: a benchmark document checked against bm-benchmark(5) before it
 * becomes a benchmark (bm-ingest; bm-hash identifies without checking).
 * Apart from bench.c because it compiles assertions (PCRE2, jq).
 */
#ifndef BM_CHECK_H
#define BM_CHECK_H

#include "bench.h"
#include "err.h"
#include "yaml.h"

/* Called once per problem: e is "path:line:col: message". */
typedef void bm_check_report_fn(void *arg, const struct bm_error *e);

/*
 * Check doc (document doc->index of path) and build *out.  The default
 * name is derived from path, or is default_name when that is not NULL.
 * Every problem goes to report; 0 when there was none, else -1 and *out
 * is NULL.  Takes doc->root (leaving NULL there) on success.
 */
int bm_check_bench(struct bm_yaml_doc *doc, const char *path,
    const char *default_name, struct bm_bench **out,
    bm_check_report_fn *report, void *arg);

#endif
