/* crontab/crontab.h — crontab parsing with Debian (Vixie 3.0pl1) cron's
 * semantics, and next/previous fire times in an IANA time zone with DST.
 *
 * Three parts:
 *   cron_expr     one schedule: five fields or an @macro, with the flags
 *                 Debian's daemon uses (which fields begin with '*').
 *   cron_next/    the instants Debian's cron daemon, running in zone TZ,
 *   cron_prev     really starts the job (its clock-jump handling included:
 *                 see cron_next.c for each kind of jump).
 *   crontab_file  a whole user crontab: env lines, jobs, comments, and every
 *                 error with its line and column.
 *
 * Everything here is thread-safe: zones are loaded once from the system tz
 * database (TZDIR or /usr/share/zoneinfo) into a process-wide cache that is
 * never freed, and nothing touches the TZ environment variable. */
#ifndef VIGIL_CRONTAB_H
#define VIGIL_CRONTAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors ------------------------------------------------------------ */

#define CRON_MSG_MAX 256

/* One error: 1-based line and byte column (0 when not tied to one). */
typedef struct cron_error {
	int line;
	int col;
	char msg[CRON_MSG_MAX];
} cron_error;

/* Return codes of cron_next / cron_prev / cron_zone_get. */
enum {
	CRON_OK = 0,         /* found */
	CRON_NEVER = 1,      /* the schedule never fires (in the searched range) */
	CRON_EZONE = -1,     /* unknown or unreadable time zone */
	CRON_EINVAL = -2,    /* bad argument (instant out of range, NULL) */
};

/* ---- one schedule ------------------------------------------------------ */

/* Debian's entry flags. */
enum {
	CRON_MIN_STAR = 0x01,  /* minute field begins with '*' */
	CRON_HR_STAR = 0x02,   /* hour field begins with '*' (and @hourly) */
	CRON_DOM_STAR = 0x04,  /* day-of-month field begins with '*' */
	CRON_DOW_STAR = 0x08,  /* day-of-week field begins with '*' */
	CRON_REBOOT = 0x10,    /* @reboot: runs at daemon start, not periodic */
};

typedef enum cron_macro {
	CRON_MACRO_NONE = 0, CRON_MACRO_REBOOT, CRON_MACRO_YEARLY,
	CRON_MACRO_ANNUALLY, CRON_MACRO_MONTHLY, CRON_MACRO_WEEKLY,
	CRON_MACRO_DAILY, CRON_MACRO_MIDNIGHT, CRON_MACRO_HOURLY,
} cron_macro;

/* A parsed schedule.  A plain value; copy it freely, nothing to free. */
typedef struct cron_expr {
	uint64_t minute;   /* bit m: minute m, 0..59 */
	uint32_t hour;     /* bit h: hour h, 0..23 */
	uint32_t dom;      /* bit d: day of month d, 1..31 */
	uint16_t month;    /* bit m: month m, 1..12 */
	uint8_t dow;       /* bit w: weekday w, 0..6, 0 = Sunday (7 folded in) */
	uint8_t flags;     /* CRON_MIN_STAR ... */
	cron_macro macro;  /* the @macro written, or CRON_MACRO_NONE */
	/* Derived at parse time, used by the fire-time search: for a month whose
	 * first day is weekday w, bit d-1 is set when day d matches dow. */
	uint32_t dow_days[7];
} cron_expr;

/* Parses a schedule: five fields ("*\/5 9-17 * * mon-fri") or a macro
 * ("@daily").  Leading/trailing blanks are allowed, nothing else.  Columns in
 * err are 1-based byte offsets into text (err->line is 1).  Returns 0, or -1
 * with err filled.  Stricter than Debian where Debian silently accepts what
 * no operator means (see crontab_file below); err->msg says so. */
int cron_expr_parse(const char *text, cron_expr *out, cron_error *err);

/* 1 when the daemon treats the job as "wildcard" for clock jumps (minute or
 * hour begins with '*', or @hourly), 0 when "fixed-time". */
int cron_expr_is_wild(const cron_expr *e);

/* 1 when no calendar minute ever matches (e.g. "0 0 30 2 *"), or @reboot. */
int cron_expr_never(const cron_expr *e);

/* 1 when wall-clock date/time (month 1..12, dom 1..31, dow 0..6, hour,
 * minute) matches the fields under Debian's day rule. */
int cron_expr_match(const cron_expr *e, int month, int dom, int dow, int hour, int minute);

/* ---- fire times --------------------------------------------------------- */

typedef struct cron_zone cron_zone;  /* opaque, cached, never freed */

/* Looks up (loading once) an IANA zone name such as "Europe/London" or
 * "UTC".  Returns NULL for an unknown or malformed name (err filled if not
 * NULL).  The pointer stays valid for the life of the process. */
const cron_zone *cron_zone_get(const char *name, cron_error *err);

/* Writes the system's zone name into buf: $TZ when it names a zone, else
 * /etc/timezone, else the /etc/localtime link target, else "UTC". */
void cron_zone_system(char *buf, size_t len);

/* UTC offset (seconds east) in force at instant t. */
int32_t cron_zone_offset(const cron_zone *z, int64_t t);

/* The first instant strictly after `after` (Unix seconds) at which Debian's
 * cron daemon running in zone tz starts a job with schedule e.  Returns
 * CRON_OK (*out set), CRON_NEVER, CRON_EZONE, or CRON_EINVAL.  Exact over
 * years 1900..2999; the search gives up (CRON_NEVER) after ~400 years.
 * DST as the daemon does it: in a spring-forward gap a fixed-time job runs
 * at the gap's end (several gap minutes: still one instant), a wildcard job
 * (cron_expr_is_wild) skips; in a fall-back repeat a fixed-time job runs at
 * the first occurrence only, a wildcard job at both.  @reboot: CRON_NEVER.
 * Thread-safe; no locks after the zone's first load. */
int cron_next(const cron_expr *e, const char *tz, int64_t after, int64_t *out);
/* The last such instant strictly before `before`. */
int cron_prev(const cron_expr *e, const char *tz, int64_t before, int64_t *out);
/* The same with a zone already looked up (no name lookup: the fast path). */
int cron_next_z(const cron_expr *e, const cron_zone *z, int64_t after, int64_t *out);
int cron_prev_z(const cron_expr *e, const cron_zone *z, int64_t before, int64_t *out);

/* ---- time text helpers -------------------------------------------------- */

/* Parses RFC 3339 ("2026-03-08T06:30:00Z", "...+02:00", fraction ignored
 * only if zero).  Returns 0 or -1. */
int cron_parse_rfc3339(const char *s, int64_t *out);
/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void cron_format_utc(int64_t t, char *buf, size_t len);

/* ---- a whole crontab file ----------------------------------------------- */

#define CRONTAB_MAX_LINES 10000
#define CRONTAB_MAX_COMMAND 998

/* NAME=value line, as cron sets it for the jobs below it. */
typedef struct crontab_env {
	int line;
	char *name;
	char *value;
} crontab_env;

/* A comment line ('#' is the first non-blank byte). */
typedef struct crontab_comment {
	int line;
	char *text;   /* the whole line, without the newline */
} crontab_comment;

typedef struct crontab_job {
	int line;             /* 1-based */
	int col_field[5];     /* column of each field (macro: col_field[0] only) */
	int col_command;      /* column where the command begins */
	cron_expr expr;
	char *schedule;       /* the schedule as written ("0 5 * * 1", "@daily") */
	char *command;        /* the command as written, '%' and '\%' intact */
	char *shell_command;  /* what /bin/sh -c runs: up to the first unescaped
	                       * '%', each "\%" turned into '%' */
	char *input;          /* stdin after the first unescaped '%' ('%' -> '\n',
	                       * "\%" -> '%', a final '\n' added), or NULL */
	const crontab_comment *comment_above;  /* comment on line-1, or NULL */
	size_t n_env;         /* envs[0 .. n_env) precede this job */
} crontab_job;

typedef struct crontab_file {
	char *path;                 /* as given (for messages) */
	int n_lines;
	crontab_job *jobs;          size_t n_jobs;
	crontab_env *envs;          size_t n_envs;
	crontab_comment *comments;  size_t n_comments;
	cron_error *errors;         size_t n_errors;   /* in line order */
} crontab_file;

/* Parses a crontab held in memory; `path` names it in messages.  Returns 0
 * (no errors), 1 (errors collected in (*out)->errors; jobs that parsed are
 * still listed), or -1 on allocation failure (*out NULL).  The caller frees
 * *out with crontab_free(). */
int crontab_parse(const char *path, const char *buf, size_t len, crontab_file **out);
/* Reads and parses the file at path.  -1 with err filled when it cannot be
 * read (err->line 0). */
int crontab_parse_file(const char *path, crontab_file **out, cron_error *err);
void crontab_free(crontab_file *f);

/* Looks up env NAME as in effect for job j (last assignment above it). */
const char *crontab_job_env(const crontab_file *f, const crontab_job *j, const char *name);

/* ==== safe apply, history, rollback (crontab/apply*.c, issue 5) ======== */
/*
 * `vigil crontab apply` in ten steps: gate, read installed, job diff,
 * guards, per-user lock, revision of the installed crontab (fsync'd), install
 * with the real `crontab`, read back byte for byte, restore on failure,
 * record.  Every step is journaled (crontab_journal) so an interrupted apply
 * is completed or reverted by cron_apply_recover().  Functions write their
 * human-readable report to `report` (may be NULL) and return an exit code:
 * CRON_APPLY_OK, CRON_APPLY_REFUSED (refused, or failed and restored: the
 * report says which), CRON_APPLY_USAGE (bad input: unknown user, unreadable
 * file, no such revision). */

enum { CRON_APPLY_OK = 0, CRON_APPLY_REFUSED = 1, CRON_APPLY_USAGE = 2 };

typedef struct cron_apply_opts {
	const char *db_path;              /* the registry database (required) */
	const char *user;                 /* whose crontab; NULL: the effective user */
	const char *registry_path;        /* declarative registry for the gate; NULL: the db */
	const char *const *ping_patterns; /* extra ping-call patterns for the gate; may be NULL */
	const char *crontab_bin;          /* NULL: "crontab" looked up in $PATH */
	int timeout_s;                    /* per crontab command; 0: 30 s */
	int dry_run;                      /* steps 1-4 only */
	int allow_empty;                  /* accept a crontab without jobs */
	long allow_removals;              /* jobs that may disappear (default 0) */
	int yes;                          /* accept drift, and removing more than half */
	int force;                        /* rollback: skip the gate (recorded) */
	int no_wait;                      /* fail at once when another apply holds the lock */
} cron_apply_opts;

/* Applies FILE as the user's crontab (steps 1-10; 1-4 with dry_run). */
int cron_apply_file(const cron_apply_opts *o, const char *file, FILE *report);
/* What apply would do: the job-wise diff, drift and the guards' verdicts.
 * Changes nothing; CRON_APPLY_OK unless the input could not be read. */
int cron_apply_diff(const cron_apply_opts *o, const char *file, FILE *report);
/* Re-installs revision REV (0: the one installed before the current one)
 * through steps 2-10, with the gate unless o->force. */
int cron_apply_rollback(const cron_apply_opts *o, int64_t rev, FILE *report);
/* Lists the recorded revisions of USER (NULL: all users), newest first. */
int cron_apply_history(const char *db_path, const char *user, FILE *out);
/* Writes revision REV's content (exactly) to out. */
int cron_apply_show(const char *db_path, int64_t rev, FILE *out);
/* Finishes or reverts every unfinished apply recorded in the database (for
 * `vigil status` and `vigil serve`; apply and rollback do it themselves).
 * Users whose lock is held (an apply running now) are left alone.  Returns
 * the number of applies recovered (msg describes them), 0 when there was
 * nothing to do, -1 when a recovery failed (msg says why; the journal stays
 * open and the next call retries). */
int cron_apply_recover(const char *db_path, char *msg, size_t msglen);

#endif
