/*
 * fanout.c: fork-based parallel map with in-order output.
 *
 * Items go in chunks to whichever process is free: a shared counter hands
 * out the next chunk, so a worker that started late or got slow items
 * takes fewer chunks.  Every process, this one included, writes to memory
 * files; each chunk notes where its output lies, and this process copies
 * the chunks' output to the real stdout and stderr in item order at the
 * end.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout.h"
#include "xalloc.h"

#define CHUNKS_PER_WORKER	64	/* finer: less idle at the end */

/* Where a chunk's output lies: a range of its worker's memory files. */
struct chunk {
	int worker;		/* -1: not taken */
	int done;		/* all its items ran */
	off_t out, outlen;
	off_t err, errlen;
};

/* Shared by every process (MAP_SHARED). */
struct board {
	atomic_size_t next;	/* the next chunk to take */
	struct chunk chunk[];
};

struct worker {
	pid_t pid;		/* 0: this process, -1: not started */
	int out, err;		/* memory files holding its stdout and stderr */
	int sig;		/* the signal that killed it, or 0 */
	const char *o, *e;	/* out and err mapped, once it is done */
	size_t olen, elen;
};

struct run {
	struct board *board;
	size_t n, per, nchunks;
	bm_fanout_fn fn;
	void *arg;
};

static off_t
here(int fd)
{
	off_t o = lseek(fd, 0, SEEK_CUR);

	return o < 0 ? 0 : o;
}

/* One past the last item of chunk k. */
static size_t
chunk_end(const struct run *r, size_t k)
{
	return (k + 1) * r->per < r->n ? (k + 1) * r->per : r->n;
}

/* Take chunks until none are left; the largest status fn returned. */
static int
work(const struct run *r, int id)
{
	struct chunk *c;
	size_t k, i, hi;
	int status = 0, s;

	while ((k = atomic_fetch_add(&r->board->next, 1)) < r->nchunks) {
		c = &r->board->chunk[k];
		c->worker = id;
		c->out = here(1);
		c->err = here(2);
		hi = chunk_end(r, k);
		for (i = k * r->per; i < hi; i++)
			if ((s = r->fn(i, r->arg)) > status)
				status = s;
		/* A failed flush is a write error: exit 2 as in main(). */
		if (fflush(stdout) == EOF || fflush(stderr) == EOF)
			return 2;
		c->outlen = here(1) - c->out;
		c->errlen = here(2) - c->err;
		c->done = 1;
	}
	return status;
}

/* A worker's memory file, mapped for reading; NULL when empty. */
static const char *
map(int fd, size_t *len)
{
	struct stat st;
	void *p;

	*len = 0;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

/* [off, off + len) of a mapped memory file of size, to a stream. */
static void
put(const char *base, size_t size, off_t off, off_t len, FILE *to)
{
	if (base && off >= 0 && len > 0 && (size_t)(off + len) <= size)
		fwrite(base + off, 1, (size_t)len, to);
}

/* Memory files for w's output; the fork, unless id is 0 (this process). */
static int
start(struct worker *w, int id, const struct run *r)
{
	int s;

	w->out = memfd_create("bm-fanout-out", MFD_CLOEXEC);
	w->err = memfd_create("bm-fanout-err", MFD_CLOEXEC);
	if (w->out < 0 || w->err < 0)
		goto fail;
	if (id == 0)
		return 0;
	w->pid = fork();
	if (w->pid < 0)
		goto fail;
	if (w->pid == 0) {
		if (dup2(w->out, 1) < 0 || dup2(w->err, 2) < 0)
			_exit(2);
		s = work(r, id);
		_exit(fflush(NULL) == 0 ? s : 2);
	}
	return 0;
fail:
	if (w->out >= 0)
		close(w->out);
	if (w->err >= 0)
		close(w->err);
	w->out = w->err = -1;
	w->pid = -1;
	return -1;
}

/* This process's share, its output caught as a worker's is. */
static int
work_here(const struct run *r, struct worker *w)
{
	int saved_out = dup(1), saved_err = dup(2), status;

	if (saved_out < 0 || saved_err < 0 || dup2(w->out, 1) < 0 ||
	    dup2(w->err, 2) < 0)
		bm_die(2, "fanout: %s", strerror(errno));
	status = work(r, 0);
	if (dup2(saved_out, 1) < 0 || dup2(saved_err, 2) < 0)
		bm_die(2, "fanout: %s", strerror(errno));
	close(saved_out);
	close(saved_err);
	return status;
}

int
bm_fanout(size_t n, size_t min_per_worker, bm_fanout_fn fn, void *arg,
    struct bm_error *e)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nw = cpus > 1 ? (size_t)cpus : 1, i, size;
	struct run r = { NULL, n, 0, 0, fn, arg };
	struct worker *w;
	struct chunk *c;
	int status, ws, died = 0;

	if (min_per_worker < 1)
		min_per_worker = 1;
	if (nw > n / min_per_worker)
		nw = n / min_per_worker;
	if (nw <= 1) {
		for (status = 0, i = 0; i < n; i++)
			if ((ws = fn(i, arg)) > status)
				status = ws;
		return status;
	}
	r.per = n / (nw * CHUNKS_PER_WORKER);
	r.per = r.per ? r.per : 1;
	r.nchunks = (n + r.per - 1) / r.per;
	size = sizeof(struct board) + r.nchunks * sizeof(struct chunk);
	r.board = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.board == MAP_FAILED)
		bm_die(2, "fanout: %s", strerror(errno));
	atomic_init(&r.board->next, 0);
	for (i = 0; i < r.nchunks; i++)
		r.board->chunk[i].worker = -1;

	/* Buffered output must not be written twice, by parent and child. */
	fflush(stdout);
	fflush(stderr);
	w = xcalloc(nw, sizeof(*w));
	if (start(&w[0], 0, &r) < 0)
		bm_die(2, "fanout: %s", strerror(errno));
	for (i = 1; i < nw; i++)
		start(&w[i], (int)i, &r);	/* or its chunks run here */
	status = work_here(&r, &w[0]);

	for (i = 1; i < nw; i++) {
		if (w[i].pid <= 0)
			continue;
		while (waitpid(w[i].pid, &ws, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(ws) && WEXITSTATUS(ws) > status)
			status = WEXITSTATUS(ws);
		else if (WIFSIGNALED(ws))
			w[i].sig = WTERMSIG(ws);
	}
	for (i = 0; i < nw; i++) {
		w[i].o = map(w[i].out, &w[i].olen);
		w[i].e = map(w[i].err, &w[i].elen);
	}
	for (i = 0; i < r.nchunks; i++) {
		c = &r.board->chunk[i];
		if (c->done) {
			put(w[c->worker].o, w[c->worker].olen, c->out,
			    c->outlen, stdout);
			if (c->errlen)
				fflush(stdout);
			put(w[c->worker].e, w[c->worker].elen, c->err,
			    c->errlen, stderr);
		} else if (c->worker >= 0 && w[c->worker].sig && !died++) {
			/* Its other chunks' output was kept. */
			bm_error_set(e, NULL, 0, 0,
			    "worker for items %zu..%zu killed by signal %d",
			    i * r.per + 1, chunk_end(&r, i), w[c->worker].sig);
		}
	}
	for (i = 0; i < nw; i++) {
		if (w[i].o)
			munmap((void *)w[i].o, w[i].olen);
		if (w[i].e)
			munmap((void *)w[i].e, w[i].elen);
		if (w[i].out >= 0)
			close(w[i].out);
		if (w[i].err >= 0)
			close(w[i].err);
	}
	free(w);
	munmap(r.board, size);
	return died ? -1 : status;
}
