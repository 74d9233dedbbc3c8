/* Unit tests of the registry: migrations, constraints, slugs, the ping-driven
 * state machine, ping recording (rid pairing, orphans), conditional updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/registry.h"

static char dir[64];
static char path[128];

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof dir, "/tmp/vigil-reg-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sub/dir/vigil.db", dir);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static reg_db *open_db(void)
{
	reg_db *db = NULL;
	char msg[256];
	assert_int_equal(reg_open(path, &db, msg, sizeof msg), REG_OK);
	return db;
}

static int64_t add_period(reg_db *db, const char *slug, int64_t period)
{
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "%s", slug);
	c.period_s = period;
	assert_int_equal(reg_check_add(db, &c, 1000), REG_OK);
	return c.id;
}

static void ping(reg_db *db, const char *slug, reg_ping_kind k, int exit_status, const char *rid,
                 int64_t now, reg_ping_out *out)
{
	reg_ping_in in = { .slug = slug, .kind = k, .exit_status = exit_status, .rid = rid,
	                   .body = (const unsigned char *)"b", .body_len = 1, .now_ms = now };
	assert_int_equal(reg_begin(db), REG_OK);
	assert_int_equal(reg_ping_record(db, &in, out), REG_OK);
	assert_int_equal(reg_commit(db), REG_OK);
}

static int count(reg_db *db, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(reg_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_fresh_database(void **st)
{
	(void)st;
	reg_db *db = open_db();
	assert_int_equal(reg_schema_version(db), REG_SCHEMA_VERSION);
	static const char *tables[] = {"checks", "pings", "flips", "alerts", "orphans", "settings",
	                               "crontab_revisions", "crontab_journal", "apikeys"};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char sql[128];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", tables[i]);
		assert_int_equal(count(db, sql), 1);
	}
	assert_int_equal(count(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"), 1);
	assert_int_equal(count(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(count(db, "PRAGMA synchronous"), 2);	/* FULL */
	reg_close(db);
	/* reopening an up-to-date database changes nothing */
	db = open_db();
	assert_int_equal(reg_schema_version(db), REG_SCHEMA_VERSION);
	reg_close(db);
}

/* From every earlier version up to the latest, with data surviving. */
static void test_migrations_from_each_version(void **st)
{
	(void)st;
	for (int from = 1; from < REG_SCHEMA_VERSION; from++) {
		unlink(path);
		reg_db *db = NULL;
		char msg[256];
		assert_int_equal(reg_open_version(path, from, &db, msg, sizeof msg), REG_OK);
		assert_int_equal(reg_schema_version(db), from);
		assert_int_equal(sqlite3_exec(reg_sqlite(db),
			"INSERT INTO checks(slug,period_s,created_ms) VALUES('old-check',60,5);"
			"INSERT INTO pings(check_id,created_ms,kind) VALUES(1,6,0);", NULL, NULL, NULL), SQLITE_OK);
		reg_close(db);
		db = open_db();
		assert_int_equal(reg_schema_version(db), REG_SCHEMA_VERSION);
		reg_check c;
		assert_int_equal(reg_check_get(db, "old-check", &c), REG_OK);
		assert_int_equal(c.period_s, 60);
		assert_string_equal(c.source, "");
		assert_int_equal(c.mute_indefinite, 0);
		assert_int_equal(reg_ping_count(db, c.id), 1);
		reg_close(db);
		char wal[160];
		snprintf(wal, sizeof wal, "%s-wal", path); unlink(wal);
		snprintf(wal, sizeof wal, "%s-shm", path); unlink(wal);
	}
}

static void test_newer_schema_refused(void **st)
{
	(void)st;
	reg_db *db = open_db();
	assert_int_equal(sqlite3_exec(reg_sqlite(db), "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	reg_close(db);
	char msg[256] = "";
	assert_int_equal(reg_open(path, &db, msg, sizeof msg), REG_EIO);
	assert_null(db);
	assert_non_null(strstr(msg, "schema version 99 is newer"));
}

static void test_constraints(void **st)
{
	(void)st;
	reg_db *db = open_db();
	add_period(db, "a", 60);
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "a");
	c.period_s = 60;
	assert_int_equal(reg_check_add(db, &c, 1), REG_EEXISTS);
	assert_non_null(strstr(reg_errmsg(db), "already exists"));
	snprintf(c.slug, sizeof c.slug, "b");
	c.period_s = 0;
	assert_int_equal(reg_check_add(db, &c, 1), REG_EINVAL);	/* neither schedule nor period */
	snprintf(c.schedule, sizeof c.schedule, "* * * * *");
	c.period_s = 5;
	assert_int_equal(reg_check_add(db, &c, 1), REG_EINVAL);	/* both */
	snprintf(c.slug, sizeof c.slug, "Upper");
	c.period_s = 0;
	assert_int_equal(reg_check_add(db, &c, 1), REG_EINVAL);
	/* the database enforces what the API checks, too */
	assert_int_not_equal(sqlite3_exec(reg_sqlite(db), "INSERT INTO checks(slug,created_ms) VALUES('x',1)",
	                                  NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(reg_sqlite(db), "INSERT INTO pings(check_id,created_ms,kind) VALUES(999,1,0)",
	                                  NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(reg_sqlite(db), "UPDATE checks SET status=9", NULL, NULL, NULL), SQLITE_OK);
	/* removing a check removes its pings and flips */
	reg_ping_out o;
	ping(db, "a", REG_PING_FAIL, -1, NULL, 2000, &o);
	assert_int_equal(count(db, "SELECT count(*) FROM pings"), 1);
	assert_int_equal(reg_check_rm(db, "a"), REG_OK);
	assert_int_equal(count(db, "SELECT count(*) FROM pings"), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM flips"), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM alerts"), 0);
	assert_int_equal(reg_check_rm(db, "a"), REG_ENOTFOUND);
	reg_close(db);
}

static void test_slugs(void **st)
{
	(void)st;
	static const char *good[] = {"a", "0", "backup-db", "sync_2024", "a-", "x_y-z9"};
	static const char *bad[] = {"", "-a", "_a", "A", "backUp", "a b", "a/b", "a.b", "é",
	                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(reg_slug_valid(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(reg_slug_valid(bad[i]));
	char max[65];
	memset(max, 'a', 64);
	max[64] = '\0';
	assert_true(reg_slug_valid(max));
}

static void test_ping_state_transitions(void **st)
{
	(void)st;
	reg_db *db = open_db();
	int64_t id = add_period(db, "job", 60);
	reg_ping_out o;
	ping(db, "job", REG_PING_SUCCESS, -1, NULL, 2000, &o);
	assert_true(o.found);
	assert_int_equal(o.old_status, REG_NEW);
	assert_int_equal(o.new_status, REG_UP);
	assert_true(o.flipped);
	ping(db, "job", REG_PING_START, -1, NULL, 3000, &o);
	assert_int_equal(o.new_status, REG_STARTED);
	assert_false(o.flipped);	/* up → started is routine */
	ping(db, "job", REG_PING_SUCCESS, -1, NULL, 4500, &o);
	assert_int_equal(o.new_status, REG_UP);
	reg_check c;
	assert_int_equal(reg_check_get(db, "job", &c), REG_OK);
	assert_int_equal(c.last_duration_ms, 1500);
	assert_int_equal(c.last_success_ms, 4500);
	assert_int_equal(c.last_start_ms, 3000);
	/* non-zero exit: down at once, one alert */
	ping(db, "job", REG_PING_EXIT, 3, NULL, 5000, &o);
	assert_int_equal(o.new_status, REG_DOWN);
	assert_true(o.flipped);
	assert_int_equal(count(db, "SELECT count(*) FROM alerts"), 1);
	/* a second failure while down: no new flip, no new alert */
	ping(db, "job", REG_PING_FAIL, -1, NULL, 5100, &o);
	assert_false(o.flipped);
	assert_int_equal(count(db, "SELECT count(*) FROM alerts"), 1);
	/* a start while down stays down; the success is the recovery */
	ping(db, "job", REG_PING_START, -1, NULL, 5200, &o);
	assert_int_equal(o.new_status, REG_DOWN);
	ping(db, "job", REG_PING_EXIT, 0, NULL, 5300, &o);
	assert_int_equal(o.new_status, REG_UP);
	assert_int_equal(count(db, "SELECT count(*) FROM alerts"), 2);
	assert_int_equal(count(db, "SELECT count(*) FROM flips WHERE reason='recovered'"), 1);
	/* log pings change nothing */
	ping(db, "job", REG_PING_LOG, -1, NULL, 5400, &o);
	assert_int_equal(o.new_status, REG_UP);
	assert_int_equal(reg_check_get(db, "job", &c), REG_OK);
	assert_int_equal(c.last_exit, 0);
	assert_int_equal(c.last_ping_ms, 5400);
	/* paused: the flip is recorded, the alert is not */
	assert_int_equal(reg_check_set_paused(db, "job", 1, 6000), REG_OK);
	ping(db, "job", REG_PING_FAIL, -1, NULL, 6100, &o);
	assert_true(o.flipped);
	assert_int_equal(count(db, "SELECT count(*) FROM alerts"), 2);
	(void)id;
	reg_close(db);
}

static void test_state_table(void **st)
{
	(void)st;
	/* Every (status, kind) pair: the status it leads to. */
	static const reg_status want[REG_STATUS_COUNT][4] = {
		/*            success  start        fail      log */
		[REG_NEW]     = {REG_UP, REG_STARTED, REG_DOWN, REG_NEW},
		[REG_UP]      = {REG_UP, REG_STARTED, REG_DOWN, REG_UP},
		[REG_GRACE]   = {REG_UP, REG_STARTED, REG_DOWN, REG_GRACE},
		[REG_DOWN]    = {REG_UP, REG_DOWN,    REG_DOWN, REG_DOWN},
		[REG_STARTED] = {REG_UP, REG_STARTED, REG_DOWN, REG_STARTED},
		[REG_PAUSED]  = {REG_UP, REG_STARTED, REG_DOWN, REG_PAUSED},
		[REG_UNKNOWN] = {REG_UP, REG_STARTED, REG_DOWN, REG_UNKNOWN},
	};
	static const reg_ping_kind kinds[4] = {REG_PING_SUCCESS, REG_PING_START, REG_PING_FAIL, REG_PING_LOG};
	(void)reg_status_name;
	for (int s = 0; s < REG_STATUS_COUNT; s++)
		for (int k = 0; k < 4; k++) {
			reg_status to = want[s][k];
			/* drive it through a real check */
			reg_db *db = open_db();
			char slug[32];
			snprintf(slug, sizeof slug, "s%dk%d", s, k);
			int64_t id = add_period(db, slug, 60);
			assert_int_equal(sqlite3_exec(reg_sqlite(db), "BEGIN", NULL, NULL, NULL), SQLITE_OK);
			char sql[96];
			snprintf(sql, sizeof sql, "UPDATE checks SET status=%d WHERE id=%lld", s, (long long)id);
			assert_int_equal(sqlite3_exec(reg_sqlite(db), sql, NULL, NULL, NULL), SQLITE_OK);
			assert_int_equal(sqlite3_exec(reg_sqlite(db), "COMMIT", NULL, NULL, NULL), SQLITE_OK);
			reg_ping_out o;
			ping(db, slug, kinds[k], -1, NULL, 9000, &o);
			assert_int_equal(o.new_status, to);
			reg_check c;
			assert_int_equal(reg_check_get(db, slug, &c), REG_OK);
			assert_int_equal(c.status, to);
			reg_close(db);
		}
}

static void test_rid_pairing(void **st)
{
	(void)st;
	reg_db *db = open_db();
	add_period(db, "par", 60);
	const char *r1 = "11111111-1111-4111-8111-111111111111", *r2 = "22222222-2222-4222-8222-222222222222";
	reg_ping_out o;
	ping(db, "par", REG_PING_START, -1, r1, 1000, &o);
	ping(db, "par", REG_PING_START, -1, r2, 2000, &o);
	ping(db, "par", REG_PING_SUCCESS, -1, r1, 7000, &o);	/* 6 s for run 1 */
	reg_check c;
	assert_int_equal(reg_check_get(db, "par", &c), REG_OK);
	assert_int_equal(c.last_duration_ms, 6000);
	ping(db, "par", REG_PING_EXIT, 0, r2, 4000, &o);	/* 2 s for run 2 */
	assert_int_equal(reg_check_get(db, "par", &c), REG_OK);
	assert_int_equal(c.last_duration_ms, 2000);
	reg_ping *ps;
	size_t n;
	assert_int_equal(reg_ping_list(db, c.id, 10, &ps, &n), REG_OK);
	assert_int_equal(n, 4);
	assert_int_equal(ps[0].duration_ms, 2000);
	assert_string_equal(ps[0].rid, r2);
	assert_int_equal(ps[1].duration_ms, 6000);
	assert_int_equal(ps[3].duration_ms, -1);
	assert_int_equal(ps[0].body_len, 1);
	assert_memory_equal(ps[0].body, "b", 1);
	reg_pings_free(ps, n);
	/* an unknown rid gives no duration */
	ping(db, "par", REG_PING_SUCCESS, -1, "33333333-3333-4333-8333-333333333333", 9000, &o);
	assert_int_equal(reg_ping_list(db, c.id, 1, &ps, &n), REG_OK);
	assert_int_equal(ps[0].duration_ms, -1);
	reg_pings_free(ps, n);
	reg_close(db);
}

static void test_orphans(void **st)
{
	(void)st;
	reg_db *db = open_db();
	reg_ping_out o;
	ping(db, "ghost", REG_PING_SUCCESS, -1, NULL, 1000, &o);
	assert_false(o.found);
	ping(db, "ghost", REG_PING_FAIL, -1, NULL, 3000, &o);
	reg_orphan *or;
	size_t n;
	assert_int_equal(reg_orphan_list(db, &or, &n), REG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(or[0].slug, "ghost");
	assert_int_equal(or[0].count, 2);
	assert_int_equal(or[0].first_ms, 1000);
	assert_int_equal(or[0].last_ms, 3000);
	free(or);
	assert_int_equal(count(db, "SELECT count(*) FROM pings"), 0);
	reg_close(db);
}

static void test_conditional_transition(void **st)
{
	(void)st;
	reg_db *db = open_db();
	int64_t id = add_period(db, "cond", 60);
	assert_int_equal(reg_begin(db), REG_OK);
	assert_int_equal(reg_check_transition(db, id, REG_NEW, REG_DOWN, "never_pinged", 1, 100), REG_OK);
	/* a second scheduler that read "new" loses the race: no second flip */
	assert_int_equal(reg_check_transition(db, id, REG_NEW, REG_DOWN, "never_pinged", 1, 100), REG_ECONFLICT);
	assert_int_equal(reg_commit(db), REG_OK);
	assert_int_equal(count(db, "SELECT count(*) FROM flips"), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM alerts"), 1);
	reg_flip *f;
	size_t n;
	assert_int_equal(reg_flip_list(db, id, 10, &f, &n), REG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].old_status, REG_NEW);
	assert_int_equal(f[0].new_status, REG_DOWN);
	assert_string_equal(f[0].reason, "never_pinged");
	assert_string_equal(f[0].slug, "cond");
	free(f);
	reg_close(db);
}

static void test_settings_and_key(void **st)
{
	(void)st;
	reg_db *db = open_db();
	char k1[80], k2[80], buf[32];
	assert_int_equal(reg_setting_get(db, "nope", buf, sizeof buf), REG_ENOTFOUND);
	assert_int_equal(reg_ping_key(db, k1, sizeof k1), REG_OK);
	assert_int_equal(strlen(k1), 32);	/* 128 bits in hex */
	assert_int_equal(strspn(k1, "0123456789abcdef"), 32);
	reg_close(db);
	db = open_db();
	assert_int_equal(reg_ping_key(db, k2, sizeof k2), REG_OK);
	assert_string_equal(k1, k2);	/* created once, then kept */
	assert_int_equal(reg_setting_set(db, "x", "1"), REG_OK);
	assert_int_equal(reg_setting_set(db, "x", "2"), REG_OK);
	assert_int_equal(reg_setting_get(db, "x", buf, sizeof buf), REG_OK);
	assert_string_equal(buf, "2");
	reg_close(db);
}

static void test_mute_pause_update(void **st)
{
	(void)st;
	reg_db *db = open_db();
	add_period(db, "m", 60);
	assert_int_equal(reg_check_set_mute(db, "m", 5000, 0, "maintenance"), REG_OK);
	reg_check c;
	assert_int_equal(reg_check_get(db, "m", &c), REG_OK);
	assert_int_equal(c.mute_until_ms, 5000);
	assert_string_equal(c.mute_reason, "maintenance");
	assert_int_equal(reg_check_set_mute(db, "nope", 5000, 0, "x"), REG_ENOTFOUND);
	snprintf(c.name, sizeof c.name, "Renamed");
	c.grace_s = 42;
	assert_int_equal(reg_check_update(db, &c), REG_OK);
	reg_check d;
	assert_int_equal(reg_check_get(db, "m", &d), REG_OK);
	assert_string_equal(d.name, "Renamed");
	assert_int_equal(d.grace_s, 42);
	reg_check *all;
	size_t n;
	add_period(db, "a-first", 60);
	assert_int_equal(reg_check_list(db, &all, &n), REG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].slug, "a-first");
	free(all);
	reg_close(db);
}

/* Version 5 to 6: each check's pings become a chain (prev_id, last_ping_id),
 * n_pings counts them, the per-ping index is gone, the fold mark covers
 * every existing ping, and last_ping_ms no longer resets the deadline. */
static void test_migration_to_chain(void **st)
{
	(void)st;
	reg_db *db = NULL;
	char msg[256];
	assert_int_equal(reg_open_version(path, 5, &db, msg, sizeof msg), REG_OK);
	assert_int_equal(sqlite3_exec(reg_sqlite(db),
		"INSERT INTO checks(slug,period_s,created_ms) VALUES('a',60,5),('b',60,5),('c',60,5);"
		"INSERT INTO pings(check_id,created_ms,kind) VALUES(1,10,0),(2,11,0),(1,12,1),(1,13,0),(2,14,2);"
		"UPDATE checks SET next_deadline_ms=777;", NULL, NULL, NULL), SQLITE_OK);
	reg_close(db);
	db = open_db();
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(reg_sqlite(db), "SELECT group_concat(prev_id, ',') FROM (SELECT prev_id FROM pings ORDER BY id)",
	                                    -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "0,0,1,3,2");
	sqlite3_finalize(q);
	reg_check a, b, c;
	assert_int_equal(reg_check_get(db, "a", &a), REG_OK);
	assert_int_equal(reg_check_get(db, "b", &b), REG_OK);
	assert_int_equal(reg_check_get(db, "c", &c), REG_OK);
	assert_int_equal(a.last_ping_id, 4);
	assert_int_equal(a.n_pings, 3);
	assert_int_equal(b.last_ping_id, 5);
	assert_int_equal(b.n_pings, 2);
	assert_int_equal(c.last_ping_id, 0);
	assert_int_equal(reg_ping_count(db, c.id), 0);
	assert_int_equal(count(db, "SELECT folded_id FROM ping_fold"), 5);
	assert_int_equal(count(db, "SELECT count(*) FROM sqlite_master WHERE name='pings_check'"), 0);
	reg_ping *ps;
	size_t n;
	assert_int_equal(reg_ping_list(db, a.id, 0, &ps, &n), REG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ps[0].id, 4);
	assert_int_equal(ps[1].id, 3);
	assert_int_equal(ps[2].id, 1);
	reg_pings_free(ps, n);
	/* a new ping continues the chain */
	reg_ping_out o;
	ping(db, "a", REG_PING_SUCCESS, -1, NULL, 20, &o);
	assert_int_equal(count(db, "SELECT prev_id FROM pings WHERE id=6"), 4);
	assert_int_equal(reg_ping_count(db, a.id), 4);
	/* only a status change resets the deadline */
	assert_int_equal(count(db, "SELECT next_deadline_ms FROM checks WHERE slug='b'"), 777);
	assert_int_equal(sqlite3_exec(reg_sqlite(db), "UPDATE checks SET last_ping_ms=99 WHERE slug='b'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(count(db, "SELECT next_deadline_ms FROM checks WHERE slug='b'"), 777);
	assert_int_equal(sqlite3_exec(reg_sqlite(db), "UPDATE checks SET status=1 WHERE slug='b'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(count(db, "SELECT next_deadline_ms FROM checks WHERE slug='b'"), 0);
	reg_close(db);
}

static void record(reg_db *db, const char *slug, reg_ping_kind k, int exit_status, const char *rid, int64_t now)
{
	reg_ping_out o;
	ping(db, slug, k, exit_status, rid, now, &o);
}

static void same_check(const reg_check *x, const reg_check *y)
{
	assert_int_equal(x->status, y->status);
	assert_int_equal(x->last_ping_ms, y->last_ping_ms);
	assert_int_equal(x->last_start_ms, y->last_start_ms);
	assert_int_equal(x->last_success_ms, y->last_success_ms);
	assert_int_equal(x->last_fail_ms, y->last_fail_ms);
	assert_int_equal(x->last_exit, y->last_exit);
	assert_int_equal(x->last_duration_ms, y->last_duration_ms);
	assert_int_equal(x->n_pings, y->n_pings);
	assert_int_equal(x->last_ping_id, y->last_ping_id);
}

/* The deferred connection remembers each check's status, pause and newest
 * ping by slug; whatever another connection commits (the scheduler's status
 * change, a pause, a check removed and added again) is seen by the next
 * ping, and so is a change made through the deferred connection itself. */
static void test_deferred_memory_follows_other_writers(void **st)
{
	(void)st;
	reg_db *srv = open_db(), *other = open_db();
	int64_t id1 = add_period(other, "m", 60);
	reg_ping_defer(srv, 1);
	reg_ping_out o;
	ping(srv, "m", REG_PING_SUCCESS, -1, NULL, 2000, &o);
	assert_int_equal(o.old_status, REG_NEW);
	assert_int_equal(o.new_status, REG_UP);
	ping(srv, "m", REG_PING_SUCCESS, -1, NULL, 3000, &o);	/* remembered: up */
	assert_int_equal(o.old_status, REG_UP);
	assert_false(o.flipped);

	/* the scheduler (another connection) marks it down: the next ping flips it back */
	assert_int_equal(reg_begin(other), REG_OK);
	assert_int_equal(reg_check_transition(other, id1, REG_UP, REG_DOWN, "late", 1, 4000), REG_OK);
	assert_int_equal(reg_commit(other), REG_OK);
	ping(srv, "m", REG_PING_SUCCESS, -1, NULL, 5000, &o);
	assert_int_equal(o.old_status, REG_DOWN);
	assert_int_equal(o.new_status, REG_UP);
	assert_true(o.flipped);
	assert_int_equal(count(other, "SELECT count(*) FROM flips WHERE check_id=(SELECT id FROM checks WHERE slug='m') AND old_status=3 AND new_status=1"), 1);

	/* paused by another connection: a failure flips the check without an alert */
	assert_int_equal(reg_check_set_paused(other, "m", 1, 6000), REG_OK);
	int alerts = count(other, "SELECT count(*) FROM alerts");
	ping(srv, "m", REG_PING_FAIL, -1, NULL, 7000, &o);
	assert_true(o.flipped);
	assert_int_equal(count(other, "SELECT count(*) FROM alerts"), alerts);
	assert_int_equal(reg_check_set_paused(other, "m", 0, 7500), REG_OK);

	/* removed and added again: the pings go to the new check */
	assert_int_equal(reg_check_rm(other, "m"), REG_OK);
	add_period(other, "filler", 60);	/* so that the new "m" gets another id */
	int64_t id2 = add_period(other, "m", 60);
	assert_true(id2 != id1);
	ping(srv, "m", REG_PING_SUCCESS, -1, NULL, 8000, &o);
	assert_int_equal(o.check_id, id2);
	assert_int_equal(o.old_status, REG_NEW);
	assert_int_equal(count(other, "SELECT count(*) FROM pings WHERE check_id=(SELECT id FROM checks WHERE slug='m')"), 1);

	/* a status changed through the deferred connection itself */
	assert_int_equal(reg_begin(srv), REG_OK);
	assert_int_equal(reg_check_transition(srv, id2, REG_UP, REG_DOWN, "late", 1, 9000), REG_OK);
	assert_int_equal(reg_commit(srv), REG_OK);
	ping(srv, "m", REG_PING_SUCCESS, -1, NULL, 9500, &o);
	assert_int_equal(o.old_status, REG_DOWN);
	assert_true(o.flipped);

	/* a rolled-back ping is forgotten with its transaction */
	reg_ping_in in = { .slug = "m", .kind = REG_PING_FAIL, .exit_status = -1, .now_ms = 9800 };
	assert_int_equal(reg_begin(srv), REG_OK);
	assert_int_equal(reg_ping_record(srv, &in, &o), REG_OK);
	assert_int_equal(o.new_status, REG_DOWN);
	assert_int_equal(reg_rollback(srv), REG_OK);
	ping(srv, "m", REG_PING_SUCCESS, -1, NULL, 9900, &o);
	assert_int_equal(o.old_status, REG_UP);
	assert_false(o.flipped);
	reg_close(other);
	reg_close(srv);
}

/* One sequence of pings, recorded by a deferred connection (the server's
 * committer) and by an immediate one into another database: every reader
 * of the first sees what the second has in its rows, before the fold, in
 * the middle of a fold job written a row at a time, and after it; pings
 * from another connection and a rolled-back batch keep the chain whole. */
static void test_deferred_recording(void **st)
{
	(void)st;
	char path2[160], msg[256];
	snprintf(path2, sizeof path2, "%s/ref.db", dir);
	reg_db *ref = NULL, *srv = open_db(), *rd = open_db();
	assert_int_equal(reg_open(path2, &ref, msg, sizeof msg), REG_OK);
	const char *slugs[] = {"x", "y", "z"};
	for (int i = 0; i < 3; i++) { add_period(ref, slugs[i], 60); add_period(srv, slugs[i], 60); }
	reg_ping_defer(srv, 1);
	const char *r1 = "11111111-1111-4111-8111-111111111111";
	struct { const char *slug; reg_ping_kind k; int ex; const char *rid; } seq[] = {
		{"x", REG_PING_START, -1, NULL}, {"y", REG_PING_SUCCESS, -1, NULL}, {"x", REG_PING_LOG, -1, NULL},
		{"x", REG_PING_SUCCESS, -1, NULL}, {"y", REG_PING_START, -1, r1}, {"y", REG_PING_START, -1, NULL},
		{"y", REG_PING_EXIT, 3, r1}, {"x", REG_PING_FAIL, -1, NULL}, {"y", REG_PING_EXIT, 0, NULL},
		{"x", REG_PING_START, -1, NULL}, {"x", REG_PING_EXIT, 0, NULL},
	};
	int nseq = (int)(sizeof seq / sizeof seq[0]);
	for (int i = 0; i < nseq; i++) {
		record(ref, seq[i].slug, seq[i].k, seq[i].ex, seq[i].rid, 1000 * (i + 1));
		record(srv, seq[i].slug, seq[i].k, seq[i].ex, seq[i].rid, 1000 * (i + 1));
	}
	/* the rows lag (a ping is one INSERT) ... */
	assert_int_equal(count(rd, "SELECT n_pings FROM checks WHERE slug='x'"), 0);
	assert_int_equal(count(rd, "SELECT count(*) FROM pings"), nseq);
	/* ... the readers do not */
	reg_check want, got;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(reg_check_get(ref, slugs[i], &want), REG_OK);
		assert_int_equal(reg_check_get(rd, slugs[i], &got), REG_OK);
		same_check(&want, &got);
		assert_int_equal(reg_ping_count(rd, got.id), want.n_pings);
		reg_check byid;
		assert_int_equal(reg_check_get_id(rd, got.id, &byid), REG_OK);
		same_check(&want, &byid);
	}
	reg_check *all;
	size_t n;
	assert_int_equal(reg_check_list(rd, &all, &n), REG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(reg_check_get(ref, all[0].slug, &want), REG_OK);
	same_check(&want, &all[0]);
	free(all);
	assert_int_equal(reg_check_get(ref, "y", &want), REG_OK);
	assert_int_equal(want.last_duration_ms, 2000);	/* exit 3 paired by rid; the exit 0 from down has none */
	reg_ping *ps;
	assert_int_equal(reg_ping_list(rd, want.id, 3, &ps, &n), REG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ps[0].created_ms, 9000);
	assert_int_equal(ps[1].duration_ms, 2000);	/* exit 3 paired by rid with the start at 5 s */
	reg_pings_free(ps, n);

	/* a fold job prepared by another connection, written a row per commit */
	int rc;
	reg_fold_job *job = reg_fold_prepare(rd, &rc);
	assert_int_equal(rc, REG_OK);
	assert_non_null(job);
	int steps = 0;
	for (;;) {
		assert_int_equal(reg_begin(srv), REG_OK);
		int done = reg_fold_step(srv, job, 1);
		assert_true(done >= 0);
		assert_int_equal(reg_commit(srv), REG_OK);
		steps++;
		for (int i = 0; i < 3; i++) {	/* half-folded: still exact */
			assert_int_equal(reg_check_get(ref, slugs[i], &want), REG_OK);
			assert_int_equal(reg_check_get(rd, slugs[i], &got), REG_OK);
			same_check(&want, &got);
		}
		if (done) break;
	}
	reg_fold_free(job);
	assert_int_equal(steps, 2);	/* x and y; z had no pings */
	assert_int_equal(count(rd, "SELECT folded_id FROM ping_fold"), nseq);
	assert_int_equal(count(rd, "SELECT n_pings FROM checks WHERE slug='x'"), 6);
	assert_null(reg_fold_prepare(rd, &rc));	/* nothing left */
	assert_int_equal(rc, REG_OK);

	/* pings by someone else, then by the server again: one chain */
	record(rd, "x", REG_PING_LOG, -1, NULL, 20000);
	record(srv, "x", REG_PING_SUCCESS, -1, NULL, 21000);
	assert_int_equal(count(rd, "SELECT prev_id FROM pings WHERE id=13"), 12);
	assert_int_equal(count(rd, "SELECT prev_id FROM pings WHERE id=12"), 11);
	/* a batch rolled back leaves no trace in the chain nor in the durations */
	record(srv, "x", REG_PING_START, -1, NULL, 22000);	/* 14: up -> started */
	reg_ping_in in = { .slug = "x", .kind = REG_PING_START, .exit_status = -1, .now_ms = 23000 };
	reg_ping_out o;
	assert_int_equal(reg_begin(srv), REG_OK);
	assert_int_equal(reg_ping_record(srv, &in, &o), REG_OK);
	assert_int_equal(reg_rollback(srv), REG_OK);
	record(srv, "x", REG_PING_EXIT, 0, NULL, 25000);	/* 15 */
	assert_int_equal(count(rd, "SELECT prev_id FROM pings WHERE id=15"), 14);
	assert_int_equal(reg_check_get(rd, "x", &got), REG_OK);
	assert_int_equal(got.n_pings, 10);
	assert_int_equal(got.last_start_ms, 22000);
	assert_int_equal(got.last_duration_ms, 3000);
	/* a removed check's id reused: what the server remembers of it is stale */
	record(srv, "z", REG_PING_SUCCESS, -1, NULL, 26000);	/* 16 */
	record(srv, "x", REG_PING_LOG, -1, NULL, 27000);	/* 17 */
	assert_int_equal(reg_check_rm(rd, "z"), REG_OK);
	assert_int_equal(add_period(rd, "z", 60), 3);
	record(srv, "z", REG_PING_SUCCESS, -1, NULL, 28000);	/* 18 */
	assert_int_equal(count(rd, "SELECT prev_id FROM pings WHERE id=18"), 0);
	assert_int_equal(reg_check_get(rd, "z", &got), REG_OK);
	assert_int_equal(got.n_pings, 1);
	assert_int_equal(got.last_ping_id, 18);
	/* the full fold (the scheduler's) agrees with the readers */
	assert_int_equal(reg_check_get(rd, "x", &want), REG_OK);
	assert_int_equal(reg_begin(rd), REG_OK);
	assert_int_equal(reg_ping_fold(rd), REG_OK);
	assert_int_equal(reg_commit(rd), REG_OK);
	assert_int_equal(count(rd, "SELECT n_pings FROM checks WHERE slug='x'"), 11);
	assert_int_equal(reg_check_get(rd, "x", &got), REG_OK);
	same_check(&want, &got);
	assert_int_equal(reg_ping_unfolded(rd), 0);
	reg_close(ref);
	reg_close(srv);
	reg_close(rd);
}

int main(void)

{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations_from_each_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
		cmocka_unit_test(test_slugs),
		cmocka_unit_test_setup_teardown(test_ping_state_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rid_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_to_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_memory_follows_other_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditional_transition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_and_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mute_pause_update, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
