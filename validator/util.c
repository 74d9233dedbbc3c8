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
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void val_sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	size_t left = len;
	while (left >= 64) { sha_block(h, p); p += 64; left -= 64; }
	unsigned char tail[128] = {0};
	memcpy(tail, p, left);
	tail[left] = 0x80;
	size_t tl = left < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha_block(h, tail);
	if (tl == 128) sha_block(h, tail + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24); out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8); out[4 * i + 3] = (unsigned char)h[i];
	}
}

void val_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[32];
	val_sha256(data, len, d);
	for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

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
