/* cli_crontab.c — `vigil crontab …`.
 *
 * apply / diff / history / show / rollback / recover: the safe apply of
 * issue 5 (crontab/apply.c).  check / next belong to the crontab issue. */
#include "supervisor/cli.h"
#include "crontab/crontab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (argc < 2) { fprintf(stderr, "%s", APPLY_USAGE); return VIGIL_EXIT_USAGE; }
	const char *sub = argv[1];
	if (!strcmp(sub, "apply") || !strcmp(sub, "diff")) return crontab_apply_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "rollback")) return crontab_rollback_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "history")) return crontab_history_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "show")) return crontab_show_cmd(argc - 1, argv + 1, g);
	if (!strcmp(sub, "recover")) return crontab_recover_cmd(argc - 1, argv + 1, g);
	fprintf(stderr, "vigil crontab: unknown sub-command \"%s\" (check and next are not implemented yet)\n%s", sub, APPLY_USAGE);
	return VIGIL_EXIT_USAGE;
}
