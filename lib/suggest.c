/* suggest.c: nearest-candidate lookup for did-you-mean hints. */
#include <stdlib.h>
#include <string.h>

#include "suggest.h"
#include "xalloc.h"

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t
bm_edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), i, j, d;
	/* Three rows: the one before last for transpositions. */
	size_t *r0 = xcalloc(m + 1, sizeof(size_t));
	size_t *r1 = xcalloc(m + 1, sizeof(size_t));
	size_t *r2 = xcalloc(m + 1, sizeof(size_t));
	size_t *t;

	for (j = 0; j <= m; j++)
		r1[j] = j;
	for (i = 1; i <= n; i++) {
		r2[0] = i;
		for (j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];

			r2[j] = min3(r1[j] + 1, r2[j - 1] + 1,
			    r1[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && r0[j - 2] + 1 < r2[j])
				r2[j] = r0[j - 2] + 1;
		}
		t = r0, r0 = r1, r1 = r2, r2 = t;
	}
	d = r1[m];
	free(r0), free(r1), free(r2);
	return d;
}

const char *
bm_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len = strlen(word), limit, d;

	/* Allow about one edit in three characters, at least one. */
	limit = len < 3 ? 1 : len / 3;
	if (limit > 3)
		limit = 3;
	for (; *candidates; candidates++) {
		d = bm_edit_distance(word, *candidates);
		if (d < bestd) {
			bestd = d;
			best = *candidates;
		}
	}
	return bestd <= limit ? best : NULL;
}
