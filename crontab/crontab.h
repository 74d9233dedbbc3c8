/* crontab/crontab.h — crontab parsing, fire times, and the safe apply.
 * (The parser part of this header is owned by the crontab issue; the
 * section at the end is the apply/rollback API of issue 5.) */
#ifndef VIGIL_CRONTAB_H
#define VIGIL_CRONTAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
