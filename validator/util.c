/* validator/util.c — small helpers: edit distance, durations, RFC 3339
 * times, whole-file reads, SHA-256, the system's time zone. */
#include "validator/val_internal.h"
#include "crontab/crontab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

size_t val_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 256 || lb > 256) return (size_t)-1;
	size_t row[257];
	for (size_t j = 0; j <= lb; j++) row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best) best = row[j] + 1;
			if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

int64_t val_parse_duration(const char *s)
{
	if (!s || !*s) return -1;
	int64_t total = 0;
	const char *p = s;
	while (*p) {
		if (*p < '0' || *p > '9') return -1;
		int64_t v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			if (v > 100000000000LL) return -1;
		}
		int64_t mul;
		switch (*p) {
		case '\0': mul = 1; if (p != s + strspn(s, "0123456789")) return -1; break;
		case 's': mul = 1; p++; break;
		case 'm': mul = 60; p++; break;
		case 'h': mul = 3600; p++; break;
		case 'd': mul = 86400; p++; break;
		case 'w': mul = 604800; p++; break;
		default: return -1;
		}
		total += v * mul;
		if (total > 100000000000LL) return -1;
	}
	return total;
}

void val_format_duration(int64_t s, char *buf, size_t n)
{
	if (s <= 0) { snprintf(buf, n, "0s"); return; }
	static const struct { int64_t mul; char c; } u[] = {{604800, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < 5 && off < n; i++)
		if (s >= u[i].mul) {
			int w = snprintf(buf + off, n - off, "%lld%c", (long long)(s / u[i].mul), u[i].c);
			if (w < 0) return;
			off += (size_t)w;
			s %= u[i].mul;
		}
}

static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9') return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int64_t val_parse_time(const char *s, int64_t *out_ms)
{
	int Y, M, D, h = 0, m = 0, sec = 0, off = 0;
	const char *p = s;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
		return -1;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ') return -1;
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m)) return -1;
		if (*p == ':') { p++; if (digits(&p, 2, &sec)) return -1; }
		if (*p == '.') { p++; while (*p >= '0' && *p <= '9') p++; }
		if (*p == 'Z' || *p == 'z') p++;
		else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om)) return -1;
			off = sign * (oh * 3600 + om * 60);
		} else return -1;
		if (*p) return -1;
	}
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec };
	time_t t = timegm(&tm);
	if (tm.tm_mday != D) return -1;   /* 30 Feb */
	*out_ms = ((int64_t)t - off) * 1000;
	return 0;
}

void val_format_time(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm)) { snprintf(buf, n, "?"); return; }
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int val_read_file(const char *path, size_t max, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) return errno;
	int e = 0;
	char *buf = NULL;
	struct stat st;
	if (fstat(fd, &st)) { e = errno; goto out; }
	if (S_ISDIR(st.st_mode)) { e = EISDIR; goto out; }
	if (!S_ISREG(st.st_mode)) { e = ENODEV; goto out; }   /* fifo, device: never block on it */
	if ((uint64_t)st.st_size > max) { e = EFBIG; goto out; }
	size_t cap = (size_t)st.st_size + 1, n = 0;
	buf = malloc(cap);
	if (!buf) { e = ENOMEM; goto out; }
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max) { e = EFBIG; goto out; }
			char *nb = realloc(buf, cap * 2);
			if (!nb) { e = ENOMEM; goto out; }
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) { if (errno == EINTR) continue; e = errno; goto out; }
		if (r == 0) break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return e;
}

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------ */
void val_system_zone(char *buf, size_t n)
{
	cron_zone_system(buf, n);
	if (!buf[0]) snprintf(buf, n, "UTC");
}

char *val_path_clean(const char *p)
{
	size_t len = strlen(p);
	char *o = malloc(len + 2), *w = o;
	if (!o) return NULL;
	int abs = p[0] == '/';
	if (abs) *w++ = '/';
	const char *s = p;
	while (*s) {
		while (*s == '/') s++;
		const char *e = s;
		while (*e && *e != '/') e++;
		size_t l = (size_t)(e - s);
		if (l == 0) break;
		if (!(l == 1 && s[0] == '.')) {
			if (w > o + abs) *w++ = '/';
			memcpy(w, s, l);
			w += l;
		}
		s = e;
	}
	if (w == o) *w++ = '.';
	*w = '\0';
	return o;
}

int val_zone_same(const char *a, const char *b)
{
	static const char *const utc[] = {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
	                                  "Etc/GMT", "GMT", "Etc/GMT0", "GMT0", "Etc/UCT", "UCT", NULL};
	if (!strcmp(a, b)) return 1;
	int ua = 0, ub = 0;
	for (size_t i = 0; utc[i]; i++) { ua |= !strcmp(a, utc[i]); ub |= !strcmp(b, utc[i]); }
	return ua && ub;
}
