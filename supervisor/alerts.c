/* supervisor/alerts.c — the threads of `vigil serve` that watch time and
 * deliver alerts: the scheduler (sched.c), the sender (outbox.c, slack.c) and
 * the upstream heartbeat.  Each owns one registry connection.  The threads
 * read the clock once per round and hand the reading down; they sleep on a
 * condition variable (CLOCK_MONOTONIC) until their next deadline or a kick. */
#include "supervisor/alerts.h"
#include "supervisor/cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- settings -------------------------------------------------------------------- */

int64_t alerts_parse_ms(const char *s)
{
	if (!s || !*s) return -1;
	size_t n = strlen(s);
	if (n > 2 && !strcmp(s + n - 2, "ms")) {
		char *e;
		long long v = strtoll(s, &e, 10);
		if (e != s + n - 2 || v < 0 || s[0] == '-' || s[0] == ' ' || s[0] == '+') return -1;
		return v;
	}
	long long secs;
	const char *why;
	if (vigil_parse_duration(s, &secs, &why)) return -1;
	return secs * 1000;
}

static int get_ms(const vigil_config *cfg, const char *key, int64_t dflt, int64_t min, int64_t *out,
                  char *err, size_t errlen)
{
	const char *v = cfg ? cfg_get(cfg, key) : NULL;
	if (!v) { *out = dflt; return 0; }
	int64_t ms = alerts_parse_ms(v);
	if (ms < min) {
		snprintf(err, errlen, "%s: expected a duration such as 10s, 2m or 500ms (at least %lld ms), got \"%s\"",
		         key, (long long)min, v);
		return -1;
	}
	*out = ms;
	return 0;
}

int alerts_cfg_load(const vigil_config *cfg, const char *webhook, alerts_cfg *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	const char *w = webhook;
	if (!w || !*w) w = getenv("VIGIL_SLACK_WEBHOOK");
	if ((!w || !*w) && cfg) w = cfg_get(cfg, "slack_webhook");
	if (w && *w) {
		if (strncmp(w, "https://", 8) && strncmp(w, "http://", 7)) {
			snprintf(err, errlen, "slack_webhook: expected an http:// or https:// URL");
			return -1;
		}
		if (strlen(w) >= sizeof o->webhook) { snprintf(err, errlen, "slack_webhook: URL too long"); return -1; }
		snprintf(o->webhook, sizeof o->webhook, "%s", w);
	}
	const char *u = cfg ? cfg_get(cfg, "upstream_ping_url") : NULL;
	if (u && *u) {
		if ((strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) || strlen(u) >= sizeof o->upstream_url) {
			snprintf(err, errlen, "upstream_ping_url: expected an http:// or https:// URL");
			return -1;
		}
		snprintf(o->upstream_url, sizeof o->upstream_url, "%s", u);
	}
	if (get_ms(cfg, "alert.batch_window", 10000, 0, &o->batch_window_ms, err, errlen) ||
	    get_ms(cfg, "alert.early_window", 60000, 0, &o->early_window_ms, err, errlen) ||
	    get_ms(cfg, "alert.gap_threshold", 60000, 1000, &o->gap_threshold_ms, err, errlen) ||
	    get_ms(cfg, "alert.retry_base", 2000, 10, &o->retry_base_ms, err, errlen) ||
	    get_ms(cfg, "alert.retry_max", 300000, 10, &o->retry_max_ms, err, errlen) ||
	    get_ms(cfg, "alert.http_timeout", 15000, 100, &o->http_timeout_ms, err, errlen) ||
	    get_ms(cfg, "alert.upstream_interval", 60000, 100, &o->upstream_interval_ms, err, errlen) ||
	    get_ms(cfg, "alert.rescan_interval", 2000, 10, &o->rescan_ms, err, errlen))
		return -1;
	if (o->retry_max_ms < o->retry_base_ms) o->retry_max_ms = o->retry_base_ms;
	o->batch_max = 200;
	const char *bm = cfg ? cfg_get(cfg, "alert.batch_max") : NULL;
	if (bm) {
		char *e;
		long v = strtol(bm, &e, 10);
		if (*e || v < 1 || v > 1000) { snprintf(err, errlen, "alert.batch_max: expected 1..1000, got \"%s\"", bm); return -1; }
		o->batch_max = (int)v;
	}
	return 0;
}

/* ---- the threads ---------------------------------------------------------------------- */

struct vigil_alerts {
	alerts_cfg cfg;
	char *db_path;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kick_send;
	int sched_efd;             /* eventfd: a ping was committed, or stop */
	volatile int stop;
	int64_t sched_ok_mono;     /* last tick that succeeded */
	pthread_t th_sched, th_send, th_up;
	int n_threads, have_up, have_send;
};

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void alog(void *u, const char *line)
{
	(void)u;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s vigil alerts: %s\n", ts, line);
}

/* Waits until the monotonic time UNTIL_MONO, a kick (*flag) or stop. */
static void wait_until(vigil_alerts *a, int *flag, int64_t until_mono)
{
	struct timespec ts = { .tv_sec = until_mono / 1000, .tv_nsec = (until_mono % 1000) * 1000000 };
	pthread_mutex_lock(&a->mu);
	while (!a->stop && !*flag) {
		if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT) break;
	}
	*flag = 0;
	pthread_mutex_unlock(&a->mu);
}

static void kick(vigil_alerts *a, int *flag)
{
	pthread_mutex_lock(&a->mu);
	*flag = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* The scheduler sleeps in poll() until its next deadline, a kick (eventfd)
 * or a change of the database file by anyone (inotify on its folder: the
 * WAL grows on every commit, including those of `vigil check` in another
 * process).  So it needs no polling; without inotify it falls back to a
 * rescan every alert.rescan_interval. */
static int watch_db(const char *db_path, char *base, size_t n)
{
	char dir[PATH_MAX], b[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", db_path);
	snprintf(b, sizeof b, "%s", db_path);
	snprintf(base, n, "%s", basename(b));
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) return -1;
	if (inotify_add_watch(fd, dirname(dir), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void sched_wait(vigil_alerts *a, int ifd, const char *base, int64_t wait_ms)
{
	struct pollfd p[2] = { { .fd = a->sched_efd, .events = POLLIN }, { .fd = ifd, .events = POLLIN } };
	size_t bl = strlen(base);
	for (;;) {
		if (a->stop) return;
		int t = wait_ms > INT_MAX ? INT_MAX : wait_ms < 0 ? 0 : (int)wait_ms;
		int64_t t0 = clock_ms(CLOCK_MONOTONIC);
		int n = poll(p, ifd >= 0 ? 2 : 1, t);
		if (n <= 0) return;   /* timeout (or EINTR: tick anyway) */
		int wake = 0;
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(a->sched_efd, &v, sizeof v) < 0) { /* drained by a racing read */ }
			wake = 1;
		}
		if (ifd >= 0 && (p[1].revents & POLLIN)) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			ssize_t k;
			while ((k = read(ifd, buf, sizeof buf)) > 0)
				for (char *q = buf; q < buf + k;) {
					struct inotify_event *ev = (struct inotify_event *)q;
					if (ev->len && !strncmp(ev->name, base, bl)) wake = 1;   /* v.db, v.db-wal */
					q += sizeof *ev + ev->len;
				}
		}
		if (wake) return;
		wait_ms -= clock_ms(CLOCK_MONOTONIC) - t0;
		if (wait_ms <= 0) return;
	}
}

static void *sched_main(void *arg)
{
	vigil_alerts *a = arg;
	reg_db *db = NULL;
	sched *s = NULL;
	char msg[512], base[256];
	int ifd = watch_db(a->db_path, base, sizeof base);
	alerts_cfg scfg = a->cfg;
	if (ifd >= 0) scfg.rescan_ms = 30000;   /* changes wake us; this is only a safety net */
	else alog(NULL, "scheduler: inotify unavailable; looking for changed checks every alert.rescan_interval");
	while (!a->stop && !s) {
		if (reg_open(a->db_path, &db, msg, sizeof msg) == REG_OK && (s = sched_new(db, &scfg))) break;
		alog(NULL, db ? "scheduler: cannot prepare its queries; retrying" : msg);
		reg_close(db);
		db = NULL;
		sched_wait(a, -1, "", 5000);
	}
	int64_t last_alert = -1;
	while (!a->stop) {
		int64_t now = clock_ms(CLOCK_REALTIME), mono = clock_ms(CLOCK_MONOTONIC);
		sched_tick_out o;
		int rc = sched_tick(s, now, mono, &o);
		int64_t wait = 1000;
		if (rc) {
			snprintf(msg, sizeof msg, "scheduler: %s; retrying in 1 s", reg_errmsg(db));
			alog(NULL, msg);
		} else {
			__atomic_store_n(&a->sched_ok_mono, mono, __ATOMIC_RELAXED);
			if (o.gap) alog(NULL, "scheduler: vigil was not watching for a while (restart, sleep or clock jump); "
			                      "checks due in that gap are marked unknown");
			if (o.backward) alog(NULL, "scheduler: the wall clock went back; deadlines recomputed");
			/* new outbox rows, ours or a ping's: wake the sender */
			if (o.alerts || o.max_alert_id != last_alert) kick(a, &a->kick_send);
			last_alert = o.max_alert_id;
			wait = o.next_wake_ms - now;
			if (wait < 0) wait = 0;
		}
		sched_wait(a, ifd, base, wait);
	}
	sched_free(s);
	reg_close(db);
	if (ifd >= 0) close(ifd);
	return NULL;
}

static void *send_main(void *arg)
{
	vigil_alerts *a = arg;
	reg_db *db = NULL;
	outbox *o = NULL;
	char msg[512];
	while (!a->stop && !o) {
		if (reg_open(a->db_path, &db, msg, sizeof msg) == REG_OK && (o = outbox_new(db, &a->cfg, &a->stop))) break;
		alog(NULL, db ? "sender: out of memory; retrying" : msg);
		reg_close(db);
		db = NULL;
		wait_until(a, &a->kick_send, clock_ms(CLOCK_MONOTONIC) + 5000);
	}
	if (o) outbox_set_log(o, alog, NULL);
	while (!a->stop) {
		int64_t now = clock_ms(CLOCK_REALTIME), mono = clock_ms(CLOCK_MONOTONIC);
		outbox_step_out so;
		int rc = outbox_step(o, now, &so);
		int64_t wait;
		if (rc) {
			snprintf(msg, sizeof msg, "sender: %s; retrying in 1 s", reg_errmsg(db));
			alog(NULL, msg);
			wait = 1000;
		} else {
			if (so.next_wake_ms <= now) continue;
			/* wake at the next due batch; new outbox rows kick us (the
			 * scheduler sees them); while alerts are held, look every
			 * rescan interval for a mute lifted by another process */
			int64_t cap = so.held_total ? a->cfg.rescan_ms : 60000;
			wait = so.next_wake_ms == INT64_MAX ? cap : so.next_wake_ms - now;
			if (wait > cap) wait = cap;
		}
		wait_until(a, &a->kick_send, mono + wait);
	}
	outbox_free(o);
	reg_close(db);
	return NULL;
}

static size_t discard(char *p, size_t sz, size_t nm, void *u) { (void)p; (void)u; return sz * nm; }

/* The upstream dead-man's switch: a GET every interval while the scheduler
 * is ticking. */
static void *up_main(void *arg)
{
	vigil_alerts *a = arg;
	int dummy = 0;
	int64_t next = clock_ms(CLOCK_MONOTONIC);
	while (!a->stop) {
		wait_until(a, &dummy, next);
		if (a->stop) break;
		int64_t mono = clock_ms(CLOCK_MONOTONIC);
		next = mono + a->cfg.upstream_interval_ms;
		int64_t ok = __atomic_load_n(&a->sched_ok_mono, __ATOMIC_RELAXED);
		int64_t limit = 3 * a->cfg.rescan_ms + 35000;   /* the scheduler ticks at least every 30 s */
		if (ok == 0 || mono - ok > limit) { alog(NULL, "upstream heartbeat skipped: the scheduler is not healthy"); continue; }
		CURL *h = curl_easy_init();
		if (!h) continue;
		curl_easy_setopt(h, CURLOPT_URL, a->cfg.upstream_url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		CURLcode cc = curl_easy_perform(h);
		long st = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
		curl_easy_cleanup(h);
		if (cc != CURLE_OK || st < 200 || st >= 300) {
			char m[200];
			if (cc != CURLE_OK) snprintf(m, sizeof m, "upstream heartbeat failed: %s", curl_easy_strerror(cc));
			else snprintf(m, sizeof m, "upstream heartbeat failed: HTTP %ld", st);
			alog(NULL, m);
		}
	}
	return NULL;
}

int alerts_start(const alerts_opts *opt, vigil_alerts **out, char *err, size_t errlen)
{
	*out = NULL;
	vigil_alerts *a = calloc(1, sizeof *a);
	if (!a) { snprintf(err, errlen, "out of memory"); return -1; }
	if (alerts_cfg_load(opt->cfg, opt->webhook, &a->cfg, err, errlen)) { free(a); return -1; }
	a->db_path = strdup(opt->db_path ? opt->db_path : "./var/vigil.db");
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&a->mu, NULL);
	a->sched_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!a->db_path || a->sched_efd < 0 || pthread_create(&a->th_sched, NULL, sched_main, a)) goto fail;
	a->n_threads = 1;
	if (pthread_create(&a->th_send, NULL, send_main, a)) goto fail;
	a->have_send = 1;
	if (a->cfg.upstream_url[0]) {
		if (pthread_create(&a->th_up, NULL, up_main, a)) goto fail;
		a->have_up = 1;
	}
	if (!a->cfg.webhook[0])
		alog(NULL, "no Slack webhook configured (slack_webhook, --slack-webhook, $VIGIL_SLACK_WEBHOOK): "
		           "alerts go to this log and stay pending in `vigil status`");
	*out = a;
	return 0;
fail:
	snprintf(err, errlen, "cannot start the alert threads");
	alerts_stop(a);
	return -1;
}

void alerts_notify(vigil_alerts *a, int64_t check_id)
{
	(void)check_id;   /* the ping's transaction reset its deadline (trigger) */
	if (!a) return;
	/* it wakes the sender when the ping wrote an outbox row */
	uint64_t one = 1;
	if (write(a->sched_efd, &one, sizeof one) < 0) { /* counter full: a wake is pending anyway */ }
}

/* Frees a. */
void alerts_stop(vigil_alerts *a)
{
	if (!a) return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	uint64_t one = 1;
	if (a->sched_efd >= 0 && write(a->sched_efd, &one, sizeof one) < 0) { /* a wake is pending */ }
	if (a->n_threads) pthread_join(a->th_sched, NULL);
	if (a->have_send) pthread_join(a->th_send, NULL);
	if (a->have_up) pthread_join(a->th_up, NULL);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	if (a->sched_efd >= 0) close(a->sched_efd);
	curl_global_cleanup();
	free(a->db_path);
	free(a);
}
