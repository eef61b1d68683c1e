/* fanout.c: fork-based parallel map with in-order output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout.h"
#include "xalloc.h"

struct worker {
	pid_t pid;	/* 0: this range runs here */
	int out, err;	/* memory files holding its stdout and stderr */
	size_t lo, hi;	/* items [lo, hi) */
};

static int
run(size_t lo, size_t hi, bm_fanout_fn fn, void *arg)
{
	int status = 0, s;

	for (; lo < hi; lo++)
		if ((s = fn(lo, arg)) > status)
			status = s;
	return status;
}

/* Copy a worker's memory file to a stream; errors show at the stream. */
static void
replay(int fd, FILE *to)
{
	char buf[65536];
	ssize_t r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)r, to);
	fflush(to);
	close(fd);
}

static int
start(struct worker *w, bm_fanout_fn fn, void *arg)
{
	w->out = memfd_create("bm-fanout-out", MFD_CLOEXEC);
	w->err = memfd_create("bm-fanout-err", MFD_CLOEXEC);
	if (w->out < 0 || w->err < 0)
		goto fail;
	w->pid = fork();
	if (w->pid < 0)
		goto fail;
	if (w->pid == 0) {
		if (dup2(w->out, 1) < 0 || dup2(w->err, 2) < 0)
			_exit(2);
		int s = run(w->lo, w->hi, fn, arg);

		/* A failed flush is a write error, exit 2 as in main(). */
		_exit(fflush(NULL) == 0 ? s : 2);
	}
	return 0;
fail:
	if (w->out >= 0)
		close(w->out);
	if (w->err >= 0)
		close(w->err);
	w->pid = 0;
	return -1;
}

int
bm_fanout(size_t n, size_t min_per_worker, bm_fanout_fn fn, void *arg,
    struct bm_error *e)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nw = cpus > 1 ? (size_t)cpus : 1, i;
	struct worker *w;
	int status, ws, died = 0;

	if (min_per_worker < 1)
		min_per_worker = 1;
	if (nw > n / min_per_worker)
		nw = n / min_per_worker;
	if (nw <= 1)
		return run(0, n, fn, arg);
	w = xcalloc(nw, sizeof(*w));
	/* Buffered output must not be written twice, by parent and child. */
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < nw; i++) {
		w[i].lo = n * i / nw;
		w[i].hi = n * (i + 1) / nw;
		if (i > 0)
			start(&w[i], fn, arg);
	}
	status = run(w[0].lo, w[0].hi, fn, arg);
	for (i = 1; i < nw; i++) {
		if (!w[i].pid) {
			ws = run(w[i].lo, w[i].hi, fn, arg);
			status = ws > status ? ws : status;
			continue;
		}
		while (waitpid(w[i].pid, &ws, 0) < 0 && errno == EINTR)
			;
		fflush(stdout);
		fflush(stderr);
		replay(w[i].out, stdout);
		replay(w[i].err, stderr);
		if (WIFEXITED(ws)) {
			if (WEXITSTATUS(ws) > status)
				status = WEXITSTATUS(ws);
		} else if (!died++) {
			bm_error_set(e, NULL, 0, 0,
			    "worker for items %zu..%zu killed by signal %d",
			    w[i].lo + 1, w[i].hi, WTERMSIG(ws));
		}
	}
	free(w);
	return died ? -1 : status;
}
