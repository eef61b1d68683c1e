/* suggest.h: "did you mean" for misspelt keys and names. */
#ifndef BM_SUGGEST_H
#define BM_SUGGEST_H

#include <stddef.h>

/* Edit distance (Damerau: a transposition counts one) between a and b. */
size_t bm_edit_distance(const char *a, const char *b);
/*
 * The candidate closest to word when close enough to be a likely typo,
 * else NULL.  candidates ends with a NULL pointer.
 */
const char *bm_suggest(const char *word, const char *const *candidates);

#endif
