/*
 * spawn.h: child processes for the exec provider, as xe runs them: /bin/sh
 * -c COMMAND in its own process group, input written to its stdin and its
 * stdout collected through non-blocking pipes the caller polls, the whole
 * group killed on timeout.  stderr is inherited or collected.
 */
#ifndef BM_SPAWN_H
#define BM_SPAWN_H

#include <sys/types.h>

#include "buf.h"
#include "err.h"

struct bm_child {
	pid_t pid;		/* also the process group id */
	int in_fd;		/* our end of its stdin; -1 once closed */
	int out_fd;		/* our end of its stdout; -1 at EOF */
	struct bm_buf in;	/* what is still to be written */
	size_t in_off;
	struct bm_buf out;	/* what it wrote */
	int err_fd;		/* our end of its stderr when captured; -1 */
	struct bm_buf err;	/* what it wrote there, not yet taken */
	int exited;		/* reaped */
	int status;		/* waitpid status once exited */
};

/* Start command with input on its stdin; 0, or -1 with e. */
int bm_spawn(const char *command, const char *input, size_t len,
    struct bm_child *c, struct bm_error *e);
/*
 * bm_spawn with the variables named in drop (NULL-ended) not passed on,
 * and with capture_err its stderr collected in c->err (else inherited).
 */
int bm_spawn_env(const char *command, const char *input, size_t len,
    const char *const *drop, int capture_err, struct bm_child *c,
    struct bm_error *e);
/*
 * Do the I/O that poll said is possible (or try when unsure), then reap
 * if stdout is at EOF.  Returns 1 once the child has exited and its
 * stdout is drained, else 0.
 */
int bm_spawn_step(struct bm_child *c);
/* Kill the process group (SIGKILL) and reap; the child is then done. */
void bm_spawn_kill(struct bm_child *c);
/* Close the pipes and free the buffers (kills first if still running). */
void bm_spawn_free(struct bm_child *c);
/*
 * Describe how it ended into b: "" for exit 0, "exited with status N",
 * "killed by signal N".  Returns the exit code, or -1 for a signal.
 */
int bm_spawn_describe(const struct bm_child *c, struct bm_buf *b);

#endif
