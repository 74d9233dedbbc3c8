/* crontab/cron_int.h — shared between the files of crontab/ only; not part
 * of the module's API (see crontab.h). */
#ifndef VIGIL_CRON_INT_H
#define VIGIL_CRON_INT_H

#include "crontab/crontab.h"

/* "No minute found" from the calendar searches below. */
#define CRON_LOCAL_NONE INT64_MIN

/* Parses the schedule (five fields or a macro) that starts at s[0]; s has len
 * bytes and no newline.  col0 is the 1-based column of s[0]; columns written
 * to cols[] and err are absolute.  *end receives the offset just after the
 * schedule's last byte.  Returns 0 or -1 (err filled, err->line untouched). */
int cron_sched_parse(const char *s, size_t len, int col0, cron_expr *e, int cols[5],
                     size_t *end, cron_error *err);

/* Wall-clock minute numbers: minutes since 1970-01-01T00:00 on the local
 * wall clock, with the calendar read as if it were UTC.  The first minute
 * >= m (<= m for prev) that matches e, or CRON_LOCAL_NONE once the search
 * passes `limit`.  No zone here; cron_next.c adds the daemon's behaviour. */
int64_t cron_local_next(const cron_expr *e, int64_t m, int64_t limit);
int64_t cron_local_prev(const cron_expr *e, int64_t m, int64_t limit);

int64_t cron_days_from_civil(int64_t y, int m, int d);
void cron_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int cron_days_in_month(int64_t y, int m);

/* Zone internals for cron_next.c: transition i (0..n-1) happens at at[i];
 * off[i] is the offset in force before at[i] (off[n]: after the last). */
struct cron_zone {
	const char *name;
	size_t n;
	const int64_t *at;
	const int32_t *off;
	struct cron_zone *next;
};

#endif
