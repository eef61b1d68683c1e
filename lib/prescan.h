/*
 * prescan.h: what bm-exec learns from the case stream read once before
 * the first request (DESIGN.md §8): how many results it asks for, the
 * digest of its case ids, and the API key variables its models and
 * judges need that are not set.  Lines are handed in as read.
 */
#ifndef BM_PRESCAN_H
#define BM_PRESCAN_H

#include <stddef.h>

#include "config.h"
#include "map.h"

struct bm_prescan;

/*
 * A scan resolving models with cfg; ids, when not NULL, gets every case
 * id as a key (--resume).
 */
struct bm_prescan *bm_prescan_new(const struct bm_config *cfg,
    struct bm_map *ids);
/* Free p. */
void bm_prescan_free(struct bm_prescan *p);
/* Take one line of the stream (NUL-terminated; a line end may follow). */
void bm_prescan_line(struct bm_prescan *p, const char *line);
/* The results the case records seen ask for (a step each). */
long bm_prescan_total(const struct bm_prescan *p);
/* The digest of the case ids seen ("id\n" each), as bm-exec records it. */
void bm_prescan_digest(const struct bm_prescan *p, char out[65]);
/*
 * Unset key variable i (in the order met): 1, *var and *models (the
 * models that need it, ", "-separated); 0 past the last.
 */
int bm_prescan_nokey(const struct bm_prescan *p, size_t i,
    const char **var, const char **models);

#endif
