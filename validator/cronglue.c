/* validator/cronglue.c — what the rules need from the crontab engine:
 * syntax findings (V301, V302), next fire times, schedule equality.
 * (Interim: shape checks only, until the crontab engine is merged.) */
#include "validator/val_internal.h"

#include <stdio.h>
#include <string.h>

void val_cron_rules(const char *path, const val_crontab *t, const char *zone, val_report *r)
{
	(void)zone;
	for (size_t i = 0; i < t->njobs; i++) {
		const val_job *j = &t->jobs[i];
		if (j->schedule) continue;
		val_add(r, "V301", 0, path, j->line, j->col, j->slug, NULL,
		        "expected five time fields and a command, or an @macro and a command");
	}
}

int64_t val_cron_next(const char *schedule, const char *zone, int64_t after_ms)
{
	(void)schedule; (void)zone; (void)after_ms;
	return -1;
}

static const char *macro(const char *s)
{
	static const struct { const char *m, *e; } t[] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) if (!strcmp(s, t[i].m)) return t[i].e;
	return s;
}

static void norm(const char *s, char *out, size_t n)
{
	size_t k = 0;
	int sp = 0;
	for (; *s && k + 1 < n; s++) {
		if (*s == ' ' || *s == '\t') { sp = k > 0; continue; }
		if (sp && k + 2 < n) out[k++] = ' ';
		sp = 0;
		out[k++] = *s;
	}
	out[k] = '\0';
}

int val_cron_same(const char *a, const char *b, const char *zone)
{
	char x[512], y[512];
	norm(a, x, sizeof x);
	norm(b, y, sizeof y);
	if (!strcmp(macro(x), macro(y))) return 1;
	/* same fire times over the next year's first hundred runs */
	int64_t ta = 1767225600000LL, tb = ta;   /* 2026-01-01T00:00:00Z */
	for (int i = 0; i < 100; i++) {
		ta = val_cron_next(x, zone, ta);
		tb = val_cron_next(y, zone, tb);
		if (ta != tb) return 0;
		if (ta < 0) return i > 0;
	}
	return 1;
}
