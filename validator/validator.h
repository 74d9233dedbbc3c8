/* validator/validator.h — the deterministic validators (issue 4) and the
 * summary verifier's rules (issue 10).
 *
 * The gate that `vigil crontab apply` calls before installing anything: */
#ifndef VIGIL_VALIDATOR_H
#define VIGIL_VALIDATOR_H

#include <stdio.h>

typedef struct val_gate_opts {
	const char *crontab_path;        /* the crontab file to be installed */
	const char *registry_path;       /* declarative registry file, or NULL: use the db */
	const char *db_path;             /* the registry database */
	const char *const *ping_patterns;/* extra helper patterns ("health_run(\"{slug}\")"), NULL-terminated, may be NULL */
} val_gate_opts;

/* Runs every validator on the crontab + registry.  Writes the findings in the
 * compiler-like text form to `report` (may be NULL).  Returns the number of
 * error-severity findings (0: the gate passes), or -1 on an internal fault
 * (message written to report).  Never exits, never touches the crontab. */
int val_gate(const val_gate_opts *o, FILE *report);

/* ==== validators: rules, reports, the registry file (issue 4) ============
 *
 * Rule ids are stable (V101 ... V502; the table is val_rule_info()).  A run
 * reads the crontab, the registry (a declarative registry file or the
 * database) and the job scripts, and fills a val_report with findings; it
 * never changes the database, the crontab or any script (the ShellCheck
 * cache directory is the one thing it writes). */
#include <stddef.h>
#include <stdint.h>

typedef struct reg_db reg_db;

typedef enum val_severity { VAL_SEV_WARNING = 1, VAL_SEV_ERROR = 2 } val_severity;

enum { VAL_OK = 0, VAL_EINTERNAL = -1, VAL_EINPUT = -2 };

/* One finding.  Strings are owned by the report; "" when absent; line and
 * column 0 when the finding has no position. */
typedef struct val_finding {
	const char *rule;          /* "V102" */
	val_severity severity;
	const char *file;          /* crontab, registry file, script or db path */
	int line, column;
	const char *slug;
	const char *message;
	const char *hint;
} val_finding;

typedef struct val_report val_report;

/* Free with val_report_free(). NULL on out-of-memory. */
val_report *val_report_new(void);
void val_report_free(val_report *r);
size_t val_report_count(const val_report *r);
const val_finding *val_report_get(const val_report *r, size_t i);
size_t val_report_errors(const val_report *r);
size_t val_report_warnings(const val_report *r);
/* Orders findings by file, line, column, rule (stable). */
void val_report_sort(val_report *r);
/* Compiler-like lines: "FILE:LINE:COL: error V102: message (hint)".  Bytes
 * that are not printable UTF-8 are written as \xNN. */
int val_report_write_text(const val_report *r, FILE *f);
/* A JSON array of {rule, severity, file, line, column, slug, message, hint};
 * strings forced to valid UTF-8. */
int val_report_write_json(const val_report *r, FILE *f);

/* Rule table.  NULL for an unknown id. */
typedef struct val_rule_info_t {
	const char *id;
	val_severity severity;
	const char *summary;
} val_rule_info_t;
const val_rule_info_t *val_rule_info(const char *id);
const val_rule_info_t *val_rule_nth(size_t i);   /* NULL past the end */

typedef struct val_opts {
	const char *crontab_path;        /* NULL: no crontab; line rules are skipped */
	const char *registry_path;       /* declarative registry file, or NULL: the db */
	const char *db_path;             /* NULL or missing file: rules needing ping history are skipped
	                                    unless registry_path is NULL (then it is an input error) */
	const char *const *ping_patterns;/* helper patterns with "{slug}", NULL-terminated, may be NULL */
	const char *const *rules;        /* only these ids (or prefixes: "V2"); NULL: all */
	const char *const *ignore_rules; /* never these ids (or prefixes) */
	const char *cron_tz;             /* the zone the cron daemon runs in; NULL: system zone */
	const char *base_dir;            /* $HOME for the jobs when the crontab sets none (relative
	                                    script paths and ~ resolve there); NULL: $HOME */
	const char *shellcheck;          /* ShellCheck binary; NULL: "shellcheck" on $PATH */
	const char *cache_dir;           /* ShellCheck result cache; NULL: DB_DIR/shellcheck-cache */
	int shellcheck_timeout_s;        /* per script; 0: 30 s */
	int64_t mute_max_s;              /* mute policy maximum; 0: 14 days */
	int64_t now_ms;                  /* 0: the clock, read once */
} val_opts;

/* Runs the selected rules, appending findings to r.  Returns VAL_OK (the
 * findings say whether the input is clean), VAL_EINPUT when an input cannot
 * be read at all (err: "FILE:LINE:COL: what"), VAL_EINTERNAL otherwise. */
int val_run(const val_opts *o, val_report *r, char *err, size_t errlen);

/* ---- the declarative registry file (JSON; README.md, "The registry file") */

typedef struct val_regfile val_regfile;
/* Parses PATH.  *out freed with val_regfile_free().  VAL_EINPUT with
 * "FILE:LINE:COL: message" in err on a malformed file. */
int val_regfile_load(const char *path, val_regfile **out, char *err, size_t errlen);
void val_regfile_free(val_regfile *f);
size_t val_regfile_count(const val_regfile *f);
/* Writes every check of db as a registry file to out. */
int val_regfile_export(reg_db *db, FILE *out, char *err, size_t errlen);

typedef enum val_change_kind { VAL_CHANGE_ADD, VAL_CHANGE_UPDATE, VAL_CHANGE_REMOVE } val_change_kind;
typedef struct val_change {
	val_change_kind kind;
	char slug[65];
	char what[512];          /* "schedule: '0 * * * *' -> '5 * * * *'; grace: 300 -> 600" */
} val_change;
/* Compares the file with db and, when apply is set, makes db match it in one
 * transaction (checks missing from the file are removed only with prune).
 * *changes (malloc'd, free()) lists every difference, removals included
 * (marked in *n_removals) even when prune is off.  crontab_path (may be
 * NULL) supplies schedules of crontab-driven checks that the file leaves
 * out; cron_tz their zone.  VAL_EINPUT with err on a check the db refuses. */
int val_registry_import(reg_db *db, const val_regfile *f, const char *crontab_path,
                        const char *cron_tz, int apply, int prune, int64_t now_ms,
                        val_change **changes, size_t *n_changes, size_t *n_removals,
                        char *err, size_t errlen);

/* ==== end of the validators section ===================================== */

#endif
