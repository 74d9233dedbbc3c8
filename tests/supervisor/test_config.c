/* Unit tests: duration parsing and the config file reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/cli.h"

static void test_duration_ok(void **st)
{
	(void)st;
	static const struct { const char *in; long long want; } v[] = {
		{"0", 0}, {"90", 90}, {"90s", 90}, {"15m", 900}, {"1h30m", 5400},
		{"2d", 172800}, {"1w", 604800}, {"1h1s", 3601},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		long long s = -1; const char *why = NULL;
		assert_int_equal(vigil_parse_duration(v[i].in, &s, &why), 0);
		assert_int_equal(s, v[i].want);
	}
}

static void test_duration_bad(void **st)
{
	(void)st;
	static const char *bad[] = {"", "m", "-5m", "5x", "1h30", "1.5h", " 5m", "5m ",
	                            "99999999999999999999", "5000w"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long long s = 1234; const char *why = NULL;
		assert_int_equal(vigil_parse_duration(bad[i], &s, &why), -1);
		assert_non_null(why);
		assert_int_equal(s, 1234);
	}
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/vigil-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_config_values(void **st)
{
	(void)st;
	char *p = write_tmp("# comment\n\nslack_webhook = \"http://x/y\"\n"
	                    "validator.ping_patterns = health_run(\"{slug}\")\n"
	                    "validator.ping_patterns = notify {slug}\n  grace=5m  \n");
	char err[256];
	vigil_config *c = cfg_load(p, err, sizeof err);
	assert_non_null(c);
	assert_string_equal(cfg_get(c, "slack_webhook"), "http://x/y");
	assert_string_equal(cfg_get_nth(c, "validator.ping_patterns", 0), "health_run(\"{slug}\")");
	assert_string_equal(cfg_get_nth(c, "validator.ping_patterns", 1), "notify {slug}");
	assert_null(cfg_get_nth(c, "validator.ping_patterns", 2));
	assert_string_equal(cfg_get(c, "grace"), "5m");
	assert_null(cfg_get(c, "missing"));
	assert_int_equal(cfg_set(c, "grace", "1m"), 0);
	assert_string_equal(cfg_get(c, "grace"), "1m");
	cfg_free(c);
	unlink(p);
	free(p);
}

static void test_config_errors(void **st)
{
	(void)st;
	char *p = write_tmp("ok = 1\nthis line has no equals\n");
	char err[256];
	assert_null(cfg_load(p, err, sizeof err));
	char want[300];
	snprintf(want, sizeof want, "%s:2: expected \"key = value\"", p);
	assert_string_equal(err, want);
	unlink(p);
	free(p);
	assert_null(cfg_load("/nonexistent/vigil.conf", err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent/vigil.conf: cannot open config file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_ok),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
