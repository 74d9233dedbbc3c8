/* crontab/cron_expr.c — one schedule: its five fields (or @macro) parsed the
 * way Debian's cron reads them, and the calendar search for the next/previous
 * matching wall-clock minute.
 *
 * What Debian's cron 3.0pl1 accepts, and where vigil is stricter:
 *   - a field is a list of items; an item is '*', a value or a range a-b,
 *     '*' and ranges may take a step "/n" (n >= 1); a step after a single
 *     value is refused by both.
 *   - values are decimal (leading zeros fine) or, in the month and
 *     day-of-week fields only, three-letter names, any case; names work in
 *     ranges too ("mon-fri"); a step is a number, never a name.
 *   - bounds: minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7
 *     (0 and 7 are Sunday).  Both ends of a range are checked.
 *   - Debian skips anything after an item up to the next blank ("5;",
 *     "*\/5/3", "1#2" are taken as "5", "*\/5", "1"); vigil refuses it.
 *   - Debian takes a reversed range ("5-1") as selecting nothing; vigil
 *     refuses it.  Likewise a step larger than its range (it selects only
 *     the first value, "*\/60" is "0") and a day that never occurs
 *     ("0 0 30 2 *").
 *   - macros are case-sensitive and must be followed by a blank.
 * The flags Debian keeps (which fields begin with '*') decide the day rule
 * and the clock-jump handling; they are kept in cron_expr.flags. */
#include "crontab/cron_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- messages: one table ----------------------------------------------- */

enum msg_id {
	M_EXPECT_VALUE, M_OUT_OF_RANGE, M_BAD_NAME, M_NAME_NOT_HERE, M_STEP_NUMBER,
	M_STEP_ZERO, M_STEP_SINGLE, M_JUNK, M_REVERSED, M_STEP_BIG, M_MISSING,
	M_NEVER, M_MACRO_UNKNOWN, M_MACRO_JUNK, M_NUM_TOO_LONG,
};

static const char *const msgs[] = {
	[M_EXPECT_VALUE] = "%s field: expected %s, '*' or a range, got %s",
	[M_OUT_OF_RANGE] = "%s field: %s is out of range %d-%d",
	[M_BAD_NAME] = "%s field: unknown name \"%s\" (expected %s, three letters, any case)",
	[M_NAME_NOT_HERE] = "%s field: names are not allowed here, expected a number %d-%d, got \"%s\"",
	[M_STEP_NUMBER] = "%s field: expected a step number after '/', got %s",
	[M_STEP_ZERO] = "%s field: a step must be at least 1",
	[M_STEP_SINGLE] = "%s field: a step needs '*' or a range before it (\"%s/...\"); Debian's cron refuses it too",
	[M_JUNK] = "%s field: %s follows \"%.*s\"; Debian's cron would accept the line "
	           "and silently ignore everything up to the next blank, vigil refuses it",
	[M_REVERSED] = "%s field: range %d-%d is reversed; Debian's cron would accept it "
	               "and select nothing, vigil refuses it",
	[M_STEP_BIG] = "%s field: step %d is larger than the range %d-%d, so only %d is selected; "
	               "Debian's cron would accept it, vigil refuses it (write %d)",
	[M_MISSING] = "missing %s field (a schedule has five fields: minute hour day-of-month month day-of-week)",
	[M_NEVER] = "schedule never fires: %s; Debian's cron would accept it and never run the job, vigil refuses it",
	[M_MACRO_UNKNOWN] = "unknown macro \"%.*s\" (expected @reboot, @yearly, @annually, @monthly, "
	                    "@weekly, @daily, @midnight or @hourly, lower case)",
	[M_MACRO_JUNK] = "macro \"%.*s\" must be followed by a blank",
	[M_NUM_TOO_LONG] = "%s field: number \"%.*s...\" is too long",
};

static void seterr(cron_error *err, int col, enum msg_id id, ...)
{
	if (!err) return;
	va_list ap;
	va_start(ap, id);
	err->col = col;
	vsnprintf(err->msg, sizeof err->msg, msgs[id], ap);
	va_end(ap);
}

/* ---- fields ------------------------------------------------------------ */

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

typedef struct field_def {
	const char *name;      /* for messages */
	int lo, hi;
	const char *const *names;
	int n_names, name_base;
	const char *expect;
} field_def;

static const field_def fields[5] = {
	{ "minute", 0, 59, NULL, 0, 0, "a number 0-59" },
	{ "hour", 0, 23, NULL, 0, 0, "a number 0-23" },
	{ "day-of-month", 1, 31, NULL, 0, 0, "a number 1-31" },
	{ "month", 1, 12, month_names, 12, 1, "a number 1-12 or a name jan-dec" },
	{ "day-of-week", 0, 7, dow_names, 7, 0, "a number 0-7 or a name sun-sat" },
};

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Describes the byte at s[i] for messages: 'x', "end of line". */
static const char *describe(const char *s, size_t len, size_t i, char *buf, size_t n)
{
	if (i >= len) return "end of field";
	unsigned char c = (unsigned char)s[i];
	if (c == ' ' || c == '\t') snprintf(buf, n, "a blank");
	else if (c == '\r') snprintf(buf, n, "a carriage return");
	else if (c >= 0x21 && c < 0x7f) snprintf(buf, n, "'%c'", c);
	else snprintf(buf, n, "byte 0x%02x", c);
	return buf;
}

/* Reads a value (number or name) at s[*i]; Debian collects alphanumerics.
 * Returns 0 with *v set, or -1 with err. */
static int get_value(const field_def *f, const char *s, size_t len, size_t *i, int col0,
                     int *v, cron_error *err)
{
	size_t st = *i, e = st;
	while (e < len && isalnum((unsigned char)s[e])) e++;
	int col = col0 + (int)st;
	char buf[32];
	if (e == st) {
		seterr(err, col, M_EXPECT_VALUE, f->name, f->expect, describe(s, len, st, buf, sizeof buf));
		return -1;
	}
	size_t n = e - st;
	int digits = 1;
	for (size_t k = st; k < e; k++) if (!isdigit((unsigned char)s[k])) digits = 0;
	if (digits) {
		long val = 0;
		for (size_t k = st; k < e; k++) {
			val = val * 10 + (s[k] - '0');
			if (val > 1000000) val = 1000000;  /* saturate: out of range anyway */
		}
		/* Debian collects a token into a 1000-byte buffer and refuses longer ones */
		if (n >= 1000) { seterr(err, col, M_NUM_TOO_LONG, f->name, 8, s + st); return -1; }
		if (val < f->lo || val > f->hi) {
			char num[32];
			snprintf(num, sizeof num, "%ld", val);
			if (val >= 1000000) snprintf(num, sizeof num, "%.*s", (int)(n < 20 ? n : 20), s + st);
			seterr(err, col, M_OUT_OF_RANGE, f->name, num, f->lo, f->hi);
			return -1;
		}
		*v = (int)val;
		*i = e;
		return 0;
	}
	char word[16];
	snprintf(word, sizeof word, "%.*s", (int)(n < 15 ? n : 15), s + st);
	if (!f->names) {
		seterr(err, col, M_NAME_NOT_HERE, f->name, f->lo, f->hi, word);
		return -1;
	}
	if (n == 3)
		for (int k = 0; k < f->n_names; k++)
			if (!strncasecmp(f->names[k], s + st, 3)) {
				*v = k + f->name_base;
				*i = e;
				return 0;
			}
	seterr(err, col, M_BAD_NAME, f->name, word, f->names == month_names ? "jan-dec" : "sun-sat");
	return -1;
}

/* Parses one field at s[*i] into *bits; stops at a blank or the end. */
static int parse_field(const field_def *f, const char *s, size_t len, size_t *i, int col0,
                       uint64_t *bits, cron_error *err)
{
	size_t p = *i;
	uint64_t set = 0;
	char buf[32];
	for (;;) {
		size_t item = p;
		int a, b, step = 1, ranged = 0;
		if (p < len && s[p] == '*') {
			a = f->lo; b = f->hi; ranged = 1;
			p++;
		} else {
			if (get_value(f, s, len, &p, col0, &a, err)) return -1;
			b = a;
			if (p < len && s[p] == '-') {
				p++;
				if (get_value(f, s, len, &p, col0, &b, err)) return -1;
				ranged = 1;
				if (b < a) {
					seterr(err, col0 + (int)item, M_REVERSED, f->name, a, b);
					return -1;
				}
			}
		}
		if (p < len && s[p] == '/') {
			if (!ranged) {
				char tmp[64];
				snprintf(tmp, sizeof tmp, "%.*s", (int)(p - item < 40 ? p - item : 40), s + item);
				seterr(err, col0 + (int)p, M_STEP_SINGLE, f->name, tmp);
				return -1;
			}
			p++;
			size_t st = p;
			while (p < len && isdigit((unsigned char)s[p])) p++;
			if (p == st || (p < len && isalpha((unsigned char)s[p]))) {
				seterr(err, col0 + (int)st, M_STEP_NUMBER, f->name, describe(s, len, st, buf, sizeof buf));
				return -1;
			}
			long v = 0;
			for (size_t k = st; k < p; k++) { v = v * 10 + (s[k] - '0'); if (v > 100000) v = 100000; }
			if (v == 0) { seterr(err, col0 + (int)st, M_STEP_ZERO, f->name); return -1; }
			step = (int)v;
			if (step > b - a) {
				seterr(err, col0 + (int)st, M_STEP_BIG, f->name, step, a, b, a, a);
				return -1;
			}
		}
		for (int k = a; k <= b; k += step) set |= (uint64_t)1 << k;
		if (p < len && s[p] == ',') { p++; continue; }
		if (p < len && !is_blank(s[p])) {
			seterr(err, col0 + (int)p, M_JUNK, f->name, describe(s, len, p, buf, sizeof buf),
			       (int)(p - item), s + item);
			return -1;
		}
		break;
	}
	*bits = set;
	*i = p;
	return 0;
}

/* ---- the expression ---------------------------------------------------- */

static void derive(cron_expr *e)
{
	if (e->dow & 0x80) e->dow = (uint8_t)((e->dow | 1) & 0x7f);  /* 7 is Sunday */
	for (int w = 0; w < 7; w++) {
		uint32_t m = 0;
		for (int d = 1; d <= 31; d++)
			if (e->dow & (1u << ((w + d - 1) % 7))) m |= 1u << (d - 1);
		e->dow_days[w] = m;
	}
}

int cron_expr_is_wild(const cron_expr *e)
{
	return (e->flags & (CRON_MIN_STAR | CRON_HR_STAR)) != 0;
}

static int day_rule_and(const cron_expr *e)
{
	return (e->flags & (CRON_DOM_STAR | CRON_DOW_STAR)) != 0;
}

static const char *const month_full[] = { "", "January", "February", "March", "April", "May",
	"June", "July", "August", "September", "October", "November", "December" };

/* Fills why (when not NULL) and returns 1 when no date ever matches. */
static int never_date(const cron_expr *e, char *why, size_t n)
{
	if (!day_rule_and(e)) return 0;  /* either day field may match: weekdays always come */
	static const int maxd[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	for (int m = 1; m <= 12; m++)
		if ((e->month >> m) & 1)
			for (int d = 1; d <= maxd[m]; d++)
				if ((e->dom >> d) & 1) return 0;
	if (why) {
		int d = __builtin_ctz(e->dom), m = __builtin_ctz(e->month);
		int one_month = (e->month & (e->month - 1)) == 0;
		if (one_month)
			snprintf(why, n, "day %d never occurs in %s", d, month_full[m]);
		else
			snprintf(why, n, "none of the days selected occurs in the months selected");
	}
	return 1;
}

int cron_expr_never(const cron_expr *e)
{
	return (e->flags & CRON_REBOOT) || never_date(e, NULL, 0);
}

int cron_expr_match(const cron_expr *e, int month, int dom, int dow, int hour, int minute)
{
	if (!((e->minute >> minute) & 1) || !((e->hour >> hour) & 1) || !((e->month >> month) & 1))
		return 0;
	int a = (e->dom >> dom) & 1, b = (e->dow >> (dow % 7)) & 1;
	return day_rule_and(e) ? (a && b) : (a || b);
}

static const struct { const char *name; cron_macro id; } macros[] = {
	{ "reboot", CRON_MACRO_REBOOT }, { "yearly", CRON_MACRO_YEARLY },
	{ "annually", CRON_MACRO_ANNUALLY }, { "monthly", CRON_MACRO_MONTHLY },
	{ "weekly", CRON_MACRO_WEEKLY }, { "daily", CRON_MACRO_DAILY },
	{ "midnight", CRON_MACRO_MIDNIGHT }, { "hourly", CRON_MACRO_HOURLY },
};

static int parse_macro(const char *s, size_t len, int col0, cron_expr *e, size_t *end, cron_error *err)
{
	size_t p = 1;
	while (p < len && !is_blank(s[p])) p++;
	const char *w = s + 1;
	size_t n = p - 1;
	cron_macro id = CRON_MACRO_NONE;
	for (size_t k = 0; k < sizeof macros / sizeof macros[0]; k++)
		if (strlen(macros[k].name) == n && !memcmp(macros[k].name, w, n)) id = macros[k].id;
	if (id == CRON_MACRO_NONE) {
		/* "@daily,x": Debian reads up to a blank too and refuses it */
		seterr(err, col0, M_MACRO_UNKNOWN, (int)(n + 1 < 40 ? n + 1 : 40), s);
		return -1;
	}
	memset(e, 0, sizeof *e);
	e->macro = id;
	uint64_t all_min = (1ULL << 60) - 1;
	uint32_t all_hr = (1u << 24) - 1, all_dom = 0xfffffffeu;
	uint16_t all_mon = 0x1ffe;
	uint8_t all_dow = 0x7f;
	switch (id) {
	case CRON_MACRO_REBOOT:
		e->flags = CRON_REBOOT;
		e->minute = all_min; e->hour = all_hr; e->dom = all_dom; e->month = all_mon; e->dow = all_dow;
		break;
	case CRON_MACRO_YEARLY: case CRON_MACRO_ANNUALLY:
		e->minute = 1; e->hour = 1; e->dom = 2; e->month = 2; e->dow = all_dow;
		e->flags = CRON_DOW_STAR;
		break;
	case CRON_MACRO_MONTHLY:
		e->minute = 1; e->hour = 1; e->dom = 2; e->month = all_mon; e->dow = all_dow;
		e->flags = CRON_DOW_STAR;
		break;
	case CRON_MACRO_WEEKLY:
		e->minute = 1; e->hour = 1; e->dom = all_dom; e->month = all_mon; e->dow = 1;
		e->flags = CRON_DOM_STAR;
		break;
	case CRON_MACRO_DAILY: case CRON_MACRO_MIDNIGHT:
		e->minute = 1; e->hour = 1; e->dom = all_dom; e->month = all_mon; e->dow = all_dow;
		e->flags = CRON_DOM_STAR | CRON_DOW_STAR;
		break;
	case CRON_MACRO_HOURLY:
		e->minute = 1; e->hour = all_hr; e->dom = all_dom; e->month = all_mon; e->dow = all_dow;
		e->flags = CRON_HR_STAR | CRON_DOM_STAR | CRON_DOW_STAR;
		break;
	default:
		break;
	}
	derive(e);
	*end = p;
	return 0;
}

int cron_sched_parse(const char *s, size_t len, int col0, cron_expr *e, int cols[5],
                     size_t *end, cron_error *err)
{
	for (int k = 0; k < 5; k++) cols[k] = 0;
	cols[0] = col0;
	if (len > 0 && s[0] == '@') return parse_macro(s, len, col0, e, end, err);
	memset(e, 0, sizeof *e);
	size_t p = 0;
	uint64_t bits[5];
	static const uint8_t star_flag[5] = { CRON_MIN_STAR, CRON_HR_STAR, CRON_DOM_STAR, 0, CRON_DOW_STAR };
	for (int k = 0; k < 5; k++) {
		if (k > 0) while (p < len && is_blank(s[p])) p++;
		if (p >= len) {
			seterr(err, col0 + (int)p, M_MISSING, fields[k].name);
			return -1;
		}
		cols[k] = col0 + (int)p;
		if (s[p] == '*') e->flags |= star_flag[k];
		if (parse_field(&fields[k], s, len, &p, col0, &bits[k], err)) return -1;
	}
	e->minute = bits[0];
	e->hour = (uint32_t)bits[1];
	e->dom = (uint32_t)bits[2];
	e->month = (uint16_t)bits[3];
	e->dow = (uint8_t)bits[4];
	derive(e);
	char why[128];
	if (never_date(e, why, sizeof why)) {
		seterr(err, cols[2], M_NEVER, why);
		return -1;
	}
	*end = p;
	return 0;
}

int cron_expr_parse(const char *text, cron_expr *out, cron_error *err)
{
	if (err) { err->line = 1; err->col = 0; err->msg[0] = 0; }
	if (!text) { if (err) snprintf(err->msg, sizeof err->msg, "no schedule"); return -1; }
	size_t len = strlen(text), p = 0;
	while (p < len && is_blank(text[p])) p++;
	if (p == len) {
		seterr(err, (int)p + 1, M_MISSING, "minute");
		return -1;
	}
	cron_expr e;
	int cols[5];
	size_t end;
	if (cron_sched_parse(text + p, len - p, (int)p + 1, &e, cols, &end, err)) return -1;
	end += p;
	while (end < len && is_blank(text[end])) end++;
	if (end < len) {
		if (err) {
			err->col = (int)end + 1;
			snprintf(err->msg, sizeof err->msg,
			         "unexpected text after the schedule (a schedule has five fields or one @macro)");
		}
		return -1;
	}
	*out = e;
	return 0;
}

/* ---- calendar ---------------------------------------------------------- */

int64_t cron_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int cron_days_in_month(int64_t y, int m)
{
	static const int md[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : md[m];
}

static int64_t floordiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b && (a < 0) != (b < 0)) ? q - 1 : q; }

/* Days of month (y, mo) that match, as bit d-1 for day d. */
static uint32_t month_days(const cron_expr *e, int64_t y, int mo, int64_t *first_day)
{
	int64_t fd = cron_days_from_civil(y, mo, 1);
	int w1 = (int)(((fd % 7) + 11) % 7);  /* 1970-01-01 was a Thursday (4) */
	int nd = cron_days_in_month(y, mo);
	uint32_t valid = nd == 32 ? 0xffffffffu : ((1u << nd) - 1);
	uint32_t dm = (e->dom >> 1) & valid, wm = e->dow_days[w1] & valid;
	*first_day = fd;
	return (day_rule_and(e) ? (dm & wm) : (dm | wm));
}

int64_t cron_local_next(const cron_expr *e, int64_t m, int64_t limit)
{
	int64_t days = floordiv(m, 1440);
	int mod = (int)(m - days * 1440);
	int h = mod / 60, mi = mod % 60;
	int64_t y;
	int mo, d;
	cron_civil_from_days(days, &y, &mo, &d);
	for (;;) {
		if (cron_days_from_civil(y, mo, 1) * 1440 > limit) return CRON_LOCAL_NONE;
		uint32_t mon_after = (uint32_t)e->month & ~((1u << mo) - 1);
		if (!mon_after) { y++; mo = __builtin_ctz(e->month); d = 1; h = 0; mi = 0; continue; }
		int nmo = __builtin_ctz(mon_after);
		if (nmo != mo) { mo = nmo; d = 1; h = 0; mi = 0; }
		int64_t fd;
		uint32_t dm = month_days(e, y, mo, &fd) & ~((1u << (d - 1)) - 1);
		if (!dm) { if (++mo > 12) { mo = 1; y++; } d = 1; h = 0; mi = 0; continue; }
		int nd = __builtin_ctz(dm) + 1;
		if (nd != d) { d = nd; h = 0; mi = 0; }
		uint32_t hm = e->hour & ~((1u << h) - 1);
		if (!hm) { d++; h = 0; mi = 0; if (d > 31) { d = 1; if (++mo > 12) { mo = 1; y++; } } continue; }
		int nh = __builtin_ctz(hm);
		if (nh != h) { h = nh; mi = 0; }
		uint64_t mm = e->minute & ~((1ULL << mi) - 1);
		if (!mm) { h++; mi = 0; if (h > 23) { h = 0; d++; if (d > 31) { d = 1; if (++mo > 12) { mo = 1; y++; } } } continue; }
		int64_t r = (fd + d - 1) * 1440 + h * 60 + __builtin_ctzll(mm);
		return r > limit ? CRON_LOCAL_NONE : r;
	}
}

static int hibit32(uint32_t x) { return 31 - __builtin_clz(x); }

int64_t cron_local_prev(const cron_expr *e, int64_t m, int64_t limit)
{
	int64_t days = floordiv(m, 1440);
	int mod = (int)(m - days * 1440);
	int h = mod / 60, mi = mod % 60;
	int64_t y;
	int mo, d;
	cron_civil_from_days(days, &y, &mo, &d);
	for (;;) {
		if ((cron_days_from_civil(y, mo, 1) + 31) * 1440 < limit) return CRON_LOCAL_NONE;
		uint32_t mon_before = (uint32_t)e->month & ((2u << mo) - 1);
		if (!mon_before) { y--; mo = hibit32(e->month); d = 31; h = 23; mi = 59; continue; }
		int pmo = hibit32(mon_before);
		if (pmo != mo) { mo = pmo; d = 31; h = 23; mi = 59; }
		int64_t fd;
		uint32_t all = month_days(e, y, mo, &fd);
		int nd = cron_days_in_month(y, mo);
		if (d > nd) { d = nd; h = 23; mi = 59; }
		uint32_t dm = all & (d >= 32 ? 0xffffffffu : ((2u << (d - 1)) - 1));
		if (!dm) { if (--mo < 1) { mo = 12; y--; } d = 31; h = 23; mi = 59; continue; }
		int pd = hibit32(dm) + 1;
		if (pd != d) { d = pd; h = 23; mi = 59; }
		uint32_t hm = e->hour & ((2u << h) - 1);
		if (!hm) {
			h = 23; mi = 59;
			if (--d < 1) { d = 31; if (--mo < 1) { mo = 12; y--; } }
			continue;
		}
		int ph = hibit32(hm);
		if (ph != h) { h = ph; mi = 59; }
		uint64_t mm = e->minute & (mi >= 63 ? ~0ULL : ((2ULL << mi) - 1));
		if (!mm) {
			mi = 59;
			if (--h < 0) { h = 23; if (--d < 1) { d = 31; if (--mo < 1) { mo = 12; y--; } } }
			continue;
		}
		int64_t r = (fd + d - 1) * 1440 + h * 60 + (63 - __builtin_clzll(mm));
		return r < limit ? CRON_LOCAL_NONE : r;
	}
}
