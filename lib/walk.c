/* walk.c: directory search for benchmark files, and whole-file reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "walk.h"
#include "xalloc.h"

static void
add(struct bm_files *files, char *path)
{
	files->paths = xreallocarray(files->paths, files->n + 1,
	    sizeof(*files->paths));
	files->paths[files->n++] = path;
}

static int
is_yaml(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	    (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

struct entry {
	char *path;
	int dir;
};

static int
cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
	    ((const struct entry *)b)->path);
}

/* File type from the directory entry, with stat only where it is unknown. */
static int
kind(const char *path, const struct dirent *de, struct bm_error *e)
{
	struct stat st;

	if (de->d_type == DT_DIR)
		return 'd';
	if (de->d_type == DT_REG)
		return 'f';
	if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
		return 0;
	if (stat(path, &st) < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 0;
}

static int
walk_dir(const char *dir, struct bm_files *files, struct bm_error *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct entry *ents = NULL;
	size_t n = 0, i;
	int rc = 0, k;
	char *p;

	if (!d) {
		bm_error_set(e, dir, 0, 0, "%s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s%s%s", dir,
		    dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
		k = kind(p, de, e);
		if (k == 'd' || (k == 'f' && is_yaml(de->d_name))) {
			ents = xreallocarray(ents, n + 1, sizeof(*ents));
			ents[n].path = p;
			ents[n++].dir = k == 'd';
			continue;
		}
		if (k < 0)
			rc = -1;
		free(p);
	}
	closedir(d);
	/* Byte order at each level: a/b.yml sorts with a's entries. */
	qsort(ents, n, sizeof(*ents), cmp);
	for (i = 0; i < n; i++) {
		if (!ents[i].dir) {
			add(files, ents[i].path);
			continue;
		}
		if (walk_dir(ents[i].path, files, e) < 0)
			rc = -1;
		free(ents[i].path);
	}
	free(ents);
	return rc;
}

int
bm_walk(const char *path, struct bm_files *files, struct bm_error *e)
{
	struct stat st;

	if (strcmp(path, "-") == 0) {
		add(files, xstrdup(path));
		return 0;
	}
	if (stat(path, &st) < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return walk_dir(path, files, e);
	add(files, xstrdup(path));
	return 0;
}

void
bm_files_free(struct bm_files *files)
{
	size_t i;

	for (i = 0; i < files->n; i++)
		free(files->paths[i]);
	free(files->paths);
	files->paths = NULL;
	files->n = 0;
}

int
bm_read_file(const char *path, char **data, size_t *len, struct bm_error *e)
{
	struct bm_buf b = BM_BUF_INIT;
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	struct stat st = { 0 };
	ssize_t r;

	if (fd < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		bm_error_set(e, path, 0, 0, "%s", strerror(EISDIR));
		close(fd);
		return -1;
	}
	/* One read for a regular file of known size; grow otherwise. */
	bm_buf_grow(&b, S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096);
	for (;;) {
		if (b.cap - b.len < 2)
			bm_buf_grow(&b, b.cap);
		r = read(fd, b.s + b.len, b.cap - b.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bm_error_set(e, path, 0, 0, "%s", strerror(errno));
			bm_buf_free(&b);
			if (fd != 0)
				close(fd);
			return -1;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
	}
	b.s[b.len] = '\0';
	if (fd != 0)
		close(fd);
	*data = bm_buf_detach(&b, len);
	return 0;
}
