/* registry/schema.c — the numbered migrations.  Version N's script takes a
 * database at version N-1 to N; each runs in its own transaction together
 * with the PRAGMA user_version bump, so a crash leaves either version. */
#include "registry/reg_internal.h"

#include <sqlite3.h>
#include <stdio.h>

static const char *const migrations[] = {
	/* 1: checks, pings, flips, outbox, orphans, settings */
	"CREATE TABLE checks ("
	"  id INTEGER PRIMARY KEY,"
	"  slug TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 64),"
	"  name TEXT NOT NULL DEFAULT '',"
	"  desc TEXT NOT NULL DEFAULT '',"
	"  tags TEXT NOT NULL DEFAULT '',"
	"  schedule TEXT NOT NULL DEFAULT '',"
	"  period_s INTEGER NOT NULL DEFAULT 0 CHECK (period_s >= 0),"
	"  tz TEXT NOT NULL DEFAULT 'UTC',"
	"  grace_s INTEGER NOT NULL DEFAULT 300 CHECK (grace_s >= 0),"
	"  max_runtime_s INTEGER NOT NULL DEFAULT 0 CHECK (max_runtime_s >= 0),"
	"  status INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 6),"
	"  status_since_ms INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  last_ping_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_start_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_success_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_fail_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_exit INTEGER NOT NULL DEFAULT -1,"
	"  last_duration_ms INTEGER NOT NULL DEFAULT -1,"
	"  paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0,1)),"
	"  mute_until_ms INTEGER NOT NULL DEFAULT 0,"
	"  mute_reason TEXT NOT NULL DEFAULT '',"
	"  next_deadline_ms INTEGER NOT NULL DEFAULT 0,"
	"  expected_ms INTEGER NOT NULL DEFAULT 0,"
	"  CHECK (schedule <> '' OR period_s > 0)"
	");"
	"CREATE TABLE pings ("
	"  id INTEGER PRIMARY KEY,"
	"  check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,"
	"  created_ms INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 4),"
	"  exit_status INTEGER NOT NULL DEFAULT -1 CHECK (exit_status BETWEEN -1 AND 255),"
	"  rid TEXT NOT NULL DEFAULT '',"
	"  remote TEXT NOT NULL DEFAULT '',"
	"  method TEXT NOT NULL DEFAULT '',"
	"  duration_ms INTEGER NOT NULL DEFAULT -1,"
	"  body BLOB,"
	"  body_cut INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX pings_check ON pings(check_id, id);"
	"CREATE TABLE flips ("
	"  id INTEGER PRIMARY KEY,"
	"  check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,"
	"  created_ms INTEGER NOT NULL,"
	"  old_status INTEGER NOT NULL,"
	"  new_status INTEGER NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX flips_check ON flips(check_id, id);"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY,"
	"  flip_id INTEGER NOT NULL UNIQUE REFERENCES flips(id) ON DELETE CASCADE,"
	"  created_ms INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','sending','sent','failed','held')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	"  batch_key TEXT NOT NULL DEFAULT '',"
	"  sent_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX alerts_state ON alerts(state, next_attempt_ms);"
	"CREATE TABLE orphans ("
	"  slug TEXT PRIMARY KEY,"
	"  count INTEGER NOT NULL DEFAULT 0,"
	"  first_ms INTEGER NOT NULL,"
	"  last_ms INTEGER NOT NULL"
	");"
	"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",

	/* 2: declarative-registry fields, indefinite mutes, deadline index */
	"ALTER TABLE checks ADD COLUMN source TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE checks ADD COLUMN script TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE checks ADD COLUMN crontab_line TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE checks ADD COLUMN mute_indefinite INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX checks_deadline ON checks(next_deadline_ms) WHERE next_deadline_ms > 0;",

	/* 3: crontab revisions and the apply journal; API keys */
	"CREATE TABLE crontab_revisions ("
	"  id INTEGER PRIMARY KEY,"
	"  user TEXT NOT NULL,"
	"  content BLOB NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  kind TEXT NOT NULL DEFAULT 'apply'"
	");"
	"CREATE TABLE crontab_journal ("
	"  id INTEGER PRIMARY KEY,"
	"  user TEXT NOT NULL,"
	"  old_rev INTEGER REFERENCES crontab_revisions(id),"
	"  new_rev INTEGER REFERENCES crontab_revisions(id),"
	"  step TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  done INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE apikeys ("
	"  id INTEGER PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  rw INTEGER NOT NULL CHECK (rw IN (0,1)),"
	"  label TEXT NOT NULL DEFAULT '',"
	"  created_ms INTEGER NOT NULL"
	");",

	/* 4: the deadline scheduler and the alert sender (issue 6).
	 * - alerts gains the state 'suppressed' (a held alert that was not sent
	 *   because the check recovered, or a later alert superseded it, while
	 *   muted); SQLite cannot widen a CHECK, so the table is rebuilt.
	 * - next_deadline_ms = 0 means "evaluate me": a trigger resets it when
	 *   anything the deadline depends on changes, whoever changed it (a ping,
	 *   `vigil check` in another process, a registry import), and a partial
	 *   index finds those rows without a scan.  -1 means "evaluated, nothing
	 *   to wait for" (down, paused). */
	"CREATE TABLE alerts_v4 ("
	"  id INTEGER PRIMARY KEY,"
	"  flip_id INTEGER NOT NULL UNIQUE REFERENCES flips(id) ON DELETE CASCADE,"
	"  created_ms INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','sending','sent','failed','held','suppressed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	"  batch_key TEXT NOT NULL DEFAULT '',"
	"  sent_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	"INSERT INTO alerts_v4 SELECT id,flip_id,created_ms,state,attempts,next_attempt_ms,batch_key,sent_ms,last_error FROM alerts;"
	"DROP TABLE alerts;"
	"ALTER TABLE alerts_v4 RENAME TO alerts;"
	"CREATE INDEX alerts_state ON alerts(state, next_attempt_ms);"
	"CREATE INDEX alerts_batch ON alerts(batch_key) WHERE batch_key <> '';"
	"CREATE INDEX checks_unscheduled ON checks(id) WHERE next_deadline_ms = 0 AND paused = 0;"
	"CREATE TRIGGER checks_deadline_reset AFTER UPDATE OF schedule, period_s, tz, grace_s, max_runtime_s,"
	"  paused, status, last_ping_ms, mute_until_ms, mute_indefinite ON checks "
	"  BEGIN UPDATE checks SET next_deadline_ms = 0 WHERE id = NEW.id; END;",

	/* 5: the findings of the last `vigil validate` of the registry, shown on
	 * each check's page */
	"CREATE TABLE findings ("
	"  id INTEGER PRIMARY KEY,"
	"  slug TEXT NOT NULL DEFAULT '',"
	"  rule TEXT NOT NULL,"
	"  severity TEXT NOT NULL CHECK (severity IN ('error','warning')),"
	"  file TEXT NOT NULL DEFAULT '',"
	"  line INTEGER NOT NULL DEFAULT 0,"
	"  col INTEGER NOT NULL DEFAULT 0,"
	"  message TEXT NOT NULL,"
	"  hint TEXT NOT NULL DEFAULT '',"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX findings_slug ON findings(slug);",

	/* 6: the ping path writes few pages per commit (issue 2's throughput).
	 * - A check's pings form a chain: pings.prev_id is the check's previous
	 *   ping, checks.last_ping_id the newest, checks.n_pings their number.
	 *   The index pings_check(check_id, id) is gone: its insert landed on a
	 *   random page for every ping, while the chain costs nothing beyond the
	 *   checks row the ping updates anyway.  Lists walk the chain from
	 *   last_ping_id (the newest N pings: N primary-key lookups).
	 * - The deadline trigger no longer fires on last_ping_ms: a ping that
	 *   changes no status only moves a check's expected run later, so the
	 *   deadline on record can only be early, never late; when it comes due
	 *   the scheduler re-reads the row (with the ping) and plans again
	 *   without a flip.  Status changes still reset it. */
	"ALTER TABLE pings ADD COLUMN prev_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE checks ADD COLUMN last_ping_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE checks ADD COLUMN n_pings INTEGER NOT NULL DEFAULT 0;"
	"UPDATE pings SET prev_id = coalesce((SELECT max(p.id) FROM pings p"
	"  WHERE p.check_id = pings.check_id AND p.id < pings.id), 0);"
	"UPDATE checks SET last_ping_id = coalesce((SELECT max(id) FROM pings WHERE check_id = checks.id), 0),"
	"  n_pings = (SELECT count(*) FROM pings WHERE check_id = checks.id);"
	"DROP INDEX pings_check;"
	"DROP TRIGGER checks_deadline_reset;"
	"CREATE TRIGGER checks_deadline_reset AFTER UPDATE OF schedule, period_s, tz, grace_s, max_runtime_s,"
	"  paused, status, mute_until_ms, mute_indefinite ON checks "
	"  BEGIN UPDATE checks SET next_deadline_ms = 0 WHERE id = NEW.id; END;"
	/* - The server records pings without rewriting the checks row (see
	 *   reg_ping_defer): every ping with id <= ping_fold.folded_id is
	 *   reflected in its check's last_*, last_ping_id and n_pings; later ones
	 *   are folded in by reg_ping_fold, and readers add them meanwhile.  The
	 *   backfill above folded every existing ping. */
	"CREATE TABLE ping_fold (id INTEGER PRIMARY KEY CHECK (id = 1), folded_id INTEGER NOT NULL);"
	"INSERT INTO ping_fold VALUES (1, (SELECT coalesce(max(id), 0) FROM pings));",
};

int reg_schema_latest(void)
{
	return (int)(sizeof migrations / sizeof migrations[0]);
}

int reg_migrate_to(reg_db *db, int target)
{
	sqlite3 *s = reg_sqlite(db);
	int cur = reg_schema_version(db);
	if (cur < 0) return REG_EIO;
	if (target > reg_schema_latest()) {
		reg_set_err(db, "schema version %d is newer than this vigil knows (%d)", target, reg_schema_latest());
		return REG_EINVAL;
	}
	while (cur < target) {
		char *emsg = NULL;
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", cur + 1);
		int rc = sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, &emsg);
		if (rc == SQLITE_OK) rc = sqlite3_exec(s, migrations[cur], NULL, NULL, &emsg);
		if (rc == SQLITE_OK) rc = sqlite3_exec(s, bump, NULL, NULL, &emsg);
		if (rc == SQLITE_OK) rc = sqlite3_exec(s, "COMMIT", NULL, NULL, &emsg);
		if (rc != SQLITE_OK) {
			reg_set_err(db, "migration to schema version %d failed: %s", cur + 1, emsg ? emsg : sqlite3_errmsg(s));
			sqlite3_free(emsg);
			sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
			return REG_EIO;
		}
		cur++;
	}
	return REG_OK;
}
