/* test-lines: an input's lines on worker threads, back in input order. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "lines.h"
#include "tap.h"
#include "xalloc.h"

/* A worker: how many lines and bytes it saw. */
struct counter {
	long lines;
};

/* What a block held: its lines joined again, with '\n' after each. */
static void
work(void *arg, struct bm_block *b)
{
	struct counter *c = arg;
	struct bm_buf *o = xcalloc(1, sizeof(*o));
	const char *line;
	size_t pos = 0, len;

	while (bm_lines_next(b, &pos, &line, &len)) {
		bm_buf_add(o, line, len);
		bm_buf_addc(o, '\n');
	}
	c->lines += b->nlines;
	b->data = o;
}

struct joined {
	struct bm_buf all;
	long lines, calls;
	unsigned long long seq;
	int ordered;
};

static void
done(void *arg, struct bm_block *b)
{
	struct joined *j = arg;
	struct bm_buf *o = b->data;

	j->ordered &= b->seq == j->seq++ && b->first == j->lines;
	j->lines += b->nlines;
	j->calls++;
	bm_buf_add(&j->all, o->s, o->len);
	bm_buf_free(o);
	free(o);
}

/* The file's text with '\n' after its last line. */
static char *
expect(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	struct bm_buf b = BM_BUF_INIT;
	char chunk[65536];
	size_t k;

	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		bm_buf_add(&b, chunk, k);
	fclose(f);
	if (b.len && b.s[b.len - 1] != '\n')
		bm_buf_addc(&b, '\n');
	return bm_buf_detach(&b, n);
}

int
main(void)
{
	char path[] = "/tmp/test-lines.XXXXXX";
	struct counter c[3];
	void *w[3] = { &c[0], &c[1], &c[2] };
	struct bm_lines l;
	struct bm_block **bs;
	struct bm_error e = BM_ERROR_INIT;
	struct joined j;
	size_t nb, i, want_len;
	char *want, *big;
	long lines = 0, total, first;
	int fd, ordered, nw;
	FILE *f;

	/* 200,000 short lines, one of 5 MB (over two blocks), no last \n. */
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	for (i = 0; i < 200000; i++, lines++) {
		fprintf(f, "{\"n\":%zu}\n", i);
		if (i == 100000) {
			big = xmalloc(5 << 20);
			memset(big, 'x', 5 << 20);
			fwrite(big, 1, 5 << 20, f);
			fputc('\n', f);
			free(big);
			lines++;
		}
	}
	fputs("last", f);
	lines++;
	fclose(f);
	want = expect(path, &want_len);

	for (nw = 0; nw <= 3; nw += 3) {
		/* With done: in order on this thread. */
		memset(c, 0, sizeof(c));
		memset(&l, 0, sizeof(l));
		memset(&j, 0, sizeof(j));
		j.ordered = 1;
		j.seq = 7;
		l.work = work;
		l.w = w;
		l.nw = nw ? (size_t)nw : 1;
		l.done = done;
		l.arg = &j;
		l.seq = 7;
		fd = open(path, O_RDONLY);
		is_int(bm_lines_read(&l, fd, path, NULL, NULL, &e), 0,
		    "the file is read");
		close(fd);
		ok(j.ordered, "done sees the blocks in input order, first "
		    "counting the lines before");
		is_int(j.lines, lines, "every line is seen once");
		is_int(c[0].lines + c[1].lines + c[2].lines, lines,
		    "by the workers");
		ok(j.all.len == want_len && memcmp(j.all.s, want,
		    want_len) == 0, "the lines joined are the file");
		is_int((long)l.seq, 7 + j.calls, "seq goes on from where it "
		    "was");
		bm_buf_free(&j.all);

		/* Without done: the blocks come back in order. */
		l.done = NULL;
		l.seq = 0;
		fd = open(path, O_RDONLY);
		is_int(bm_lines_read(&l, fd, path, &bs, &nb, &e), 0,
		    "read again, blocks returned");
		close(fd);
		ordered = 1;
		for (i = 0, first = 0, total = 0; i < nb; i++) {
			struct bm_buf *o = bs[i]->data;

			ordered &= bs[i]->seq == i && bs[i]->first == first &&
			    bs[i]->buf == NULL;
			first += bs[i]->nlines;
			total += (long)o->len;
			bm_buf_free(o);
			free(o);
		}
		ok(ordered, "returned in order, lines before each counted");
		is_int(first, lines, "all lines");
		is_int(total, (long)want_len, "all bytes");
		bm_lines_free(bs, nb);
	}

	/* A read error: the message names the input. */
	memset(&l, 0, sizeof(l));
	l.work = work;
	l.w = w;
	l.nw = 1;
	is_int(bm_lines_read(&l, 9999, "gone", &bs, &nb, &e), -1,
	    "a bad descriptor fails");
	is(bm_error_str(&e), "gone: Bad file descriptor", "with its name");
	bm_lines_free(bs, nb);
	ok(bm_lines_threads(0) >= 1 && bm_lines_threads(100) == 8 &&
	    bm_lines_threads(2) == 2, "threads: 1 to 8");
	bm_error_clear(&e);
	free(want);
	unlink(path);
	return done_testing();
}
