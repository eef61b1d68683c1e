/* walk.h: find benchmark files: *.yml and *.yaml under directories, sorted. */
#ifndef BM_WALK_H
#define BM_WALK_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct bm_files {
	char **paths;
	unsigned char *regular;	/* paths[i] was seen to be a regular file */
	size_t n;
	/* Told what a walk skips (a cycle, a FIFO), when not NULL. */
	void (*warn)(void *arg, const struct bm_error *e);
	void *warn_arg;
};

/*
 * Append what path names to files: "-" or a regular file as given; a
 * directory searched recursively for *.yml and *.yaml (hidden entries
 * skipped), in byte order of path.  Each directory is walked once (by
 * device and inode): one reached again through a symbolic link is
 * skipped, one that leads back to a directory being walked (a cycle) is
 * skipped and told to files->warn, and so is a *.yml that is not a
 * regular file (a FIFO).  A file reached through a link and also by
 * another name is kept once.  0, or -1 with e ("path: No such file or
 * directory") when path or a directory inside it cannot be read, or
 * path is neither a directory nor a regular file ("path: not a regular
 * file": a FIFO's open could wait for ever).
 */
int bm_walk(const char *path, struct bm_files *files, struct bm_error *e);
/* Free the list. */
void bm_files_free(struct bm_files *files);
/* Read a whole file ("-": stdin) into *data; 0, or -1 with e ("path: ..."). */
int bm_read_file(const char *path, char **data, size_t *len,
    struct bm_error *e);

/*
 * Reads many files one after another into one reused buffer, each opened
 * relative to its directory, kept open while the next file is in it.
 */
struct bm_reader {
	struct bm_buf buf;
	char *dir;		/* "a/b/" of the last path, or NULL */
	int dirfd;		/* open on dir, or -1 */
};

#define BM_READER_INIT { BM_BUF_INIT, NULL, -1 }

/*
 * bm_read_file into r: *data (NUL-terminated) stays valid until the next
 * call.  With regular set (bm_files.regular), path is taken for a regular
 * file without asking again: a short read is its end.  0, or -1 with e.
 */
int bm_reader_read(struct bm_reader *r, const char *path, int regular,
    const char **data, size_t *len, struct bm_error *e);
/* Close and free what r holds. */
void bm_reader_free(struct bm_reader *r);

/* Reads a list of files ahead, on a thread of its own, in order. */
struct bm_prefetch;
/* Start reading files (kept by the caller until bm_prefetch_free). */
struct bm_prefetch *bm_prefetch_start(const struct bm_files *files);
/*
 * The next file of the list: 1 with *data (NUL-terminated, valid until
 * the next call) and *len, 0 after the last, or -1 with e when that file
 * could not be read (the next call goes on with the following one).
 */
int bm_prefetch_next(struct bm_prefetch *p, const char **data, size_t *len,
    struct bm_error *e);
/* Stop reading and free. */
void bm_prefetch_free(struct bm_prefetch *p);

#endif
