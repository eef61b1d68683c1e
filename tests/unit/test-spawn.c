/* test-spawn: child processes with pipes, exit status, timeouts. */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "spawn.h"
#include "tap.h"

static int
finish(struct bm_child *c, double ms)
{
	double end = bm_clock_ms() + ms;
	struct pollfd p;

	while (!bm_spawn_step(c)) {
		if (bm_clock_ms() > end)
			return 0;
		p.fd = c->out_fd;
		p.events = POLLIN;
		poll(&p, c->out_fd >= 0 ? 1 : 0, 10);
	}
	return 1;
}

int
main(void)
{
	struct bm_error e = BM_ERROR_INIT;
	struct bm_buf how = BM_BUF_INIT;
	struct bm_child c;
	static char big[300000];
	sigset_t pending;

	ok(bm_spawn("tr a-z A-Z", "hello\n", 6, &c, &e) == 0, "spawn");
	ok(finish(&c, 5000), "it finishes");
	is(c.out.s, "HELLO\n", "stdin in, stdout out");
	is_int(bm_spawn_describe(&c, &how), 0, "exit 0");
	is(bm_buf_str(&how), "", "nothing to say");
	bm_spawn_free(&c);

	memset(big, 'x', sizeof(big));
	bm_spawn("wc -c", big, sizeof(big), &c, &e);
	ok(finish(&c, 5000), "input larger than a pipe");
	is(c.out.s, "300000\n", "all of it arrives");
	bm_spawn_free(&c);

	/* SIGPIPE left at its default, as in a program that did not think
	 * of it: a child that reads nothing must not kill us. */
	bm_spawn("exit 0", big, sizeof(big), &c, &e);
	ok(finish(&c, 5000), "a child that reads nothing of its input");
	sigpending(&pending);
	ok(!sigismember(&pending, SIGPIPE) && c.in_fd < 0,
	    "no SIGPIPE, and its stdin closed");
	bm_spawn_free(&c);

	bm_spawn("exit 3", "", 0, &c, &e);
	finish(&c, 5000);
	is_int(bm_spawn_describe(&c, &how), 3, "exit status");
	is(bm_buf_str(&how), "exited with status 3", "described");
	bm_buf_reset(&how);
	bm_spawn_free(&c);

	bm_spawn("sleep 30 & sleep 30", "", 0, &c, &e);
	ok(!finish(&c, 100), "a hang does not finish");
	bm_spawn_kill(&c);
	is_int(bm_spawn_describe(&c, &how), -1, "killed");
	is(bm_buf_str(&how), "killed by signal 9", "by SIGKILL");
	ok(c.out_fd < 0, "pipes closed (the grandchild was killed too)");
	bm_spawn_free(&c);

	{
		const char *const drop[] = { "BM_TEST_HIDDEN", NULL };

		setenv("BM_TEST_HIDDEN", "secret", 1);
		setenv("BM_TEST_SEEN", "seen", 1);
		ok(bm_spawn_env("echo \"$BM_TEST_HIDDEN/$BM_TEST_SEEN\";"
		    " echo oops >&2", "", 0, drop, 1, &c, &e) == 0,
		    "spawn without a variable, stderr captured");
		ok(finish(&c, 5000), "finishes");
		is(bm_buf_str(&c.out), "/seen\n", "the dropped one is unset");
		is(bm_buf_str(&c.err), "oops\n", "stderr collected");
		bm_spawn_free(&c);
	}
	bm_buf_free(&how);
	done_testing();
}
