/* supervisor/web.c — dispatch of every non-ping request to the page
 * (web_page.c), the JSON API (web_api.c) and /metrics (web_metrics.c), plus
 * what they share: the escaping output buffer, authentication by API key,
 * the security headers, and a few read-only queries.
 *
 * Who may see what:
 *   /api/v1/...  always a bearer key: read-only for GET, read-write otherwise;
 *   / and /checks/...  open when the server listens on loopback only; else
 *                the read-only (or read-write) key as basic-auth password,
 *                bearer, or the vigil_key cookie set by /login;
 *   /metrics     open on loopback; else a key (bearer or basic auth).
 * Every answer carries a strict Content-Security-Policy (no script at all),
 * no-store caching, no referrer and no framing; the server adds nosniff. */
#include "supervisor/alerts.h"
#include "supervisor/web_internal.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- output buffer -------------------------------------------------------------- */

static int wb_reserve(web_buf *b, size_t more)
{
	if (b->oom) return -1;
	if (b->len + more + 1 <= b->cap) return 0;
	size_t nc = b->cap ? b->cap : 1024;
	while (nc < b->len + more + 1) nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np) { b->oom = 1; return -1; }
	b->p = np;
	b->cap = nc;
	return 0;
}

void wb_put(web_buf *b, const char *s, size_t n)
{
	if (wb_reserve(b, n)) return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void wb_puts(web_buf *b, const char *s) { wb_put(b, s, strlen(s)); }

void wb_printf(web_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n < sizeof tmp) { wb_put(b, tmp, (size_t)n); return; }
	if (wb_reserve(b, (size_t)n)) return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80) return 1;
	size_t len;
	unsigned min;
	if (c >= 0xc2 && c <= 0xdf) { len = 2; min = 0x80; }
	else if (c >= 0xe0 && c <= 0xef) { len = 3; min = 0x800; }
	else if (c >= 0xf0 && c <= 0xf4) { len = 4; min = 0x10000; }
	else return 0;
	if (n < len) return 0;
	unsigned cp = c & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
	return len;
}

static void wb_text(web_buf *b, const char *s, size_t n, int html)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned c = p[i];
		const char *esc = NULL;
		size_t l = utf8_len(p + i, n - i);
		if (html) {
			switch (c) {
			case '&': esc = "&amp;"; break;
			case '<': esc = "&lt;"; break;
			case '>': esc = "&gt;"; break;
			case '"': esc = "&quot;"; break;
			case '\'': esc = "&#39;"; break;
			default: break;
			}
		}
		if (!esc && l && (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') && c != 0x7f) { i += l; run += l; continue; }
		wb_put(b, s + i - run, run);
		run = 0;
		wb_puts(b, esc ? esc : repl);
		i += l ? l : 1;
	}
	wb_put(b, s + i - run, run);
}

void wb_html(web_buf *b, const char *s, size_t n) { wb_text(b, s, n, 1); }
void wb_html_s(web_buf *b, const char *s) { wb_text(b, s, strlen(s), 1); }
void wb_utf8(web_buf *b, const char *s, size_t n) { wb_text(b, s, n, 0); }

char *wb_take(web_buf *b, size_t *len)
{
	if (b->oom) { wb_free(b); return NULL; }
	if (!b->p && wb_reserve(b, 0)) return NULL;
	char *p = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void wb_free(web_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- responses ------------------------------------------------------------------ */

void web_header(web_resp *resp, const char *name, const char *value)
{
	if (resp->nheaders >= WEB_MAX_HEADERS) return;
	resp->headers[resp->nheaders].name = name;
	snprintf(resp->headers[resp->nheaders].value, sizeof resp->headers[0].value, "%s", value);
	resp->nheaders++;
}

void web_send(web_resp *resp, int status, const char *ctype, web_buf *b)
{
	free(resp->body);
	size_t len = 0;
	resp->body = wb_take(b, &len);
	if (!resp->body) {
		resp->status = 500;
		resp->content_type = "text/plain; charset=utf-8";
		resp->body = strdup("out of memory\n");
		resp->body_len = resp->body ? strlen(resp->body) : 0;
		return;
	}
	resp->status = status;
	resp->content_type = ctype;
	resp->body_len = len;
}

void web_send_text(web_resp *resp, int status, const char *text)
{
	web_buf b = {0};
	wb_puts(&b, text);
	web_send(resp, status, "text/plain; charset=utf-8", &b);
}

void web_error(web_resp *resp, int status, const char *code, const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	web_buf clean = {0};
	wb_utf8(&clean, detail, strlen(detail));
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", code);
	cJSON_AddStringToObject(o, "detail", clean.p ? clean.p : "");
	wb_free(&clean);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	web_buf b = {0};
	if (s) { wb_puts(&b, s); wb_puts(&b, "\n"); }
	else b.oom = 1;
	free(s);
	web_send(resp, status, "application/json", &b);
}

/* ---- auth ------------------------------------------------------------------------ */

static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Decodes base64 S into out (NUL-terminated); -1 when malformed or too long. */
static int b64_decode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		int v = b64_val((unsigned char)*s);
		if (v < 0) return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outlen) return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return memchr(out, '\0', o) ? -1 : 0;
}

static web_auth key_auth(const web_req *r, const char *key)
{
	int k = web_apikey_check(r->db, key);
	return k == 2 ? WEB_AUTH_RW : k == 1 ? WEB_AUTH_RO : WEB_AUTH_NONE;
}

web_auth web_auth_bearer(const web_req *r)
{
	const char *a = r->authorization;
	if (!a || strncasecmp(a, "Bearer ", 7)) return WEB_AUTH_NONE;
	a += 7;
	while (*a == ' ') a++;
	return key_auth(r, a);
}

web_auth web_auth_page(const web_req *r)
{
	const char *a = r->authorization;
	if (a && !strncasecmp(a, "Basic ", 6)) {
		char dec[256];
		if (b64_decode(a + 6, dec, sizeof dec) == 0) {
			char *colon = strchr(dec, ':');
			const char *key = dec;
			if (colon) { *colon = '\0'; key = colon[1] ? colon + 1 : dec; }
			web_auth w = key_auth(r, key);
			if (w) return w;
		}
	}
	web_auth w = web_auth_bearer(r);
	if (w) return w;
	for (const char *c = r->cookie; c && *c;) {
		while (*c == ' ' || *c == ';') c++;
		const char *end = strchr(c, ';');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len > 10 && len < 200 && !strncmp(c, "vigil_key=", 10)) {
			char key[200];
			memcpy(key, c + 10, len - 10);
			key[len - 10] = '\0';
			w = key_auth(r, key);
			if (w) return w;
		}
		c += len;
	}
	return WEB_AUTH_NONE;
}

/* ---- shared queries -------------------------------------------------------------- */

int web_outbox_counts(reg_db *db, int64_t now_ms, web_outbox *o)
{
	memset(o, 0, sizeof *o);
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int rc = REG_EIO;
	if (sqlite3_prepare_v2(s, "SELECT state, count(*), min(created_ms) FROM alerts GROUP BY state", -1, &st, NULL)) goto out;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		int64_t n = sqlite3_column_int64(st, 1), first = sqlite3_column_int64(st, 2);
		if (!state) continue;
		if (!strcmp(state, "pending")) o->pending = n;
		else if (!strcmp(state, "sending")) o->sending = n;
		else if (!strcmp(state, "sent")) o->sent = n;
		else if (!strcmp(state, "failed")) o->failed = n;
		else if (!strcmp(state, "held")) o->held = n;
		if ((!strcmp(state, "pending") || !strcmp(state, "sending")) && first &&
		    (!o->oldest_pending_ms || first < o->oldest_pending_ms))
			o->oldest_pending_ms = first;
	}
	if (step != SQLITE_DONE) goto out;
	sqlite3_finalize(st);
	st = NULL;
	/* undelivered for long: retried at least once, or queued for minutes */
	if (sqlite3_prepare_v2(s, "SELECT count(*) FROM alerts WHERE state IN ('pending','sending') "
	                          "AND (attempts > 0 OR created_ms < ?)", -1, &st, NULL)) goto out;
	sqlite3_bind_int64(st, 1, now_ms - WEB_STUCK_MS);
	if (sqlite3_step(st) != SQLITE_ROW) goto out;
	o->stuck = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(s, "SELECT created_ms, last_error FROM alerts WHERE state='failed' ORDER BY id DESC LIMIT 1",
	                       -1, &st, NULL)) goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		o->last_error_ms = sqlite3_column_int64(st, 0);
		const char *e = (const char *)sqlite3_column_text(st, 1);
		snprintf(o->last_error, sizeof o->last_error, "%s", e ? e : "");
	} else if (step != SQLITE_DONE) goto out;
	rc = REG_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

int web_last_revision(reg_db *db, int64_t *id, int64_t *created_ms, char *user, size_t userlen)
{
	*id = 0;
	*created_ms = 0;
	if (userlen) user[0] = '\0';
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int rc = REG_EIO;
	if (sqlite3_prepare_v2(s, "SELECT id, created_ms, user FROM crontab_revisions ORDER BY id DESC LIMIT 1",
	                       -1, &st, NULL)) goto out;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*created_ms = sqlite3_column_int64(st, 1);
		const char *u = (const char *)sqlite3_column_text(st, 2);
		snprintf(user, userlen, "%s", u ? u : "");
	} else if (step != SQLITE_DONE) goto out;
	rc = REG_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

int web_ping_body(reg_db *db, int64_t check_id, int64_t ping_id, unsigned char **body, size_t *len, int *cut)
{
	*body = NULL;
	*len = 0;
	*cut = 0;
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int rc = REG_EIO;
	if (sqlite3_prepare_v2(s, "SELECT body, body_cut FROM pings WHERE id=? AND check_id=?", -1, &st, NULL)) goto out;
	sqlite3_bind_int64(st, 1, ping_id);
	sqlite3_bind_int64(st, 2, check_id);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE) { rc = REG_ENOTFOUND; goto out; }
	if (step != SQLITE_ROW) goto out;
	const void *p = sqlite3_column_blob(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 0);
	*body = malloc(n + 1);
	if (!*body) goto out;
	if (n) memcpy(*body, p, n);
	(*body)[n] = '\0';
	*len = n;
	*cut = sqlite3_column_int(st, 1);
	rc = REG_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

int64_t web_parse_id(const char *s, size_t n)
{
	if (n == 0 || n > 18) return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > 0 ? v : -1;
}

static int sort_rank(const reg_check *c)
{
	if (c->paused) return 2;
	return c->status == REG_DOWN ? 0 : c->status == REG_GRACE ? 1 : 2;
}

static int cmp_checks(const void *a, const void *b)
{
	const reg_check *x = a, *y = b;
	int d = sort_rank(x) - sort_rank(y);
	return d ? d : strcmp(x->slug, y->slug);
}

void web_sort_checks(reg_check *cs, size_t n)
{
	if (n > 1) qsort(cs, n, sizeof *cs, cmp_checks);
}

/* ---- other modules' answers --------------------------------------------------------
 * The check page's validator findings come from the last `vigil validate` of
 * the live registry (table findings, validator/report.c); the summarizer's
 * counters from the alert sender (supervisor/slack.c). */

int web_validator_findings(reg_db *db, const reg_check *c, web_buf *html)
{
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	char wbuf[32];
	int64_t when = reg_setting_get(db, "findings.validated_ms", wbuf, sizeof wbuf) == REG_OK ? strtoll(wbuf, NULL, 10) : 0;
	if (!when) {
		wb_puts(html, "<p class=\"na\">no validation recorded yet (run <code>vigil validate --crontab FILE</code>)</p>\n");
		return 0;
	}
	if (sqlite3_prepare_v2(s, "SELECT rule,severity,file,line,col,message,hint FROM findings WHERE slug=? "
	                          "ORDER BY severity, rule, file, line", -1, &st, NULL) != SQLITE_OK) return -1;
	sqlite3_bind_text(st, 1, c->slug, -1, SQLITE_STATIC);
	char t[40];
	time_t tt = (time_t)(when / 1000);
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(t, sizeof t, "%Y-%m-%d %H:%M:%SZ", &tm);
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!n++) wb_puts(html, "<ul class=\"findings\">\n");
		const char *sev = (const char *)sqlite3_column_text(st, 1);
		wb_printf(html, "<li class=\"%s\"><b>", !strcmp(sev, "error") ? "error" : "warning");
		wb_html_s(html, (const char *)sqlite3_column_text(st, 0));
		wb_printf(html, "</b> %s: ", !strcmp(sev, "error") ? "error" : "warning");
		wb_html_s(html, (const char *)sqlite3_column_text(st, 5));
		const char *file = (const char *)sqlite3_column_text(st, 2);
		if (file && *file) {
			wb_puts(html, " <span class=\"where\">(");
			wb_html_s(html, file);
			if (sqlite3_column_int(st, 3)) wb_printf(html, ":%d:%d", sqlite3_column_int(st, 3), sqlite3_column_int(st, 4));
			wb_puts(html, ")</span>");
		}
		const char *hint = (const char *)sqlite3_column_text(st, 6);
		if (hint && *hint) { wb_puts(html, "<br><i>"); wb_html_s(html, hint); wb_puts(html, "</i>"); }
		wb_puts(html, "</li>\n");
	}
	sqlite3_finalize(st);
	if (n) wb_puts(html, "</ul>\n");
	else wb_puts(html, "<p>no findings</p>\n");
	wb_printf(html, "<p class=\"na\">from the validation of %s</p>\n", t);
	return 0;
}

int web_summarizer_counts(int64_t *accepted, int64_t *rejected)
{
	return alerts_summary_counts(accepted, rejected);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const char CSP[] = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'";

int web_handle(const web_req *req, web_resp *resp)
{
	web_header(resp, "Content-Security-Policy", CSP);
	web_header(resp, "Cache-Control", "no-store");
	web_header(resp, "Referrer-Policy", "no-referrer");
	web_header(resp, "X-Frame-Options", "DENY");
	const char *p = req->path;
	if (!strncmp(p, "/api/", 5)) return web_api(req, resp);
	if (!strcmp(p, "/metrics")) return web_metrics(req, resp);
	return web_page(req, resp);
}
