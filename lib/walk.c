/* walk.c: directory search for benchmark files, and whole-file reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "map.h"
#include "walk.h"
#include "xalloc.h"

static void
add(struct bm_files *files, char *path, int regular)
{
	/* Capacity: the next power of two. */
	if ((files->n & (files->n - 1)) == 0) {
		files->paths = xreallocarray(files->paths,
		    files->n ? 2 * files->n : 1, sizeof(*files->paths));
		files->regular = xreallocarray(files->regular,
		    files->n ? 2 * files->n : 1, 1);
	}
	files->regular[files->n] = regular != 0;
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
	uint64_t key;	/* the name's first 8 bytes, big-endian, 0-padded */
	char *path;
	size_t name;	/* where the entry's own name starts in path */
	int dir;
	int link;	/* reached through a symbolic link */
};

/*
 * Entries of one directory: their names decide, in strcmp order.  The key
 * orders as the first 8 bytes do, so most comparisons need no strcmp.
 */
static int
cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->path + x->name, y->path + y->name);
}

static uint64_t
key(const char *name, size_t len)
{
	uint64_t k = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		k = k << 8 | (i < len ? (unsigned char)name[i] : 0);
	return k;
}

/* A directory or file by identity: device and inode. */
struct ident {
	uint64_t dev, ino;
};

static struct ident
ident(const struct stat *st)
{
	struct ident id;

	id.dev = (uint64_t)st->st_dev;
	id.ino = (uint64_t)st->st_ino;
	return id;
}

/* One bm_walk: the tree of one operand. */
struct walk {
	struct bm_files *files;
	struct bm_error *e;
	struct bm_map *dirs;	/* ident -> struct seen */
	size_t first;		/* files->paths[first..] are this walk's */
	size_t *links;		/* files reached by a symbolic link */
	size_t nlinks;
};

/* A directory entered: done once all below it was walked. */
struct seen {
	int done;
	char path[];
};

/* Report what is skipped to the caller's warn, if any. */
static void
skipped(const struct walk *w, const char *path, const char *fmt,
    const char *arg)
{
	struct bm_error e = BM_ERROR_INIT;

	if (!w->files->warn)
		return;
	bm_error_set(&e, path, 0, 0, fmt, arg);
	w->files->warn(w->files->warn_arg, &e);
	bm_error_clear(&e);
}

/*
 * File type from the directory entry, with stat only where it is unknown
 * or a symbolic link (then *link is set).
 */
static int
kind(const char *path, const struct dirent *de, int *link,
    struct bm_error *e)
{
	struct stat st;

	*link = de->d_type == DT_LNK;
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

/*
 * Enter dir once: a directory already walked (reached again through a
 * link) is skipped, and one being walked (a link back up: a cycle) is
 * skipped with a warning.  The entry to mark done, or NULL to skip.
 */
static struct seen *
enter(struct walk *w, DIR *d, const char *dir)
{
	struct stat st;
	struct ident id;
	struct seen *s;
	size_t n = strlen(dir);

	if (fstat(dirfd(d), &st) < 0)
		return xcalloc(1, sizeof(*s) + 1);	/* not known: walk */
	id = ident(&st);
	s = bm_map_getn(w->dirs, (const char *)&id, sizeof(id));
	if (s) {
		if (!s->done)
			skipped(w, dir, "directory cycle (back to %s), "
			    "skipped", s->path);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s) + n + 1);
	memcpy(s->path, dir, n + 1);
	bm_map_putn(w->dirs, (const char *)&id, sizeof(id), s);
	return s;
}

static int
walk_dir(struct walk *w, const char *dir)
{
	struct bm_files *files = w->files;
	DIR *d = opendir(dir);
	struct dirent *de;
	struct entry *ents = NULL;
	struct seen *s;
	size_t n = 0, cap = 0, i, dlen = strlen(dir), nlen;
	int rc = 0, k, link, slash = dlen > 0 && dir[dlen - 1] != '/';
	char *p;

	if (!d) {
		bm_error_set(w->e, dir, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (!(s = enter(w, d, dir))) {
		closedir(d);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (de->d_type == DT_REG && !is_yaml(de->d_name)))
			continue;
		nlen = strlen(de->d_name);
		p = xmalloc(dlen + slash + nlen + 1);
		memcpy(p, dir, dlen);
		p[dlen] = '/';
		memcpy(p + dlen + slash, de->d_name, nlen + 1);
		k = kind(p, de, &link, w->e);
		if (k == 'd' || (k == 'f' && is_yaml(de->d_name))) {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				ents = xreallocarray(ents, cap, sizeof(*ents));
			}
			ents[n].key = key(de->d_name, nlen);
			ents[n].path = p;
			ents[n].name = dlen + slash;
			ents[n].link = link;
			ents[n++].dir = k == 'd';
			continue;
		}
		if (k < 0)
			rc = -1;
		/* A FIFO's open would wait for a writer: never read one. */
		if (k == 0 && is_yaml(de->d_name))
			skipped(w, p, "%s", "not a regular file, skipped");
		free(p);
	}
	closedir(d);
	/* Byte order at each level: a/b.yml sorts with a's entries. */
	if (n)
		qsort(ents, n, sizeof(*ents), cmp);
	for (i = 0; i < n; i++) {
		if (!ents[i].dir) {
			if (ents[i].link) {
				w->links = xreallocarray(w->links,
				    w->nlinks + 1, sizeof(*w->links));
				w->links[w->nlinks++] = files->n;
			}
			add(files, ents[i].path, 1);
			continue;
		}
		if (walk_dir(w, ents[i].path) < 0)
			rc = -1;
		free(ents[i].path);
	}
	free(ents);
	s->done = 1;
	if (!s->path[0])
		free(s);	/* not in the map */
	return rc;
}

/*
 * A file reached through a symbolic link and also under its own name (or
 * through another link) is kept once, under its first name not a link.
 */
static void
unlink_twins(struct walk *w)
{
	struct bm_files *f = w->files;
	struct bm_map *ids = bm_map_new();
	unsigned char *drop = xcalloc(f->n - w->first, 1);
	struct ident id;
	struct stat st;
	size_t i, k, j;

	for (k = 0; k < 2; k++)
		for (i = w->first, j = 0; i < f->n; i++) {
			/* Pass 0: the names that are no link; 1: links. */
			while (j < w->nlinks && w->links[j] < i)
				j++;
			if ((j < w->nlinks && w->links[j] == i) != (int)k ||
			    stat(f->paths[i], &st) < 0)
				continue;
			id = ident(&st);
			if (bm_map_getn(ids, (const char *)&id, sizeof(id))) {
				if (k)
					drop[i - w->first] = 1;
			} else
				bm_map_putn(ids, (const char *)&id,
				    sizeof(id), f);
		}
	for (i = j = w->first; i < f->n; i++) {
		if (drop[i - w->first]) {
			free(f->paths[i]);
			continue;
		}
		f->paths[j] = f->paths[i];
		f->regular[j++] = f->regular[i];
	}
	f->n = j;
	free(drop);
	bm_map_free(ids, NULL);
}

int
bm_walk(const char *path, struct bm_files *files, struct bm_error *e)
{
	struct walk w;
	struct stat st;
	int rc;

	if (strcmp(path, "-") == 0) {
		add(files, xstrdup(path), 0);
		return 0;
	}
	if (stat(path, &st) < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		add(files, xstrdup(path), 1);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		/* A FIFO or a device may never end: "-" reads a pipe. */
		bm_error_set(e, path, 0, 0, "not a regular file");
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.files = files;
	w.e = e;
	w.dirs = bm_map_new();
	w.first = files->n;
	rc = walk_dir(&w, path);
	if (w.nlinks)
		unlink_twins(&w);
	bm_map_free(w.dirs, free);
	free(w.links);
	return rc;
}

void
bm_files_free(struct bm_files *files)
{
	size_t i;

	for (i = 0; i < files->n; i++)
		free(files->paths[i]);
	free(files->paths);
	free(files->regular);
	files->paths = NULL;
	files->regular = NULL;
	files->n = 0;
}

/*
 * Read fd (path in messages, known its stat when not NULL) to its end
 * into b, then close it unless it is stdin.  A regular file is read with
 * one read(2) of its size and one byte more (or of b's room, at least a
 * page, when its size is not known): the short read is its end.
 */
static int
slurp(int fd, const char *path, const struct stat *known, struct bm_buf *b,
    struct bm_error *e)
{
	struct stat st = { 0 };
	size_t want;
	ssize_t r;
	int rc = 0;

	if (known)
		st = *known;
	else if (fstat(fd, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	bm_buf_grow(b, S_ISREG(st.st_mode) && (size_t)st.st_size >= 4096 ?
	    (size_t)st.st_size + 1 : 4096);
	for (;;) {
		if (b->cap - b->len < 2)
			bm_buf_grow(b, b->cap);
		want = b->cap - b->len - 1;
		r = read(fd, b->s + b->len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		b->len += (size_t)r;
		if (r == 0 || (S_ISREG(st.st_mode) && (size_t)r < want))
			break;
	}
	b->s[b->len] = '\0';
	goto out;
fail:
	bm_error_set(e, path, 0, 0, "%s", strerror(errno));
	rc = -1;
out:
	if (fd != 0)
		close(fd);
	return rc;
}

int
bm_read_file(const char *path, char **data, size_t *len, struct bm_error *e)
{
	struct bm_buf b = BM_BUF_INIT;
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (slurp(fd, path, NULL, &b, e) < 0) {
		bm_buf_free(&b);
		return -1;
	}
	*data = bm_buf_detach(&b, len);
	return 0;
}

/*
 * Read path into b, opening it relative to r's directory; 0 or -1 and e.
 * known: path is a regular file (bm_files.regular), no need to ask.  With
 * only_regular set, only a regular file, else 1 and nothing opened: a
 * FIFO's open or a device's read may wait for ever, and opening a FIFO
 * is already reading from it (the caller reads it).
 */
static int
read_into(struct bm_reader *r, const char *path, int known, struct bm_buf *b,
    int only_regular, struct bm_error *e)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) + 1 : 0;
	int fl = O_RDONLY | O_CLOEXEC | (only_regular ? O_NONBLOCK : 0);
	struct stat st = { 0 };
	int fd;

	if (strcmp(path, "-") == 0) {
		if (only_regular)
			return 1;
		fd = 0;
	} else {
		/* The directory of the last file, opened once for its files. */
		if (!r->dir || strlen(r->dir) != n ||
		    memcmp(r->dir, path, n) != 0) {
			if (r->dirfd >= 0)
				close(r->dirfd);
			free(r->dir);
			r->dir = xstrndup(path, n);
			r->dirfd = n ? open(r->dir, O_PATH | O_DIRECTORY |
			    O_CLOEXEC) : -1;
		}
		if (known)
			st.st_mode = S_IFREG;	/* its size: the read tells */
		else if (only_regular && (fstatat(r->dirfd >= 0 ? r->dirfd :
		    AT_FDCWD, r->dirfd >= 0 ? path + n : path, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode)))
			return 1;
		fd = r->dirfd >= 0 ? openat(r->dirfd, path + n, fl) :
		    open(path, fl);
	}
	if (fd < 0) {
		bm_error_set(e, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	bm_buf_reset(b);
	return slurp(fd, path, S_ISREG(st.st_mode) ? &st : NULL, b, e);
}

int
bm_reader_read(struct bm_reader *r, const char *path, int regular,
    const char **data, size_t *len, struct bm_error *e)
{
	if (read_into(r, path, regular, &r->buf, 0, e) < 0)
		return -1;
	*data = bm_buf_str(&r->buf);
	*len = r->buf.len;
	return 0;
}

void
bm_reader_free(struct bm_reader *r)
{
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->dir);
	bm_buf_free(&r->buf);
	r->dir = NULL;
	r->dirfd = -1;
}

/* --- reading ahead ------------------------------------------------------- */

/*
 * A thread reads the files into a ring of NSLOTS buffers while the caller
 * works on earlier ones; file k goes to slot k % NSLOTS.  Either side
 * waits for a quarter of the ring before it wakes the other: a wake is a
 * system call, and one per file would cost what the thread saves.
 */
#define NSLOTS 64

struct pslot {
	struct bm_buf buf;
	struct bm_error err;
	int rc;
};

struct bm_prefetch {
	const struct bm_files *files;
	size_t n;
	struct pslot slot[NSLOTS];
	size_t filled;		/* files read, under mu */
	size_t taken;		/* files handed out and given back, under mu */
	int held;		/* the caller holds file taken */
	int stop;
	int rwait, mwait;	/* the reader, the caller is waiting */
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct bm_reader r;		/* the thread's */
	struct bm_reader mine;		/* the caller's, for what r left */
};

static void *
prefetch(void *arg)
{
	struct bm_prefetch *p = arg;
	struct pslot *s;
	size_t k;

	for (k = 0; k < p->n; k++) {
		pthread_mutex_lock(&p->mu);
		while (k - p->taken >= NSLOTS && !p->stop) {
			p->rwait = 1;
			pthread_cond_wait(&p->cond, &p->mu);
			p->rwait = 0;
		}
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);
		s = &p->slot[k % NSLOTS];
		bm_error_clear(&s->err);
		s->rc = read_into(&p->r, p->files->paths[k],
		    p->files->regular[k], &s->buf, 1, &s->err);
		pthread_mutex_lock(&p->mu);
		p->filled = k + 1;
		if (p->mwait && (p->filled - p->taken >= NSLOTS / 4 ||
		    p->filled == p->n))
			pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

struct bm_prefetch *
bm_prefetch_start(const struct bm_files *files)
{
	struct bm_prefetch *p = xcalloc(1, sizeof(*p));
	size_t n = files->n;

	p->files = files;
	p->n = n;
	p->r.dirfd = -1;
	p->mine.dirfd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->running = n > 0 && pthread_create(&p->thread, NULL, prefetch,
	    p) == 0;
	return p;
}

int
bm_prefetch_next(struct bm_prefetch *p, const char **data, size_t *len,
    struct bm_error *e)
{
	struct pslot *s;
	size_t want;

	pthread_mutex_lock(&p->mu);
	if (p->held) {
		p->taken++;
		p->held = 0;
		if (p->rwait && p->filled - p->taken <= NSLOTS * 3 / 4)
			pthread_cond_signal(&p->cond);
	}
	if (p->taken >= p->n) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	if (!p->running) {
		/* No thread: read it here. */
		pthread_mutex_unlock(&p->mu);
		s = &p->slot[0];
		s->rc = 1;
		pthread_mutex_lock(&p->mu);
	} else {
		want = p->taken + NSLOTS / 4 < p->n ? p->taken + NSLOTS / 4 :
		    p->n;
		/* Nothing read yet: wait for a quarter of the ring. */
		while (p->filled <= p->taken && p->filled < want) {
			p->mwait = 1;
			pthread_cond_wait(&p->cond, &p->mu);
			p->mwait = 0;
		}
		s = &p->slot[p->taken % NSLOTS];
	}
	p->held = 1;
	pthread_mutex_unlock(&p->mu);
	if (s->rc == 1) {
		bm_error_clear(&s->err);
		s->rc = read_into(&p->mine, p->files->paths[p->taken],
		    p->files->regular[p->taken], &s->buf, 0, &s->err);
	}
	if (s->rc < 0) {
		bm_error_set(e, s->err.file, 0, 0, "%s", s->err.msg);
		return -1;
	}
	*data = bm_buf_str(&s->buf);
	*len = s->buf.len;
	return 1;
}

void
bm_prefetch_free(struct bm_prefetch *p)
{
	size_t i;

	if (!p)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	for (i = 0; i < NSLOTS; i++) {
		bm_buf_free(&p->slot[i].buf);
		bm_error_clear(&p->slot[i].err);
	}
	bm_reader_free(&p->r);
	bm_reader_free(&p->mine);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p);
}
