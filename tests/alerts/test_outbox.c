/* The outbox and the Slack sender against a real HTTP server standing in for
 * the webhook: batching window, Block Kit + text, retries with backoff and
 * Retry-After, permanent failures, timeouts, the redirect cap, mutes (held,
 * released, suppressed), no webhook, secrets scrubbed, a crashed batch
 * re-sent under its own key, the gap digest, and the threads end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/alerts.h"
#include "tests/alerts/fake_slack.h"

#define T0 1800000000000LL
#define S 1000LL

static alerts_cfg cfg;
static char dir[64], dbpath[128];
static reg_db *db;
static fake_slack *fs;
static volatile int stop_flag;

static int setup(void **st)
{
	(void)st;
	char err[256];
	assert_int_equal(alerts_cfg_load(NULL, NULL, &cfg, err, sizeof err), 0);
	fs = fs_start();
	assert_non_null(fs);
	snprintf(cfg.webhook, sizeof cfg.webhook, "%s", fs->url);
	cfg.batch_window_ms = 1000;
	cfg.retry_base_ms = 1000;
	cfg.retry_max_ms = 8000;
	cfg.http_timeout_ms = 2000;
	snprintf(dir, sizeof dir, "/tmp/vigil-outbox-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/v.db", dir);
	assert_int_equal(reg_open(dbpath, &db, err, sizeof err), REG_OK);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	reg_close(db);
	fs_stop(fs);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

static int64_t add(const char *slug, int64_t created)
{
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "%s", slug);
	snprintf(c.name, sizeof c.name, "Job %s", slug);
	c.period_s = 60;
	c.grace_s = 10;
	assert_int_equal(reg_check_add(db, &c, created), REG_OK);
	return c.id;
}

static void flip(int64_t id, reg_status from, reg_status to, const char *reason, int64_t at)
{
	assert_int_equal(reg_begin(db), REG_OK);
	assert_int_equal(reg_check_transition(db, id, from, to, reason, 1, at), REG_OK);
	assert_int_equal(reg_commit(db), REG_OK);
}

static void ping(const char *slug, reg_ping_kind k, int ex, const char *body, int64_t at)
{
	reg_ping_in in = { .slug = slug, .kind = k, .exit_status = ex, .now_ms = at,
	                   .body = (const unsigned char *)body, .body_len = body ? strlen(body) : 0 };
	reg_ping_out out;
	assert_int_equal(reg_begin(db), REG_OK);
	assert_int_equal(reg_ping_record(db, &in, &out), REG_OK);
	assert_int_equal(reg_commit(db), REG_OK);
}

static int64_t q(const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(reg_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static outbox *ob(void)
{
	outbox *o = outbox_new(db, &cfg, &stop_flag);
	assert_non_null(o);
	return o;
}

/* The payload is valid Block Kit within Slack's limits. */
static void check_payload(const char *body)
{
	cJSON *j = cJSON_Parse(body);
	assert_non_null(j);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "text")));
	cJSON *blocks = cJSON_GetObjectItem(j, "blocks");
	assert_true(cJSON_IsArray(blocks));
	assert_true(cJSON_GetArraySize(blocks) <= 50);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 0), "type")->valuestring, "header");
	cJSON *b;
	cJSON_ArrayForEach(b, blocks) {
		cJSON *t = cJSON_GetObjectItem(b, "text");
		if (t && cJSON_IsString(cJSON_GetObjectItem(t, "text")))
			assert_true(strlen(cJSON_GetObjectItem(t, "text")->valuestring) <= 3000);
	}
	cJSON_Delete(j);
}

static void test_batching_window(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0), b = add("beta", T0), c = add("gamma", T0);
	ping("alpah", REG_PING_SUCCESS, -1, NULL, T0 - 5000);   /* an orphan: a typo of alpha */
	flip(a, REG_NEW, REG_DOWN, "never_pinged", T0);
	flip(b, REG_NEW, REG_DOWN, "late", T0 + 200);
	flip(c, REG_NEW, REG_DOWN, "late", T0 + 400);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 999, &r), REG_OK);
	assert_int_equal(fs->n, 0);
	assert_int_equal(r.next_wake_ms, T0 + 1000);
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.sent, 3);
	assert_int_equal(fs->n, 1);
	const char *body = fs->reqs[0].body;
	check_payload(body);
	assert_non_null(strstr(body, "alpha"));
	assert_non_null(strstr(body, "beta"));
	assert_non_null(strstr(body, "gamma"));
	assert_non_null(strstr(body, "3 checks down"));
	assert_non_null(strstr(body, "No ping of any kind on record"));
	assert_non_null(strstr(body, "Pings arrived for the unknown slug \\\"alpah\\\" (1): a typo"));
	assert_non_null(strstr(body, fs->reqs[0].key));   /* the key is in the footer */
	assert_int_equal(strlen(fs->reqs[0].key), 16);
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='sent' AND sent_ms > 0"), 3);
	assert_int_equal(outbox_step(o, T0 + 1001, &r), REG_OK);
	assert_int_equal(fs->n, 1);
	assert_int_equal(r.next_wake_ms, INT64_MAX);
	outbox_free(o);
}

static void test_retry_5xx_same_key(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	fs_set(fs, FS_500, 2, 0);
	outbox *o = ob();
	outbox_step_out r;
	int64_t now = T0 + 1000;
	assert_int_equal(outbox_step(o, now, &r), REG_OK);
	assert_int_equal(r.retried, 1);
	assert_int_equal(r.http_status, 500);
	int64_t next = q("SELECT next_attempt_ms FROM alerts");
	assert_true(next >= now + 500 && next <= now + 1000);   /* base 1 s, half jittered */
	assert_int_equal(q("SELECT attempts FROM alerts"), 1);
	assert_int_equal(outbox_step(o, next - 1, &r), REG_OK);
	assert_int_equal(fs->n, 1);                              /* not before its time */
	assert_int_equal(r.next_wake_ms, next);
	now = next;
	assert_int_equal(outbox_step(o, now, &r), REG_OK);
	assert_int_equal(fs->n, 2);
	next = q("SELECT next_attempt_ms FROM alerts");
	assert_true(next >= now + 1000 && next <= now + 2000);  /* doubled */
	assert_int_equal(outbox_step(o, next, &r), REG_OK);
	assert_int_equal(fs->n, 3);
	assert_int_equal(r.sent, 1);
	assert_string_equal(fs->reqs[0].key, fs->reqs[1].key);
	assert_string_equal(fs->reqs[1].key, fs->reqs[2].key);
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='sent' AND attempts=3"), 1);
	outbox_free(o);
}

static void test_429_retry_after(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	fs_set(fs, FS_429, 1, 7);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.http_status, 429);
	assert_int_equal(q("SELECT next_attempt_ms FROM alerts"), T0 + 8000);
	assert_int_equal(outbox_step(o, T0 + 7999, &r), REG_OK);
	assert_int_equal(fs->n, 1);
	assert_int_equal(outbox_step(o, T0 + 8000, &r), REG_OK);
	assert_int_equal(r.sent, 1);
	outbox_free(o);
}

static void test_404_is_permanent(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	fs_set(fs, FS_404, -1, 0);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.failed, 1);
	assert_int_equal(outbox_step(o, T0 + 100000, &r), REG_OK);
	assert_int_equal(fs->n, 1);   /* never retried */
	alerts_outbox_stats s;
	assert_int_equal(alerts_outbox_stats_get(db, &s), REG_OK);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.pending + s.sending, 0);
	assert_non_null(strstr(s.last_error, "HTTP 404"));
	assert_non_null(strstr(s.last_error, "no_service"));
	assert_null(strstr(s.last_error, "SECRETWEBHOOKTOKEN"));
	outbox_free(o);
}

static void test_timeout_then_delivery(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	cfg.http_timeout_ms = 300;
	fs_set(fs, FS_HANG, 1, 0);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.retried, 1);
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='sending' AND last_error LIKE 'network error: Timeout%'"), 1);
	pthread_mutex_lock(&fs->mu);
	fs->hang_release = 1;
	pthread_cond_broadcast(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
	assert_int_equal(outbox_step(o, T0 + 10000, &r), REG_OK);
	assert_int_equal(r.sent, 1);
	outbox_free(o);
	cfg.http_timeout_ms = 2000;
}

static void test_redirect_cap_and_scheme(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	fs_set(fs, FS_REDIRECT, -1, 0);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.failed, 1);
	assert_int_equal(fs->n, 4);   /* the request and 3 redirects, no more */
	outbox_free(o);
	/* only http(s) webhooks */
	vigil_config *c = cfg_load(NULL, NULL, 0);
	cfg_set(c, "slack_webhook", "ftp://example.com/x");
	alerts_cfg ac;
	char err[256];
	assert_int_equal(alerts_cfg_load(c, NULL, &ac, err, sizeof err), -1);
	assert_non_null(strstr(err, "slack_webhook"));
	cfg_set(c, "slack_webhook", "https://hooks.example/a");
	cfg_set(c, "alert.batch_window", "1500ms");
	assert_int_equal(alerts_cfg_load(c, NULL, &ac, err, sizeof err), 0);
	assert_int_equal(ac.batch_window_ms, 1500);
	assert_string_equal(ac.webhook, "https://hooks.example/a");
	assert_int_equal(alerts_cfg_load(c, "http://override/b", &ac, err, sizeof err), 0);
	assert_string_equal(ac.webhook, "http://override/b");
	cfg_set(c, "alert.batch_window", "soon");
	assert_int_equal(alerts_cfg_load(c, NULL, &ac, err, sizeof err), -1);
	assert_non_null(strstr(err, "alert.batch_window"));
	cfg_free(c);
	long status;
	int64_t ra;
	assert_int_equal(slack_post("file:///etc/passwd", "{}", "k", 1000, NULL, &status, &ra, err, sizeof err), 2);
}

static void test_mute_hold_release_suppress(void **st)
{
	(void)st;
	int64_t a = add("muted-down", T0), b = add("muted-recovers", T0);
	assert_int_equal(reg_check_set_mute(db, "muted-down", T0 + 5000, 0, "disk swap"), REG_OK);
	assert_int_equal(reg_check_set_mute(db, "muted-recovers", T0 + 5000, 0, "disk swap"), REG_OK);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	flip(b, REG_NEW, REG_DOWN, "late", T0);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.held, 2);
	assert_int_equal(fs->n, 0);
	assert_int_equal(r.next_wake_ms, T0 + 5000);   /* wakes at the mute's end */
	ping("muted-recovers", REG_PING_SUCCESS, -1, NULL, T0 + 3000);   /* recovery while muted */
	assert_int_equal(outbox_step(o, T0 + 3500, &r), REG_OK);
	assert_int_equal(fs->n, 0);
	assert_int_equal(outbox_step(o, T0 + 5000, &r), REG_OK);
	assert_int_equal(r.released, 1);
	assert_int_equal(fs->n, 1);
	assert_non_null(strstr(fs->reqs[0].body, "muted-down"));
	assert_non_null(strstr(fs->reqs[0].body, "Mute ended (disk swap) and it is still down"));
	assert_null(strstr(fs->reqs[0].body, "muted-recovers"));
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='suppressed'"), 2);   /* b's down and b's recovery */
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='sent'"), 1);
	outbox_free(o);
}

static char logged[4096];
static void cap_log(void *u, const char *line)
{
	(void)u;
	size_t n = strlen(logged);
	snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

static void test_no_webhook_logs_and_keeps(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	cfg.webhook[0] = '\0';
	outbox *o = ob();
	logged[0] = '\0';
	outbox_set_log(o, cap_log, NULL);
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 5000, &r), REG_OK);
	assert_int_equal(r.logged, 1);
	assert_non_null(strstr(logged, "alpha"));
	assert_non_null(strstr(logged, "kept pending"));
	assert_int_equal(outbox_step(o, T0 + 6000, &r), REG_OK);
	assert_int_equal(r.logged, 0);   /* once per run */
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='pending'"), 1);
	outbox_free(o);
	snprintf(cfg.webhook, sizeof cfg.webhook, "%s", fs->url);
	/* a sender with a webhook delivers what was kept */
	o = ob();
	assert_int_equal(outbox_step(o, T0 + 7000, &r), REG_OK);
	assert_int_equal(r.sent, 1);
	outbox_free(o);
}

static void test_secrets_and_output(void **st)
{
	(void)st;
	add("leaky", T0);
	char key[80];
	assert_int_equal(reg_ping_key(db, key, sizeof key), REG_OK);
	char body[8192];
	int n = 0;
	for (int i = 0; i < 30; i++) n += snprintf(body + n, sizeof body - (size_t)n, "line %02d\n", i);
	n += snprintf(body + n, sizeof body - (size_t)n, "curl http://vigil/ping/%s/leaky\n", key);
	n += snprintf(body + n, sizeof body - (size_t)n, "posting to %s\n", fs->url);
	snprintf(body + n, sizeof body - (size_t)n, "```INJECT <!channel> \x01 last line");
	ping("leaky", REG_PING_EXIT, 3, body, T0);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.sent, 1);
	const char *p = fs->reqs[0].body;
	check_payload(p);
	assert_null(strstr(p, key));
	assert_null(strstr(p, "SECRETWEBHOOKTOKEN"));
	assert_non_null(strstr(p, "[redacted]"));
	assert_null(strstr(p, "```INJECT"));
	assert_non_null(strstr(p, "INJECT"));
	assert_non_null(strstr(p, "last line"));
	assert_null(strstr(p, "line 05"));          /* cut to the last lines */
	assert_non_null(strstr(p, "Exit status: 3"));
	assert_non_null(strstr(p, "the job exited with a non-zero status"));
	assert_null(strstr(p, "No ping of any kind"));
	outbox_free(o);
}

static void test_crashed_batch_resent_with_its_key(void **st)
{
	(void)st;
	int64_t a = add("alpha", T0), b = add("beta", T0);
	flip(a, REG_NEW, REG_DOWN, "late", T0);
	flip(b, REG_NEW, REG_DOWN, "late", T0 + 10);
	/* what a crash after claiming (or after Slack's 2xx, before the mark) leaves */
	assert_int_equal(sqlite3_exec(reg_sqlite(db), "UPDATE alerts SET state='sending', batch_key='00c0ffee00c0ffee', "
	                              "next_attempt_ms=0", NULL, NULL, NULL), SQLITE_OK);
	flip(b, REG_DOWN, REG_UP, "recovered", T0 + 20);   /* a later alert: its own batch */
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 100, &r), REG_OK);
	assert_int_equal(r.sent, 2);
	assert_string_equal(fs->reqs[0].key, "00c0ffee00c0ffee");
	assert_null(strstr(fs->reqs[0].body, "recovered"));
	assert_int_equal(outbox_step(o, T0 + 1020, &r), REG_OK);
	assert_int_equal(r.sent, 1);
	assert_string_not_equal(fs->reqs[1].key, "00c0ffee00c0ffee");
	assert_non_null(strstr(fs->reqs[1].body, "1 recovered"));
	outbox_free(o);
}

static void test_gap_digest_and_big_batch(void **st)
{
	(void)st;
	assert_int_equal(reg_begin(db), REG_OK);
	for (int i = 0; i < 300; i++) {
		char slug[32];
		/* the gap checks' flips written in reverse name order: the digest
		 * lists them by name all the same */
		snprintf(slug, sizeof slug, "%s%03d", i < 240 ? "gap" : "down", i < 240 ? 239 - i : i);
		int64_t id = add(slug, T0);
		assert_int_equal(reg_check_transition(db, id, REG_NEW, i < 240 ? REG_UNKNOWN : REG_DOWN,
		                                      i < 240 ? "gap" : "late", 1, T0), REG_OK);
	}
	assert_int_equal(reg_commit(db), REG_OK);
	assert_int_equal(reg_setting_set(db, "sched.gap_from_ms", "1799999000000"), REG_OK);
	cfg.batch_max = 300;
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.sent, 300);
	assert_int_equal(fs->n, 1);
	const char *p = fs->reqs[0].body;
	check_payload(p);
	assert_non_null(strstr(p, "60 checks down, 240 unknown"));
	assert_non_null(strstr(p, "vigil was not watching from 2027-01-15 07:43:20 UTC"));
	assert_non_null(strstr(p, "gap000, gap001"));
	assert_non_null(strstr(p, "And 40 more"));
	outbox_free(o);
	cfg.batch_max = 200;
}

static void test_never_pinged_says_what_vigil_knows(void **st)
{
	(void)st;
	char script[160];
	snprintf(script, sizeof script, "%s/job.sh", dir);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho backing up\n");
	fclose(f);
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "backup");
	snprintf(c.schedule, sizeof c.schedule, "0 3 * * *");
	snprintf(c.source, sizeof c.source, "crontab");
	snprintf(c.script, sizeof c.script, "%s", script);
	snprintf(c.crontab_line, sizeof c.crontab_line, "0 3 * * * %s # vigil:backup", script);
	assert_int_equal(reg_check_add(db, &c, T0), REG_OK);
	flip(c.id, REG_NEW, REG_DOWN, "never_pinged", T0);
	outbox *o = ob();
	outbox_step_out r;
	assert_int_equal(outbox_step(o, T0 + 1000, &r), REG_OK);
	assert_int_equal(r.sent, 1);
	const char *p = fs->reqs[0].body;
	assert_non_null(strstr(p, "never pinged"));
	assert_non_null(strstr(p, "No crontab apply on record."));
	assert_non_null(strstr(p, "does not mention (no ping call?)"));
	assert_non_null(strstr(p, "Crontab: `0 3 * * * "));
	assert_non_null(strstr(p, "Schedule: `0 3 * * *` (UTC)"));
	outbox_free(o);
}

/* The threads: a real scheduler and sender, the real clock. */
static void test_threads_alert_after_deadline(void **st)
{
	(void)st;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "quick");
	c.period_s = 1;
	c.grace_s = 1;
	assert_int_equal(reg_check_add(db, &c, now), REG_OK);
	vigil_config *vc = cfg_load(NULL, NULL, 0);
	cfg_set(vc, "alert.batch_window", "200ms");
	cfg_set(vc, "alert.rescan_interval", "100ms");
	vigil_alerts *a = NULL;
	char err[256];
	alerts_opts ao = { .db_path = dbpath, .cfg = vc, .webhook = fs->url };
	assert_int_equal(alerts_start(&ao, &a, err, sizeof err), 0);
	assert_int_equal(fs_wait(fs, 1, 10000), 1);
	long long at = fs->reqs[0].at_ms;
	assert_true(at >= now + 2000);            /* not before deadline + grace */
	assert_true(at < now + 2000 + 200 + 3000); /* window + scheduling slack (loaded box) */
	assert_non_null(strstr(fs->reqs[0].body, "quick"));
	assert_non_null(strstr(fs->reqs[0].body, "never pinged"));
	/* the row is marked sent once the 2xx is in (await it, bounded) */
	for (int i = 0; i < 500 && q("SELECT count(*) FROM alerts WHERE state='sent'") == 0; i++) usleep(10000);
	assert_int_equal(q("SELECT count(*) FROM alerts WHERE state='sent'"), 1);
	alerts_notify(a, c.id);
	alerts_stop(a);
	cfg_free(vc);
	assert_int_equal(fs->n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batching_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_5xx_same_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_404_is_permanent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_then_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_cap_and_scheme, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mute_hold_release_suppress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_webhook_logs_and_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_and_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crashed_batch_resent_with_its_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_digest_and_big_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_pinged_says_what_vigil_knows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_alert_after_deadline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
