/* supervisor/cli_ping.c — the job side: `vigil ping` and `vigil run`.
 *
 * Both find the server from $VIGIL_URL or the config's `url` (default
 * http://127.0.0.1:8321) and the key from $VIGIL_PING_KEY, the config's
 * `ping_key`, or the local database.  Monitoring must never break the job:
 * network trouble is retried within the timeout, then reported on stderr,
 * and `vigil ping` still exits 0 unless --strict. */
#include "supervisor/cli.h"

#include "registry/registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct ping_target { char url[512]; char key[128]; } ping_target;

static int find_target(vigil_global *g, ping_target *t, const char *who)
{
	const char *url = getenv("VIGIL_URL");
	if (!url || !*url) url = cfg_get(g->cfg, "url");
	if (!url || !*url) url = "http://127.0.0.1:8321";
	snprintf(t->url, sizeof t->url, "%s", url);
	size_t ul = strlen(t->url);
	while (ul && t->url[ul - 1] == '/') t->url[--ul] = '\0';
	const char *key = getenv("VIGIL_PING_KEY");
	if (!key || !*key) key = cfg_get(g->cfg, "ping_key");
	if (key && *key) { snprintf(t->key, sizeof t->key, "%s", key); return 0; }
	struct stat st;
	if (stat(g->db_path, &st) == 0) {
		reg_db *db;
		char err[512];
		if (reg_open(g->db_path, &db, err, sizeof err) == REG_OK) {
			int rc = reg_setting_get(db, "ping_key", t->key, sizeof t->key);
			reg_close(db);
			if (rc == REG_OK) return 0;
		}
	}
	fprintf(stderr, "%s: no ping key: set VIGIL_PING_KEY, `ping_key` in the config, or --db to vigil's database\n", who);
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t sz, size_t n, void *u) { (void)p; (void)u; return sz * n; }

/* Sends one ping with retries (network errors and 5xx) inside timeout_s.
 * Returns the HTTP status, or 0 when no answer came. */
static long send_ping(const ping_target *t, const char *slug, const char *suffix, const char *rid,
                      const unsigned char *body, size_t body_len, double timeout_s, char *why, size_t whylen)
{
	char url[1024];
	snprintf(url, sizeof url, "%s/ping/%s/%s%s%s%s%s", t->url, t->key, slug,
	         suffix ? "/" : "", suffix ? suffix : "", rid ? "?rid=" : "", rid ? rid : "");
	double deadline = now_s() + timeout_s, backoff = 0.25;
	long code = 0;
	why[0] = '\0';
	for (int attempt = 0; attempt < 5; attempt++) {
		double left = deadline - now_s();
		if (left <= 0.05) break;
		CURL *h = curl_easy_init();
		if (!h) { snprintf(why, whylen, "cannot initialise libcurl"); return 0; }
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(left * 1000));
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(left * 1000 < 5000 ? left * 1000 : 5000));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil-ping/1");
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body_len ? (const char *)body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		CURLcode rc = curl_easy_perform(h);
		code = 0;
		if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		else snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		curl_slist_free_all(hdr);
		curl_easy_cleanup(h);
		if (code && code < 500) return code;
		if (code) snprintf(why, whylen, "server answered %ld", code);
		double sleep_s = backoff;
		if (now_s() + sleep_s >= deadline) break;
		struct timespec ts = { (time_t)sleep_s, (long)((sleep_s - (time_t)sleep_s) * 1e9) };
		nanosleep(&ts, NULL);
		backoff *= 2;
	}
	return code;
}

static int read_body(const char *file, unsigned char **out, size_t *len, size_t limit)
{
	*out = NULL;
	*len = 0;
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) return -1;
	unsigned char *buf = malloc(limit + 1);
	if (!buf) { if (fd) close(fd); return -1; }
	size_t n = 0;
	for (;;) {
		unsigned char tmp[65536];
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		/* keep the last `limit` bytes: the end of a log matters most */
		size_t rr = (size_t)r, keep = rr > limit ? limit : rr;
		const unsigned char *src = tmp + (rr - keep);
		if (n + keep > limit) {
			size_t drop = n + keep - limit;
			memmove(buf, buf + drop, n - drop);
			n -= drop;
		}
		memcpy(buf + n, src, keep);
		n += keep;
	}
	if (fd) close(fd);
	*out = buf;
	*len = n;
	return 0;
}

static int valid_suffix(const char *s)
{
	if (!strcmp(s, "start") || !strcmp(s, "fail") || !strcmp(s, "log")) return 1;
	size_t n = strlen(s);
	if (n < 1 || n > 3 || strspn(s, "0123456789") != n) return 0;
	return atoi(s) <= 255;
}

int cli_ping(int argc, char **argv, vigil_global *g)
{
	const char *slug = NULL, *suffix = NULL, *rid = NULL, *body_file = NULL;
	double timeout = 10;
	int strict = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--rid") && v) { rid = v; i++; }
		else if (!strcmp(a, "--body-file") && v) { body_file = v; i++; }
		else if (!strcmp(a, "--strict")) strict = 1;
		else if (!strcmp(a, "--timeout") && v) {
			long long s; const char *why;
			if (vigil_parse_duration(v, &s, &why) || s < 1) {
				fprintf(stderr, "vigil ping: --timeout \"%s\": %s\n", v, vigil_parse_duration(v, &s, &why) ? why : "must be at least 1s");
				return VIGIL_EXIT_USAGE;
			}
			timeout = (double)s;
			i++;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "vigil ping: unknown or incomplete option \"%s\"\n", a);
			goto usage;
		} else if (!slug) slug = a;
		else if (!suffix) suffix = a;
		else { fprintf(stderr, "vigil ping: unexpected argument \"%s\"\n", a); goto usage; }
	}
	if (!slug) goto usage;
	if (!reg_slug_valid(slug)) {
		fprintf(stderr, "vigil ping: slug \"%s\" is invalid (expected ^[a-z0-9][a-z0-9_-]{0,63}$)\n", slug);
		return VIGIL_EXIT_USAGE;
	}
	if (suffix && !strcmp(suffix, "success")) suffix = NULL;
	if (suffix && !valid_suffix(suffix)) {
		fprintf(stderr, "vigil ping: \"%s\": expected start, fail, log, success or an exit status 0-255\n", suffix);
		return VIGIL_EXIT_USAGE;
	}
	ping_target t;
	if (find_target(g, &t, "vigil ping")) return strict ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
	unsigned char *body = NULL;
	size_t body_len = 0;
	if (body_file && read_body(body_file, &body, &body_len, 100 * 1024)) {
		fprintf(stderr, "vigil ping: cannot read %s: %s\n", body_file, strerror(errno));
		return VIGIL_EXIT_USAGE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char why[256];
	long code = send_ping(&t, slug, suffix, rid, body, body_len, timeout, why, sizeof why);
	curl_global_cleanup();
	free(body);
	if (code == 200) return VIGIL_EXIT_OK;
	if (code == 404) fprintf(stderr, "vigil ping: %s: the server does not know this check (or the key is wrong)\n", slug);
	else if (code == 400) fprintf(stderr, "vigil ping: %s: the server refused the ping as malformed\n", slug);
	else if (code) fprintf(stderr, "vigil ping: %s: server answered %ld\n", slug, code);
	else fprintf(stderr, "vigil ping: %s: no answer from %s: %s\n", slug, t.url, why);
	return strict ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
usage:
	fprintf(stderr, "usage: vigil ping SLUG [start|fail|log|EXIT_CODE] [--rid ID] [--body-file F|-] [--timeout DUR] [--strict]\n");
	return VIGIL_EXIT_USAGE;
}

/* ---- vigil run ------------------------------------------------------------- */

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0) kill((pid_t)child_pid, sig);
}

typedef struct ring { unsigned char *buf; size_t cap, len, start; } ring;

static void ring_put(ring *r, const unsigned char *p, size_t n)
{
	if (n >= r->cap) { memcpy(r->buf, p + n - r->cap, r->cap); r->len = r->cap; r->start = 0; return; }
	for (size_t i = 0; i < n; i++) {
		size_t pos = (r->start + r->len) % r->cap;
		r->buf[pos] = p[i];
		if (r->len < r->cap) r->len++;
		else r->start = (r->start + 1) % r->cap;
	}
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return;	/* our stdout went away: keep capturing anyway */
		p += w;
		n -= (size_t)w;
	}
}

static void make_uuid(char out[37])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, b, 16) != 16) {
		for (int i = 0; i < 16; i++) b[i] = (unsigned char)(rand() ^ getpid() ^ time(NULL));
	}
	if (fd >= 0) close(fd);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int cli_run(int argc, char **argv, vigil_global *g)
{
	const char *slug = NULL;
	long long timeout = 0, tail_kb = 10;
	int cmd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--")) { cmd = i + 1; break; }
		if (!strcmp(a, "--timeout") && v) {
			const char *why;
			if (vigil_parse_duration(v, &timeout, &why) || timeout < 1) {
				fprintf(stderr, "vigil run: --timeout \"%s\": %s\n", v, vigil_parse_duration(v, &timeout, &why) ? why : "must be at least 1s");
				return VIGIL_EXIT_USAGE;
			}
			i++;
		} else if (!strcmp(a, "--tail-kb") && v) {
			char *end;
			tail_kb = strtoll(v, &end, 10);
			if (*end || tail_kb < 1 || tail_kb > 100) { fprintf(stderr, "vigil run: --tail-kb: 1 to 100\n"); return VIGIL_EXIT_USAGE; }
			i++;
		} else if (a[0] == '-') {
			fprintf(stderr, "vigil run: unknown or incomplete option \"%s\"\n", a);
			goto usage;
		} else if (!slug) slug = a;
		else { fprintf(stderr, "vigil run: unexpected argument \"%s\" (the command goes after --)\n", a); goto usage; }
	}
	if (!slug || cmd < 0 || cmd >= argc) goto usage;
	if (!reg_slug_valid(slug)) {
		fprintf(stderr, "vigil run: slug \"%s\" is invalid (expected ^[a-z0-9][a-z0-9_-]{0,63}$)\n", slug);
		return VIGIL_EXIT_USAGE;
	}
	ping_target t;
	int have_target = find_target(g, &t, "vigil run") == 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char rid[37], why[256];
	make_uuid(rid);
	if (have_target) {
		long code = send_ping(&t, slug, "start", rid, NULL, 0, 5, why, sizeof why);
		if (code != 200)
			fprintf(stderr, "vigil run: start ping for %s not recorded (%s); running the job anyway\n",
			        slug, code ? "server refused it" : why);
	}

	int out_pipe[2], err_pipe[2];
	if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
		perror("vigil run: pipe");
		curl_global_cleanup();
		return VIGIL_EXIT_INTERNAL;
	}
	struct sigaction sa = { .sa_handler = forward_signal };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) sigaction(fwd[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pid_t pid = fork();
	if (pid < 0) { perror("vigil run: fork"); curl_global_cleanup(); return VIGIL_EXIT_INTERNAL; }
	if (pid == 0) {
		for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) signal(fwd[i], SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		dup2(out_pipe[1], 1);
		dup2(err_pipe[1], 2);
		execvp(argv[cmd], &argv[cmd]);
		fprintf(stderr, "vigil run: cannot run %s: %s\n", argv[cmd], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	close(out_pipe[1]);
	close(err_pipe[1]);

	ring r = { .cap = (size_t)tail_kb * 1024 };
	r.buf = malloc(r.cap);
	struct pollfd pf[2] = { { out_pipe[0], POLLIN, 0 }, { err_pipe[0], POLLIN, 0 } };
	int open_fds = 2, timed_out = 0, killed_hard = 0;
	double start = now_s();
	while (open_fds) {
		int wait_ms = -1;
		if (timeout) {
			double left = start + (double)timeout - now_s();
			if (timed_out) left = start + (double)timeout + 5 - now_s();
			wait_ms = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		int n = poll(pf, 2, wait_ms);
		if (n < 0 && errno == EINTR) continue;
		if (n == 0 && timeout) {
			if (!timed_out) {
				fprintf(stderr, "vigil run: %s: timed out after %llds, sending SIGTERM\n", slug, timeout);
				kill(pid, SIGTERM);
				timed_out = 1;
			} else if (!killed_hard) {
				kill(pid, SIGKILL);
				killed_hard = 1;
			}
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
			unsigned char buf[16384];
			ssize_t got = read(pf[i].fd, buf, sizeof buf);
			if (got < 0 && errno == EINTR) continue;
			if (got <= 0) { close(pf[i].fd); pf[i].fd = -1; open_fds--; continue; }
			write_all(i == 0 ? 1 : 2, buf, (size_t)got);
			if (r.buf) ring_put(&r, buf, (size_t)got);
		}
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
	child_pid = 0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	if (have_target) {
		unsigned char *tail = malloc(r.len + 1);
		if (tail && r.buf) for (size_t i = 0; i < r.len; i++) tail[i] = r.buf[(r.start + i) % r.cap];
		char suffix[8];
		snprintf(suffix, sizeof suffix, "%d", code > 255 ? 255 : code);
		long hc = send_ping(&t, slug, suffix, rid, tail, tail ? r.len : 0, 10, why, sizeof why);
		if (hc != 200)
			fprintf(stderr, "vigil run: exit ping for %s not recorded (%s)\n", slug, hc ? "server refused it" : why);
		free(tail);
	}
	free(r.buf);
	curl_global_cleanup();
	return code;
usage:
	fprintf(stderr, "usage: vigil run SLUG [--timeout DUR] [--tail-kb N] -- COMMAND [ARGS...]\n");
	return VIGIL_EXIT_USAGE;
}
