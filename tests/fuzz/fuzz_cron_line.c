/* libFuzzer target: the whole-file crontab parser (env lines, jobs, comments,
 * file rules).  Invariants: errors in line order with sane positions, jobs
 * and env lines inside the file, every job's schedule re-parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crontab/crontab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crontab_file *f = NULL;
	int rc = crontab_parse("fuzz", (const char *)data, size, &f);
	if (rc < 0) return 0;
	if (!f || (rc == 0) != (f->n_errors == 0)) abort();
	for (size_t i = 0; i < f->n_errors; i++) {
		const cron_error *e = &f->errors[i];
		if (e->line < 1 || e->line > f->n_lines + 1 || e->col < 1 || !e->msg[0]) abort();
		if (i && (e->line < f->errors[i - 1].line)) abort();
	}
	for (size_t i = 0; i < f->n_jobs; i++) {
		const crontab_job *j = &f->jobs[i];
		if (j->line < 1 || j->line > f->n_lines || strlen(j->command) > CRONTAB_MAX_COMMAND) abort();
		if (!j->command[0] || !j->shell_command) abort();
		cron_expr e;
		cron_error err;
		if (cron_expr_parse(j->schedule, &e, &err) || memcmp(&e, &j->expr, sizeof e)) abort();
		if (j->comment_above && j->comment_above->line != j->line - 1) abort();
	}
	for (size_t i = 0; i < f->n_envs; i++)
		if (f->envs[i].line < 1 || f->envs[i].line > f->n_lines) abort();
	crontab_free(f);
	return 0;
}
