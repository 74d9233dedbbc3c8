/* supervisor/ops.c — check operations shared by the CLI and the API. */
#include "supervisor/ops.h"

#include "crontab/crontab.h"
#include "supervisor/alerts.h"
#include "supervisor/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int64_t ops_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ops_zone_valid(const char *zone)
{
	if (!zone || !*zone || strlen(zone) > 63) return 0;
	if (!strcmp(zone, "UTC")) return 1;
	if (zone[0] == '/' || strstr(zone, "..")) return 0;
	for (const char *p = zone; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p)) return 0;
	char path[128];
	snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone);
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The crontab engine's parser decides (Debian's rules, stricter where an
 * operator never means what Debian silently accepts). */
int ops_schedule_valid(const char *expr, char *err, size_t errlen)
{
	cron_expr e;
	cron_error ce;
	if (cron_expr_parse(expr, &e, &ce)) {
		snprintf(err, errlen, "schedule \"%s\": column %d: %s", expr, ce.col, ce.msg);
		return -1;
	}
	if (e.flags & CRON_REBOOT) {
		snprintf(err, errlen, "schedule \"%s\": @reboot is not periodic; a check needs a schedule that repeats", expr);
		return -1;
	}
	if (cron_expr_never(&e)) {
		snprintf(err, errlen, "schedule \"%s\" never fires", expr);
		return -1;
	}
	return 0;
}

int ops_check_save(reg_db *db, reg_check *c, int upsert, int64_t now_ms, char *err, size_t errlen)
{
	if (!reg_slug_valid(c->slug)) {
		snprintf(err, errlen, "slug \"%s\" is invalid (expected ^[a-z0-9][a-z0-9_-]{0,63}$)", c->slug);
		return REG_EINVAL;
	}
	if (c->schedule[0] && ops_schedule_valid(c->schedule, err, errlen)) return REG_EINVAL;
	if (!c->schedule[0] && c->period_s <= 0) {
		snprintf(err, errlen, "check %s: give a schedule (--cron EXPR) or a period (--every DUR)", c->slug);
		return REG_EINVAL;
	}
	if (!ops_zone_valid(c->tz)) {
		snprintf(err, errlen, "time zone \"%s\" is not in the system tz database", c->tz);
		return REG_EINVAL;
	}
	reg_check old;
	int rc = reg_check_get(db, c->slug, &old);
	if (rc == REG_OK && upsert) {
		rc = reg_check_update(db, c);
	} else if (rc == REG_OK) {
		snprintf(err, errlen, "check %s already exists", c->slug);
		return REG_EEXISTS;
	} else if (rc == REG_ENOTFOUND) {
		rc = reg_check_add(db, c, now_ms);
	}
	if (rc) snprintf(err, errlen, "%s", reg_errmsg(db));
	return rc;
}

int ops_check_pause(reg_db *db, const char *slug, int paused, int64_t now_ms, char *err, size_t errlen)
{
	int rc = reg_check_set_paused(db, slug, paused, now_ms);
	if (rc) snprintf(err, errlen, "%s", reg_errmsg(db));
	return rc;
}

int ops_check_mute(reg_db *db, const vigil_config *cfg, const char *slug, int64_t until_ms, int indefinite,
                   const char *reason, int64_t now_ms, char *err, size_t errlen)
{
	if (!reason || !*reason) {
		snprintf(err, errlen, "a mute needs a reason (--reason TEXT)");
		return REG_EINVAL;
	}
	if (strlen(reason) > 200) {
		snprintf(err, errlen, "mute reason longer than 200 characters");
		return REG_EINVAL;
	}
	long long max_s = 14 * 86400;
	const char *m = cfg_get(cfg, "mute_max");
	const char *why;
	if (m && vigil_parse_duration(m, &max_s, &why)) {
		snprintf(err, errlen, "config mute_max \"%s\": %s", m, why);
		return REG_EINVAL;
	}
	if (indefinite) {
		if (until_ms) {
			snprintf(err, errlen, "give either --until or --indefinite, not both");
			return REG_EINVAL;
		}
	} else {
		if (!until_ms) {
			snprintf(err, errlen, "a mute needs an end (--until TIME or --for DUR) or --indefinite");
			return REG_EINVAL;
		}
		if (until_ms <= now_ms) {
			snprintf(err, errlen, "the mute's end is in the past");
			return REG_EINVAL;
		}
		if (until_ms - now_ms > max_s * 1000) {
			snprintf(err, errlen, "the mute ends more than %lld days from now (policy maximum %s); "
			         "use --indefinite with a reason if this is intended", max_s / 86400, m ? m : "14d");
			return REG_EINVAL;
		}
	}
	int rc = reg_check_set_mute(db, slug, indefinite ? 0 : until_ms, indefinite, reason);
	if (rc) snprintf(err, errlen, "%s", reg_errmsg(db));
	return rc;
}

int ops_check_unmute(reg_db *db, const char *slug, char *err, size_t errlen)
{
	int rc = reg_check_set_mute(db, slug, 0, 0, NULL);
	if (rc) snprintf(err, errlen, "%s", reg_errmsg(db));
	return rc;
}

int ops_check_rm(reg_db *db, const char *slug, char *err, size_t errlen)
{
	int rc = reg_check_rm(db, slug);
	if (rc) snprintf(err, errlen, "%s", reg_errmsg(db));
	return rc;
}

/* The scheduler's own answer, so that the status column and the alerts
 * agree (early window, cron in the check's zone, the unknown rule). */
int64_t ops_next_expected(const reg_check *c, int64_t now_ms)
{
	if (c->paused) return 0;
	alerts_cfg cfg;
	char err[128];
	if (alerts_cfg_load(NULL, NULL, &cfg, err, sizeof err)) return 0;
	int64_t e = sched_expected(c, now_ms, &cfg);
	return e > 0 ? e : 0;
}

const char *ops_state_name(const reg_check *c)
{
	return c->paused ? "paused" : reg_status_name(c->status);
}

const char *ops_ago(int64_t then_ms, int64_t now_ms, char *buf, size_t n)
{
	if (!then_ms) { snprintf(buf, n, "never"); return buf; }
	int64_t d = (now_ms - then_ms) / 1000;
	const char *suffix = "ago";
	if (d < 0) { d = -d; suffix = "from now"; }
	if (d < 60) snprintf(buf, n, "%llds %s", (long long)d, suffix);
	else if (d < 3600) snprintf(buf, n, "%lldm %s", (long long)(d / 60), suffix);
	else if (d < 86400) snprintf(buf, n, "%lldh %s", (long long)(d / 3600), suffix);
	else snprintf(buf, n, "%lldd %s", (long long)(d / 86400), suffix);
	return buf;
}

const char *ops_rfc3339(int64_t ms, char *buf, size_t n)
{
	if (!ms) { if (n) buf[0] = '\0'; return buf; }
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int ops_parse_time(const char *s, int64_t *ms)
{
	int Y, M, D, h, m, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19) return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;
	const char *z = s + 19;
	long off = 0;
	if (*z == '.') { z++; if (!isdigit((unsigned char)*z)) return -1; while (isdigit((unsigned char)*z)) z++; }
	if (*z == 'Z' || *z == 'z') { if (z[1]) return -1; }
	else if (*z == '+' || *z == '-') {
		int oh, om, k = 0;
		if (sscanf(z + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || z[6] || oh > 23 || om > 59) return -1;
		off = (oh * 3600L + om * 60L) * (*z == '+' ? 1 : -1);
	} else return -1;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec };
	time_t t = timegm(&tm);
	struct tm back;
	gmtime_r(&t, &back);
	if (back.tm_mday != D) return -1;	/* 2026-02-30 */
	*ms = ((int64_t)t - off) * 1000;
	return 0;
}
