/* validator/summary_facts.c — the alert facts document and the deterministic
 * summary built from it.
 *
 * The facts document (one per alert batch) is the only input of both the
 * model's prompt and the verifier, so it is parsed strictly: every field is
 * known, typed and range-checked, and states and reasons must agree
 * (README.md, "Alert summaries", gives the schema). */
#include "validator/validator.h"
#include "validator/strbuf.h"
#include "validator/val_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const state_names[] = { "down", "up", "grace", "unknown" };
static const char *const reason_names[] = { NULL, "late", "fail", "exit", "hung",
                                            "never_pinged", "recovered" };

const char *val_fact_state_name(val_fact_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "?";
}

const char *val_fact_reason_name(val_fact_reason r)
{
	return (unsigned)r < 7 ? reason_names[r] : NULL;
}

void val_time_rfc3339(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm)) { snprintf(buf, n, "?"); return; }
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- parsing --------------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen) vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.frac](Z|+00:00|-00:00). */
static int parse_rfc3339(const char *s, long long *out)
{
	int Y, M, D, h, m, sec;
	if (strlen(s) < 20) return -1;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9') return -1;
		while (*p >= '0' && *p <= '9') p++;
	}
	if (strcmp(p, "Z") && strcmp(p, "z") && strcmp(p, "+00:00") && strcmp(p, "-00:00"))
		return -1;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
		return -1;
	int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (M == 2 && D == 29 && !leap) return -1;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
	                 .tm_hour = h, .tm_min = m, .tm_sec = sec == 60 ? 59 : sec };
	*out = (long long)timegm(&tm);
	return 0;
}

static int slug_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64) return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '-' && c != '_'))) return 0;
	}
	return 1;
}

static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
		if (n < 0 || (n == 1 && c < 0xC2) || (c == 0xF4 && p[1] > 0x8F) || c > 0xF4) return 0;
		if (c == 0xE0 && n == 2 && p[1] < 0xA0) return 0;
		if (c == 0xED && n == 2 && p[1] > 0x9F) return 0;
		if (c == 0xF0 && n == 3 && p[1] < 0x90) return 0;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xC0) != 0x80) return 0;
		p += n + 1;
	}
	return 1;
}

typedef struct parse_ctx {
	char *err;
	size_t errlen;
	char field[96];
} parse_ctx;

/* Field kinds of a check object. */
enum kind { K_SLUG, K_STR, K_STR_NULL, K_STATE, K_REASON, K_TIME, K_COUNT, K_EXIT, K_DUR, K_BOOL };

static const struct field {
	const char *name;
	enum kind kind;
	int required;
} check_fields[] = {
	{"slug", K_SLUG, 1}, {"name", K_STR, 0}, {"state", K_STATE, 1}, {"reason", K_REASON, 1},
	{"since", K_TIME, 0}, {"expected_at", K_TIME, 0}, {"grace_s", K_COUNT, 0},
	{"last_start", K_TIME, 0}, {"last_success", K_TIME, 0}, {"last_fail", K_TIME, 0},
	{"exit_status", K_EXIT, 0}, {"duration_s", K_DUR, 0}, {"output_tail", K_STR_NULL, 0},
	{"crontab_line", K_STR_NULL, 0}, {"muted", K_BOOL, 0},
};
#define N_CHECK_FIELDS (sizeof check_fields / sizeof check_fields[0])

static int enum_of(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(s, names[i])) return i;
	return -1;
}

static int parse_time_field(parse_ctx *c, const cJSON *v, long long *out)
{
	if (cJSON_IsNull(v)) { *out = VAL_NO_TIME; return 0; }
	if (!cJSON_IsString(v) || parse_rfc3339(v->valuestring, out)) {
		seterr(c->err, c->errlen, "%s: expected an RFC 3339 UTC time such as "
		       "\"2026-11-26T07:45:00Z\", or null", c->field);
		return -1;
	}
	return 0;
}

static int parse_field(parse_ctx *c, const struct field *fd, const cJSON *v, val_fact_check *k)
{
	switch (fd->kind) {
	case K_SLUG:
		if (!cJSON_IsString(v) || !slug_ok(v->valuestring)) {
			seterr(c->err, c->errlen, "%s: expected a slug ([a-z0-9][a-z0-9_-]*, at most 64 characters)", c->field);
			return -1;
		}
		k->slug = v->valuestring;
		return 0;
	case K_STR:
	case K_STR_NULL:
		if (fd->kind == K_STR_NULL && cJSON_IsNull(v)) return 0;
		if (!cJSON_IsString(v) || !utf8_ok(v->valuestring)) {
			seterr(c->err, c->errlen, "%s: expected a UTF-8 string%s", c->field,
			       fd->kind == K_STR_NULL ? " or null" : "");
			return -1;
		}
		if (!strcmp(fd->name, "name")) k->name = v->valuestring;
		else if (!strcmp(fd->name, "output_tail")) k->output_tail = v->valuestring;
		else k->crontab_line = v->valuestring;
		return 0;
	case K_STATE: {
		int s = cJSON_IsString(v) ? enum_of(v->valuestring, state_names, 4) : -1;
		if (s < 0) {
			seterr(c->err, c->errlen, "%s: expected one of down, up, grace, unknown", c->field);
			return -1;
		}
		k->state = (val_fact_state)s;
		return 0;
	}
	case K_REASON: {
		int r = cJSON_IsNull(v) ? 0 : cJSON_IsString(v) ? enum_of(v->valuestring, reason_names, 7) : -1;
		if (r < 0) {
			seterr(c->err, c->errlen, "%s: expected one of late, fail, exit, hung, "
			       "never_pinged, recovered, or null", c->field);
			return -1;
		}
		k->reason = (val_fact_reason)r;
		return 0;
	}
	case K_TIME: {
		long long t;
		if (parse_time_field(c, v, &t)) return -1;
		if (!strcmp(fd->name, "since")) k->since = t;
		else if (!strcmp(fd->name, "expected_at")) k->expected_at = t;
		else if (!strcmp(fd->name, "last_start")) k->last_start = t;
		else if (!strcmp(fd->name, "last_success")) k->last_success = t;
		else k->last_fail = t;
		return 0;
	}
	case K_COUNT:
		if (cJSON_IsNull(v)) return 0;
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
		    v->valuedouble != floor(v->valuedouble)) {
			seterr(c->err, c->errlen, "%s: expected a whole number of seconds (0 to 1e9), or null", c->field);
			return -1;
		}
		k->grace_s = (long long)v->valuedouble;
		return 0;
	case K_EXIT:
		if (cJSON_IsNull(v)) return 0;
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 255 ||
		    v->valuedouble != floor(v->valuedouble)) {
			seterr(c->err, c->errlen, "%s: expected an exit status 0 to 255, or null", c->field);
			return -1;
		}
		k->exit_status = (int)v->valuedouble;
		return 0;
	case K_DUR:
		if (cJSON_IsNull(v)) return 0;
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e9) {
			seterr(c->err, c->errlen, "%s: expected a number of seconds (0 to 1e9), or null", c->field);
			return -1;
		}
		k->duration_s = v->valuedouble;
		return 0;
	case K_BOOL:
		if (!cJSON_IsBool(v)) {
			seterr(c->err, c->errlen, "%s: expected true or false", c->field);
			return -1;
		}
		k->muted = cJSON_IsTrue(v);
		return 0;
	}
	return -1;
}

/* States and reasons that may go together. */
static int coherent(parse_ctx *c, const val_fact_check *k)
{
	const char *why = NULL;
	switch (k->state) {
	case VAL_FACT_UP:
		if (k->reason != VAL_FACT_REASON_NONE && k->reason != VAL_FACT_RECOVERED)
			why = "an up check has reason recovered or null";
		break;
	case VAL_FACT_DOWN:
		if (k->reason == VAL_FACT_REASON_NONE || k->reason == VAL_FACT_RECOVERED)
			why = "a down check has reason late, fail, exit, hung or never_pinged";
		break;
	case VAL_FACT_GRACE:
		if (k->reason != VAL_FACT_LATE && k->reason != VAL_FACT_NEVER_PINGED)
			why = "a grace check has reason late or never_pinged";
		break;
	case VAL_FACT_UNKNOWN:
		break;
	}
	if (why) {
		seterr(c->err, c->errlen, "%s.reason: \"%s\" with state \"%s\": %s", c->field,
		       k->reason ? reason_names[k->reason] : "null", state_names[k->state], why);
		return -1;
	}
	if (k->reason == VAL_FACT_NEVER_PINGED &&
	    (k->last_start != VAL_NO_TIME || k->last_success != VAL_NO_TIME || k->last_fail != VAL_NO_TIME)) {
		seterr(c->err, c->errlen, "%s.reason: never_pinged, but the check has a ping on record "
		       "(last_start, last_success or last_fail is set)", c->field);
		return -1;
	}
	return 0;
}

static void line_col(const char *json, const char *at, int *line, int *col)
{
	*line = 1; *col = 1;
	for (const char *p = json; p < at && *p; p++) {
		if (*p == '\n') { (*line)++; *col = 1; } else (*col)++;
	}
}

val_facts *val_facts_parse(const char *json, size_t len, char *err, size_t errlen)
{
	parse_ctx c = { .err = err, .errlen = errlen };
	val_facts *f = NULL;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root) {
		int line, col;
		const char *at = end ? end : cJSON_GetErrorPtr();
		if (!at || at < json || at > json + len) at = json + len;
		line_col(json, at, &line, &col);
		seterr(err, errlen, "line %d, column %d: invalid JSON", line, col);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		seterr(err, errlen, "(document): expected a JSON object");
		goto fail;
	}
	f = calloc(1, sizeof *f);
	if (!f) { seterr(err, errlen, "out of memory"); goto fail; }
	f->owner_ = root;
	f->generated_at = VAL_NO_TIME;
	const cJSON *checks = NULL;
	int seen_host = 0;
	for (const cJSON *it = root->child; it; it = it->next) {
		snprintf(c.field, sizeof c.field, "%s", it->string);
		if (!strcmp(it->string, "generated_at")) {
			if (parse_time_field(&c, it, &f->generated_at)) goto fail;
			if (f->generated_at == VAL_NO_TIME) {
				seterr(err, errlen, "generated_at: expected an RFC 3339 UTC time, not null");
				goto fail;
			}
		} else if (!strcmp(it->string, "host")) {
			if (!cJSON_IsString(it) || !utf8_ok(it->valuestring)) {
				seterr(err, errlen, "host: expected a string");
				goto fail;
			}
			f->host = it->valuestring;
			seen_host = 1;
		} else if (!strcmp(it->string, "checks")) {
			if (!cJSON_IsArray(it)) { seterr(err, errlen, "checks: expected an array"); goto fail; }
			checks = it;
		} else {
			seterr(err, errlen, "%.80s: unknown field (known: generated_at, host, checks)", it->string);
			goto fail;
		}
	}
	if (f->generated_at == VAL_NO_TIME) { seterr(err, errlen, "generated_at: missing"); goto fail; }
	if (!seen_host) { seterr(err, errlen, "host: missing"); goto fail; }
	if (!checks) { seterr(err, errlen, "checks: missing"); goto fail; }
	int n = cJSON_GetArraySize(checks);
	if (n > 10000) { seterr(err, errlen, "checks: more than 10000 checks"); goto fail; }
	f->checks = calloc(n ? (size_t)n : 1, sizeof *f->checks);
	if (!f->checks) { seterr(err, errlen, "out of memory"); goto fail; }
	int i = 0;
	for (const cJSON *o = checks->child; o; o = o->next, i++) {
		val_fact_check *k = &f->checks[i];
		*k = (val_fact_check){ .since = VAL_NO_TIME, .expected_at = VAL_NO_TIME,
		                       .last_start = VAL_NO_TIME, .last_success = VAL_NO_TIME,
		                       .last_fail = VAL_NO_TIME, .grace_s = -1, .exit_status = -1,
		                       .duration_s = -1 };
		if (!cJSON_IsObject(o)) {
			seterr(err, errlen, "checks[%d]: expected an object", i);
			goto fail;
		}
		unsigned seen = 0;
		for (const cJSON *it = o->child; it; it = it->next) {
			size_t j;
			for (j = 0; j < N_CHECK_FIELDS; j++)
				if (!strcmp(it->string, check_fields[j].name)) break;
			if (j == N_CHECK_FIELDS) {
				seterr(err, errlen, "checks[%d].%.80s: unknown field", i, it->string);
				goto fail;
			}
			if (seen & (1u << j)) {
				seterr(err, errlen, "checks[%d].%s: given twice", i, it->string);
				goto fail;
			}
			seen |= 1u << j;
			snprintf(c.field, sizeof c.field, "checks[%d].%s", i, it->string);
			if (parse_field(&c, &check_fields[j], it, k)) goto fail;
		}
		for (size_t j = 0; j < N_CHECK_FIELDS; j++)
			if (check_fields[j].required && !(seen & (1u << j))) {
				seterr(err, errlen, "checks[%d].%s: missing", i, check_fields[j].name);
				goto fail;
			}
		if (!k->name) k->name = k->slug;
		for (int p = 0; p < i; p++)
			if (!strcmp(f->checks[p].slug, k->slug)) {
				seterr(err, errlen, "checks[%d].slug: \"%s\" already in checks[%d]", i, k->slug, p);
				goto fail;
			}
		snprintf(c.field, sizeof c.field, "checks[%d]", i);
		if (coherent(&c, k)) goto fail;
	}
	f->n_checks = (size_t)n;
	return f;
fail:
	if (f) { f->owner_ = NULL; free(f->checks); free(f); }
	cJSON_Delete(root);
	return NULL;
}

val_facts *val_facts_load(const char *path, char *err, size_t errlen)
{
	char sub[400];
	val_facts *f = NULL;
	char *buf = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp) { seterr(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 > cap) {
			if (cap > (64u << 20)) { seterr(err, errlen, "%s: larger than 64 MB", path); goto out; }
			char *nb = realloc(buf, cap = cap * 2 + 8192);
			if (!nb) { seterr(err, errlen, "%s: out of memory", path); goto out; }
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, fp);
		len += r;
		if (r == 0) break;
	}
	if (ferror(fp)) { seterr(err, errlen, "%s: read error", path); goto out; }
	f = val_facts_parse(buf, len, sub, sizeof sub);
	if (!f) seterr(err, errlen, "%s: %s", path, sub);
out:
	free(buf);
	fclose(fp);
	return f;
}

void val_facts_free(val_facts *f)
{
	if (!f) return;
	cJSON_Delete(f->owner_);
	free(f->checks);
	free(f);
}

/* ---- writing --------------------------------------------------------------- */

static int add_time(cJSON *o, const char *key, long long t)
{
	char b[32];
	if (t == VAL_NO_TIME) return cJSON_AddNullToObject(o, key) ? 0 : -1;
	val_time_rfc3339(t, b, sizeof b);
	return cJSON_AddStringToObject(o, key, b) ? 0 : -1;
}

static int add_str(cJSON *o, const char *key, const char *s)
{
	return (s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key)) ? 0 : -1;
}

static int add_num(cJSON *o, const char *key, double v, int present)
{
	return (present ? cJSON_AddNumberToObject(o, key, v) : cJSON_AddNullToObject(o, key)) ? 0 : -1;
}

char *val_facts_to_json(const val_facts *f)
{
	char *out = NULL;
	cJSON *root = cJSON_CreateObject();
	if (!root) return NULL;
	if (add_time(root, "generated_at", f->generated_at) || add_str(root, "host", f->host ? f->host : ""))
		goto out;
	cJSON *arr = cJSON_AddArrayToObject(root, "checks");
	if (!arr) goto out;
	for (size_t i = 0; i < f->n_checks; i++) {
		const val_fact_check *k = &f->checks[i];
		cJSON *o = cJSON_CreateObject();
		if (!o) goto out;
		cJSON_AddItemToArray(arr, o);
		const char *rn = val_fact_reason_name(k->reason);
		if (add_str(o, "slug", k->slug) || add_str(o, "name", k->name ? k->name : k->slug) ||
		    add_str(o, "state", val_fact_state_name(k->state)) || add_str(o, "reason", rn) ||
		    add_time(o, "since", k->since) || add_time(o, "expected_at", k->expected_at) ||
		    add_num(o, "grace_s", (double)k->grace_s, k->grace_s >= 0) ||
		    add_time(o, "last_start", k->last_start) || add_time(o, "last_success", k->last_success) ||
		    add_time(o, "last_fail", k->last_fail) ||
		    add_num(o, "exit_status", k->exit_status, k->exit_status >= 0) ||
		    add_num(o, "duration_s", k->duration_s, k->duration_s >= 0) ||
		    add_str(o, "output_tail", k->output_tail) || add_str(o, "crontab_line", k->crontab_line) ||
		    !cJSON_AddBoolToObject(o, "muted", k->muted))
			goto out;
	}
	out = cJSON_Print(root);
out:
	cJSON_Delete(root);
	return out;
}

/* ---- the deterministic summary ---------------------------------------------- */


/* "07:45 UTC" on the day of generated_at, else "2026-11-25 02:00 UTC": the one
 * rendering of a time in summaries (the prompt uses it too, so that a model
 * copying it stays within rule S3). */
void val_facts_when(const val_facts *f, long long t, char *buf, size_t n)
{
	time_t a = (time_t)t, g = (time_t)f->generated_at;
	struct tm ta, tg;
	gmtime_r(&a, &ta);
	gmtime_r(&g, &tg);
	if (ta.tm_year == tg.tm_year && ta.tm_yday == tg.tm_yday)
		strftime(buf, n, "%H:%M UTC", &ta);
	else
		strftime(buf, n, "%Y-%m-%d %H:%M UTC", &ta);
}

/* "12 s", "45 min", "3 h" (rounded down). */
static void fmt_dur(double s, char *buf, size_t n)
{
	long long v = (long long)s;
	if (v < 120) snprintf(buf, n, "%lld s", v);
	else if (v < 7200) snprintf(buf, n, "%lld min", v / 60);
	else snprintf(buf, n, "%lld h", v / 3600);
}

/* The last non-empty line of the output tail, cut to at most 60 bytes on a
 * character boundary, if it can be quoted safely (no quote characters, no
 * characters S6 rejects); else "". */
static void tail_quote(const char *tail, char *buf, size_t n)
{
	buf[0] = 0;
	if (!tail) return;
	const char *end = tail + strlen(tail);
	while (end > tail && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
	const char *start = end;
	while (start > tail && start[-1] != '\n') start--;
	while (start < end && (*start == ' ' || *start == '\t')) start++;
	size_t len = (size_t)(end - start);
	if (len == 0) return;
	if (len > 60) {
		len = 60;
		while (len > 0 && ((unsigned char)start[len] & 0xC0) == 0x80) len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)start[i];
		if (ch == '"' || ch == '`' || ch == '@' || ch == '<' ||
		    ch == '\'' || ch == '#' || ch == 0xE2 /* curly quotes, bidi marks */)
			return;
	}
	if (len + 1 > n) return;
	memcpy(buf, start, len);
	buf[len] = 0;
	/* A cut may end in blanks: trim so the sentence reads well. */
	while (len > 0 && buf[len - 1] == ' ') buf[--len] = 0;
	if (!val_sum_snippet_clean(buf, len)) buf[0] = 0;
}

enum group { G_FAIL, G_HUNG, G_LATE, G_NEVER, G_GRACE, G_UNKNOWN, G_UP, G_N };

static enum group group_of(const val_fact_check *k)
{
	switch (k->state) {
	case VAL_FACT_UP: return G_UP;
	case VAL_FACT_GRACE: return k->reason == VAL_FACT_NEVER_PINGED ? G_NEVER : G_GRACE;
	case VAL_FACT_UNKNOWN: return G_UNKNOWN;
	case VAL_FACT_DOWN: break;
	}
	switch (k->reason) {
	case VAL_FACT_FAIL: case VAL_FACT_EXIT: return G_FAIL;
	case VAL_FACT_HUNG: return G_HUNG;
	case VAL_FACT_NEVER_PINGED: return G_NEVER;
	default: return G_LATE;
	}
}

static long long first_time(long long a, long long b, long long c)
{
	return a != VAL_NO_TIME ? a : b != VAL_NO_TIME ? b : c;
}

/* The details of one check after its slug, without the state words of its
 * group (brief: inside a grouped list). */
static void check_detail(strbuf *b, const val_facts *f, const val_fact_check *k, enum group g, int brief, int bare)
{
	char w[48], d[32];
	long long t;
	switch (g) {
	case G_FAIL:
		t = first_time(k->last_fail, k->since, VAL_NO_TIME);
		if (t != VAL_NO_TIME) { val_facts_when(f, t, w, sizeof w); strbuf_printf(b, " at %s", w); }
		if (k->exit_status > 0) strbuf_printf(b, brief ? " (exit %d)" : " with exit %d", k->exit_status);
		if (!brief && !bare) {
			char q[64];
			tail_quote(k->output_tail, q, sizeof q);
			if (q[0]) strbuf_printf(b, ": \"%s\"", q);
		}
		break;
	case G_HUNG:
		t = first_time(k->last_start, k->since, VAL_NO_TIME);
		if (t != VAL_NO_TIME) { val_facts_when(f, t, w, sizeof w); strbuf_printf(b, brief ? " (started at %s)" : ": started at %s", w); }
		if (!brief) {
			strbuf_printf(b, " and has not finished");
			if (k->duration_s >= 0) { fmt_dur(k->duration_s, d, sizeof d); strbuf_printf(b, " after %s", d); }
		}
		break;
	case G_LATE:
	case G_GRACE:
	case G_NEVER:
		if (k->expected_at != VAL_NO_TIME) {
			val_facts_when(f, k->expected_at, w, sizeof w);
			strbuf_printf(b, brief ? " (expected at %s)" : ": it was expected at %s", w);
		}
		if (!brief && g != G_NEVER && k->last_success != VAL_NO_TIME) {
			val_facts_when(f, k->last_success, w, sizeof w);
			strbuf_printf(b, k->expected_at != VAL_NO_TIME ? ", last success at %s" : ": last success at %s", w);
		}
		break;
	case G_UNKNOWN:
		if (k->since != VAL_NO_TIME) { val_facts_when(f, k->since, w, sizeof w); strbuf_printf(b, " since %s", w); }
		break;
	case G_UP:
		t = first_time(k->since, k->last_success, VAL_NO_TIME);
		if (t != VAL_NO_TIME) { val_facts_when(f, t, w, sizeof w); strbuf_printf(b, " at %s", w); }
		break;
	case G_N:
		break;
	}
	if (k->muted) strbuf_printf(b, " (muted)");
}

static const char *const verb_one[G_N] = {
	" failed", " is hung", " is late", " has never pinged", " is late and in its grace period",
	" is in an unknown state", " recovered",
};
static const char *const verb_many[G_N] = {
	"failed", "are hung", "are late", "have never pinged", "are late and in their grace period",
	"are in an unknown state", "recovered",
};

/* A display name goes into the summary only when it reads as plain words:
 * nothing that would start a quote, a mention, a link or markup, and at
 * most 60 bytes. */
static int name_plain(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 60 || !val_sum_snippet_clean(n, len)) return 0;
	for (const unsigned char *p = (const unsigned char *)n; *p; p++)
		if (strchr("\"`'@<>#*\\", *p) || (p[0] == 0xE2 && p[1] == 0x80))
			return 0;
	return 1;
}

static void check_sentence(strbuf *b, const val_facts *f, const val_fact_check *k, int bare)
{
	enum group g = group_of(k);
	strbuf_printf(b, "%s", k->slug);
	int show = !bare && k->name && strcmp(k->name, k->slug) && name_plain(k->name);
	for (size_t i = 0; show && i < f->n_checks; i++)   /* a name that is a slug reads as that check */
		if (!strcasecmp(k->name, f->checks[i].slug)) show = 0;
	if (show) strbuf_printf(b, " (%s)", k->name);
	strbuf_printf(b, "%s", verb_one[g]);
	check_detail(b, f, k, g, 0, bare);
	strbuf_printf(b, ".");
}

/* The summary; bare: without what comes from free text (display names,
 * quoted output, the host's name). */
static char *compose(const val_facts *f, int bare)
{
	strbuf b = {0};
	if (f->n_checks == 0) {
		strbuf_printf(&b, "No check needs attention on %s.",
		              !bare && f->host && name_plain(f->host) ? f->host : "this host");
	} else if (f->n_checks <= 3) {
		for (int g = 0; g < G_N; g++)
			for (size_t i = 0; i < f->n_checks; i++)
				if (group_of(&f->checks[i]) == (enum group)g) {
					if (b.len) strbuf_printf(&b, " ");
					check_sentence(&b, f, &f->checks[i], bare);
				}
	} else {
		/* Many checks: one clause per reason group, the alerting groups in one
		 * sentence and the recoveries in another. */
		int clauses = 0;
		for (int g = 0; g < G_N; g++) {
			size_t cnt = 0, one = 0;
			for (size_t i = 0; i < f->n_checks; i++)
				if (group_of(&f->checks[i]) == (enum group)g) { cnt++; one = i; }
			if (!cnt) continue;
			if (g == G_UP && clauses) { strbuf_printf(&b, ". "); clauses = 0; }
			else if (clauses) strbuf_printf(&b, "; ");
			clauses++;
			if (cnt == 1) {
				strbuf_printf(&b, "%s%s", f->checks[one].slug, verb_one[g]);
				check_detail(&b, f, &f->checks[one], (enum group)g, 1, bare);
				continue;
			}
			strbuf_printf(&b, "%zu checks %s: ", cnt, verb_many[g]);
			size_t done = 0;
			for (size_t i = 0; i < f->n_checks; i++) {
				const val_fact_check *k = &f->checks[i];
				if (group_of(k) != (enum group)g) continue;
				strbuf_printf(&b, "%s%s", done ? ", " : "", k->slug);
				check_detail(&b, f, k, (enum group)g, 1, bare);
				done++;
			}
		}
		strbuf_printf(&b, ".");
	}
	if (b.oom) { free(b.p); return NULL; }
	return b.p;
}

/* The summary is checked against its own facts before it goes out: free
 * text that the rules would read as a claim, a number, a link or another
 * check (a host named "restarted" or "web 42", a name that is another
 * check's slug) is dropped, and the bare form is used instead.  Only S7
 * may still be broken: a batch of many checks gives a long summary, which
 * goes out whole, since every word of it comes from the facts. */
char *val_summary_from_facts(const val_facts *f)
{
	char *s = compose(f, 0);
	if (!s) return NULL;
	val_sum_verdict v;
	int r = val_summary_verify(f, s, NULL, &v);
	if (r == 0 || (r > 0 && !(v.broken & ~(1u << 6)))) return s;
	free(s);
	return compose(f, 1);
}
