/* supervisor/cli_validate.c — `vigil validate` and `vigil registry
 * import|export`: options and config in, validator calls, output and exit
 * status out. */
#include "supervisor/cli.h"
#include "supervisor/ops.h"
#include "validator/validator.h"
#include "registry/registry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_LIST 64

static int known_rule(const char *id)
{
	for (size_t i = 0; val_rule_nth(i); i++)
		if (!strncmp(val_rule_nth(i)->id, id, strlen(id)) && id[0]) return 1;
	return 0;
}

/* validator.ping_patterns from the config, NULL-terminated (array malloc'd,
 * strings owned by cfg). */
static const char **ping_patterns(const vigil_global *g)
{
	size_t n = 0;
	while (cfg_get_nth(g->cfg, "validator.ping_patterns", n)) n++;
	const char **v = calloc(n + 1, sizeof *v);
	if (!v) return NULL;
	for (size_t i = 0; i < n; i++) v[i] = cfg_get_nth(g->cfg, "validator.ping_patterns", i);
	return v;
}

static const char *cfg_or(const vigil_global *g, const char *key, const char *dflt)
{
	const char *v = cfg_get(g->cfg, key);
	return v && *v ? v : dflt;
}

/* Fills the options the config file can set. 0, or 2 with a message. */
static int opts_from_config(const vigil_global *g, val_opts *o, const char **patterns)
{
	o->ping_patterns = patterns;
	o->shellcheck = cfg_or(g, "validator.shellcheck", NULL);
	o->cache_dir = cfg_or(g, "validator.cache_dir", NULL);
	if (!o->cron_tz) o->cron_tz = cfg_or(g, "crontab.tz", NULL);
	/* one mute policy for `check mute`, the API and the validators */
	const char *mm = cfg_or(g, "mute_max", cfg_or(g, "validator.mute_max", NULL));
	if (mm) {
		long long s;
		const char *why;
		if (vigil_parse_duration(mm, &s, &why) || s <= 0) {
			fprintf(stderr, "vigil: config mute_max: %s\n", why ? why : "must be positive");
			return VIGIL_EXIT_USAGE;
		}
		o->mute_max_s = s;
	}
	for (size_t i = 0; patterns[i]; i++)
		if (!strstr(patterns[i], "{slug}") || strstr(patterns[i], "{slug}") == patterns[i]) {
			fprintf(stderr, "vigil: config validator.ping_patterns \"%s\": needs literal text, then {slug}\n", patterns[i]);
			return VIGIL_EXIT_USAGE;
		}
	return 0;
}

static int parse_now(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!e || *e) return -1;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static void validate_usage(FILE *f)
{
	fprintf(f, "usage: vigil validate [--crontab FILE] [--registry FILE] [--format text|json]\n"
	           "                      [--rule ID]... [--ignore-rule ID]... [--base DIR] [--cron-tz ZONE]\n"
	           "                      [--now RFC3339] [--list-rules]\n"
	           "  without --registry the registry is the database (--db); ID may be a prefix (V2);\n"
	           "  --base DIR: the jobs' $HOME when the crontab sets none (default: $HOME)\n");
}

int cli_validate(int argc, char **argv, vigil_global *g)
{
	val_opts o = {0};
	const char *rules[MAX_LIST + 1] = {0}, *ignore[MAX_LIST + 1] = {0};
	size_t nr = 0, ni = 0;
	const char *format = "text";
	int rc = VIGIL_EXIT_USAGE;
	val_report *r = NULL;
	const char **pat = ping_patterns(g);
	if (!pat) return VIGIL_EXIT_INTERNAL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = !strcmp(a, "--crontab") || !strcmp(a, "--registry") || !strcmp(a, "--format") ||
		            !strcmp(a, "--rule") || !strcmp(a, "--ignore-rule") || !strcmp(a, "--base") ||
		            !strcmp(a, "--cron-tz") || !strcmp(a, "--now");
		if (takes && (!v || !*v)) { fprintf(stderr, "vigil validate: %s needs a value\n", a); goto out; }
		if (!strcmp(a, "--crontab")) o.crontab_path = argv[++i];
		else if (!strcmp(a, "--registry")) o.registry_path = argv[++i];
		else if (!strcmp(a, "--base")) o.base_dir = argv[++i];
		else if (!strcmp(a, "--cron-tz")) o.cron_tz = argv[++i];
		else if (!strcmp(a, "--format")) {
			format = argv[++i];
			if (strcmp(format, "text") && strcmp(format, "json")) {
				fprintf(stderr, "vigil validate: --format: expected text or json, got \"%s\"\n", format);
				goto out;
			}
		} else if (!strcmp(a, "--rule") || !strcmp(a, "--ignore-rule")) {
			const char *id = argv[++i];
			if (!known_rule(id)) {
				fprintf(stderr, "vigil validate: %s: unknown rule \"%s\" (see --list-rules)\n", a, id);
				goto out;
			}
			if ((a[2] == 'r' ? nr : ni) >= MAX_LIST) { fprintf(stderr, "vigil validate: too many %s\n", a); goto out; }
			if (a[2] == 'r') rules[nr++] = id; else ignore[ni++] = id;
		} else if (!strcmp(a, "--now")) {
			if (parse_now(argv[++i], &o.now_ms)) {
				fprintf(stderr, "vigil validate: --now: expected YYYY-MM-DDTHH:MM:SSZ, got \"%s\"\n", argv[i]);
				goto out;
			}
		} else if (!strcmp(a, "--list-rules")) {
			for (size_t k = 0; val_rule_nth(k); k++)
				printf("%s %-7s %s\n", val_rule_nth(k)->id,
				       val_rule_nth(k)->severity == VAL_SEV_ERROR ? "error" : "warning", val_rule_nth(k)->summary);
			rc = VIGIL_EXIT_OK;
			goto out;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			validate_usage(stdout);
			rc = VIGIL_EXIT_OK;
			goto out;
		} else {
			fprintf(stderr, "vigil validate: unknown argument \"%s\"\n", a);
			validate_usage(stderr);
			goto out;
		}
	}
	if ((rc = opts_from_config(g, &o, pat))) goto out;
	rc = VIGIL_EXIT_USAGE;
	if (!o.cron_tz) o.cron_tz = cfg_or(g, "crontab.tz", NULL);
	o.rules = nr ? rules : NULL;
	o.ignore_rules = ni ? ignore : NULL;
	o.db_path = g->db_path;
	r = val_report_new();
	if (!r) { rc = VIGIL_EXIT_INTERNAL; goto out; }
	char err[1024];
	int vr = val_run(&o, r, err, sizeof err);
	if (vr != VAL_OK) {
		fprintf(stderr, "vigil validate: %s\n", err);
		rc = vr == VAL_EINPUT ? VIGIL_EXIT_USAGE : VIGIL_EXIT_INTERNAL;
		goto out;
	}
	val_report_sort(r);
	if (!o.registry_path && o.crontab_path) {
		/* a validation of the live registry: its findings are kept for the
		 * status page (the only thing validate writes besides its cache) */
		reg_db *db;
		char msg[512];
		if (reg_open(g->db_path, &db, msg, sizeof msg) == REG_OK) {
			if (val_report_store(db, r, o.now_ms ? o.now_ms : ops_now_ms(), msg, sizeof msg) != VAL_OK)
				fprintf(stderr, "vigil validate: %s\n", msg);
			reg_close(db);
		}
	}
	if (!strcmp(format, "json")) val_report_write_json(r, stdout);
	else {
		val_report_write_text(r, stdout);
		size_t e = val_report_errors(r), w = val_report_warnings(r);
		printf("%zu error%s, %zu warning%s\n", e, e == 1 ? "" : "s", w, w == 1 ? "" : "s");
	}
	rc = val_report_errors(r) ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
out:
	val_report_free(r);
	free(pat);
	return rc;
}

/* ---- vigil registry import|export ------------------------------------------ */

static int registry_export(int argc, char **argv, vigil_global *g)
{
	if (argc > 2) { fprintf(stderr, "usage: vigil registry export  (writes the registry file to stdout)\n"); return VIGIL_EXIT_USAGE; }
	struct stat st;
	if (stat(g->db_path, &st)) { fprintf(stderr, "vigil registry export: %s: no database\n", g->db_path); return VIGIL_EXIT_USAGE; }
	reg_db *db = NULL;
	char msg[512];
	if (reg_open(g->db_path, &db, msg, sizeof msg)) { fprintf(stderr, "vigil registry export: %s: %s\n", g->db_path, msg); return VIGIL_EXIT_INTERNAL; }
	int rc = val_regfile_export(db, stdout, msg, sizeof msg);
	reg_close(db);
	if (rc) { fprintf(stderr, "vigil registry export: %s\n", msg); return VIGIL_EXIT_INTERNAL; }
	return VIGIL_EXIT_OK;
}

static int registry_import(int argc, char **argv, vigil_global *g)
{
	const char *file = NULL, *crontab = NULL, *base = NULL;
	int prune = 0, dry = 0, force = 0, rc = VIGIL_EXIT_USAGE;
	val_regfile *f = NULL;
	val_report *r = NULL;
	reg_db *db = NULL;
	val_change *ch = NULL;
	size_t nch = 0, nrm = 0;
	char err[1024];
	const char **pat = ping_patterns(g);
	if (!pat) return VIGIL_EXIT_INTERNAL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--prune")) prune = 1;
		else if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) dry = 1;
		else if (!strcmp(argv[i], "--force")) force = 1;
		else if (!strcmp(argv[i], "--crontab") && i + 1 < argc) crontab = argv[++i];
		else if (!strcmp(argv[i], "--base") && i + 1 < argc) base = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "vigil registry import: unknown option \"%s\"\n", argv[i]); goto usage; }
		else if (!file) file = argv[i];
		else goto usage;
	}
	if (!file) goto usage;
	if (val_regfile_load(file, &f, err, sizeof err)) { fprintf(stderr, "vigil registry import: %s\n", err); goto out; }
	/* validate first: the file's own rules (not ping history) */
	val_opts o = {0};
	if ((rc = opts_from_config(g, &o, pat))) goto out;
	rc = VIGIL_EXIT_USAGE;
	const char *ign[] = {"V5", NULL};
	o.registry_path = file;
	o.crontab_path = crontab;
	o.base_dir = base;
	o.db_path = g->db_path;
	o.ignore_rules = ign;
	r = val_report_new();
	if (!r) { rc = VIGIL_EXIT_INTERNAL; goto out; }
	int vr = val_run(&o, r, err, sizeof err);
	if (vr != VAL_OK) { fprintf(stderr, "vigil registry import: %s\n", err); rc = vr == VAL_EINPUT ? VIGIL_EXIT_USAGE : VIGIL_EXIT_INTERNAL; goto out; }
	val_report_sort(r);
	val_report_write_text(r, stderr);
	if (val_report_errors(r) && force)
		fprintf(stderr, "vigil registry import: %s has %zu validation error%s; importing anyway (--force)\n", file,
		        val_report_errors(r), val_report_errors(r) == 1 ? "" : "s");
	else if (val_report_errors(r)) {
		fprintf(stderr, "vigil registry import: %s does not validate (%zu error%s); nothing imported\n", file,
		        val_report_errors(r), val_report_errors(r) == 1 ? "" : "s");
		rc = VIGIL_EXIT_FAIL;
		goto out;
	}
	char msg[512];
	if (reg_open(g->db_path, &db, msg, sizeof msg)) { fprintf(stderr, "vigil registry import: %s: %s\n", g->db_path, msg); rc = VIGIL_EXIT_INTERNAL; goto out; }
	int64_t now = (int64_t)time(NULL) * 1000;
	/* first pass: what would change */
	if (val_registry_import(db, f, crontab, o.cron_tz, 0, prune, now, &ch, &nch, &nrm, err, sizeof err)) {
		fprintf(stderr, "vigil registry import: %s\n", err);
		goto out;
	}
	size_t na = 0, nu = 0;
	for (size_t i = 0; i < nch; i++) {
		const val_change *c = &ch[i];
		na += c->kind == VAL_CHANGE_ADD;
		nu += c->kind == VAL_CHANGE_UPDATE;
		printf("%s %s: %s\n", c->kind == VAL_CHANGE_ADD ? "+ add   " : c->kind == VAL_CHANGE_UPDATE ? "~ update" : "- remove",
		       c->slug, c->what);
	}
	if (nrm && !prune) {
		fprintf(stderr, "vigil registry import: refused: %zu check%s in the database %s not in %s; "
		        "pass --prune to delete %s\n", nrm, nrm == 1 ? "" : "s", nrm == 1 ? "is" : "are", file,
		        nrm == 1 ? "it" : "them");
		rc = VIGIL_EXIT_FAIL;
		goto out;
	}
	if (dry || nch == 0) {
		printf("%s: %zu to add, %zu to update, %zu to remove%s\n", file, na, nu, nrm, dry ? " (dry run: nothing changed)" : "");
		rc = VIGIL_EXIT_OK;
		goto out;
	}
	free(ch);
	ch = NULL;
	if (val_registry_import(db, f, crontab, o.cron_tz, 1, prune, now, &ch, &nch, &nrm, err, sizeof err)) {
		fprintf(stderr, "vigil registry import: %s (nothing imported)\n", err);
		goto out;
	}
	printf("%s: %zu added, %zu updated, %zu removed\n", file, na, nu, nrm);
	rc = VIGIL_EXIT_OK;
	goto out;
usage:
	fprintf(stderr, "usage: vigil registry import FILE [--crontab FILE] [--base DIR] [--prune] [--dry-run] [--force]\n");
out:
	free(ch);
	if (db) reg_close(db);
	val_report_free(r);
	val_regfile_free(f);
	free(pat);
	return rc;
}

int cli_registry(int argc, char **argv, vigil_global *g)
{
	if (argc >= 2 && !strcmp(argv[1], "export")) return registry_export(argc, argv, g);
	if (argc >= 2 && !strcmp(argv[1], "import")) return registry_import(argc, argv, g);
	fprintf(stderr, "usage: vigil registry import FILE [--crontab FILE] [--prune] [--dry-run] | export\n");
	return VIGIL_EXIT_USAGE;
}
