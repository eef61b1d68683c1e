/*
 * suggest.h: the one "did you mean" for misspelt keys and names: the
 * nearest candidate by edit distance, tried again without the punctuation
 * people leave out, so that "promt" finds "prompt" and "gpt4" "gpt-4o".
 */
#ifndef BM_SUGGEST_H
#define BM_SUGGEST_H

#include <stddef.h>

/* Edit distance (Damerau: a transposition counts one) between a and b. */
size_t bm_suggest_distance(const char *a, const char *b);
/*
 * The candidate closest to word when close enough to be a likely typo,
 * else NULL.  candidates ends with a NULL pointer.
 */
const char *bm_suggest(const char *word, const char *const *candidates);
/*
 * " (did you mean 'x'?)" for bm_suggest's candidate, else "": a new string
 * to append to an "unknown key 'word'" message.
 */
char *bm_suggest_hint(const char *word, const char *const *candidates);

#endif
