/* Whole-file parser: env lines, jobs, comments and directive comments above
 * jobs, '%' in commands, and every file-level rule with its error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crontab/crontab.h"

static crontab_file *parse(const char *text, int want_rc)
{
	crontab_file *f = NULL;
	int rc = crontab_parse("t.cron", text, strlen(text), &f);
	assert_non_null(f);
	if (rc != want_rc) {
		for (size_t i = 0; i < f->n_errors; i++)
			print_message("t.cron:%d:%d: %s\n", f->errors[i].line, f->errors[i].col, f->errors[i].msg);
		fail_msg("rc %d, want %d", rc, want_rc);
	}
	return f;
}

static void test_whole_file(void **st)
{
	(void)st;
	const char *text =
		"# m h dom mon dow command\n"
		"SHELL=/bin/bash\n"
		"  MAILTO = \"ops@example.com\"  \n"
		"\n"
		"# vigil: backup-nightly\n"
		"30 2 * * * /usr/local/bin/backup --all  \n"
		"CRON_TZ=Europe/London\n"
		"\t@daily  vigil run cleanup -- rm -rf /tmp/x\n"
		"\n"
		"# vigil: report\n"
		"\n"
		"0 9 * * mon-fri mail -s hi joe%Dear Joe,%100\\% done\\n%\n"
		"*/5 * * * * date +\\%s >> /tmp/log\n";
	crontab_file *f = parse(text, 0);
	assert_int_equal(f->n_lines, 13);
	assert_int_equal(f->n_jobs, 4);
	assert_int_equal(f->n_envs, 3);
	assert_int_equal(f->n_comments, 3);
	assert_string_equal(f->envs[0].name, "SHELL");
	assert_string_equal(f->envs[0].value, "/bin/bash");
	assert_string_equal(f->envs[1].name, "MAILTO");
	assert_string_equal(f->envs[1].value, "ops@example.com");
	assert_int_equal(f->envs[2].line, 7);

	const crontab_job *j = &f->jobs[0];
	assert_int_equal(j->line, 6);
	assert_string_equal(j->schedule, "30 2 * * *");
	assert_string_equal(j->command, "/usr/local/bin/backup --all  ");
	assert_int_equal(j->col_command, 12);
	assert_int_equal(j->col_field[0], 1);
	assert_int_equal(j->col_field[4], 10);
	assert_non_null(j->comment_above);
	assert_int_equal(j->comment_above->line, 5);
	assert_string_equal(j->comment_above->text, "# vigil: backup-nightly");
	assert_int_equal(j->n_env, 2);
	assert_string_equal(crontab_job_env(f, j, "SHELL"), "/bin/bash");
	assert_null(crontab_job_env(f, j, "CRON_TZ"));

	j = &f->jobs[1];
	assert_int_equal(j->line, 8);
	assert_int_equal(j->expr.macro, CRON_MACRO_DAILY);
	assert_string_equal(j->schedule, "@daily");
	assert_int_equal(j->col_field[0], 2);
	assert_int_equal(j->col_command, 10);
	assert_null(j->comment_above);  /* line 7 is an env line */
	assert_string_equal(crontab_job_env(f, j, "CRON_TZ"), "Europe/London");

	j = &f->jobs[2];
	assert_int_equal(j->line, 12);
	assert_null(j->comment_above);  /* blank line between */
	assert_string_equal(j->shell_command, "mail -s hi joe");
	assert_string_equal(j->input, "Dear Joe,\n100% done\\n\n");  /* ends in '%': no extra newline */

	j = &f->jobs[3];
	assert_string_equal(j->shell_command, "date +%s >> /tmp/log");
	assert_null(j->input);
	crontab_free(f);
}

static void test_percent(void **st)
{
	(void)st;
	static const struct { const char *cmd, *sh, *in; } v[] = {
		{ "echo a", "echo a", NULL },
		{ "echo a%b", "echo a", "b\n" },
		{ "echo a%b%c%", "echo a", "b\nc\n" },
		{ "echo a%", "echo a", "" },
		{ "date +\\%s", "date +%s", NULL },
		{ "echo \\\\%x", "echo \\\\", "x\n" },          /* escaped backslash, then a real % */
		{ "echo \\n%a\\%b\\nc", "echo \\n", "a%b\\nc\n" },
		{ "echo %a\\", "echo ", "a\n" },                  /* a final lone backslash goes */
		{ "printf '%%'", "printf '", "\n'\n" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char buf[256];
		snprintf(buf, sizeof buf, "0 0 * * * %s\n", v[i].cmd);
		crontab_file *f = parse(buf, 0);
		assert_string_equal(f->jobs[0].command, v[i].cmd);
		if (strcmp(f->jobs[0].shell_command, v[i].sh))
			fail_msg("%s: shell part \"%s\", want \"%s\"", v[i].cmd, f->jobs[0].shell_command, v[i].sh);
		if (!v[i].in) assert_null(f->jobs[0].input);
		else if (!f->jobs[0].input || strcmp(f->jobs[0].input, v[i].in))
			fail_msg("%s: input \"%s\", want \"%s\"", v[i].cmd, f->jobs[0].input ? f->jobs[0].input : "(null)", v[i].in);
		crontab_free(f);
	}
}

static void test_env_lines(void **st)
{
	(void)st;
	static const struct { const char *line, *name, *value; } v[] = {
		{ "A=1", "A", "1" },
		{ "A = 1", "A", "1" },
		{ "A=  spaced value  ", "A", "spaced value" },
		{ "A=\" kept \"", "A", " kept " },
		{ "A=' kept '", "A", " kept " },
		{ "A=\"\"", "A", "" },
		{ "A=''", "A", "" },
		{ "\"A B\"=c", "A B", "c" },
		{ "A=b=c", "A", "b=c" },
		{ "A=\"x\"   ", "A", "x" },
		{ "PATH=/usr/bin:/bin", "PATH", "/usr/bin:/bin" },
		{ "A=1\r", "A", "1" },  /* an unquoted value is trimmed of white space, \r included */
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char buf[128];
		snprintf(buf, sizeof buf, "%s\n", v[i].line);
		crontab_file *f = parse(buf, 0);
		if (f->n_envs != 1) fail_msg("\"%s\" is not an env line", v[i].line);
		assert_string_equal(f->envs[0].name, v[i].name);
		assert_string_equal(f->envs[0].value, v[i].value);
		crontab_free(f);
	}
	/* not env lines: read as jobs, which then fail */
	static const char *const notenv[] = { "A=", "A=  ", "A=\"x\" y", "A=\"x", "\"A=B\"=c", "A B=c" };
	for (size_t i = 0; i < sizeof notenv / sizeof notenv[0]; i++) {
		char buf[128];
		snprintf(buf, sizeof buf, "%s\n", notenv[i]);
		crontab_file *f = parse(buf, 1);
		assert_int_equal(f->n_envs, 0);
		assert_int_equal(f->errors[0].line, 1);
		crontab_free(f);
	}
}

static const struct err_case {
	const char *text;
	int line, col;
	const char *msg;
	size_t len;  /* 0: strlen */
} err_cases[] = {
	{ "0 0 * * *\n", 1, 10, "empty command; Debian's cron would accept the line", 0 },
	{ "@reboot   \n", 1, 11, "empty command", 0 },
	{ "0 0 * * * echo hi\r\n", 1, 18, "command ends with a carriage return (CRLF line ending)", 0 },
	{ "\xef\xbb\xbfSHELL=/bin/sh\n", 1, 1, "UTF-8 byte order mark", 0 },
	{ "# ok\n0 0 * * * x", 2, 12, "missing newline at the end of the file", 0 },
	{ "A=1", 1, 4, "missing newline at the end of the file", 0 },
	{ "FOO=\n", 1, 1, "\"FOO=\" is not a valid environment setting (an empty value needs quotes", 0 },
	{ "\r\n", 1, 1, "line holds only a carriage return", 0 },
	{ "\n\n  5; * * * * x\n", 3, 4, "';' follows \"5\"", 0 },
	{ "0 0 30 2 * x\n", 1, 5, "never fires", 0 },
	{ "0 0 * * * a\0b\n", 1, 12, "NUL byte", 14 },
	{ "* * * * x\n", 1, 9, "day-of-week field: unknown name \"x\"", 0 },
	{ "@daily\n", 1, 7, "empty command", 0 },
};

static void test_errors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
		const struct err_case *c = &err_cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		crontab_file *f = NULL;
		int rc = crontab_parse("t.cron", c->text, len, &f);
		assert_int_equal(rc, 1);
		if (f->n_errors < 1 || f->errors[0].line != c->line || f->errors[0].col != c->col ||
		    !strstr(f->errors[0].msg, c->msg))
			fail_msg("case %zu: want %d:%d \"%s\", got %d:%d \"%s\"", i, c->line, c->col, c->msg,
			         f->n_errors ? f->errors[0].line : 0, f->n_errors ? f->errors[0].col : 0,
			         f->n_errors ? f->errors[0].msg : "(none)");
		crontab_free(f);
	}
}

static void test_all_errors_reported(void **st)
{
	(void)st;
	const char *text =
		"0 0 * * * ok\n"
		"60 0 * * * bad minute\n"
		"# fine\n"
		"0 0 * * 8 bad dow\n"
		"0 0 * * * ok again\n"
		"5-1 * * * * reversed\n";
	crontab_file *f = parse(text, 1);
	assert_int_equal(f->n_errors, 3);
	assert_int_equal(f->errors[0].line, 2);
	assert_int_equal(f->errors[1].line, 4);
	assert_int_equal(f->errors[1].col, 9);
	assert_int_equal(f->errors[2].line, 6);
	assert_int_equal(f->n_jobs, 2);  /* the good ones are still listed */
	crontab_free(f);
}

static void test_limits(void **st)
{
	(void)st;
	/* command: 998 bytes fine, 999 refused (Debian: "command too long") */
	char *buf = malloc(20000);
	assert_non_null(buf);
	for (int n = 998; n <= 999; n++) {
		int k = sprintf(buf, "0 0 * * * ");
		memset(buf + k, 'a', (size_t)n);
		strcpy(buf + k + n, "\n");
		crontab_file *f = parse(buf, n == 998 ? 0 : 1);
		if (n == 999) assert_non_null(strstr(f->errors[0].msg, "command is 999 bytes long"));
		crontab_free(f);
	}
	/* env line: 999 bytes fine, longer refused (Debian truncates silently) */
	for (int n = 999; n <= 1000; n++) {
		memcpy(buf, "A=", 2);
		memset(buf + 2, 'v', (size_t)n - 2);
		strcpy(buf + n, "\n");
		crontab_file *f = parse(buf, n == 999 ? 0 : 1);
		if (n == 1000) assert_non_null(strstr(f->errors[0].msg, "silently cut it"));
		crontab_free(f);
	}
	free(buf);
	/* 10 000 lines fine, 10 001 refused */
	buf = malloc(10002 * 2 + 1);
	assert_non_null(buf);
	for (int n = 10000; n <= 10001; n++) {
		for (int i = 0; i < n; i++) { buf[2 * i] = '#'; buf[2 * i + 1] = '\n'; }
		buf[2 * n] = 0;
		crontab_file *f = parse(buf, n == 10000 ? 0 : 1);
		if (n == 10001) {
			assert_int_equal(f->errors[0].line, 10001);
			assert_non_null(strstr(f->errors[0].msg, "more than 10000 lines"));
		}
		crontab_free(f);
	}
	free(buf);
	/* a last comment line without a newline is fine (Debian accepts it) */
	crontab_file *f = parse("0 0 * * * x\n# end", 0);
	crontab_free(f);
	f = parse("", 0);
	assert_int_equal(f->n_lines, 0);
	crontab_free(f);
}

static void test_read_file(void **st)
{
	(void)st;
	char path[] = "/tmp/vigil-crontab-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "MAILTO=\"\"\n# vigil: x\n@hourly true\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	crontab_file *f = NULL;
	cron_error err;
	assert_int_equal(crontab_parse_file(path, &f, &err), 0);
	assert_string_equal(f->path, path);
	assert_int_equal(f->n_jobs, 1);
	assert_string_equal(f->jobs[0].comment_above->text, "# vigil: x");
	crontab_free(f);
	unlink(path);
	assert_int_equal(crontab_parse_file(path, &f, &err), -1);
	assert_null(f);
	assert_non_null(strstr(err.msg, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_file),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_env_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
