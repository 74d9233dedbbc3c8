/* tests/lib/vtest.h — helpers shared by vigil's C tests (header-only):
 * temporary folders, starting the real `vigil serve` on port 0, HTTP with
 * libcurl, running the vigil binary and capturing its output. */
#ifndef VIGIL_VTEST_H
#define VIGIL_VTEST_H

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline const char *vt_bin(void)
{
	const char *b = getenv("VIGIL_BIN");
	return b && *b ? b : "./build/test/vigil";
}

/* mkdtemp under /tmp; the returned string is static per call site copy */
static inline void vt_tmpdir(char *out, size_t n, const char *tag)
{
	snprintf(out, n, "/tmp/vigil-%s-XXXXXX", tag);
	if (!mkdtemp(out)) { perror("mkdtemp"); abort(); }
}

static inline void vt_rmrf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

static inline void vt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Waits (polling every 10 ms, up to timeout_ms) until PATH exists and is
 * non-empty.  Returns 0 when it does. */
static inline int vt_wait_file(const char *path, long timeout_ms)
{
	for (long t = 0; t < timeout_ms; t += 10) {
		struct stat st;
		if (stat(path, &st) == 0 && st.st_size > 0) return 0;
		vt_sleep_ms(10);
	}
	return -1;
}

typedef struct vt_server {
	pid_t pid;
	int port;
	char db[512];
	char log[512];
	char base[128];   /* http://127.0.0.1:PORT */
	char key[80];
} vt_server;

/* Starts `vigil --db DB serve --listen 127.0.0.1:0 --port-file ... EXTRA...`
 * (EXTRA: NULL-terminated) with stdout/stderr to DIR/serve.log and waits for
 * its port.  Returns 0 on success. */
static inline int vt_server_start(vt_server *s, const char *dir, const char *db, const char *const *extra)
{
	memset(s, 0, sizeof *s);
	snprintf(s->db, sizeof s->db, "%s", db);
	snprintf(s->log, sizeof s->log, "%s/serve.log", dir);
	char portfile[600];
	snprintf(portfile, sizeof portfile, "%s/port.%d", dir, (int)getpid());
	unlink(portfile);
	const char *argv[32];
	int n = 0;
	argv[n++] = vt_bin();
	argv[n++] = "--db"; argv[n++] = db;
	argv[n++] = "serve";
	argv[n++] = "--listen"; argv[n++] = "127.0.0.1:0";
	argv[n++] = "--port-file"; argv[n++] = portfile;
	for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = extra[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	if (vt_wait_file(portfile, 20000)) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); return -1; }
	FILE *f = fopen(portfile, "r");
	if (!f || fscanf(f, "%d", &s->port) != 1) { if (f) fclose(f); return -1; }
	fclose(f);
	unlink(portfile);
	snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
	return 0;
}

/* SIGTERM (graceful) or SIGKILL; returns the exit status (or 128+sig). */
static inline int vt_server_stop(vt_server *s, int sig)
{
	if (s->pid <= 0) return -1;
	kill(s->pid, sig);
	int st = 0;
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct vt_buf { char *p; size_t n; } vt_buf;

static inline size_t vt_collect(char *d, size_t sz, size_t nm, void *u)
{
	vt_buf *b = u;
	size_t len = sz * nm;
	char *np = realloc(b->p, b->n + len + 1);
	if (!np) return 0;
	memcpy(np + b->n, d, len);
	b->n += len;
	np[b->n] = '\0';
	b->p = np;
	return len;
}

typedef struct vt_resp {
	long status;
	vt_buf body;
	vt_buf headers;
} vt_resp;

static inline void vt_resp_free(vt_resp *r) { free(r->body.p); free(r->headers.p); memset(r, 0, sizeof *r); }

/* One HTTP request.  body may be NULL.  extra_headers: NULL-terminated list
 * of "Name: value" or NULL.  Returns the CURLcode. */
static inline int vt_http(const char *method, const char *url, const void *body, size_t len,
                          const char *const *extra_headers, vt_resp *r)
{
	memset(r, 0, sizeof *r);
	CURL *h = curl_easy_init();
	if (!h) return -1;
	struct curl_slist *hl = NULL;
	for (int i = 0; extra_headers && extra_headers[i]; i++) hl = curl_slist_append(hl, extra_headers[i]);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, vt_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, vt_collect);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	if (!strcmp(method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST") || body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		if (strcmp(method, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (hl) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return (int)rc;
}

/* Runs the vigil binary with ARGV (NULL-terminated, without argv[0]),
 * stdin from /dev/null; captures stdout and stderr (each up to 64 KB).
 * Returns the exit status (128+sig when killed). */
static inline int vt_vigil(const char *const *args, char *out, size_t outn, char *err, size_t errn)
{
	char of[] = "/tmp/vigil-out-XXXXXX", ef[] = "/tmp/vigil-err-XXXXXX";
	int ofd = mkstemp(of), efd = mkstemp(ef);
	const char *argv[64];
	int n = 0;
	argv[n++] = vt_bin();
	for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0); dup2(ofd, 1); dup2(efd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (out) { ssize_t k = pread(ofd, out, outn - 1, 0); out[k > 0 ? k : 0] = '\0'; }
	if (err) { ssize_t k = pread(efd, err, errn - 1, 0); err[k > 0 ? k : 0] = '\0'; }
	close(ofd); close(efd); unlink(of); unlink(ef);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
