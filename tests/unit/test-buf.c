/* test-buf: growable strings never truncate. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "xalloc.h"

int
main(void)
{
	struct bm_buf b = BM_BUF_INIT;
	char *big, *s;
	size_t len, i;

	is(bm_buf_str(&b), "", "an empty buffer reads as \"\"");
	bm_buf_adds(&b, "abc");
	bm_buf_addc(&b, 'd');
	bm_buf_addf(&b, "-%d-%s", 42, "x");
	is(bm_buf_str(&b), "abcd-42-x", "adds, addc and addf append");
	is_int(b.len, 9, "length counts the bytes");
	bm_buf_add(&b, "\0z", 2);
	is_int(b.len, 11, "embedded NUL bytes are kept");
	ok(b.s[9] == '\0' && b.s[10] == 'z' && b.s[11] == '\0',
	    "and the buffer stays NUL-terminated");
	bm_buf_reset(&b);
	is(bm_buf_str(&b), "", "reset empties");

	/* A formatted string far larger than the first allocation. */
	big = xmalloc(100001);
	memset(big, 'q', 100000);
	big[100000] = '\0';
	bm_buf_addf(&b, "<%s>", big);
	is_int(b.len, 100002, "addf grows for a 100 kB string");
	ok(b.s[0] == '<' && b.s[100001] == '>', "with nothing truncated");
	free(big);

	for (i = 0; i < 10000; i++)
		bm_buf_addc(&b, 'x');
	is_int(b.len, 110002, "10000 single bytes appended");

	s = bm_buf_detach(&b, &len);
	is_int(len, 110002, "detach gives the length");
	ok(b.s == NULL && b.len == 0, "and leaves the buffer empty");
	free(s);
	s = bm_buf_detach(&b, NULL);
	is(s, "", "detaching an empty buffer gives \"\", not NULL");
	free(s);
	bm_buf_free(&b);
	return done_testing();
}
