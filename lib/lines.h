/*
 * lines.h: an input's lines on worker threads (bm-stats, bm-report).  The
 * calling thread reads the input in blocks of 2 MB or more, each cut
 * after a newline, and queues them; worker threads (pthreads) each take
 * the next waiting block and keep what they make of its lines in their
 * own state.  Blocks are numbered in input order, so the caller can put
 * the workers' findings back in that order: the blocks come back in
 * order at the end, or, with done, go to done in order on the calling
 * thread as soon as they and the ones before them are finished.
 */
#ifndef BM_LINES_H
#define BM_LINES_H

#include <stddef.h>

#include "err.h"

/* A block of whole lines (the input's last one may lack its newline). */
struct bm_block {
	char *buf;		/* the lines (lines.c's: reused once worked,
				   or once done; NULL in returned blocks) */
	size_t len;
	unsigned long long seq;	/* its number, in input order */
	long nlines;		/* set by the worker (bm_lines_next counts) */
	long first;		/* lines of the input before it (for done, and
				   in the returned blocks) */
	void *data;		/* the worker's findings, for the caller */
	size_t cap;		/* lines.c's: buf's size */
	int finished;		/* lines.c's */
};

struct bm_lines {
	/* work(w[i], block) runs on worker i's thread. */
	void (*work)(void *w, struct bm_block *b);
	void **w;		/* one state per worker */
	size_t nw;		/* at most this many threads (none start:
				   work(w[0], ...) on the calling thread) */
	/*
	 * NULL: bm_lines_read returns the blocks.  Else done(arg, block)
	 * runs on the calling thread for each block in input order; lines.c
	 * then frees the block and its buf (data is done's).
	 */
	void (*done)(void *arg, struct bm_block *b);
	void *arg;
	unsigned long long seq;	/* the next block's number (carry it from
				   one input to the next) */
};

/* Workers for threads (0: one per CPU online), 1 to 8. */
size_t bm_lines_threads(int threads);
/*
 * Read fd, called name in messages, to its end and have every block
 * worked.  0, or -1 with e ("name: message") on a read error: the blocks
 * read before it are still worked.  Without done, *out and *nout (when
 * out is not NULL) get the blocks in input order: free them with
 * bm_lines_free.
 */
int bm_lines_read(struct bm_lines *l, int fd, const char *name,
    struct bm_block ***out, size_t *nout, struct bm_error *e);
/*
 * The next line of b after *pos (start at 0): 1 with *line and *len (no
 * newline; the line is not NUL-terminated) and b->nlines counted, or 0
 * at the block's end.
 */
int bm_lines_next(struct bm_block *b, size_t *pos, const char **line,
    size_t *len);
/* Free n blocks (their bufs, not their data) and the array. */
void bm_lines_free(struct bm_block **b, size_t n);

#endif
