/* supervisor/web_api.c — the JSON API under /api/v1/.
 *
 *   GET    /api/v1/checks                         list
 *   POST   /api/v1/checks                         create, or update by slug (201 / 200)
 *   GET    /api/v1/checks/<slug>                  one check
 *   PATCH  /api/v1/checks/<slug>                  change some fields
 *   DELETE /api/v1/checks/<slug>                  remove (204)
 *   POST   /api/v1/checks/<slug>/pause|resume|mute|unmute
 *   GET    /api/v1/checks/<slug>/pings[?limit=N]  newest first, bodies cut to 1 KiB
 *   GET    /api/v1/checks/<slug>/pings/<n>/body   the stored body, as sent (n: the ping's id)
 *   GET    /api/v1/checks/<slug>/flips[?limit=N]
 *   GET    /api/v1/status                         vigil's own health
 *
 * Every request needs "Authorization: Bearer KEY": a read-only key for GET, a
 * read-write key for the rest.  Bodies are JSON objects (at most 256 KiB, the
 * server's limit); unknown fields are refused.  Each change goes through the
 * same ops_* function as the CLI command.  Errors: {"error": CODE, "detail":
 * TEXT} with 400 invalid/invalid_json/unknown_field, 401 unauthorized, 403
 * forbidden, 404 not_found, 405 method_not_allowed, 409 conflict, 413
 * body_too_large, 503 unavailable. */
#include "supervisor/web_internal.h"

#include "supervisor/cli.h"
#include "supervisor/ops.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/api/v1/"
#define BODY_PREVIEW 1024

/* ---- JSON helpers ------------------------------------------------------------------ */

/* Adds S as a string, made valid UTF-8. */
static void add_str(cJSON *o, const char *key, const char *s, size_t n)
{
	web_buf b = {0};
	wb_utf8(&b, s, n);
	cJSON_AddStringToObject(o, key, b.p ? b.p : "");
	wb_free(&b);
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
	char t[64];
	if (ms) cJSON_AddStringToObject(o, key, ops_rfc3339(ms, t, sizeof t));
	else cJSON_AddNullToObject(o, key);
}

static int send_json(web_resp *resp, int status, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!s) { web_error(resp, 500, "internal", "out of memory"); return 1; }
	web_buf b = {0};
	wb_puts(&b, s);
	wb_puts(&b, "\n");
	free(s);
	web_send(resp, status, "application/json", &b);
	return 1;
}

/* DB: for n_pings (NULL in lists). */
static cJSON *check_json(reg_db *db, const reg_check *c, int64_t now)
{
	cJSON *o = cJSON_CreateObject();
	if (!o) return NULL;
	add_str(o, "slug", c->slug, strlen(c->slug));
	add_str(o, "name", c->name, strlen(c->name));
	add_str(o, "desc", c->desc, strlen(c->desc));
	add_str(o, "tags", c->tags, strlen(c->tags));
	cJSON_AddStringToObject(o, "state", ops_state_name(c));
	cJSON_AddStringToObject(o, "status", reg_status_name(c->status));
	cJSON_AddBoolToObject(o, "paused", c->paused);
	add_str(o, "schedule", c->schedule, strlen(c->schedule));
	cJSON_AddNumberToObject(o, "period_s", (double)c->period_s);
	add_str(o, "tz", c->tz, strlen(c->tz));
	cJSON_AddNumberToObject(o, "grace_s", (double)c->grace_s);
	cJSON_AddNumberToObject(o, "max_runtime_s", (double)c->max_runtime_s);
	add_str(o, "source", c->source, strlen(c->source));
	add_str(o, "crontab_line", c->crontab_line, strlen(c->crontab_line));
	add_time(o, "created", c->created_ms);
	add_time(o, "since", c->status_since_ms);
	add_time(o, "last_ping", c->last_ping_ms);
	add_time(o, "last_start", c->last_start_ms);
	add_time(o, "last_success", c->last_success_ms);
	add_time(o, "last_fail", c->last_fail_ms);
	add_time(o, "next_expected", ops_next_expected(c, now));
	if (c->last_exit >= 0) cJSON_AddNumberToObject(o, "last_exit", c->last_exit);
	else cJSON_AddNullToObject(o, "last_exit");
	if (c->last_duration_ms >= 0) cJSON_AddNumberToObject(o, "last_duration_s", (double)c->last_duration_ms / 1000);
	else cJSON_AddNullToObject(o, "last_duration_s");
	/* counting pings costs a query per check: only for a single check */
	if (c->n_pings >= 0 || db) cJSON_AddNumberToObject(o, "n_pings", (double)(c->n_pings >= 0 ? c->n_pings : reg_ping_count(db, c->id)));
	if (c->mute_indefinite || c->mute_until_ms > now) {
		cJSON *m = cJSON_AddObjectToObject(o, "mute");
		cJSON_AddBoolToObject(m, "indefinite", c->mute_indefinite);
		add_time(m, "until", c->mute_indefinite ? 0 : c->mute_until_ms);
		add_str(m, "reason", c->mute_reason, strlen(c->mute_reason));
	} else cJSON_AddNullToObject(o, "mute");
	return o;
}

static int reg_error(web_resp *resp, int rc, const char *detail)
{
	switch (rc) {
	case REG_ENOTFOUND: web_error(resp, 404, "not_found", "%s", detail); break;
	case REG_EEXISTS: web_error(resp, 409, "conflict", "%s", detail); break;
	case REG_EINVAL: web_error(resp, 400, "invalid", "%s", detail); break;
	case REG_EBUSY: web_error(resp, 503, "unavailable", "database busy: %s", detail); break;
	default: web_error(resp, 503, "unavailable", "database error: %s", detail); break;
	}
	return 1;
}

/* Parses the body as one JSON object into *out (NULL for an empty body when
 * EMPTY_OK).  Returns 0, or 1 with the error response filled. */
static int parse_body(const web_req *r, web_resp *resp, int empty_ok, cJSON **out)
{
	*out = NULL;
	if (r->body_too_large) { web_error(resp, 413, "body_too_large", "request body larger than 256 KiB"); return 1; }
	size_t i = 0;
	while (i < r->body_len && strchr(" \t\r\n", r->body[i])) i++;
	if (i == r->body_len) {
		if (empty_ok) return 0;
		web_error(resp, 400, "invalid_json", "expected a JSON object in the request body");
		return 1;
	}
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts((const char *)r->body, r->body_len, &end, 0);
	if (!o) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= (const char *)r->body && at <= (const char *)r->body + r->body_len
		             ? (size_t)(at - (const char *)r->body) : 0;
		web_error(resp, 400, "invalid_json", "malformed JSON near byte %zu", off);
		return 1;
	}
	for (const char *p = end; p && p < (const char *)r->body + r->body_len; p++)
		if (!strchr(" \t\r\n", *p)) {
			cJSON_Delete(o);
			web_error(resp, 400, "invalid_json", "unexpected data after the JSON value at byte %zu",
			          (size_t)(p - (const char *)r->body));
			return 1;
		}
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		web_error(resp, 400, "invalid_json", "expected a JSON object");
		return 1;
	}
	*out = o;
	return 0;
}

/* Returns the first member of O whose name is not in ALLOWED (NULL-terminated). */
static const char *unknown_field(const cJSON *o, const char *const *allowed)
{
	for (const cJSON *it = o->child; it; it = it->next) {
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			if (it->string && !strcmp(it->string, *a)) { ok = 1; break; }
		if (!ok) return it->string ? it->string : "";
	}
	return NULL;
}

/* Duplicate member names make the meaning ambiguous: refuse them. */
static const char *duplicate_field(const cJSON *o)
{
	for (const cJSON *a = o->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (a->string && b->string && !strcmp(a->string, b->string)) return a->string;
	return NULL;
}

/* A text field: a string without control characters, valid UTF-8, shorter than CAP. */
static int get_text(const cJSON *v, const char *name, char *dst, size_t cap, char *err, size_t errlen)
{
	if (!cJSON_IsString(v)) { snprintf(err, errlen, "field \"%s\": expected a string", name); return -1; }
	const char *s = v->valuestring;
	size_t n = strlen(s);
	if (n >= cap) { snprintf(err, errlen, "field \"%s\": longer than %zu bytes", name, cap - 1); return -1; }
	web_buf clean = {0};
	wb_utf8(&clean, s, n);
	int bad = clean.oom || clean.len != n || (clean.p && memcmp(clean.p, s, n));
	wb_free(&clean);
	for (size_t i = 0; i < n && !bad; i++) if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) bad = 1;
	if (bad) { snprintf(err, errlen, "field \"%s\": control characters or invalid UTF-8", name); return -1; }
	memcpy(dst, s, n + 1);
	return 0;
}

/* A duration: whole seconds as a number, or a string as the CLI takes it ("15m"). */
static int get_duration(const cJSON *v, const char *name, long long min, long long *out, char *err, size_t errlen)
{
	long long d;
	if (cJSON_IsNumber(v)) {
		double x = v->valuedouble;
		if (!isfinite(x) || x != floor(x) || x < 0 || x > 10LL * 366 * 86400) {
			snprintf(err, errlen, "field \"%s\": expected whole seconds from 0 to 10 years", name);
			return -1;
		}
		d = (long long)x;
	} else if (cJSON_IsString(v)) {
		const char *why;
		if (vigil_parse_duration(v->valuestring, &d, &why)) {
			snprintf(err, errlen, "field \"%s\": \"%.60s\": %s", name, v->valuestring, why);
			return -1;
		}
	} else {
		snprintf(err, errlen, "field \"%s\": expected seconds or a duration such as \"15m\"", name);
		return -1;
	}
	if (d < min) { snprintf(err, errlen, "field \"%s\": must be at least %llds", name, min); return -1; }
	*out = d;
	return 0;
}

/* A check runs on a cron schedule or a period, not both. */
static int both_schedules(const cJSON *o, char *err, size_t errlen)
{
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "schedule");
	const cJSON *pe = cJSON_GetObjectItemCaseSensitive(o, "period_s");
	if (sc && pe && cJSON_IsString(sc) && sc->valuestring[0] && !(cJSON_IsNumber(pe) && pe->valuedouble == 0)) {
		snprintf(err, errlen, "give either \"schedule\" or \"period_s\", not both");
		return -1;
	}
	return 0;
}

/* Applies the declarative fields of O to C. */
static int apply_fields(const cJSON *o, reg_check *c, char *err, size_t errlen)
{
	if (both_schedules(o, err, errlen)) return -1;
	for (const cJSON *it = o->child; it; it = it->next) {
		const char *k = it->string;
		long long d;
		if (!strcmp(k, "slug")) continue;
		if (!strcmp(k, "name")) { if (get_text(it, k, c->name, sizeof c->name, err, errlen)) return -1; }
		else if (!strcmp(k, "desc")) { if (get_text(it, k, c->desc, sizeof c->desc, err, errlen)) return -1; }
		else if (!strcmp(k, "tags")) { if (get_text(it, k, c->tags, sizeof c->tags, err, errlen)) return -1; }
		else if (!strcmp(k, "tz")) { if (get_text(it, k, c->tz, sizeof c->tz, err, errlen)) return -1; }
		else if (!strcmp(k, "schedule")) {
			if (get_text(it, k, c->schedule, sizeof c->schedule, err, errlen)) return -1;
			if (c->schedule[0]) c->period_s = 0;
		} else if (!strcmp(k, "period_s")) {
			if (get_duration(it, k, 0, &d, err, errlen)) return -1;
			c->period_s = d;
			if (d) c->schedule[0] = '\0';
		} else if (!strcmp(k, "grace_s")) {
			if (get_duration(it, k, 0, &d, err, errlen)) return -1;
			c->grace_s = d;
		} else if (!strcmp(k, "max_runtime_s")) {
			if (get_duration(it, k, 0, &d, err, errlen)) return -1;
			c->max_runtime_s = d;
		}
	}
	return 0;
}

static const char *const check_fields[] = {"slug", "name", "desc", "tags", "schedule", "period_s", "tz",
                                           "grace_s", "max_runtime_s", NULL};

/* Refuses unknown and duplicate members; returns 1 with the response filled. */
static int check_members(const cJSON *o, const char *const *allowed, web_resp *resp)
{
	const char *bad = unknown_field(o, allowed);
	if (bad) { web_error(resp, 400, "unknown_field", "unknown field \"%.64s\"", bad); return 1; }
	bad = duplicate_field(o);
	if (bad) { web_error(resp, 400, "invalid_json", "field \"%.64s\" given twice", bad); return 1; }
	return 0;
}

/* ---- handlers --------------------------------------------------------------------------- */

static int list_checks(const web_req *r, web_resp *resp)
{
	reg_check *cs;
	size_t n;
	int rc = reg_check_list(r->db, &cs, &n);
	if (rc) return reg_error(resp, rc, reg_errmsg(r->db));
	int64_t now = ops_now_ms();
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "checks");
	for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, check_json(NULL, &cs[i], now));
	free(cs);
	return send_json(resp, 200, o);
}

static int save_check(const web_req *r, web_resp *resp, const char *slug /* NULL: POST */)
{
	cJSON *o;
	if (parse_body(r, resp, 0, &o)) return 1;
	int ret = 1;
	char err[512] = "";
	if (check_members(o, check_fields, resp)) goto out;
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "slug");
	reg_check c;
	reg_check_init(&c);
	if (!slug) {
		if (!js) { web_error(resp, 400, "invalid", "field \"slug\" is required"); goto out; }
		if (get_text(js, "slug", c.slug, sizeof c.slug, err, sizeof err)) { web_error(resp, 400, "invalid", "%s", err); goto out; }
	} else {
		snprintf(c.slug, sizeof c.slug, "%s", slug);
		if (js && (!cJSON_IsString(js) || strcmp(js->valuestring, slug))) {
			web_error(resp, 400, "invalid", "field \"slug\" cannot change (it is the check's name in URLs and pings)");
			goto out;
		}
	}
	int exists = 0;
	reg_check old;
	int rc = reg_slug_valid(c.slug) ? reg_check_get(r->db, c.slug, &old) : REG_ENOTFOUND;
	if (rc == REG_OK) { c = old; exists = 1; }
	else if (rc != REG_ENOTFOUND) { reg_error(resp, rc, reg_errmsg(r->db)); goto out; }
	if (slug && !exists) { web_error(resp, 404, "not_found", "no check \"%s\"", slug); goto out; }
	if (apply_fields(o, &c, err, sizeof err)) { web_error(resp, 400, "invalid", "%s", err); goto out; }
	int64_t now = ops_now_ms();
	rc = ops_check_save(r->db, &c, 1, now, err, sizeof err);
	if (rc) { reg_error(resp, rc, err); goto out; }
	rc = reg_check_get(r->db, c.slug, &c);
	if (rc) { reg_error(resp, rc, reg_errmsg(r->db)); goto out; }
	if (!exists) {
		char loc[128];
		snprintf(loc, sizeof loc, PREFIX "checks/%s", c.slug);
		web_header(resp, "Location", loc);
	}
	send_json(resp, exists ? 200 : 201, check_json(r->db, &c, now));
out:
	cJSON_Delete(o);
	return ret;
}

static int check_action(const web_req *r, web_resp *resp, const char *slug, const char *action)
{
	static const char *const mute_fields[] = {"reason", "until", "for", "indefinite", NULL};
	static const char *const no_fields[] = {NULL};
	cJSON *o;
	int is_mute = !strcmp(action, "mute");
	if (parse_body(r, resp, !is_mute, &o)) return 1;
	char err[512] = "";
	int64_t now = ops_now_ms();
	int rc;
	if (o && check_members(o, is_mute ? mute_fields : no_fields, resp)) { cJSON_Delete(o); return 1; }
	if (is_mute) {
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(o, "reason");
		const cJSON *until = cJSON_GetObjectItemCaseSensitive(o, "until");
		const cJSON *dur = cJSON_GetObjectItemCaseSensitive(o, "for");
		const cJSON *ind = cJSON_GetObjectItemCaseSensitive(o, "indefinite");
		char why[256] = "";
		int64_t until_ms = 0;
		if (reason && get_text(reason, "reason", why, sizeof why, err, sizeof err)) goto bad;
		if (until && dur) { snprintf(err, sizeof err, "give either \"until\" or \"for\", not both"); goto bad; }
		if (until && (!cJSON_IsString(until) || ops_parse_time(until->valuestring, &until_ms))) {
			snprintf(err, sizeof err, "field \"until\": expected RFC 3339, e.g. 2026-03-08T07:00:00Z");
			goto bad;
		}
		if (dur) {
			long long d;
			if (get_duration(dur, "for", 1, &d, err, sizeof err)) goto bad;
			until_ms = now + d * 1000;
		}
		if (ind && !cJSON_IsBool(ind)) { snprintf(err, sizeof err, "field \"indefinite\": expected true or false"); goto bad; }
		rc = ops_check_mute(r->db, r->cfg, slug, until_ms, cJSON_IsTrue(ind), reason ? why : NULL, now, err, sizeof err);
	} else if (!strcmp(action, "pause")) rc = ops_check_pause(r->db, slug, 1, now, err, sizeof err);
	else if (!strcmp(action, "resume")) rc = ops_check_pause(r->db, slug, 0, now, err, sizeof err);
	else rc = ops_check_unmute(r->db, slug, err, sizeof err);
	cJSON_Delete(o);
	if (rc) return reg_error(resp, rc, err);
	reg_check c;
	rc = reg_check_get(r->db, slug, &c);
	if (rc) return reg_error(resp, rc, reg_errmsg(r->db));
	return send_json(resp, 200, check_json(r->db, &c, now));
bad:
	cJSON_Delete(o);
	web_error(resp, 400, "invalid", "%s", err);
	return 1;
}

/* ?limit=N, 1..1000, default 50; -1 when malformed. */
static int get_limit(const web_req *r)
{
	const char *l = r->arg ? r->arg(r->arg_ctx, "limit") : NULL;
	if (!l) return 50;
	int64_t v = web_parse_id(l, strlen(l));
	return v >= 1 && v <= 1000 ? (int)v : -1;
}

static int list_pings(const web_req *r, web_resp *resp, const reg_check *c)
{
	int limit = get_limit(r);
	if (limit < 0) { web_error(resp, 400, "invalid", "limit: expected 1 to 1000"); return 1; }
	reg_ping *ps;
	size_t n;
	int rc = reg_ping_list(r->db, c->id, limit, &ps, &n);
	if (rc) return reg_error(resp, rc, reg_errmsg(r->db));
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "pings");
	for (size_t i = 0; i < n; i++) {
		const reg_ping *p = &ps[i];
		cJSON *j = cJSON_CreateObject();
		char url[160];
		cJSON_AddNumberToObject(j, "n", (double)p->id);
		cJSON_AddStringToObject(j, "kind", reg_ping_kind_name(p->kind));
		add_time(j, "time", p->created_ms);
		if (p->exit_status >= 0) cJSON_AddNumberToObject(j, "exit_status", p->exit_status);
		else cJSON_AddNullToObject(j, "exit_status");
		if (p->duration_ms >= 0) cJSON_AddNumberToObject(j, "duration_s", (double)p->duration_ms / 1000);
		else cJSON_AddNullToObject(j, "duration_s");
		add_str(j, "rid", p->rid, strlen(p->rid));
		add_str(j, "remote", p->remote, strlen(p->remote));
		add_str(j, "method", p->method, strlen(p->method));
		size_t show = p->body_len < BODY_PREVIEW ? p->body_len : BODY_PREVIEW;
		add_str(j, "body", p->body ? (const char *)p->body : "", p->body ? show : 0);
		cJSON_AddNumberToObject(j, "body_len", (double)p->body_len);
		cJSON_AddBoolToObject(j, "body_cut", p->body_cut);
		snprintf(url, sizeof url, PREFIX "checks/%s/pings/%lld/body", c->slug, (long long)p->id);
		cJSON_AddStringToObject(j, "body_url", url);
		cJSON_AddItemToArray(arr, j);
	}
	reg_pings_free(ps, n);
	return send_json(resp, 200, o);
}

static int ping_body(const web_req *r, web_resp *resp, const reg_check *c, int64_t id)
{
	unsigned char *body;
	size_t len;
	int cut;
	int rc = web_ping_body(r->db, c->id, id, &body, &len, &cut);
	if (rc == REG_ENOTFOUND) { web_error(resp, 404, "not_found", "check %s has no ping %lld", c->slug, (long long)id); return 1; }
	if (rc) return reg_error(resp, rc, "cannot read the ping body");
	free(resp->body);
	resp->body = (char *)body;
	resp->body_len = len;
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	web_header(resp, "Vigil-Body-Cut", cut ? "1" : "0");
	return 1;
}

static int list_flips(const web_req *r, web_resp *resp, const reg_check *c)
{
	int limit = get_limit(r);
	if (limit < 0) { web_error(resp, 400, "invalid", "limit: expected 1 to 1000"); return 1; }
	reg_flip *fs;
	size_t n;
	int rc = reg_flip_list(r->db, c->id, limit, &fs, &n);
	if (rc) return reg_error(resp, rc, reg_errmsg(r->db));
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "flips");
	for (size_t i = 0; i < n; i++) {
		cJSON *j = cJSON_CreateObject();
		add_time(j, "time", fs[i].created_ms);
		cJSON_AddStringToObject(j, "from", reg_status_name(fs[i].old_status));
		cJSON_AddStringToObject(j, "to", reg_status_name(fs[i].new_status));
		add_str(j, "reason", fs[i].reason, strlen(fs[i].reason));
		cJSON_AddItemToArray(arr, j);
	}
	free(fs);
	return send_json(resp, 200, o);
}

static int status(const web_req *r, web_resp *resp)
{
	int64_t now = ops_now_ms();
	cJSON *o = cJSON_CreateObject();
	reg_check *cs = NULL;
	size_t n = 0;
	int db_ok = reg_check_list(r->db, &cs, &n) == REG_OK;
	cJSON *d = cJSON_AddObjectToObject(o, "database");
	cJSON_AddBoolToObject(d, "ok", db_ok);
	cJSON_AddNumberToObject(d, "schema_version", reg_schema_version(r->db));
	if (!db_ok) add_str(d, "error", reg_errmsg(r->db), strlen(reg_errmsg(r->db)));
	cJSON *cj = cJSON_AddObjectToObject(o, "checks");
	int by[REG_STATUS_COUNT] = {0}, muted = 0, indefinite = 0;
	for (size_t i = 0; i < n; i++) {
		by[cs[i].paused ? REG_PAUSED : cs[i].status]++;
		if (cs[i].mute_indefinite) { indefinite++; muted++; }
		else if (cs[i].mute_until_ms > now) muted++;
	}
	free(cs);
	cJSON_AddNumberToObject(cj, "total", (double)n);
	for (int s = 0; s < REG_STATUS_COUNT; s++) cJSON_AddNumberToObject(cj, reg_status_name((reg_status)s), by[s]);
	cJSON_AddNumberToObject(cj, "muted", muted);
	cJSON_AddNumberToObject(cj, "muted_indefinitely", indefinite);
	web_outbox ob;
	cJSON *sj = cJSON_AddObjectToObject(o, "sender");
	int ob_ok = web_outbox_counts(r->db, now, &ob) == REG_OK;
	cJSON_AddBoolToObject(sj, "ok", ob_ok && ob.failed == 0 && ob.stuck == 0);
	if (ob_ok) {
		cJSON_AddNumberToObject(sj, "pending", (double)(ob.pending + ob.sending));
		cJSON_AddNumberToObject(sj, "stuck", (double)ob.stuck);
		cJSON_AddNumberToObject(sj, "held", (double)ob.held);
		cJSON_AddNumberToObject(sj, "sent", (double)ob.sent);
		cJSON_AddNumberToObject(sj, "failed", (double)ob.failed);
		add_time(sj, "oldest_pending", ob.oldest_pending_ms);
		add_str(sj, "last_error", ob.last_error, strlen(ob.last_error));
	}
	cJSON *mj = cJSON_AddObjectToObject(o, "model");
	int64_t acc, rej;
	int have = web_summarizer_counts(&acc, &rej) == 0;
	cJSON_AddBoolToObject(mj, "available", have);
	if (have) {
		cJSON_AddNumberToObject(mj, "summaries_accepted", (double)acc);
		cJSON_AddNumberToObject(mj, "summaries_rejected", (double)rej);
	} else cJSON_AddStringToObject(mj, "detail", "no summarizer model loaded (llm_model): summaries come from the facts");
	reg_orphan *orph;
	size_t no;
	if (reg_orphan_list(r->db, &orph, &no) == REG_OK) { cJSON_AddNumberToObject(o, "orphan_slugs", (double)no); free(orph); }
	add_time(o, "time", now);
	cJSON_AddBoolToObject(o, "ok", db_ok && ob_ok);
	return send_json(resp, db_ok ? 200 : 503, o);
}

/* ---- routing ------------------------------------------------------------------------------ */

static int method_not_allowed(web_resp *resp, const char *allow)
{
	web_header(resp, "Allow", allow);
	web_error(resp, 405, "method_not_allowed", "allowed: %s", allow);
	return 1;
}

int web_api(const web_req *r, web_resp *resp)
{
	const char *m = r->method;
	int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
	if (strncmp(r->path, PREFIX, strlen(PREFIX))) {
		web_error(resp, 404, "not_found", "the API lives under " PREFIX);
		return 1;
	}
	web_auth auth = web_auth_bearer(r);
	if (!auth) {
		web_header(resp, "WWW-Authenticate", "Bearer realm=\"vigil\"");
		web_error(resp, 401, "unauthorized", r->authorization ? "unknown API key" :
		          "an API key is required: Authorization: Bearer KEY (vigil apikey create --ro|--rw)");
		return 1;
	}
	if (!get && auth != WEB_AUTH_RW) {
		web_error(resp, 403, "forbidden", "this key is read-only; %s needs a read-write key", m);
		return 1;
	}
	const char *p = r->path + strlen(PREFIX);
	if (!strcmp(p, "status")) return get ? status(r, resp) : method_not_allowed(resp, "GET");
	if (!strcmp(p, "checks") || !strcmp(p, "checks/")) {
		if (get) return list_checks(r, resp);
		if (!strcmp(m, "POST")) return save_check(r, resp, NULL);
		return method_not_allowed(resp, "GET, POST");
	}
	if (strncmp(p, "checks/", 7)) { web_error(resp, 404, "not_found", "no such endpoint"); return 1; }
	p += 7;
	/* <slug>[/<action>[/<n>/body]] */
	const char *seg[4] = {0};
	size_t len[4] = {0};
	int nseg = 0;
	while (*p && nseg < 4) {
		const char *e = strchr(p, '/');
		seg[nseg] = p;
		len[nseg] = e ? (size_t)(e - p) : strlen(p);
		nseg++;
		p = e ? e + 1 : p + strlen(p);
	}
	if (*p || nseg == 0) { web_error(resp, 404, "not_found", "no such endpoint"); return 1; }
	char slug[REG_SLUG_MAX + 1];
	if (len[0] > REG_SLUG_MAX) { web_error(resp, 400, "invalid", "slug longer than %d characters", REG_SLUG_MAX); return 1; }
	memcpy(slug, seg[0], len[0]);
	slug[len[0]] = '\0';
	if (!reg_slug_valid(slug)) {
		web_error(resp, 400, "invalid", "slug \"%s\" is invalid (expected ^[a-z0-9][a-z0-9_-]{0,63}$)", slug);
		return 1;
	}
	char action[16] = "";
	if (nseg >= 2) {
		if (len[1] >= sizeof action) { web_error(resp, 404, "not_found", "no such endpoint"); return 1; }
		memcpy(action, seg[1], len[1]);
		action[len[1]] = '\0';
	}
	if (nseg == 1) {
		if (!strcmp(m, "PATCH")) return save_check(r, resp, slug);
		if (!strcmp(m, "DELETE")) {
			char err[512];
			int rc = ops_check_rm(r->db, slug, err, sizeof err);
			if (rc) return reg_error(resp, rc, rc == REG_ENOTFOUND ? "no such check" : err);
			web_buf b = {0};
			web_send(resp, 204, "application/json", &b);
			return 1;
		}
		if (!get) return method_not_allowed(resp, "GET, PATCH, DELETE");
	}
	int is_action = nseg == 2 && (!strcmp(action, "pause") || !strcmp(action, "resume") ||
	                              !strcmp(action, "mute") || !strcmp(action, "unmute"));
	if (is_action) return strcmp(m, "POST") ? method_not_allowed(resp, "POST") : check_action(r, resp, slug, action);
	int64_t ping_id = 0;
	if (nseg == 4) {
		ping_id = web_parse_id(seg[2], len[2]);
		if (strcmp(action, "pings") || ping_id < 0 || len[3] != 4 || memcmp(seg[3], "body", 4)) {
			web_error(resp, 404, "not_found", "no such endpoint");
			return 1;
		}
	} else if (nseg == 3 || (nseg == 2 && strcmp(action, "pings") && strcmp(action, "flips"))) {
		web_error(resp, 404, "not_found", "no such endpoint");
		return 1;
	}
	if (!get) return method_not_allowed(resp, "GET");
	reg_check c;
	int rc = reg_check_get(r->db, slug, &c);
	if (rc == REG_ENOTFOUND) { web_error(resp, 404, "not_found", "no check \"%s\"", slug); return 1; }
	if (rc) return reg_error(resp, rc, reg_errmsg(r->db));
	if (nseg == 1) return send_json(resp, 200, check_json(r->db, &c, ops_now_ms()));
	if (nseg == 4) return ping_body(r, resp, &c, ping_id);
	if (!strcmp(action, "pings")) return list_pings(r, resp, &c);
	return list_flips(r, resp, &c);
}
