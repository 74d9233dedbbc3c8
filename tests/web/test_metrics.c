/* tests/web/test_metrics.c — /metrics against a strict parser of the
 * Prometheus text format (0.0.4), as promtool would check it: HELP/TYPE once
 * per family and before its samples, valid names, label syntax and escapes,
 * float values, no duplicate series, histogram buckets cumulative with a
 * +Inf bucket equal to _count.  Then the values themselves, after a known
 * sequence of pings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/web/web_harness.h"

#include <ctype.h>
#include <math.h>

/* ---- the parser ----------------------------------------------------------------------- */

#define MAXS 4096
#define MAXF 128

typedef struct sample {
	char name[128];
	char labels[512];   /* canonical: k="v",k="v" (unescaped values re-escaped as written) */
	char le[32];        /* the le label of a histogram bucket */
	double value;
} sample;

typedef struct family {
	char name[128];
	char type[16];
	int has_help, has_type, nsamples;
} family;

typedef struct prom {
	sample s[MAXS];
	int ns;
	family f[MAXF];
	int nf;
	char err[256];
} prom;

static int name_ok(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':')) return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':')) return 0;
	return 1;
}

static family *fam(prom *p, const char *name, int create)
{
	for (int i = 0; i < p->nf; i++) if (!strcmp(p->f[i].name, name)) return &p->f[i];
	if (!create || p->nf == MAXF) return NULL;
	family *f = &p->f[p->nf++];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	return f;
}

/* The family a sample belongs to: a histogram's _bucket/_sum/_count map to it. */
static family *fam_of(prom *p, const char *name)
{
	family *f = fam(p, name, 0);
	if (f) return f;
	static const char *const suf[] = {"_bucket", "_sum", "_count"};
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(name), l = strlen(suf[i]);
		if (n > l && !strcmp(name + n - l, suf[i])) {
			char base[128];
			snprintf(base, sizeof base, "%.*s", (int)(n - l), name);
			f = fam(p, base, 0);
			if (f && (!strcmp(f->type, "histogram") || !strcmp(f->type, "summary"))) return f;
		}
	}
	return NULL;
}

static int perr(prom *p, int line, const char *msg)
{
	snprintf(p->err, sizeof p->err, "line %d: %s", line, msg);
	return -1;
}

static int parse_value(const char *s, double *v)
{
	if (!strcmp(s, "+Inf")) { *v = INFINITY; return 0; }
	if (!strcmp(s, "-Inf")) { *v = -INFINITY; return 0; }
	if (!strcmp(s, "NaN")) { *v = NAN; return 0; }
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return (*s && !*end && !errno && !isspace((unsigned char)*s)) ? 0 : -1;
}

static int prom_parse(prom *p, const char *text)
{
	memset(p, 0, sizeof *p);
	int line = 0;
	const char *cur = text;
	if (*text && text[strlen(text) - 1] != '\n') return perr(p, 0, "text does not end with a newline");
	while (*cur) {
		line++;
		const char *nl = strchr(cur, '\n');
		size_t len = (size_t)(nl - cur);
		char l[2048];
		if (len >= sizeof l) return perr(p, line, "line too long");
		memcpy(l, cur, len);
		l[len] = '\0';
		cur = nl + 1;
		if (!len) continue;
		if (l[0] == '#') {
			char kw[8], name[256];
			int off = 0;
			if (sscanf(l, "# %7s %255s %n", kw, name, &off) < 2) continue;   /* plain comment */
			if (strcmp(kw, "HELP") && strcmp(kw, "TYPE")) continue;
			if (!name_ok(name, strlen(name))) return perr(p, line, "bad metric name in HELP/TYPE");
			family *f = fam(p, name, 1);
			if (!f) return perr(p, line, "too many families");
			if (f->nsamples) return perr(p, line, "HELP/TYPE after the family's samples");
			if (!strcmp(kw, "HELP")) {
				if (f->has_help++) return perr(p, line, "second HELP");
			} else {
				const char *t = l + off;
				if (f->has_type++) return perr(p, line, "second TYPE");
				if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") && strcmp(t, "summary") &&
				    strcmp(t, "untyped"))
					return perr(p, line, "unknown TYPE");
				snprintf(f->type, sizeof f->type, "%s", t);
			}
			continue;
		}
		if (p->ns == MAXS) return perr(p, line, "too many samples");
		sample *s = &p->s[p->ns];
		memset(s, 0, sizeof *s);
		size_t i = 0;
		while (l[i] && l[i] != '{' && l[i] != ' ') i++;
		if (!name_ok(l, i) || i >= sizeof s->name) return perr(p, line, "bad sample name");
		memcpy(s->name, l, i);
		s->name[i] = '\0';
		size_t lo = 0;
		char seen[16][64];
		int nseen = 0;
		if (l[i] == '{') {
			i++;
			while (l[i] != '}') {
				size_t k = i;
				while (l[i] && l[i] != '=') i++;
				if (!name_ok(l + k, i - k) || !strncmp(l + k, "__", 2)) return perr(p, line, "bad label name");
				char lname[64];
				snprintf(lname, sizeof lname, "%.*s", (int)(i - k), l + k);
				if (l[i] != '=' || l[i + 1] != '"') return perr(p, line, "label without =\"value\"");
				i += 2;
				char val[256];
				size_t vo = 0;
				while (l[i] && l[i] != '"') {
					char ch = l[i++];
					if (ch == '\\') {
						ch = l[i++];
						if (ch == 'n') ch = '\n';
						else if (ch != '\\' && ch != '"') return perr(p, line, "bad escape in label value");
					}
					if (vo + 1 >= sizeof val) return perr(p, line, "label value too long");
					val[vo++] = ch;
				}
				val[vo] = '\0';
				if (l[i] != '"') return perr(p, line, "unterminated label value");
				i++;
				for (int q = 0; q < nseen; q++)
					if (!strcmp(seen[q], lname)) return perr(p, line, "label given twice");
				if (nseen < 16) snprintf(seen[nseen++], sizeof seen[0], "%.63s", lname);
				lo += (size_t)snprintf(s->labels + lo, sizeof s->labels - lo, "%s%s=\"%s\"", lo ? "," : "", lname, val);
				if (!strcmp(lname, "le")) snprintf(s->le, sizeof s->le, "%.31s", val);
				if (l[i] == ',') i++;
				else if (l[i] != '}') return perr(p, line, "expected , or } after a label");
			}
			i++;
		}
		if (l[i] != ' ') return perr(p, line, "expected a space before the value");
		while (l[i] == ' ') i++;
		char vbuf[64];
		size_t k = 0;
		while (l[i] && l[i] != ' ' && k + 1 < sizeof vbuf) vbuf[k++] = l[i++];
		vbuf[k] = '\0';
		if (parse_value(vbuf, &s->value)) return perr(p, line, "bad value");
		if (l[i] == ' ') {   /* optional timestamp: an integer */
			while (l[i] == ' ') i++;
			if (l[i] == '-') i++;
			if (!isdigit((unsigned char)l[i])) return perr(p, line, "bad timestamp");
			while (isdigit((unsigned char)l[i])) i++;
			if (l[i]) return perr(p, line, "trailing data");
		}
		family *f = fam_of(p, s->name);
		if (!f || !f->has_type) return perr(p, line, "sample without a TYPE for its family");
		/* samples of a family are contiguous */
		if (p->ns && strcmp(fam_of(p, p->s[p->ns - 1].name)->name, f->name) && f->nsamples)
			return perr(p, line, "family's samples are not together");
		if (!strcmp(f->type, "counter") && (s->value < 0 || isnan(s->value))) return perr(p, line, "negative counter");
		size_t nl2 = strlen(s->name);
		if (!strcmp(f->type, "histogram") && nl2 > 7 && !strcmp(s->name + nl2 - 7, "_bucket") && !s->le[0])
			return perr(p, line, "bucket without le");
		for (int j = 0; j < p->ns; j++)
			if (!strcmp(p->s[j].name, s->name) && !strcmp(p->s[j].labels, s->labels)) return perr(p, line, "duplicate series");
		f->nsamples++;
		p->ns++;
	}
	/* histograms: le ascending, counts cumulative, +Inf == _count */
	for (int fi = 0; fi < p->nf; fi++) {
		family *f = &p->f[fi];
		if (strcmp(f->type, "histogram")) continue;
		char bname[160], cname[160];
		snprintf(bname, sizeof bname, "%s_bucket", f->name);
		snprintf(cname, sizeof cname, "%s_count", f->name);
		double prev_le = -INFINITY, prev = 0, inf = -1, count = -1;
		for (int j = 0; j < p->ns; j++) {
			sample *s = &p->s[j];
			if (!strcmp(s->name, cname)) count = s->value;
			if (strcmp(s->name, bname)) continue;
			double le;
			if (parse_value(s->le, &le)) return perr(p, 0, "histogram le is not a number");
			if (le <= prev_le) return perr(p, 0, "histogram buckets not in ascending le order");
			if (s->value < prev) return perr(p, 0, "histogram bucket counts not cumulative");
			prev_le = le;
			prev = s->value;
			if (isinf(le)) inf = s->value;
		}
		if (inf < 0) return perr(p, 0, "histogram without a +Inf bucket");
		if (count != inf) return perr(p, 0, "histogram +Inf bucket differs from _count");
	}
	return 0;
}

/* Value of NAME{LABELS}; NAN when absent. */
static double prom_get(const prom *p, const char *name, const char *labels)
{
	for (int i = 0; i < p->ns; i++)
		if (!strcmp(p->s[i].name, name) && !strcmp(p->s[i].labels, labels ? labels : "")) return p->s[i].value;
	return NAN;
}

static const family *prom_family(const prom *p, const char *name)
{
	for (int i = 0; i < p->nf; i++) if (!strcmp(p->f[i].name, name)) return &p->f[i];
	return NULL;
}

/* ---- the parser refuses what it should -------------------------------------------------------------- */

static prom P;

static void test_parser_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"x 1\n",                                                         /* no TYPE */
		"# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",                  /* duplicate series */
		"# TYPE x gauge\nx{a=\"\\q\"} 1\n",                              /* bad escape */
		"# TYPE x gauge\nx{a=1} 1\n",                                    /* unquoted */
		"# TYPE x gauge\nx one\n",                                       /* bad value */
		"# TYPE x counter\nx -1\n",                                      /* negative counter */
		"# TYPE x gauge\nx 1\n# TYPE x gauge\n",                         /* TYPE twice / after samples */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\nh_bucket{le=\"+Inf\"} 5\nh_count 5\nh_sum 1\n",
		"# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_count 5\nh_sum 1\n",  /* no +Inf */
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 5\nh_count 6\nh_sum 1\n",
		"# TYPE x gauge\nx 1",                                           /* no final newline */
		"# TYPE 9x gauge\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (prom_parse(&P, bad[i]) == 0) { printf("parser accepted bad input %zu: %s\n", i, bad[i]); fail(); }
	}
	assert_int_equal(prom_parse(&P, "# HELP x a gauge\n# TYPE x gauge\nx{a=\"q\\\"\\\\\\n\"} 1.5e3 1700000000000\n"
	                                "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n"), 0);
	assert_true(prom_get(&P, "x", "a=\"q\"\\\n\"") == 1500);
}

/* ---- /metrics of the real server ---------------------------------------------------------------------- */

static srv S;
static char bearer_rw[128];

static int setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (srv_start(&S, "127.0.0.1:0")) { printf("cannot start vigil serve\n"); return -1; }
	snprintf(bearer_rw, sizeof bearer_rw, "Bearer %s", S.rw);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int code = srv_stop(&S);
	curl_global_cleanup();
	return code ? -1 : 0;
}

static void call(const char *method, const char *path, const char *auth, const char *body, long want)
{
	http_res r;
	http_do(&S, method, path, auth, NULL, body, body ? strlen(body) : 0, &r);
	if (r.status != want) printf("%s %s: %ld, want %ld: %s\n", method, path, r.status, want, r.body);
	assert_int_equal(r.status, want);
	http_free(&r);
}

static void ping(const char *slug, const char *suffix, long want)
{
	char path[256];
	snprintf(path, sizeof path, "/ping/%s/%s%s", S.ping_key, slug, suffix);
	call("GET", path, NULL, NULL, want);
}

static void scrape(void)
{
	http_res r;
	http_do(&S, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	char ct[128];
	assert_int_equal(http_header(&r, "Content-Type", ct, sizeof ct), 0);
	assert_non_null(strstr(ct, "text/plain; version=0.0.4"));
	if (prom_parse(&P, r.body)) { printf("/metrics does not parse: %s\n%s", P.err, r.body); fail(); }
	http_free(&r);
}

static void test_metrics(void **state)
{
	(void)state;
	int64_t t0 = (int64_t)time(NULL);
	call("POST", "/api/v1/checks", bearer_rw, "{\"slug\":\"m-up\",\"period_s\":3600}", 201);
	call("POST", "/api/v1/checks", bearer_rw, "{\"slug\":\"m-down\",\"schedule\":\"0 4 * * *\"}", 201);
	call("POST", "/api/v1/checks", bearer_rw, "{\"slug\":\"m-paused\",\"period_s\":60}", 201);
	call("POST", "/api/v1/checks", bearer_rw, "{\"slug\":\"m-new\",\"period_s\":60}", 201);
	call("POST", "/api/v1/checks/m-paused/pause", bearer_rw, NULL, 200);
	ping("m-up", "/start", 200);
	ping("m-up", "", 200);
	ping("m-up", "/0", 200);
	ping("m-down", "/fail", 200);
	ping("m-down", "/log", 200);
	ping("nobody-home", "", 404);
	ping("nobody-either", "/start", 404);
	scrape();

	static const struct { const char *name, *type; } want[] = {
		{"vigil_check_up", "gauge"}, {"vigil_check_state", "gauge"},
		{"vigil_check_last_ping_timestamp_seconds", "gauge"}, {"vigil_check_last_duration_seconds", "gauge"},
		{"vigil_pings_total", "counter"}, {"vigil_orphan_pings_total", "counter"},
		{"vigil_alerts_total", "counter"}, {"vigil_outbox_pending", "gauge"},
		{"vigil_http_request_duration_seconds", "histogram"}, {"vigil_summaries_total", "counter"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const family *f = prom_family(&P, want[i].name);
		if (!f) { printf("missing family %s\n", want[i].name); fail(); }
		assert_string_equal(f->type, want[i].type);
		assert_true(f->has_help);
	}
	/* counters since this server started: exactly the pings sent above */
	assert_true(prom_get(&P, "vigil_pings_total", "kind=\"success\"") == 1);
	assert_true(prom_get(&P, "vigil_pings_total", "kind=\"start\"") == 1);
	assert_true(prom_get(&P, "vigil_pings_total", "kind=\"exit\"") == 1);
	assert_true(prom_get(&P, "vigil_pings_total", "kind=\"fail\"") == 1);
	assert_true(prom_get(&P, "vigil_pings_total", "kind=\"log\"") == 1);
	assert_true(prom_get(&P, "vigil_orphan_pings_total", NULL) == 2);
	/* per check */
	assert_true(prom_get(&P, "vigil_check_up", "check=\"m-up\"") == 1);
	assert_true(prom_get(&P, "vigil_check_up", "check=\"m-down\"") == 0);
	assert_true(prom_get(&P, "vigil_check_up", "check=\"m-paused\"") == 0);
	static const char *const states[] = {"new", "up", "grace", "down", "started", "paused", "unknown"};
	static const struct { const char *slug, *state; } cur[] = {
		{"m-up", "up"}, {"m-down", "down"}, {"m-paused", "paused"}, {"m-new", "new"},
	};
	for (size_t c = 0; c < sizeof cur / sizeof cur[0]; c++) {
		double sum = 0;
		for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
			char l[128];
			snprintf(l, sizeof l, "check=\"%s\",state=\"%s\"", cur[c].slug, states[k]);
			double v = prom_get(&P, "vigil_check_state", l);
			assert_false(isnan(v));
			assert_true(v == 0 || v == 1);
			if (!strcmp(states[k], cur[c].state)) assert_true(v == 1);
			sum += v;
		}
		assert_true(sum == 1);
	}
	double ts = prom_get(&P, "vigil_check_last_ping_timestamp_seconds", "check=\"m-up\"");
	assert_true(ts >= (double)t0 - 1 && ts <= (double)time(NULL) + 1);
	assert_true(isnan(prom_get(&P, "vigil_check_last_ping_timestamp_seconds", "check=\"m-new\"")));
	double d = prom_get(&P, "vigil_check_last_duration_seconds", "check=\"m-up\"");
	assert_true(d >= 0 && d < 60);
	assert_false(isnan(prom_get(&P, "vigil_outbox_pending", NULL)));
	assert_false(isnan(prom_get(&P, "vigil_alerts_total", "result=\"sent\"")));
	assert_false(isnan(prom_get(&P, "vigil_alerts_total", "result=\"failed\"")));
	/* every answered request so far was observed: 5 API calls + 7 pings (+ this scrape, maybe) */
	double n = prom_get(&P, "vigil_http_request_duration_seconds_count", NULL);
	assert_true(n >= 12);
	assert_true(prom_get(&P, "vigil_http_request_duration_seconds_sum", NULL) > 0);

	/* scrape again: counters never go down, the count grows */
	scrape();
	assert_true(prom_get(&P, "vigil_http_request_duration_seconds_count", NULL) > n);
	assert_true(prom_get(&P, "vigil_pings_total", "kind=\"success\"") == 1);
}

int main(void)
{
	const struct CMUnitTest parser[] = { cmocka_unit_test(test_parser_rejects) };
	const struct CMUnitTest live[] = { cmocka_unit_test(test_metrics) };
	int f = cmocka_run_group_tests_name("prometheus parser", parser, NULL, NULL);
	return f + cmocka_run_group_tests_name("metrics", live, setup, teardown);
}
