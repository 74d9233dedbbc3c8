/* validator/cronglue.c — what the rules need from the crontab engine
 * (crontab/crontab.h): syntax findings (V301, never-firing V302), next fire
 * times, and schedule equality. */
#include "validator/val_internal.h"
#include "crontab/crontab.h"

#include <stdio.h>
#include <string.h>

static const char *slug_at(const val_crontab *t, int line)
{
	for (size_t i = 0; i < t->njobs; i++) if (t->jobs[i].line == line) return t->jobs[i].slug;
	return NULL;
}

void val_cron_rules(const char *path, const val_crontab *t, const char *zone, val_report *r)
{
	(void)zone;
	crontab_file *f = NULL;
	cron_error ce = {0};
	int rc = crontab_parse_file(path, &f, &ce);
	if (rc < 0 || !f) {
		val_add(r, "V301", 0, path, ce.line, ce.col, NULL, NULL, "%s", ce.msg[0] ? ce.msg : "cannot parse the crontab");
		crontab_free(f);
		return;
	}
	for (size_t i = 0; i < f->n_errors; i++) {
		const cron_error *e = &f->errors[i];
		int never = strstr(e->msg, "never fires") != NULL;
		val_add(r, never ? "V302" : "V301", 0, path, e->line, e->col, slug_at(t, e->line),
		        never ? "check the day of month against the month" : NULL, "%s", e->msg);
	}
	crontab_free(f);
}

int val_cron_check(const char *schedule, const char *zone, char *why, size_t n, int *never)
{
	cron_expr e;
	cron_error ce = {0};
	*never = 0;
	if (cron_expr_parse(schedule, &e, &ce)) {
		*never = strstr(ce.msg, "never fires") != NULL;
		snprintf(why, n, "column %d: %s", ce.col, ce.msg);
		return -1;
	}
	if (!(e.flags & CRON_REBOOT) && cron_expr_never(&e)) {
		*never = 1;
		snprintf(why, n, "the schedule never fires");
		return -1;
	}
	if (zone && !cron_zone_get(zone, NULL)) {
		snprintf(why, n, "unknown time zone \"%s\"", zone);
		return -1;
	}
	return 0;
}

int val_zone_known(const char *zone) { return cron_zone_get(zone, NULL) != NULL; }

int64_t val_cron_next(const char *schedule, const char *zone, int64_t after_ms)
{
	cron_expr e;
	cron_error ce;
	int64_t out;
	if (cron_expr_parse(schedule, &e, &ce)) return -1;
	if (cron_next(&e, zone, after_ms / 1000, &out) != CRON_OK) return -1;
	return out * 1000;
}

int val_cron_same(const char *a, const char *b, const char *zone)
{
	cron_expr x, y;
	cron_error ce;
	if (cron_expr_parse(a, &x, &ce) || cron_expr_parse(b, &y, &ce)) return 0;
	if ((x.flags & CRON_REBOOT) || (y.flags & CRON_REBOOT)) return (x.flags & CRON_REBOOT) && (y.flags & CRON_REBOOT);
	/* the same fire times from a fixed instant on: the first 200 runs */
	int64_t ta = 1767225600, tb = ta;   /* 2026-01-01T00:00:00Z */
	for (int i = 0; i < 200; i++) {
		int ra = cron_next(&x, zone, ta, &ta), rb = cron_next(&y, zone, tb, &tb);
		if (ra != rb) return 0;
		if (ra != CRON_OK) return 1;
		if (ta != tb) return 0;
	}
	return 1;
}
