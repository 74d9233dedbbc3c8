/* registry/registry.h — vigil's SQLite storage: checks, pings, flips, the
 * alert outbox, orphan pings, settings and crontab revisions.
 *
 * One reg_db per thread (SQLite connections are not shared across threads).
 * Times are Unix milliseconds (int64_t, 0 = never); durations in seconds
 * unless the name says _ms.  Functions return REG_OK (0) or a negative
 * REG_E* code; the message of the last error is reg_errmsg(db).  Library code
 * never prints. */
#ifndef VIGIL_REGISTRY_H
#define VIGIL_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct reg_db reg_db;
typedef struct sqlite3 sqlite3;

enum {
	REG_OK = 0,
	REG_ENOTFOUND = -1,   /* no such check / row */
	REG_EEXISTS = -2,     /* unique constraint (slug taken) */
	REG_EINVAL = -3,      /* a value failed validation (message says which) */
	REG_EIO = -4,         /* the database could not be read or written */
	REG_EBUSY = -5,       /* locked past busy_timeout */
	REG_ECONFLICT = -6,   /* a conditional update changed no row */
};

#define REG_SCHEMA_VERSION 6
#define REG_SLUG_MAX 64

typedef enum reg_status {
	REG_NEW = 0, REG_UP, REG_GRACE, REG_DOWN, REG_STARTED, REG_PAUSED, REG_UNKNOWN,
	REG_STATUS_COUNT
} reg_status;

typedef enum reg_ping_kind {
	REG_PING_SUCCESS = 0, REG_PING_START, REG_PING_FAIL, REG_PING_LOG, REG_PING_EXIT,
	REG_PING_KIND_COUNT
} reg_ping_kind;

typedef struct reg_check {
	int64_t id;
	char slug[REG_SLUG_MAX + 1];
	char name[128];
	char desc[512];
	char tags[256];           /* space-separated */
	char schedule[256];       /* 5-field cron expression or macro; "" for a period check */
	int64_t period_s;         /* > 0 for a period check ("--every") */
	char tz[64];              /* IANA zone, default "UTC" */
	int64_t grace_s;
	int64_t max_runtime_s;    /* 0: no limit */
	reg_status status;
	char source[16];          /* "crontab" | "external" | "" (manual) */
	char script[512];         /* job source path when not read off the command */
	char crontab_line[1024];  /* the tagged line, when crontab-driven */
	int64_t created_ms;
	int64_t last_ping_ms, last_start_ms, last_success_ms, last_fail_ms;
	int last_exit;            /* -1 none */
	int64_t last_duration_ms; /* -1 none */
	int64_t status_since_ms;
	int paused;
	int64_t mute_until_ms;    /* 0: not muted (unless mute_indefinite) */
	int mute_indefinite;
	char mute_reason[256];
	int64_t next_deadline_ms; /* the scheduler's next evaluation time; 0 none */
	int64_t expected_ms;      /* the expected run the deadline is for; 0 none */
	int64_t n_pings;          /* pings recorded for it */
	int64_t last_ping_id;     /* its newest ping (the chain's head); 0 none */
} reg_check;

typedef struct reg_ping {
	int64_t id, check_id;
	int64_t created_ms;
	reg_ping_kind kind;
	int exit_status;          /* -1 none */
	char rid[40];             /* "" none */
	char remote[64];
	char method[8];
	int64_t duration_ms;      /* -1 none */
	unsigned char *body;      /* NULL-terminated copy, body_len bytes (malloc'd by list fns) */
	size_t body_len;
	int body_cut;             /* the sent body was longer and was cut */
} reg_ping;

typedef struct reg_flip {
	int64_t id, check_id;
	int64_t created_ms;
	reg_status old_status, new_status;
	char reason[32];          /* late, fail, exit, hung, never_pinged, recovered, ... */
	char slug[REG_SLUG_MAX + 1];
} reg_flip;

/* ---- opening, transactions ------------------------------------------- */

/* Opens (creating and migrating as needed) the database at PATH; creates the
 * parent directory if missing.  WAL, synchronous=FULL, foreign keys on,
 * busy_timeout.  *out is freed with reg_close().  On failure *out is NULL
 * and msg (if not NULL) receives the reason. */
int reg_open(const char *path, reg_db **out, char *msg, size_t msglen);
/* As reg_open, but migrates only up to schema version TARGET (tests build
 * databases of earlier versions with it). */
int reg_open_version(const char *path, int target, reg_db **out, char *msg, size_t msglen);
void reg_close(reg_db *db);
const char *reg_errmsg(const reg_db *db);
/* The raw handle, for modules that keep their own tables (prepared
 * statements only).  Owned by db. */
sqlite3 *reg_sqlite(reg_db *db);
int reg_schema_version(reg_db *db);
/* Runs migrations from the current version up to TARGET. */
int reg_migrate_to(reg_db *db, int target);

int reg_begin(reg_db *db);     /* BEGIN IMMEDIATE */
int reg_commit(reg_db *db);
int reg_rollback(reg_db *db);

/* ---- validation --------------------------------------------------------- */

/* 1 when s matches ^[a-z0-9][a-z0-9_-]{0,63}$. */
int reg_slug_valid(const char *s);
const char *reg_status_name(reg_status s);
int reg_status_parse(const char *s, reg_status *out);
const char *reg_ping_kind_name(reg_ping_kind k);

/* ---- hashing --------------------------------------------------------------- */

/* SHA-256 of len bytes: 32 raw bytes, or 64 lowercase hex digits + NUL. */
void reg_sha256(const void *data, size_t len, unsigned char out[32]);
void reg_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- settings ------------------------------------------------------------ */

/* Copies the value of KEY into buf; REG_ENOTFOUND when unset. */
int reg_setting_get(reg_db *db, const char *key, char *buf, size_t buflen);
int reg_setting_set(reg_db *db, const char *key, const char *value);
/* The ping key: created (128 random bits, hex) on first call. */
int reg_ping_key(reg_db *db, char *buf, size_t buflen);

/* ---- checks -------------------------------------------------------------- */

/* Fills defaults: tz "UTC", grace 300 s, status new, last_exit -1, durations -1. */
void reg_check_init(reg_check *c);
int reg_check_add(reg_db *db, reg_check *c, int64_t now_ms);      /* sets c->id */
/* Updates every declarative field of an existing check (by slug). */
int reg_check_update(reg_db *db, const reg_check *c);
int reg_check_get(reg_db *db, const char *slug, reg_check *out);
int reg_check_get_id(reg_db *db, int64_t id, reg_check *out);
/* *out is malloc'd (free()), *n set; ordered by slug. */
int reg_check_list(reg_db *db, reg_check **out, size_t *n);
int reg_check_rm(reg_db *db, const char *slug);
int reg_check_set_paused(reg_db *db, const char *slug, int paused, int64_t now_ms);
/* until_ms 0 with indefinite 0 and reason NULL: unmute. */
int reg_check_set_mute(reg_db *db, const char *slug, int64_t until_ms, int indefinite,
                       const char *reason);
int reg_check_set_deadline(reg_db *db, int64_t id, int64_t next_deadline_ms, int64_t expected_ms);

/* Conditional state change: UPDATE ... WHERE id=? AND status=FROM.  When a
 * row changed, writes a flip (and, when alert is set, an outbox row for it)
 * and returns REG_OK; REG_ECONFLICT when the status was not FROM.  Call
 * inside a transaction. */
int reg_check_transition(reg_db *db, int64_t id, reg_status from, reg_status to,
                         const char *reason, int alert, int64_t now_ms);

/* ---- pings ---------------------------------------------------------------- */

typedef struct reg_ping_in {
	const char *slug;
	reg_ping_kind kind;
	int exit_status;          /* for REG_PING_EXIT; -1 otherwise */
	const char *rid;          /* may be NULL */
	const char *remote, *method;
	const unsigned char *body;
	size_t body_len;
	int body_cut;
	int64_t now_ms;
} reg_ping_in;

typedef struct reg_ping_out {
	int found;                /* 0: unknown slug, recorded as orphan */
	int64_t check_id;
	int64_t ping_id;
	reg_status old_status, new_status;
	int flipped;
} reg_ping_out;

/* Records one ping and applies its state change (the state machine lives in
 * registry/state.c).  Must be called inside reg_begin()/reg_commit(); the
 * caller answers the client only after the commit returned REG_OK. */
int reg_ping_record(reg_db *db, const reg_ping_in *in, reg_ping_out *out);

/* Deferred recording, for the server's committer (one connection that
 * records pings at a high rate).  A ping is then one INSERT (plus a
 * conditional status update and its flip, as always, when the status
 * changes): the check's last_* times, last_ping_id and n_pings are not
 * rewritten per ping but folded in later by reg_ping_fold, many pings per
 * row.  The pings table is the truth: every reader of this library
 * (reg_check_get/_get_id/_list, reg_ping_list/_count) adds the pings not
 * folded yet, the scheduler folds before it judges a check, and after a
 * crash the next fold picks up whatever was committed.  The connection
 * keeps each check's newest ping in memory for the chain; it notices pings
 * written by anyone else (and a rollback) and then folds and starts over. */
void reg_ping_defer(reg_db *db, int on);
/* Folds every ping not folded yet into its check, in the caller's write
 * transaction. */
int reg_ping_fold(reg_db *db);
/* The same in steps that keep each write transaction short: prepare reads
 * (its own read transaction, no lock held; any connection) what to write;
 * step writes up to MAX_ROWS check rows (0: all) in the caller's write
 * transaction and returns 1 when the job is done, 0 when rows remain, <0 on
 * error (after a rollback, free the job: its steps were lost).  A row some
 * other fold moved on meanwhile is left alone, and the fold mark then
 * stays for the next job.  prepare returns NULL when there is nothing to
 * fold (*rc REG_OK) or on error. */
typedef struct reg_fold_job reg_fold_job;
reg_fold_job *reg_fold_prepare(reg_db *db, int *rc);
int reg_fold_step(reg_db *db, reg_fold_job *job, size_t max_rows);
void reg_fold_free(reg_fold_job *job);
/* Pings committed but not folded yet (-1 on error). */
int64_t reg_ping_unfolded(reg_db *db);
/* Last N pings of a check (N <= 0: all), newest first, following the chain
 * checks.last_ping_id -> pings.prev_id; bodies malloc'd: reg_pings_free(). */
int reg_ping_list(reg_db *db, int64_t check_id, int limit, reg_ping **out, size_t *n);
void reg_pings_free(reg_ping *p, size_t n);
int64_t reg_ping_count(reg_db *db, int64_t check_id);   /* -1 on error */

/* ---- orphans, flips --------------------------------------------------------- */

typedef struct reg_orphan {
	char slug[REG_SLUG_MAX + 1];
	int64_t count, first_ms, last_ms;
} reg_orphan;
int reg_orphan_list(reg_db *db, reg_orphan **out, size_t *n);
int reg_flip_list(reg_db *db, int64_t check_id, int limit, reg_flip **out, size_t *n);

#endif
