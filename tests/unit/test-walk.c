/* test-walk: finding benchmark files, and reading them whole. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int
main(void)
{
	char tmpl[] = "/tmp/bm-test-walk-XXXXXX";
	struct bm_error e = BM_ERROR_INIT;
	struct bm_files f = { NULL, 0 };
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
	bm_files_free(&f);

	p = xasprintf("%s/notes.txt", root);
	ok(bm_walk(p, &f, &e) == 0 && f.n == 1, "a file named is taken as is");
	bm_files_free(&f);
	free(p);
	ok(bm_walk("-", &f, &e) == 0 && f.n == 1 &&
	    strcmp(f.paths[0], "-") == 0, "- is stdin");
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

	bm_error_clear(&e);
	ok(nftw(root, rm, 16, FTW_DEPTH | FTW_PHYS) == 0, "clean up");
	return done_testing();
}
