/* supervisor/outbox.c — drains the alert outbox (table `alerts`) to Slack.
 *
 * An outbox row is written in the same transaction as its flip (registry).
 * Its life:
 *
 *   pending ──(window passed: claimed into a batch, key K)──▶ sending
 *   sending ──(2xx)──▶ sent                 sending ──(other 4xx)──▶ failed
 *   sending ──(network error, 5xx, 429)──▶ sending, next_attempt_ms later
 *   pending ──(its check is muted)──▶ held ──(mute over, still down: newest)──▶ pending
 *                                     held ──(mute over, otherwise)──▶ suppressed
 *
 * A batch is fixed when it is claimed: its rows carry the same batch_key K
 * (the message's idempotency key, sent as the Idempotency-Key header and in
 * the footer) until it is delivered or fails for good, and every retry
 * re-sends the same rows under the same K.
 *
 * At-least-once, and the one window for a repeat: a row becomes `sent` only
 * in the transaction that follows a 2xx answer.  If vigil dies after Slack
 * accepted the POST and before that commit (a few milliseconds), the batch is
 * still `sending` on restart and is posted again, with the same key and the
 * same alerts; the same holds when Slack accepted a request but the answer
 * was lost (timeout, 5xx after the fact).  Slack's incoming webhooks ignore
 * the key, so such a repeat is visible in the channel as a second message
 * with the same "message K" footer; no other path can repeat an alert, and
 * no path can lose one (a row leaves pending/sending only as sent, failed or
 * suppressed, each recorded with its reason).
 *
 * Nothing here holds a transaction across the HTTP request. */
#include "supervisor/alerts.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_LINES 12
#define OUTPUT_BYTES 1200

struct outbox {
	reg_db *db;
	alerts_cfg cfg;
	const volatile int *stop;
	uint64_t rng;
	int64_t logged_upto;      /* no webhook: alerts up to this id were logged */
	char ping_key[80];
	void (*log)(void *, const char *);
	void *log_u;
};

static void logf_(outbox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(outbox *o, const char *fmt, ...)
{
	if (!o->log) return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	o->log(o->log_u, line);
}

static uint64_t rnd(outbox *o)
{
	/* xorshift64*: jitter and keys need spread, not secrecy */
	o->rng ^= o->rng >> 12;
	o->rng ^= o->rng << 25;
	o->rng ^= o->rng >> 27;
	return o->rng * 2685821657736338717ULL;
}

outbox *outbox_new(reg_db *db, const alerts_cfg *cfg, const volatile int *stop)
{
	outbox *o = calloc(1, sizeof *o);
	if (!o) return NULL;
	o->db = db;
	o->cfg = *cfg;
	o->stop = stop;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) { if (read(fd, &o->rng, sizeof o->rng) != (ssize_t)sizeof o->rng) o->rng = 0; close(fd); }
	o->rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)o;
	if (!o->rng) o->rng = 0x9e3779b97f4a7c15ULL;
	if (reg_ping_key(db, o->ping_key, sizeof o->ping_key) != REG_OK) o->ping_key[0] = '\0';
	return o;
}

void outbox_free(outbox *o) { free(o); }

void outbox_set_log(outbox *o, void (*fn)(void *, const char *), void *u) { o->log = fn; o->log_u = u; }

static int exec1(reg_db *db, const char *sql, int64_t a, const char *s)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(reg_sqlite(db), sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, a);
		if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? REG_OK : REG_EIO;
}

static int64_t query_i64(reg_db *db, const char *sql, int64_t a, int64_t dflt)
{
	sqlite3_stmt *st = NULL;
	int64_t v = dflt;
	if (sqlite3_prepare_v2(reg_sqlite(db), sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, a);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return v;
}

/* ---- mutes ---------------------------------------------------------------------- */

#define MUTED_AT "(c.mute_indefinite = 1 OR c.mute_until_ms > ?1)"

static int hold_and_release(outbox *o, int64_t now, outbox_step_out *out)
{
	reg_db *db = o->db;
	sqlite3 *h = reg_sqlite(db);
	/* nothing pending or held: no transaction (no write lock) at all */
	if (query_i64(db, "SELECT EXISTS(SELECT 1 FROM alerts WHERE state IN ('pending','held'))", 0, 1) == 0)
		return REG_OK;
	int rc = reg_begin(db);
	if (rc) return rc;
	rc = exec1(db, "UPDATE alerts SET state='held', last_error='held: the check is muted' "
	               "WHERE state='pending' AND flip_id IN (SELECT f.id FROM flips f JOIN checks c ON c.id=f.check_id "
	               "WHERE " MUTED_AT " OR c.paused = 1)", now, NULL);
	if (rc) goto fail;
	out->held += sqlite3_changes(h);

	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(h, "SELECT a.id, f.check_id, f.new_status, c.status, c.paused FROM alerts a "
	                          "JOIN flips f ON f.id=a.flip_id JOIN checks c ON c.id=f.check_id "
	                          "WHERE a.state='held' AND NOT " MUTED_AT " ORDER BY f.check_id, a.id DESC",
	                       -1, &st, NULL) != SQLITE_OK) { rc = REG_EIO; goto fail; }
	sqlite3_bind_int64(st, 1, now);
	int64_t cur = -1;
	int released = 0;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), cid = sqlite3_column_int64(st, 1);
		int fnew = sqlite3_column_int(st, 2), cstat = sqlite3_column_int(st, 3), paused = sqlite3_column_int(st, 4);
		if (cid != cur) { cur = cid; released = 0; }
		if (paused) continue;   /* stays held while paused */
		if (!released && cstat == REG_DOWN && fnew == REG_DOWN) {
			rc = exec1(db, "UPDATE alerts SET state='pending', next_attempt_ms=0, "
			               "last_error='released: mute ended, still down' WHERE id=?1", id, NULL);
			released = 1;
			out->released++;
		} else {
			rc = exec1(db, released ? "UPDATE alerts SET state='suppressed', "
			                          "last_error='not sent: muted, superseded by a later alert' WHERE id=?1"
			                        : "UPDATE alerts SET state='suppressed', "
			                          "last_error='not sent: muted, and not down when the mute ended' WHERE id=?1",
			           id, NULL);
		}
		if (rc) break;
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE && !rc) rc = REG_EIO;
	if (rc) goto fail;
	return reg_commit(db);
fail:
	reg_rollback(db);
	return rc;
}

/* ---- one batch ------------------------------------------------------------------- */

static void output_tail(reg_db *db, alert_item *it)
{
	reg_ping *p = NULL;
	size_t n = 0;
	if (reg_ping_list(db, it->check.id, 5, &p, &n) != REG_OK) return;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].body_len) continue;
		const char *b = (const char *)p[i].body;
		size_t len = strlen(b);          /* a NUL inside ends the text */
		while (len && (b[len - 1] == '\n' || b[len - 1] == '\r')) len--;
		size_t start = len, lines = 0;
		while (start > 0 && lines < OUTPUT_LINES && len - start < OUTPUT_BYTES) {
			start--;
			if (b[start] == '\n') lines++;
		}
		if (lines == OUTPUT_LINES || len - start >= OUTPUT_BYTES) {
			start++;
			while (start < len && ((unsigned char)b[start] & 0xc0) == 0x80) start++;
			it->output_cut = 1;
		}
		it->output_cut |= p[i].body_cut;
		it->output = strndup(b + start, len - start);
		break;
	}
	reg_pings_free(p, n);
}

static int edit_distance_le2(const char *a, const char *b)
{
	/* bounded Levenshtein: 1 when a and b are within 2 edits */
	size_t la = strlen(a), lb = strlen(b);
	if (la > lb + 2 || lb > la + 2 || la > 64 || lb > 64) return 0;
	int d[65][65];
	for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int m = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < m) m = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
			d[i][j] = m;
		}
	return d[la][lb] <= 2;
}

/* "Never pinged": what vigil knows that may explain it. */
static void never_pinged_facts(reg_db *db, alert_item *it)
{
	const reg_check *c = &it->check;
	size_t k = 0, n = sizeof it->facts;
	char *f = it->facts;
	char t[40];
	int64_t applied = query_i64(db, "SELECT max(created_ms) FROM crontab_revisions WHERE kind='apply'", 0, 0);
	if (c->source[0] && !strcmp(c->source, "crontab")) {
		if (applied > 0) {
			time_t s = (time_t)(applied / 1000);
			struct tm tm;
			gmtime_r(&s, &tm);
			strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S UTC", &tm);
			k += (size_t)snprintf(f + k, n - k, "Last crontab apply: %s. ", t);
		} else {
			k += (size_t)snprintf(f + k, n - k, "No crontab apply on record. ");
		}
	}
	if (c->script[0] && k < n) {
		FILE *sf = fopen(c->script, "r");
		if (!sf) k += (size_t)snprintf(f + k, n - k, "Script %s cannot be read. ", c->script);
		else {
			char *buf = malloc(1 << 20);
			size_t got = buf ? fread(buf, 1, (1 << 20) - 1, sf) : 0;
			if (buf) buf[got] = '\0';
			int has = buf && strstr(buf, c->slug) != NULL;
			k += (size_t)snprintf(f + k, n - k, "Script %s %s the slug. ", c->script,
			                      has ? "mentions" : "does not mention (no ping call?)");
			free(buf);
			fclose(sf);
		}
	}
	reg_orphan *o = NULL;
	size_t no = 0;
	if (k < n && reg_orphan_list(db, &o, &no) == REG_OK) {
		int shown = 0;
		for (size_t i = 0; i < no && k < n && shown < 3; i++) {
			if (!edit_distance_le2(o[i].slug, c->slug)) continue;
			k += (size_t)snprintf(f + k, n - k, "%sPings arrived for the unknown slug \"%s\" (%lld)",
			                      shown ? "; " : "", o[i].slug, (long long)o[i].count);
			shown++;
		}
		if (shown && k < n) k += (size_t)snprintf(f + k, n - k, ": a typo in the job's ping?");
		free(o);
	}
}

/* Loads the batch KEY.  *items malloc'd: alert_items_free(). */
static int load_batch(outbox *o, const char *key, alert_item **items, size_t *n)
{
	*items = NULL;
	*n = 0;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(reg_sqlite(o->db),
	        "SELECT a.id, a.flip_id, f.created_ms, f.old_status, f.new_status, f.reason, f.check_id, a.last_error "
	        "FROM alerts a JOIN flips f ON f.id=a.flip_id WHERE a.batch_key=? AND a.state='sending' ORDER BY a.id",
	        -1, &st, NULL) != SQLITE_OK) return REG_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	size_t cap = 0;
	int rc = REG_OK, src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			alert_item *ni = realloc(*items, cap * sizeof *ni);
			if (!ni) { rc = REG_EIO; break; }
			*items = ni;
		}
		alert_item *it = &(*items)[*n];
		memset(it, 0, sizeof *it);
		it->alert_id = sqlite3_column_int64(st, 0);
		it->flip_id = sqlite3_column_int64(st, 1);
		it->flip_ms = sqlite3_column_int64(st, 2);
		it->old_status = (reg_status)sqlite3_column_int(st, 3);
		it->new_status = (reg_status)sqlite3_column_int(st, 4);
		snprintf(it->reason, sizeof it->reason, "%s", (const char *)sqlite3_column_text(st, 5));
		int64_t cid = sqlite3_column_int64(st, 6);
		const char *le = (const char *)sqlite3_column_text(st, 7);
		it->mute_ended = le && !strncmp(le, "released:", 9);
		(*n)++;
		if (reg_check_get_id(o->db, cid, &it->check) != REG_OK) { it->check.id = cid; snprintf(it->check.slug, sizeof it->check.slug, "#%lld", (long long)cid); continue; }
		if (it->new_status != REG_UP && it->new_status != REG_UNKNOWN) output_tail(o->db, it);
		if (!strcmp(it->reason, "never_pinged") && it->check.last_ping_ms == 0) never_pinged_facts(o->db, it);
	}
	sqlite3_finalize(st);
	if (!rc && src != SQLITE_DONE) rc = REG_EIO;
	if (rc) { alert_items_free(*items, *n); *items = NULL; *n = 0; }
	return rc;
}

static int64_t backoff(outbox *o, int attempts)
{
	int64_t d = o->cfg.retry_base_ms;
	for (int i = 1; i < attempts && d < o->cfg.retry_max_ms; i++) d *= 2;
	if (d > o->cfg.retry_max_ms) d = o->cfg.retry_max_ms;
	/* jitter: half fixed, half random, so a crowd of vigils spreads out */
	return d / 2 + (int64_t)(rnd(o) % (uint64_t)(d / 2 + 1));
}

static int send_batch(outbox *o, const char *key, int64_t now, outbox_step_out *out)
{
	alert_item *items = NULL;
	size_t n = 0;
	int rc = load_batch(o, key, &items, &n);
	if (rc) return rc;
	if (n == 0) { alert_items_free(items, n); return REG_OK; }
	char gapbuf[32] = "";
	int64_t gap_from = 0;
	if (reg_setting_get(o->db, "sched.gap_from_ms", gapbuf, sizeof gapbuf) == REG_OK) gap_from = strtoll(gapbuf, NULL, 10);
	const char *kind = "deterministic";
	/* every registered slug: the verifier rejects a summary naming a check
	 * outside the batch (rule S1) */
	char **registered = NULL;
	reg_check *all = NULL;
	size_t nall = 0;
	if (reg_check_list(o->db, &all, &nall) == REG_OK && (registered = calloc(nall + 1, sizeof *registered)))
		for (size_t i = 0; i < nall; i++) registered[i] = all[i].slug;
	char *summary = alerts_summarize(items, n, now, (const char *const *)registered, &kind);   /* the summarizer's one call site */
	free(registered);
	free(all);
	const char *scrub[] = { o->cfg.webhook, o->ping_key, NULL };
	char *json = slack_render(items, n, summary, kind, key, gap_from, scrub, NULL);
	int attempts = (int)query_i64(o->db, "SELECT max(attempts) FROM alerts WHERE batch_key=(SELECT batch_key FROM alerts WHERE id=?1)",
	                              items[0].alert_id, 0) + 1;
	long status = 0;
	int64_t ra = -1;
	char err[300];
	int res;
	if (!json) { res = 1; snprintf(err, sizeof err, "out of memory building the message"); }
	else res = slack_post(o->cfg.webhook, json, key, o->cfg.http_timeout_ms, o->stop, &status, &ra, err, sizeof err);
	out->http_status = (int)status;

	rc = reg_begin(o->db);
	if (!rc) {
		sqlite3_stmt *st = NULL;
		const char *sql =
			res == 0 ? "UPDATE alerts SET state='sent', sent_ms=?1, attempts=?2, last_error='' WHERE batch_key=?3 AND state='sending'" :
			res == 1 ? "UPDATE alerts SET attempts=?2, next_attempt_ms=?1, last_error=?4 WHERE batch_key=?3 AND state='sending'" :
			           "UPDATE alerts SET state='failed', attempts=?2, last_error=?4 WHERE batch_key=?3 AND state='sending'";
		int64_t when = now;
		if (res == 1) when = now + (ra >= 0 ? ra : backoff(o, attempts));
		if (sqlite3_prepare_v2(reg_sqlite(o->db), sql, -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, when);
			sqlite3_bind_int(st, 2, attempts);
			sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
			if (res) sqlite3_bind_text(st, 4, err, -1, SQLITE_STATIC);
			rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : REG_EIO;
		} else rc = REG_EIO;
		sqlite3_finalize(st);
		if (!rc) rc = reg_commit(o->db);
		if (rc) reg_rollback(o->db);
		if (!rc) {
			if (res == 0) { out->sent += (int)n; logf_(o, "alert message %s delivered (%zu alert%s, HTTP %ld)", key, n, n == 1 ? "" : "s", status); }
			else if (res == 1) { out->retried += (int)n; logf_(o, "alert message %s not delivered (%s); attempt %d, next in %lld ms", key, err, attempts, (long long)(when - now)); }
			else { out->failed += (int)n; logf_(o, "alert message %s failed permanently (%s); %zu alert%s marked failed", key, err, n, n == 1 ? "" : "s"); }
		}
	}
	free(summary);
	free(json);
	alert_items_free(items, n);
	return rc;
}

/* No webhook: each pending alert goes to the log once per run and stays
 * pending (visible in `vigil status`, delivered once a webhook is set). */
static int log_pending(outbox *o, outbox_step_out *out)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(reg_sqlite(o->db),
	        "SELECT a.id, a.flip_id, f.created_ms, f.old_status, f.new_status, f.reason, f.check_id "
	        "FROM alerts a JOIN flips f ON f.id=a.flip_id WHERE a.state IN ('pending','sending') AND a.id > ? "
	        "ORDER BY a.id LIMIT 200", -1, &st, NULL) != SQLITE_OK) return REG_EIO;
	sqlite3_bind_int64(st, 1, o->logged_upto);
	const char *scrub[] = { o->ping_key, NULL };
	while (sqlite3_step(st) == SQLITE_ROW) {
		alert_item it;
		memset(&it, 0, sizeof it);
		it.alert_id = sqlite3_column_int64(st, 0);
		it.flip_id = sqlite3_column_int64(st, 1);
		it.flip_ms = sqlite3_column_int64(st, 2);
		it.old_status = (reg_status)sqlite3_column_int(st, 3);
		it.new_status = (reg_status)sqlite3_column_int(st, 4);
		snprintf(it.reason, sizeof it.reason, "%s", (const char *)sqlite3_column_text(st, 5));
		if (reg_check_get_id(o->db, sqlite3_column_int64(st, 6), &it.check) != REG_OK) continue;
		char *text = NULL, *json = slack_render(&it, 1, NULL, NULL, "-", 0, scrub, &text);
		if (text) {
			for (char *p = text; *p; p++) if (*p == '\n') *p = ' ';
			logf_(o, "alert (no webhook configured, kept pending): %s", text);
		}
		free(text);
		free(json);
		o->logged_upto = it.alert_id;
		out->logged++;
	}
	sqlite3_finalize(st);
	return REG_OK;
}

static void new_key(outbox *o, char *key, size_t n)
{
	uint64_t a = rnd(o);
	snprintf(key, n, "%016llx", (unsigned long long)a);
}

int outbox_step(outbox *o, int64_t now, outbox_step_out *out)
{
	memset(out, 0, sizeof *out);
	out->next_wake_ms = INT64_MAX;
	int rc = hold_and_release(o, now, out);
	if (rc) return rc;
	sqlite3 *h = reg_sqlite(o->db);

	if (!o->cfg.webhook[0]) {
		rc = log_pending(o, out);
		goto wake;
	}

	/* 1. a batch that is due (a retry, or one a crash left behind) */
	char key[40] = "";
	{
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(h, "SELECT batch_key FROM alerts WHERE state='sending' AND next_attempt_ms <= ? "
		                          "ORDER BY next_attempt_ms, id LIMIT 1", -1, &st, NULL) != SQLITE_OK) return REG_EIO;
		sqlite3_bind_int64(st, 1, now);
		if (sqlite3_step(st) == SQLITE_ROW) snprintf(key, sizeof key, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	/* 2. otherwise a new batch, once the oldest pending alert's window passed */
	if (!key[0]) {
		int64_t oldest = query_i64(o->db, "SELECT min(created_ms) FROM alerts WHERE state='pending' AND next_attempt_ms <= ?1", now, -1);
		if (oldest >= 0 && now >= oldest + o->cfg.batch_window_ms) {
			new_key(o, key, sizeof key);
			rc = reg_begin(o->db);
			if (rc) return rc;
			sqlite3_stmt *st = NULL;
			if (sqlite3_prepare_v2(h, "UPDATE alerts SET state='sending', batch_key=?1, next_attempt_ms=?2 "
			                          "WHERE id IN (SELECT id FROM alerts WHERE state='pending' AND next_attempt_ms <= ?2 "
			                          "ORDER BY id LIMIT ?3)", -1, &st, NULL) == SQLITE_OK) {
				sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
				sqlite3_bind_int64(st, 2, now);
				sqlite3_bind_int(st, 3, o->cfg.batch_max);
				rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : REG_EIO;
			} else rc = REG_EIO;
			sqlite3_finalize(st);
			if (!rc) rc = reg_commit(o->db);
			if (rc) { reg_rollback(o->db); return rc; }
		}
	}
	if (key[0]) {
		rc = send_batch(o, key, now, out);
		if (rc) return rc;
		/* more may be due right away: let the caller loop */
		out->next_wake_ms = now;
		return REG_OK;
	}

wake:;
	int64_t w = INT64_MAX, t;
	if (o->cfg.webhook[0]) {
		t = query_i64(o->db, "SELECT min(next_attempt_ms) FROM alerts WHERE state='sending'", 0, -1);
		if (t >= 0 && t < w) w = t;
		t = query_i64(o->db, "SELECT min(max(created_ms + ?1, next_attempt_ms)) FROM alerts WHERE state='pending'",
		              o->cfg.batch_window_ms, -1);
		if (t >= 0 && t < w) w = t;
	}
	t = query_i64(o->db, "SELECT min(c.mute_until_ms) FROM alerts a JOIN flips f ON f.id=a.flip_id "
	                     "JOIN checks c ON c.id=f.check_id WHERE a.state='held' AND c.mute_indefinite=0 AND c.paused=0", 0, -1);
	if (t >= 0 && t < w) w = t;
	if (w != INT64_MAX && w <= now) w = now + 1;
	out->next_wake_ms = w;
	out->held_total = query_i64(o->db, "SELECT count(*) FROM alerts WHERE state='held'", 0, 0);
	return rc;
}

int alerts_outbox_stats_get(reg_db *db, alerts_outbox_stats *s)
{
	memset(s, 0, sizeof *s);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(reg_sqlite(db), "SELECT state, count(*), min(created_ms) FROM alerts GROUP BY state",
	                       -1, &st, NULL) != SQLITE_OK) return REG_EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);
		if (!strcmp(k, "pending")) { s->pending = v; s->oldest_pending_ms = sqlite3_column_int64(st, 2); }
		else if (!strcmp(k, "sending")) s->sending = v;
		else if (!strcmp(k, "sent")) s->sent = v;
		else if (!strcmp(k, "failed")) s->failed = v;
		else if (!strcmp(k, "held")) s->held = v;
		else if (!strcmp(k, "suppressed")) s->suppressed = v;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(reg_sqlite(db), "SELECT last_error FROM alerts WHERE state IN ('failed','sending') "
	                       "AND last_error <> '' ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK) return REG_EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(s->last_error, sizeof s->last_error, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return REG_OK;
}

static void part(char *buf, size_t n, size_t *k, const char **sep, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void part(char *buf, size_t n, size_t *k, const char **sep, const char *fmt, ...)
{
	if (*k >= n) return;
	*k += (size_t)snprintf(buf + *k, n - *k, "%s", *sep);
	*sep = ", ";
	if (*k >= n) return;
	va_list ap;
	va_start(ap, fmt);
	*k += (size_t)vsnprintf(buf + *k, n - *k, fmt, ap);
	va_end(ap);
}

int alerts_status_text(reg_db *db, char *buf, size_t n)
{
	buf[0] = '\0';
	alerts_outbox_stats s;
	int rc = alerts_outbox_stats_get(db, &s);
	if (rc) return rc;
	size_t k = 0;
	const char *sep = "alerts: ";
	if (s.pending + s.sending) part(buf, n, &k, &sep, "%lld waiting to be sent", (long long)(s.pending + s.sending));
	if (s.held) part(buf, n, &k, &sep, "%lld held by mutes", (long long)s.held);
	if (s.failed) part(buf, n, &k, &sep, "%lld failed permanently", (long long)s.failed);
	if (s.last_error[0] && (s.failed || s.sending)) part(buf, n, &k, &sep, "last error: %s", s.last_error);
	return REG_OK;
}
