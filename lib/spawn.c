/* spawn.c: fork/exec with pipes and a process group per child. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "spawn.h"
#include "xalloc.h"

extern char **environ;

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * write(2) that raises no SIGPIPE whatever the caller's disposition: a
 * child that exits without reading its input must not kill us.  The
 * signal is blocked for the call, and one it raised is taken back.
 */
static ssize_t
write_quiet(int fd, const void *p, size_t n)
{
	static const struct timespec now;
	sigset_t pipe, old, pending;
	int was_pending, saved;
	ssize_t r;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	r = write(fd, p, n);
	saved = errno;
	if (r < 0 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipe, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return r;
}

int
bm_spawn(const char *command, const char *input, size_t len,
    struct bm_child *c, struct bm_error *e)
{
	return bm_spawn_env(command, input, len, NULL, 0, c, e);
}

/* Is the "NAME=value" entry env one of the names in drop? */
static int
dropped(const char *env, const char *const *drop)
{
	const char *eq = strchr(env, '=');
	size_t n = eq ? (size_t)(eq - env) : strlen(env);

	for (; drop && *drop; drop++)
		if (strlen(*drop) == n && strncmp(env, *drop, n) == 0)
			return 1;
	return 0;
}

int
bm_spawn_env(const char *command, const char *input, size_t len,
    const char *const *drop, int capture_err, struct bm_child *c,
    struct bm_error *e)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	char **envp;
	size_t n = 0, k = 0;
	pid_t pid;

	/* Made here: the child only execs (no allocation after fork). */
	while (environ[n])
		n++;
	envp = xreallocarray(NULL, n + 1, sizeof(*envp));
	for (n = 0; environ[n]; n++)
		if (!dropped(environ[n], drop))
			envp[k++] = environ[n];
	envp[k] = NULL;

	memset(c, 0, sizeof(*c));
	c->in_fd = c->out_fd = c->err_fd = -1;
	c->pid = -1;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    (capture_err && pipe2(er, O_CLOEXEC) < 0)) {
		bm_error_set(e, NULL, 0, 0, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		bm_error_set(e, NULL, 0, 0, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* Its own group, so a timeout kills what it started too. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
		    (er[1] >= 0 && dup2(er[1], 2) < 0))
			_exit(126);
		execle("/bin/sh", "sh", "-c", command, (char *)NULL, envp);
		_exit(127);
	}
	free(envp);
	envp = NULL;
	/* Both sides set the group, so neither races the other. */
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	close_fd(&er[1]);
	c->err_fd = er[0];
	if (c->err_fd >= 0)
		fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
	c->pid = pid;
	c->in_fd = in[1];
	c->out_fd = out[0];
	fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
	bm_buf_add(&c->in, input, len);
	if (len == 0)
		close_fd(&c->in_fd);
	return 0;
fail:
	free(envp);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&er[0]);
	close_fd(&er[1]);
	return -1;
}

int
bm_spawn_step(struct bm_child *c)
{
	char chunk[65536];
	ssize_t n;

	while (c->in_fd >= 0 && c->in_off < c->in.len) {
		n = write_quiet(c->in_fd, c->in.s + c->in_off,
		    c->in.len - c->in_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				/* EPIPE: it does not want the rest. */
				close_fd(&c->in_fd);
			break;
		}
		c->in_off += (size_t)n;
	}
	if (c->in_fd >= 0 && c->in_off >= c->in.len)
		close_fd(&c->in_fd);
	while (c->out_fd >= 0) {
		n = read(c->out_fd, chunk, sizeof(chunk));
		if (n > 0) {
			bm_buf_add(&c->out, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		close_fd(&c->out_fd);
	}
	while (c->err_fd >= 0) {
		n = read(c->err_fd, chunk, sizeof(chunk));
		if (n > 0) {
			bm_buf_add(&c->err, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		close_fd(&c->err_fd);
	}
	if (c->out_fd < 0 && !c->exited) {
		/* stdout closed: it is exiting; do not block if it lingers. */
		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid)
			c->exited = 1;
	}
	if (c->exited)
		close_fd(&c->in_fd);
	return c->exited && c->out_fd < 0;
}

void
bm_spawn_kill(struct bm_child *c)
{
	if (c->pid > 0 && !c->exited) {
		kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
			;
		c->exited = 1;
	}
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
}

void
bm_spawn_free(struct bm_child *c)
{
	bm_spawn_kill(c);
	bm_buf_free(&c->in);
	bm_buf_free(&c->out);
	bm_buf_free(&c->err);
}

int
bm_spawn_describe(const struct bm_child *c, struct bm_buf *b)
{
	if (WIFSIGNALED(c->status)) {
		bm_buf_addf(b, "killed by signal %d", WTERMSIG(c->status));
		return -1;
	}
	if (WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0)
		bm_buf_addf(b, "exited with status %d",
		    WEXITSTATUS(c->status));
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}
