/* supervisor/cli_crontab.c — `vigil crontab check|next` (apply, diff,
 * history, show and rollback come with a later issue).
 *
 *   vigil crontab check FILE [--format text|json]
 *       every error as "FILE:LINE:COL: error: MESSAGE" (stdout); exit 0 when
 *       the file is clean, 1 when it has errors, 2 when it cannot be read.
 *   vigil crontab next FILE [-n N] [--from RFC3339] [--tz ZONE] [--format text|json]
 *       each job's next N runs (default 3) as the cron daemon in ZONE starts
 *       them (default: the config's crontab.tz, else the system zone, which
 *       is the cron daemon's); errors as for check (exit 1). */
#include "supervisor/cli.h"
#include "crontab/crontab.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct opts {
	const char *file, *tz, *from;
	int json;
	long n;
} opts;

static int parse_opts(int argc, char **argv, opts *o, int allow_next)
{
	memset(o, 0, sizeof *o);
	o->n = 3;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		int has = i + 1 < argc;
		if (!strcmp(a, "--format") && has) {
			const char *v = argv[++i];
			if (!strcmp(v, "json")) o->json = 1;
			else if (!strcmp(v, "text")) o->json = 0;
			else { fprintf(stderr, "vigil crontab: --format wants text or json\n"); return -1; }
		} else if (!strcmp(a, "--format=json")) o->json = 1;
		else if (!strcmp(a, "--format=text")) o->json = 0;
		else if (allow_next && !strcmp(a, "-n") && has) {
			char *end;
			o->n = strtol(argv[++i], &end, 10);
			if (*end || o->n < 1 || o->n > 10000) { fprintf(stderr, "vigil crontab: -n wants 1-10000\n"); return -1; }
		} else if (allow_next && !strcmp(a, "--from") && has) o->from = argv[++i];
		else if (allow_next && !strcmp(a, "--tz") && has) o->tz = argv[++i];
		else if (a[0] == '-' && a[1]) { fprintf(stderr, "vigil crontab: unknown option or missing value: %s\n", a); return -1; }
		else if (o->file) { fprintf(stderr, "vigil crontab: one file only\n"); return -1; }
		else o->file = a;
	}
	if (!o->file) { fprintf(stderr, "vigil crontab: %s needs a FILE\n", argv[1]); return -1; }
	return 0;
}

static cJSON *errors_json(const crontab_file *f)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < f->n_errors; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", f->path);
		cJSON_AddNumberToObject(o, "line", f->errors[i].line);
		cJSON_AddNumberToObject(o, "col", f->errors[i].col);
		cJSON_AddStringToObject(o, "message", f->errors[i].msg);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static void print_errors(const crontab_file *f)
{
	for (size_t i = 0; i < f->n_errors; i++)
		printf("%s:%d:%d: error: %s\n", f->path, f->errors[i].line, f->errors[i].col, f->errors[i].msg);
}

static void print_json(cJSON *root)
{
	char *s = cJSON_Print(root);
	if (s) { puts(s); free(s); }
	cJSON_Delete(root);
}

static int load(const opts *o, crontab_file **f)
{
	cron_error err;
	int rc = crontab_parse_file(o->file, f, &err);
	if (rc < 0) {
		fprintf(stderr, "vigil crontab: %s\n", err.msg);
		return -1;
	}
	return rc;
}

static int do_check(int argc, char **argv)
{
	opts o;
	if (parse_opts(argc, argv, &o, 0)) return VIGIL_EXIT_USAGE;
	crontab_file *f;
	int rc = load(&o, &f);
	if (rc < 0) return VIGIL_EXIT_USAGE;
	if (o.json) {
		cJSON *root = cJSON_CreateObject();
		cJSON_AddStringToObject(root, "file", f->path);
		cJSON_AddBoolToObject(root, "ok", f->n_errors == 0);
		cJSON_AddNumberToObject(root, "lines", f->n_lines);
		cJSON_AddNumberToObject(root, "jobs", (double)f->n_jobs);
		cJSON_AddItemToObject(root, "errors", errors_json(f));
		print_json(root);
	} else {
		print_errors(f);
	}
	crontab_free(f);
	return rc ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
}

static int do_next(int argc, char **argv, const vigil_config *cfg)
{
	opts o;
	if (parse_opts(argc, argv, &o, 1)) return VIGIL_EXIT_USAGE;
	char sys[256];
	cron_error err;
	const char *tz = o.tz ? o.tz : cfg_get(cfg, "crontab.tz");
	if (!tz) { cron_zone_system(sys, sizeof sys); tz = sys; }
	const cron_zone *z = cron_zone_get(tz, &err);
	if (!z) { fprintf(stderr, "vigil crontab: %s\n", err.msg); return VIGIL_EXIT_USAGE; }
	int64_t from = (int64_t)time(NULL);
	if (o.from && cron_parse_rfc3339(o.from, &from)) {
		fprintf(stderr, "vigil crontab: --from wants an RFC 3339 instant, got \"%s\"\n", o.from);
		return VIGIL_EXIT_USAGE;
	}
	crontab_file *f;
	int rc = load(&o, &f);
	if (rc < 0) return VIGIL_EXIT_USAGE;
	cJSON *root = o.json ? cJSON_CreateObject() : NULL, *jobs = NULL;
	if (root) {
		cJSON_AddStringToObject(root, "file", f->path);
		cJSON_AddStringToObject(root, "tz", tz);
		cJSON_AddItemToObject(root, "errors", errors_json(f));
		jobs = cJSON_AddArrayToObject(root, "jobs");
	} else {
		print_errors(f);
	}
	for (size_t i = 0; i < f->n_jobs; i++) {
		const crontab_job *j = &f->jobs[i];
		cJSON *jo = NULL, *runs = NULL;
		if (root) {
			jo = cJSON_CreateObject();
			cJSON_AddNumberToObject(jo, "line", j->line);
			cJSON_AddStringToObject(jo, "schedule", j->schedule);
			cJSON_AddStringToObject(jo, "command", j->command);
			cJSON_AddStringToObject(jo, "shell_command", j->shell_command);
			if (j->input) cJSON_AddStringToObject(jo, "input", j->input);
			else cJSON_AddNullToObject(jo, "input");
			runs = cJSON_AddArrayToObject(jo, "next");
			cJSON_AddItemToArray(jobs, jo);
		} else {
			printf("%s:%d: %s  %s\n", f->path, j->line, j->schedule, j->command);
		}
		int64_t t = from, r;
		int found = 0;
		for (long k = 0; k < o.n && cron_next_z(&j->expr, z, t, &r) == CRON_OK; k++, t = r) {
			char buf[40];
			cron_format_utc(r, buf, sizeof buf);
			if (root) cJSON_AddItemToArray(runs, cJSON_CreateString(buf));
			else printf("  %s\n", buf);
			found = 1;
		}
		if (!found && !root)
			printf("  %s\n", (j->expr.flags & CRON_REBOOT) ? "(at boot only)" : "(never)");
	}
	if (root) print_json(root);
	crontab_free(f);
	return rc ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
}

int cli_crontab(int argc, char **argv, vigil_global *g)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vigil crontab check FILE [--format json] | next FILE [-n N] [--from T] [--tz ZONE]\n");
		return VIGIL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "check")) return do_check(argc, argv);
	if (!strcmp(argv[1], "next")) return do_next(argc, argv, g->cfg);
	static const char *const later[] = { "apply", "diff", "history", "rollback", "show" };
	for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
		if (!strcmp(argv[1], later[i])) {
			fprintf(stderr, "vigil crontab %s: not implemented yet\n", argv[1]);
			return VIGIL_EXIT_INTERNAL;
		}
	fprintf(stderr, "vigil crontab: unknown sub-command \"%s\"\n", argv[1]);
	return VIGIL_EXIT_USAGE;
}
