/* tests/web/web_harness.h — starts the real `vigil serve` (VIGIL_BIN) on
 * port 0 in a scratch directory and talks to it over HTTP with libcurl.
 * Shared by the tests of tests/web/ (header-only: each test is one program). */
#ifndef VIGIL_TEST_WEB_HARNESS_H
#define VIGIL_TEST_WEB_HARNESS_H

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct srv {
	pid_t pid;
	int port;
	char dir[256];
	char db[320];
	char log[320];
	char ping_key[80];
	char ro[80], rw[80];
	char base[64];
} srv;

typedef struct http_res {
	long status;
	char *body;
	size_t len;
	char headers[16384];
	size_t hlen;
} http_res;

static const char *vigil_bin(void)
{
	const char *b = getenv("VIGIL_BIN");
	return b && *b ? b : "./build/test/vigil";
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Runs vigil --db DB ARGS... (NULL-terminated); stdout into out (NUL-terminated,
 * trailing newline removed), stderr into err.  Returns the exit status. */
static int run_vigil(const srv *s, char *out, size_t outlen, char *err, size_t errlen, ...)
{
	const char *argv[32];
	int n = 0;
	argv[n++] = vigil_bin();
	argv[n++] = "--db";
	argv[n++] = s->db;
	va_list ap;
	va_start(ap, errlen);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 31) argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	char of[400], ef[400];
	snprintf(of, sizeof of, "%s/cmd.out", s->dir);
	snprintf(ef, sizeof ef, "%s/cmd.err", s->dir);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, of, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, ef, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) return -1;
	int st;
	waitpid(pid, &st, 0);
	const char *files[2] = {of, ef};
	char *bufs[2] = {out, err};
	size_t lens[2] = {outlen, errlen};
	for (int i = 0; i < 2; i++) {
		if (!bufs[i] || !lens[i]) continue;
		FILE *f = fopen(files[i], "r");
		size_t got = f ? fread(bufs[i], 1, lens[i] - 1, f) : 0;
		if (f) fclose(f);
		bufs[i][got] = '\0';
		while (got && bufs[i][got - 1] == '\n') bufs[i][--got] = '\0';
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Makes a scratch directory with a database, a read-only and a read-write
 * key, then starts the server on LISTEN ("127.0.0.1:0") and waits for its
 * port file.  Returns 0 or -1. */
static int srv_start(srv *s, const char *listen)
{
	memset(s, 0, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "/tmp/vigil-web-XXXXXX");
	if (!mkdtemp(s->dir)) return -1;
	snprintf(s->db, sizeof s->db, "%s/vigil.db", s->dir);
	snprintf(s->log, sizeof s->log, "%s/serve.log", s->dir);
	char err[512];
	if (run_vigil(s, s->rw, sizeof s->rw, err, sizeof err, "apikey", "create", "--rw", "--label", "test-rw", NULL)) return -1;
	if (run_vigil(s, s->ro, sizeof s->ro, err, sizeof err, "apikey", "create", "--ro", NULL)) return -1;
	if (run_vigil(s, s->ping_key, sizeof s->ping_key, err, sizeof err, "key", NULL)) return -1;
	char pf[400];
	snprintf(pf, sizeof pf, "%s/port", s->dir);
	const char *argv[] = {vigil_bin(), "--db", s->db, "serve", "--listen", listen, "--port-file", pf, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int rc = posix_spawn(&s->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) return -1;
	/* the sanitized binary takes a moment to start: wait for the port file */
	for (int i = 0; i < 1500; i++) {
		FILE *f = fopen(pf, "r");
		if (f) {
			int port = 0;
			int ok = fscanf(f, "%d", &port) == 1;
			fclose(f);
			if (ok && port > 0) {
				s->port = port;
				snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", port);
				return 0;
			}
		}
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) { s->pid = 0; return -1; }
		sleep_ms(10);
	}
	return -1;
}

/* SIGTERM, wait; returns the server's exit status (0 expected: no sanitizer report). */
static int srv_stop(srv *s)
{
	int code = -1;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		int st;
		if (waitpid(s->pid, &st, 0) == s->pid) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		s->pid = 0;
	}
	if (code != 0) {
		FILE *f = fopen(s->log, "r");
		char line[512];
		while (f && fgets(line, sizeof line, f)) printf("serve: %s", line);
		if (f) fclose(f);
	}
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
	if (strncmp(s->dir, "/tmp/vigil-web-", 15) == 0 && system(cmd) != 0) code = -1;
	return code;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	http_res *r = ud;
	size_t len = sz * n;
	char *nb = realloc(r->body, r->len + len + 1);
	if (!nb) return 0;
	r->body = nb;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	http_res *r = ud;
	size_t len = sz * n;
	if (r->hlen + len < sizeof r->headers) {
		memcpy(r->headers + r->hlen, p, len);
		r->hlen += len;
		r->headers[r->hlen] = '\0';
	}
	return len;
}

/* One request.  AUTH is a full Authorization header value or NULL; EXTRA one
 * more header line or NULL.  r->body is always NUL-terminated (free with http_free). */
static void http_do(const srv *s, const char *method, const char *path, const char *auth, const char *extra,
                    const void *body, size_t len, http_res *r)
{
	memset(r, 0, sizeof *r);
	r->body = calloc(1, 1);
	CURL *c = curl_easy_init();
	char url[2048], ah[256];
	snprintf(url, sizeof url, "%s%s", s->base, path);
	struct curl_slist *h = NULL;
	if (auth) { snprintf(ah, sizeof ah, "Authorization: %s", auth); h = curl_slist_append(h, ah); }
	if (extra) h = curl_slist_append(h, extra);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void http_free(http_res *r)
{
	free(r->body);
	r->body = NULL;
}

/* Value of header NAME (case-insensitive) into out; 0 when present. */
static int http_header(const http_res *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *p = r->headers; *p;) {
		const char *e = strstr(p, "\r\n");
		size_t ll = e ? (size_t)(e - p) : strlen(p);
		if (ll > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ') v++;
			size_t vl = ll - (size_t)(v - p);
			if (vl >= outlen) vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 0;
		}
		if (!e) break;
		p = e + 2;
	}
	return -1;
}

#endif
