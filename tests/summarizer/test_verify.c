/* Unit tests: the facts document, the deterministic summary and rules S1-S8.
 * The candidates live in tests/summarizer/candidates.txt (see its header),
 * the fact batches in tests/summarizer/facts/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validator/validator.h"

static char dir[1024];

static void setup_dir(void)
{
	const char *root = getenv("VIGIL_ROOT");
	snprintf(dir, sizeof dir, "%s/tests/summarizer", root && root[0] ? root : ".");
}

static val_facts *load_batch(const char *name)
{
	char path[1200], err[512];
	snprintf(path, sizeof path, "%s/facts/%s.json", dir, name);
	val_facts *f = val_facts_load(path, err, sizeof err);
	if (!f) print_error("%s\n", err);
	return f;
}

/* \n, \t and \xNN escapes. */
static void unescape(const char *in, char *out)
{
	while (*in) {
		if (in[0] == '\\' && in[1] == 'n') { *out++ = '\n'; in += 2; }
		else if (in[0] == '\\' && in[1] == 't') { *out++ = '\t'; in += 2; }
		else if (in[0] == '\\' && in[1] == 'x' && in[2] && in[3]) {
			char h[3] = { in[2], in[3], 0 };
			*out++ = (char)strtol(h, NULL, 16);
			in += 4;
		} else *out++ = *in++;
	}
	*out = 0;
}

static char *trim(char *s)
{
	while (*s == ' ') s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n')) s[--n] = 0;
	return s;
}

#define MAXREG 64

static void test_candidates(void **st)
{
	(void)st;
	char path[1200], line[4096], text[4096];
	snprintf(path, sizeof path, "%s/candidates.txt", dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char *regbuf[MAXREG + 1] = {0};
	const char *reg[MAXREG + 1] = {0};
	int n_accept[9] = {0}, n_reject[9] = {0}, bad = 0, lineno = 0;
	char batches[32][64];
	int n_batches = 0;
	while (fgets(line, sizeof line, fp)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n') continue;
		if (!strncmp(line, "@registered ", 12)) {
			int k = 0;
			for (char *tok = strtok(line + 12, " \n"); tok && k < MAXREG; tok = strtok(NULL, " \n")) {
				regbuf[k] = strdup(tok);
				reg[k] = regbuf[k];
				k++;
			}
			continue;
		}
		char *b1 = strchr(line, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
		assert_non_null(b2);
		*b1 = *b2 = 0;
		char *batch = trim(line), *expect = trim(b1 + 1);
		unescape(trim(b2 + 1), text);
		int seen = 0;
		for (int i = 0; i < n_batches; i++) if (!strcmp(batches[i], batch)) seen = 1;
		if (!seen && n_batches < 32) snprintf(batches[n_batches++], 64, "%s", batch);
		val_facts *f = load_batch(batch);
		assert_non_null(f);
		unsigned want = 0;
		int accept = expect[0] == '+';
		for (const char *p = expect + 1; *p; p++)
			if (*p == 'S' && p[1] >= '1' && p[1] <= '8') {
				int r = p[1] - '0';
				if (accept) n_accept[r]++; else { n_reject[r]++; want |= 1u << (r - 1); }
			}
		val_sum_verdict v;
		int n = val_summary_verify(f, text, reg, &v);
		assert_true(n >= 0);
		if (v.broken != want) {
			bad++;
			print_message("candidates.txt:%d: %s %s: expected %s, got:\n", lineno, batch, expect,
			              accept ? "accepted" : "rejected by exactly those rules");
			print_message("    text: %s\n", text);
			if (!v.broken) print_message("    (accepted)\n");
			for (int r = 0; r < VAL_SUM_RULES; r++)
				if (v.broken & (1u << r)) print_message("    %s\n", v.why[r]);
		}
		val_facts_free(f);
	}
	fclose(fp);
	for (int k = 0; k < MAXREG; k++) free(regbuf[k]);
	for (int r = 1; r <= 8; r++) {
		print_message("S%d: %d must-pass, %d must-reject\n", r, n_accept[r], n_reject[r]);
		assert_true(n_accept[r] >= 8);
		assert_true(n_reject[r] >= 8);
	}
	assert_true(n_batches >= 12);
	assert_int_equal(bad, 0);
}

/* The deterministic summary is true to its facts: it passes every rule. */
static void test_deterministic_passes(void **st)
{
	(void)st;
	char fdir[1200];
	snprintf(fdir, sizeof fdir, "%s/facts", dir);
	DIR *d = opendir(fdir);
	assert_non_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json")) continue;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(len - 5), de->d_name);
		val_facts *f = load_batch(name);
		assert_non_null(f);
		char *s = val_summary_from_facts(f);
		assert_non_null(s);
		val_sum_verdict v;
		assert_true(val_summary_verify(f, s, NULL, &v) >= 0);
		if (v.broken) {
			print_message("%s: %s\n", name, s);
			for (int r = 0; r < VAL_SUM_RULES; r++)
				if (v.broken & (1u << r)) print_message("    %s\n", v.why[r]);
		}
		assert_int_equal(v.broken, 0);
		free(s);
		val_facts_free(f);
		n++;
	}
	closedir(d);
	assert_true(n >= 12);
}

static void test_spec_message(void **st)
{
	(void)st;
	val_facts *f = load_batch("single-fail");
	assert_non_null(f);
	val_sum_verdict v;
	assert_int_equal(val_summary_verify(f, "weather-pull failed at 07:45 UTC with exit 2.", NULL, &v), 1);
	assert_string_equal(v.why[2], "S3: \"exit 2\" does not match any exit status in the facts");
	val_facts_free(f);
}

static void test_deterministic_text(void **st)
{
	(void)st;
	static const struct { const char *batch, *want; } v[] = {
		{"single-fail", "weather-pull failed at 07:45 UTC with exit 1: \"error: connection refused\"."},
		{"never-pinged", "new-etl has never pinged: it was expected at 06:00 UTC."},
		{"recovery", "weather-pull recovered at 08:10 UTC. backup-db recovered at 08:12 UTC."},
		{"hung", "report-gen is hung: started at 05:00 UTC and has not finished after 3 h."},
		/* a name that is another check's slug is left out; a tail with a link is not quoted */
		{"fqdn-host", "weather-pull failed at 07:45 UTC with exit 1. backup-db (Nightly backup) recovered at 08:12 UTC."},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		val_facts *f = load_batch(v[i].batch);
		assert_non_null(f);
		char *s = val_summary_from_facts(f);
		assert_string_equal(s, v[i].want);
		free(s);
		val_facts_free(f);
	}
}

/* Output and names that would break S6 or S7 if copied stay out of the
 * deterministic summary; the rest of the sentence still goes out.  (The
 * first two were found by fuzz_summary in CI: a tail with "mailto:" and
 * one with "www." were quoted, and the summary failed its own check.) */
static void test_deterministic_hostile(void **st)
{
	(void)st;
	static const char *const tails[] = {
		"offset 745 ms exceemailto:ds limit", "see WWW.example.org for status",
		"fetch www.example.org failed", "curl: (7) http://10.0.0.1 refused",
		"disk **full** on /mnt", "rule __init__ failed", "## build failed",
		"bom \xEF\xBB\xBF here", "nonchar \xEF\xBF\xBF here", "c1 \xC2\x85 control",
		"zero\xE2\x80\x8Bwidth", "ping @oncall now", "<!here> disk full",
	};
	static const char *const names[] = {
		"WWW.example job", "mailto:ops", "db__vacuum", "\xEF\xBB\xBFnightly", "a`b",
	};
	char doc[1024], err[256];
	for (size_t i = 0; i < sizeof tails / sizeof tails[0] + sizeof names / sizeof names[0]; i++) {
		int is_tail = i < sizeof tails / sizeof tails[0];
		const char *x = is_tail ? tails[i] : names[i - sizeof tails / sizeof tails[0]];
		snprintf(doc, sizeof doc,
		         "{\"generated_at\":\"2026-11-26T08:00:00Z\",\"host\":\"h\",\"checks\":["
		         "{\"slug\":\"ntp-sync\",\"name\":\"%s\",\"state\":\"down\",\"reason\":\"exit\","
		         "\"last_fail\":\"2026-11-26T07:45:01Z\",\"exit_status\":45,\"output_tail\":\"%s\"}]}",
		         is_tail ? "ntp-sync" : x, is_tail ? x : "all good");
		val_facts *f = val_facts_parse(doc, strlen(doc), err, sizeof err);
		if (!f) print_message("%s: %s\n", x, err);
		assert_non_null(f);
		char *s = val_summary_from_facts(f);
		assert_non_null(s);
		val_sum_verdict v;
		assert_true(val_summary_verify(f, s, NULL, &v) >= 0);
		if (v.broken) print_message("%s -> %s (%s)\n", x, s, v.why[__builtin_ctz(v.broken)]);
		assert_int_equal(v.broken, 0);
		/* Still the check's sentence, without the hostile part. */
		assert_non_null(strstr(s, "ntp-sync failed at 07:45 UTC with exit 45"));
		assert_null(strstr(s, x));
		free(s);
		val_facts_free(f);
	}
}

/* A host name the rules would read as a claim, a number, a time, a link or a
 * mention is not written; "this host" stands for it.  A dotted one is. */
static void test_deterministic_host(void **st)
{
	(void)st;
	static const struct { const char *host; int kept; } v[] = {
		{"vps-1", 1}, {"vps-1.example.com", 1}, {"db01", 1}, {"my host is fine", 1},
		{"restarted", 0}, {"fixed", 0}, {"web 42", 0}, {"07:45", 0}, {"mail:25", 0},
		{"www.example.org", 0}, {"a@b", 0}, {"host `x`", 0}, {"", 0},
	};
	char doc[512], err[256], want[256];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(doc, sizeof doc, "{\"generated_at\":\"2026-11-26T08:00:00Z\",\"host\":\"%s\",\"checks\":[]}", v[i].host);
		val_facts *f = val_facts_parse(doc, strlen(doc), err, sizeof err);
		assert_non_null(f);
		char *s = val_summary_from_facts(f);
		assert_non_null(s);
		snprintf(want, sizeof want, "No check needs attention on %s.", v[i].kept ? v[i].host : "this host");
		if (strcmp(s, want)) print_message("host \"%s\": %s\n", v[i].host, s);
		assert_string_equal(s, want);
		val_sum_verdict vd;
		assert_int_equal(val_summary_verify(f, s, NULL, &vd), 0);
		free(s);
		val_facts_free(f);
	}
}

/* Parse errors name the field and what was expected. */
static void test_parse_errors(void **st)
{
	(void)st;
#define HEAD "{\"generated_at\":\"2026-11-26T08:00:00Z\",\"host\":\"h\",\"checks\":["
	static const struct { const char *doc, *want; } v[] = {
		{"{\"host\":\"h\",\"checks\":[]}", "generated_at: missing"},
		{"{\"generated_at\":\"2026-11-26 08:00\",\"host\":\"h\",\"checks\":[]}", "generated_at: expected an RFC 3339"},
		{"{\"generated_at\":\"2026-11-26T08:00:00+01:00\",\"host\":\"h\",\"checks\":[]}", "generated_at: expected an RFC 3339 UTC"},
		{"{\"generated_at\":\"2026-02-30T08:00:00Z\",\"host\":\"h\",\"checks\":[]}", "generated_at: expected"},
		{"{\"generated_at\":\"2026-11-26T08:00:00Z\",\"checks\":[]}", "host: missing"},
		{"{\"generated_at\":\"2026-11-26T08:00:00Z\",\"host\":\"h\",\"checks\":[],\"extra\":1}", "extra: unknown field"},
		{HEAD "{\"state\":\"down\",\"reason\":\"late\"}]}", "checks[0].slug: missing"},
		{HEAD "{\"slug\":\"Bad Slug\",\"state\":\"down\",\"reason\":\"late\"}]}", "checks[0].slug: expected a slug"},
		{HEAD "{\"slug\":\"a\",\"state\":\"broken\",\"reason\":\"late\"}]}", "checks[0].state: expected one of down, up, grace, unknown"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"oops\"}]}", "checks[0].reason: expected one of"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\",\"exit_status\":300}]}", "checks[0].exit_status: expected an exit status 0 to 255"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\",\"muted\":\"no\"}]}", "checks[0].muted: expected true or false"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\",\"grace_s\":-5}]}", "checks[0].grace_s: expected a whole number"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\",\"colour\":1}]}", "checks[0].colour: unknown field"},
		{HEAD "{\"slug\":\"a\",\"state\":\"up\",\"reason\":\"late\"}]}", "checks[0].reason: \"late\" with state \"up\""},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"never_pinged\",\"last_success\":\"2026-11-25T08:00:00Z\"}]}", "checks[0].reason: never_pinged, but the check has a ping on record"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\"},{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\"}]}", "checks[1].slug: \"a\" already in checks[0]"},
		{HEAD "{\"slug\":\"a\",\"state\":\"down\",\"reason\":\"late\",\"since\":12}]}", "checks[0].since: expected an RFC 3339"},
		{"{\"generated_at\":\n \"x\",,}", "line 2, column"},
		{"[1,2]", "expected a JSON object"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char err[512] = "";
		val_facts *f = val_facts_parse(v[i].doc, strlen(v[i].doc), err, sizeof err);
		if (f || !strstr(err, v[i].want))
			print_error("case %zu: got \"%s\", want \"%s\"\n", i, err, v[i].want);
		assert_null(f);
		assert_non_null(strstr(err, v[i].want));
	}
}

/* Writing the facts back gives the same document. */
static void test_roundtrip(void **st)
{
	(void)st;
	static const char *const batches[] = { "many-failures", "unicode", "unknown-state", "single-late" };
	for (size_t i = 0; i < 4; i++) {
		val_facts *f = load_batch(batches[i]);
		assert_non_null(f);
		char *j1 = val_facts_to_json(f), err[256];
		assert_non_null(j1);
		val_facts *g = val_facts_parse(j1, strlen(j1), err, sizeof err);
		assert_non_null(g);
		char *j2 = val_facts_to_json(g);
		assert_string_equal(j1, j2);
		assert_int_equal(g->n_checks, f->n_checks);
		for (size_t k = 0; k < f->n_checks; k++) {
			assert_string_equal(g->checks[k].slug, f->checks[k].slug);
			assert_true(g->checks[k].last_success == f->checks[k].last_success);
			assert_int_equal(g->checks[k].exit_status, f->checks[k].exit_status);
		}
		free(j1);
		free(j2);
		val_facts_free(g);
		val_facts_free(f);
	}
}

/* Caller-built facts (as `vigil status --facts` makes them) are written too. */
static void test_build_facts(void **st)
{
	(void)st;
	val_fact_check k[1] = {{ .slug = "nightly-job", .name = "Nightly job", .state = VAL_FACT_DOWN,
		.reason = VAL_FACT_FAIL, .since = 1795000000, .expected_at = VAL_NO_TIME,
		.last_start = VAL_NO_TIME, .last_success = VAL_NO_TIME, .last_fail = 1795000000,
		.grace_s = 60, .exit_status = 2, .duration_s = -1 }};
	val_facts f = { .generated_at = 1795000100, .host = "h", .n_checks = 1, .checks = k };
	char *j = val_facts_to_json(&f), err[256];
	assert_non_null(j);
	assert_non_null(strstr(j, "\"last_fail\":\t\"2026-11-18T"));
	val_facts *g = val_facts_parse(j, strlen(j), err, sizeof err);
	assert_non_null(g);
	assert_int_equal(g->checks[0].exit_status, 2);
	assert_true(g->checks[0].expected_at == VAL_NO_TIME);
	val_facts_free(g);
	free(j);
}

int main(void)
{
	setup_dir();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_deterministic_passes),
		cmocka_unit_test(test_spec_message),
		cmocka_unit_test(test_deterministic_text),
		cmocka_unit_test(test_deterministic_hostile),
		cmocka_unit_test(test_deterministic_host),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_build_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
