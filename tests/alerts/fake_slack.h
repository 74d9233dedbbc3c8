/* tests/alerts/fake_slack.h — a real HTTP server (libmicrohttpd, port 0) that
 * stands in for a Slack incoming webhook: records every POST (body and
 * Idempotency-Key), and answers as told: 200 "ok", 500, 429 with Retry-After,
 * 404 "no_service", a redirect loop, or hangs until told to stop.
 * Header-only (static functions) so that each test program can include it. */
#ifndef VIGIL_TEST_FAKE_SLACK_H
#define VIGIL_TEST_FAKE_SLACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FS_OK = 0, FS_500, FS_429, FS_404, FS_REDIRECT, FS_HANG };

typedef struct fs_req {
	char *body;
	char key[64];
	char method[8];
	char path[128];
	long long at_ms;          /* CLOCK_REALTIME when it arrived */
	int answered;             /* the status we answered */
} fs_req;

typedef struct fake_slack {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int mode;                 /* FS_* for the next requests */
	int retry_after;          /* seconds, for FS_429 */
	int fail_next;            /* answer `mode` this many times, then 200; -1 always */
	int hang_release;         /* set to end hanging requests */
	int delay_ms;             /* answer 200s after this long (widens the in-flight window) */
	fs_req *reqs;
	int n, cap;
	int n_ok;                 /* answered 2xx */
	char url[128];
} fake_slack;

static long long fs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct fs_conn { char *buf; size_t n; } fs_conn;

static enum MHD_Result fs_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
	(void)version;
	fake_slack *fs = cls;
	fs_conn *cc = *con_cls;
	if (!cc) {
		cc = calloc(1, sizeof *cc);
		*con_cls = cc;
		return MHD_YES;
	}
	if (*data_size) {
		char *nb = realloc(cc->buf, cc->n + *data_size + 1);
		if (!nb) return MHD_NO;
		cc->buf = nb;
		memcpy(cc->buf + cc->n, data, *data_size);
		cc->n += *data_size;
		cc->buf[cc->n] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	pthread_mutex_lock(&fs->mu);
	int mode = fs->mode;
	if (fs->fail_next == 0) mode = FS_OK;
	else if (fs->fail_next > 0 && mode != FS_OK) fs->fail_next--;
	if (strcmp(method, "POST")) mode = FS_OK;   /* GET: the upstream heartbeat */
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->reqs = realloc(fs->reqs, (size_t)fs->cap * sizeof *fs->reqs);
	}
	fs_req *r = &fs->reqs[fs->n++];
	memset(r, 0, sizeof *r);
	r->body = cc->buf ? cc->buf : strdup("");
	cc->buf = NULL;
	snprintf(r->key, sizeof r->key, "%s", key ? key : "");
	snprintf(r->method, sizeof r->method, "%s", method);
	snprintf(r->path, sizeof r->path, "%s", url);
	r->at_ms = fs_now_ms();
	int idx = fs->n - 1;
	pthread_cond_broadcast(&fs->cv);
	if (mode == FS_HANG) {
		while (!fs->hang_release) pthread_cond_wait(&fs->cv, &fs->mu);
	}
	int retry_after = fs->retry_after, delay = fs->delay_ms;
	pthread_mutex_unlock(&fs->mu);
	if (delay > 0 && mode == FS_OK) {
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}

	const char *txt = "ok";
	unsigned status = 200;
	if (mode == FS_500) { status = 500; txt = "internal_error"; }
	else if (mode == FS_429) { status = 429; txt = "rate_limited"; }
	else if (mode == FS_404) { status = 404; txt = "no_service"; }
	else if (mode == FS_REDIRECT) { status = 302; txt = ""; }
	else if (mode == FS_HANG) { status = 500; txt = "hung"; }
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(txt), (void *)txt, MHD_RESPMEM_MUST_COPY);
	if (mode == FS_429) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	if (mode == FS_REDIRECT) MHD_add_response_header(resp, "Location", fs->url);
	pthread_mutex_lock(&fs->mu);
	fs->reqs[idx].answered = (int)status;
	if (status >= 200 && status < 300) fs->n_ok++;
	pthread_cond_broadcast(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void fs_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	(void)cls; (void)c; (void)t;
	fs_conn *cc = *con_cls;
	if (cc) { free(cc->buf); free(cc); }
	*con_cls = NULL;
}

/* Starts on 127.0.0.1, port 0.  NULL on failure. */
static fake_slack *fs_start(void)
{
	fake_slack *fs = calloc(1, sizeof *fs);
	pthread_mutex_init(&fs->mu, NULL);
	pthread_cond_init(&fs->cv, NULL);
	fs->fail_next = -1;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fs->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
	                         fs_handler, fs, MHD_OPTION_SOCK_ADDR, &sa,
	                         MHD_OPTION_NOTIFY_COMPLETED, fs_done, fs, MHD_OPTION_END);
	if (!fs->d) { free(fs); return NULL; }
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(fs->d, MHD_DAEMON_INFO_BIND_PORT);
	fs->port = di ? di->port : 0;
	snprintf(fs->url, sizeof fs->url, "http://127.0.0.1:%d/services/T000/B000/SECRETWEBHOOKTOKEN", fs->port);
	return fs;
}

static void fs_set(fake_slack *fs, int mode, int fail_next, int retry_after)
{
	pthread_mutex_lock(&fs->mu);
	fs->mode = mode;
	fs->fail_next = fail_next;
	fs->retry_after = retry_after;
	pthread_mutex_unlock(&fs->mu);
}

/* Waits until at least N requests arrived (or timeout_ms passed); returns the count. */
static int fs_wait(fake_slack *fs, int n, int timeout_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
	pthread_mutex_lock(&fs->mu);
	while (fs->n < n) if (pthread_cond_timedwait(&fs->cv, &fs->mu, &dl)) break;
	int got = fs->n;
	pthread_mutex_unlock(&fs->mu);
	return got;
}

static void fs_stop(fake_slack *fs)
{
	if (!fs) return;
	pthread_mutex_lock(&fs->mu);
	fs->hang_release = 1;
	pthread_cond_broadcast(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
	MHD_stop_daemon(fs->d);
	for (int i = 0; i < fs->n; i++) free(fs->reqs[i].body);
	free(fs->reqs);
	pthread_mutex_destroy(&fs->mu);
	pthread_cond_destroy(&fs->cv);
	free(fs);
}

#endif
