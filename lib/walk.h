/* walk.h: find benchmark files: *.yml and *.yaml under directories, sorted. */
#ifndef BM_WALK_H
#define BM_WALK_H

#include <stddef.h>

#include "err.h"

struct bm_files {
	char **paths;
	size_t n;
};

/*
 * Append what path names to files: "-" or a file as given; a directory
 * searched recursively for *.yml and *.yaml (hidden entries skipped), in
 * byte order of path.  0, or -1 with e ("path: No such file or directory")
 * when path or a directory inside it cannot be read.
 */
int bm_walk(const char *path, struct bm_files *files, struct bm_error *e);
/* Free the list. */
void bm_files_free(struct bm_files *files);
/* Read a whole file ("-": stdin) into *data; 0, or -1 with e ("path: ..."). */
int bm_read_file(const char *path, char **data, size_t *len,
    struct bm_error *e);

#endif
