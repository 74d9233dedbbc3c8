/* tests/validator/test_validator.c — unit tests for the validator's parts:
 * ping-call detection, command analysis, the registry file (load, export,
 * import with and without --prune), the report's two forms, the ShellCheck
 * runner (timeout, cache) and the gate.  The rules themselves are covered
 * case by case by the golden tests (test_golden.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "validator/val_internal.h"
#include "registry/registry.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void write_file(const char *rel, const char *content, mode_t mode)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
	char d[512];
	snprintf(d, sizeof d, "%s", p);
	for (char *s = d + strlen(tmpdir) + 1; *s; s++)
		if (*s == '/') { *s = '\0'; mkdir(d, 0755); *s = '/'; }
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(p, mode);
}

static const char *path_of(const char *rel)
{
	static char p[8][512];
	static int k;
	k = (k + 1) % 8;
	snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, rel);
	return p[k];
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/vigil-valtest-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- ping calls ---------------------------------------------------------- */

static void expect_pings(const char *text, const char *const *patterns, const char *want)
{
	char **s = NULL;
	size_t n = 0;
	assert_int_equal(val_ping_calls(text, strlen(text), patterns, &s, NULL, &n), 0);
	char got[512] = "";
	for (size_t i = 0; i < n; i++) { strcat(got, i ? "," : ""); strcat(got, s[i]); }
	if (strcmp(got, want)) fail_msg("text %s: got [%s], want [%s]", text, got, want);
	val_strv_free(s, n);
}

static void test_ping_calls(void **state)
{
	(void)state;
	const char *pat[] = {"health_run(\"{slug}\")", "hc_ping('{slug}')", NULL};
	expect_pings("vigil ping backup\n", NULL, "backup");
	expect_pings("/usr/local/bin/vigil ping backup start\n", NULL, "backup");
	expect_pings("vigil --db /x/v.db ping 'backup-db' fail\n", NULL, "backup-db");
	expect_pings("exec vigil run nightly -- ./x\n", NULL, "nightly");
	expect_pings("curl -fsS https://hc.example/ping/abc123/etl-load?rid=1\n", NULL, "etl-load");
	expect_pings("curl \"https://hc/ping/${KEY}/etl\"\n", NULL, "etl");
	expect_pings("S=weather\nvigil ping \"$S\"\n", NULL, "weather");
	expect_pings("export SLUG='x-1'\ncurl https://h/ping/k/${SLUG}\n", NULL, "x-1");
	expect_pings("subprocess.run([\"vigil\", \"ping\", \"py-job\"])\n", NULL, "py-job");
	expect_pings("with health_run(\"report\"):\n", pat, "report");
	expect_pings("hc_ping('a'); hc_ping('b')\n", pat, "a,b");
	/* near misses */
	expect_pings("# vigil ping backup\n   # curl https://h/ping/k/backup\n", NULL, "");
	expect_pings("vigilant ping backup\nxvigil ping y\n", NULL, "");
	expect_pings("vigil pingx backup\n", NULL, "");
	expect_pings("with health_run(\"report\"):\n", NULL, "");
	expect_pings("health_run(\"report\", 1)\n", pat, "");
	expect_pings("vigil ping \"$UNSET\"\n", NULL, "");
	expect_pings("curl https://h/ping/k/\n", NULL, "");
	expect_pings("", NULL, "");
	/* a shared runner: $1 is the script's first argument */
	const char *args[] = {"weather-pull", "--quiet", NULL};
	char **sl = NULL;
	size_t n = 0;
	const char *runner = "#!/bin/sh\nvigil ping \"$1\" start\n\"$@\"\ncurl https://h/ping/k/$2\n";
	assert_int_equal(val_ping_calls_args(runner, strlen(runner), NULL, args, &sl, NULL, &n), 0);
	assert_int_equal(n, 1);   /* "--quiet" is no slug */
	assert_string_equal(sl[0], "weather-pull");
	val_strv_free(sl, n);
	assert_int_equal(val_ping_calls_args(runner, strlen(runner), NULL, NULL, &sl, NULL, &n), 0);
	assert_int_equal(n, 0);
	val_strv_free(sl, n);
}

/* ---- command analysis ------------------------------------------------------ */

static void expect_cmd(const char *cmd, const char *script, int exec, const char *wrapper)
{
	val_job j = {0};
	j.cmd_col = 1;
	val_command_analyse(cmd, NULL, "/home/ops", &j);
	if ((script == NULL) != (j.script == NULL) || (script && strcmp(script, j.script)))
		fail_msg("%s: script %s, want %s", cmd, j.script ? j.script : "(none)", script ? script : "(none)");
	if (script) assert_int_equal(j.script_exec, exec);
	if ((wrapper == NULL) != (j.wrapper_slug == NULL) || (wrapper && strcmp(wrapper, j.wrapper_slug)))
		fail_msg("%s: wrapper %s, want %s", cmd, j.wrapper_slug ? j.wrapper_slug : "(none)", wrapper ? wrapper : "(none)");
	free(j.script);
	free(j.wrapper_slug);
	for (int k = 0; k < 9; k++) free(j.args[k]);
}

static void test_command_analysis(void **state)
{
	(void)state;
	expect_cmd("/opt/jobs/a.sh --full", "/opt/jobs/a.sh", 1, NULL);
	expect_cmd("~/bin/a.sh", "/home/ops/bin/a.sh", 1, NULL);
	expect_cmd("bin/a.sh > /dev/null 2>&1", "/home/ops/bin/a.sh", 1, NULL);
	expect_cmd("bash -x ~/a.sh", "/home/ops/a.sh", 0, NULL);
	expect_cmd("/usr/bin/python3 -u -W ignore jobs/p.py arg", "/home/ops/jobs/p.py", 0, NULL);
	expect_cmd("python3 -m pkg.mod", NULL, 0, NULL);
	expect_cmd("sh -c 'echo hi'", NULL, 0, NULL);
	expect_cmd("pg_dump app > x.sql", NULL, 0, NULL);
	expect_cmd("vigil run nightly --timeout 1h -- /opt/n.sh", "/opt/n.sh", 1, "nightly");
	expect_cmd("vigil --db /v.db run nightly -- pg_dump app", NULL, 0, "nightly");
	expect_cmd("cd /srv/app && ./run.sh", "/srv/app/run.sh", 1, NULL);
	expect_cmd("LANG=C timeout -s KILL 5m nice -n 5 flock -n /tmp/l /opt/x.sh", "/opt/x.sh", 1, NULL);
	expect_cmd("/opt/\"my job\".sh", "/opt/my job.sh", 1, NULL);
	expect_cmd("/opt/a.sh %with stdin", "/opt/a.sh", 1, NULL);
	expect_cmd("$NOPE/x.sh", "\x01NOPE\x01$NOPE/x.sh", 1, NULL);
	expect_cmd(". ~/lib/env.sh", "/home/ops/lib/env.sh", 0, NULL);
	expect_cmd("exec /opt/x.sh", "/opt/x.sh", 1, NULL);
	expect_cmd("/usr/bin/env bash /opt/y.sh", "/opt/y.sh", 0, NULL);
}

/* ---- registry file ------------------------------------------------------------ */

static void expect_load_error(const char *json, const char *want)
{
	write_file("bad.json", json, 0644);
	val_regfile *f = NULL;
	char err[512];
	assert_int_equal(val_regfile_load(path_of("bad.json"), &f, err, sizeof err), VAL_EINPUT);
	assert_null(f);
	if (!strstr(err, want)) fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void test_regfile_errors(void **state)
{
	(void)state;
	expect_load_error("{\"version\":1,\"checks\":[\n{\"slug\":\"a\",}\n]}", "bad.json:2:");
	expect_load_error("{\"version\":2,\"checks\":[]}", "version 1");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"Bad\"}]}", "slug: expected");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\"},\n {\"slug\":\"a\"}]}", "bad.json:2:3: check \"a\" is declared twice");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\",\"grace\":\"soon\"}]}", "grace:");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\",\"source\":\"external\"}]}", "declare \"schedule\" or \"period\"");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\",\"period\":\"5m\"}]}", "source");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\",\"mute\":{\"until\":\"tomorrow\"}}]}", "mute.until");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\",\"mute\":{\"reason\":\"x\"}}]}", "mute:");
	expect_load_error("[]", "expected an object");
	expect_load_error("{\"version\":1,\"checks\":[{\"slug\":\"a\",\"sched\":\"x\"}]}", "unknown field \"sched\"");
	write_file("nul.json", "", 0644);
	FILE *fp = fopen(path_of("nul.json"), "w");
	fwrite("{\"a\0\"}", 1, 6, fp);
	fclose(fp);
	val_regfile *f = NULL;
	char err[512];
	assert_int_equal(val_regfile_load(path_of("nul.json"), &f, err, sizeof err), VAL_EINPUT);
	assert_int_equal(val_regfile_load(path_of("missing.json"), &f, err, sizeof err), VAL_EINPUT);
	assert_non_null(strstr(err, "No such file"));
}

static size_t count_kind(const val_change *c, size_t n, val_change_kind k)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) m += c[i].kind == k;
	return m;
}

static void test_import_export_roundtrip(void **state)
{
	(void)state;
	write_file("ct/crontab.txt", "# vigil: nightly\n15 2 * * * /opt/n.sh\n", 0644);
	write_file("reg1.json",
	           "{\"version\":1,\"checks\":[\n"
	           " {\"slug\":\"nightly\",\"name\":\"Nightly\",\"tags\":[\"db\",\"backup\"],\"grace\":\"30m\",\"max_runtime\":\"2h\"},\n"
	           " {\"slug\":\"nas\",\"source\":\"external\",\"schedule\":\"0 */6 * * *\",\"tz\":\"Europe/Berlin\",\n"
	           "  \"mute\":{\"until\":\"2030-01-01T00:00:00Z\",\"reason\":\"moving\"}},\n"
	           " {\"slug\":\"beat\",\"source\":\"external\",\"period\":\"10m\",\"paused\":true}\n]}\n", 0644);
	reg_db *db = NULL;
	char msg[512], err[512];
	assert_int_equal(reg_open(path_of("v.db"), &db, msg, sizeof msg), REG_OK);
	val_regfile *f = NULL;
	assert_int_equal(val_regfile_load(path_of("reg1.json"), &f, err, sizeof err), VAL_OK);
	assert_int_equal(val_regfile_count(f), 3);
	val_change *ch = NULL;
	size_t n = 0, nrm = 0;
	/* dry run: three adds, nothing written */
	assert_int_equal(val_registry_import(db, f, path_of("ct/crontab.txt"), "UTC", 0, 0, 1000, &ch, &n, &nrm, err, sizeof err), VAL_OK);
	assert_int_equal(count_kind(ch, n, VAL_CHANGE_ADD), 3);
	free(ch);
	reg_check *cs = NULL;
	size_t ncs = 0;
	assert_int_equal(reg_check_list(db, &cs, &ncs), REG_OK);
	assert_int_equal(ncs, 0);
	free(cs);
	assert_int_equal(val_registry_import(db, f, path_of("ct/crontab.txt"), "UTC", 1, 0, 1000, &ch, &n, &nrm, err, sizeof err), VAL_OK);
	free(ch);
	reg_check c;
	assert_int_equal(reg_check_get(db, "nightly", &c), REG_OK);
	assert_string_equal(c.schedule, "15 2 * * *");
	assert_string_equal(c.source, "crontab");
	assert_string_equal(c.tz, "UTC");
	assert_string_equal(c.tags, "db backup");
	assert_int_equal(c.grace_s, 1800);
	assert_int_equal(c.max_runtime_s, 7200);
	assert_string_equal(c.crontab_line, "15 2 * * * /opt/n.sh");
	assert_int_equal(reg_check_get(db, "beat", &c), REG_OK);
	assert_int_equal(c.period_s, 600);
	assert_int_equal(c.paused, 1);
	/* export, load the export, import it: no change */
	FILE *out = fopen(path_of("export.json"), "w");
	assert_int_equal(val_regfile_export(db, out, err, sizeof err), VAL_OK);
	fclose(out);
	val_regfile *g = NULL;
	assert_int_equal(val_regfile_load(path_of("export.json"), &g, err, sizeof err), VAL_OK);
	assert_int_equal(val_registry_import(db, g, path_of("ct/crontab.txt"), "UTC", 0, 0, 1000, &ch, &n, &nrm, err, sizeof err), VAL_OK);
	if (n) fail_msg("round trip changed %s: %s", ch[0].slug, ch[0].what);
	free(ch);
	val_regfile_free(g);
	/* a file without "beat": removal listed, done only with prune */
	write_file("reg2.json",
	           "{\"version\":1,\"checks\":[{\"slug\":\"nightly\",\"grace\":\"1h\"},"
	           "{\"slug\":\"nas\",\"source\":\"external\",\"schedule\":\"0 */6 * * *\",\"tz\":\"Europe/Berlin\"}]}", 0644);
	val_regfile *h = NULL;
	assert_int_equal(val_regfile_load(path_of("reg2.json"), &h, err, sizeof err), VAL_OK);
	assert_int_equal(val_registry_import(db, h, path_of("ct/crontab.txt"), "UTC", 1, 0, 1000, &ch, &n, &nrm, err, sizeof err), VAL_OK);
	assert_int_equal(nrm, 1);
	assert_int_equal(count_kind(ch, n, VAL_CHANGE_UPDATE), 1);   /* nightly: name, tags, grace, max_runtime */
	free(ch);
	assert_int_equal(reg_check_get(db, "beat", &c), REG_OK);      /* still there */
	assert_int_equal(reg_check_get(db, "nas", &c), REG_OK);
	assert_string_equal(c.mute_reason, "moving");                 /* mute absent from the file: kept */
	assert_int_equal(val_registry_import(db, h, path_of("ct/crontab.txt"), "UTC", 1, 1, 1000, &ch, &n, &nrm, err, sizeof err), VAL_OK);
	free(ch);
	assert_int_equal(reg_check_get(db, "beat", &c), REG_ENOTFOUND);
	assert_int_equal(reg_check_get(db, "nightly", &c), REG_OK);
	assert_int_equal(c.grace_s, 3600);
	val_regfile_free(h);
	val_regfile_free(f);
	reg_close(db);
}

/* ---- report ------------------------------------------------------------------ */

static void test_report_forms(void **state)
{
	(void)state;
	val_report *r = val_report_new();
	assert_int_equal(val_add(r, "V201", 0, "crontab.txt", 3, 11, "x", NULL, "script bin/a\xff\x01.sh does not exist"), 0);
	assert_int_equal(val_add(r, "V403", 0, "reg.json", 2, 1, "y", "lift it", "muted"), 0);
	assert_int_equal(val_add(r, "V999", 0, "", 0, 0, NULL, NULL, "no such rule"), -1);
	assert_int_equal(val_report_errors(r), 1);
	assert_int_equal(val_report_warnings(r), 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	val_report_write_text(r, m);
	fclose(m);
	assert_non_null(strstr(buf, "crontab.txt:3:11: error V201: script bin/a\\xff\\x01.sh does not exist\n"));
	assert_non_null(strstr(buf, "reg.json:2:1: warning V403: muted\n    hint: lift it\n"));
	free(buf);
	m = open_memstream(&buf, &len);
	val_report_write_json(r, m);
	fclose(m);
	cJSON *j = cJSON_Parse(buf);
	assert_true(cJSON_IsArray(j));
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON *o = cJSON_GetArrayItem(j, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "rule")->valuestring, "V201");
	assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "error");
	assert_int_equal(cJSON_GetObjectItem(o, "line")->valueint, 3);
	assert_non_null(strstr(cJSON_GetObjectItem(o, "message")->valuestring, "a\xef\xbf\xbd\x01.sh"));
	cJSON_Delete(j);
	free(buf);
	val_report_free(r);
}

/* ---- helpers -------------------------------------------------------------------- */

static void test_helpers(void **state)
{
	(void)state;
	char hex[65];
	reg_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	reg_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	char big[200];
	memset(big, 'a', sizeof big);
	reg_sha256_hex(big, 56, hex);   /* two padding blocks */
	assert_string_equal(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	assert_int_equal(val_edit_distance("weather-pul", "weather-pull"), 1);
	assert_int_equal(val_edit_distance("abc", "abc"), 0);
	assert_int_equal(val_edit_distance("", "abc"), 3);
	assert_int_equal(val_parse_duration("90"), 90);
	assert_int_equal(val_parse_duration("1h30m"), 5400);
	assert_int_equal(val_parse_duration("2d"), 172800);
	assert_int_equal(val_parse_duration("1h30"), -1);
	assert_int_equal(val_parse_duration("x"), -1);
	assert_int_equal(val_parse_duration(""), -1);
	char d[32];
	val_format_duration(5400, d, sizeof d);
	assert_string_equal(d, "1h30m");
	int64_t ms;
	assert_int_equal(val_parse_time("2026-11-26T12:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795694400000LL);
	assert_int_equal(val_parse_time("2026-11-26T13:00:00+01:00", &ms), 0);
	assert_int_equal(ms, 1795694400000LL);
	assert_int_equal(val_parse_time("2026-02-30T00:00:00Z", &ms), -1);
	assert_int_equal(val_parse_time("2026-11-26T12:00:00", &ms), -1);
	char *c = val_path_clean("./a//b/./c.sh");
	assert_string_equal(c, "a/b/c.sh");
	free(c);
	c = val_path_clean("/x/./y");
	assert_string_equal(c, "/x/y");
	free(c);
	assert_true(val_zone_same("UTC", "Etc/UTC"));
	assert_false(val_zone_same("UTC", "Europe/London"));
}

/* ---- ShellCheck runner --------------------------------------------------------- */

static void test_shellcheck_timeout_and_cache(void **state)
{
	(void)state;
	val_sc_item *it = NULL;
	size_t n = 0;
	char err[1024];
	write_file("job.sh", "#!/bin/sh\necho hi\n", 0755);
	/* a ShellCheck that hangs: killed at the time limit */
	write_file("fake/slow-sc", "#!/bin/sh\nexec sleep 30\n", 0755);
	assert_int_equal(val_shellcheck(path_of("fake/slow-sc"), NULL, 1, path_of("job.sh"), "x", 1, NULL, &it, &n, err, sizeof err), VAL_EINPUT);
	assert_non_null(strstr(err, "did not finish within 1 s"));
	/* a ShellCheck that counts its runs: the second call is served from the cache */
	char script[600];
	snprintf(script, sizeof script,
	         "#!/bin/sh\necho run >> '%s/runs'\nfor a; do f=$a; done\n"
	         "printf '[{\"file\":\"%%s\",\"line\":2,\"column\":1,\"level\":\"warning\",\"code\":2034,\"message\":\"m\"}]' \"$f\"\nexit 1\n",
	         tmpdir);
	write_file("fake/count-sc", script, 0755);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(val_shellcheck(path_of("fake/count-sc"), path_of("cache"), 5, path_of("job.sh"), "abc", 3, "sh",
		                                &it, &n, err, sizeof err), VAL_OK);
		assert_int_equal(n, 1);
		assert_int_equal(it[0].code, 2034);
		assert_string_equal(it[0].level, "warning");
		val_sc_free(it, n);
	}
	char *runs = NULL;
	size_t rl;
	assert_int_equal(val_read_file(path_of("runs"), 1000, &runs, &rl), 0);
	assert_string_equal(runs, "run\n");
	free(runs);
	/* other content: runs again */
	assert_int_equal(val_shellcheck(path_of("fake/count-sc"), path_of("cache"), 5, path_of("job.sh"), "abd", 3, "sh",
	                                &it, &n, err, sizeof err), VAL_OK);
	val_sc_free(it, n);
	/* a batch: one process for many files; one bad file is retried alone
	 * and does not hide the findings of the others */
	snprintf(script, sizeof script,
	         "#!/bin/sh\necho run >> '%s/bruns'\nout='['; sep=''\n"
	         "for a; do case $a in *bad.sh) exit 3;; *.sh) out=\"$out$sep{\\\"file\\\":\\\"$a\\\",\\\"line\\\":1,\\\"column\\\":1,"
	         "\\\"level\\\":\\\"error\\\",\\\"code\\\":1000,\\\"message\\\":\\\"x\\\"}\"; sep=',';; esac; done\n"
	         "echo \"$out]\"\nexit 1\n", tmpdir);
	write_file("fake/batch-sc", script, 0755);
	val_sc_job jobs[3] = { {.path = "a.sh"}, {.path = "bad.sh"}, {.path = "b.sh"} };
	for (int i = 0; i < 3; i++) snprintf(jobs[i].content_sha, sizeof jobs[i].content_sha, "%064d", i);
	assert_int_equal(val_shellcheck_batch(path_of("fake/batch-sc"), NULL, 5, jobs, 3, err, sizeof err), VAL_OK);
	assert_string_equal(jobs[0].err, "");
	assert_int_equal(jobs[0].n, 1);
	assert_non_null(strstr(jobs[1].err, "exit status 3"));
	assert_int_equal(jobs[2].n, 1);
	for (int i = 0; i < 3; i++) val_sc_free(jobs[i].items, jobs[i].n);
	assert_int_equal(val_read_file(path_of("bruns"), 1000, &runs, &rl), 0);
	assert_string_equal(runs, "run\nrun\nrun\nrun\n");   /* the batch, then each alone */
	free(runs);
	/* garbage output is an error, not a pass */
	write_file("fake/junk-sc", "#!/bin/sh\necho not json\n", 0755);
	assert_int_equal(val_shellcheck(path_of("fake/junk-sc"), NULL, 5, path_of("job.sh"), "x", 1, NULL, &it, &n, err, sizeof err), VAL_EINPUT);
	assert_non_null(strstr(err, "ShellCheck failed"));
	/* missing: the install hint */
	assert_int_equal(val_shellcheck("/nonexistent/shellcheck", NULL, 5, path_of("job.sh"), "x", 1, NULL, &it, &n, err, sizeof err), VAL_EINPUT);
	assert_non_null(strstr(err, "apt-get install shellcheck"));
}

/* ---- the gate --------------------------------------------------------------------- */

static void test_gate(void **state)
{
	(void)state;
	write_file("g/crontab.txt", "# vigil: good\n0 5 * * * ~/good.sh\n# vigil: typo\n0 6 * * * ~/good.sh\n", 0644);
	write_file("g/good.sh", "#!/bin/sh\nvigil ping good\n", 0755);
	write_file("g/reg.json", "{\"version\":1,\"checks\":[{\"slug\":\"good\"}]}", 0644);
	/* the jobs run in $HOME, as cron runs them */
	const char *home = getenv("HOME");
	char *saved_home = home ? strdup(home) : NULL;
	setenv("HOME", path_of("g"), 1);
	char ct[512], rg[512], dbp[512];
	snprintf(ct, sizeof ct, "%s", path_of("g/crontab.txt"));
	snprintf(rg, sizeof rg, "%s", path_of("g/reg.json"));
	snprintf(dbp, sizeof dbp, "%s", path_of("g/var/vigil.db"));
	val_gate_opts o = { .crontab_path = ct, .registry_path = rg, .db_path = dbp };
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int n = val_gate(&o, m);
	fclose(m);
	assert_int_equal(n, 1);
	assert_non_null(strstr(buf, "crontab.txt:3:10: error V102: slug \"typo\" is not in the registry"));
	free(buf);
	/* fixed: passes */
	write_file("g/crontab.txt", "# vigil: good\n0 5 * * * ~/good.sh\n", 0644);
	assert_int_equal(val_gate(&o, NULL), 0);
	/* without ShellCheck the gate does not pass */
	const char *path = getenv("PATH");
	char *saved = path ? strdup(path) : NULL;
	setenv("PATH", path_of("empty-bin"), 1);
	m = open_memstream(&buf, &len);
	n = val_gate(&o, m);
	fclose(m);
	if (saved) { setenv("PATH", saved, 1); free(saved); }
	assert_int_equal(n, 1);
	assert_non_null(strstr(buf, "ShellCheck is not installed"));
	free(buf);
	/* an unreadable input is a fault (-1), not a pass */
	val_gate_opts bad = { .crontab_path = path_of("g/nope.txt"), .registry_path = path_of("g/reg.json"),
	                      .db_path = path_of("g/var/vigil.db") };
	assert_int_equal(val_gate(&bad, NULL), -1);
	/* no registry file and no database: a fault */
	val_gate_opts nodb = { .crontab_path = path_of("g/crontab.txt"), .db_path = path_of("g/none.db") };
	assert_int_equal(val_gate(&nodb, NULL), -1);
	/* another $HOME: the script is not where the crontab says */
	setenv("HOME", path_of("elsewhere"), 1);
	m = open_memstream(&buf, &len);
	n = val_gate(&o, m);
	fclose(m);
	assert_int_equal(n, 1);
	assert_non_null(strstr(buf, "elsewhere/good.sh does not exist"));
	free(buf);
	if (saved_home) { setenv("HOME", saved_home, 1); free(saved_home); }
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_calls),
		cmocka_unit_test(test_command_analysis),
		cmocka_unit_test(test_regfile_errors),
		cmocka_unit_test(test_import_export_roundtrip),
		cmocka_unit_test(test_report_forms),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_shellcheck_timeout_and_cache),
		cmocka_unit_test(test_gate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
