/* supervisor/cli_crontab.c — `vigil crontab …`: check|next (the crontab
 * engine) and apply|diff|history|show|rollback|recover (the safe apply,
 * crontab/apply.c; usage in APPLY_USAGE below).
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

/* ==== apply, diff, history, show, rollback, recover (issue 5) ============ */

#define APPLY_USAGE \
	"usage: vigil crontab apply FILE [--user U] [--dry-run] [--allow-removals N] [--allow-empty] [--yes]\n" \
	"                               [--registry FILE] [--crontab-bin PATH] [--timeout DUR] [--no-wait]\n" \
	"       vigil crontab diff FILE [--user U]\n" \
	"       vigil crontab history [--user U]\n" \
	"       vigil crontab show REV\n" \
	"       vigil crontab rollback [REV] [--user U] [--force] [--allow-removals N] [--allow-empty] [--yes]\n" \
	"       vigil crontab recover\n"

static int parse_rev(const char *s, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v <= 0) return -1;
	*out = v;
	return 0;
}

/* Parses the options shared by apply, diff and rollback.  positional receives
 * the one positional argument (NULL if none; more is an error).  The ping
 * patterns array is malloc'd into *pats (caller frees).  Returns 0 or the
 * usage exit code (message printed). */
static int apply_opts(int argc, char **argv, vigil_global *g, cron_apply_opts *o,
                      const char **positional, const char ***pats)
{
	memset(o, 0, sizeof *o);
	o->db_path = g->db_path;
	o->crontab_bin = cfg_get(g->cfg, "crontab.bin");
	*positional = NULL;
	*pats = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--dry-run")) o->dry_run = 1;
		else if (!strcmp(a, "--allow-empty")) o->allow_empty = 1;
		else if (!strcmp(a, "--yes") || !strcmp(a, "-y")) o->yes = 1;
		else if (!strcmp(a, "--force")) o->force = 1;
		else if (!strcmp(a, "--no-wait")) o->no_wait = 1;
		else if (!strcmp(a, "--user") || !strcmp(a, "-u") || !strcmp(a, "--registry") ||
		         !strcmp(a, "--crontab-bin") || !strcmp(a, "--allow-removals") || !strcmp(a, "--timeout")) {
			if (!val || !val[0]) { fprintf(stderr, "vigil crontab %s: option %s needs a value\n", argv[0], a); return VIGIL_EXIT_USAGE; }
			i++;
			if (!strcmp(a, "--user") || !strcmp(a, "-u")) o->user = val;
			else if (!strcmp(a, "--registry")) o->registry_path = val;
			else if (!strcmp(a, "--crontab-bin")) o->crontab_bin = val;
			else if (!strcmp(a, "--allow-removals")) {
				char *end;
				long n = strtol(val, &end, 10);
				if (*end || n < 0) { fprintf(stderr, "vigil crontab %s: --allow-removals: \"%s\" is not a count\n", argv[0], val); return VIGIL_EXIT_USAGE; }
				o->allow_removals = n;
			} else {
				long long secs;
				const char *why;
				if (vigil_parse_duration(val, &secs, &why) < 0 || secs <= 0 || secs > 3600) {
					fprintf(stderr, "vigil crontab %s: --timeout \"%s\": %s\n", argv[0], val, why ? why : "1s..1h expected");
					return VIGIL_EXIT_USAGE;
				}
				o->timeout_s = (int)secs;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "vigil crontab %s: unknown option %s\n%s", argv[0], a, APPLY_USAGE);
			return VIGIL_EXIT_USAGE;
		} else if (*positional) {
			fprintf(stderr, "vigil crontab %s: one argument expected, got \"%s\" and \"%s\"\n", argv[0], *positional, a);
			return VIGIL_EXIT_USAGE;
		} else *positional = a;
	}
	size_t n = 0;
	while (cfg_get_nth(g->cfg, "validator.ping_patterns", n)) n++;
	if (n) {
		const char **v = calloc(n + 1, sizeof *v);
		if (!v) return VIGIL_EXIT_INTERNAL;
		for (size_t i = 0; i < n; i++) v[i] = cfg_get_nth(g->cfg, "validator.ping_patterns", i);
		o->ping_patterns = v;
		*pats = v;
	}
	return 0;
}

static int crontab_apply_cmd(int argc, char **argv, vigil_global *g)
{
	cron_apply_opts o;
	const char *file, **pats;
	int rc = apply_opts(argc, argv, g, &o, &file, &pats);
	if (rc) return rc;
	if (!file) { fprintf(stderr, "vigil crontab %s: FILE missing\n%s", argv[0], APPLY_USAGE); free(pats); return VIGIL_EXIT_USAGE; }
	if (o.force) { fprintf(stderr, "vigil crontab %s: --force is for rollback only\n", argv[0]); free(pats); return VIGIL_EXIT_USAGE; }
	rc = !strcmp(argv[0], "diff") ? cron_apply_diff(&o, file, stdout) : cron_apply_file(&o, file, stdout);
	free(pats);
	return rc;
}

static int crontab_rollback_cmd(int argc, char **argv, vigil_global *g)
{
	cron_apply_opts o;
	const char *revs, **pats;
	long long rev = 0;
	int rc = apply_opts(argc, argv, g, &o, &revs, &pats);
	if (rc) return rc;
	if (revs && parse_rev(revs, &rev) < 0) {
		fprintf(stderr, "vigil crontab rollback: \"%s\" is not a revision number\n", revs);
		free(pats);
		return VIGIL_EXIT_USAGE;
	}
	rc = cron_apply_rollback(&o, rev, stdout);
	free(pats);
	return rc;
}

static int crontab_history_cmd(int argc, char **argv, vigil_global *g)
{
	const char *user = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--user") || !strcmp(argv[i], "-u")) && i + 1 < argc) user = argv[++i];
		else { fprintf(stderr, "vigil crontab history: unexpected \"%s\"\n%s", argv[i], APPLY_USAGE); return VIGIL_EXIT_USAGE; }
	}
	return cron_apply_history(g->db_path, user, stdout);
}

static int crontab_show_cmd(int argc, char **argv, vigil_global *g)
{
	long long rev;
	if (argc != 2 || parse_rev(argv[1], &rev) < 0) {
		fprintf(stderr, "vigil crontab show: a revision number expected\n%s", APPLY_USAGE);
		return VIGIL_EXIT_USAGE;
	}
	return cron_apply_show(g->db_path, rev, stdout);
}

static int crontab_recover_cmd(int argc, char **argv, vigil_global *g)
{
	char msg[4096];
	if (argc != 1) { fprintf(stderr, "vigil crontab recover: no arguments expected\n"); return VIGIL_EXIT_USAGE; }
	int r = cron_apply_recover(g->db_path, msg, sizeof msg);
	if (msg[0]) printf("%s\n", msg);
	if (r == 0) printf("no unfinished crontab apply\n");
	return r < 0 ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
}

/* ==== dispatch ============================================================ */

int cli_crontab(int argc, char **argv, vigil_global *g)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vigil crontab check FILE [--format json] | next FILE [-n N] [--from T] [--tz ZONE]\n%s", APPLY_USAGE);
		return VIGIL_EXIT_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "check")) return do_check(argc, argv);
	if (!strcmp(sub, "next")) return do_next(argc, argv, g->cfg);
	if (!strcmp(sub, "apply") || !strcmp(sub, "diff")) return crontab_apply_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "rollback")) return crontab_rollback_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "history")) return crontab_history_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "show")) return crontab_show_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "recover")) return crontab_recover_cmd(argc - 1, argv + 1, g);
	fprintf(stderr, "vigil crontab: unknown sub-command \"%s\"\n", sub);
	return VIGIL_EXIT_USAGE;
}
