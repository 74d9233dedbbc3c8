/* crontab/cron_next.c — when Debian's cron daemon really starts a job.
 *
 * The daemon (cron.c, Vixie 3.0pl1 as Debian ships it) wakes at every minute
 * boundary of the local wall clock and compares the wall-clock minute now
 * (`clock`, minutes since 1970 read as if local time were UTC) with the
 * minute it last handled (`virt`).  With d = clock - virt:
 *
 *   d == 1          normal minute: run every job that matches `clock`.
 *   d in 2..5       late wake-up (or a gap of <= 4 minutes): run every job
 *                   for each missed minute virt+1..clock.
 *   d in 6..180     DST forward (spring-forward gap): run wildcard jobs for
 *                   `clock` only; run fixed-time jobs for each missed minute
 *                   virt+1..clock.  So a fixed-time job whose time falls in
 *                   the gap runs right after the gap; a wildcard job skips.
 *   d in -179..0    DST back (fall-back repeat): run wildcard jobs for
 *                   `clock` only and keep `virt`; until the clock passes virt
 *                   again only wildcard jobs run.  Fixed-time jobs ran at the
 *                   first occurrence and do not run again.
 *   other           large jump: set virt = clock and run jobs for `clock`.
 *
 * "Wildcard" means the minute or hour field begins with '*' (@hourly too).
 * Everything that makes clock jump here is a zone offset change, so the
 * search below walks the zone's offset segments: inside one segment the wall
 * clock advances a minute per minute and the calendar search of cron_expr.c
 * applies directly; at the first minute of a segment the jump rules above
 * decide.  No minute-by-minute scanning.
 *
 * An offset change without a DST flag change (Asia/Almaty, 2024-03-01) is a
 * jump like any other: the daemon reads the offset every minute (checked
 * against the real daemon in tests/crontab/test_cron_daemon.sh).
 * Not modelled: the catch-up loop's own delays (when running the jobs of the
 * missed minutes itself takes more than a minute) and a late wake-up from a
 * suspended machine. */
#include "crontab/cron_int.h"

#include <stdio.h>
#include <string.h>

#define BIG ((int64_t)1 << 45)                 /* "infinity" in wall minutes */
#define HORIZON_MIN ((int64_t)401 * 366 * 1440) /* give up after ~401 years */
#define T_MIN ((int64_t)-62135596800)            /* 0001-01-01 */
#define T_MAX ((int64_t)253402300799)            /* 9999-12-31 */

static int64_t fdiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b && ((a < 0) != (b < 0))) ? q - 1 : q; }
static int64_t cdiv(int64_t a, int64_t b) { return -fdiv(-a, b); }

/* Segment i of zone z: instants [at[i-1], at[i]) at offset off[i]. */
static int64_t seg_first(const cron_zone *z, size_t i)
{
	return i == 0 ? -BIG : cdiv(z->at[i - 1] + z->off[i], 60);
}

static int64_t seg_last(const cron_zone *z, size_t i)
{
	return i == z->n ? BIG : cdiv(z->at[i] + z->off[i], 60) - 1;
}

static size_t seg_of(const cron_zone *z, int64_t t)
{
	size_t lo = 0, hi = z->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (z->at[mid] <= t) lo = mid + 1; else hi = mid;
	}
	return lo;
}

static int is_repeat(int64_t d) { return d >= -179 && d <= 0; }

/* The daemon's `virt` just before the first tick of segment i. */
static int64_t virt_in(const cron_zone *z, size_t i, int depth)
{
	if (i == 0) return -BIG - 1;
	size_t p = i - 1;
	int64_t pf = seg_first(z, p), pl = seg_last(z, p);
	if (depth >= 4 || p == 0) return pl >= pf ? pl : pf - 1;
	int64_t vp = virt_in(z, p, depth + 1);
	if (pl < pf) return vp;                       /* no tick in that segment */
	if (is_repeat(pf - vp)) return vp > pl ? vp : pl;
	return pl;
}

static int matches(const cron_expr *e, int64_t c)
{
	return cron_local_next(e, c, c) == c;
}

static int any_match(const cron_expr *e, int64_t a, int64_t b)
{
	return cron_local_next(e, a, b) != CRON_LOCAL_NONE;
}

/* Does the job run at the first tick c of a segment entered with virt v? */
static int first_tick(const cron_expr *e, int wild, int64_t c, int64_t v)
{
	int64_t d = c - v;
	if (d == 1) return matches(e, c);
	if (d >= 2 && d <= 5) return any_match(e, v + 1, c);
	if (d >= 6 && d <= 180) return wild ? matches(e, c) : any_match(e, v + 1, c);
	if (is_repeat(d)) return wild && matches(e, c);
	return matches(e, c);
}

int cron_next_z(const cron_expr *e, const cron_zone *z, int64_t after, int64_t *out)
{
	if (!e || !z || !out || after < T_MIN || after > T_MAX) return CRON_EINVAL;
	if (cron_expr_never(e)) return CRON_NEVER;
	int wild = cron_expr_is_wild(e);
	int64_t limit = fdiv(after, 60) + HORIZON_MIN;
	for (size_t i = seg_of(z, after); i <= z->n; i++) {
		int64_t off = z->off[i], cf = seg_first(z, i), cl = seg_last(z, i);
		if (cf > limit) break;
		int64_t lo = fdiv(after + off, 60) + 1;
		if (lo < cf) lo = cf;
		if (lo > cl) continue;
		if (i > 0) {
			int64_t v = virt_in(z, i, 0);
			if (lo == cf) {
				if (first_tick(e, wild, cf, v)) { *out = cf * 60 - off; return CRON_OK; }
				lo = cf + 1;
			}
			if (is_repeat(cf - v) && lo <= v && lo <= cl) {
				int64_t hi = v < cl ? v : cl;
				if (wild) {
					int64_t x = cron_local_next(e, lo, hi);
					if (x != CRON_LOCAL_NONE) { *out = x * 60 - off; return CRON_OK; }
				}
				lo = hi + 1;
			}
		}
		if (lo > cl) continue;
		int64_t x = cron_local_next(e, lo, cl < limit ? cl : limit);
		if (x != CRON_LOCAL_NONE) { *out = x * 60 - off; return CRON_OK; }
		if (cl >= limit) break;
	}
	return CRON_NEVER;
}

int cron_prev_z(const cron_expr *e, const cron_zone *z, int64_t before, int64_t *out)
{
	if (!e || !z || !out || before < T_MIN || before > T_MAX) return CRON_EINVAL;
	if (cron_expr_never(e)) return CRON_NEVER;
	int wild = cron_expr_is_wild(e);
	int64_t limit = fdiv(before, 60) - HORIZON_MIN;
	for (size_t i = seg_of(z, before - 1) + 1; i-- > 0;) {
		int64_t off = z->off[i], cf = seg_first(z, i), cl = seg_last(z, i);
		if (cl < limit) break;
		int64_t hi = cdiv(before + off, 60) - 1;
		if (hi > cl) hi = cl;
		if (hi < cf) continue;
		int64_t v = i > 0 ? virt_in(z, i, 0) : 0;
		int repeat = i > 0 && is_repeat(cf - v);
		int64_t nlo = i > 0 ? cf + 1 : cf;
		if (repeat && nlo < v + 1) nlo = v + 1;
		if (nlo <= hi) {
			int64_t y = cron_local_prev(e, hi, nlo > limit ? nlo : limit);
			if (y != CRON_LOCAL_NONE) { *out = y * 60 - off; return CRON_OK; }
		}
		if (repeat && wild) {
			int64_t whi = hi < v ? hi : v;
			if (cf + 1 <= whi) {
				int64_t y = cron_local_prev(e, whi, cf + 1);
				if (y != CRON_LOCAL_NONE) { *out = y * 60 - off; return CRON_OK; }
			}
		}
		if (i > 0 && first_tick(e, wild, cf, v)) { *out = cf * 60 - off; return CRON_OK; }
		if (cf <= limit) break;
	}
	return CRON_NEVER;
}

int cron_next(const cron_expr *e, const char *tz, int64_t after, int64_t *out)
{
	const cron_zone *z = cron_zone_get(tz, NULL);
	if (!z) return CRON_EZONE;
	return cron_next_z(e, z, after, out);
}

int cron_prev(const cron_expr *e, const char *tz, int64_t before, int64_t *out)
{
	const cron_zone *z = cron_zone_get(tz, NULL);
	if (!z) return CRON_EZONE;
	return cron_prev_z(e, z, before, out);
}

/* ---- RFC 3339 ------------------------------------------------------------ */

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int cron_parse_rfc3339(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se;
	if (!s || strlen(s) < 20) return -1;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > cron_days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
		return -1;
	const char *p = s + 19;
	if (*p == '.') {  /* a fraction: must be zero (whole seconds only) */
		p++;
		if (*p < '0' || *p > '9') return -1;
		while (*p >= '0' && *p <= '9') if (*p++ != '0') return -1;
	}
	int64_t off = 0;
	if ((*p == 'Z' || *p == 'z') && !p[1]) off = 0;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59) return -1;
		off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	} else return -1;
	if (se == 60) se = 59;  /* a leap second reads as the second before */
	*out = cron_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	return 0;
}

void cron_format_utc(int64_t t, char *buf, size_t len)
{
	int64_t days = fdiv(t, 86400), y;
	int64_t sod = t - days * 86400;
	int m, d;
	cron_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
	         (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}
