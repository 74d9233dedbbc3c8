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
/* Replaces the findings kept in the database (table findings, shown on each
 * check's status page) with r's, in one transaction.  VAL_OK or VAL_EINTERNAL. */
int val_report_store(reg_db *db, const val_report *r, int64_t now_ms, char *err, size_t errlen);

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

/* ---- Alert facts and the summary verifier (issue 10) ----------------------
 * validator/summary_facts.c: the facts document (one per alert batch) and the
 * deterministic summary; validator/summary_verify.c: rules S1-S8 that every
 * summary is checked against before it is sent.  No dependency on supervisor/. */
#include <limits.h>
#include <stddef.h>

#define VAL_NO_TIME LLONG_MIN   /* a time field that is null in the facts */

typedef enum { VAL_FACT_DOWN, VAL_FACT_UP, VAL_FACT_GRACE, VAL_FACT_UNKNOWN } val_fact_state;
typedef enum { VAL_FACT_REASON_NONE, VAL_FACT_LATE, VAL_FACT_FAIL, VAL_FACT_EXIT,
               VAL_FACT_HUNG, VAL_FACT_NEVER_PINGED, VAL_FACT_RECOVERED } val_fact_reason;

/* One check of a batch.  Strings are borrowed (from the parsed document, or
 * from whoever filled the struct); NULL where the field is null. */
typedef struct val_fact_check {
	const char *slug;            /* slug grammar: [a-z0-9][a-z0-9_-]{0,63} */
	const char *name;            /* display name, any UTF-8 */
	val_fact_state state;
	val_fact_reason reason;      /* VAL_FACT_REASON_NONE only for up/unknown */
	long long since, expected_at, last_start, last_success, last_fail; /* Unix s or VAL_NO_TIME */
	long long grace_s;           /* -1 when null */
	int exit_status;             /* 0..255, -1 when null */
	double duration_s;           /* < 0 when null */
	const char *output_tail;
	const char *crontab_line;
	int muted;
} val_fact_check;

typedef struct val_facts {
	long long generated_at;      /* Unix s */
	const char *host;
	size_t n_checks;
	val_fact_check *checks;
	void *owner_;                /* storage of a parsed document; NULL when caller-built */
} val_facts;

/* Parses a facts document strictly (unknown or mistyped fields are errors).
 * On error returns NULL and writes "FIELD: what was expected" (or
 * "line L, column C: ..." for JSON syntax) into err.  Free with val_facts_free. */
val_facts *val_facts_parse(const char *json, size_t len, char *err, size_t errlen);
/* Same, from a file; errors are prefixed with "PATH: ". */
val_facts *val_facts_load(const char *path, char *err, size_t errlen);
void val_facts_free(val_facts *f);
/* The facts document as JSON text (times RFC 3339 UTC), from parsed or
 * caller-built facts (`vigil status --facts`).  Caller frees; NULL on OOM. */
char *val_facts_to_json(const val_facts *f);
const char *val_fact_state_name(val_fact_state s);
const char *val_fact_reason_name(val_fact_reason r);   /* NULL for NONE */
/* "2026-11-26T07:45:00Z" into buf (at least 21 bytes). */
void val_time_rfc3339(long long t, char *buf, size_t n);

/* The deterministic summary: one sentence per check (a sentence per reason
 * group when the batch has more than 3 checks).  Caller frees; NULL on OOM. */
char *val_summary_from_facts(const val_facts *f);
/* A time of the facts as summaries write it: "07:45 UTC" on the day of
 * generated_at, else "2026-11-25 02:00 UTC". */
void val_facts_when(const val_facts *f, long long t, char *buf, size_t n);

#define VAL_SUM_RULES 8
/* The verdict on one candidate: rule S<r> is broken when bit (r-1) of
 * `broken` is set, and why[r-1] then holds its first finding, e.g.
 * S3: "exit 2" does not match any exit status in the facts */
typedef struct val_sum_verdict {
	unsigned broken;
	char why[VAL_SUM_RULES][240];
} val_sum_verdict;

/* Checks TEXT against the facts under rules S1-S8.  `registered` is the
 * NULL-terminated list of every registered check's slug (may be NULL).
 * Returns the number of broken rules (0: accepted), or -1 on OOM. */
int val_summary_verify(const val_facts *f, const char *text,
                       const char *const *registered, val_sum_verdict *v);
/* One-line description of rule r (1..8), e.g. "S3 numbers come from the facts". */
const char *val_summary_rule(int r);
/* ---- end of issue 10 section ---------------------------------------------- */

#endif
