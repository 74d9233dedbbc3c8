/* crontab/apply_internal.h — shared between crontab/apply*.c only (not part
 * of the module's API; see crontab/crontab.h for that). */
#ifndef VIGIL_CRONTAB_APPLY_INTERNAL_H
#define VIGIL_CRONTAB_APPLY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growable byte buffer, always NUL-terminated after n bytes (p may hold NUL
 * bytes before that).  Owner frees with ca_buf_free(). */
typedef struct ca_buf {
	char *p;
	size_t n, cap;
} ca_buf;

int ca_buf_append(ca_buf *b, const void *data, size_t n);   /* 0 or -1 (ENOMEM) */
void ca_buf_free(ca_buf *b);


/* ---- apply_exec.c ---- */

/* The result of one external command. */
typedef struct ca_run {
	int exited;          /* 1: exited normally, status in code */
	int code;            /* exit status, or the signal number when !exited */
	int timed_out;       /* killed after the timeout */
	ca_buf out, err;     /* captured stdout / stderr (capped) */
} ca_run;

/* Runs PATH with ARGV (argv[0] included, NULL-terminated) through fork +
 * execve, with the current environment, stdin from /dev/null, stdout and
 * stderr captured (each capped at a few MiB), killed after timeout_s seconds.
 * Returns 0 when the command ran (whatever its exit status) and -1 when it
 * could not be started (msg says why).  The caller frees r with ca_run_free(). */
int ca_exec(const char *path, char *const argv[], int timeout_s, ca_run *r,
            char *msg, size_t msglen);
void ca_run_free(ca_run *r);
/* Finds NAME in $PATH (default "/usr/bin:/bin"): first executable regular
 * file.  Returns 0 and the full path in out, -1 when not found. */
int ca_which(const char *name, char *out, size_t outlen);
/* Writes "exit status N" / "killed by signal N" / "timed out after Ns" and
 * the first line(s) of stderr into msg. */
void ca_run_describe(const ca_run *r, int timeout_s, char *msg, size_t msglen);

/* ---- apply_jobs.c: job-wise view of a crontab ---- */

typedef struct ca_job {
	char *slug;          /* from "# vigil: SLUG" above the line or "vigil run SLUG"; NULL if none */
	char *schedule;      /* the five fields joined by single blanks, or the @macro */
	char *command;       /* the rest of the line, leading blanks removed */
	char *line;          /* the whole line, without its newline */
	int lineno;          /* 1-based */
} ca_job;

typedef struct ca_jobs {
	ca_job *v;
	size_t n;
	size_t n_content;    /* lines that are neither blank nor comments */
} ca_jobs;

/* Splits TEXT (n bytes) into jobs.  Never fails on odd input: lines it cannot
 * read as jobs or environment settings are counted in n_content and become
 * jobs without a schedule split (schedule ""), so a diff still shows them.
 * Returns 0, or -1 on ENOMEM.  Free with ca_jobs_free(). */
int ca_jobs_parse(const char *text, size_t n, ca_jobs *out);
void ca_jobs_free(ca_jobs *j);

typedef struct ca_diff_count {
	size_t added, removed, changed, unchanged;
} ca_diff_count;

/* Writes the job-wise diff of OLD -> NEW to f (may be NULL: count only), one
 * line per job:  "+ slug  SCHED  CMD", "- ...", "~ slug: schedule A -> B" /
 * "~ slug: command changed".  Jobs without a slug are matched by their whole
 * line.  Fills *c. */
void ca_jobs_diff(const ca_jobs *old, const ca_jobs *new_, FILE *f, const char *indent,
                  ca_diff_count *c);

/* ---- apply.c ---- */
/* Step 8's comparison: GOT (crontab -l) is WANT byte for byte, or exactly
 * Vixie cron's three-line header naming TMP (the file just installed)
 * followed by WANT.  1 same, 0 not. */
int ca_same_as_meant(const ca_buf *got, const char *want, size_t wn, const char *tmp);
/* Removes from b the three-line Vixie header of an install vigil made for
 * USER (its file "DIR/vigil-crontab-USER-XXXXXX"), if b starts with one.
 * Returns 1 when removed, 0 otherwise (b untouched). */
int ca_strip_vigil_header(ca_buf *b, const char *user);

/* ---- apply.c: the test hooks (compiled in only with -DVIGIL_TESTING) ---- */
#ifdef VIGIL_TESTING
/* VIGIL_TEST_FAIL_STEP=k[,k...] makes step k fail; VIGIL_TEST_KILL_STEP=k
 * SIGKILLs the process at the start of step k; VIGIL_TEST_KILL_AFTER=k right
 * after step k's action, before its journal entry. */
int ca_test_fail(int step);
void ca_test_kill(const char *var, int step);
#endif

#endif
