/* tests/apply/test_apply_unit.c — the pieces of the safe apply that need no
 * cron: SHA-256, the execve runner (exit status, stderr, timeout), the job
 * view and its diff, and step 8's read-back comparison with Vixie's header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crontab/apply_internal.h"
#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_sha256(void **state)
{
	(void)state;
	char h[65];
	reg_sha256_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	reg_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the padding spills into a second block */
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	reg_sha256_hex(m, strlen(m), h);
	assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	char *a = malloc(1000000);
	assert_non_null(a);
	memset(a, 'a', 1000000);
	reg_sha256_hex(a, 1000000, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

static void test_exec_status_and_stderr(void **state)
{
	(void)state;
	char sh[256], msg[256];
	assert_int_equal(ca_which("sh", sh, sizeof sh), 0);
	char *argv[] = { "sh", "-c", "printf out; echo 'bad minute' >&2; exit 3", NULL };
	ca_run r;
	assert_int_equal(ca_exec(sh, argv, 10, &r, msg, sizeof msg), 0);
	assert_true(r.exited);
	assert_int_equal(r.code, 3);
	assert_false(r.timed_out);
	assert_string_equal(r.out.p, "out");
	assert_string_equal(r.err.p, "bad minute\n");
	ca_run_describe(&r, 10, msg, sizeof msg);
	assert_string_equal(msg, "exit status 3; stderr: bad minute");
	ca_run_free(&r);

	/* no shell involved: the argument reaches the program unsplit */
	char *argv2[] = { "sh", "-c", "printf '%s|' \"$0\"", "a b;c", NULL };
	assert_int_equal(ca_exec(sh, argv2, 10, &r, msg, sizeof msg), 0);
	assert_string_equal(r.out.p, "a b;c|");
	ca_run_free(&r);

	char *argv3[] = { "nope", NULL };
	assert_int_equal(ca_exec("/nonexistent/crontab", argv3, 10, &r, msg, sizeof msg), 0);
	assert_int_equal(r.code, 127);
	assert_non_null(strstr(r.err.p, "execve"));
	ca_run_free(&r);
	assert_int_equal(ca_which("no-such-program-vigil", sh, sizeof sh), -1);
}

static void test_exec_timeout(void **state)
{
	(void)state;
	char sh[256], msg[256];
	assert_int_equal(ca_which("sh", sh, sizeof sh), 0);
	/* the grandchild keeps the pipes open: the timeout must still end it */
	char *argv[] = { "sh", "-c", "echo started >&2; exec sleep 30", NULL };
	ca_run r;
	time_t t0 = time(NULL);
	assert_int_equal(ca_exec(sh, argv, 1, &r, msg, sizeof msg), 0);
	assert_true(r.timed_out);
	assert_false(r.exited);
	assert_true(time(NULL) - t0 < 10);
	ca_run_describe(&r, 1, msg, sizeof msg);
	assert_non_null(strstr(msg, "timed out after 1s"));
	assert_non_null(strstr(msg, "started"));
	ca_run_free(&r);
}

static void test_jobs_parse(void **state)
{
	(void)state;
	const char *t =
		"SHELL=/bin/sh\n"
		"MAILTO = ops@example.org\n"
		"# a comment\n"
		"# vigil: backup-db\n"
		"\n"
		"0 3 * * *   /usr/local/bin/backup --full\n"
		"*/5 * * * * /usr/bin/vigil run poll-api -- curl -s x\n"
		"# vigil: ignore one-off, removed next week\n"
		"@reboot /opt/start\n"
		"@daily vigil run rotate -- logrotate /etc/x\n"
		"garbage\n";
	ca_jobs j;
	assert_int_equal(ca_jobs_parse(t, strlen(t), &j), 0);
	assert_int_equal(j.n, 5);
	assert_string_equal(j.v[0].slug, "backup-db");
	assert_string_equal(j.v[0].schedule, "0 3 * * *");
	assert_string_equal(j.v[0].command, "/usr/local/bin/backup --full");
	assert_int_equal(j.v[0].lineno, 6);
	assert_string_equal(j.v[1].slug, "poll-api");
	assert_null(j.v[2].slug);                 /* ignored */
	assert_string_equal(j.v[2].schedule, "@reboot");
	assert_string_equal(j.v[3].slug, "rotate");
	assert_string_equal(j.v[3].schedule, "@daily");
	assert_null(j.v[4].slug);
	assert_string_equal(j.v[4].schedule, "");   /* kept whole for the diff */
	ca_jobs_free(&j);

	assert_int_equal(ca_jobs_parse("# only\n\n  # comments\nX=1\n", 24, &j), 0);
	assert_int_equal(j.n, 0);
	ca_jobs_free(&j);
}

static void test_jobs_diff(void **state)
{
	(void)state;
	const char *a = "# vigil: a\n0 3 * * * /a\n5 * * * * vigil run b -- /b\n1 1 * * * /plain\n2 2 * * * /gone\n";
	const char *b = "# vigil: a\n0 4 * * * /a\n5 * * * * vigil run b -- /b --new\n1 1 * * * /plain\n# vigil: c\n9 9 * * * /c\n";
	ca_jobs ja, jb;
	assert_int_equal(ca_jobs_parse(a, strlen(a), &ja), 0);
	assert_int_equal(ca_jobs_parse(b, strlen(b), &jb), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ca_diff_count c;
	ca_jobs_diff(&ja, &jb, f, "", &c);
	fclose(f);
	assert_int_equal(c.added, 1);
	assert_int_equal(c.removed, 1);
	assert_int_equal(c.changed, 2);
	assert_int_equal(c.unchanged, 1);
	assert_non_null(strstr(buf, "~ a: schedule \"0 3 * * *\" -> \"0 4 * * *\"\n"));
	assert_non_null(strstr(buf, "~ b: command"));
	assert_non_null(strstr(buf, "- (no slug, line 5): 2 2 * * * /gone\n"));
	assert_non_null(strstr(buf, "+ c: 9 9 * * *  /c\n"));
	free(buf);
	ca_jobs_free(&ja);
	ca_jobs_free(&jb);
}

static void set(ca_buf *b, const char *s)
{
	ca_buf_free(b);
	assert_int_equal(ca_buf_append(b, s, strlen(s)), 0);
}

static void test_same_as_meant(void **state)
{
	(void)state;
	const char *want = "0 3 * * * /a\n";
	const char *tmp = "/tmp/vigil-crontab-u-AbC123";
	ca_buf got = {0};
	set(&got, want);
	assert_true(ca_same_as_meant(&got, want, strlen(want), tmp));
	set(&got, "0 3 * * * /a\n\n");
	assert_false(ca_same_as_meant(&got, want, strlen(want), tmp));
	/* the header Vixie cron writes for this very install is recognised */
	set(&got, "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
	          "# (/tmp/vigil-crontab-u-AbC123 installed on Thu Nov 26 09:51:43 2026)\n"
	          "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n"
	          "0 3 * * * /a\n");
	assert_true(ca_same_as_meant(&got, want, strlen(want), tmp));
	/* ... but not one naming another file, nor a partial one */
	set(&got, "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
	          "# (/tmp/other installed on Thu Nov 26 09:51:43 2026)\n"
	          "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n"
	          "0 3 * * * /a\n");
	assert_false(ca_same_as_meant(&got, want, strlen(want), tmp));
	set(&got, "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
	          "# (/tmp/vigil-crontab-u-AbC123 installed on Thu Nov 26 09:51:43 2026)\n"
	          "0 3 * * * /a\n");
	assert_false(ca_same_as_meant(&got, want, strlen(want), tmp));
	/* an empty crontab read back as empty */
	set(&got, "");
	assert_true(ca_same_as_meant(&got, "", 0, tmp));
	ca_buf_free(&got);
}

static void test_strip_vigil_header(void **state)
{
	(void)state;
	const char *h1 = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n";
	const char *h3 = "# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n";
	char text[512];
	ca_buf b = {0};
	snprintf(text, sizeof text, "%s# (/tmp/vigil-crontab-bob-Ab12Cd installed on Thu Nov 26 09:51:43 2026)\n%s0 3 * * * /a\n", h1, h3);
	set(&b, text);
	assert_int_equal(ca_strip_vigil_header(&b, "bob"), 1);
	assert_string_equal(b.p, "0 3 * * * /a\n");
	/* another user's file name, another program's file, a broken header: content */
	const char *keep[] = {
		"# (/tmp/vigil-crontab-alice-Ab12Cd installed on X)\n",
		"# (/tmp/mycron installed on X)\n",
		"# (/tmp/vigil-crontab-bob-Ab12C installed on X)\n",
		"# (/tmp/vigil-crontab-bob-Ab12Cd installed on X\n",
	};
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		snprintf(text, sizeof text, "%s%s%s0 3 * * * /a\n", h1, keep[i], h3);
		set(&b, text);
		assert_int_equal(ca_strip_vigil_header(&b, "bob"), 0);
		assert_string_equal(b.p, text);
	}
	ca_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_exec_status_and_stderr),
		cmocka_unit_test(test_exec_timeout),
		cmocka_unit_test(test_jobs_parse),
		cmocka_unit_test(test_jobs_diff),
		cmocka_unit_test(test_same_as_meant),
		cmocka_unit_test(test_strip_vigil_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
