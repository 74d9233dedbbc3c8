/* tests/web/test_api.c — the JSON API, the page's headers and escaping, API
 * keys and the non-loopback login, over real HTTP against `vigil serve`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/web/web_harness.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

static srv S;
static char bearer_ro[128], bearer_rw[128];

static int setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (srv_start(&S, "127.0.0.1:0")) { printf("cannot start vigil serve (%s)\n", vigil_bin()); return -1; }
	snprintf(bearer_ro, sizeof bearer_ro, "Bearer %s", S.ro);
	snprintf(bearer_rw, sizeof bearer_rw, "Bearer %s", S.rw);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int code = srv_stop(&S);
	curl_global_cleanup();
	if (code != 0) { printf("vigil serve exited with %d\n", code); return -1; }
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static cJSON *req_json(const char *method, const char *path, const char *auth, const char *body, long want)
{
	http_res r;
	http_do(&S, method, path, auth, "Content-Type: application/json", body, body ? strlen(body) : 0, &r);
	if (r.status != want) printf("%s %s [%.200s]: got %ld, want %ld: %s\n", method, path, body ? body : "", r.status, want, r.body);
	assert_int_equal(r.status, want);
	cJSON *j = NULL;
	if (r.len) {
		char ct[128] = "";
		http_header(&r, "Content-Type", ct, sizeof ct);
		assert_string_equal(ct, "application/json");
		j = cJSON_Parse(r.body);
		assert_non_null(j);
	}
	http_free(&r);
	return j;
}

static void expect_error(const char *method, const char *path, const char *auth, const char *body, long want,
                         const char *code, const char *detail_part)
{
	cJSON *j = req_json(method, path, auth, body, want);
	assert_non_null(j);
	const cJSON *e = cJSON_GetObjectItem(j, "error"), *d = cJSON_GetObjectItem(j, "detail");
	assert_true(cJSON_IsString(e) && cJSON_IsString(d));
	if (strcmp(e->valuestring, code)) printf("error %s, want %s (%s)\n", e->valuestring, code, d->valuestring);
	assert_string_equal(e->valuestring, code);
	if (detail_part && !strstr(d->valuestring, detail_part)) {
		printf("detail \"%s\" lacks \"%s\"\n", d->valuestring, detail_part);
		fail();
	}
	cJSON_Delete(j);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static void add_check(const char *json)
{
	cJSON *j = req_json("POST", "/api/v1/checks", bearer_rw, json, 201);
	cJSON_Delete(j);
}

static void ping(const char *slug, const char *suffix, const char *body, long want)
{
	char path[256];
	snprintf(path, sizeof path, "/ping/%s/%s%s", S.ping_key, slug, suffix);
	http_res r;
	http_do(&S, body ? "POST" : "GET", path, NULL, NULL, body, body ? strlen(body) : 0, &r);
	assert_int_equal(r.status, want);
	http_free(&r);
}

/* ---- keys --------------------------------------------------------------------------------- */

static void test_auth(void **state)
{
	(void)state;
	http_res r;
	http_do(&S, "GET", "/api/v1/checks", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	char h[256];
	assert_int_equal(http_header(&r, "WWW-Authenticate", h, sizeof h), 0);
	assert_non_null(strstr(h, "Bearer"));
	http_free(&r);
	expect_error("GET", "/api/v1/checks", NULL, NULL, 401, "unauthorized", "Bearer");
	expect_error("GET", "/api/v1/checks", "Bearer vk_0000", NULL, 401, "unauthorized", "unknown API key");
	expect_error("GET", "/api/v1/status", "Basic Zm9vOmJhcg==", NULL, 401, "unauthorized", NULL);
	/* the read-only key reads, and may not write */
	cJSON_Delete(req_json("GET", "/api/v1/checks", bearer_ro, NULL, 200));
	expect_error("POST", "/api/v1/checks", bearer_ro, "{\"slug\":\"ro-try\",\"period_s\":60}", 403, "forbidden", "read-only");
	expect_error("DELETE", "/api/v1/checks/ro-try", bearer_ro, NULL, 403, "forbidden", NULL);
	/* keys are stored hashed: the table never holds the key itself */
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(S.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash FROM apikeys", -1, &st, NULL), SQLITE_OK);
	int rows = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(st, 0);
		assert_int_equal(strlen(hash), 64);
		assert_null(strstr(S.rw, hash));
		assert_null(strstr(hash, S.ro + 3));
		rows++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_true(rows >= 2);
	/* a removed key stops working at once */
	char key[128], err[512], out[4096], auth[160];
	assert_int_equal(run_vigil(&S, key, sizeof key, err, sizeof err, "apikey", "create", "--ro", "--label", "temp", NULL), 0);
	snprintf(auth, sizeof auth, "Bearer %s", key);
	cJSON_Delete(req_json("GET", "/api/v1/status", auth, NULL, 200));
	assert_int_equal(run_vigil(&S, out, sizeof out, err, sizeof err, "apikey", "list", NULL), 0);
	char *line = strstr(out, "temp");
	assert_non_null(line);
	while (line > out && line[-1] != '\n') line--;
	char id[16];
	assert_int_equal(sscanf(line, "%15s", id), 1);
	assert_int_equal(run_vigil(&S, out, sizeof out, err, sizeof err, "apikey", "rm", id, NULL), 0);
	expect_error("GET", "/api/v1/status", auth, NULL, 401, "unauthorized", NULL);
	assert_int_equal(run_vigil(&S, out, sizeof out, err, sizeof err, "apikey", "rm", id, NULL), 2);
	assert_int_equal(run_vigil(&S, out, sizeof out, err, sizeof err, "apikey", "create", NULL), 2);
}

/* ---- checks ----------------------------------------------------------------------------------- */

static void test_checks_crud(void **state)
{
	(void)state;
	http_res r;
	const char *body = "{\"slug\":\"crud\",\"name\":\"Nightly dump\",\"schedule\":\"30 2 * * *\",\"tz\":\"Europe/Berlin\","
	                   "\"grace_s\":\"15m\",\"tags\":\"db nightly\"}";
	http_do(&S, "POST", "/api/v1/checks", bearer_rw, NULL, body, strlen(body), &r);
	assert_int_equal(r.status, 201);
	char loc[256];
	assert_int_equal(http_header(&r, "Location", loc, sizeof loc), 0);
	assert_string_equal(loc, "/api/v1/checks/crud");
	http_free(&r);

	cJSON *c = req_json("GET", "/api/v1/checks/crud", bearer_ro, NULL, 200);
	assert_string_equal(jstr(c, "name"), "Nightly dump");
	assert_string_equal(jstr(c, "schedule"), "30 2 * * *");
	assert_string_equal(jstr(c, "tz"), "Europe/Berlin");
	assert_string_equal(jstr(c, "state"), "new");
	assert_int_equal((int)jnum(c, "grace_s"), 900);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "mute")));
	cJSON_Delete(c);

	/* POST again: upsert by slug, 200, fields merged */
	c = req_json("POST", "/api/v1/checks", bearer_rw, "{\"slug\":\"crud\",\"name\":\"Nightly dump v2\"}", 200);
	assert_string_equal(jstr(c, "name"), "Nightly dump v2");
	assert_string_equal(jstr(c, "schedule"), "30 2 * * *");
	cJSON_Delete(c);

	c = req_json("PATCH", "/api/v1/checks/crud", bearer_rw, "{\"period_s\":3600,\"max_runtime_s\":120}", 200);
	assert_string_equal(jstr(c, "schedule"), "");
	assert_int_equal((int)jnum(c, "period_s"), 3600);
	assert_int_equal((int)jnum(c, "max_runtime_s"), 120);
	cJSON_Delete(c);

	c = req_json("GET", "/api/v1/checks", bearer_ro, NULL, 200);
	const cJSON *arr = cJSON_GetObjectItem(c, "checks");
	assert_true(cJSON_IsArray(arr));
	int found = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) found += jstr(it, "slug") && !strcmp(jstr(it, "slug"), "crud");
	assert_int_equal(found, 1);
	cJSON_Delete(c);

	expect_error("PATCH", "/api/v1/checks/crud", bearer_rw, "{\"slug\":\"other\"}", 400, "invalid", "cannot change");
	expect_error("PATCH", "/api/v1/checks/nope", bearer_rw, "{\"name\":\"x\"}", 404, "not_found", "nope");
	expect_error("GET", "/api/v1/checks/nope", bearer_ro, NULL, 404, "not_found", NULL);

	http_do(&S, "DELETE", "/api/v1/checks/crud", bearer_rw, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.len, 0);
	http_free(&r);
	expect_error("GET", "/api/v1/checks/crud", bearer_ro, NULL, 404, "not_found", NULL);
	expect_error("DELETE", "/api/v1/checks/crud", bearer_rw, NULL, 404, "not_found", NULL);
}

static void test_validation(void **state)
{
	(void)state;
	const char *P = "/api/v1/checks";
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",", 400, "invalid_json", "malformed");
	expect_error("POST", P, bearer_rw, "[1,2]", 400, "invalid_json", "object");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60} {}", 400, "invalid_json", "after");
	expect_error("POST", P, bearer_rw, "", 400, "invalid_json", NULL);
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"colour\":\"red\"}", 400, "unknown_field", "colour");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"period_s\":70}", 400, "invalid_json", "twice");
	expect_error("POST", P, bearer_rw, "{\"period_s\":60}", 400, "invalid", "slug");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"Bad Slug\",\"period_s\":60}", 400, "invalid", "slug");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\"}", 400, "invalid", "schedule");
	/* the schedule goes through the crontab engine's parser, as in the CLI */
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"schedule\":\"* * *\"}", 400, "invalid", "schedule");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"schedule\":\"61 * * * *\"}", 400, "invalid", "61");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"schedule\":\"0 0 30 2 *\"}", 400, "invalid", "never fires");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"schedule\":\"* * * * *\",\"period_s\":60}", 400, "invalid", "not both");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"tz\":\"Mars/Olympus\"}", 400, "invalid", "time zone");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":-5}", 400, "invalid", "period_s");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"grace_s\":1.5}", 400, "invalid", "grace_s");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"grace_s\":\"soon\"}", 400, "invalid", "grace_s");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"name\":7}", 400, "invalid", "string");
	expect_error("POST", P, bearer_rw, "{\"slug\":\"x\",\"period_s\":60,\"name\":\"a\\u0001b\"}", 400, "invalid", "control");
	char big[400];
	memset(big, 'n', 300);
	big[300] = '\0';
	char body[600];
	snprintf(body, sizeof body, "{\"slug\":\"x\",\"period_s\":60,\"name\":\"%s\"}", big);
	expect_error("POST", P, bearer_rw, body, 400, "invalid", "longer than");
	/* an oversized body: refused whole, nothing created */
	size_t n = 300 * 1024;
	char *huge = malloc(n + 64);
	assert_non_null(huge);
	int k = snprintf(huge, 64, "{\"slug\":\"huge\",\"period_s\":60,\"desc\":\"");
	memset(huge + k, 'a', n);
	strcpy(huge + k + n, "\"}");
	expect_error("POST", P, bearer_rw, huge, 413, "body_too_large", NULL);
	free(huge);
	expect_error("GET", "/api/v1/checks/huge", bearer_ro, NULL, 404, "not_found", NULL);
	expect_error("GET", "/api/v1/checks/x", bearer_ro, NULL, 404, "not_found", NULL);
	expect_error("GET", "/api/v1/checks/BAD!", bearer_ro, NULL, 400, "invalid", "slug");
}

static void test_routes(void **state)
{
	(void)state;
	http_res r;
	http_do(&S, "PUT", "/api/v1/checks", bearer_rw, NULL, "{}", 2, &r);
	assert_int_equal(r.status, 405);
	char allow[128];
	assert_int_equal(http_header(&r, "Allow", allow, sizeof allow), 0);
	assert_string_equal(allow, "GET, POST");
	http_free(&r);
	expect_error("GET", "/api/v1/nothing", bearer_ro, NULL, 404, "not_found", NULL);
	expect_error("GET", "/api/v2/checks", bearer_ro, NULL, 404, "not_found", NULL);
	add_check("{\"slug\":\"routes\",\"period_s\":60}");
	expect_error("GET", "/api/v1/checks/routes/pause", bearer_rw, NULL, 405, "method_not_allowed", "POST");
	expect_error("POST", "/api/v1/checks/routes/explode", bearer_rw, NULL, 404, "not_found", NULL);
	expect_error("GET", "/api/v1/checks/routes/pings/abc/body", bearer_ro, NULL, 404, "not_found", NULL);
	expect_error("GET", "/api/v1/checks/routes/pings/1/body/x", bearer_ro, NULL, 404, "not_found", NULL);
	expect_error("POST", "/api/v1/status", bearer_rw, "{}", 405, "method_not_allowed", NULL);
}

/* ---- actions: the CLI's operations ------------------------------------------------------------- */

static void test_actions(void **state)
{
	(void)state;
	add_check("{\"slug\":\"act\",\"schedule\":\"*/5 * * * *\"}");
	cJSON *c = req_json("POST", "/api/v1/checks/act/pause", bearer_rw, NULL, 200);
	assert_string_equal(jstr(c, "state"), "paused");
	cJSON_Delete(c);
	c = req_json("POST", "/api/v1/checks/act/resume", bearer_rw, "{}", 200);
	assert_string_equal(jstr(c, "state"), "new");
	cJSON_Delete(c);
	expect_error("POST", "/api/v1/checks/act/pause", bearer_rw, "{\"really\":true}", 400, "unknown_field", "really");
	expect_error("POST", "/api/v1/checks/ghost/pause", bearer_rw, NULL, 404, "not_found", NULL);

	expect_error("POST", "/api/v1/checks/act/mute", bearer_rw, NULL, 400, "invalid_json", NULL);
	expect_error("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"for\":\"2h\"}", 400, "invalid", "reason");
	expect_error("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"reason\":\"r\",\"until\":\"tomorrow\"}", 400, "invalid", "RFC 3339");
	expect_error("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"reason\":\"r\",\"for\":\"2h\",\"until\":\"2030-01-01T00:00:00Z\"}",
	             400, "invalid", "not both");
	expect_error("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"reason\":\"r\",\"why\":1}", 400, "unknown_field", "why");
	/* the mute policy is the CLI's: same function, same words */
	cJSON *e = req_json("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"reason\":\"disk swap\",\"for\":\"30d\"}", 400);
	const char *detail = jstr(e, "detail");
	assert_non_null(strstr(detail, "policy maximum"));
	char out[1024], err[1024];
	assert_int_equal(run_vigil(&S, out, sizeof out, err, sizeof err, "check", "mute", "act", "--for", "30d", "--reason",
	                           "disk swap", NULL), 2);
	assert_non_null(strstr(err, detail));
	cJSON_Delete(e);

	c = req_json("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"reason\":\"disk <swap>\",\"for\":\"2h\"}", 200);
	const cJSON *m = cJSON_GetObjectItem(c, "mute");
	assert_true(cJSON_IsObject(m));
	assert_string_equal(jstr(m, "reason"), "disk <swap>");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m, "indefinite")));
	assert_non_null(jstr(m, "until"));
	cJSON_Delete(c);
	/* the CLI sees the API's mute */
	assert_int_equal(run_vigil(&S, out, sizeof out, err, sizeof err, "check", "show", "act", NULL), 0);
	assert_non_null(strstr(out, "disk <swap>"));

	c = req_json("POST", "/api/v1/checks/act/mute", bearer_rw, "{\"reason\":\"vendor outage\",\"indefinite\":true}", 200);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "mute"), "indefinite")));
	cJSON_Delete(c);
	c = req_json("GET", "/api/v1/status", bearer_ro, NULL, 200);
	assert_true(jnum(cJSON_GetObjectItem(c, "checks"), "muted_indefinitely") >= 1);
	cJSON_Delete(c);
	c = req_json("POST", "/api/v1/checks/act/unmute", bearer_rw, NULL, 200);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "mute")));
	cJSON_Delete(c);
}

/* ---- pings, bodies, flips --------------------------------------------------------------------------- */

static void test_pings_and_flips(void **state)
{
	(void)state;
	add_check("{\"slug\":\"pinged\",\"period_s\":3600}");
	add_check("{\"slug\":\"other\",\"period_s\":3600}");
	ping("pinged", "/start", NULL, 200);
	const char body[] = "line 1\n<script>alert('x')</script>\n\xff\xfe tail";
	ping("pinged", "/1", body, 200);
	ping("pinged", "", "ok again", 200);
	ping("other", "", NULL, 200);

	cJSON *j = req_json("GET", "/api/v1/checks/pinged/pings", bearer_ro, NULL, 200);
	const cJSON *ps = cJSON_GetObjectItem(j, "pings");
	assert_int_equal(cJSON_GetArraySize(ps), 3);
	const cJSON *newest = cJSON_GetArrayItem(ps, 0), *exit1 = cJSON_GetArrayItem(ps, 1), *start = cJSON_GetArrayItem(ps, 2);
	assert_string_equal(jstr(newest, "kind"), "success");
	assert_string_equal(jstr(exit1, "kind"), "exit");
	assert_int_equal((int)jnum(exit1, "exit_status"), 1);
	assert_string_equal(jstr(start, "kind"), "start");
	assert_int_equal((int)jnum(exit1, "body_len"), (int)strlen(body));
	/* invalid UTF-8 comes out as U+FFFD, so the JSON stays valid */
	assert_non_null(strstr(jstr(exit1, "body"), "<script>alert('x')</script>"));
	assert_non_null(strstr(jstr(exit1, "body"), "\xef\xbf\xbd"));
	assert_string_equal(jstr(exit1, "remote"), "127.0.0.1");
	char url[256];
	snprintf(url, sizeof url, "%s", jstr(exit1, "body_url"));
	int n = (int)jnum(exit1, "n");
	cJSON_Delete(j);

	/* the full body, byte for byte, as text/plain */
	http_res r;
	http_do(&S, "GET", url, bearer_ro, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, strlen(body));
	assert_memory_equal(r.body, body, r.len);
	char ct[128];
	http_header(&r, "Content-Type", ct, sizeof ct);
	assert_string_equal(ct, "text/plain; charset=utf-8");
	http_header(&r, "X-Content-Type-Options", ct, sizeof ct);
	assert_string_equal(ct, "nosniff");
	http_free(&r);
	/* ping n belongs to "pinged", not to "other" */
	snprintf(url, sizeof url, "/api/v1/checks/other/pings/%d/body", n);
	expect_error("GET", url, bearer_ro, NULL, 404, "not_found", NULL);

	j = req_json("GET", "/api/v1/checks/pinged/pings?limit=1", bearer_ro, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "pings")), 1);
	cJSON_Delete(j);
	expect_error("GET", "/api/v1/checks/pinged/pings?limit=0", bearer_ro, NULL, 400, "invalid", "limit");
	expect_error("GET", "/api/v1/checks/pinged/flips?limit=x", bearer_ro, NULL, 400, "invalid", "limit");

	j = req_json("GET", "/api/v1/checks/pinged/flips", bearer_ro, NULL, 200);
	const cJSON *fs = cJSON_GetObjectItem(j, "flips");
	assert_true(cJSON_GetArraySize(fs) >= 2);
	int saw_down = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, fs) {
		assert_non_null(jstr(it, "time"));
		assert_non_null(jstr(it, "from"));
		if (!strcmp(jstr(it, "to"), "down")) saw_down = 1;
	}
	assert_true(saw_down);
	cJSON_Delete(j);

	j = req_json("GET", "/api/v1/checks/pinged", bearer_ro, NULL, 200);
	assert_string_equal(jstr(j, "state"), "up");
	assert_int_equal((int)jnum(j, "n_pings"), 3);
	cJSON_Delete(j);
}

static void test_status(void **state)
{
	(void)state;
	cJSON *j = req_json("GET", "/api/v1/status", bearer_ro, NULL, 200);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	const cJSON *d = cJSON_GetObjectItem(j, "database");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ok")));
	assert_true(jnum(d, "schema_version") >= 3);
	const cJSON *s = cJSON_GetObjectItem(j, "sender");
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(s, "pending")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(s, "failed")));
	const cJSON *m = cJSON_GetObjectItem(j, "model");
	assert_true(cJSON_IsBool(cJSON_GetObjectItem(m, "available")));
	assert_true(jnum(cJSON_GetObjectItem(j, "checks"), "total") >= 0);
	cJSON_Delete(j);
}

/* ---- the page: headers, escaping, banners ------------------------------------------------------------- */

static void page_headers_ok(const http_res *r)
{
	char v[512];
	assert_int_equal(http_header(r, "Content-Security-Policy", v, sizeof v), 0);
	assert_non_null(strstr(v, "default-src 'none'"));
	assert_null(strstr(v, "unsafe-inline"));
	assert_null(strstr(v, "script-src"));
	assert_int_equal(http_header(r, "X-Content-Type-Options", v, sizeof v), 0);
	assert_string_equal(v, "nosniff");
	assert_int_equal(http_header(r, "Cache-Control", v, sizeof v), 0);
	assert_string_equal(v, "no-store");
	assert_int_equal(http_header(r, "X-Frame-Options", v, sizeof v), 0);
}

static void test_page_escaping(void **state)
{
	(void)state;
	add_check("{\"slug\":\"xss\",\"period_s\":600,\"name\":\"<script>alert(1)</script>\",\"desc\":\"a \\\"quoted\\\" & <b>bold</b>\","
	          "\"tags\":\"<img src=x>\"}");
	ping("xss", "/fail", "<script>document.title='pwned'</script>", 200);
	http_res r;
	http_do(&S, "GET", "/", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	page_headers_ok(&r);
	assert_null(strstr(r.body, "<script"));
	assert_null(strstr(r.body, "<img"));
	assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	http_free(&r);
	http_do(&S, "GET", "/checks/xss", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	page_headers_ok(&r);
	assert_null(strstr(r.body, "<script"));
	assert_null(strstr(r.body, "<b>"));
	assert_non_null(strstr(r.body, "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
	assert_non_null(strstr(r.body, "a &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"));
	assert_non_null(strstr(r.body, "/checks/xss/pings/"));
	http_free(&r);
	http_do(&S, "GET", "/checks/no-such-check", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	http_free(&r);
	http_do(&S, "POST", "/", NULL, NULL, "x", 1, &r);
	assert_int_equal(r.status, 405);
	http_free(&r);
	http_do(&S, "GET", "/style.css", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	char ct[64];
	http_header(&r, "Content-Type", ct, sizeof ct);
	assert_string_equal(ct, "text/css; charset=utf-8");
	http_free(&r);
}

static int64_t sql_int(const char *sql)
{
	sqlite3 *db;
	int64_t v = -1;
	assert_int_equal(sqlite3_open(S.db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	int rc = sqlite3_step(st);
	assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
	if (rc == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The banner reads the sender's outbox: a permanently failed alert and an
 * undelivered one are shown, and counted in /metrics and /api/v1/status. */
static void test_outbox_banner(void **state)
{
	(void)state;
	add_check("{\"slug\":\"outbox\",\"period_s\":600}");
	ping("outbox", "/fail", NULL, 200);
	ping("outbox", "", NULL, 200);
	int64_t f1 = sql_int("SELECT min(f.id) FROM flips f JOIN checks c ON c.id=f.check_id WHERE c.slug='outbox'");
	int64_t f2 = sql_int("SELECT max(f.id) FROM flips f JOIN checks c ON c.id=f.check_id WHERE c.slug='outbox'");
	assert_true(f1 > 0 && f2 > f1);
	/* alerts the sender is about to deliver (fresh, never tried) are no news */
	http_res r;
	http_do(&S, "GET", "/", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "id=\"banner-alerts\""));
	http_free(&r);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO alerts(flip_id, created_ms, state, last_error) VALUES (%lld, 1, 'failed', 'HTTP 404 <no_service>') "
	         "ON CONFLICT(flip_id) DO UPDATE SET state='failed', last_error=excluded.last_error RETURNING id",
	         (long long)f1);
	assert_true(sql_int(sql) > 0);
	snprintf(sql, sizeof sql,
	         "INSERT INTO alerts(flip_id, created_ms, state) VALUES (%lld, 2, 'pending') "
	         "ON CONFLICT(flip_id) DO UPDATE SET state='pending', created_ms=2 RETURNING id", (long long)f2);
	assert_true(sql_int(sql) > 0);
	http_do(&S, "GET", "/", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "id=\"banner-alerts\""));
	assert_non_null(strstr(r.body, "failed permanently"));
	assert_non_null(strstr(r.body, "not delivered yet"));
	assert_non_null(strstr(r.body, "HTTP 404 &lt;no_service&gt;"));
	http_free(&r);
	cJSON *j = req_json("GET", "/api/v1/status", bearer_ro, NULL, 200);
	const cJSON *s = cJSON_GetObjectItem(j, "sender");
	assert_true(jnum(s, "failed") >= 1);
	assert_true(jnum(s, "pending") >= 1);
	assert_true(jnum(s, "stuck") >= 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "ok")));
	cJSON_Delete(j);
}

/* ---- a server on a non-loopback address -------------------------------------------------------------------- */

static void test_non_loopback(void **state)
{
	(void)state;
	srv n;
	if (srv_start(&n, "0.0.0.0:0")) { print_message("SKIP: cannot listen on 0.0.0.0 here\n"); skip(); }
	http_res r;
	http_do(&n, "GET", "/", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	char h[256];
	assert_int_equal(http_header(&r, "WWW-Authenticate", h, sizeof h), 0);
	assert_non_null(strstr(h, "Basic"));
	http_free(&r);
	http_do(&n, "GET", "/checks/anything", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	/* basic auth: the key as password; a wrong one is refused */
	char up[200], b64[300], auth[320];
	snprintf(up, sizeof up, "admin:%s", n.ro);
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t L = strlen(up), o = 0;
	for (size_t i = 0; i < L; i += 3) {
		unsigned v = (unsigned char)up[i] << 16 | (i + 1 < L ? (unsigned char)up[i + 1] << 8 : 0) | (i + 2 < L ? (unsigned char)up[i + 2] : 0);
		b64[o++] = tbl[v >> 18 & 63];
		b64[o++] = tbl[v >> 12 & 63];
		b64[o++] = i + 1 < L ? tbl[v >> 6 & 63] : '=';
		b64[o++] = i + 2 < L ? tbl[v & 63] : '=';
	}
	b64[o] = '\0';
	snprintf(auth, sizeof auth, "Basic %s", b64);
	http_do(&n, "GET", "/", auth, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	http_do(&n, "GET", "/", "Basic YWRtaW46dmtfbm9wZQ==", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	/* /login sets the cookie; the cookie opens the page */
	char form[200];
	snprintf(form, sizeof form, "key=%s", n.ro);
	http_do(&n, "POST", "/login", NULL, "Content-Type: application/x-www-form-urlencoded", form, strlen(form), &r);
	assert_int_equal(r.status, 303);
	char cookie[256];
	assert_int_equal(http_header(&r, "Set-Cookie", cookie, sizeof cookie), 0);
	assert_non_null(strstr(cookie, "HttpOnly"));
	assert_non_null(strstr(cookie, "SameSite=Strict"));
	http_free(&r);
	http_do(&n, "POST", "/login", NULL, NULL, "key=vk_wrong", 12, &r);
	assert_int_equal(r.status, 403);
	http_free(&r);
	char ch[256];
	snprintf(ch, sizeof ch, "Cookie: theme=dark; vigil_key=%s", n.ro);
	http_do(&n, "GET", "/", NULL, ch, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	/* /metrics wants a key too; pings do not */
	http_do(&n, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 401);
	http_free(&r);
	char bearer[160];
	snprintf(bearer, sizeof bearer, "Bearer %s", n.ro);
	http_do(&n, "GET", "/metrics", bearer, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	http_free(&r);
	char path[200];
	snprintf(path, sizeof path, "/ping/%s/unknown-slug", n.ping_key);
	http_do(&n, "GET", path, NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	http_free(&r);
	/* the start-up warning */
	FILE *f = fopen(n.log, "r");
	assert_non_null(f);
	char logbuf[4096];
	size_t got = fread(logbuf, 1, sizeof logbuf - 1, f);
	fclose(f);
	logbuf[got] = '\0';
	assert_non_null(strstr(logbuf, "non-loopback"));
	assert_int_equal(srv_stop(&n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_checks_crud),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_pings_and_flips),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_page_escaping),
		cmocka_unit_test(test_outbox_banner),
		cmocka_unit_test(test_non_loopback),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
