/* lines.c: an input's lines on worker threads (lines.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "xalloc.h"

#define BLOCK (2u << 20)	/* bytes read at once */
#define QMAX 4			/* blocks waiting for a worker */
#define POOL 16			/* spare BLOCK buffers kept */

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t put, get, fin;
	struct bm_block *item[QMAX];
	size_t head, count;
	int done;
	/*
	 * Buffers of BLOCK bytes back from the workers: reused, they need
	 * no fresh pages (a page fault each 4 kB otherwise).
	 */
	char *pool[POOL];
	size_t npool;
};

struct worker {
	struct bm_lines *l;
	struct queue *q;
	void *w;
	pthread_t tid;
};

size_t
bm_lines_threads(int threads)
{
	long n = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 8 ? 8 : (size_t)n;
}

/* b's buffer into the pool (or freed). */
static void
recycle(struct queue *q, struct bm_block *b)
{
	if (!b->buf)
		return;
	pthread_mutex_lock(&q->mu);
	if (b->cap == BLOCK && q->npool < POOL) {
		q->pool[q->npool++] = b->buf;
		b->buf = NULL;
	}
	pthread_mutex_unlock(&q->mu);
	free(b->buf);
	b->buf = NULL;
}

/* A buffer of BLOCK bytes, from the pool when it has one. */
static char *
fresh(struct queue *q)
{
	char *p = NULL;

	pthread_mutex_lock(&q->mu);
	if (q->npool)
		p = q->pool[--q->npool];
	pthread_mutex_unlock(&q->mu);
	return p ? p : xmalloc(BLOCK);
}

static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	struct queue *q = w->q;
	struct bm_block *b;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->count == 0 && !q->done)
			pthread_cond_wait(&q->get, &q->mu);
		if (q->count == 0) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		b = q->item[q->head];
		q->head = (q->head + 1) % QMAX;
		q->count--;
		pthread_cond_signal(&q->put);
		pthread_mutex_unlock(&q->mu);
		w->l->work(w->w, b);
		if (w->l->done) {
			pthread_mutex_lock(&q->mu);
			b->finished = 1;
			pthread_cond_signal(&q->fin);
			pthread_mutex_unlock(&q->mu);
		} else {
			recycle(q, b);
		}
	}
}

static void
push(struct queue *q, struct bm_block *b)
{
	pthread_mutex_lock(&q->mu);
	while (q->count == QMAX)
		pthread_cond_wait(&q->put, &q->mu);
	q->item[(q->head + q->count) % QMAX] = b;
	q->count++;
	pthread_cond_signal(&q->get);
	pthread_mutex_unlock(&q->mu);
}

/*
 * Hand the finished blocks from *next on, in order, to done; with wait,
 * every block up to n.  *first counts their lines.
 */
static void
deliver(struct bm_lines *l, struct queue *pq, struct queue *q,
    struct bm_block **bs, size_t n, size_t *next, long *first, int wait)
{
	struct bm_block *b;
	int fin;

	while (*next < n) {
		b = bs[*next];
		if (q) {
			pthread_mutex_lock(&q->mu);
			while (wait && !b->finished)
				pthread_cond_wait(&q->fin, &q->mu);
			fin = b->finished;
			pthread_mutex_unlock(&q->mu);
			if (!fin)
				return;
		}
		b->first = *first;
		*first += b->nlines;
		l->done(l->arg, b);
		recycle(pq, b);
		free(b);
		bs[(*next)++] = NULL;
	}
}

int
bm_lines_read(struct bm_lines *l, int fd, const char *name,
    struct bm_block ***out, size_t *nout, struct bm_error *e)
{
	struct queue q;
	struct worker *w;
	struct bm_block **bs = NULL, *b;
	size_t nb = 0, cap = BLOCK, have = 0, i, nw, next = 0;
	long first = 0;
	ssize_t r;
	char *buf, *nl;
	int eof = 0, rc = 0;

	memset(&q, 0, sizeof(q));
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.put, NULL);
	pthread_cond_init(&q.get, NULL);
	pthread_cond_init(&q.fin, NULL);
	w = xcalloc(l->nw ? l->nw : 1, sizeof(*w));
	for (i = 0; i < l->nw; i++) {
		w[i].l = l;
		w[i].q = &q;
		w[i].w = l->w[i];
		if (pthread_create(&w[i].tid, NULL, run_worker, &w[i]) != 0)
			break;
	}
	nw = i;		/* the ones that started */
	buf = fresh(&q);
	while (!eof) {
		r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bm_error_set(e, name, 0, 0, "%s", strerror(errno));
			rc = -1;
			eof = 1;
		} else if (r == 0) {
			eof = 1;
		} else {
			have += (size_t)r;
			if (have < cap)
				continue;
		}
		if (eof) {
			nl = have ? buf + have - 1 : NULL;
		} else {
			nl = memrchr(buf, '\n', have);
			if (!nl) {
				cap *= 2;	/* a line over a block */
				buf = xrealloc(buf, cap);
				continue;
			}
		}
		if (!nl)
			break;
		b = xcalloc(1, sizeof(*b));
		b->buf = buf;
		b->cap = cap;
		b->len = (size_t)(nl - buf) + 1;
		b->seq = l->seq++;
		bs = xreallocarray(bs, nb + 1, sizeof(*bs));
		bs[nb++] = b;
		cap = BLOCK > have - b->len ? BLOCK : 2 * (have - b->len);
		buf = cap == BLOCK ? fresh(&q) : xmalloc(cap);
		if (have > b->len)
			memcpy(buf, b->buf + b->len, have - b->len);
		have -= b->len;
		if (nw) {
			push(&q, b);
		} else {
			l->work(l->w[0], b);
			b->finished = 1;
			if (!l->done)
				recycle(&q, b);
		}
		if (l->done)
			deliver(l, &q, nw ? &q : NULL, bs, nb, &next, &first,
			    0);
	}
	free(buf);
	if (l->done)
		deliver(l, &q, nw ? &q : NULL, bs, nb, &next, &first, 1);
	pthread_mutex_lock(&q.mu);
	q.done = 1;
	pthread_cond_broadcast(&q.get);
	pthread_mutex_unlock(&q.mu);
	for (i = 0; i < nw; i++)
		pthread_join(w[i].tid, NULL);
	while (q.npool)
		free(q.pool[--q.npool]);
	pthread_mutex_destroy(&q.mu);
	pthread_cond_destroy(&q.put);
	pthread_cond_destroy(&q.get);
	pthread_cond_destroy(&q.fin);
	free(w);
	if (l->done) {
		free(bs);
		bs = NULL;
		nb = 0;
	}
	/* Line numbers: each block's lines follow the blocks before it. */
	for (i = 0; i < nb; i++) {
		bs[i]->first = first;
		first += bs[i]->nlines;
	}
	if (out) {
		*out = bs;
		*nout = nb;
	} else {
		bm_lines_free(bs, nb);
	}
	return rc;
}

int
bm_lines_next(struct bm_block *b, size_t *pos, const char **line,
    size_t *len)
{
	const char *p = b->buf + *pos, *nl;

	if (*pos >= b->len)
		return 0;
	nl = memchr(p, '\n', b->len - *pos);
	*line = p;
	*len = nl ? (size_t)(nl - p) : b->len - *pos;
	*pos += *len + 1;
	b->nlines++;
	return 1;
}

void
bm_lines_free(struct bm_block **b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i]) {
			free(b[i]->buf);
			free(b[i]);
		}
	}
	free(b);
}
