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
