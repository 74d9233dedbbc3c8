/* supervisor/web_page.c — the server-rendered status page.
 *
 *   GET  /                                 every check, down → grace → the rest;
 *                                          ?tag=T&state=S filter; banners for the
 *                                          alert outbox and for indefinite mutes
 *   GET  /checks/<slug>                    one check: details, durations sparkline
 *                                          (SVG), flips, last 50 pings
 *   GET  /checks/<slug>/pings/<n>/body     a ping's stored body as text/plain
 *   GET  /login, POST /login               sets the vigil_key cookie (non-loopback)
 *   GET  /style.css                        the only style sheet (CSP: style-src 'self')
 *
 * No JavaScript: the page refreshes itself with <meta http-equiv=refresh>.
 * Every text that comes from a check, a ping or the database goes through
 * wb_html_s()/wb_html(). */
#include "supervisor/web_internal.h"

#include "supervisor/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PING_ROWS 50
#define BODY_PREVIEW 240

static const char STYLE[] =
	":root{--bg:#f6f7f9;--fg:#1d2330;--muted:#5d6577;--line:#dde1e8;--card:#fff}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--fg)}\n"
	"header{padding:12px 20px;background:#1d2330;color:#fff;display:flex;flex-wrap:wrap;gap:8px 18px;align-items:baseline}\n"
	"header h1{margin:0;font-size:20px}header a{color:#fff;text-decoration:none}\n"
	"main{padding:12px 20px;max-width:1400px}\n"
	".summary .badge{margin-right:4px}\n"
	".badge{display:inline-block;min-width:58px;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;"
	"text-align:center;text-transform:uppercase;letter-spacing:.03em;color:#fff;background:#7a8294}\n"
	".state-up{background:#1f8f4e}.state-down{background:#c9302c}.state-grace{background:#e69b00;color:#1d2330}\n"
	".state-started{background:#2f6fdb}.state-paused{background:#6c7383}.state-new{background:#8a63d2}\n"
	".state-unknown{background:#44495a}\n"
	".badge.muted{background:#fff;color:#5d6577;border:1px solid #aeb4c0}\n"
	".banner{margin:10px 0;padding:10px 14px;border-radius:6px;border:1px solid}\n"
	".banner-alerts{background:#fdecea;border-color:#e8a7a4}.banner-mutes{background:#fff6e0;border-color:#ecd08a}\n"
	"form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:10px 0}\n"
	"form.filters select,form.filters button{font:inherit;padding:3px 6px}\n"
	"table{border-collapse:collapse;width:100%;background:var(--card)}\n"
	"th,td{text-align:left;vertical-align:top;padding:7px 9px;border-bottom:1px solid var(--line)}\n"
	"th{font-size:12px;text-transform:uppercase;color:var(--muted);background:#eef0f4}\n"
	"tr.row-down td:first-child{box-shadow:inset 4px 0 #c9302c}tr.row-grace td:first-child{box-shadow:inset 4px 0 #e69b00}\n"
	"a.slug{font-weight:600;color:#1d4fb8}.name,.sub{color:var(--muted);font-size:13px}\n"
	"code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#eef0f4;padding:1px 4px;border-radius:3px;word-break:break-all}\n"
	"pre{white-space:pre-wrap;word-break:break-all;margin:0;font:12px ui-monospace,Menlo,Consolas,monospace;max-height:9em;overflow:auto}\n"
	"time{border-bottom:1px dotted #9aa1af}\n"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:var(--card);padding:12px;border-radius:6px}\n"
	"dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}\n"
	"ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid var(--line)}\n"
	"ol.timeline li{padding:4px 0 4px 12px}\n"
	"svg.spark{background:var(--card);border:1px solid var(--line);border-radius:4px}\n"
	"section{margin:18px 0}h2{font-size:16px;margin:0 0 8px}\n"
	".na{color:var(--muted);font-style:italic}\n"
	".scroll{overflow-x:auto}\n"
	"@media (max-width:760px){\n"
	" header,main{padding:10px}\n"
	" table.checks thead{display:none}\n"
	" table.checks,table.checks tbody,table.checks tr,table.checks td{display:block;width:100%}\n"
	" table.checks tr{margin:0 0 10px;border:1px solid var(--line);border-radius:6px;background:var(--card)}\n"
	" table.checks td{border:0;padding:4px 10px}\n"
	" table.checks td[data-label]::before{content:attr(data-label) ': ';color:var(--muted);font-size:12px}\n"
	" table.pings{font-size:13px}dl.facts{grid-template-columns:1fr}\n"
	"}\n";

/* ---- small pieces --------------------------------------------------------------------- */

static void time_ago(web_buf *b, int64_t ms, int64_t now)
{
	char iso[64], ago[64];
	if (!ms) { wb_puts(b, "<span class=\"na\">never</span>"); return; }
	ops_rfc3339(ms, iso, sizeof iso);
	ops_ago(ms, now, ago, sizeof ago);
	wb_printf(b, "<time datetime=\"%s\" title=\"%s\">%s</time>", iso, iso, ago);
}

static void duration(web_buf *b, int64_t ms)
{
	if (ms < 0) { wb_puts(b, "<span class=\"na\">–</span>"); return; }
	if (ms < 10000) wb_printf(b, "%.2fs", (double)ms / 1000);
	else if (ms < 3600000) wb_printf(b, "%lldm %02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
	else wb_printf(b, "%lldh %02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
}

static void seconds_words(char *buf, size_t n, int64_t s)
{
	if (s % 86400 == 0 && s >= 86400) snprintf(buf, n, "%lld day%s", (long long)(s / 86400), s == 86400 ? "" : "s");
	else if (s % 3600 == 0 && s >= 3600) snprintf(buf, n, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
	else if (s % 60 == 0 && s >= 60) snprintf(buf, n, "%lld minute%s", (long long)(s / 60), s == 60 ? "" : "s");
	else snprintf(buf, n, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

static int all_digits(const char *s)
{
	if (!*s) return 0;
	for (; *s; s++) if (*s < '0' || *s > '9') return 0;
	return 1;
}

/* The schedule in words for the common shapes; "" when it has no short
 * description (the expression is always shown beside it). */
static void schedule_words(const reg_check *c, char *out, size_t n)
{
	static const char *const days[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
	char tmp[64];
	out[0] = '\0';
	if (!c->schedule[0]) {
		seconds_words(tmp, sizeof tmp, c->period_s);
		snprintf(out, n, "every %s", tmp);
		return;
	}
	static const struct { const char *m, *w; } macros[] = {
		{"@hourly", "every hour"}, {"@daily", "daily at 00:00"}, {"@midnight", "daily at 00:00"},
		{"@weekly", "weekly on Sunday at 00:00"}, {"@monthly", "monthly on day 1 at 00:00"},
		{"@yearly", "yearly on 1 January at 00:00"}, {"@annually", "yearly on 1 January at 00:00"},
	};
	for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
		if (!strcmp(c->schedule, macros[i].m)) { snprintf(out, n, "%s", macros[i].w); return; }
	char f[5][32];
	if (sscanf(c->schedule, "%31s %31s %31s %31s %31s", f[0], f[1], f[2], f[3], f[4]) != 5) return;
	const char *mi = f[0], *h = f[1], *dom = f[2], *mon = f[3], *dow = f[4];
	int every_day = !strcmp(dom, "*") && !strcmp(mon, "*");
	if (!strcmp(mi, "*") && !strcmp(h, "*") && every_day && !strcmp(dow, "*")) { snprintf(out, n, "every minute"); return; }
	if (!strncmp(mi, "*/", 2) && all_digits(mi + 2) && !strcmp(h, "*") && every_day && !strcmp(dow, "*")) {
		snprintf(out, n, "every %s minutes", mi + 2);
		return;
	}
	if (!all_digits(mi)) return;
	int M = atoi(mi);
	if (!strcmp(h, "*") && every_day && !strcmp(dow, "*")) { snprintf(out, n, "hourly at :%02d", M); return; }
	if (!strncmp(h, "*/", 2) && all_digits(h + 2) && every_day && !strcmp(dow, "*")) {
		snprintf(out, n, "every %s hours at :%02d", h + 2, M);
		return;
	}
	if (!all_digits(h)) return;
	int H = atoi(h);
	if (every_day && !strcmp(dow, "*")) { snprintf(out, n, "daily at %02d:%02d", H, M); return; }
	if (every_day && !strcmp(dow, "1-5")) { snprintf(out, n, "weekdays at %02d:%02d", H, M); return; }
	if (every_day && all_digits(dow) && atoi(dow) <= 7) { snprintf(out, n, "weekly on %s at %02d:%02d", days[atoi(dow)], H, M); return; }
	if (all_digits(dom) && !strcmp(mon, "*") && !strcmp(dow, "*")) { snprintf(out, n, "monthly on day %s at %02d:%02d", dom, H, M); return; }
}

static void badge(web_buf *b, const char *state)
{
	wb_printf(b, "<span class=\"badge state-%s\">%s</span>", state, state);
}

static int is_muted(const reg_check *c, int64_t now)
{
	return c->mute_indefinite || c->mute_until_ms > now;
}

static void mute_text(web_buf *b, const reg_check *c, int64_t now)
{
	if (!is_muted(c, now)) { wb_puts(b, "<span class=\"na\">–</span>"); return; }
	wb_puts(b, "<span class=\"badge muted\">muted</span> ");
	if (c->mute_indefinite) wb_puts(b, "<strong>indefinitely</strong>");
	else { wb_puts(b, "until "); time_ago(b, c->mute_until_ms, now); }
	wb_puts(b, ": <span class=\"mute-reason\">");
	wb_html_s(b, c->mute_reason);
	wb_puts(b, "</span>");
}

static void page_head(web_buf *b, const char *title, int refresh)
{
	wb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	if (refresh) wb_puts(b, "<meta http-equiv=\"refresh\" content=\"60\">\n");
	wb_puts(b, "<title>");
	wb_html_s(b, title);
	wb_puts(b, "</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n"
	           "<header><h1><a href=\"/\">vigil</a></h1>");
}

static void page_end(web_buf *b)
{
	wb_puts(b, "</main>\n</body></html>\n");
}

static void send_html(web_resp *resp, int status, web_buf *b)
{
	web_send(resp, status, "text/html; charset=utf-8", b);
}

static void not_found(web_resp *resp, const char *what)
{
	web_buf b = {0};
	page_head(&b, "vigil — not found", 0);
	wb_puts(&b, "</header>\n<main>\n<p>");
	wb_html_s(&b, what);
	wb_puts(&b, "</p><p><a href=\"/\">all checks</a></p>\n");
	page_end(&b);
	send_html(resp, 404, &b);
}

/* 1 when the space-separated TAGS contain TAG. */
static int has_tag(const char *tags, const char *tag)
{
	size_t tl = strlen(tag);
	for (const char *p = tags; *p;) {
		while (*p == ' ' || *p == ',') p++;
		size_t l = strcspn(p, " ,");
		if (l == tl && !strncmp(p, tag, tl)) return 1;
		p += l;
	}
	return 0;
}

/* ---- the list --------------------------------------------------------------------- */

static void banners(web_buf *b, reg_db *db, const reg_check *cs, size_t n, int64_t now)
{
	web_outbox ob;
	if (web_outbox_counts(db, now, &ob) != REG_OK) {
		wb_puts(b, "<div class=\"banner banner-alerts\" id=\"banner-alerts\">The alert outbox could not be read.</div>\n");
	} else if (ob.stuck > 0 || ob.failed > 0) {
		/* a fresh pending alert is the sender's batching window, not news */
		wb_puts(b, "<div class=\"banner banner-alerts\" id=\"banner-alerts\">");
		if (ob.stuck > 0) {
			wb_printf(b, "<strong>%lld alert%s not delivered yet</strong> (oldest queued ", (long long)ob.stuck,
			          ob.stuck == 1 ? "" : "s");
			time_ago(b, ob.oldest_pending_ms, now);
			wb_puts(b, "). ");
		}
		if (ob.failed > 0) {
			wb_printf(b, "<strong>%lld alert%s failed permanently</strong>", (long long)ob.failed, ob.failed == 1 ? "" : "s");
			if (ob.last_error[0]) { wb_puts(b, "; last error: <code>"); wb_html_s(b, ob.last_error); wb_puts(b, "</code>"); }
			wb_puts(b, ". ");
		}
		wb_puts(b, "Check the Slack webhook and <code>vigil alert test</code>.</div>\n");
	}
	size_t ind = 0;
	for (size_t i = 0; i < n; i++) ind += cs[i].mute_indefinite != 0;
	if (ind) {
		wb_printf(b, "<div class=\"banner banner-mutes\" id=\"banner-mutes\"><strong>%zu check%s muted indefinitely</strong> "
		          "(debt: lift the mute or give it an end): ", ind, ind == 1 ? "" : "s");
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (!cs[i].mute_indefinite) continue;
			if (k++) wb_puts(b, ", ");
			wb_puts(b, "<a href=\"/checks/");
			wb_html_s(b, cs[i].slug);
			wb_puts(b, "\">");
			wb_html_s(b, cs[i].slug);
			wb_puts(b, "</a> (");
			wb_html_s(b, cs[i].mute_reason);
			wb_puts(b, ")");
		}
		wb_puts(b, "</div>\n");
	}
}

static void filters(web_buf *b, const reg_check *cs, size_t n, const char *tag, const char *state)
{
	static const char *const states[] = {"down", "grace", "started", "up", "new", "paused", "unknown"};
	wb_puts(b, "<form class=\"filters\" method=\"get\" action=\"/\"><label>state <select name=\"state\">"
	           "<option value=\"\">all</option>");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		wb_printf(b, "<option%s>%s</option>", state && !strcmp(state, states[i]) ? " selected" : "", states[i]);
	wb_puts(b, "</select></label> <label>tag <select name=\"tag\"><option value=\"\">all</option>");
	/* distinct tags, in first-seen order (a check has few; the list is small) */
	for (size_t i = 0; i < n; i++) {
		for (const char *p = cs[i].tags; *p;) {
			while (*p == ' ' || *p == ',') p++;
			size_t l = strcspn(p, " ,");
			if (!l) break;
			char t[256];
			snprintf(t, sizeof t, "%.*s", (int)l, p);
			int seen = 0;
			for (size_t j = 0; j < i && !seen; j++) seen = has_tag(cs[j].tags, t);
			const char *q = cs[i].tags;
			for (; q < p && !seen; q++) { /* earlier in the same check */
				size_t ql = strcspn(q, " ,");
				if (ql == l && !strncmp(q, p, l)) seen = 1;
				q += ql;
			}
			if (!seen) {
				wb_printf(b, "<option%s>", tag && !strcmp(tag, t) ? " selected" : "");
				wb_html_s(b, t);
				wb_puts(b, "</option>");
			}
			p += l;
		}
	}
	wb_puts(b, "</select></label> <button type=\"submit\">filter</button>");
	if ((tag && *tag) || (state && *state)) wb_puts(b, " <a href=\"/\">clear</a>");
	wb_puts(b, "</form>\n");
}

static void check_row(web_buf *b, const reg_check *c, int64_t now)
{
	const char *st = ops_state_name(c);
	char words[256];
	schedule_words(c, words, sizeof words);
	wb_printf(b, "<tr class=\"check row-%s\" data-state=\"%s\" data-slug=\"", st, st);
	wb_html_s(b, c->slug);
	wb_puts(b, "\">\n<td class=\"c-state\" data-label=\"state\">");
	badge(b, st);
	if (is_muted(c, now)) wb_puts(b, " <span class=\"badge muted\">muted</span>");
	wb_puts(b, "</td>\n<td class=\"c-check\"><a class=\"slug\" href=\"/checks/");
	wb_html_s(b, c->slug);
	wb_puts(b, "\">");
	wb_html_s(b, c->slug);
	wb_puts(b, "</a>");
	if (c->name[0]) { wb_puts(b, "<div class=\"name\">"); wb_html_s(b, c->name); wb_puts(b, "</div>"); }
	if (c->tags[0]) { wb_puts(b, "<div class=\"sub tags\">"); wb_html_s(b, c->tags); wb_puts(b, "</div>"); }
	wb_puts(b, "</td>\n<td class=\"c-schedule\" data-label=\"schedule\">");
	if (words[0]) { wb_puts(b, "<div>"); wb_html_s(b, words); wb_puts(b, "</div>"); }
	if (c->schedule[0]) { wb_puts(b, "<code>"); wb_html_s(b, c->schedule); wb_puts(b, "</code> "); }
	wb_puts(b, "<span class=\"sub tz\">");
	wb_html_s(b, c->tz);
	wb_puts(b, "</span></td>\n<td class=\"c-last\" data-label=\"last pings\"><div>success ");
	time_ago(b, c->last_success_ms, now);
	wb_puts(b, "</div><div class=\"sub\">start ");
	time_ago(b, c->last_start_ms, now);
	wb_puts(b, "</div><div class=\"sub\">fail ");
	time_ago(b, c->last_fail_ms, now);
	if (c->last_exit > 0) wb_printf(b, " (exit %d)", c->last_exit);
	wb_puts(b, "</div></td>\n<td class=\"c-next\" data-label=\"next expected\">");
	int64_t nx = ops_next_expected(c, now);
	if (nx) time_ago(b, nx, now); else wb_puts(b, "<span class=\"na\">–</span>");
	wb_puts(b, "</td>\n<td class=\"c-duration\" data-label=\"last duration\">");
	duration(b, c->last_duration_ms);
	wb_puts(b, "</td>\n<td class=\"c-mute\" data-label=\"mute\">");
	mute_text(b, c, now);
	wb_puts(b, "</td>\n</tr>\n");
}

static int page_index(const web_req *r, web_resp *resp)
{
	const char *tag = r->arg ? r->arg(r->arg_ctx, "tag") : NULL;
	const char *state = r->arg ? r->arg(r->arg_ctx, "state") : NULL;
	reg_check *cs;
	size_t n;
	if (reg_check_list(r->db, &cs, &n)) { web_send_text(resp, 503, "database unavailable\n"); return 1; }
	web_sort_checks(cs, n);
	int64_t now = ops_now_ms();
	int by[REG_STATUS_COUNT] = {0};
	for (size_t i = 0; i < n; i++) by[cs[i].paused ? REG_PAUSED : cs[i].status]++;
	char title[128];
	if (by[REG_DOWN] || by[REG_GRACE])
		snprintf(title, sizeof title, "vigil — %d down, %d grace", by[REG_DOWN], by[REG_GRACE]);
	else snprintf(title, sizeof title, "vigil — all %zu checks fine", n);
	web_buf b = {0};
	page_head(&b, title, 1);
	wb_printf(&b, "<p class=\"summary\">%zu check%s ", n, n == 1 ? "" : "s");
	static const reg_status order[] = {REG_DOWN, REG_GRACE, REG_STARTED, REG_UP, REG_NEW, REG_PAUSED, REG_UNKNOWN};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (by[order[i]]) wb_printf(&b, "<span class=\"badge state-%s\">%d %s</span>", reg_status_name(order[i]),
		                            by[order[i]], reg_status_name(order[i]));
	wb_puts(&b, "</p></header>\n<main>\n");
	banners(&b, r->db, cs, n, now);
	filters(&b, cs, n, tag, state);
	size_t shown = 0;
	wb_puts(&b, "<table class=\"checks\" id=\"checks\"><thead><tr><th>state</th><th>check</th><th>schedule</th>"
	            "<th>last pings</th><th>next expected</th><th>last duration</th><th>mute</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		if (tag && *tag && !has_tag(cs[i].tags, tag)) continue;
		if (state && *state && strcmp(ops_state_name(&cs[i]), state)) continue;
		check_row(&b, &cs[i], now);
		shown++;
	}
	wb_puts(&b, "</tbody></table>\n");
	if (!n) wb_puts(&b, "<p class=\"na\">No checks yet: <code>vigil check add SLUG --cron 'EXPR'</code>.</p>\n");
	else if (shown < n) wb_printf(&b, "<p class=\"sub\" id=\"shown\">showing %zu of %zu checks</p>\n", shown, n);
	char t[64];
	wb_printf(&b, "<p class=\"sub\">rendered %s · refreshes every minute · <a href=\"/metrics\">metrics</a></p>\n",
	          ops_rfc3339(now, t, sizeof t));
	page_end(&b);
	free(cs);
	send_html(resp, 200, &b);
	return 1;
}

/* ---- one check ----------------------------------------------------------------------------- */

/* Durations of the last runs, oldest left, as a polyline in a 240x48 box. */
static void sparkline(web_buf *b, const reg_ping *ps, size_t n)
{
	int64_t v[PING_ROWS];
	size_t k = 0;
	for (size_t i = n; i-- > 0 && k < PING_ROWS;)
		if (ps[i].duration_ms >= 0) v[k++] = ps[i].duration_ms;
	if (k < 2) { wb_puts(b, "<p class=\"na\" id=\"sparkline\">not enough timed runs for a sparkline</p>\n"); return; }
	int64_t lo = v[0], hi = v[0];
	for (size_t i = 1; i < k; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i]; }
	const double W = 240, H = 48, pad = 3;
	wb_printf(b, "<svg class=\"spark\" id=\"sparkline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
	          "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"durations of the last %zu runs, %.2fs to %.2fs\">"
	          "<polyline fill=\"none\" stroke=\"#2f6fdb\" stroke-width=\"1.5\" points=\"",
	          W, H, W, H, k, (double)lo / 1000, (double)hi / 1000);
	for (size_t i = 0; i < k; i++) {
		double x = pad + (W - 2 * pad) * (double)i / (double)(k - 1);
		double y = hi == lo ? H / 2 : H - pad - (H - 2 * pad) * (double)(v[i] - lo) / (double)(hi - lo);
		wb_printf(b, "%s%.1f,%.1f", i ? " " : "", x, y);
	}
	wb_puts(b, "\"/></svg>\n");
}

static int page_check(const web_req *r, web_resp *resp, const char *slug)
{
	reg_check c;
	int rc = reg_check_get(r->db, slug, &c);
	if (rc == REG_ENOTFOUND) { not_found(resp, "No check with this slug."); return 1; }
	if (rc) { web_send_text(resp, 503, "database unavailable\n"); return 1; }
	reg_ping *ps = NULL;
	size_t np = 0;
	reg_flip *fs = NULL;
	size_t nf = 0;
	if (reg_ping_list(r->db, c.id, PING_ROWS, &ps, &np) || reg_flip_list(r->db, c.id, 100, &fs, &nf)) {
		reg_pings_free(ps, np);
		web_send_text(resp, 503, "database unavailable\n");
		return 1;
	}
	int64_t now = ops_now_ms();
	const char *st = ops_state_name(&c);
	char title[160], words[256], tmp[64];
	snprintf(title, sizeof title, "vigil — %s (%s)", c.slug, st);
	web_buf b = {0};
	page_head(&b, title, 1);
	wb_puts(&b, "<span class=\"crumb\"><a href=\"/\">all checks</a></span></header>\n<main>\n<h2 class=\"check-title\">");
	badge(&b, st);
	if (is_muted(&c, now)) wb_puts(&b, " <span class=\"badge muted\">muted</span>");
	wb_puts(&b, " <span class=\"slug\">");
	wb_html_s(&b, c.slug);
	wb_puts(&b, "</span></h2>\n");
	if (c.name[0]) { wb_puts(&b, "<p class=\"name\">"); wb_html_s(&b, c.name); wb_puts(&b, "</p>\n"); }
	if (c.desc[0]) { wb_puts(&b, "<p class=\"desc\">"); wb_html_s(&b, c.desc); wb_puts(&b, "</p>\n"); }

	wb_puts(&b, "<dl class=\"facts\">\n<dt>state</dt><dd>");
	badge(&b, st);
	wb_puts(&b, " since ");
	time_ago(&b, c.status_since_ms, now);
	wb_puts(&b, "</dd>\n<dt>schedule</dt><dd>");
	schedule_words(&c, words, sizeof words);
	if (words[0]) { wb_html_s(&b, words); wb_puts(&b, " "); }
	if (c.schedule[0]) { wb_puts(&b, "<code>"); wb_html_s(&b, c.schedule); wb_puts(&b, "</code> "); }
	wb_puts(&b, "(");
	wb_html_s(&b, c.tz);
	seconds_words(tmp, sizeof tmp, c.grace_s);
	wb_printf(&b, ")</dd>\n<dt>grace</dt><dd>%s</dd>\n", tmp);
	if (c.max_runtime_s) {
		seconds_words(tmp, sizeof tmp, c.max_runtime_s);
		wb_printf(&b, "<dt>max runtime</dt><dd>%s</dd>\n", tmp);
	}
	static const char *const kinds[] = {"last success", "last start", "last failure", "last ping"};
	const int64_t ts[] = {c.last_success_ms, c.last_start_ms, c.last_fail_ms, c.last_ping_ms};
	for (int i = 0; i < 4; i++) {
		wb_printf(&b, "<dt>%s</dt><dd>", kinds[i]);
		time_ago(&b, ts[i], now);
		if (i == 2 && c.last_exit > 0) wb_printf(&b, " (exit %d)", c.last_exit);
		wb_puts(&b, "</dd>\n");
	}
	wb_puts(&b, "<dt>last duration</dt><dd>");
	duration(&b, c.last_duration_ms);
	wb_puts(&b, "</dd>\n<dt>next expected</dt><dd>");
	int64_t nx = ops_next_expected(&c, now);
	if (nx) time_ago(&b, nx, now); else wb_puts(&b, "<span class=\"na\">–</span>");
	wb_puts(&b, "</dd>\n<dt>mute</dt><dd>");
	mute_text(&b, &c, now);
	wb_printf(&b, "</dd>\n<dt>pings</dt><dd>%lld recorded</dd>\n", (long long)(c.n_pings >= 0 ? c.n_pings : reg_ping_count(r->db, c.id)));
	wb_puts(&b, "<dt>crontab line</dt><dd>");
	if (c.crontab_line[0]) { wb_puts(&b, "<code class=\"crontab-line\">"); wb_html_s(&b, c.crontab_line); wb_puts(&b, "</code>"); }
	else if (c.source[0]) { wb_puts(&b, "<span class=\"na\">none (source: "); wb_html_s(&b, c.source); wb_puts(&b, ")</span>"); }
	else wb_puts(&b, "<span class=\"na\">none (not crontab-driven)</span>");
	wb_puts(&b, "</dd>\n<dt>last crontab apply</dt><dd>");
	int64_t rev, rev_ms;
	char user[64];
	if (web_last_revision(r->db, &rev, &rev_ms, user, sizeof user) != REG_OK) wb_puts(&b, "<span class=\"na\">unreadable</span>");
	else if (!rev) wb_puts(&b, "<span class=\"na\">none</span>");
	else {
		wb_printf(&b, "revision %lld for ", (long long)rev);
		wb_html_s(&b, user);
		wb_puts(&b, ", ");
		time_ago(&b, rev_ms, now);
	}
	wb_puts(&b, "</dd>\n</dl>\n");

	wb_puts(&b, "<section id=\"findings\"><h2>validator findings</h2>\n");
	if (web_validator_findings(r->db, &c, &b) < 0) wb_puts(&b, "<p class=\"na\">not available</p>\n");
	wb_puts(&b, "</section>\n");

	wb_puts(&b, "<section id=\"durations\"><h2>durations</h2>\n");
	sparkline(&b, ps, np);
	wb_puts(&b, "</section>\n");

	wb_puts(&b, "<section id=\"flips\"><h2>flips</h2>\n");
	if (!nf) wb_puts(&b, "<p class=\"na\">no state changes yet</p>\n");
	else {
		wb_puts(&b, "<ol class=\"timeline\">\n");
		for (size_t i = 0; i < nf; i++) {
			wb_puts(&b, "<li>");
			time_ago(&b, fs[i].created_ms, now);
			wb_puts(&b, " ");
			badge(&b, reg_status_name(fs[i].old_status));
			wb_puts(&b, " → ");
			badge(&b, reg_status_name(fs[i].new_status));
			wb_puts(&b, " <span class=\"sub\">");
			wb_html_s(&b, fs[i].reason);
			wb_puts(&b, "</span></li>\n");
		}
		wb_puts(&b, "</ol>\n");
	}
	wb_puts(&b, "</section>\n");

	wb_printf(&b, "<section id=\"pings\"><h2>last %d pings</h2>\n", PING_ROWS);
	if (!np) wb_puts(&b, "<p class=\"na\">no pings yet</p>\n");
	else {
		wb_puts(&b, "<div class=\"scroll\"><table class=\"pings\"><thead><tr><th>kind</th><th>time</th><th>exit</th><th>duration</th>"
		            "<th>rid</th><th>from</th><th>body</th></tr></thead>\n<tbody>\n");
		for (size_t i = 0; i < np; i++) {
			const reg_ping *p = &ps[i];
			wb_printf(&b, "<tr class=\"ping kind-%s\"><td>%s</td><td>", reg_ping_kind_name(p->kind), reg_ping_kind_name(p->kind));
			time_ago(&b, p->created_ms, now);
			wb_puts(&b, "</td><td>");
			if (p->exit_status >= 0) wb_printf(&b, "%d", p->exit_status);
			wb_puts(&b, "</td><td>");
			if (p->duration_ms >= 0) duration(&b, p->duration_ms);
			wb_puts(&b, "</td><td>");
			if (p->rid[0]) { wb_puts(&b, "<code>"); wb_html_s(&b, p->rid); wb_puts(&b, "</code>"); }
			wb_puts(&b, "</td><td>");
			wb_html_s(&b, p->remote);
			wb_puts(&b, "</td><td>");
			if (p->body_len) {
				size_t show = p->body_len < BODY_PREVIEW ? p->body_len : BODY_PREVIEW;
				wb_puts(&b, "<pre class=\"body\">");
				wb_html(&b, (const char *)p->body, show);
				if (show < p->body_len) wb_puts(&b, "…");
				wb_puts(&b, "</pre><a class=\"full-body\" href=\"/checks/");
				wb_html_s(&b, c.slug);
				wb_printf(&b, "/pings/%lld/body\">full body (%zu bytes%s)</a>", (long long)p->id, p->body_len,
				          p->body_cut ? ", cut at the limit" : "");
			}
			wb_puts(&b, "</td></tr>\n");
		}
		wb_puts(&b, "</tbody></table></div>\n");
	}
	wb_puts(&b, "</section>\n");
	page_end(&b);
	reg_pings_free(ps, np);
	free(fs);
	send_html(resp, 200, &b);
	return 1;
}

static int page_body(const web_req *r, web_resp *resp, const char *slug, int64_t id)
{
	reg_check c;
	int rc = reg_check_get(r->db, slug, &c);
	if (rc == REG_ENOTFOUND) { not_found(resp, "No check with this slug."); return 1; }
	unsigned char *body = NULL;
	size_t len = 0;
	int cut = 0;
	if (rc == REG_OK) rc = web_ping_body(r->db, c.id, id, &body, &len, &cut);
	if (rc == REG_ENOTFOUND) { not_found(resp, "This check has no ping with this number."); return 1; }
	if (rc) { web_send_text(resp, 503, "database unavailable\n"); return 1; }
	free(resp->body);
	resp->body = (char *)body;
	resp->body_len = len;
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	return 1;
}

/* ---- login ------------------------------------------------------------------------------------ */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of NAME in an application/x-www-form-urlencoded body. */
static int form_value(const unsigned char *body, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && body[e] != '&') e++;
		if (e - i > nl && !memcmp(body + i, name, nl) && body[i + nl] == '=') {
			size_t o = 0;
			for (size_t k = i + nl + 1; k < e; k++) {
				int ch = body[k];
				if (ch == '+') ch = ' ';
				else if (ch == '%' && k + 2 < e && hexval(body[k + 1]) >= 0 && hexval(body[k + 2]) >= 0) {
					ch = hexval(body[k + 1]) * 16 + hexval(body[k + 2]);
					k += 2;
				}
				if (o + 1 >= outlen || ch == 0) return -1;
				out[o++] = (char)ch;
			}
			out[o] = '\0';
			return 0;
		}
		i = e + 1;
	}
	return -1;
}

static void login_form(web_resp *resp, int status, const char *msg)
{
	web_buf b = {0};
	page_head(&b, "vigil — sign in", 0);
	wb_puts(&b, "</header>\n<main>\n");
	if (msg) { wb_puts(&b, "<p class=\"banner banner-alerts\">"); wb_html_s(&b, msg); wb_puts(&b, "</p>\n"); }
	wb_puts(&b, "<form method=\"post\" action=\"/login\"><p><label>API key (read-only is enough) "
	            "<input type=\"password\" name=\"key\" autocomplete=\"current-password\" required></label> "
	            "<button type=\"submit\">sign in</button></p></form>\n"
	            "<p class=\"sub\">Create one with <code>vigil apikey create --ro</code>.</p>\n");
	page_end(&b);
	send_html(resp, status, &b);
}

static int page_login(const web_req *r, web_resp *resp)
{
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) { login_form(resp, 200, NULL); return 1; }
	if (strcmp(r->method, "POST")) { web_header(resp, "Allow", "GET, POST"); web_send_text(resp, 405, "method not allowed\n"); return 1; }
	if (r->body_too_large) { web_send_text(resp, 413, "request body too large\n"); return 1; }
	char key[128];
	if (form_value(r->body, r->body_len, "key", key, sizeof key) || web_apikey_check(r->db, key) <= 0) {
		login_form(resp, 403, "Unknown API key.");
		return 1;
	}
	char cookie[200];
	snprintf(cookie, sizeof cookie, "vigil_key=%.127s; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000", key);
	web_header(resp, "Set-Cookie", cookie);
	web_header(resp, "Location", "/");
	web_send_text(resp, 303, "signed in\n");
	return 1;
}

/* ---- routing ------------------------------------------------------------------------------------ */

int web_page(const web_req *r, web_resp *resp)
{
	const char *p = r->path;
	int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	if (!strcmp(p, "/style.css")) {
		if (!get) return 0;
		web_buf b = {0};
		wb_puts(&b, STYLE);
		web_send(resp, 200, "text/css; charset=utf-8", &b);
		return 1;
	}
	if (!strcmp(p, "/login")) return page_login(r, resp);
	if (strcmp(p, "/") && strncmp(p, "/checks/", 8)) return 0;
	if (!r->loopback && !web_auth_page(r)) {
		web_header(resp, "WWW-Authenticate", "Basic realm=\"vigil\", charset=\"UTF-8\"");
		login_form(resp, 401, "This vigil listens on the network: sign in with an API key "
		                      "(or use basic auth with the key as password).");
		return 1;
	}
	if (!get) {
		web_header(resp, "Allow", "GET, HEAD");
		web_send_text(resp, 405, "method not allowed\n");
		return 1;
	}
	if (!strcmp(p, "/")) return page_index(r, resp);
	p += 8;
	const char *slash = strchr(p, '/');
	size_t sl = slash ? (size_t)(slash - p) : strlen(p);
	char slug[REG_SLUG_MAX + 1];
	if (sl == 0 || sl > REG_SLUG_MAX) { not_found(resp, "No check with this slug."); return 1; }
	memcpy(slug, p, sl);
	slug[sl] = '\0';
	if (!reg_slug_valid(slug)) { not_found(resp, "No check with this slug."); return 1; }
	if (!slash) return page_check(r, resp, slug);
	/* /pings/<n>/body */
	const char *q = slash + 1;
	if (strncmp(q, "pings/", 6)) return 0;
	q += 6;
	const char *e = strchr(q, '/');
	if (!e || strcmp(e, "/body")) return 0;
	int64_t id = web_parse_id(q, (size_t)(e - q));
	if (id < 0) return 0;
	return page_body(r, resp, slug, id);
}
