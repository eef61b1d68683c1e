/*
 * replay.c: a main for a libFuzzer target built without libFuzzer (gcc,
 * make check).  Every file of the directories in REPLAY_DIRS (relative to
 * $BM_SRCDIR, space-separated) is passed once to LLVMFuzzerTestOneInput, a
 * TAP line each.  The targets abort when an invariant breaks, so they keep
 * building and their seeds, and the fixtures, keep passing in every test
 * run, under the sanitizers in scripts/test's second build.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "tap.h"
#include "walk.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replay every regular file directly in dir. */
static void
replay_dir(const char *dir)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_buf path = BM_BUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	char *data;
	size_t len;

	if (!ok(d != NULL, dir))
		return;
	while ((de = readdir(d)) != NULL) {
		bm_buf_reset(&path);
		bm_buf_addf(&path, "%s/%s", dir, de->d_name);
		if (stat(bm_buf_str(&path), &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (bm_read_file(bm_buf_str(&path), &data, &len, &e) < 0) {
			ok(0, bm_error_str(&e));
			continue;
		}
		/* 0 is all a target may return; a broken invariant aborts. */
		ok(LLVMFuzzerTestOneInput((const uint8_t *)data, len) == 0,
		    bm_buf_str(&path));
		free(data);
	}
	closedir(d);
	bm_buf_free(&path);
	bm_error_clear(&e);
}

int
main(void)
{
	const char *top = getenv("BM_SRCDIR");
	char *dirs = xstrdup(REPLAY_DIRS), *dir, *save = NULL;
	struct bm_buf path = BM_BUF_INIT;

	for (dir = strtok_r(dirs, " ", &save); dir;
	    dir = strtok_r(NULL, " ", &save)) {
		bm_buf_reset(&path);
		bm_buf_addf(&path, "%s/%s", top ? top : ".", dir);
		replay_dir(bm_buf_str(&path));
	}
	bm_buf_free(&path);
	free(dirs);
	return done_testing();
}
