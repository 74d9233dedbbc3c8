/* crontab/cron_zone.c — IANA time zones read straight from the system tz
 * database (TZif files, RFC 8536), so that fire times can be computed for
 * any zone from any thread without touching the TZ environment variable.
 *
 * A zone becomes one sorted list of UTC offset changes: the file's explicit
 * transitions, then the rule in its footer (a POSIX TZ string such as
 * "EST5EDT,M3.2.0,M11.1.0") expanded up to the year 2999.  Loaded zones are
 * kept in a process-wide list that is only ever prepended to: readers walk it
 * without a lock (acquire loads), loaders serialise on a mutex.  Zones are
 * never freed. */
#include "crontab/cron_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONE_FILE_MAX (4 << 20)
#define RULE_LAST_YEAR 2999

static struct cron_zone *zone_list;  /* atomic head */
static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- growable transition list ------------------------------------------ */

typedef struct tlist {
	int64_t *at;
	int32_t *off;  /* offset after at[i] */
	size_t n, cap;
} tlist;

static int tl_push(tlist *t, int64_t at, int32_t off)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		int64_t *a = realloc(t->at, cap * sizeof *a);
		if (!a) return -1;
		t->at = a;
		int32_t *o = realloc(t->off, cap * sizeof *o);
		if (!o) return -1;
		t->off = o;
		t->cap = cap;
	}
	t->at[t->n] = at;
	t->off[t->n] = off;
	t->n++;
	return 0;
}

/* ---- POSIX TZ strings (the TZif footer) ---------------------------------- */

typedef struct tz_rule {
	char kind;      /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' (month.week.day) */
	int a, b, c;    /* J/N: a = day; M: a = month, b = week, c = weekday */
	int32_t time;   /* seconds after local midnight (may be negative or > 24h) */
} tz_rule;

typedef struct posix_tz {
	int32_t std_off, dst_off;  /* seconds east of UTC */
	int has_dst;
	tz_rule start, end;
} posix_tz;

static const char *tz_name(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>') p++;
		return *p == '>' ? p + 1 : NULL;
	}
	const char *s = p;
	while (isalpha((unsigned char)*p)) p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; max_h bounds hours. */
static const char *tz_hms(const char *p, int max_h, int32_t *out)
{
	int sign = 1;
	if (*p == '+' || *p == '-') { if (*p == '-') sign = -1; p++; }
	if (!isdigit((unsigned char)*p)) return NULL;
	int h = 0, m = 0, s = 0;
	while (isdigit((unsigned char)*p)) { h = h * 10 + (*p++ - '0'); if (h > max_h) return NULL; }
	if (*p == ':') {
		p++;
		if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return NULL;
		m = (p[0] - '0') * 10 + (p[1] - '0'); p += 2;
		if (*p == ':') {
			p++;
			if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return NULL;
			s = (p[0] - '0') * 10 + (p[1] - '0'); p += 2;
		}
	}
	if (m > 59 || s > 59) return NULL;
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *tz_num(const char *p, int lo, int hi, int *out)
{
	if (!isdigit((unsigned char)*p)) return NULL;
	int v = 0;
	while (isdigit((unsigned char)*p)) { v = v * 10 + (*p++ - '0'); if (v > hi) return NULL; }
	if (v < lo) return NULL;
	*out = v;
	return p;
}

static const char *tz_rule_parse(const char *p, tz_rule *r)
{
	r->time = 7200;
	if (*p == 'J') { r->kind = 'J'; p = tz_num(p + 1, 1, 365, &r->a); }
	else if (*p == 'M') {
		r->kind = 'M';
		p = tz_num(p + 1, 1, 12, &r->a);
		if (!p || *p++ != '.') return NULL;
		p = tz_num(p, 1, 5, &r->b);
		if (!p || *p++ != '.') return NULL;
		p = tz_num(p, 0, 6, &r->c);
	} else { r->kind = 'N'; p = tz_num(p, 0, 365, &r->a); }
	if (!p) return NULL;
	if (*p == '/') p = tz_hms(p + 1, 167, &r->time);
	return p;
}

static int posix_tz_parse(const char *s, posix_tz *tz)
{
	memset(tz, 0, sizeof *tz);
	const char *p = tz_name(s);
	if (!p) return -1;
	int32_t v;
	if (!(p = tz_hms(p, 24, &v))) return -1;
	tz->std_off = -v;
	if (!*p) return 0;
	if (!(p = tz_name(p))) return -1;
	tz->has_dst = 1;
	tz->dst_off = tz->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = tz_hms(p, 24, &v))) return -1;
		tz->dst_off = -v;
	}
	if (!*p) {  /* no rule: POSIX default, US rules */
		tz->start = (tz_rule){ 'M', 3, 2, 0, 7200 };
		tz->end = (tz_rule){ 'M', 11, 1, 0, 7200 };
		return 0;
	}
	if (*p++ != ',' || !(p = tz_rule_parse(p, &tz->start))) return -1;
	if (*p++ != ',' || !(p = tz_rule_parse(p, &tz->end))) return -1;
	return *p ? -1 : 0;
}

/* Local midnight of the rule's day in year y, as days since the epoch. */
static int64_t rule_day(const tz_rule *r, int64_t y)
{
	int64_t jan1 = cron_days_from_civil(y, 1, 1);
	int leap = cron_days_in_month(y, 2) == 29;
	switch (r->kind) {
	case 'J': return jan1 + r->a - 1 + (leap && r->a >= 60);
	case 'N': return jan1 + r->a;
	default: {
		int64_t fd = cron_days_from_civil(y, r->a, 1);
		int w1 = (int)(((fd % 7) + 11) % 7);
		int64_t d = fd + (r->c - w1 + 7) % 7 + (int64_t)(r->b - 1) * 7;
		int nd = cron_days_in_month(y, r->a);
		while (d >= fd + nd) d -= 7;
		return d;
	}
	}
}

static int expand_rule(tlist *t, const posix_tz *tz, int64_t from_year)
{
	for (int64_t y = from_year; y <= RULE_LAST_YEAR; y++) {
		int64_t s = rule_day(&tz->start, y) * 86400 + tz->start.time - tz->std_off;
		int64_t e = rule_day(&tz->end, y) * 86400 + tz->end.time - tz->dst_off;
		if (s < e) {
			if (tl_push(t, s, tz->dst_off) || tl_push(t, e, tz->std_off)) return -1;
		} else {
			if (tl_push(t, e, tz->std_off) || tl_push(t, s, tz->dst_off)) return -1;
		}
	}
	return 0;
}

/* ---- TZif ---------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

typedef struct tzif_hdr { uint32_t isut, isstd, leap, time, type, chars; } tzif_hdr;

static int read_hdr(const unsigned char *b, size_t len, size_t at, tzif_hdr *h, int *version)
{
	if (at + 44 > len || memcmp(b + at, "TZif", 4)) return -1;
	*version = b[at + 4] ? b[at + 4] - '0' : 1;
	const unsigned char *c = b + at + 20;
	h->isut = be32(c); h->isstd = be32(c + 4); h->leap = be32(c + 8);
	h->time = be32(c + 12); h->type = be32(c + 16); h->chars = be32(c + 20);
	/* leap-second ("right/") zones count TAI-like seconds: not for cron */
	if (h->time > 100000 || h->type == 0 || h->type > 256 || h->chars > 100000 ||
	    h->leap > 0 || (h->isut && h->isut != h->type) || (h->isstd && h->isstd != h->type))
		return -1;
	return 0;
}

static size_t block_size(const tzif_hdr *h, int tsz)
{
	return (size_t)h->time * tsz + h->time + (size_t)h->type * 6 + h->chars +
	       (size_t)h->leap * (tsz + 4) + h->isstd + h->isut;
}

/* Builds the transition list from a TZif image.  Returns 0 or -1. */
static int tzif_load(const unsigned char *b, size_t len, tlist *t, int32_t *first_off)
{
	tzif_hdr h;
	int version, tsz = 4;
	size_t at = 0;
	if (read_hdr(b, len, 0, &h, &version)) return -1;
	if (version >= 2) {
		at = 44 + block_size(&h, 4);
		if (read_hdr(b, len, at, &h, &version)) return -1;
		tsz = 8;
	}
	at += 44;
	size_t need = block_size(&h, tsz);
	if (at + need > len) return -1;
	const unsigned char *times = b + at, *idx = times + (size_t)h.time * tsz;
	const unsigned char *types = idx + h.time;
	int32_t offs[256];
	for (uint32_t i = 0; i < h.type; i++) {
		int32_t o = (int32_t)be32(types + i * 6);
		if (o < -26 * 3600 || o > 26 * 3600) return -1;
		offs[i] = o;
	}
	*first_off = offs[0];
	int64_t prev = INT64_MIN;
	for (uint32_t i = 0; i < h.time; i++) {
		int64_t tt = tsz == 8 ? be64(times + (size_t)i * 8) : (int64_t)(int32_t)be32(times + (size_t)i * 4);
		if (tt <= prev || idx[i] >= h.type) return -1;
		prev = tt;
		if (tl_push(t, tt, offs[idx[i]])) return -1;
	}
	if (version < 2) return 0;
	/* footer: "\n<TZ>\n" */
	size_t f = at + need;
	if (f >= len || b[f] != '\n') return 0;
	const unsigned char *nl = memchr(b + f + 1, '\n', len - f - 1);
	if (!nl) return -1;
	size_t flen = (size_t)(nl - (b + f + 1));
	if (flen == 0 || flen > 200) return 0;
	char footer[256];
	memcpy(footer, b + f + 1, flen);
	footer[flen] = 0;
	posix_tz tz;
	if (posix_tz_parse(footer, &tz)) return -1;
	if (!tz.has_dst) {
		if (t->n == 0) *first_off = tz.std_off;
		else if (t->off[t->n - 1] != tz.std_off && tl_push(t, prev + 1, tz.std_off)) return -1;
		return 0;
	}
	int64_t last = t->n ? t->at[t->n - 1] : INT64_MIN;
	int64_t from = 1900;
	if (t->n) {
		int64_t y; int m, d;
		cron_civil_from_days(last / 86400, &y, &m, &d);
		from = y;
	} else {
		*first_off = tz.std_off;
	}
	tlist g = { 0 };
	int rc = expand_rule(&g, &tz, from);
	for (size_t i = 0; rc == 0 && i < g.n; i++)
		if (g.at[i] > last) rc = tl_push(t, g.at[i], g.off[i]);
	free(g.at);
	free(g.off);
	return rc;
}

static int valid_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 200 || n[0] == '/' || n[0] == '.') return 0;
	for (const char *p = n; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("/_+-.", *p)) return 0;
		if (*p == '.' && p[1] == '.') return 0;
		if (*p == '/' && p[1] == '.') return 0;
	}
	return 1;
}

/* Reads the zone file; NULL on any failure (why filled). */
static struct cron_zone *zone_load(const char *name, char *why, size_t whylen)
{
	struct cron_zone *z = NULL;
	unsigned char *buf = NULL;
	tlist t = { 0 };
	int fd = -1;
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir) dir = "/usr/share/zoneinfo";
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 44 || st.st_size > ZONE_FILE_MAX) {
		snprintf(why, whylen, "unknown time zone \"%.100s\" (no zone file %.100s)", name, path);
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) { snprintf(why, whylen, "out of memory"); goto out; }
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		got += (size_t)r;
	}
	int32_t first = 0;
	if (got != (size_t)st.st_size || tzif_load(buf, got, &t, &first)) {
		snprintf(why, whylen, "time zone \"%.100s\": %.100s is not a valid TZif file", name, path);
		goto out;
	}
	/* Keep only real offset changes; off[] becomes "offset before at[i]". */
	size_t n = 0;
	int32_t cur = first;
	for (size_t i = 0; i < t.n; i++) {
		if (t.off[i] == cur) continue;
		t.at[n] = t.at[i];
		int32_t after = t.off[i];
		t.off[n] = cur;
		cur = after;
		n++;
	}
	int64_t *at = malloc((n ? n : 1) * sizeof *at);
	int32_t *off = malloc((n + 1) * sizeof *off);
	char *nm = strdup(name);
	z = calloc(1, sizeof *z);
	if (!at || !off || !nm || !z) {
		free(at); free(off); free(nm); free(z); z = NULL;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (n) {
		memcpy(at, t.at, n * sizeof *at);
		memcpy(off, t.off, n * sizeof *off);
	}
	off[n] = cur;
	z->name = nm; z->n = n; z->at = at; z->off = off;
out:
	if (fd >= 0) close(fd);
	free(buf);
	free(t.at);
	free(t.off);
	return z;
}

static const cron_zone *zone_find(const char *name)
{
	for (struct cron_zone *z = __atomic_load_n(&zone_list, __ATOMIC_ACQUIRE); z; z = z->next)
		if (!strcmp(z->name, name)) return z;
	return NULL;
}

const cron_zone *cron_zone_get(const char *name, cron_error *err)
{
	if (err) { err->line = 0; err->col = 0; err->msg[0] = 0; }
	if (!name || !valid_name(name)) {
		if (err) snprintf(err->msg, sizeof err->msg, "invalid time zone name \"%s\"", name ? name : "(null)");
		return NULL;
	}
	const cron_zone *z = zone_find(name);
	if (z) return z;
	pthread_mutex_lock(&zone_lock);
	z = zone_find(name);
	if (!z) {
		char why[CRON_MSG_MAX];
		struct cron_zone *nz = zone_load(name, why, sizeof why);
		if (nz) {
			nz->next = zone_list;
			__atomic_store_n(&zone_list, nz, __ATOMIC_RELEASE);
			z = nz;
		} else if (err) {
			snprintf(err->msg, sizeof err->msg, "%s", why);
		}
	}
	pthread_mutex_unlock(&zone_lock);
	return z;
}

int32_t cron_zone_offset(const cron_zone *z, int64_t t)
{
	size_t lo = 0, hi = z->n;  /* first index with at[i] > t */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (z->at[mid] <= t) lo = mid + 1; else hi = mid;
	}
	return lo < z->n ? z->off[lo] : z->off[z->n];
}

void cron_zone_system(char *buf, size_t len)
{
	const char *tz = getenv("TZ");
	if (tz && *tz == ':') tz++;
	if (tz && *tz && valid_name(tz)) { snprintf(buf, len, "%s", tz); return; }
	FILE *f = fopen("/etc/timezone", "r");
	if (f) {
		char line[256];
		if (fgets(line, sizeof line, f)) {
			line[strcspn(line, " \t\r\n")] = 0;
			if (valid_name(line)) { fclose(f); snprintf(buf, len, "%s", line); return; }
		}
		fclose(f);
	}
	char target[512];
	ssize_t n = readlink("/etc/localtime", target, sizeof target - 1);
	if (n > 0) {
		target[n] = 0;
		const char *p = strstr(target, "zoneinfo/");
		if (p && valid_name(p + 9)) { snprintf(buf, len, "%s", p + 9); return; }
	}
	snprintf(buf, len, "UTC");
}
