/* The time-driven state machine with an injected clock: every transition,
 * grace boundaries to the millisecond, never-pinged timing, max runtime vs
 * grace, pause, down, and each kind of clock jump (late wake-up, forward
 * jump, backward jump, vigil not running). */
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

#include "supervisor/alerts.h"
#include "crontab/crontab.h"

#define T0 1800000000000LL   /* 2027-01-15 08:00:00 UTC */
#define S 1000LL

static alerts_cfg cfg;
static char dir[64];
static reg_db *db;

static int setup(void **st)
{
	(void)st;
	char err[256];
	assert_int_equal(alerts_cfg_load(NULL, NULL, &cfg, err, sizeof err), 0);
	snprintf(dir, sizeof dir, "/tmp/vigil-sched-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/v.db", dir);
	assert_int_equal(reg_open(path, &db, err, sizeof err), REG_OK);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	reg_close(db);
	db = NULL;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) return -1;
	return 0;
}

static int64_t add(const char *slug, int64_t period, int64_t grace, int64_t maxrt, int64_t created)
{
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "%s", slug);
	c.period_s = period;
	c.grace_s = grace;
	c.max_runtime_s = maxrt;
	assert_int_equal(reg_check_add(db, &c, created), REG_OK);
	return c.id;
}

static void ping(const char *slug, reg_ping_kind k, int exit_status, int64_t at)
{
	reg_ping_in in = { .slug = slug, .kind = k, .exit_status = exit_status, .now_ms = at };
	reg_ping_out out;
	assert_int_equal(reg_begin(db), REG_OK);
	assert_int_equal(reg_ping_record(db, &in, &out), REG_OK);
	assert_int_equal(reg_commit(db), REG_OK);
	assert_true(out.found);
}

static reg_check get(const char *slug)
{
	reg_check c;
	assert_int_equal(reg_check_get(db, slug, &c), REG_OK);
	return c;
}

static int64_t count(const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(reg_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static sched_decision decide_at(const char *slug, int64_t now, const sched_gap *gap)
{
	reg_check c = get(slug);
	sched_decision d;
	assert_int_equal(sched_decide(&c, now, gap, &cfg, &d), 0);
	return d;
}

/* ---- sched_decide: pure ------------------------------------------------------------ */

static void test_up_grace_down_boundaries(void **st)
{
	(void)st;
	add("job", 60, 30, 0, T0);
	ping("job", REG_PING_SUCCESS, -1, T0 + 10 * S);
	/* expected run at T0+70s, grace ends T0+100s */
	sched_decision d = decide_at("job", T0 + 70 * S - 1, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 70 * S);
	assert_int_equal(d.expected_ms, T0 + 70 * S);
	d = decide_at("job", T0 + 70 * S, NULL);
	assert_true(d.change);
	assert_int_equal(d.to, REG_GRACE);
	assert_false(d.alert);
	assert_int_equal(d.next_deadline_ms, T0 + 100 * S);
	d = decide_at("job", T0 + 100 * S - 1, NULL);
	assert_int_equal(d.to, REG_GRACE);
	assert_false(d.alert);
	d = decide_at("job", T0 + 100 * S, NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_true(d.alert);
	assert_string_equal(d.reason, "late");
	assert_int_equal(d.next_deadline_ms, -1);
}

static void test_never_pinged(void **st)
{
	(void)st;
	add("fresh", 300, 60, 0, T0);
	add("logged", 300, 60, 0, T0);
	ping("logged", REG_PING_LOG, -1, T0 + 5 * S);   /* a ping on record, not a run */
	sched_decision d = decide_at("fresh", T0 + 300 * S - 1, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 300 * S);
	d = decide_at("fresh", T0 + 300 * S, NULL);
	assert_int_equal(d.to, REG_GRACE);
	d = decide_at("fresh", T0 + 360 * S - 1, NULL);
	assert_int_equal(d.to, REG_GRACE);
	d = decide_at("fresh", T0 + 360 * S, NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "never_pinged");
	/* any ping on record: never described as never run */
	d = decide_at("logged", T0 + 360 * S, NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "late");
}

static void test_max_runtime_vs_grace(void **st)
{
	(void)st;
	add("long", 3600, 60, 600, T0);
	add("nolimit", 3600, 60, 0, T0);
	ping("long", REG_PING_START, -1, T0 + 10 * S);
	ping("nolimit", REG_PING_START, -1, T0 + 10 * S);
	assert_int_equal(get("long").status, REG_STARTED);
	sched_decision d = decide_at("long", T0 + 610 * S - 1, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 610 * S);
	d = decide_at("long", T0 + 610 * S, NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "hung");
	assert_true(d.alert);
	/* without a max runtime the start counts as the run: the next slot rules */
	d = decide_at("nolimit", T0 + 610 * S, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 3610 * S);
	d = decide_at("nolimit", T0 + 3670 * S, NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "late");
	/* a finish in time: up, next deadline from the finish */
	ping("long", REG_PING_SUCCESS, -1, T0 + 300 * S);
	d = decide_at("long", T0 + 610 * S, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 3900 * S);
}

static void test_direct_and_remaining_transitions(void **st)
{
	(void)st;
	/* new, judged only after deadline + grace (a late wake below the gap
	 * threshold): straight to down, never pinged */
	add("n", 60, 30, 0, T0);
	sched_decision d = decide_at("n", T0 + 95 * S, NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "never_pinged");
	assert_true(d.alert);
	/* started without a max runtime: the start covers the slot; the next
	 * slot is expected from it, and missing it is grace, then down */
	add("s", 60, 30, 0, T0);
	ping("s", REG_PING_START, -1, T0 + 10 * S);
	d = decide_at("s", T0 + 70 * S, NULL);
	assert_int_equal(d.to, REG_GRACE);
	assert_false(d.alert);
	/* unknown: grace then down from the slot after the mark */
	reg_check u = get("n");
	u.status = REG_UNKNOWN;
	u.status_since_ms = T0 + 200 * S;
	assert_int_equal(sched_decide(&u, T0 + 259 * S, NULL, &cfg, &d), 0);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 260 * S);
	assert_int_equal(sched_decide(&u, T0 + 260 * S, NULL, &cfg, &d), 0);
	assert_int_equal(d.to, REG_GRACE);
	assert_int_equal(sched_decide(&u, T0 + 290 * S, NULL, &cfg, &d), 0);
	assert_int_equal(d.to, REG_DOWN);
	/* a check in grace that gets its ping goes up through the ping path and
	 * is judged from the new ping */
	add("g", 60, 30, 0, T0);
	ping("g", REG_PING_SUCCESS, -1, T0);
	sched *sc = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(sc, T0 + 60 * S, 60000, &o), REG_OK);
	assert_int_equal(get("g").status, REG_GRACE);
	ping("g", REG_PING_SUCCESS, -1, T0 + 70 * S);
	assert_int_equal(get("g").status, REG_UP);
	assert_int_equal(sched_tick(sc, T0 + 71 * S, 71000, &o), REG_OK);
	assert_int_equal(get("g").next_deadline_ms, T0 + 130 * S);
	assert_int_equal(count("SELECT count(*) FROM alerts a JOIN flips f ON f.id=a.flip_id JOIN checks c ON c.id=f.check_id WHERE c.slug='g'"), 0);
	sched_free(sc);
}

static void test_pause_and_down_have_no_deadline(void **st)
{
	(void)st;
	add("p", 60, 0, 0, T0);
	assert_int_equal(reg_check_set_paused(db, "p", 1, T0), REG_OK);
	sched_decision d = decide_at("p", T0 + 1000 * S, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, -1);
	add("f", 60, 0, 0, T0);
	ping("f", REG_PING_FAIL, -1, T0 + 1 * S);
	assert_int_equal(get("f").status, REG_DOWN);
	d = decide_at("f", T0 + 1000 * S, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, -1);
}

static void test_gap_marks_unknown(void **st)
{
	(void)st;
	add("g", 60, 30, 0, T0);
	ping("g", REG_PING_SUCCESS, -1, T0);
	/* grace ended at T0+90s, inside the gap (T0+50s, T0+600s] */
	sched_gap gap = { T0 + 50 * S, T0 + 600 * S };
	sched_decision d = decide_at("g", T0 + 600 * S, &gap);
	assert_int_equal(d.to, REG_UNKNOWN);
	assert_string_equal(d.reason, "gap");
	/* judged again from the next slot after the mark */
	assert_int_equal(d.next_deadline_ms, T0 + 660 * S);
	/* grace ended before the gap began: a real miss */
	sched_gap late = { T0 + 95 * S, T0 + 600 * S };
	d = decide_at("g", T0 + 600 * S, &late);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "late");
}

static void test_anchor_in_future_is_clamped(void **st)
{
	(void)st;
	add("b", 600, 60, 0, T0);
	ping("b", REG_PING_SUCCESS, -1, T0 + 3600 * S);   /* stamped before the clock went back */
	sched_decision d = decide_at("b", T0, NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 600 * S);
}

/* ---- sched_tick: the database, the clock kinds ----------------------------------------- */

static void test_tick_flips_and_outbox(void **st)
{
	(void)st;
	add("a", 60, 10, 0, T0);
	add("b", 120, 10, 0, T0);
	sched *s = sched_new(db, &cfg);
	assert_non_null(s);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 1 * S, 5000, &o), REG_OK);
	assert_int_equal(o.evaluated, 2);   /* new checks: deadline 0, "evaluate me" */
	assert_int_equal(o.next_wake_ms, T0 + 3 * S);   /* the rescan (2 s) comes before T0+60 */
	assert_int_equal(get("a").next_deadline_ms, T0 + 60 * S);
	/* nothing due: nothing evaluated */
	assert_int_equal(sched_tick(s, T0 + 3 * S, 7000, &o), REG_OK);
	assert_int_equal(o.evaluated, 0);
	assert_int_equal(sched_tick(s, T0 + 60 * S, 64000, &o), REG_OK);
	assert_int_equal(o.evaluated, 1);
	assert_int_equal(get("a").status, REG_GRACE);
	assert_int_equal(sched_tick(s, T0 + 70 * S, 74000, &o), REG_OK);
	assert_int_equal(get("a").status, REG_DOWN);
	assert_int_equal(o.alerts, 1);
	assert_int_equal(count("SELECT count(*) FROM alerts a JOIN flips f ON f.id=a.flip_id WHERE f.reason='never_pinged'"), 1);
	/* a ping resets the deadline through the trigger; the next tick re-plans */
	ping("b", REG_PING_SUCCESS, -1, T0 + 71 * S);
	assert_int_equal(get("b").next_deadline_ms, 0);
	assert_int_equal(sched_tick(s, T0 + 72 * S, 76000, &o), REG_OK);
	assert_int_equal(get("b").next_deadline_ms, T0 + 191 * S);
	/* recovery from down: an alert written by the ping's transaction */
	ping("a", REG_PING_SUCCESS, -1, T0 + 80 * S);
	assert_int_equal(get("a").status, REG_UP);
	assert_int_equal(count("SELECT count(*) FROM alerts"), 2);
	sched_free(s);
}

static void test_late_wakeup(void **st)
{
	(void)st;
	add("lw", 60, 10, 0, T0);
	ping("lw", REG_PING_SUCCESS, -1, T0);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 60 * S, 60000, &o), REG_OK);
	assert_int_equal(get("lw").status, REG_GRACE);
	assert_int_equal(sched_tick(s, T0 + 68 * S, 68000, &o), REG_OK);
	assert_int_equal(o.next_wake_ms, T0 + 70 * S);
	/* woken 5 s late (below the 60 s threshold): judged normally */
	assert_int_equal(sched_tick(s, T0 + 75 * S, 75000, &o), REG_OK);
	assert_false(o.gap);
	assert_int_equal(get("lw").status, REG_DOWN);
	assert_int_equal(o.alerts, 1);
	sched_free(s);

	/* woken 10 minutes late (process stopped; both clocks ran): a gap */
	add("lw3", 60, 10, 0, T0 + 100 * S);
	ping("lw3", REG_PING_SUCCESS, -1, T0 + 100 * S);
	s = sched_new(db, &cfg);
	assert_int_equal(sched_tick(s, T0 + 101 * S, 1000, &o), REG_OK);
	assert_true(o.next_wake_ms <= T0 + 160 * S);
	assert_int_equal(sched_tick(s, T0 + 701 * S, 1000 + 600 * S, &o), REG_OK);
	assert_true(o.gap);
	assert_false(o.backward);
	assert_int_equal(get("lw3").status, REG_UNKNOWN);
	assert_int_equal(count("SELECT count(*) FROM flips WHERE reason='gap'"), 1);
	sched_free(s);
}

static void test_forward_jump(void **st)
{
	(void)st;
	add("fj", 60, 10, 0, T0);
	ping("fj", REG_PING_SUCCESS, -1, T0);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 1 * S, 1000, &o), REG_OK);
	/* one second of monotonic time, one hour of wall time */
	assert_int_equal(sched_tick(s, T0 + 3601 * S, 2000, &o), REG_OK);
	assert_true(o.gap);
	assert_int_equal(get("fj").status, REG_UNKNOWN);
	/* the slot after the mark is judged normally: down at +60 +10 */
	assert_int_equal(get("fj").next_deadline_ms, T0 + 3661 * S);
	assert_int_equal(sched_tick(s, T0 + 3661 * S, 62000, &o), REG_OK);
	assert_int_equal(get("fj").status, REG_GRACE);
	assert_int_equal(sched_tick(s, T0 + 3671 * S, 72000, &o), REG_OK);
	assert_int_equal(get("fj").status, REG_DOWN);
	assert_int_equal(o.alerts, 1);
	sched_free(s);
}

static void test_backward_jump(void **st)
{
	(void)st;
	add("bj", 600, 60, 0, T0);
	ping("bj", REG_PING_SUCCESS, -1, T0 + 3600 * S);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 3601 * S, 1000, &o), REG_OK);
	assert_int_equal(get("bj").next_deadline_ms, T0 + 4200 * S);
	/* the wall clock goes back one hour */
	assert_int_equal(sched_tick(s, T0 + 2 * S, 2000, &o), REG_OK);
	assert_true(o.backward);
	assert_false(o.gap);
	assert_int_equal(o.flips, 0);
	assert_int_equal(get("bj").status, REG_UP);
	/* the anchor "in the future" is clamped: not another hour of silence */
	assert_int_equal(get("bj").next_deadline_ms, T0 + 602 * S);
	sched_free(s);
}

static void test_not_running_gap(void **st)
{
	(void)st;
	add("nr", 60, 10, 0, T0);
	add("nr-late", 60, 10, 0, T0);
	ping("nr", REG_PING_SUCCESS, -1, T0);
	ping("nr-late", REG_PING_SUCCESS, -1, T0 - 120 * S);   /* already overdue before the stop */
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 1 * S, 1000, &o), REG_OK);   /* writes sched.alive_ms */
	assert_int_equal(get("nr-late").status, REG_DOWN);
	sched_free(s);
	/* vigil stops; restarts 20 minutes later (a new scheduler, a new monotonic clock) */
	s = sched_new(db, &cfg);
	assert_int_equal(sched_tick(s, T0 + 1201 * S, 50, &o), REG_OK);
	assert_true(o.gap);
	assert_int_equal(get("nr").status, REG_UNKNOWN);
	assert_int_equal(o.alerts, 1);   /* one outbox row, folded into one digest line */
	char buf[32];
	assert_int_equal(reg_setting_get(db, "sched.gap_from_ms", buf, sizeof buf), REG_OK);
	assert_int_equal(strtoll(buf, NULL, 10), T0 + 1 * S);
	sched_free(s);
	/* a short restart (below the threshold) is no gap */
	s = sched_new(db, &cfg);
	assert_int_equal(sched_tick(s, T0 + 1210 * S, 10, &o), REG_OK);
	assert_false(o.gap);
	sched_free(s);
}

static void test_paused_never_alerts(void **st)
{
	(void)st;
	add("pz", 60, 0, 0, T0);
	assert_int_equal(reg_check_set_paused(db, "pz", 1, T0), REG_OK);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 1 * S, 1000, &o), REG_OK);
	assert_int_equal(sched_tick(s, T0 + 50 * S, 50000, &o), REG_OK);
	assert_int_equal(sched_tick(s, T0 + 100 * S, 100000, &o), REG_OK);
	assert_int_equal(count("SELECT count(*) FROM flips"), 0);
	/* resume: judged from now on */
	assert_int_equal(reg_check_set_paused(db, "pz", 0, T0 + 100 * S), REG_OK);
	assert_int_equal(sched_tick(s, T0 + 101 * S, 101000, &o), REG_OK);
	assert_int_equal(o.evaluated, 1);
	sched_free(s);
}

static void test_many_checks_tick_cost(void **st)
{
	(void)st;
	assert_int_equal(reg_begin(db), REG_OK);
	for (int i = 0; i < 2000; i++) {
		char slug[32];
		snprintf(slug, sizeof slug, "c%04d", i);
		add(slug, 3600 + i, 60, 0, T0);
	}
	assert_int_equal(reg_commit(db), REG_OK);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 1 * S, 1000, &o), REG_OK);
	assert_int_equal(o.evaluated, 2000);
	assert_int_equal(sched_tick(s, T0 + 2 * S, 2000, &o), REG_OK);
	assert_int_equal(o.evaluated, 0);
	/* the first 10 deadlines (3600..3609 s) pass: exactly those are evaluated */
	assert_int_equal(sched_tick(s, T0 + 3609 * S, 3609000, &o), REG_OK);
	assert_int_equal(o.evaluated, 10);
	assert_int_equal(o.flips, 10);
	sched_free(s);
}

/* ---- cron schedules -------------------------------------------------------------------- */

static int64_t utc(const char *rfc)
{
	int64_t t;
	assert_int_equal(cron_parse_rfc3339(rfc, &t), 0);
	return t * 1000;
}

static int64_t add_cron(const char *slug, const char *expr, const char *tz, int64_t grace, int64_t created)
{
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "%s", slug);
	snprintf(c.schedule, sizeof c.schedule, "%s", expr);
	snprintf(c.tz, sizeof c.tz, "%s", tz);
	c.grace_s = grace;
	assert_int_equal(reg_check_add(db, &c, created), REG_OK);
	return c.id;
}

static void test_cron_early_window(void **st)
{
	(void)st;
	add_cron("early", "0 * * * *", "UTC", 300, utc("2027-01-15T09:00:30Z"));
	add_cron("tooearly", "0 * * * *", "UTC", 300, utc("2027-01-15T09:00:30Z"));
	add_cron("late", "0 * * * *", "UTC", 300, utc("2027-01-15T09:00:30Z"));
	ping("early", REG_PING_SUCCESS, -1, utc("2027-01-15T10:59:30Z"));     /* 30 s early: counts for 11:00 */
	ping("tooearly", REG_PING_SUCCESS, -1, utc("2027-01-15T10:58:00Z"));  /* 120 s early: for 10:00 */
	ping("late", REG_PING_SUCCESS, -1, utc("2027-01-15T11:04:00Z"));      /* late, within grace */
	int64_t now = utc("2027-01-15T11:01:00Z");
	assert_int_equal(decide_at("early", now, NULL).expected_ms, utc("2027-01-15T12:00:00Z"));
	sched_decision d = decide_at("tooearly", now, NULL);
	assert_int_equal(d.expected_ms, utc("2027-01-15T11:00:00Z"));
	assert_int_equal(d.to, REG_GRACE);
	assert_int_equal(d.next_deadline_ms, utc("2027-01-15T11:05:00Z"));
	assert_int_equal(decide_at("late", utc("2027-01-15T11:05:00Z"), NULL).expected_ms, utc("2027-01-15T12:00:00Z"));
	/* the early window is configurable */
	cfg.early_window_ms = 10 * S;
	assert_int_equal(decide_at("early", now, NULL).expected_ms, utc("2027-01-15T11:00:00Z"));
	cfg.early_window_ms = 60 * S;
}

static void test_cron_never_pinged(void **st)
{
	(void)st;
	add_cron("minutely", "* * * * *", "UTC", 30, utc("2027-01-15T10:00:30Z"));
	sched_decision d = decide_at("minutely", utc("2027-01-15T10:00:59Z"), NULL);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, utc("2027-01-15T10:01:00Z"));
	d = decide_at("minutely", utc("2027-01-15T10:01:00Z"), NULL);
	assert_int_equal(d.to, REG_GRACE);
	d = decide_at("minutely", utc("2027-01-15T10:01:30Z") - 1, NULL);
	assert_int_equal(d.to, REG_GRACE);
	d = decide_at("minutely", utc("2027-01-15T10:01:30Z"), NULL);
	assert_int_equal(d.to, REG_DOWN);
	assert_string_equal(d.reason, "never_pinged");
}

/* DST in Europe/London: 2027-03-28 01:00 UTC the clocks go 01:00 -> 02:00;
 * 2027-10-31 01:00 UTC they go 02:00 -> 01:00. */
static void test_cron_dst_days(void **st)
{
	(void)st;
	/* spring: 01:30 local does not exist; Debian's cron runs the job at the
	 * jump (02:00 BST = 01:00 UTC), so that is when it is expected */
	add_cron("spring", "30 1 * * *", "Europe/London", 600, utc("2027-03-01T00:00:00Z"));
	ping("spring", REG_PING_SUCCESS, -1, utc("2027-03-27T01:30:05Z"));
	sched_decision d = decide_at("spring", utc("2027-03-28T00:59:59Z"), NULL);
	assert_int_equal(d.expected_ms, utc("2027-03-28T01:00:00Z"));
	assert_int_equal(d.next_deadline_ms, utc("2027-03-28T01:00:00Z"));
	d = decide_at("spring", utc("2027-03-28T01:10:00Z"), NULL);
	assert_int_equal(d.to, REG_DOWN);
	ping("spring", REG_PING_SUCCESS, -1, utc("2027-03-28T01:00:20Z"));
	d = decide_at("spring", utc("2027-03-28T01:10:00Z"), NULL);
	assert_false(d.change);
	assert_int_equal(d.expected_ms, utc("2027-03-29T00:30:00Z"));   /* 01:30 BST */

	/* autumn: 01:30 local happens twice; a fixed-time job runs once, so the
	 * second 01:30 must not be expected (no false alert) */
	add_cron("autumn", "30 1 * * *", "Europe/London", 600, utc("2027-10-01T00:00:00Z"));
	ping("autumn", REG_PING_SUCCESS, -1, utc("2027-10-31T00:30:10Z"));   /* 01:30 BST */
	d = decide_at("autumn", utc("2027-10-31T01:45:00Z"), NULL);           /* after 01:30 GMT + grace */
	assert_false(d.change);
	assert_int_equal(d.expected_ms, utc("2027-11-01T01:30:00Z"));
	/* a wildcard-hour job runs in both 01:xx hours: both are expected */
	add_cron("hourly", "0 * * * *", "Europe/London", 300, utc("2027-10-01T00:00:00Z"));
	ping("hourly", REG_PING_SUCCESS, -1, utc("2027-10-31T00:00:10Z"));   /* 01:00 BST */
	assert_int_equal(decide_at("hourly", utc("2027-10-31T00:30:00Z"), NULL).expected_ms, utc("2027-10-31T01:00:00Z"));
}

static void test_bad_schedule_retries_later(void **st)
{
	(void)st;
	reg_check c;
	reg_check_init(&c);
	snprintf(c.slug, sizeof c.slug, "bad");
	snprintf(c.schedule, sizeof c.schedule, "61 * * * *");
	c.created_ms = T0;
	sched_decision d;
	assert_int_equal(sched_decide(&c, T0 + 5 * S, NULL, &cfg, &d), -1);
	assert_false(d.change);
	assert_int_equal(d.next_deadline_ms, T0 + 65 * S);
	snprintf(c.schedule, sizeof c.schedule, "0 * * * *");
	snprintf(c.tz, sizeof c.tz, "Mars/Olympus");
	assert_int_equal(sched_decide(&c, T0 + 5 * S, NULL, &cfg, &d), -1);
	/* in the database: the bad row is pushed a minute on, the good one still runs */
	add_cron("badrow", "0 * * * *", "Mars/Olympus", 60, T0);
	add("goodrow", 60, 0, 0, T0);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 1 * S, 1000, &o), REG_OK);
	assert_int_equal(get("badrow").next_deadline_ms, T0 + 61 * S);
	assert_int_equal(sched_tick(s, T0 + 60 * S, 60000, &o), REG_OK);
	assert_int_equal(get("goodrow").status, REG_DOWN);
	sched_free(s);
}

/* A ping the server acknowledged but has not written into the check's row
 * yet (deferred recording, as the server's committer does) counts: the
 * scheduler, reaching the deadline planned before that ping, neither marks
 * the check late nor down; it folds the ping in and plans from it.  A ping
 * that changes no status does not reset the deadline (migration 6). */
static void test_pinged_check_never_flipped(void **st)
{
	(void)st;
	add("p", 60, 10, 0, T0);
	add("q", 60, 10, 0, T0);
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	ping("p", REG_PING_SUCCESS, -1, T0 + 1 * S);	/* new -> up */
	ping("q", REG_PING_SUCCESS, -1, T0 + 1 * S);
	assert_int_equal(sched_tick(s, T0 + 2 * S, 2000, &o), REG_OK);
	assert_int_equal(get("p").next_deadline_ms, T0 + 61 * S);

	/* the server's connection: pings are one INSERT each */
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/v.db", dir);
	reg_db *srv;
	assert_int_equal(reg_open(path, &srv, err, sizeof err), REG_OK);
	reg_ping_defer(srv, 1);
	for (int i = 0; i < 3; i++) {
		reg_ping_in in = { .slug = "p", .kind = REG_PING_SUCCESS, .exit_status = -1, .now_ms = T0 + (50 + i) * S };
		reg_ping_out out;
		assert_int_equal(reg_begin(srv), REG_OK);
		assert_int_equal(reg_ping_record(srv, &in, &out), REG_OK);
		assert_int_equal(reg_commit(srv), REG_OK);
		assert_int_equal(out.new_status, REG_UP);
	}
	/* the row on disk still has the old times and the old deadline ... */
	assert_int_equal(count("SELECT last_success_ms FROM checks WHERE slug='p'"), T0 + 1 * S);
	assert_int_equal(count("SELECT next_deadline_ms FROM checks WHERE slug='p'"), T0 + 61 * S);
	/* ... what the registry reports does not */
	assert_int_equal(get("p").last_success_ms, T0 + 52 * S);
	assert_int_equal(get("p").n_pings, 4);

	/* past the old deadline and past its grace: p was pinged, q was not */
	assert_int_equal(sched_tick(s, T0 + 61 * S, 61000, &o), REG_OK);
	assert_int_equal(get("p").status, REG_UP);
	assert_int_equal(get("q").status, REG_GRACE);
	assert_int_equal(sched_tick(s, T0 + 72 * S, 72000, &o), REG_OK);
	assert_int_equal(get("p").status, REG_UP);
	assert_int_equal(get("q").status, REG_DOWN);
	assert_int_equal(count("SELECT count(*) FROM flips f JOIN checks c ON c.id=f.check_id WHERE c.slug='p' AND f.new_status IN (2,3)"), 0);
	/* planned from the newest ping, which is now in the row */
	assert_int_equal(get("p").next_deadline_ms, T0 + 112 * S);
	assert_int_equal(count("SELECT last_success_ms FROM checks WHERE slug='p'"), T0 + 52 * S);
	assert_int_equal(count("SELECT n_pings FROM checks WHERE slug='p'"), 4);
	reg_close(srv);
	sched_free(s);
}

/* A large backlog of deferred pings (the server under heavy traffic) is
 * folded before judging, in short transactions of its own, with the rows
 * read either all at once (backlog >= 2048 pings) or only those of the
 * checks pinged (a shorter one).  Whatever the path: every ping is counted
 * once, the newest wins, nobody pinged is flipped, and a fold job the
 * server prepared before the scheduler ran writes nothing twice. */
static void fold_backlog(int nchecks, int npings)
{
	char slug[32];
	for (int i = 0; i < nchecks; i++) {
		snprintf(slug, sizeof slug, "c%d", i);
		add(slug, 60, 10, 0, T0);
		ping(slug, REG_PING_SUCCESS, -1, T0 + 1 * S);	/* new -> up */
	}
	sched *s = sched_new(db, &cfg);
	sched_tick_out o;
	assert_int_equal(sched_tick(s, T0 + 2 * S, 2000, &o), REG_OK);

	char path[128], err[256];
	snprintf(path, sizeof path, "%s/v.db", dir);
	reg_db *srv;
	assert_int_equal(reg_open(path, &srv, err, sizeof err), REG_OK);
	reg_ping_defer(srv, 1);
	assert_int_equal(reg_begin(srv), REG_OK);
	for (int i = 0; i < npings; i++) {
		snprintf(slug, sizeof slug, "c%d", i % nchecks);
		reg_ping_in in = { .slug = slug, .kind = REG_PING_SUCCESS, .exit_status = -1, .now_ms = T0 + 50 * S + i };
		reg_ping_out out;
		assert_int_equal(reg_ping_record(srv, &in, &out), REG_OK);
	}
	assert_int_equal(reg_commit(srv), REG_OK);
	assert_int_equal(reg_ping_unfolded(db), npings);
	/* the server's own fold job, read now, written after the scheduler ran */
	int rc;
	reg_fold_job *job = reg_fold_prepare(srv, &rc);
	assert_int_equal(rc, REG_OK);
	assert_non_null(job);

	/* past every old deadline (T0 + 61 s) and its grace */
	assert_int_equal(sched_tick(s, T0 + 72 * S, 72000, &o), REG_OK);
	assert_int_equal(reg_ping_unfolded(db), 0);
	assert_int_equal(count("SELECT count(*) FROM checks WHERE status <> 1"), 0);
	assert_int_equal(count("SELECT count(*) FROM flips WHERE new_status IN (2,3)"), 0);
	assert_int_equal(reg_begin(srv), REG_OK);
	assert_true(reg_fold_step(srv, job, 100000) >= 0);
	assert_int_equal(reg_commit(srv), REG_OK);
	reg_fold_free(job);
	/* raw rows: each check holds its own pings exactly once, the newest last */
	int per = npings / nchecks;
	assert_int_equal(count("SELECT sum(n_pings) FROM checks"), nchecks + npings);
	assert_int_equal(count("SELECT min(n_pings) FROM checks"), 1 + per);
	snprintf(slug, sizeof slug, "c%d", (npings - 1) % nchecks);
	assert_int_equal(get(slug).last_success_ms, T0 + 50 * S + npings - 1);
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT last_success_ms FROM checks WHERE slug='%s'", slug);
	assert_int_equal(count(sql), T0 + 50 * S + npings - 1);
	assert_int_equal(count("SELECT count(*) FROM checks c WHERE c.last_ping_id <> (SELECT max(id) FROM pings p WHERE p.check_id = c.id)"), 0);
	reg_close(srv);
	sched_free(s);
}

static void test_backlog_folded_rows_one_by_one(void **st) { (void)st; fold_backlog(300, 1500); }
static void test_backlog_folded_all_rows(void **st) { (void)st; fold_backlog(300, 3000); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_grace_down_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_pinged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_runtime_vs_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_and_remaining_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_and_down_have_no_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_marks_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_in_future_is_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_flips_and_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_wakeup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backward_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_running_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paused_never_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_checks_tick_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cron_early_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cron_never_pinged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cron_dst_days, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_schedule_retries_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pinged_check_never_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_folded_rows_one_by_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_folded_all_rows, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
