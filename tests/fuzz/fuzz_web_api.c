/* libFuzzer target: the JSON API's request handling (body parsing, field
 * validation, the check operations behind it), page auth headers, and the
 * HTML/UTF-8 escaping.  The first input byte picks the route; the rest is
 * the request body (and, for auth, the header value).  Invariants: every
 * API answer is a JSON document with a known status, errors carry "error"
 * and "detail", escaped HTML holds no markup characters, repaired text is
 * valid UTF-8 (repairing it again changes nothing). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "registry/registry.h"
#include "supervisor/ops.h"
#include "supervisor/web_internal.h"

static reg_db *db;
static vigil_config *cfg;
static char auth[128];
static char dbdir[64];

static void cleanup(void)
{
	static const char *const files[] = {"fuzz.db", "fuzz.db-wal", "fuzz.db-shm"};
	reg_close(db);
	db = NULL;
	for (size_t i = 0; i < 3; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/%s", dbdir, files[i]);
		unlink(p);
	}
	rmdir(dbdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	char path[96], msg[256], key[80];
	snprintf(dbdir, sizeof dbdir, "/tmp/vigil-fuzz-web-%d", (int)getpid());
	snprintf(path, sizeof path, "%s/fuzz.db", dbdir);
	if (reg_open(path, &db, msg, sizeof msg) != REG_OK) abort();
	atexit(cleanup);
	sqlite3_exec(reg_sqlite(db), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	if (web_apikey_create(db, 1, "fuzz", 1, key, sizeof key, NULL) != REG_OK) abort();
	snprintf(auth, sizeof auth, "Bearer %s", key);
	cfg = cfg_load(NULL, msg, sizeof msg);
	if (!cfg) abort();
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "f1");
	c.period_s = 60;
	char err[256];
	ops_check_save(db, &c, 1, 1000, err, sizeof err);
	return 0;
}

static const char *no_arg(void *ctx, const char *name) { (void)ctx; (void)name; return NULL; }

static void check_escape(const char *s, size_t n)
{
	web_buf h = {0}, u = {0}, u2 = {0};
	wb_html(&h, s, n);
	for (size_t i = 0; i < h.len; i++)
		if (h.p[i] == '<' || h.p[i] == '>' || h.p[i] == '"' || h.p[i] == '\'' || h.p[i] == '\0') abort();
	wb_utf8(&u, s, n);
	wb_utf8(&u2, u.p ? u.p : "", u.len);
	if (u.len != u2.len || (u.len && memcmp(u.p, u2.p, u.len))) abort();
	wb_free(&h);
	wb_free(&u);
	wb_free(&u2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	static const struct { const char *method, *path; } routes[] = {
		{"POST", "/api/v1/checks"}, {"PATCH", "/api/v1/checks/f1"}, {"POST", "/api/v1/checks/f1/mute"},
		{"POST", "/api/v1/checks/f1/pause"}, {"POST", "/api/v1/checks/f2"}, {"GET", "/api/v1/checks/f1/pings"},
	};
	unsigned pick = data[0] % (sizeof routes / sizeof routes[0] + 1);
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	check_escape(body, len);
	char *hdr = malloc(len + 7);
	if (!hdr) return 0;
	memcpy(hdr, "Basic ", 6);
	memcpy(hdr + 6, body, len);
	hdr[len + 6] = '\0';
	web_req r = {
		.method = "GET", .path = "/", .query = "", .authorization = auth, .cookie = NULL, .remote = "127.0.0.1",
		.body = (const unsigned char *)body, .body_len = len, .loopback = 0, .db = db, .cfg = cfg,
		.arg = no_arg, .arg_ctx = NULL,
	};
	web_resp resp = { .status = 200, .content_type = "text/plain" };
	if (pick == sizeof routes / sizeof routes[0]) {
		/* page auth with attacker-chosen Authorization and Cookie headers */
		r.authorization = hdr;
		r.cookie = hdr + 6;
		if (web_auth_page(&r) != WEB_AUTH_NONE && strstr(hdr, "vk_") == NULL) abort();
		free(hdr);
		return 0;
	}
	r.method = routes[pick].method;
	r.path = routes[pick].path;
	if (!web_handle(&r, &resp)) abort();
	static const int ok[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 503};
	int known = 0;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) known |= resp.status == ok[i];
	if (!known) abort();
	if (resp.status != 204 && strcmp(resp.content_type, "text/plain; charset=utf-8")) {
		cJSON *j = cJSON_ParseWithLength(resp.body, resp.body_len);
		if (!j) abort();
		if (resp.status >= 400 && (!cJSON_IsString(cJSON_GetObjectItem(j, "error")) ||
		                           !cJSON_IsString(cJSON_GetObjectItem(j, "detail"))))
			abort();
		cJSON_Delete(j);
	}
	free(resp.body);
	free(hdr);
	/* keep the database small: drop checks the input created */
	sqlite3_exec(reg_sqlite(db), "DELETE FROM checks WHERE slug NOT IN ('f1')", NULL, NULL, NULL);
	return 0;
}
