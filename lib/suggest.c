/* suggest.c: nearest-candidate lookup for did-you-mean hints. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "suggest.h"
#include "xalloc.h"

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t
bm_suggest_distance(const char *a, const char *b)
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

/* The closest of n candidates, if close enough; its index or -1. */
static long
nearest(const char *word, const char *const *cands, size_t n)
{
	size_t bestd = (size_t)-1, len = strlen(word), limit, d, i;
	long best = -1;

	/* Allow about one edit in three characters, at least one. */
	limit = len < 3 ? 1 : len / 3;
	if (limit > 3)
		limit = 3;
	for (i = 0; i < n; i++) {
		d = bm_suggest_distance(word, cands[i]);
		if (d < bestd) {
			bestd = d;
			best = (long)i;
		}
	}
	return bestd <= limit ? best : -1;
}

/* s without the punctuation people leave out: "gpt4" for "gpt-4o". */
static char *
squash(const char *s)
{
	struct bm_buf b = BM_BUF_INIT;

	for (; *s; s++)
		if (!strchr("-_.:/ ", *s))
			bm_buf_addc(&b, *s);
	return bm_buf_detach(&b, NULL);
}

const char *
bm_suggest(const char *word, const char *const *cands)
{
	char **sq, *w;
	size_t n, i;
	long best;

	for (n = 0; cands[n]; n++)
		;
	best = nearest(word, cands, n);
	if (best >= 0 || *word == '\0')
		return best >= 0 ? cands[best] : NULL;
	/* Again without punctuation, on both sides. */
	sq = xcalloc(n + 1, sizeof(*sq));
	for (i = 0; i < n; i++)
		sq[i] = squash(cands[i]);
	w = squash(word);
	best = *w ? nearest(w, (const char *const *)sq, n) : -1;
	for (i = 0; i < n; i++)
		free(sq[i]);
	free(sq);
	free(w);
	return best >= 0 ? cands[best] : NULL;
}

char *
bm_suggest_hint(const char *word, const char *const *cands)
{
	const char *s = bm_suggest(word, cands);

	return s ? xasprintf(" (did you mean '%s'?)", s) : xstrdup("");
}
