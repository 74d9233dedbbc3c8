/* supervisor/slack.c — what an alert message says (Block Kit + plain text),
 * the deterministic summary, and the one HTTP POST to the webhook.
 *
 * Secrets: the webhook URL is never put in a message, an error string or a
 * log line (curl's own messages are not used: they can name the URL); the
 * ping key and the webhook are scrubbed from every text taken from outside
 * (job output, names, crontab lines) by slack_render's SCRUB list. */
#include "supervisor/alerts.h"
#include "supervisor/facts.h"
#include "supervisor/summarizer.h"
#include "validator/strbuf.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define DETAILED_MAX 20        /* checks shown in full; the rest as one list */
#define SECTION_MAX 2900       /* Slack: 3000 characters per section text */
#define TEXT_MAX 12000         /* the plain-text fallback */

/* ---- text hygiene -------------------------------------------------------------- */

/* A copy of S with every SCRUB string replaced and, when CODE, backticks
 * neutralised (U+02CB), control bytes dropped and invalid UTF-8 replaced, so
 * that outside text cannot close a code block or break the JSON. */
static char *clean(const char *s, const char *const *scrub, int code)
{
	strbuf b = {0};
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		int hit = 0;
		for (const char *const *w = scrub; w && *w; w++) {
			size_t wl = strlen(*w);
			if (wl >= 8 && !strncmp(s + i, *w, wl)) { strbuf_puts(&b, "[redacted]"); i += wl; hit = 1; break; }
		}
		if (hit) continue;
		unsigned char c = (unsigned char)s[i];
		if (c == '`' && code) { strbuf_puts(&b, "\xcb\x8b"); i++; continue; }
		if (c < 0x20 && c != '\n' && c != '\t') { i++; continue; }
		if (c < 0x80) { strbuf_printf(&b, "%c", c); i++; continue; }
		int len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		int ok = len > 0 && i + (size_t)len <= n;
		for (int k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (!ok) { strbuf_puts(&b, "?"); i++; continue; }
		strbuf_printf(&b, "%.*s", len, s + i);
		i += (size_t)len;
	}
	return strbuf_take(&b);
}

static void fmt_time(int64_t ms, char *buf, size_t n)
{
	if (ms <= 0) { snprintf(buf, n, "never"); return; }
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void fmt_dur(int64_t ms, char *buf, size_t n)
{
	if (ms < 0) { snprintf(buf, n, "unknown"); return; }
	int64_t s = ms / 1000;
	if (s < 60) snprintf(buf, n, "%lld.%lld s", (long long)s, (long long)(ms % 1000) / 100);
	else if (s < 3600) snprintf(buf, n, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
	else if (s < 86400) snprintf(buf, n, "%lldh%02lldm", (long long)s / 3600, (long long)(s % 3600) / 60);
	else snprintf(buf, n, "%lldd%02lldh", (long long)s / 86400, (long long)(s % 86400) / 3600);
}

static int is_gap(const alert_item *it) { return it->new_status == REG_UNKNOWN; }
static int is_recovery(const alert_item *it) { return it->new_status == REG_UP; }

/* ---- the summary ------------------------------------------------------------------ */

char *alerts_summary_deterministic(const alert_item *items, size_t n)
{
	size_t down = 0, up = 0, unknown = 0, never = 0, hung = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		const alert_item *it = &items[i];
		if (is_gap(it)) unknown++;
		else if (is_recovery(it)) up++;
		else {
			down++;
			if (!strcmp(it->reason, "never_pinged")) never++;
			else if (!strcmp(it->reason, "hung")) hung++;
			else if (!strcmp(it->reason, "fail") || !strcmp(it->reason, "exit")) failed++;
		}
	}
	strbuf b = {0};
	if (down) {
		strbuf_printf(&b, "%zu check%s down", down, down == 1 ? " is" : "s are");
		const char *sep = ": ";
		if (failed) { strbuf_printf(&b, "%s%zu failed", sep, failed); sep = ", "; }
		if (down - failed - never - hung) { strbuf_printf(&b, "%s%zu missed a run", sep, down - failed - never - hung); sep = ", "; }
		if (hung) { strbuf_printf(&b, "%s%zu started but did not finish in time", sep, hung); sep = ", "; }
		if (never) { strbuf_printf(&b, "%s%zu never pinged", sep, never); }
		strbuf_puts(&b, ".");
	}
	if (up) strbuf_printf(&b, "%s%zu check%s recovered.", b.len ? " " : "", up, up == 1 ? "" : "s");
	if (unknown) strbuf_printf(&b, "%s%zu check%s had a run due while vigil was not watching; their state is unknown.",
	                     b.len ? " " : "", unknown, unknown == 1 ? "" : "s");
	return strbuf_take(&b);
}

/* The one place the summarizer plugs in: the batch's facts go to the
 * summarizer's worker (model candidate, verified against the facts, within
 * its time limit) or, with no summarizer, straight to the deterministic
 * summary built from the same facts.  *kind is the context line the message
 * carries ("summary written by the local model, checked against the facts" /
 * "summary generated from the facts"). */
static summ_worker *summarizer;   /* set once by vigil serve, before the sender starts */
static int64_t n_accepted, n_rejected;   /* model candidates, by the verifier's verdict */

void alerts_set_summarizer(summ_worker *w) { __atomic_store_n(&summarizer, w, __ATOMIC_RELEASE); }

int alerts_summary_counts(int64_t *accepted, int64_t *rejected)
{
	*accepted = __atomic_load_n(&n_accepted, __ATOMIC_RELAXED);
	*rejected = __atomic_load_n(&n_rejected, __ATOMIC_RELAXED);
	return __atomic_load_n(&summarizer, __ATOMIC_ACQUIRE) ? 0 : -1;
}

char *alerts_summarize(const alert_item *items, size_t n, int64_t now_ms,
                       const char *const *registered, const char **kind)
{
	*kind = summ_source_line(SUMM_SOURCE_FACTS);
	val_facts f;
	if (facts_from_alerts(items, n, now_ms, &f)) return alerts_summary_deterministic(items, n);
	char *text = NULL;
	summ_worker *w = __atomic_load_n(&summarizer, __ATOMIC_ACQUIRE);
	if (w && n) {
		summ_result r;
		if (summ_worker_summarize(w, &f, registered, &r) == 0) {
			if (r.source == SUMM_SOURCE_MODEL) __atomic_add_fetch(&n_accepted, 1, __ATOMIC_RELAXED);
			else if (r.candidate) __atomic_add_fetch(&n_rejected, 1, __ATOMIC_RELAXED);
			char why[400];
			summ_result_describe(&r, why, sizeof why);
			fprintf(stderr, "vigil: %s\n", why);
			*kind = summ_source_line(r.source);
			text = r.text;
			r.text = NULL;
			summ_result_free(&r);
		}
	}
	if (!text && n) text = val_summary_from_facts(&f);
	facts_release(&f);
	return text ? text : alerts_summary_deterministic(items, n);
}

/* ---- one check ---------------------------------------------------------------------- */

static void check_details(strbuf *b, const alert_item *it, const char *const *scrub)
{
	const reg_check *c = &it->check;
	char t1[40], t2[40], t3[40], t4[40], d[32];
	char *name = clean(c->name, scrub, 1);
	if (!name) { b->oom = 1; return; }
	fmt_time(it->flip_ms, t1, sizeof t1);
	if (is_recovery(it)) {
		strbuf_printf(b, "*%s*%s%s — recovered at %s\n", c->slug, name[0] ? " — " : "", name, t1);
		fmt_time(c->last_success_ms, t2, sizeof t2);
		strbuf_printf(b, "Last success: %s", t2);
	} else {
		const char *why =
			!strcmp(it->reason, "never_pinged") ? "never pinged" :
			!strcmp(it->reason, "late") ? "no ping after the expected run" :
			!strcmp(it->reason, "hung") ? "started but did not finish within its max runtime" :
			!strcmp(it->reason, "fail") ? "the job reported failure" :
			!strcmp(it->reason, "exit") ? "the job exited with a non-zero status" :
			!strcmp(it->reason, "gap") ? "a run was due while vigil was not watching" : it->reason;
		strbuf_printf(b, "*%s*%s%s — *%s* since %s (%s)\n", c->slug, name[0] ? " — " : "", name,
		        reg_status_name(it->new_status), t1, why);
		if (c->expected_ms > 0 && strcmp(it->reason, "hung") && strcmp(it->reason, "fail") &&
		    strcmp(it->reason, "exit")) {
			fmt_time(c->expected_ms, t2, sizeof t2);
			fmt_time(c->expected_ms + c->grace_s * 1000, t3, sizeof t3);
			strbuf_printf(b, "Expected a run at %s; grace %llds ended %s\n", t2, (long long)c->grace_s, t3);
		}
		if (!strcmp(it->reason, "hung")) {
			fmt_time(c->last_start_ms, t2, sizeof t2);
			fmt_dur(c->max_runtime_s * 1000, d, sizeof d);
			strbuf_printf(b, "Started %s; max runtime %s\n", t2, d);
		}
		if (c->last_ping_ms == 0) {
			fmt_time(c->created_ms, t2, sizeof t2);
			strbuf_printf(b, "No ping of any kind on record; check created %s\n", t2);
			if (it->facts[0]) {
				char *f = clean(it->facts, scrub, 1);
				if (f) { strbuf_printf(b, "%s\n", f); free(f); }
			}
		}
	}
	if (c->last_ping_ms > 0 && !is_recovery(it)) {
		fmt_time(c->last_success_ms, t1, sizeof t1);
		fmt_time(c->last_start_ms, t2, sizeof t2);
		fmt_time(c->last_fail_ms, t3, sizeof t3);
		fmt_time(c->last_ping_ms, t4, sizeof t4);
		strbuf_printf(b, "Last success: %s · start: %s · fail: %s · any ping: %s\n", t1, t2, t3, t4);
	}
	if (c->last_exit >= 0 || c->last_duration_ms >= 0) {
		fmt_dur(c->last_duration_ms, d, sizeof d);
		if (c->last_exit >= 0) strbuf_printf(b, "%sExit status: %d", is_recovery(it) ? " · " : "", c->last_exit);
		if (c->last_duration_ms >= 0) strbuf_printf(b, "%sDuration: %s", c->last_exit >= 0 || is_recovery(it) ? " · " : "", d);
		strbuf_puts(b, "\n");
	} else if (is_recovery(it)) {
		strbuf_puts(b, "\n");
	}
	if (c->schedule[0]) strbuf_printf(b, "Schedule: `%s` (%s)\n", c->schedule, c->tz);
	else if (c->period_s > 0) strbuf_printf(b, "Schedule: every %llds\n", (long long)c->period_s);
	if (c->crontab_line[0]) {
		char *line = clean(c->crontab_line, scrub, 1);
		if (line) { strbuf_printf(b, "Crontab: `%.300s`\n", line); free(line); }
	}
	if (c->mute_indefinite || c->mute_until_ms > 0) {
		char *why = clean(c->mute_reason, scrub, 1);
		fmt_time(c->mute_until_ms, t2, sizeof t2);
		if (it->mute_ended) strbuf_printf(b, "Mute ended (%s) and it is still down\n", why ? why : "");
		else if (c->mute_indefinite) strbuf_printf(b, "Muted indefinitely: %s\n", why ? why : "");
		else if (c->mute_until_ms > it->flip_ms) strbuf_printf(b, "Muted until %s: %s\n", t2, why ? why : "");
		free(why);
	}
	if (it->output && it->output[0] && !is_recovery(it)) {
		char *out = clean(it->output, scrub, 1);
		if (out) {
			strbuf_printf(b, "Output (last lines%s):\n```%s```\n", it->output_cut ? ", cut" : "", out);
			free(out);
		}
	}
	free(name);
}

/* ---- the message ---------------------------------------------------------------------- */

static cJSON *section(const char *mrkdwn)
{
	cJSON *s = cJSON_CreateObject(), *t = cJSON_CreateObject();
	if (!s || !t) { cJSON_Delete(s); cJSON_Delete(t); return NULL; }
	cJSON_AddStringToObject(s, "type", "section");
	cJSON_AddStringToObject(t, "type", "mrkdwn");
	char cut[SECTION_MAX + 8];
	size_t n = strlen(mrkdwn);
	if (n > SECTION_MAX) {
		/* cut on a UTF-8 boundary and close an open code block */
		size_t k = SECTION_MAX - 8;
		while (k > 0 && ((unsigned char)mrkdwn[k] & 0xc0) == 0x80) k--;
		int fences = 0;
		for (size_t i = 0; i + 2 < k; i++) if (!strncmp(mrkdwn + i, "```", 3)) { fences++; i += 2; }
		snprintf(cut, sizeof cut, "%.*s…%s", (int)k, mrkdwn, fences % 2 ? "```" : "");
		mrkdwn = cut;
	}
	cJSON_AddStringToObject(t, "text", mrkdwn);
	cJSON_AddItemToObject(s, "text", t);
	return s;
}

char *slack_render(const alert_item *items, size_t n, const char *summary, const char *summary_kind,
                   const char *key,
                   int64_t gap_from_ms, const char *const *scrub, char **text_out)
{
	if (text_out) *text_out = NULL;
	size_t down = 0, up = 0, unknown = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_gap(&items[i])) unknown++;
		else if (is_recovery(&items[i])) up++;
		else down++;
	}
	strbuf head = {0}, text = {0};
	const char *sep = "";
	if (down) { strbuf_printf(&head, "%zu check%s down", down, down == 1 ? "" : "s"); sep = ", "; }
	if (up) { strbuf_printf(&head, "%s%zu recovered", sep, up); sep = ", "; }
	if (unknown) strbuf_printf(&head, "%s%zu unknown", sep, unknown);
	if (!n) strbuf_puts(&head, "vigil test message");
	char *header = strbuf_take(&head);
	char *sum = summary ? clean(summary, scrub, 1) : NULL;
	cJSON *root = cJSON_CreateObject(), *blocks = cJSON_CreateArray();
	char *json = NULL;
	if (!header || !root || !blocks) goto out;
	cJSON_AddItemToObject(root, "blocks", blocks);

	cJSON *h = cJSON_CreateObject(), *ht = cJSON_CreateObject();
	if (!h || !ht) { cJSON_Delete(h); cJSON_Delete(ht); goto out; }
	cJSON_AddStringToObject(h, "type", "header");
	cJSON_AddStringToObject(ht, "type", "plain_text");
	cJSON_AddStringToObject(ht, "text", header);
	cJSON_AddItemToObject(h, "text", ht);
	cJSON_AddItemToArray(blocks, h);
	strbuf_printf(&text, "%s\n", header);
	if (sum && sum[0]) {
		cJSON_AddItemToArray(blocks, section(sum));
		strbuf_printf(&text, "%s\n", sum);
	}

	/* the gap digest: one line however many checks */
	if (unknown) {
		strbuf g = {0};
		char t1[40], t2[40];
		int64_t to = 0;
		for (size_t i = 0; i < n; i++) if (is_gap(&items[i]) && items[i].flip_ms > to) to = items[i].flip_ms;
		fmt_time(gap_from_ms, t1, sizeof t1);
		fmt_time(to, t2, sizeof t2);
		if (gap_from_ms > 0) strbuf_printf(&g, "vigil was not watching from %s to %s (not running, host asleep or clock jump); ", t1, t2);
		else strbuf_printf(&g, "vigil was not watching for a while before %s; ", t2);
		strbuf_printf(&g, "%zu check%s had a run due then and %s now *unknown* until the next run: ",
		        unknown, unknown == 1 ? "" : "s", unknown == 1 ? "is" : "are");
		/* by name: the same checks read the same whatever order their
		 * flips were written in (a check planned just before the stop and
		 * one that was not are judged by different passes) */
		const char **names = malloc(unknown * sizeof *names);
		if (!names) { free(g.p); goto out; }
		size_t nn = 0;
		for (size_t i = 0; i < n; i++)
			if (is_gap(&items[i])) names[nn++] = items[i].check.slug;
		qsort(names, nn, sizeof *names, cmp_name);
		for (size_t i = 0; i < nn; i++) {
			if (g.len > SECTION_MAX - 100) { strbuf_printf(&g, " … and %zu more", nn - i); break; }
			strbuf_printf(&g, "%s%s", i ? ", " : "", names[i]);
		}
		free(names);
		char *gs = strbuf_take(&g);
		if (!gs) goto out;
		cJSON_AddItemToArray(blocks, section(gs));
		strbuf_printf(&text, "%s\n", gs);
		free(gs);
	}

	size_t detailed = 0, rest = 0;
	strbuf more = {0};
	for (size_t i = 0; i < n; i++) {
		const alert_item *it = &items[i];
		if (is_gap(it)) continue;
		if (detailed < DETAILED_MAX) {
			strbuf d = {0};
			check_details(&d, it, scrub);
			char *ds = strbuf_take(&d);
			if (!ds) goto out;
			cJSON_AddItemToArray(blocks, section(ds));
			if (text.len < TEXT_MAX) strbuf_printf(&text, "\n%s", ds);
			free(ds);
			detailed++;
		} else {
			if (more.len < SECTION_MAX - 100)
				strbuf_printf(&more, "%s%s (%s)", rest ? ", " : "", it->check.slug, reg_status_name(it->new_status));
			rest++;
		}
	}
	if (rest) {
		char *ms = strbuf_take(&more);
		strbuf m2 = {0};
		strbuf_printf(&m2, "And %zu more: %s", rest, ms ? ms : "");
		free(ms);
		char *m2s = strbuf_take(&m2);
		if (!m2s) goto out;
		cJSON_AddItemToArray(blocks, section(m2s));
		strbuf_printf(&text, "\n%s", m2s);
		free(m2s);
	} else {
		free(more.p);
	}

	cJSON *ctx = cJSON_CreateObject(), *els = cJSON_CreateArray(), *el = cJSON_CreateObject();
	if (!ctx || !els || !el) { cJSON_Delete(ctx); cJSON_Delete(els); cJSON_Delete(el); goto out; }
	/* the footer names the message key and the outbox ids, so a repeat (the
	 * at-least-once window, see outbox.c) is recognisable as one */
	strbuf fb = {0};
	strbuf_printf(&fb, "vigil · message %s", key ? key : "-");
	if (summary && summary_kind) strbuf_printf(&fb, " · %s", summary_kind);
	if (n && n <= 30) {
		strbuf_puts(&fb, " · alerts");
		for (size_t i = 0; i < n; i++) strbuf_printf(&fb, " #%lld", (long long)items[i].alert_id);
	} else if (n) {
		strbuf_printf(&fb, " · %zu alerts #%lld to #%lld", n, (long long)items[0].alert_id, (long long)items[n - 1].alert_id);
	}
	char *foot = strbuf_take(&fb);
	if (!foot) { cJSON_Delete(ctx); cJSON_Delete(els); cJSON_Delete(el); goto out; }
	cJSON_AddStringToObject(ctx, "type", "context");
	cJSON_AddStringToObject(el, "type", "mrkdwn");
	cJSON_AddStringToObject(el, "text", foot);
	free(foot);
	cJSON_AddItemToArray(els, el);
	cJSON_AddItemToObject(ctx, "elements", els);
	cJSON_AddItemToArray(blocks, ctx);

	char *plain = strbuf_take(&text);
	text.p = NULL;
	if (!plain) goto out;
	if (strlen(plain) > TEXT_MAX) { size_t k = TEXT_MAX; while (k && ((unsigned char)plain[k] & 0xc0) == 0x80) k--; plain[k] = '\0'; }
	cJSON_AddStringToObject(root, "text", plain);
	json = cJSON_PrintUnformatted(root);
	if (text_out && json) *text_out = plain; else free(plain);
out:
	free(text.p);
	free(header);
	free(sum);
	cJSON_Delete(root);
	return json;
}

void alert_items_free(alert_item *items, size_t n)
{
	if (!items) return;
	for (size_t i = 0; i < n; i++) free(items[i].output);
	free(items);
}

/* ---- the POST ------------------------------------------------------------------------- */

typedef struct post_ctx {
	char body[512];
	size_t body_n;
	int64_t retry_after_ms;
	const volatile int *stop;
} post_ctx;

static size_t on_body(char *p, size_t sz, size_t nm, void *u)
{
	post_ctx *x = u;
	size_t n = sz * nm, room = sizeof x->body - 1 - x->body_n;
	size_t k = n < room ? n : room;
	memcpy(x->body + x->body_n, p, k);
	x->body_n += k;
	x->body[x->body_n] = '\0';
	return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *u)
{
	post_ctx *x = u;
	size_t n = sz * nm;
	if (n > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		char v[64];
		size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
		memcpy(v, p + 12, k);
		v[k] = '\0';
		char *e;
		long long secs = strtoll(v, &e, 10);
		while (*e == ' ' || *e == '\r' || *e == '\n') e++;
		if (e != v && *e == '\0' && secs >= 0) {
			x->retry_after_ms = (secs > 3600 ? 3600 : secs) * 1000;
		} else {
			time_t t = curl_getdate(v, NULL);   /* an HTTP date */
			if (t > 0) {
				long long d = (long long)t - (long long)time(NULL);
				x->retry_after_ms = (d < 0 ? 0 : d > 3600 ? 3600 : d) * 1000;
			}
		}
	}
	return n;
}

static int on_progress(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a; (void)b; (void)c; (void)d;
	post_ctx *x = u;
	return x->stop && *x->stop ? 1 : 0;
}

int slack_post(const char *url, const char *json, const char *idem_key, int64_t timeout_ms,
               const volatile int *stop, long *status, int64_t *retry_after_ms, char *err, size_t errlen)
{
	*status = 0;
	*retry_after_ms = -1;
	err[0] = '\0';
	if (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7)) {
		snprintf(err, errlen, "webhook URL must be http:// or https://");
		return 2;
	}
	post_ctx x = { .retry_after_ms = -1, .stop = stop };
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	if (!h) { snprintf(err, errlen, "curl_easy_init failed"); return 1; }
	char kh[160];
	snprintf(kh, sizeof kh, "Idempotency-Key: %s", idem_key ? idem_key : "");
	hd = curl_slist_append(hd, "Content-Type: application/json; charset=utf-8");
	if (idem_key) hd = curl_slist_append(hd, kh);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 10000 ? timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	CURLcode cc = curl_easy_perform(h);
	int rc;
	if (cc != CURLE_OK) {
		/* curl_easy_strerror names the failure without the URL */
		snprintf(err, errlen, "network error: %s", curl_easy_strerror(cc));
		rc = cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT || cc == CURLE_TOO_MANY_REDIRECTS ? 2 : 1;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*retry_after_ms = x.retry_after_ms;
	if (*status >= 200 && *status < 300) { rc = 0; goto out; }
	/* Slack's error bodies are short words ("invalid_payload", "no_service") */
	char *b = clean(x.body, NULL, 1);
	snprintf(err, errlen, "HTTP %ld%s%.200s", *status, b && b[0] ? ": " : "", b ? b : "");
	free(b);
	rc = *status == 429 || *status >= 500 || *status < 200 ? 1 : 2;
	if (*status == 408) rc = 1;
out:
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return rc;
}
