/* crontab/apply_exec.c — running an external command (the real `crontab`)
 * without a shell: fork + execve with an argument vector, stdout and stderr
 * captured through pipes, a hard timeout (SIGKILL), the exit status kept. */
#include "crontab/apply_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CA_OUT_CAP (8u << 20)   /* a crontab larger than this is refused anyway */
#define CA_ERR_CAP (64u << 10)

int ca_buf_append(ca_buf *b, const void *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1) cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n) memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

void ca_buf_free(ca_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

void ca_run_free(ca_run *r)
{
	ca_buf_free(&r->out);
	ca_buf_free(&r->err);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ca_which(const char *name, char *out, size_t outlen)
{
	if (strchr(name, '/')) {
		if (access(name, X_OK) != 0) return -1;
		snprintf(out, outlen, "%s", name);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path) path = "/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		char cand[4096];
		if (len > 0 && len + strlen(name) + 2 <= sizeof cand) {
			memcpy(cand, path, len);
			cand[len] = '/';
			strcpy(cand + len + 1, name);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
				if (strlen(cand) + 1 > outlen) return -1;
				strcpy(out, cand);
				return 0;
			}
		}
		if (!colon) break;
		path = colon + 1;
	}
	return -1;
}

/* The child: stdin /dev/null, stdout/stderr to the pipes, every other
 * descriptor closed, default signal dispositions, then execve. */
static void child(const char *path, char *const argv[], int outfd, int errfd)
{
	int nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errfd, 2) < 0) _exit(126);
	for (int fd = 3; fd < 1024; fd++) close(fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* its own process group: a Ctrl-C meant for vigil does not kill a
	 * crontab half-way; the timeout still does */
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	execve(path, argv, environ);
	dprintf(2, "execve %s: %s\n", path, strerror(errno));
	_exit(127);
}

int ca_exec(const char *path, char *const argv[], int timeout_s, ca_run *r,
            char *msg, size_t msglen)
{
	memset(r, 0, sizeof *r);
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	int ret = -1;
	pid_t pid = -1;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		snprintf(msg, msglen, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(msg, msglen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) child(path, argv, po[1], pe[1]);
	close(po[1]); po[1] = -1;
	close(pe[1]); pe[1] = -1;

	int64_t deadline = mono_ms() + (int64_t)(timeout_s > 0 ? timeout_s : 30) * 1000;
	struct pollfd fds[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
	int open_fds = 2;
	while (open_fds > 0) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) { r->timed_out = 1; break; }
		int n = poll(fds, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0) {
			if (errno == EINTR) continue;
			snprintf(msg, msglen, "poll: %s", strerror(errno));
			r->timed_out = 1;   /* treat as a failed run: kill below */
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
			char buf[8192];
			ssize_t got = read(fds[i].fd, buf, sizeof buf);
			if (got < 0 && errno == EINTR) continue;
			if (got <= 0) { fds[i].fd = -1; open_fds--; continue; }
			ca_buf *b = i == 0 ? &r->out : &r->err;
			size_t cap = i == 0 ? CA_OUT_CAP : CA_ERR_CAP;
			size_t take = b->n + (size_t)got > cap ? cap - b->n : (size_t)got;
			if (take && ca_buf_append(b, buf, take) < 0) {
				snprintf(msg, msglen, "out of memory reading %s's output", path);
				r->timed_out = 1;
				break;
			}
		}
	}
	if (r->timed_out) kill(pid, SIGKILL);
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, r->timed_out ? 0 : WNOHANG);
		if (w == pid) break;
		if (w < 0 && errno != EINTR) {
			snprintf(msg, msglen, "waitpid: %s", strerror(errno));
			goto out;
		}
		/* the child closed its pipes but has not exited yet: bounded wait */
		if (w == 0 && mono_ms() > deadline) { kill(pid, SIGKILL); r->timed_out = 1; }
		else if (w == 0) poll(NULL, 0, 5);
	}
	pid = -1;
	if (WIFEXITED(status)) { r->exited = 1; r->code = WEXITSTATUS(status); }
	else { r->exited = 0; r->code = WIFSIGNALED(status) ? WTERMSIG(status) : -1; }
	/* make sure both buffers are valid strings even when nothing was read */
	if (!r->out.p && ca_buf_append(&r->out, "", 0) < 0) goto out;
	if (!r->err.p && ca_buf_append(&r->err, "", 0) < 0) goto out;
	ret = 0;
out:
	if (po[0] >= 0) close(po[0]);
	if (po[1] >= 0) close(po[1]);
	if (pe[0] >= 0) close(pe[0]);
	if (pe[1] >= 0) close(pe[1]);
	if (ret < 0) ca_run_free(r);
	return ret;
}

void ca_run_describe(const ca_run *r, int timeout_s, char *msg, size_t msglen)
{
	char what[64];
	if (r->timed_out) snprintf(what, sizeof what, "timed out after %ds (killed)", timeout_s);
	else if (r->exited) snprintf(what, sizeof what, "exit status %d", r->code);
	else snprintf(what, sizeof what, "killed by signal %d", r->code);
	/* stderr, newlines folded into "; ", trailing blanks dropped */
	char err[400];
	size_t k = 0;
	for (size_t i = 0; r->err.p && i < r->err.n && k + 3 < sizeof err; i++) {
		char ch = r->err.p[i];
		if (ch == '\n') {
			if (i + 1 < r->err.n) { err[k++] = ';'; err[k++] = ' '; }
		} else if ((unsigned char)ch >= 0x20 || ch == '\t') err[k++] = ch;
	}
	err[k] = '\0';
	if (k) snprintf(msg, msglen, "%s; stderr: %s", what, err);
	else snprintf(msg, msglen, "%s; no stderr", what);
}
