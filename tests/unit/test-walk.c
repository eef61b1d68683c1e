/* test-walk: finding benchmark files, and reading them whole. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "walk.h"
#include "xalloc.h"

static char *root;

static int
rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void
put(const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", root, rel);
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(p);
}

static void
dir(const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);

	mkdir(p, 0755);
	free(p);
}

/*
 * A known regular file is read without asking its size: a short read is
 * its end.  Sizes around the first read's (a page) and far above it, with
 * one reader for all as bm-hash has, largest first and last.
 */
static void
sizes(void)
{
	static const size_t n[] = { 70000, 0, 1, 4095, 4096, 4097, 8192,
		100, 70001 };
	struct bm_reader r = BM_READER_INIT;
	struct bm_error e = BM_ERROR_INIT;
	const char *data;
	char *p, *want, what[64];
	size_t i, len;
	int good;

	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		want = xmalloc(n[i] + 1);
		memset(want, 'a' + (int)i, n[i]);
		want[n[i]] = '\0';
		put("size.yml", want);
		p = xasprintf("%s/size.yml", root);
		good = bm_reader_read(&r, p, 1, &data, &len, &e) == 0 &&
		    len == n[i] && strcmp(data, want) == 0;
		snprintf(what, sizeof(what), "a regular file of %zu bytes",
		    n[i]);
		ok(good, what);
		free(p);
		free(want);
	}
	bm_reader_free(&r);
}

/*
 * A FIFO named on the command line is an error, never a wait for a
 * writer; read as a stream (as "-" is), it is read to EOF.
 */
static void
fifo(void)
{
	struct bm_files f = { 0 };
	struct bm_reader r = BM_READER_INIT;
	struct bm_error e = BM_ERROR_INIT;
	char *p = xasprintf("%s/pipe.yml", root), *want;
	const char *data;
	size_t len;
	pid_t pid;
	int fd;

	ok(mkfifo(p, 0600) == 0 && bm_walk(p, &f, &e) < 0 && f.n == 0,
	    "a FIFO operand is an error");
	want = xasprintf("%s: not a regular file", p);
	is(bm_error_str(&e), want, "naming it");
	free(want);
	bm_error_clear(&e);
	pid = fork();
	if (pid == 0) {
		/* Two writes: a short read is not the end of a FIFO. */
		fd = open(p, O_WRONLY);
		if (write(fd, "a: 1\n", 5) != 5)
			_exit(1);
		usleep(50000);
		if (write(fd, "b: 2\n", 5) != 5)
			_exit(1);
		_exit(0);
	}
	ok(bm_reader_read(&r, p, 0, &data, &len, &e) == 0 && strcmp(data, "a: 1\nb: 2\n") == 0,
	    "and is read to its end");
	waitpid(pid, NULL, 0);
	bm_reader_free(&r);
	bm_files_free(&f);
	free(p);
}

static char warned[1024];

static void
warn(void *arg, const struct bm_error *e)
{
	size_t n = strlen(warned);

	(void)arg;
	snprintf(warned + n, sizeof(warned) - n, "%s\n", bm_error_str(e));
}

static void
link_at(const char *target, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);

	if (symlink(target, p) < 0)
		perror(p);
	free(p);
}

/*
 * Symbolic links: a directory is walked once; a link back up is a cycle,
 * told once per link and skipped; a file reached by a link and by its
 * name is listed once; a FIFO among the files is skipped, told.
 */
static void
links(void)
{
	struct bm_files f = { 0 };
	struct bm_error e = BM_ERROR_INIT;
	char *top = xasprintf("%s/l", root), *want, *p;

	dir("l");
	dir("l/b");
	dir("l/c");
	put("l/b/one.yml", "1");
	link_at(".", "l/b/x");
	link_at(".", "l/b/y");
	link_at("..", "l/b/up");
	link_at("../b", "l/c/b2");
	link_at("../b/one.yml", "l/c/same.yml");
	p = xasprintf("%s/l/c/p.yml", root);
	mkfifo(p, 0600);
	free(p);
	f.warn = warn;
	ok(bm_walk(top, &f, &e) == 0, "a tree with cycles is walked");
	is_int(f.n, 1, "each directory and file once");
	want = xasprintf("%s/b/one.yml", top);
	is(f.n > 0 ? f.paths[0] : NULL, want, "under its own name");
	free(want);
	want = xasprintf("%s/b/up: directory cycle (back to %s), skipped\n"
	    "%s/b/x: directory cycle (back to %s/b), skipped\n"
	    "%s/b/y: directory cycle (back to %s/b), skipped\n"
	    "%s/c/p.yml: not a regular file, skipped\n",
	    top, top, top, top, top, top, top);
	is(warned, want, "cycles and the FIFO told once each");
	free(want);
	bm_files_free(&f);
	bm_error_clear(&e);
	free(top);
}

int
main(void)
{
	char tmpl[] = "/tmp/bm-test-walk-XXXXXX";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_files f = { 0 };
	char *data, *p, *cmd;
	size_t len, i;

	root = mkdtemp(tmpl);
	ok(root != NULL, "a scratch directory");
	dir("b");
	dir("b/c");
	dir(".git");
	put("z.yml", "z");
	put("a.yaml", "a");
	put("b/c/x.yml", "x");
	put("b/m.yml", "m");
	put("notes.txt", "n");
	put(".hidden.yml", "h");
	put(".git/config.yml", "g");
	put("yml", "no extension");

	ok(bm_walk(root, &f, &e) == 0, "walk a tree");
	is_int(f.n, 4, "only *.yml and *.yaml, hidden entries skipped");
	p = xasprintf("%s/a.yaml", root);
	is(f.n > 0 ? f.paths[0] : NULL, p, "byte order: a.yaml first");
	free(p);
	p = xasprintf("%s/b/c/x.yml", root);
	is(f.n > 1 ? f.paths[1] : NULL, p, "then b/, depth first");
	free(p);
	p = xasprintf("%s/z.yml", root);
	is(f.n > 3 ? f.paths[3] : NULL, p, "z.yml last");
	free(p);
	ok(f.n == 4 && f.regular[0] && f.regular[1] && f.regular[2] &&
	    f.regular[3], "files found in directories are regular");
	bm_files_free(&f);

	p = xasprintf("%s/notes.txt", root);
	ok(bm_walk(p, &f, &e) == 0 && f.n == 1, "a file named is taken as is");
	bm_files_free(&f);
	free(p);
	ok(bm_walk("-", &f, &e) == 0 && f.n == 1 &&
	    strcmp(f.paths[0], "-") == 0 && !f.regular[0], "- is stdin");
	bm_files_free(&f);

	ok(bm_walk("/nonexistent/bm", &f, &e) < 0, "a missing path fails");
	is(bm_error_str(&e), "/nonexistent/bm: No such file or directory",
	    "naming it");

	p = xasprintf("%s/b/m.yml", root);
	ok(bm_read_file(p, &data, &len, &e) == 0 && len == 1 &&
	    strcmp(data, "m") == 0, "a whole file is read");
	free(data);
	free(p);
	p = xasprintf("%s/b", root);
	ok(bm_read_file(p, &data, &len, &e) < 0, "a directory is not read");
	cmd = xasprintf("%s: Is a directory", p);
	is(bm_error_str(&e), cmd, "and says so");
	free(cmd);
	free(p);

	/* A file larger than any first guess comes back whole. */
	p = xasprintf("%s/big.yml", root);
	{
		FILE *b = fopen(p, "w");

		for (i = 0; i < 300000; i++)
			fputs("0123456789", b);
		fclose(b);
	}
	ok(bm_read_file(p, &data, &len, &e) == 0 && len == 3000000,
	    "a 3 MB file is read whole");
	free(data);
	free(p);

	sizes();
	fifo();
	links();
	bm_error_clear(&e);
	ok(nftw(root, rm, 16, FTW_DEPTH | FTW_PHYS) == 0, "clean up");
	return done_testing();
}
