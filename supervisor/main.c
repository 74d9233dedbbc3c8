/* supervisor/main.c — the vigil binary: global options, then one sub-command. */
#include "supervisor/cli.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct command {
	const char *name;
	int (*fn)(int, char **, vigil_global *);
	const char *synopsis;
} commands[] = {
	{"serve",     cli_serve,     "serve [--listen ADDR:PORT] [--slack-webhook URL]"},
	{"ping",      cli_ping,      "ping SLUG [start|fail|log|EXIT_CODE] [--rid ID] [--body-file F|-]"},
	{"run",       cli_run,       "run SLUG [--timeout DUR] -- COMMAND [ARGS...]"},
	{"check",     cli_check,     "check add|list|show|rm|pause|resume|mute|unmute ..."},
	{"status",    cli_status,    "status [--format text|json] [--facts]"},
	{"key",       cli_key,       "key"},
	{"cron",      cli_cron,      "cron next|prev 'EXPR' --tz ZONE --from RFC3339 [-n N]"},
	{"crontab",   cli_crontab,   "crontab check|apply|diff|history|show|rollback|next ..."},
	{"validate",  cli_validate,  "validate [--crontab FILE] [--registry FILE] [--format text|json]"},
	{"registry",  cli_registry,  "registry import FILE [--prune] | export"},
	{"alert",     cli_alert,     "alert test"},
	{"apikey",    cli_apikey,    "apikey create --ro|--rw | list | rm ID"},
	{"summarize", cli_summarize, "summarize --facts FILE.json [--model FILE.gguf] [--explain] | verify ..."},
	{"llm",       cli_llm,       "llm run|info|bench|convert|mkmodel ..."},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--db FILE] [--config FILE] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  vigil %s\n", commands[i].synopsis);
}

int main(int argc, char **argv)
{
	vigil_global g = { .db_path = "./var/vigil.db", .config_path = getenv("VIGIL_CONFIG") };
	/* nothing reads SQLite's memory statistics; keeping them costs a global
	 * mutex on every allocation, on every thread */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* Pull --db/--config out of argv, anywhere before a "--". */
	int n = 0;
	char **args = calloc((size_t)argc + 1, sizeof *args);
	if (!args) return VIGIL_EXIT_INTERNAL;
	int dashdash = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && !strcmp(a, "--")) dashdash = 1;
		if (!dashdash && (!strcmp(a, "--db") || !strcmp(a, "--config"))) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				fprintf(stderr, "vigil: option %s needs a file name\n", a);
				free(args);
				return VIGIL_EXIT_USAGE;
			}
			if (a[2] == 'd') g.db_path = argv[++i]; else g.config_path = argv[++i];
			continue;
		}
		if (!dashdash && !strncmp(a, "--db=", 5)) { g.db_path = a + 5; continue; }
		if (!dashdash && !strncmp(a, "--config=", 9)) { g.config_path = a + 9; continue; }
		args[n++] = argv[i];
	}
	if (n == 0 || !strcmp(args[0], "help") || !strcmp(args[0], "--help") || !strcmp(args[0], "-h")) {
		usage(n == 0 ? stderr : stdout);
		free(args);
		return n == 0 ? VIGIL_EXIT_USAGE : VIGIL_EXIT_OK;
	}
	if (g.config_path && !g.config_path[0]) g.config_path = NULL;
	char err[512];
	g.cfg = cfg_load(g.config_path, err, sizeof err);
	if (!g.cfg) {
		fprintf(stderr, "vigil: %s\n", err);
		free(args);
		return VIGIL_EXIT_USAGE;
	}
	int rc = -1;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(args[0], commands[i].name)) { rc = commands[i].fn(n, args, &g); break; }
	if (rc == -1) {
		fprintf(stderr, "vigil: unknown command \"%s\"\n", args[0]);
		usage(stderr);
		rc = VIGIL_EXIT_USAGE;
	}
	cfg_free(g.cfg);
	free(args);
	return rc;
}
