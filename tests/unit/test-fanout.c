/* test-fanout: parallel work gives the output of a sequential run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fanout.h"
#include "tap.h"

static int
item(size_t i, void *arg)
{
	(void)arg;
	printf("item %zu\n", i);
	fprintf(stderr, "note %zu\n", i);
	return i == 700 ? 1 : 0;
}

static pid_t self;

/* A worker dies on its first item; this process waits so that it gets one. */
static int
crash(size_t i, void *arg)
{
	(void)arg;
	printf("item %zu\n", i);
	if (getpid() != self)
		raise(SIGKILL);
	usleep(1000);
	return 0;
}

/* Run fanout with stdout and stderr sent to files; their contents. */
static int
captured(size_t n, size_t min, int (*fn)(size_t, void *), char **out,
    char **err, struct bm_error *e)
{
	FILE *o = tmpfile(), *r = tmpfile();
	int saved_out = dup(1), saved_err = dup(2), st;
	long lo, le;

	fflush(stdout);
	dup2(fileno(o), 1);
	dup2(fileno(r), 2);
	st = bm_fanout(n, min, fn, NULL, e);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	lo = lseek(fileno(o), 0, SEEK_END);
	le = lseek(fileno(r), 0, SEEK_END);
	*out = calloc(1, (size_t)lo + 1);
	*err = calloc(1, (size_t)le + 1);
	if (pread(fileno(o), *out, (size_t)lo, 0) < 0 ||
	    pread(fileno(r), *err, (size_t)le, 0) < 0)
		st = -2;
	fclose(o);
	fclose(r);
	return st;
}

/* out is "item K" for K in 0..n-1 but not for lo..hi-1. */
static int
lost_only(const char *out, size_t n, size_t lo, size_t hi)
{
	struct bm_buf b = BM_BUF_INIT;
	size_t i;
	int same;

	for (i = 0; i < n; i++)
		if (i < lo || i >= hi)
			bm_buf_addf(&b, "item %zu\n", i);
	same = strcmp(bm_buf_str(&b), out) == 0;
	bm_buf_free(&b);
	return same;
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	char *out, *err, *want_out, *want_err;
	size_t i, lo = 0, le = 0;
	FILE *wo, *we;
	int st;

	wo = open_memstream(&want_out, &lo);
	we = open_memstream(&want_err, &le);
	for (i = 0; i < 2000; i++) {
		fprintf(wo, "item %zu\n", i);
		fprintf(we, "note %zu\n", i);
	}
	fclose(wo);
	fclose(we);

	st = captured(2000, 10, item, &out, &err, &e);
	is_int(st, 1, "the largest item status is returned");
	ok(strcmp(out, want_out) == 0, "stdout is in item order");
	ok(strcmp(err, want_err) == 0, "stderr is in item order");
	free(out), free(err);

	st = captured(5, 10, item, &out, &err, &e);
	is_int(st, 0, "few items run in this process");
	is(out, "item 0\nitem 1\nitem 2\nitem 3\nitem 4\n", "in order");
	free(out), free(err);

	/* With one CPU there is no worker, and the crash would be ours. */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		self = getpid();
		st = captured(1000, 10, crash, &out, &err, &e);
		is_int(st, -1, "a worker killed by a signal is an error");
		ok(e.msg && sscanf(e.msg, "worker for items %zu..%zu killed by "
		    "signal 9", &lo, &le) == 2 && lo >= 1 && le >= lo &&
		    le <= 1000,
		    "naming its chunk of items and the signal");
		/* Every item but the lost chunk's, in order. */
		ok(lost_only(out, 1000, lo - 1, le),
		    "the other chunks' output is kept, in order");
		free(out), free(err);
	}
	bm_error_clear(&e);
	free(want_out), free(want_err);
	return done_testing();
}
