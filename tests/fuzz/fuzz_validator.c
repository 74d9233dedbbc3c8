/* tests/fuzz/fuzz_validator.c — the validator's readers of outside bytes:
 * ping-call detection on a script, command analysis on a crontab command,
 * the registry file parser, and the crontab reader with its directives. */
#include "validator/val_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_tmp(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f) return -1;
	fwrite(data, 1, size, f);
	fclose(f);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pat[] = {"health_run(\"{slug}\")", "hc('{slug}')", NULL};
	char **slugs = NULL;
	size_t n = 0;
	if (val_ping_calls((const char *)data, size, pat, &slugs, NULL, &n) == 0) val_strv_free(slugs, n);

	char *cmd = malloc(size + 1);
	if (!cmd) return 0;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	val_job j = {0};
	val_command_analyse(cmd, NULL, "/home/ops", &j);
	free(j.script);
	free(j.wrapper_slug);
	for (int k = 0; k < 9; k++) free(j.args[k]);
	free(cmd);

	char path[64], err[512];
	snprintf(path, sizeof path, "/tmp/fuzz-validator-%d", (int)getpid());
	if (write_tmp(path, data, size) == 0) {
		val_regfile *f = NULL;
		err[0] = 0;
		if (val_regfile_load(path, &f, err, sizeof err) == VAL_OK) val_regfile_free(f);
		else if (!err[0]) abort();   /* a refusal always says what and where */
		val_report *r = val_report_new();
		val_crontab *t = NULL;
		err[0] = 0;
		int rc = r ? val_crontab_load(path, "/home/ops", r, &t, err, sizeof err) : -1;
		if (rc == VAL_OK) val_crontab_free(t);
		else if (r && !err[0]) abort();
		val_report_free(r);
		unlink(path);
	}
	return 0;
}
