/* Integration tests of the ping endpoint: the real `vigil serve` on port 0
 * with a temporary database, driven over HTTP with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "tests/lib/vtest.h"

static char dir[128], db[256];
static vt_server srv;

static int64_t q(const char *sql)
{
	sqlite3 *s;
	assert_int_equal(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(s, 5000);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	sqlite3_close(s);
	return v;
}

static void vigil_ok(const char *const *args)
{
	char out[4096], err[4096];
	int rc = vt_vigil(args, out, sizeof out, err, sizeof err);
	if (rc) fprintf(stderr, "vigil failed (%d): %s %s\n", rc, out, err);
	assert_int_equal(rc, 0);
}

static int start(const char *const *extra)
{
	vt_tmpdir(dir, sizeof dir, "srv");
	snprintf(db, sizeof db, "%s/vigil.db", dir);
	vigil_ok((const char *[]){"--db", db, "check", "add", "job", "--every", "1h", NULL});
	vigil_ok((const char *[]){"--db", db, "check", "add", "other", "--cron", "*/5 * * * *", NULL});
	if (vt_server_start(&srv, dir, db, extra)) return -1;
	char out[256];
	if (vt_vigil((const char *[]){"--db", db, "key", NULL}, out, sizeof out, NULL, 0)) return -1;
	out[strcspn(out, "\n")] = '\0';
	snprintf(srv.key, sizeof srv.key, "%s", out);
	return 0;
}

static int setup(void **st) { (void)st; return start(NULL); }
static int setup_small_body(void **st)
{
	(void)st;
	return start((const char *[]){"--body-limit", "1000", NULL});
}
static int teardown(void **st)
{
	(void)st;
	int rc = vt_server_stop(&srv, SIGTERM);
	vt_rmrf(dir);
	return rc == 0 ? 0 : -1;	/* a clean shutdown (no sanitizer report) */
}

static long req(const char *method, const char *path, const void *body, size_t len, vt_resp *r)
{
	char url[4096];
	snprintf(url, sizeof url, "%s%s", srv.base, path);
	assert_int_equal(vt_http(method, url, body, len, NULL, r), 0);
	return r->status;
}

static long ping(const char *method, const char *suffix, vt_resp *r)
{
	char path[512];
	snprintf(path, sizeof path, "/ping/%s/%s", srv.key, suffix);
	return req(method, path, NULL, 0, r);
}

static void test_routes_and_methods(void **st)
{
	(void)st;
	static const char *methods[] = {"GET", "POST", "HEAD"};
	static const struct { const char *suffix; int kind, exit_status; } routes[] = {
		{"job", 0, -1}, {"job/start", 1, -1}, {"job/fail", 2, -1}, {"job/log", 3, -1},
		{"job/0", 4, 0}, {"job/1", 4, 1}, {"job/255", 4, 255}, {"job/007", 4, 7},
	};
	int n = 0;
	for (size_t m = 0; m < 3; m++)
		for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
			vt_resp r;
			assert_int_equal(ping(methods[m], routes[i].suffix, &r), 200);
			if (strcmp(methods[m], "HEAD")) assert_string_equal(r.body.p, "OK");
			else assert_null(r.body.p);
			assert_non_null(strstr(r.headers.p, "Ping-Body-Limit: 102400"));
			vt_resp_free(&r);
			n++;
			char sql[256];
			snprintf(sql, sizeof sql, "SELECT kind*1000+exit_status+1 FROM pings ORDER BY id DESC LIMIT 1");
			assert_int_equal(q(sql), routes[i].kind * 1000 + routes[i].exit_status + 1);
			snprintf(sql, sizeof sql, "SELECT count(*) FROM pings WHERE method='%s'", methods[m]);
			assert_true(q(sql) >= 1);
		}
	assert_int_equal(q("SELECT count(*) FROM pings"), n);
	/* the last ping was exit 7 → down, with exactly the flips that happened */
	assert_int_equal(q("SELECT status FROM checks WHERE slug='job'"), 3);
	/* the server writes checks rows behind its pings (reg_ping_defer):
	 * what the registry reports includes every acknowledged ping */
	char out[4096], err[4096];
	const char *show[] = {"--db", db, "check", "show", "job", NULL};
	assert_int_equal(vt_vigil(show, out, sizeof out, err, sizeof err), 0);
	assert_non_null(strstr(out, "last exit:     7\n"));
}

static void test_state_via_http(void **st)
{
	(void)st;
	vt_resp r;
	assert_int_equal(q("SELECT status FROM checks WHERE slug='other'"), 0);	/* new */
	assert_int_equal(ping("GET", "other", &r), 200); vt_resp_free(&r);
	assert_int_equal(q("SELECT status FROM checks WHERE slug='other'"), 1);	/* up */
	assert_int_equal(ping("GET", "other/start", &r), 200); vt_resp_free(&r);
	assert_int_equal(q("SELECT status FROM checks WHERE slug='other'"), 4);	/* started */
	assert_int_equal(ping("GET", "other/fail", &r), 200); vt_resp_free(&r);
	assert_int_equal(q("SELECT status FROM checks WHERE slug='other'"), 3);	/* down */
	assert_int_equal(q("SELECT count(*) FROM alerts"), 1);
	assert_int_equal(ping("POST", "other/0", &r), 200); vt_resp_free(&r);
	assert_int_equal(q("SELECT status FROM checks WHERE slug='other'"), 1);	/* up again */
	assert_int_equal(q("SELECT count(*) FROM flips WHERE reason='recovered'"), 1);
}

static void test_rid_pairing(void **st)
{
	(void)st;
	const char *a = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", *b = "BBBBBBBB-BBBB-4BBB-8BBB-BBBBBBBBBBBB";
	char p[256];
	vt_resp r;
	snprintf(p, sizeof p, "/ping/%s/job/start?rid=%s", srv.key, a);
	assert_int_equal(req("GET", p, NULL, 0, &r), 200); vt_resp_free(&r);
	snprintf(p, sizeof p, "/ping/%s/job/start?rid=%s", srv.key, b);
	assert_int_equal(req("GET", p, NULL, 0, &r), 200); vt_resp_free(&r);
	vt_sleep_ms(30);	/* a measurable duration, not synchronisation */
	snprintf(p, sizeof p, "/ping/%s/job/0?rid=%s", srv.key, a);
	assert_int_equal(req("GET", p, NULL, 0, &r), 200); vt_resp_free(&r);
	/* the finish paired with start a (ping 1), not with the later start b */
	int64_t da = q("SELECT duration_ms FROM pings WHERE id=3");
	int64_t want = q("SELECT (SELECT created_ms FROM pings WHERE id=3) - (SELECT created_ms FROM pings WHERE id=1)");
	assert_int_equal(da, want);
	assert_true(da >= 30);
	/* rids are stored lower-case, and pair case-insensitively */
	snprintf(p, sizeof p, "/ping/%s/job/fail?rid=%s", srv.key, b);
	assert_int_equal(req("GET", p, NULL, 0, &r), 200); vt_resp_free(&r);
	assert_int_equal(q("SELECT count(*) FROM pings WHERE rid='bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'"), 2);
	want = q("SELECT (SELECT created_ms FROM pings WHERE id=4) - (SELECT created_ms FROM pings WHERE id=2)");
	assert_int_equal(q("SELECT duration_ms FROM pings WHERE id=4"), want);
}

static void test_body_cut_at_limit(void **st)
{
	(void)st;
	unsigned char body[5000];
	for (size_t i = 0; i < sizeof body; i++) body[i] = (unsigned char)(i * 7);	/* NULs, 0xff, not UTF-8 */
	char p[256];
	snprintf(p, sizeof p, "/ping/%s/job/1", srv.key);
	vt_resp r;
	assert_int_equal(req("POST", p, body, sizeof body, &r), 200);
	assert_non_null(strstr(r.headers.p, "Ping-Body-Limit: 1000"));
	vt_resp_free(&r);
	assert_int_equal(q("SELECT length(body) FROM pings"), 1000);
	assert_int_equal(q("SELECT body_cut FROM pings"), 1);
	sqlite3 *s;
	assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
	sqlite3_stmt *stt;
	assert_int_equal(sqlite3_prepare_v2(s, "SELECT body FROM pings", -1, &stt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stt), SQLITE_ROW);
	assert_memory_equal(sqlite3_column_blob(stt, 0), body, 1000);
	sqlite3_finalize(stt);
	sqlite3_close(s);
	/* a body within the limit is kept whole and not marked */
	assert_int_equal(req("POST", p, body, 999, &r), 200); vt_resp_free(&r);
	assert_int_equal(q("SELECT length(body) FROM pings WHERE id=2"), 999);
	assert_int_equal(q("SELECT body_cut FROM pings WHERE id=2"), 0);
}

static void test_unknown_slug_is_orphan(void **st)
{
	(void)st;
	vt_resp r;
	assert_int_equal(ping("GET", "weather-pul", &r), 404); vt_resp_free(&r);
	assert_int_equal(ping("POST", "weather-pul/fail", &r), 404); vt_resp_free(&r);
	assert_int_equal(q("SELECT count FROM orphans WHERE slug='weather-pul'"), 2);
	assert_int_equal(q("SELECT count(*) FROM pings"), 0);
	/* a wrong key is 404 too, and records nothing */
	assert_int_equal(req("GET", "/ping/0123456789abcdef0123456789abcdef/job", NULL, 0, &r), 404); vt_resp_free(&r);
	assert_int_equal(req("GET", "/ping/0123456789abcdef0123456789abcdef/ghost", NULL, 0, &r), 404); vt_resp_free(&r);
	assert_int_equal(q("SELECT count(*) FROM orphans"), 1);
	assert_int_equal(q("SELECT count(*) FROM pings"), 0);
}

/* Crafted bad requests: each gets exactly its status and message, and
 * changes nothing in the database. */
static void test_malformed_requests(void **st)
{
	(void)st;
	char longslug[80], longpath[700];
	memset(longslug, 'a', 65); longslug[65] = '\0';
	memset(longpath, 'x', 600); longpath[600] = '\0';
	struct { const char *method; char path[800]; long status; const char *msg; } cases[] = {
		{"GET", "/ping/%K/", 400, "missing slug"},
		{"GET", "/ping/%K/Job", 400, "slug must be lowercase"},
		{"GET", "/ping/%K/JOB/start", 400, "slug must be lowercase"},
		{"GET", "/ping/%K/-job", 400, "invalid slug"},
		{"GET", "/ping/%K/_job", 400, "invalid slug"},
		{"GET", "/ping/%K/jo.b", 400, "invalid slug"},
		{"GET", "/ping/%K/j%%20b", 400, "invalid slug"},
		{"GET", "/ping/%K/j%%C3%%B6b", 400, "invalid slug"},
		{"GET", "/ping/%K/%L", 400, "slug longer than 64"},
		{"GET", "/ping/%K/job/256", 400, "exit status must be 0-255"},
		{"GET", "/ping/%K/job/1000", 400, "exit status must be 0-255"},
		{"GET", "/ping/%K/job/-1", 400, "unknown ping kind"},
		{"GET", "/ping/%K/job/0x1", 400, "unknown ping kind"},
		{"GET", "/ping/%K/job/starts", 400, "unknown ping kind"},
		{"GET", "/ping/%K/job/START", 400, "unknown ping kind"},
		{"GET", "/ping/%K/job/", 400, "unknown ping kind"},
		{"GET", "/ping/%K/job/start/x", 400, "too many path segments"},
		{"GET", "/ping/%K/job?rid=not-a-uuid", 400, "invalid rid"},
		{"GET", "/ping/%K/job?rid=", 400, "invalid rid"},
		{"GET", "/ping/%K/job?rid=aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaag", 400, "invalid rid"},
		{"GET", "/ping/%K/job?rid=aaaaaaaaaaaaa4aaa-8aaa-aaaaaaaaaaaa", 400, "invalid rid"},
		{"GET", "/ping/", 400, "expected /ping/<key>/<slug>"},
		{"GET", "/ping/%K", 400, "expected /ping/<key>/<slug>"},
		{"GET", "/ping//job", 400, "expected /ping/<key>/<slug>"},
		{"GET", "/ping/nokey/job", 404, "unknown ping key"},
		{"PUT", "/ping/%K/job", 405, "method not allowed"},
		{"DELETE", "/ping/%K/job", 405, "method not allowed"},
		{"PATCH", "/ping/%K/job", 405, "method not allowed"},
		{"OPTIONS", "/ping/%K/job", 405, "method not allowed"},
		{"GET", "/ping/%K/%P", 414, "request path too long"},
		{"GET", "/nothing-here", 404, "not found"},
	};
	int64_t pings0 = q("SELECT count(*) FROM pings"), orph0 = q("SELECT count(*) FROM orphans");
	int64_t ver0 = q("PRAGMA data_version");
	(void)ver0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* expand %K (key), %L (65-char slug), %P (long path) */
		char path[1600] = "", *o = path;
		for (const char *p = cases[i].path; *p; p++) {
			if (p[0] == '%' && p[1] == 'K') { o += sprintf(o, "%s", srv.key); p++; }
			else if (p[0] == '%' && p[1] == 'L') { o += sprintf(o, "%s", longslug); p++; }
			else if (p[0] == '%' && p[1] == 'P') { o += sprintf(o, "%s", longpath); p++; }
			else if (p[0] == '%' && p[1] == '%') { *o++ = '%'; p++; }
			else *o++ = *p;
		}
		*o = '\0';
		vt_resp r;
		long status = req(cases[i].method, path, NULL, 0, &r);
		if (status != cases[i].status || !r.body.p || !strstr(r.body.p, cases[i].msg))
			fprintf(stderr, "case %zu: %s %s -> %ld %s\n", i, cases[i].method, path, status, r.body.p ? r.body.p : "");
		assert_int_equal(status, cases[i].status);
		assert_non_null(r.body.p);
		assert_non_null(strstr(r.body.p, cases[i].msg));
		vt_resp_free(&r);
	}
	/* a header block larger than the per-connection memory bound */
	char big[40000];
	memset(big, 'h', sizeof big);
	memcpy(big, "X-Big: ", 7);
	big[sizeof big - 1] = '\0';
	char url[512];
	snprintf(url, sizeof url, "%s/ping/%s/job", srv.base, srv.key);
	vt_resp r;
	assert_int_equal(vt_http("GET", url, NULL, 0, (const char *[]){big, NULL}, &r), 0);
	assert_true(r.status == 431 || r.status == 413 || r.status == 400);
	vt_resp_free(&r);
	assert_int_equal(q("SELECT count(*) FROM pings"), pings0);
	assert_int_equal(q("SELECT count(*) FROM orphans"), orph0);
	assert_int_equal(q("SELECT count(*) FROM flips"), 0);
	/* and the server still answers, also with headers of a few KB (the
	 * memory bound must leave room for an ordinary large request) */
	assert_int_equal(ping("GET", "job", &r), 200);
	vt_resp_free(&r);
	char mid[4000];
	memset(mid, 'c', sizeof mid);
	memcpy(mid, "Cookie: ", 8);
	mid[sizeof mid - 1] = '\0';
	assert_int_equal(vt_http("GET", url, NULL, 0, (const char *[]){mid, "User-Agent: vigil-test/1.0 (a long agent string)", NULL}, &r), 0);
	assert_int_equal(r.status, 200);
	vt_resp_free(&r);
	assert_int_equal(q("SELECT count(*) FROM pings"), pings0 + 2);
}

typedef struct { int id, n, ok; } burst;
static void *burst_main(void *arg)
{
	burst *b = arg;
	char url[512];
	for (int i = 0; i < b->n; i++) {
		char body[64];
		int len = snprintf(body, sizeof body, "thread %d ping %d", b->id, i);
		snprintf(url, sizeof url, "%s/ping/%s/%s", srv.base, srv.key, i % 2 ? "job" : "other");
		vt_resp r;
		if (vt_http("POST", url, body, (size_t)len, NULL, &r) == 0 && r.status == 200) b->ok++;
		vt_resp_free(&r);
	}
	return NULL;
}

/* Concurrent pings share commits; every acknowledged one is there. */
static void test_concurrent_pings(void **st)
{
	(void)st;
	enum { T = 8, N = 40 };
	pthread_t th[T];
	burst b[T];
	for (int i = 0; i < T; i++) {
		b[i] = (burst){ .id = i, .n = N };
		pthread_create(&th[i], NULL, burst_main, &b[i]);
	}
	int ok = 0;
	for (int i = 0; i < T; i++) { pthread_join(th[i], NULL); ok += b[i].ok; }
	assert_int_equal(ok, T * N);
	assert_int_equal(q("SELECT count(*) FROM pings"), T * N);
	assert_int_equal(q("SELECT count(DISTINCT body) FROM pings"), T * N);
}

/* While another process holds the write lock past busy_timeout, pings get
 * 503 and are not acknowledged; afterwards they are accepted again. */
static void test_503_when_database_locked(void **st)
{
	(void)st;
	sqlite3 *s;
	assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
	assert_int_equal(sqlite3_exec(s, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	vt_resp r;
	assert_int_equal(ping("GET", "job", &r), 503);
	assert_non_null(strstr(r.body.p, "not recorded"));
	vt_resp_free(&r);
	assert_int_equal(sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	assert_int_equal(q("SELECT count(*) FROM pings"), 0);
	assert_int_equal(ping("GET", "job", &r), 200);
	vt_resp_free(&r);
	assert_int_equal(q("SELECT count(*) FROM pings"), 1);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routes_and_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_via_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rid_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_cut_at_limit, setup_small_body, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_slug_is_orphan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_pings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_503_when_database_locked, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
