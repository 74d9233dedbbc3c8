/* validator/val_internal.h — shared between the validator's own files only. */
#ifndef VIGIL_VAL_INTERNAL_H
#define VIGIL_VAL_INTERNAL_H

#include "validator/validator.h"
#include "registry/registry.h"

#include <stdarg.h>

/* ---- report.c ---------------------------------------------------------- */
/* Appends a finding (strings copied; NULL means "").  The rule's severity
 * comes from the rule table unless sev is nonzero.  -1 on out-of-memory. */
int val_add(val_report *r, const char *rule, val_severity sev, const char *file,
            int line, int col, const char *slug, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));
/* Copies s with invalid UTF-8 bytes replaced by U+FFFD (malloc'd). */
char *val_utf8_clean(const char *s);

/* ---- summary_verify.c -------------------------------------------------- */
/* 1 when s[0,n) could stand in a summary without breaking S6 or S7 on its
 * own: valid UTF-8, one line of printable characters, no link, mention,
 * code fence, emphasis or header.  The deterministic summary quotes output
 * and names checks only through this. */
int val_sum_snippet_clean(const char *s, size_t n);

/* ---- util.c ------------------------------------------------------------ */
size_t val_edit_distance(const char *a, const char *b);
/* Parses "90", "90s", "15m", "1h30m", "2d", "1w" into seconds; -1 on error. */
int64_t val_parse_duration(const char *s);
/* Formats seconds as "1h30m" etc. into buf. */
void val_format_duration(int64_t s, char *buf, size_t n);
/* RFC 3339 ("2026-11-26T09:00:00Z", "...+01:00") to Unix ms; -1 on error. */
int64_t val_parse_time(const char *s, int64_t *out_ms);
/* Unix ms to "2026-11-26T09:00:00Z". */
void val_format_time(int64_t ms, char *buf, size_t n);
/* Reads a whole regular file (at most max bytes) into *out (malloc'd,
 * NUL-terminated; *len its length).  0, or an errno value (EFBIG when
 * larger than max, EISDIR, ...). */
int val_read_file(const char *path, size_t max, char **out, size_t *len);
/* "a/./b//c" -> "a/b/c", "./x" -> "x" (malloc'd; ".." kept). */
char *val_path_clean(const char *p);
/* 1 when two zone names are the same zone (UTC aliases included). */
int val_zone_same(const char *a, const char *b);
/* The system's zone name ("Europe/Berlin"), "UTC" when unknown. */
void val_system_zone(char *buf, size_t n);

/* ---- the registry as the rules see it ---------------------------------- */
enum {
	VAL_GIVEN_SCHEDULE = 1 << 0, VAL_GIVEN_TZ = 1 << 1, VAL_GIVEN_PERIOD = 1 << 2,
	VAL_GIVEN_GRACE = 1 << 3, VAL_GIVEN_MAXRT = 1 << 4, VAL_GIVEN_SCRIPT = 1 << 5,
	VAL_GIVEN_MUTE = 1 << 6, VAL_GIVEN_SOURCE = 1 << 7,
};
typedef struct val_entry {
	reg_check c;
	int line, column;        /* position in the registry file; 0 from the db */
	unsigned given;          /* VAL_GIVEN_* fields present in the file */
	int in_db;               /* db state (status, pings, created) known */
} val_entry;

/* regfile.c */
const val_entry *val_regfile_entries(const val_regfile *f, size_t *n);
const char *val_regfile_path(const val_regfile *f);

/* ---- crontab.c: the managed crontab as the rules see it ----------------- */
typedef struct val_job {
	int line, col;           /* the job line; col of its first field */
	int cmd_col;             /* column where the command starts */
	char *schedule;          /* "0 5 * * *" or "@daily" (blanks normalised) */
	char *command;           /* the command as written */
	char *slug;              /* the tag, NULL if none */
	int tag_line, tag_col;   /* where the tag was read */
	int wrapper;             /* tagged by "vigil run SLUG --" */
	char *wrapper_slug;      /* slug of the wrapper, if any */
	int ignored;             /* "# vigil: ignore reason=..." */
	int bad_directive;       /* directive above could not be read */
	char *script;            /* resolved path of the job's script, NULL if none */
	int script_col;
	int script_exec;         /* 1: run directly (must be executable) */
	int script_shell;        /* the line runs it with sh/bash */
	char interp[16];         /* the interpreter named on the line ("bash"), "" none */
	char *args[10];          /* the script's first arguments, NULL-terminated */
} val_job;

typedef struct val_env { char *name, *value; int line; } val_env;

typedef struct val_crontab {
	char *path;
	val_job *jobs; size_t njobs;
	val_env *env; size_t nenv;
} val_crontab;

/* Reads PATH; tag and ignore findings (V101 and V105 syntax) go to r.
 * base_dir resolves relative script paths and an unset $HOME. */
int val_crontab_load(const char *path, const char *base_dir, val_report *r,
                     val_crontab **out, char *err, size_t errlen);
void val_crontab_free(val_crontab *t);
/* Analyses COMMAND (one crontab command): the first simple command's script
 * and a "vigil run SLUG" wrapper.  Exposed for tests. */
void val_command_analyse(const char *command, const val_crontab *t, const char *base_dir,
                         val_job *j);

/* ---- pingcall.c --------------------------------------------------------- */
/* Every slug that TEXT pings (vigil ping/run SLUG, /ping/KEY/SLUG, helper
 * patterns), skipping comment lines.  *slugs malloc'd array of malloc'd
 * strings (val_strv_free); lines (may be NULL) the 1-based line of each. */
int val_ping_calls(const char *text, size_t len, const char *const *patterns,
                   char ***slugs, int **lines, size_t *n);
/* The same for a script run with arguments: $1..$9 are args[0..8] (args
 * NULL-terminated, may be NULL), so a shared runner that pings "$1" is
 * understood. */
int val_ping_calls_args(const char *text, size_t len, const char *const *patterns,
                        const char *const *args, char ***slugs, int **lines, size_t *n);
void val_strv_free(char **v, size_t n);

/* ---- shellcheck.c -------------------------------------------------------- */
typedef struct val_sc_item { int line, column; char level[12]; int code; char *message; } val_sc_item;
/* Runs (or reads from the cache) ShellCheck on the script at PATH whose
 * content is DATA.  VAL_OK with *items (val_sc_free); VAL_EINPUT when
 * ShellCheck is missing or failed (err says why and how to install it). */
int val_shellcheck(const char *bin, const char *cache_dir, int timeout_s, const char *path,
                   const char *data, size_t len, const char *shell,
                   val_sc_item **items, size_t *n, char *err, size_t errlen);
void val_sc_free(val_sc_item *items, size_t n);

/* Many scripts at once: cache hits first, then one ShellCheck process per
 * batch of misses (a batch that fails is retried file by file).  Fills each
 * job's items, or its err when that file could not be checked.  VAL_EINPUT
 * (err) when ShellCheck is missing; nothing is filled then. */
typedef struct val_sc_job {
	const char *path;        /* as ShellCheck is given it */
	const char *shell;       /* --shell, or NULL: from the #! line */
	char content_sha[65];    /* SHA-256 of the script's bytes */
	val_sc_item *items;      /* out: malloc'd, val_sc_free() */
	size_t n;
	char err[256];           /* out: "" or why this file was not checked */
} val_sc_job;
int val_shellcheck_batch(const char *bin, const char *cache_dir, int timeout_s,
                         val_sc_job *jobs, size_t n, char *err, size_t errlen);

/* ---- cronglue.c: what the rules need from the crontab engine ------------- */
/* V301 / V302 for every line of the crontab file at PATH. */
void val_cron_rules(const char *path, const val_crontab *t, const char *zone, val_report *r);
/* The first fire time strictly after after_ms, -1 when it never fires or
 * the schedule cannot be read. */
int64_t val_cron_next(const char *schedule, const char *zone, int64_t after_ms);
/* 0 when SCHEDULE parses, fires, and ZONE (may be NULL) is known; else -1
 * with why, *never set for a schedule that never fires. */
int val_cron_check(const char *schedule, const char *zone, char *why, size_t n, int *never);
int val_zone_known(const char *zone);
/* 1 when two schedules fire at the same times (text or semantics). */
int val_cron_same(const char *a, const char *b, const char *zone);

/* report.c: keeps the findings from index `from` on whose rule keep() accepts. */
void val_report_retain(val_report *r, size_t from, int (*keep)(const char *rule, void *arg), void *arg);

#endif
