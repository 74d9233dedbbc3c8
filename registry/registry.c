/* registry/registry.c — connection, settings, checks, pings, flips, orphans. */
#include "registry/reg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STMT_CACHE 48

/* Deferred recording (reg_ping_defer): a check's newest ping as this
 * connection wrote it. */
typedef struct defer_ent {
	int64_t check_id;         /* 0: free slot */
	int64_t head_id;
	int64_t last_start_ms;
} defer_ent;

/* Deferred recording also remembers, by slug, what the ping path reads of a
 * check (its id, status, pause, newest ping and last start), so that a ping
 * of a known check reads nothing.  It is trusted only while no other
 * connection has committed since this one last looked (PRAGMA data_version,
 * once per transaction) and this connection changed no check by any other
 * path (slug_forget). */
typedef struct slug_ent {
	char slug[REG_SLUG_MAX + 1];   /* "": free slot */
	int64_t check_id, head_id, last_start_ms;
	int status, paused;
} slug_ent;

struct reg_db {
	sqlite3 *s;
	char err[512];
	struct { const char *sql; sqlite3_stmt *st; } cache[STMT_CACHE];
	int ncache;
	int defer;
	defer_ent *dmap;          /* open addressing by check_id */
	size_t dcap, dn;
	int64_t dlast;            /* the newest ping id as we left it; -1 unknown */
	int dchecked;             /* dlast checked in this transaction */
	slug_ent *smap;           /* open addressing by slug */
	size_t scap, sn;
	int64_t dver;             /* PRAGMA data_version when last looked; -1 unknown */
	struct timespec busy_t0;  /* when the current wait for a lock began */
};

void reg_set_err(reg_db *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(db->err, sizeof db->err, fmt, ap);
	va_end(ap);
}

const char *reg_errmsg(const reg_db *db) { return db ? db->err : "no database"; }
sqlite3 *reg_sqlite(reg_db *db) { return db->s; }

int reg_fail(reg_db *db, int rc, const char *what)
{
	int base = rc & 0xff;
	reg_set_err(db, "%s: %s", what, sqlite3_errmsg(db->s));
	if (base == SQLITE_BUSY || base == SQLITE_LOCKED) return REG_EBUSY;
	if (base == SQLITE_CONSTRAINT) {
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return REG_EEXISTS;
		return REG_EINVAL;
	}
	return REG_EIO;
}

/* Statements are cached by the address of their SQL text (always a literal). */
sqlite3_stmt *reg_stmt(reg_db *db, const char *sql)
{
	for (int i = 0; i < db->ncache; i++)
		if (db->cache[i].sql == sql) {
			sqlite3_reset(db->cache[i].st);
			sqlite3_clear_bindings(db->cache[i].st);
			return db->cache[i].st;
		}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->s, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) { reg_fail(db, rc, "prepare"); return NULL; }
	if (db->ncache < STMT_CACHE) {
		db->cache[db->ncache].sql = sql;
		db->cache[db->ncache].st = st;
		db->ncache++;
	}
	/* else: the statement leaks until close; STMT_CACHE is sized above the
	 * number of distinct statements, and a test checks it. */
	return st;
}

static int mkparent(const char *path, char *msg, size_t msglen)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir) return 0;
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0) return 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/') continue;
		*p = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST) goto fail;
		*p = '/';
	}
	if (mkdir(dir, 0750) && errno != EEXIST) goto fail;
	return 0;
fail:
	if (msg) snprintf(msg, msglen, "%s: cannot create directory: %s", dir, strerror(errno));
	return -1;
}

int reg_schema_version(reg_db *db)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(db->s, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	else
		reg_set_err(db, "cannot read schema version: %s", sqlite3_errmsg(db->s));
	sqlite3_finalize(st);
	return v;
}

/* *out is freed with reg_close(). */
int reg_open(const char *path, reg_db **out, char *msg, size_t msglen)
{
	return reg_open_version(path, reg_schema_latest(), out, msg, msglen);
}

/* How long a connection waits for another one's write lock before the
 * statement fails with SQLITE_BUSY. */
#define BUSY_TIMEOUT_MS 5000

/* Waiting for a lock.  SQLite's own busy_timeout sleeps 1, 2, 5, 10, 15,
 * 20 ms... between tries, so a writer that keeps losing the race to
 * back-to-back short transactions (the scheduler planning thousands of checks,
 * 3 ms each) slept 53 ms in one BEGIN while the lock had been free many
 * times (measured on the committer under the ping benchmark).  Here a
 * waiter tries again every 100 us for the first 50 ms, then every
 * millisecond, until BUSY_TIMEOUT_MS in all. */
static int busy_wait(void *arg, int count)
{
	reg_db *db = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0) db->busy_t0 = now;
	int64_t waited_us = (int64_t)(now.tv_sec - db->busy_t0.tv_sec) * 1000000 +
	                    (now.tv_nsec - db->busy_t0.tv_nsec) / 1000;
	if (waited_us >= (int64_t)BUSY_TIMEOUT_MS * 1000) return 0;
	struct timespec pause = { 0, waited_us < 50000 ? 100000 : 1000000 };
	nanosleep(&pause, NULL);
	return 1;
}

int reg_open_version(const char *path, int target, reg_db **out, char *msg, size_t msglen)
{
	*out = NULL;
	if (mkparent(path, msg, msglen)) return REG_EIO;
	reg_db *db = calloc(1, sizeof *db);
	if (!db) { if (msg) snprintf(msg, msglen, "out of memory"); return REG_EIO; }
	int rc = sqlite3_open_v2(path, &db->s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (msg) snprintf(msg, msglen, "%s: cannot open database: %s", path, db->s ? sqlite3_errmsg(db->s) : "out of memory");
		goto fail;
	}
	sqlite3_busy_handler(db->s, busy_wait, db);
	sqlite3_extended_result_codes(db->s, 1);
	char *emsg = NULL;
	rc = sqlite3_exec(db->s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	                  NULL, NULL, &emsg);
	if (rc != SQLITE_OK) {
		if (msg) snprintf(msg, msglen, "%s: %s", path, emsg ? emsg : sqlite3_errmsg(db->s));
		sqlite3_free(emsg);
		goto fail;
	}
	int v = reg_schema_version(db);
	if (v < 0) { if (msg) snprintf(msg, msglen, "%s: %s", path, db->err); goto fail; }
	if (v > reg_schema_latest()) {
		if (msg) snprintf(msg, msglen, "%s: database schema version %d is newer than this vigil (%d)", path, v, reg_schema_latest());
		goto fail;
	}
	if (reg_migrate_to(db, target) != REG_OK) {
		if (msg) snprintf(msg, msglen, "%s: %s", path, db->err);
		goto fail;
	}
	*out = db;
	return REG_OK;
fail:
	reg_close(db);
	return REG_EIO;
}

void reg_close(reg_db *db)
{
	if (!db) return;
	free(db->dmap);
	free(db->smap);
	for (int i = 0; i < db->ncache; i++) sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->s);
	free(db);
}

static int exec_simple(reg_db *db, const char *sql)
{
	int rc = sqlite3_exec(db->s, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? REG_OK : reg_fail(db, rc, sql);
}
int reg_begin(reg_db *db)
{
	db->dchecked = 0;
	return exec_simple(db, "BEGIN IMMEDIATE");
}
int reg_commit(reg_db *db) { return exec_simple(db, "COMMIT"); }
static void slug_forget(reg_db *db)
{
	if (db->smap) memset(db->smap, 0, db->scap * sizeof *db->smap);
	db->sn = 0;
}

static void defer_reset(reg_db *db)
{
	if (db->dmap) memset(db->dmap, 0, db->dcap * sizeof *db->dmap);
	db->dn = 0;
	db->dlast = -1;
	db->dver = -1;
	slug_forget(db);
}

int reg_rollback(reg_db *db)
{
	/* the memory of deferred recording may hold pings that are now gone */
	defer_reset(db);
	if (sqlite3_get_autocommit(db->s)) return REG_OK;
	return exec_simple(db, "ROLLBACK");
}

/* ---- validation ---------------------------------------------------------- */

int reg_slug_valid(const char *s)
{
	if (!s) return 0;
	size_t n = strlen(s);
	if (n < 1 || n > REG_SLUG_MAX) return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
		if (!ok) return 0;
	}
	return 1;
}

static const char *const status_names[REG_STATUS_COUNT] = {
	"new", "up", "grace", "down", "started", "paused", "unknown"
};
const char *reg_status_name(reg_status s)
{
	return (unsigned)s < REG_STATUS_COUNT ? status_names[s] : "invalid";
}
int reg_status_parse(const char *s, reg_status *out)
{
	for (int i = 0; i < REG_STATUS_COUNT; i++)
		if (!strcmp(s, status_names[i])) { *out = (reg_status)i; return 0; }
	return -1;
}
const char *reg_ping_kind_name(reg_ping_kind k)
{
	static const char *const n[] = {"success", "start", "fail", "log", "exit"};
	return (unsigned)k < REG_PING_KIND_COUNT ? n[k] : "invalid";
}

/* ---- settings ------------------------------------------------------------ */

int reg_setting_get(reg_db *db, const char *key, char *buf, size_t buflen)
{
	sqlite3_stmt *st = reg_stmt(db, "SELECT value FROM settings WHERE key=?");
	if (!st) return REG_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) { reg_set_err(db, "setting %s is not set", key); return REG_ENOTFOUND; }
	if (rc != SQLITE_ROW) return reg_fail(db, rc, "read setting");
	snprintf(buf, buflen, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return REG_OK;
}

int reg_setting_set(reg_db *db, const char *key, const char *value)
{
	sqlite3_stmt *st = reg_stmt(db, "INSERT INTO settings(key,value) VALUES(?,?) "
	                                "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
	if (!st) return REG_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? REG_OK : reg_fail(db, rc, "write setting");
}

int reg_ping_key(reg_db *db, char *buf, size_t buflen)
{
	if (reg_setting_get(db, "ping_key", buf, buflen) == REG_OK) return REG_OK;
	unsigned char rnd[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
		if (fd >= 0) close(fd);
		reg_set_err(db, "cannot read /dev/urandom for the ping key");
		return REG_EIO;
	}
	close(fd);
	char hex[33];
	for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	/* INSERT OR IGNORE: two processes racing on first start agree on one key. */
	sqlite3_stmt *st = reg_stmt(db, "INSERT OR IGNORE INTO settings(key,value) VALUES('ping_key',?)");
	if (!st) return REG_EIO;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "store ping key");
	return reg_setting_get(db, "ping_key", buf, buflen);
}

/* ---- pings folded into their checks ----------------------------------------- */

/* What a run of pings did to one check's row (the same rules as the UPDATE
 * in reg_ping_record, applied in id order). */
enum { AGG_START = 1, AGG_SUCCESS = 2, AGG_FAIL = 4, AGG_EXIT = 8, AGG_DURATION = 16 };
typedef struct ping_agg {
	int64_t check_id;         /* 0: free slot */
	int64_t floor;            /* the row holds the pings up to this id */
	int64_t last_ping_id, n;
	int64_t last_ping_ms, last_start_ms, last_success_ms, last_fail_ms, last_duration_ms;
	int last_exit;
	unsigned set;
} ping_agg;

typedef struct agg_map {
	ping_agg *v;
	size_t cap, n;
} agg_map;

static size_t id_hash(int64_t id, size_t cap)
{
	return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static ping_agg *agg_find(const agg_map *m, int64_t check_id)
{
	if (!m->cap) return NULL;
	for (size_t i = id_hash(check_id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].check_id == check_id) return &m->v[i];
		if (!m->v[i].check_id) return NULL;
	}
}

static ping_agg *agg_get(agg_map *m, int64_t check_id)
{
	ping_agg *a = agg_find(m, check_id);
	if (a) return a;
	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		ping_agg *nv = calloc(nc, sizeof *nv);
		if (!nv) return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->v[i].check_id) continue;
			size_t j = id_hash(m->v[i].check_id, nc);
			while (nv[j].check_id) j = (j + 1) & (nc - 1);
			nv[j] = m->v[i];
		}
		free(m->v);
		m->v = nv;
		m->cap = nc;
	}
	size_t i = id_hash(check_id, m->cap);
	while (m->v[i].check_id) i = (i + 1) & (m->cap - 1);
	memset(&m->v[i], 0, sizeof m->v[i]);
	m->v[i].check_id = check_id;
	m->n++;
	return &m->v[i];
}

static void agg_apply(ping_agg *a, int64_t id, int64_t t, int kind, int exit_status, int64_t duration)
{
	int failed = kind == REG_PING_FAIL || (kind == REG_PING_EXIT && exit_status != 0);
	int succeeded = kind == REG_PING_SUCCESS || (kind == REG_PING_EXIT && exit_status == 0);
	a->last_ping_id = id;
	a->n++;
	a->last_ping_ms = t;
	if (kind == REG_PING_START) { a->last_start_ms = t; a->set |= AGG_START; }
	if (succeeded) { a->last_success_ms = t; a->set |= AGG_SUCCESS; }
	if (failed) { a->last_fail_ms = t; a->set |= AGG_FAIL; }
	if (kind == REG_PING_EXIT && exit_status >= 0) { a->last_exit = exit_status; a->set |= AGG_EXIT; }
	else if (failed) { a->last_exit = -1; a->set |= AGG_EXIT; }
	else if (succeeded) { a->last_exit = 0; a->set |= AGG_EXIT; }
	if (duration >= 0) { a->last_duration_ms = duration; a->set |= AGG_DURATION; }
}

static void agg_to_check(const ping_agg *a, reg_check *c)
{
	c->last_ping_id = a->last_ping_id;
	c->n_pings += a->n;
	c->last_ping_ms = a->last_ping_ms;
	if (a->set & AGG_START) c->last_start_ms = a->last_start_ms;
	if (a->set & AGG_SUCCESS) c->last_success_ms = a->last_success_ms;
	if (a->set & AGG_FAIL) c->last_fail_ms = a->last_fail_ms;
	if (a->set & AGG_EXIT) c->last_exit = a->last_exit;
	if (a->set & AGG_DURATION) c->last_duration_ms = a->last_duration_ms;
}

/* The fold mark: every ping with id <= it is in its check's row. */
static int fold_mark(reg_db *db, int64_t *mark, int64_t *max_id)
{
	sqlite3_stmt *st = reg_stmt(db, "SELECT folded_id, (SELECT coalesce(max(id), 0) FROM pings) FROM ping_fold WHERE id = 1");
	if (!st) return REG_EIO;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc == SQLITE_DONE) { reg_set_err(db, "ping_fold: row missing"); return REG_EIO; }
		return reg_fail(db, rc, "read fold mark");
	}
	*mark = sqlite3_column_int64(st, 0);
	if (max_id) *max_id = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return REG_OK;
}

/* Runs a read in one transaction unless the caller is in one already. */
static int read_begin(reg_db *db, int *own)
{
	*own = sqlite3_get_autocommit(db->s);
	if (!*own) return REG_OK;
	int rc = sqlite3_exec(db->s, "BEGIN", NULL, NULL, NULL);
	return rc == SQLITE_OK ? REG_OK : reg_fail(db, rc, "BEGIN");
}

static int read_end(reg_db *db, int own, int rc)
{
	/* a read-only transaction: never leave it open, whatever happened */
	if (own && (rc || sqlite3_exec(db->s, "COMMIT", NULL, NULL, NULL) != SQLITE_OK))
		sqlite3_exec(db->s, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Seeds m with check ID and its floor, read from its row (a check that is
 * gone gets a floor no ping reaches). */
static ping_agg *seed_one(reg_db *db, agg_map *m, int64_t id, int *rc)
{
	sqlite3_stmt *st = reg_stmt(db, "SELECT last_ping_id FROM checks WHERE id = ?");
	if (!st) { *rc = REG_EIO; return NULL; }
	sqlite3_bind_int64(st, 1, id);
	int r = sqlite3_step(st);
	int64_t floor = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MAX;
	sqlite3_reset(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE) { *rc = reg_fail(db, r, "read check to fold"); return NULL; }
	ping_agg *a = agg_get(m, id);
	if (!a) { reg_set_err(db, "out of memory"); *rc = REG_EIO; return NULL; }
	a->floor = floor;
	return a;
}

/* Adds the pings after FROM (of ONLY_CHECK, or all) to the checks seeded in
 * m (SEED: every check met is seeded on the way), in id order, skipping
 * those a check's row already holds (id <= its last_ping_id, the floor).
 * *last: the newest id seen. */
static int pending_scan(reg_db *db, int64_t from, int64_t only_check, int seed, agg_map *m, int64_t *last)
{
	sqlite3_stmt *st = reg_stmt(db, "SELECT id,check_id,created_ms,kind,exit_status,duration_ms FROM pings "
	                                "WHERE id > ?1 AND (?2 = 0 OR check_id = ?2) ORDER BY id");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, only_check);
	*last = from;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		*last = id;
		int64_t check_id = sqlite3_column_int64(st, 1);
		ping_agg *a = agg_find(m, check_id);
		if (!a && seed) {
			int src = REG_OK;
			if (!(a = seed_one(db, m, check_id, &src))) { sqlite3_reset(st); return src; }
		}
		if (!a || id <= a->floor) continue;
		agg_apply(a, id, sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3),
		          sqlite3_column_int(st, 4), sqlite3_column_int64(st, 5));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "read pings to fold");
	return REG_OK;
}

/* Pings to fold from which every check row is read in one pass (fewer:
 * only the rows of the checks they belong to, seed_one). */
#define SEED_ALL_MIN 2048

/* Seeds m with every check and its floor. */
static int seed_all(reg_db *db, agg_map *m)
{
	sqlite3_stmt *st = reg_stmt(db, "SELECT id, last_ping_id FROM checks");
	if (!st) return REG_EIO;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ping_agg *a = agg_get(m, sqlite3_column_int64(st, 0));
		if (!a) { sqlite3_reset(st); reg_set_err(db, "out of memory"); return REG_EIO; }
		a->floor = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? REG_OK : reg_fail(db, rc, "read checks to fold");
}

/* What folding the pings up to `to` writes: per check, the row's change
 * from its floor on. */
struct reg_fold_job {
	agg_map m;
	int64_t from, to;         /* the fold mark before and after */
	size_t next;              /* the next slot of m to write */
	int conflict;             /* a row had moved on: the mark stays */
};

/* Writes one check's share, only if its row is still at the floor. */
static int fold_write(reg_db *db, const ping_agg *a, int *conflict)
{
	sqlite3_stmt *up = reg_stmt(db,
		"UPDATE checks SET last_ping_id=?2, n_pings=n_pings+?3, last_ping_ms=?4,"
		" last_start_ms=CASE WHEN ?5 THEN ?6 ELSE last_start_ms END,"
		" last_success_ms=CASE WHEN ?7 THEN ?8 ELSE last_success_ms END,"
		" last_fail_ms=CASE WHEN ?9 THEN ?10 ELSE last_fail_ms END,"
		" last_exit=CASE WHEN ?11 THEN ?12 ELSE last_exit END,"
		" last_duration_ms=CASE WHEN ?13 THEN ?14 ELSE last_duration_ms END"
		" WHERE id=?1 AND last_ping_id=?15");
	if (!up) return REG_EIO;
	sqlite3_bind_int64(up, 1, a->check_id);
	sqlite3_bind_int64(up, 2, a->last_ping_id);
	sqlite3_bind_int64(up, 3, a->n);
	sqlite3_bind_int64(up, 4, a->last_ping_ms);
	sqlite3_bind_int(up, 5, !!(a->set & AGG_START));
	sqlite3_bind_int64(up, 6, a->last_start_ms);
	sqlite3_bind_int(up, 7, !!(a->set & AGG_SUCCESS));
	sqlite3_bind_int64(up, 8, a->last_success_ms);
	sqlite3_bind_int(up, 9, !!(a->set & AGG_FAIL));
	sqlite3_bind_int64(up, 10, a->last_fail_ms);
	sqlite3_bind_int(up, 11, !!(a->set & AGG_EXIT));
	sqlite3_bind_int(up, 12, a->last_exit);
	sqlite3_bind_int(up, 13, !!(a->set & AGG_DURATION));
	sqlite3_bind_int64(up, 14, a->last_duration_ms);
	sqlite3_bind_int64(up, 15, a->floor);
	int rc = sqlite3_step(up);
	sqlite3_reset(up);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "fold pings");
	if (sqlite3_changes(db->s) == 0) *conflict = 1;
	return REG_OK;
}

static int job_read(reg_db *db, reg_fold_job *j)
{
	int64_t max_id;
	int rc = fold_mark(db, &j->from, &max_id);
	if (rc) return rc;
	j->to = j->from;
	if (max_id <= j->from) return REG_OK;
	/* a short backlog touches few checks: read only their rows, one by
	 * one, rather than every row of the table (4-5 ms for 10 000 checks,
	 * inside the scheduler's write transaction) */
	if (max_id - j->from < SEED_ALL_MIN) return pending_scan(db, j->from, 0, 1, &j->m, &j->to);
	if ((rc = seed_all(db, &j->m))) return rc;
	return pending_scan(db, j->from, 0, 0, &j->m, &j->to);
}

/* Writes up to MAX rows (0: all); 1 when the job is done. */
static int job_write(reg_db *db, reg_fold_job *j, size_t max)
{
	for (size_t done = 0;; done++) {
		while (j->next < j->m.cap && (!j->m.v[j->next].check_id || !j->m.v[j->next].n)) j->next++;
		if (j->next >= j->m.cap) break;
		if (max && done >= max) return 0;
		int rc = fold_write(db, &j->m.v[j->next++], &j->conflict);
		if (rc) return rc;
	}
	if (j->conflict || j->to <= j->from) return 1;
	sqlite3_stmt *st = reg_stmt(db, "UPDATE ping_fold SET folded_id=?1 WHERE id=1 AND folded_id=?2");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, j->to);
	sqlite3_bind_int64(st, 2, j->from);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 1 : reg_fail(db, rc, "write fold mark");
}

void reg_fold_free(reg_fold_job *j)
{
	if (!j) return;
	free(j->m.v);
	free(j);
}

reg_fold_job *reg_fold_prepare(reg_db *db, int *rc)
{
	reg_fold_job *j = calloc(1, sizeof *j);
	if (!j) { reg_set_err(db, "out of memory"); *rc = REG_EIO; return NULL; }
	int own;
	*rc = read_begin(db, &own);
	if (!*rc) *rc = read_end(db, own, job_read(db, j));
	if (*rc || j->to <= j->from) { reg_fold_free(j); return NULL; }
	return j;
}

int reg_fold_step(reg_db *db, reg_fold_job *j, size_t max_rows)
{
	return job_write(db, j, max_rows);
}

static int fold_all(reg_db *db)
{
	reg_fold_job j;
	memset(&j, 0, sizeof j);
	int rc = job_read(db, &j);
	if (!rc && j.to > j.from) rc = job_write(db, &j, 0);
	free(j.m.v);
	return rc < 0 ? rc : REG_OK;
}

int reg_ping_fold(reg_db *db)
{
	return fold_all(db);
}

int64_t reg_ping_unfolded(reg_db *db)
{
	int64_t mark, max_id;
	if (fold_mark(db, &mark, &max_id)) return -1;
	return max_id > mark ? max_id - mark : 0;
}

/* Readers add the pings not folded yet (ONLY_CHECK: of that check only) to
 * the rows they read, in the same read transaction. */
static int overlay(reg_db *db, reg_check *cs, size_t n, int64_t only_check)
{
	int64_t mark, max_id, last;
	int rc = fold_mark(db, &mark, &max_id);
	if (rc || max_id <= mark || n == 0) return rc;
	agg_map m = {0};
	for (size_t i = 0; i < n; i++) {
		ping_agg *a = agg_get(&m, cs[i].id);
		if (!a) { free(m.v); reg_set_err(db, "out of memory"); return REG_EIO; }
		a->floor = cs[i].last_ping_id;
	}
	rc = pending_scan(db, mark, only_check, 0, &m, &last);
	for (size_t i = 0; !rc && i < n; i++) {
		const ping_agg *a = agg_find(&m, cs[i].id);
		if (a && a->n) agg_to_check(a, &cs[i]);
	}
	free(m.v);
	return rc;
}

void reg_ping_defer(reg_db *db, int on)
{
	db->defer = on;
	defer_reset(db);
}

static defer_ent *dmap_find(reg_db *db, int64_t check_id)
{
	if (!db->dcap) return NULL;
	for (size_t i = id_hash(check_id, db->dcap);; i = (i + 1) & (db->dcap - 1)) {
		if (db->dmap[i].check_id == check_id) return &db->dmap[i];
		if (!db->dmap[i].check_id) return NULL;
	}
}

/* Returns 0, or -1 out of memory (the caller then forgets everything). */
static int dmap_put(reg_db *db, int64_t check_id, int64_t head_id, int64_t last_start_ms)
{
	defer_ent *e = dmap_find(db, check_id);
	if (!e) {
		if ((db->dn + 1) * 2 > db->dcap) {
			size_t nc = db->dcap ? db->dcap * 2 : 1024;
			defer_ent *nv = calloc(nc, sizeof *nv);
			if (!nv) return -1;
			for (size_t i = 0; i < db->dcap; i++) {
				if (!db->dmap[i].check_id) continue;
				size_t j = id_hash(db->dmap[i].check_id, nc);
				while (nv[j].check_id) j = (j + 1) & (nc - 1);
				nv[j] = db->dmap[i];
			}
			free(db->dmap);
			db->dmap = nv;
			db->dcap = nc;
		}
		size_t i = id_hash(check_id, db->dcap);
		while (db->dmap[i].check_id) i = (i + 1) & (db->dcap - 1);
		e = &db->dmap[i];
		e->check_id = check_id;
		db->dn++;
	}
	e->head_id = head_id;
	e->last_start_ms = last_start_ms;
	return 0;
}

static size_t slug_hash(const char *slug, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)slug; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static slug_ent *slug_find(reg_db *db, const char *slug)
{
	if (!db->scap) return NULL;
	for (size_t i = slug_hash(slug, db->scap);; i = (i + 1) & (db->scap - 1)) {
		if (!db->smap[i].slug[0]) return NULL;
		if (!strcmp(db->smap[i].slug, slug)) return &db->smap[i];
	}
}

/* Returns 0, or -1 out of memory (the entry is then simply not kept). */
static int slug_put(reg_db *db, const char *slug, const slug_ent *v)
{
	slug_ent *e = slug_find(db, slug);
	if (!e) {
		if ((db->sn + 1) * 2 > db->scap) {
			size_t nc = db->scap ? db->scap * 2 : 1024;
			slug_ent *nv = calloc(nc, sizeof *nv);
			if (!nv) return -1;
			for (size_t i = 0; i < db->scap; i++) {
				if (!db->smap[i].slug[0]) continue;
				size_t j = slug_hash(db->smap[i].slug, nc);
				while (nv[j].slug[0]) j = (j + 1) & (nc - 1);
				nv[j] = db->smap[i];
			}
			free(db->smap);
			db->smap = nv;
			db->scap = nc;
		}
		size_t i = slug_hash(slug, db->scap);
		while (db->smap[i].slug[0]) i = (i + 1) & (db->scap - 1);
		e = &db->smap[i];
		db->sn++;
	}
	*e = *v;
	snprintf(e->slug, sizeof e->slug, "%s", slug);
	return 0;
}

/* The one integer that SQL (a literal: reg_stmt) answers. */
static int one_int64(reg_db *db, const char *sql, const char *what, int64_t *v)
{
	sqlite3_stmt *st = reg_stmt(db, sql);
	if (!st) return REG_EIO;
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? REG_OK : reg_fail(db, rc, what);
}

static int data_version(reg_db *db, int64_t *v)
{
	return one_int64(db, "PRAGMA data_version", "read data_version", v);
}

/* ---- checks -------------------------------------------------------------- */

void reg_check_init(reg_check *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->tz, sizeof c->tz, "UTC");
	c->grace_s = 300;
	c->status = REG_NEW;
	c->last_exit = -1;
	c->last_duration_ms = -1;
}

#define CHECK_COLS "id,slug,name,desc,tags,schedule,period_s,tz,grace_s,max_runtime_s,status," \
	"status_since_ms,created_ms,last_ping_ms,last_start_ms,last_success_ms,last_fail_ms,last_exit," \
	"last_duration_ms,paused,mute_until_ms,mute_reason,next_deadline_ms,expected_ms,source,script," \
	"crontab_line,mute_indefinite,n_pings,last_ping_id"

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static void row_to_check(sqlite3_stmt *st, reg_check *c)
{
	memset(c, 0, sizeof *c);
	int i = 0;
	c->id = sqlite3_column_int64(st, i++);
	col_text(st, i++, c->slug, sizeof c->slug);
	col_text(st, i++, c->name, sizeof c->name);
	col_text(st, i++, c->desc, sizeof c->desc);
	col_text(st, i++, c->tags, sizeof c->tags);
	col_text(st, i++, c->schedule, sizeof c->schedule);
	c->period_s = sqlite3_column_int64(st, i++);
	col_text(st, i++, c->tz, sizeof c->tz);
	c->grace_s = sqlite3_column_int64(st, i++);
	c->max_runtime_s = sqlite3_column_int64(st, i++);
	c->status = (reg_status)sqlite3_column_int(st, i++);
	c->status_since_ms = sqlite3_column_int64(st, i++);
	c->created_ms = sqlite3_column_int64(st, i++);
	c->last_ping_ms = sqlite3_column_int64(st, i++);
	c->last_start_ms = sqlite3_column_int64(st, i++);
	c->last_success_ms = sqlite3_column_int64(st, i++);
	c->last_fail_ms = sqlite3_column_int64(st, i++);
	c->last_exit = sqlite3_column_int(st, i++);
	c->last_duration_ms = sqlite3_column_int64(st, i++);
	c->paused = sqlite3_column_int(st, i++);
	c->mute_until_ms = sqlite3_column_int64(st, i++);
	col_text(st, i++, c->mute_reason, sizeof c->mute_reason);
	c->next_deadline_ms = sqlite3_column_int64(st, i++);
	c->expected_ms = sqlite3_column_int64(st, i++);
	col_text(st, i++, c->source, sizeof c->source);
	col_text(st, i++, c->script, sizeof c->script);
	col_text(st, i++, c->crontab_line, sizeof c->crontab_line);
	c->mute_indefinite = sqlite3_column_int(st, i++);
	c->n_pings = sqlite3_column_int64(st, i++);
	c->last_ping_id = sqlite3_column_int64(st, i++);
}

static int check_fields_valid(reg_db *db, const reg_check *c)
{
	if (!reg_slug_valid(c->slug)) {
		reg_set_err(db, "slug \"%s\" is invalid (expected ^[a-z0-9][a-z0-9_-]{0,63}$)", c->slug);
		return REG_EINVAL;
	}
	if (!c->schedule[0] && c->period_s <= 0) {
		reg_set_err(db, "check %s: a schedule (cron expression) or a period is required", c->slug);
		return REG_EINVAL;
	}
	if (c->schedule[0] && c->period_s > 0) {
		reg_set_err(db, "check %s: give a cron schedule or a period, not both", c->slug);
		return REG_EINVAL;
	}
	if (c->grace_s < 0 || c->max_runtime_s < 0) {
		reg_set_err(db, "check %s: grace and max runtime must not be negative", c->slug);
		return REG_EINVAL;
	}
	if (!c->tz[0]) { reg_set_err(db, "check %s: empty time zone", c->slug); return REG_EINVAL; }
	return REG_OK;
}

/* Binds the declarative fields, in the order of DECL_COLS, from parameter 1;
 * returns the next parameter index. */
#define DECL_COLS "name,desc,tags,schedule,period_s,tz,grace_s,max_runtime_s,source,script," \
	"crontab_line,paused,mute_until_ms,mute_reason,mute_indefinite"
static int bind_decl(sqlite3_stmt *st, const reg_check *c)
{
	int i = 1;
	sqlite3_bind_text(st, i++, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, c->desc, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, c->tags, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, c->schedule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, c->period_s);
	sqlite3_bind_text(st, i++, c->tz, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, c->grace_s);
	sqlite3_bind_int64(st, i++, c->max_runtime_s);
	sqlite3_bind_text(st, i++, c->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, c->script, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, c->crontab_line, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, c->paused ? 1 : 0);
	sqlite3_bind_int64(st, i++, c->mute_until_ms);
	sqlite3_bind_text(st, i++, c->mute_reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, c->mute_indefinite ? 1 : 0);
	return i;
}

int reg_check_add(reg_db *db, reg_check *c, int64_t now_ms)
{
	int rc = check_fields_valid(db, c);
	if (rc) return rc;
	sqlite3_stmt *st = reg_stmt(db,
		"INSERT INTO checks(" DECL_COLS ",slug,status,status_since_ms,created_ms) "
		"VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?)");
	if (!st) return REG_EIO;
	int i = bind_decl(st, c);
	sqlite3_bind_text(st, i++, c->slug, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, now_ms);
	sqlite3_bind_int64(st, i++, now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		int e = reg_fail(db, rc, "add check");
		if (e == REG_EEXISTS) reg_set_err(db, "check %s already exists", c->slug);
		return e;
	}
	c->id = sqlite3_last_insert_rowid(db->s);
	c->created_ms = c->status_since_ms = now_ms;
	c->status = REG_NEW;
	slug_forget(db);
	return REG_OK;
}

int reg_check_update(reg_db *db, const reg_check *c)
{
	int rc = check_fields_valid(db, c);
	if (rc) return rc;
	sqlite3_stmt *st = reg_stmt(db,
		"UPDATE checks SET (" DECL_COLS ") = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) WHERE slug=?");
	if (!st) return REG_EIO;
	int i = bind_decl(st, c);
	sqlite3_bind_text(st, i++, c->slug, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	slug_forget(db);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "update check");
	if (sqlite3_changes(db->s) == 0) { reg_set_err(db, "no check %s", c->slug); return REG_ENOTFOUND; }
	return REG_OK;
}

static int get_one(reg_db *db, sqlite3_stmt *st, reg_check *out, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) { sqlite3_reset(st); reg_set_err(db, "no check %s", what); return REG_ENOTFOUND; }
	if (rc != SQLITE_ROW) return reg_fail(db, rc, "read check");
	row_to_check(st, out);
	sqlite3_reset(st);
	return REG_OK;
}

int reg_check_get(reg_db *db, const char *slug, reg_check *out)
{
	int own, rc = read_begin(db, &own);
	if (rc) return rc;
	sqlite3_stmt *st = reg_stmt(db, "SELECT " CHECK_COLS " FROM checks WHERE slug=?");
	if (!st) return read_end(db, own, REG_EIO);
	sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
	rc = get_one(db, st, out, slug);
	if (!rc) rc = overlay(db, out, 1, out->id);
	return read_end(db, own, rc);
}

int reg_check_get_id(reg_db *db, int64_t id, reg_check *out)
{
	int own, rc = read_begin(db, &own);
	if (rc) return rc;
	sqlite3_stmt *st = reg_stmt(db, "SELECT " CHECK_COLS " FROM checks WHERE id=?");
	if (!st) return read_end(db, own, REG_EIO);
	sqlite3_bind_int64(st, 1, id);
	char what[32];
	snprintf(what, sizeof what, "#%lld", (long long)id);
	rc = get_one(db, st, out, what);
	if (!rc) rc = overlay(db, out, 1, id);
	return read_end(db, own, rc);
}

/* *out is malloc'd; the caller frees it. */
int reg_check_list(reg_db *db, reg_check **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int own, rc = read_begin(db, &own);
	if (rc) return rc;
	sqlite3_stmt *st = reg_stmt(db, "SELECT " CHECK_COLS " FROM checks ORDER BY slug");
	if (!st) return read_end(db, own, REG_EIO);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			reg_check *nc = realloc(*out, cap * sizeof *nc);
			if (!nc) { rc = SQLITE_NOMEM; break; }
			*out = nc;
		}
		row_to_check(st, &(*out)[(*n)++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(*out); *out = NULL; *n = 0;
		return read_end(db, own, reg_fail(db, rc, "list checks"));
	}
	rc = overlay(db, *out, *n, 0);
	if (rc) { free(*out); *out = NULL; *n = 0; }
	return read_end(db, own, rc);
}

int reg_check_rm(reg_db *db, const char *slug)
{
	sqlite3_stmt *st = reg_stmt(db, "DELETE FROM checks WHERE slug=?");
	if (!st) return REG_EIO;
	sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	slug_forget(db);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "remove check");
	if (sqlite3_changes(db->s) == 0) { reg_set_err(db, "no check %s", slug); return REG_ENOTFOUND; }
	return REG_OK;
}

int reg_check_set_paused(reg_db *db, const char *slug, int paused, int64_t now_ms)
{
	sqlite3_stmt *st = reg_stmt(db, "UPDATE checks SET paused=?, next_deadline_ms=0, expected_ms=0 WHERE slug=?");
	if (!st) return REG_EIO;
	sqlite3_bind_int(st, 1, paused ? 1 : 0);
	sqlite3_bind_text(st, 2, slug, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	slug_forget(db);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "pause check");
	if (sqlite3_changes(db->s) == 0) { reg_set_err(db, "no check %s", slug); return REG_ENOTFOUND; }
	return REG_OK;
}

int reg_check_set_mute(reg_db *db, const char *slug, int64_t until_ms, int indefinite, const char *reason)
{
	sqlite3_stmt *st = reg_stmt(db, "UPDATE checks SET mute_until_ms=?, mute_indefinite=?, mute_reason=? WHERE slug=?");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, until_ms);
	sqlite3_bind_int(st, 2, indefinite ? 1 : 0);
	sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, slug, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "mute check");
	if (sqlite3_changes(db->s) == 0) { reg_set_err(db, "no check %s", slug); return REG_ENOTFOUND; }
	return REG_OK;
}

int reg_check_set_deadline(reg_db *db, int64_t id, int64_t next_deadline_ms, int64_t expected_ms)
{
	sqlite3_stmt *st = reg_stmt(db, "UPDATE checks SET next_deadline_ms=?, expected_ms=? WHERE id=?");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, next_deadline_ms);
	sqlite3_bind_int64(st, 2, expected_ms);
	sqlite3_bind_int64(st, 3, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? REG_OK : reg_fail(db, rc, "set deadline");
}

static int write_flip(reg_db *db, int64_t check_id, reg_status from, reg_status to,
                      const char *reason, int alert, int64_t now_ms)
{
	sqlite3_stmt *st = reg_stmt(db, "INSERT INTO flips(check_id,created_ms,old_status,new_status,reason) VALUES(?,?,?,?,?)");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, check_id);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int(st, 3, from);
	sqlite3_bind_int(st, 4, to);
	sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "write flip");
	if (!alert) return REG_OK;
	int64_t flip_id = sqlite3_last_insert_rowid(db->s);
	st = reg_stmt(db, "INSERT INTO alerts(flip_id,created_ms,state,next_attempt_ms) VALUES(?,?,'pending',?)");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, flip_id);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? REG_OK : reg_fail(db, rc, "write alert");
}

int reg_check_transition(reg_db *db, int64_t id, reg_status from, reg_status to,
                         const char *reason, int alert, int64_t now_ms)
{
	sqlite3_stmt *st = reg_stmt(db, "UPDATE checks SET status=?, status_since_ms=? WHERE id=? AND status=?");
	if (!st) return REG_EIO;
	sqlite3_bind_int(st, 1, to);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int(st, 4, from);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	slug_forget(db);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "change status");
	if (sqlite3_changes(db->s) == 0) {
		reg_set_err(db, "check #%lld is no longer %s", (long long)id, reg_status_name(from));
		return REG_ECONFLICT;
	}
	return write_flip(db, id, from, to, reason, alert, now_ms);
}

/* ---- pings --------------------------------------------------------------- */

static int record_orphan(reg_db *db, const char *slug, int64_t now_ms)
{
	sqlite3_stmt *st = reg_stmt(db, "INSERT INTO orphans(slug,count,first_ms,last_ms) VALUES(?,1,?,?) "
	                                "ON CONFLICT(slug) DO UPDATE SET count=count+1, last_ms=excluded.last_ms");
	if (!st) return REG_EIO;
	sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? REG_OK : reg_fail(db, rc, "record orphan");
}

/* How far back along a check's chain a finish looks for its start's rid. */
#define RID_WALK_MAX 1000

/* The start this finish belongs to: the start ping with the same rid among
 * the check's last RID_WALK_MAX pings (newest first, along the chain), or
 * (no rid) the check's last start when the check is in "started". */
static int64_t start_time_for(reg_db *db, const reg_check *c, int64_t last_ping_id, const char *rid)
{
	if (rid && rid[0]) {
		if (last_ping_id <= 0) return 0;
		sqlite3_stmt *st = reg_stmt(db,
			"WITH RECURSIVE ch(id, n) AS (SELECT ?1, 1 UNION ALL"
			"  SELECT p.prev_id, ch.n + 1 FROM pings p JOIN ch ON p.id = ch.id WHERE p.prev_id > 0 AND ch.n < ?3)"
			" SELECT p.created_ms FROM ch JOIN pings p ON p.id = ch.id WHERE p.kind = 1 AND p.rid = ?2 LIMIT 1");
		if (!st) return 0;
		sqlite3_bind_int64(st, 1, last_ping_id);
		sqlite3_bind_text(st, 2, rid, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, RID_WALK_MAX);
		int64_t t = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		return t;
	}
	return c->status == REG_STARTED ? c->last_start_ms : 0;
}

/* The pings table's newest id. */
static int max_ping_id(reg_db *db, int64_t *id)
{
	return one_int64(db, "SELECT coalesce(max(id), 0) FROM pings", "read newest ping", id);
}

static int ping_of_check(reg_db *db, int64_t ping_id, int64_t check_id)
{
	sqlite3_stmt *st = reg_stmt(db, "SELECT 1 FROM pings WHERE id=? AND check_id=?");
	if (!st) return 0;
	sqlite3_bind_int64(st, 1, ping_id);
	sqlite3_bind_int64(st, 2, check_id);
	int found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

int reg_ping_record(reg_db *db, const reg_ping_in *in, reg_ping_out *out)
{
	memset(out, 0, sizeof *out);
	int rc;
	if (db->defer) {
		/* Pings written by anyone else since our last one (another
		 * process, a rollback): fold everything, so that every row is
		 * exact again, and forget what we remembered.  Once per
		 * transaction (reg_begin): nobody else writes until it ends. */
		int64_t mx, dv;
		if (!db->dchecked) {
			if ((rc = data_version(db, &dv))) return rc;
			if (dv != db->dver || db->dlast < 0) {
				/* another connection committed: the checks may have
				 * changed under what we remember */
				slug_forget(db);
				if ((rc = max_ping_id(db, &mx))) return rc;
				if (mx != db->dlast) {
					if ((rc = fold_all(db))) return rc;
					defer_reset(db);
					db->dlast = mx;
				}
				db->dver = dv;
			}
			db->dchecked = 1;
		}
	} else if ((rc = fold_all(db))) {
		return rc;   /* the row is written below: it must hold every earlier ping */
	}
	/* Only what the ping path needs (a full reg_check copy costs more than
	 * the rest of the ping under load). */
	reg_check c;
	int64_t prev_id;
	const slug_ent *se = db->defer ? slug_find(db, in->slug) : NULL;
	if (se) {
		c.id = se->check_id;
		c.status = (reg_status)se->status;
		c.paused = se->paused;
		c.last_start_ms = se->last_start_ms;
		prev_id = se->head_id;
	} else {
		sqlite3_stmt *lk = reg_stmt(db, "SELECT id,status,paused,last_start_ms,last_ping_id FROM checks WHERE slug=?");
		if (!lk) return REG_EIO;
		sqlite3_bind_text(lk, 1, in->slug, -1, SQLITE_STATIC);
		rc = sqlite3_step(lk);
		if (rc == SQLITE_DONE) { sqlite3_reset(lk); return record_orphan(db, in->slug, in->now_ms); }
		if (rc != SQLITE_ROW) return reg_fail(db, rc, "read check");
		c.id = sqlite3_column_int64(lk, 0);
		c.status = (reg_status)sqlite3_column_int(lk, 1);
		c.paused = sqlite3_column_int(lk, 2);
		c.last_start_ms = sqlite3_column_int64(lk, 3);
		prev_id = sqlite3_column_int64(lk, 4);
		sqlite3_reset(lk);
	}
	out->found = 1;
	out->check_id = c.id;
	out->old_status = c.status;
	if (db->defer && !se) {
		/* our own pings of this check not folded yet, if any: the row
		 * has every other one (a check removed and its id reused has
		 * lost the pings we remember) */
		defer_ent *e = dmap_find(db, c.id);
		if (e && (e->head_id == prev_id || (e->head_id > prev_id && ping_of_check(db, e->head_id, c.id)))) {
			prev_id = e->head_id;
			c.last_start_ms = e->last_start_ms;
		}
	}

	int64_t duration = -1;
	int is_finish = in->kind == REG_PING_SUCCESS || in->kind == REG_PING_FAIL || in->kind == REG_PING_EXIT;
	if (is_finish) {
		int64_t t0 = start_time_for(db, &c, prev_id, in->rid);
		if (t0 > 0 && t0 <= in->now_ms) duration = in->now_ms - t0;
	}

	sqlite3_stmt *st = reg_stmt(db, "INSERT INTO pings(check_id,created_ms,kind,exit_status,rid,remote,method,"
	                                "duration_ms,body,body_cut,prev_id) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, c.id);
	sqlite3_bind_int64(st, 2, in->now_ms);
	sqlite3_bind_int(st, 3, in->kind);
	sqlite3_bind_int(st, 4, in->kind == REG_PING_EXIT ? in->exit_status : -1);
	sqlite3_bind_text(st, 5, in->rid ? in->rid : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, in->remote ? in->remote : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, in->method ? in->method : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, duration);
	if (in->body_len)
		sqlite3_bind_blob64(st, 9, in->body, in->body_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	sqlite3_bind_int(st, 10, in->body_cut ? 1 : 0);
	sqlite3_bind_int64(st, 11, prev_id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) return reg_fail(db, rc, "insert ping");
	out->ping_id = sqlite3_last_insert_rowid(db->s);

	if (db->defer) {
		/* the row's last_* wait for reg_ping_fold */
		db->dlast = out->ping_id;
		if (dmap_put(db, c.id, out->ping_id, in->kind == REG_PING_START ? in->now_ms : c.last_start_ms)) {
			reg_set_err(db, "out of memory");
			return REG_EIO;
		}
	} else {
		/* last_* columns, the chain's head and the count: the one checks
		 * row (no index covers these columns); the fold mark moves past
		 * this ping */
		int failed = in->kind == REG_PING_FAIL || (in->kind == REG_PING_EXIT && in->exit_status != 0);
		int succeeded = in->kind == REG_PING_SUCCESS || (in->kind == REG_PING_EXIT && in->exit_status == 0);
		st = reg_stmt(db, "UPDATE checks SET last_ping_ms=?1, last_ping_id=?8, n_pings=n_pings+1,"
		                  " last_start_ms=CASE WHEN ?2 THEN ?1 ELSE last_start_ms END,"
		                  " last_success_ms=CASE WHEN ?3 THEN ?1 ELSE last_success_ms END,"
		                  " last_fail_ms=CASE WHEN ?4 THEN ?1 ELSE last_fail_ms END,"
		                  " last_exit=CASE WHEN ?5 >= 0 THEN ?5 WHEN ?4 THEN -1 WHEN ?3 THEN 0 ELSE last_exit END,"
		                  " last_duration_ms=CASE WHEN ?6 >= 0 THEN ?6 ELSE last_duration_ms END"
		                  " WHERE id=?7");
		if (!st) return REG_EIO;
		sqlite3_bind_int64(st, 1, in->now_ms);
		sqlite3_bind_int(st, 2, in->kind == REG_PING_START);
		sqlite3_bind_int(st, 3, succeeded);
		sqlite3_bind_int(st, 4, failed);
		sqlite3_bind_int(st, 5, in->kind == REG_PING_EXIT ? in->exit_status : -1);
		sqlite3_bind_int64(st, 6, duration);
		sqlite3_bind_int64(st, 7, c.id);
		sqlite3_bind_int64(st, 8, out->ping_id);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) return reg_fail(db, rc, "update check after ping");
		st = reg_stmt(db, "UPDATE ping_fold SET folded_id=? WHERE id=1");
		if (!st) return REG_EIO;
		sqlite3_bind_int64(st, 1, out->ping_id);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) return reg_fail(db, rc, "write fold mark");
	}

	reg_state_step step = reg_state_on_ping(c.status, in->kind, in->exit_status);
	out->new_status = c.status;
	if (step.change) {
		int alert = step.alert && !c.paused;
		if (step.flip) {
			rc = reg_check_transition(db, c.id, c.status, step.to, step.reason, alert, in->now_ms);
		} else {
			st = reg_stmt(db, "UPDATE checks SET status=?, status_since_ms=? WHERE id=? AND status=?");
			if (!st) return REG_EIO;
			sqlite3_bind_int(st, 1, step.to);
			sqlite3_bind_int64(st, 2, in->now_ms);
			sqlite3_bind_int64(st, 3, c.id);
			sqlite3_bind_int(st, 4, c.status);
			rc = sqlite3_step(st);
			sqlite3_reset(st);
			rc = rc == SQLITE_DONE ? REG_OK : reg_fail(db, rc, "change status");
		}
		if (rc) return rc;
		out->new_status = step.to;
		out->flipped = step.flip;
	}
	if (db->defer) {
		/* the next ping of this check reads nothing (out of memory: it
		 * reads the row again) */
		slug_ent v = {
			.check_id = c.id, .head_id = out->ping_id,
			.last_start_ms = in->kind == REG_PING_START ? in->now_ms : c.last_start_ms,
			.status = out->new_status, .paused = c.paused,
		};
		(void)slug_put(db, in->slug, &v);
	}
	return REG_OK;
}

/* A check's newest ping and number of pings, with those not folded yet. */
static int check_tail(reg_db *db, int64_t check_id, int64_t *head, int64_t *count)
{
	reg_check c;
	memset(&c, 0, sizeof c);
	sqlite3_stmt *st = reg_stmt(db, "SELECT last_ping_id, n_pings FROM checks WHERE id=?");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, check_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) { c.last_ping_id = sqlite3_column_int64(st, 0); c.n_pings = sqlite3_column_int64(st, 1); }
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) return reg_fail(db, rc, "read check");
	c.id = check_id;
	if (rc == SQLITE_ROW && (rc = overlay(db, &c, 1, check_id))) return rc;
	*head = c.last_ping_id;
	*count = c.n_pings;
	return REG_OK;
}

/* Bodies are malloc'd; free the array with reg_pings_free(). */
int reg_ping_list(reg_db *db, int64_t check_id, int limit, reg_ping **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int own, rc = read_begin(db, &own);
	if (rc) return rc;
	int64_t head = 0, count = 0;
	if ((rc = check_tail(db, check_id, &head, &count))) return read_end(db, own, rc);
	sqlite3_stmt *st = reg_stmt(db,
		"WITH RECURSIVE ch(id, n) AS (SELECT ?1, 1 WHERE ?1 > 0 UNION ALL"
		"  SELECT p.prev_id, ch.n + 1 FROM pings p JOIN ch ON p.id = ch.id WHERE p.prev_id > 0 AND ch.n < ?2)"
		" SELECT p.id,p.check_id,p.created_ms,p.kind,p.exit_status,p.rid,p.remote,p.method,p.duration_ms,"
		" p.body,p.body_cut FROM ch JOIN pings p ON p.id = ch.id ORDER BY ch.n");
	if (!st) return read_end(db, own, REG_EIO);
	sqlite3_bind_int64(st, 1, head);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : INT64_MAX);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			reg_ping *np = realloc(*out, cap * sizeof *np);
			if (!np) { rc = SQLITE_NOMEM; break; }
			*out = np;
		}
		reg_ping *p = &(*out)[*n];
		memset(p, 0, sizeof *p);
		p->id = sqlite3_column_int64(st, 0);
		p->check_id = sqlite3_column_int64(st, 1);
		p->created_ms = sqlite3_column_int64(st, 2);
		p->kind = (reg_ping_kind)sqlite3_column_int(st, 3);
		p->exit_status = sqlite3_column_int(st, 4);
		col_text(st, 5, p->rid, sizeof p->rid);
		col_text(st, 6, p->remote, sizeof p->remote);
		col_text(st, 7, p->method, sizeof p->method);
		p->duration_ms = sqlite3_column_int64(st, 8);
		size_t bl = (size_t)sqlite3_column_bytes(st, 9);
		const void *b = sqlite3_column_blob(st, 9);
		p->body = malloc(bl + 1);
		if (!p->body) { rc = SQLITE_NOMEM; break; }
		if (bl) memcpy(p->body, b, bl);
		p->body[bl] = '\0';
		p->body_len = bl;
		p->body_cut = sqlite3_column_int(st, 10);
		(*n)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		reg_pings_free(*out, *n);
		*out = NULL; *n = 0;
		return read_end(db, own, reg_fail(db, rc, "list pings"));
	}
	return read_end(db, own, REG_OK);
}

void reg_pings_free(reg_ping *p, size_t n)
{
	if (!p) return;
	for (size_t i = 0; i < n; i++) free(p[i].body);
	free(p);
}

int64_t reg_ping_count(reg_db *db, int64_t check_id)
{
	int own;
	if (read_begin(db, &own)) return -1;
	int64_t head = 0, count = -1;
	int rc = check_tail(db, check_id, &head, &count);
	read_end(db, own, rc);
	return rc ? -1 : count;
}

/* ---- orphans, flips -------------------------------------------------------- */

int reg_orphan_list(reg_db *db, reg_orphan **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = reg_stmt(db, "SELECT slug,count,first_ms,last_ms FROM orphans ORDER BY slug");
	if (!st) return REG_EIO;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			reg_orphan *no = realloc(*out, cap * sizeof *no);
			if (!no) { rc = SQLITE_NOMEM; break; }
			*out = no;
		}
		reg_orphan *o = &(*out)[(*n)++];
		col_text(st, 0, o->slug, sizeof o->slug);
		o->count = sqlite3_column_int64(st, 1);
		o->first_ms = sqlite3_column_int64(st, 2);
		o->last_ms = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) { free(*out); *out = NULL; *n = 0; return reg_fail(db, rc, "list orphans"); }
	return REG_OK;
}

int reg_flip_list(reg_db *db, int64_t check_id, int limit, reg_flip **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = reg_stmt(db, "SELECT f.id,f.check_id,f.created_ms,f.old_status,f.new_status,f.reason,c.slug "
	                                "FROM flips f JOIN checks c ON c.id=f.check_id "
	                                "WHERE ?1 = 0 OR f.check_id = ?1 ORDER BY f.id DESC LIMIT ?2");
	if (!st) return REG_EIO;
	sqlite3_bind_int64(st, 1, check_id);
	sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			reg_flip *nf = realloc(*out, cap * sizeof *nf);
			if (!nf) { rc = SQLITE_NOMEM; break; }
			*out = nf;
		}
		reg_flip *f = &(*out)[(*n)++];
		f->id = sqlite3_column_int64(st, 0);
		f->check_id = sqlite3_column_int64(st, 1);
		f->created_ms = sqlite3_column_int64(st, 2);
		f->old_status = (reg_status)sqlite3_column_int(st, 3);
		f->new_status = (reg_status)sqlite3_column_int(st, 4);
		col_text(st, 5, f->reason, sizeof f->reason);
		col_text(st, 6, f->slug, sizeof f->slug);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) { free(*out); *out = NULL; *n = 0; return reg_fail(db, rc, "list flips"); }
	return REG_OK;
}
