/* supervisor/cli.h — the vigil command line: global options and the entry
 * point of every sub-command.  Each cli_* function owns its argv (already
 * stripped of the global options), prints its own messages, and returns the
 * process exit status:
 *   0 success, 1 a check failed (findings, refused apply), 2 usage or input
 *   error, 3 "nothing" where a command documents it (cron next: never fires),
 *   other values for internal faults. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "supervisor/config.h"

enum { VIGIL_EXIT_OK = 0, VIGIL_EXIT_FAIL = 1, VIGIL_EXIT_USAGE = 2,
       VIGIL_EXIT_NONE = 3, VIGIL_EXIT_INTERNAL = 4 };

typedef struct vigil_global {
	const char *db_path;      /* --db, default ./var/vigil.db */
	const char *config_path;  /* --config or $VIGIL_CONFIG, NULL if none */
	vigil_config *cfg;        /* loaded config (empty when no file) */
} vigil_global;

int cli_serve(int argc, char **argv, vigil_global *g);
int cli_ping(int argc, char **argv, vigil_global *g);
int cli_run(int argc, char **argv, vigil_global *g);
int cli_check(int argc, char **argv, vigil_global *g);
int cli_status(int argc, char **argv, vigil_global *g);
int cli_key(int argc, char **argv, vigil_global *g);
int cli_cron(int argc, char **argv, vigil_global *g);      /* cli_cron.c */
int cli_crontab(int argc, char **argv, vigil_global *g);   /* cli_crontab.c */
int cli_validate(int argc, char **argv, vigil_global *g);  /* cli_validate.c */
int cli_registry(int argc, char **argv, vigil_global *g);  /* cli_validate.c */
int cli_llm(int argc, char **argv, vigil_global *g);       /* cli_llm.c */
int cli_summarize(int argc, char **argv, vigil_global *g); /* cli_summarize.c */
int cli_alert(int argc, char **argv, vigil_global *g);     /* cli_alert.c */
int cli_apikey(int argc, char **argv, vigil_global *g);    /* cli_api.c */

/* Parses a duration such as "90", "90s", "15m", "1h30m", "2d" into seconds.
 * Returns 0 on success, -1 (with *why set to a static message) otherwise. */
int vigil_parse_duration(const char *s, long long *secs, const char **why);

#endif
