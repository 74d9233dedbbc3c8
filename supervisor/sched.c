/* supervisor/sched.c — the deadline scheduler: the time-driven half of the
 * check state machine (the picture is in registry/state.c).
 *
 * Where the deadlines live.  Every check's next evaluation time is the
 * indexed column checks.next_deadline_ms:
 *     > 0   evaluate at that wall-clock time
 *       0   "evaluate me now": set by a trigger (migration 4) whenever a field
 *           the deadline depends on changes — a ping's status change,
 *           `vigil check pause` or `mute` in another process, a registry
 *           import — found through the partial index checks_unscheduled
 *      -1   nothing to wait for (down, paused, a schedule that never fires)
 * A tick costs O(log n) per due check (index range scan) and one indexed,
 * empty lookup when nothing is due.  The scheduler keeps no per-check memory.
 * Its thread (alerts.c) sleeps until the earliest deadline, a ping, or a
 * change of the database file by any process (inotify); no polling, except
 * the 30 s sign of life below.
 *
 * Time.  Nothing here reads a clock: sched_tick() gets the wall-clock and the
 * monotonic time of the caller's one reading.  The kinds of clock trouble:
 *   - late wake-up: we asked to be woken at T and it is now T + d with the
 *     wall and monotonic clocks agreeing (the process was stopped, the machine
 *     overloaded).  d < gap_threshold: nothing special, due checks are judged
 *     normally (a few seconds late).  d >= gap_threshold: [T, now] is a gap.
 *   - forward jump: the wall clock advanced more than the monotonic clock by
 *     >= gap_threshold (clock set forward, or the host slept: CLOCK_MONOTONIC
 *     stops during suspend).  The skipped stretch is a gap.
 *   - backward jump: the wall clock advanced less than the monotonic clock by
 *     >= gap_threshold (clock set back).  No deadline can fire early because
 *     of it; every check is re-evaluated with its anchors clamped to now, so
 *     that a ping stamped "in the future" does not postpone its next deadline
 *     by the size of the jump.  Nothing alerts because of a backward jump.
 *   - vigil not running: at the first tick the last time the scheduler was
 *     alive (setting sched.alive_ms, written every ALIVE_EVERY_MS) to now is a
 *     gap when longer than gap_threshold.
 *   - DST: cron slots are computed in the check's zone by crontab/ (a skipped
 *     local hour fires once at the jump, a repeated one once); the scheduler
 *     itself works only in UTC milliseconds and sees no DST.
 * Gap rule: a check whose grace (or max runtime) ended inside a gap was not
 * watched when it mattered; it goes to `unknown` (reason "gap") instead of
 * `down`, and the sender folds all such flips into one digest line.  The next
 * slot after the gap is judged normally.
 *
 * A ping that changes no status leaves next_deadline_ms alone (migration 6):
 * it can only move the expected run later, so the deadline on record is at
 * worst early, and when it comes due the check is judged again from its
 * fresh row and simply re-planned.
 *
 * Every change is reg_check_transition() (UPDATE ... WHERE status=FROM) in a
 * BEGIN IMMEDIATE transaction that first folds the pings the server has not
 * written into the checks rows yet and then re-reads the row, so a ping
 * committed a moment earlier always wins.  A check that fails to evaluate is retried a
 * minute later instead of stopping the loop. */
#include "supervisor/alerts.h"
#include "crontab/crontab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#define BATCH 256
#define ALIVE_EVERY_MS 30000
#define RETRY_BAD_MS 60000

struct sched {
	reg_db *db;
	alerts_cfg cfg;
	int started;
	int64_t last_now, last_mono;
	int64_t planned_wake;      /* latest time the caller was asked to wake us */
	int64_t alive_written;
	sqlite3_stmt *q_unsched, *q_due, *q_min, *q_reset_all, *q_maxalert;
};

/* ---- expected runs ----------------------------------------------------------- */

/* Cron slots: the first fire time strictly after AFTER, and the last one at or
 * before it.  Returns 0, 1 when the schedule never fires again, -1 on error. */
static int cron_slots(const reg_check *c, int64_t after, int64_t *next, int64_t *prev)
{
	cron_expr e;
	cron_error err;
	if (cron_expr_parse(c->schedule, &e, &err)) return -1;
	const cron_zone *z = cron_zone_get(c->tz[0] ? c->tz : "UTC", &err);
	if (!z) return -1;
	/* fire times are whole minutes: second resolution loses nothing */
	int64_t a = after >= 0 ? after / 1000 : -((-after + 999) / 1000);
	int64_t n = 0, p = 0;
	int rc = cron_next_z(&e, z, a, &n);
	if (rc == CRON_NEVER) return 1;
	if (rc) return -1;
	rc = cron_prev_z(&e, z, a + 1, &p);   /* at or before `after` */
	if (rc == CRON_NEVER) p = 0;
	else if (rc) return -1;
	*next = n * 1000;
	*prev = p * 1000;
	return 0;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int64_t sched_expected(const reg_check *c, int64_t now, const alerts_cfg *cfg)
{
	int64_t p = max64(c->last_success_ms, c->last_start_ms);
	int64_t base = p ? p : c->created_ms;
	/* after `unknown`, the slots up to the mark are excused */
	if (c->status == REG_UNKNOWN) { base = max64(base, c->status_since_ms); p = 0; }
	/* backward jump: an anchor in the future is treated as now */
	if (base > now) base = now;
	if (p > now) p = now;
	if (c->period_s > 0) return base + c->period_s * 1000;

	int64_t next = 0, prev = 0;
	int rc = cron_slots(c, base, &next, &prev);
	if (rc) return rc > 0 ? 0 : -1;
	if (p) {
		/* A ping within early_window before a fire time counts for that slot
		 * when it is nearer to it than to the slot before: the job's clock
		 * may run a little ahead of ours. */
		int64_t ahead = next - p, behind = p - prev;
		if (ahead <= cfg->early_window_ms && (prev == 0 || ahead < behind)) {
			int64_t n2 = 0, p2 = 0;
			rc = cron_slots(c, next, &n2, &p2);
			if (rc) return rc > 0 ? 0 : -1;
			next = n2;
		}
	}
	return next;
}

static int in_gap(const sched_gap *g, int64_t t)
{
	return g && t > g->from_ms && t <= g->to_ms;
}

int sched_decide(const reg_check *c, int64_t now, const sched_gap *gap,
                 const alerts_cfg *cfg, sched_decision *d)
{
	memset(d, 0, sizeof *d);
	d->to = c->status;
	d->next_deadline_ms = -1;
	if (c->paused || c->status == REG_PAUSED || c->status == REG_DOWN)
		return 0;   /* down leaves only by a ping; mute ends are the sender's */

	if (c->status == REG_STARTED && c->max_runtime_s > 0 && c->last_start_ms > 0) {
		int64_t hung = c->last_start_ms + c->max_runtime_s * 1000;
		d->expected_ms = hung;
		if (now < hung) { d->next_deadline_ms = hung; return 0; }
		d->change = 1;
		if (in_gap(gap, hung)) { d->to = REG_UNKNOWN; d->reason = "gap"; d->alert = 1; }
		else { d->to = REG_DOWN; d->reason = "hung"; d->alert = 1; }
		goto after_change;
	}

	int64_t exp = sched_expected(c, now, cfg);
	if (exp < 0) { d->next_deadline_ms = now + RETRY_BAD_MS; return -1; }
	if (exp == 0) return 0;   /* never fires again */
	int64_t end = exp + c->grace_s * 1000;
	d->expected_ms = exp;
	if (now < exp) { d->next_deadline_ms = exp; return 0; }
	if (now < end) {
		d->next_deadline_ms = end;
		if (c->status != REG_GRACE) { d->change = 1; d->to = REG_GRACE; d->reason = "late"; }
		return 0;
	}
	d->change = 1;
	d->alert = 1;
	if (in_gap(gap, end)) { d->to = REG_UNKNOWN; d->reason = "gap"; }
	else { d->to = REG_DOWN; d->reason = c->last_ping_ms == 0 ? "never_pinged" : "late"; }

after_change:
	if (d->to == REG_UNKNOWN) {
		/* judged again from the next slot after the mark */
		reg_check u = *c;
		u.status = REG_UNKNOWN;
		u.status_since_ms = now;
		sched_decision d2;
		sched_decide(&u, now, NULL, cfg, &d2);
		d->next_deadline_ms = d2.next_deadline_ms;
		d->expected_ms = d2.expected_ms;
	}
	return 0;
}

/* ---- the tick -------------------------------------------------------------------- */

sched *sched_new(reg_db *db, const alerts_cfg *cfg)
{
	sched *s = calloc(1, sizeof *s);
	if (!s) return NULL;
	s->db = db;
	s->cfg = *cfg;
	sqlite3 *h = reg_sqlite(db);
	int bad = 0;
	bad |= sqlite3_prepare_v2(h, "SELECT id FROM checks WHERE next_deadline_ms = 0 AND paused = 0 LIMIT ?",
	                          -1, &s->q_unsched, NULL);
	bad |= sqlite3_prepare_v2(h, "SELECT id FROM checks WHERE next_deadline_ms > 0 AND next_deadline_ms <= ? "
	                             "ORDER BY next_deadline_ms LIMIT ?", -1, &s->q_due, NULL);
	bad |= sqlite3_prepare_v2(h, "SELECT min(next_deadline_ms) FROM checks WHERE next_deadline_ms > 0",
	                          -1, &s->q_min, NULL);
	bad |= sqlite3_prepare_v2(h, "UPDATE checks SET next_deadline_ms = 0 WHERE next_deadline_ms <> 0 AND paused = 0",
	                          -1, &s->q_reset_all, NULL);
	bad |= sqlite3_prepare_v2(h, "SELECT coalesce(max(id), 0) FROM alerts", -1, &s->q_maxalert, NULL);
	if (bad) { sched_free(s); return NULL; }
	return s;
}

void sched_free(sched *s)
{
	if (!s) return;
	sqlite3_finalize(s->q_unsched);
	sqlite3_finalize(s->q_due);
	sqlite3_finalize(s->q_min);
	sqlite3_finalize(s->q_reset_all);
	sqlite3_finalize(s->q_maxalert);
	free(s);
}

/* Evaluates check ID inside the caller's transaction. */
static int eval_one(sched *s, int64_t id, int64_t now, const sched_gap *gap, sched_tick_out *out)
{
	reg_check c;
	int rc = reg_check_get_id(s->db, id, &c);
	if (rc == REG_ENOTFOUND) return REG_OK;
	if (rc) return rc;
	sched_decision d;
	if (sched_decide(&c, now, gap, &s->cfg, &d) == 0 && d.change) {
		rc = reg_check_transition(s->db, c.id, c.status, d.to, d.reason, d.alert && !c.paused, now);
		if (rc == REG_ECONFLICT) { d.next_deadline_ms = 0; rc = REG_OK; }
		else if (rc) return rc;
		else { out->flips++; if (d.alert && !c.paused) out->alerts++; }
	}
	/* never leave a due row due: that would spin */
	if (d.next_deadline_ms >= 0 && d.next_deadline_ms <= now && d.next_deadline_ms != 0)
		d.next_deadline_ms = now + 1;
	if (d.next_deadline_ms == 0 && !d.change) d.next_deadline_ms = now + RETRY_BAD_MS;
	out->evaluated++;
	return reg_check_set_deadline(s->db, c.id, d.next_deadline_ms, d.expected_ms);
}

/* Pings not yet in their checks rows (the server records a ping as one
 * INSERT and folds the rows in later, reg_ping_defer) are folded in by every
 * transaction that judges checks.  Under heavy ping traffic that backlog is
 * tens of thousands of pings, and folding them all at once held the write
 * lock for ~35 ms while the server's committer waited (measured under the
 * ping benchmark: one BEGIN of 34-54 ms per scheduler pass).  So a large
 * backlog is first folded here, PREFOLD_ROWS checks rows per transaction,
 * from a job read without any lock; the judging transaction then folds only
 * what came in meanwhile.  Rows the server's own fold job got to first are
 * skipped (reg_fold_step writes a row only if it is still where the job
 * read it). */
#define PREFOLD_MIN 256
#define PREFOLD_PASSES 6
#define PREFOLD_ROWS 128
#define LOCK_BREAK_NS 300000      /* the write lock left free between batches */

static void lock_break(void)
{
	nanosleep(&(struct timespec){ 0, LOCK_BREAK_NS }, NULL);
}

static int prefold(sched *s)
{
	/* pings keep coming while a pass runs: a few passes, each on what the
	 * last one left, bring the backlog down to what one transaction folds
	 * quickly */
	for (int pass = 0; pass < PREFOLD_PASSES; pass++) {
		int64_t backlog = reg_ping_unfolded(s->db);
		if (backlog < PREFOLD_MIN) return REG_OK;	/* also on error: the judging transaction folds */
		int rc = REG_OK, done = 0;
		reg_fold_job *job = reg_fold_prepare(s->db, &rc);
		while (job && !done) {
			if ((rc = reg_begin(s->db))) break;
			int st = reg_fold_step(s->db, job, PREFOLD_ROWS);
			if (st < 0) { rc = st; reg_rollback(s->db); break; }
			if ((rc = reg_commit(s->db))) { reg_rollback(s->db); break; }
			done = st == 1;
			lock_break();
		}
		reg_fold_free(job);
		if (rc) return rc;
	}
	return REG_OK;
}

/* Runs the query Q (bound to now/limit) in batches until it finds nothing. */
static int drain(sched *s, sqlite3_stmt *q, int with_now, int64_t now, const sched_gap *gap,
                 sched_tick_out *out)
{
	for (int round = 0; round < 100000; round++) {
		int64_t ids[BATCH];
		int n = 0, rc;
		/* read outside any transaction: an idle tick takes no write lock;
		 * each row is re-read inside the transaction before it is judged */
		sqlite3_reset(q);
		if (with_now) { sqlite3_bind_int64(q, 1, now); sqlite3_bind_int(q, 2, BATCH); }
		else sqlite3_bind_int(q, 1, BATCH);
		while (n < BATCH && sqlite3_step(q) == SQLITE_ROW) ids[n++] = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
		if (n == 0) return REG_OK;
		if ((rc = prefold(s))) return rc;
		rc = reg_begin(s->db);
		if (rc) return rc;
		/* every acknowledged ping into its check's row before judging:
		 * the server writes the rows behind its pings (reg_ping_defer);
		 * the write lock keeps new ones out until this commits */
		if ((rc = reg_ping_fold(s->db))) { reg_rollback(s->db); return rc; }
		for (int i = 0; i < n; i++) {
			rc = eval_one(s, ids[i], now, gap, out);
			if (rc == REG_EBUSY || rc == REG_EIO) break;
			if (rc) {   /* one bad row must not stop the others */
				rc = reg_check_set_deadline(s->db, ids[i], now + RETRY_BAD_MS, 0);
				if (rc) break;
			}
		}
		if (rc) { reg_rollback(s->db); return rc; }
		rc = reg_commit(s->db);
		if (rc) { reg_rollback(s->db); return rc; }
		if (n < BATCH) return REG_OK;
		/* more to come: leave the write lock free for a moment, so that
		 * the server's committer (polling for it every 100 us) records
		 * its pings between two batches (SQLite's lock has no queue) */
		lock_break();
	}
	return REG_OK;
}

int sched_tick(sched *s, int64_t now, int64_t mono, sched_tick_out *out)
{
	memset(out, 0, sizeof *out);
	sched_gap gap = {0, 0};
	int have_gap = 0, rc;
	const int64_t thr = s->cfg.gap_threshold_ms;

	if (!s->started) {
		/* vigil not running: from the last sign of life to now */
		char buf[32];
		if (reg_setting_get(s->db, "sched.alive_ms", buf, sizeof buf) == REG_OK) {
			int64_t alive = strtoll(buf, NULL, 10);
			if (alive > 0 && now - alive >= thr) { gap.from_ms = alive; gap.to_ms = now; have_gap = 1; }
		}
	} else {
		int64_t dw = now - s->last_now, dm = mono - s->last_mono;
		if (dw - dm >= thr) {
			/* forward jump (or the host slept): the wall clock skipped
			 * from where it should be now to where it is */
			gap.from_ms = s->last_now + dm; gap.to_ms = now; have_gap = 1;
		} else if (dm - dw >= thr) {
			/* backward jump: re-evaluate everyone with clamped anchors */
			out->backward = 1;
			sqlite3_reset(s->q_reset_all);
			int src = sqlite3_step(s->q_reset_all);
			sqlite3_reset(s->q_reset_all);
			if (src != SQLITE_DONE) return REG_EIO;
		} else if (s->planned_wake > 0 && now - s->planned_wake >= thr) {
			/* late wake-up */
			gap.from_ms = s->planned_wake; gap.to_ms = now; have_gap = 1;
		}
	}
	s->started = 1;
	s->last_now = now;
	s->last_mono = mono;
	out->gap = have_gap;

	if (have_gap) {
		/* the sender's digest line says where the gap began */
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", (long long)gap.from_ms);
		rc = reg_setting_set(s->db, "sched.gap_from_ms", buf);
		if (rc) return rc;
	}
	rc = drain(s, s->q_unsched, 0, now, have_gap ? &gap : NULL, out);
	if (!rc) rc = drain(s, s->q_due, 1, now, have_gap ? &gap : NULL, out);
	if (rc) return rc;

	if (have_gap || now - s->alive_written >= ALIVE_EVERY_MS || now < s->alive_written) {
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", (long long)now);
		if (reg_setting_set(s->db, "sched.alive_ms", buf) == REG_OK) s->alive_written = now;
	}

	int64_t next = now + s->cfg.rescan_ms;
	sqlite3_reset(s->q_min);
	if (sqlite3_step(s->q_min) == SQLITE_ROW && sqlite3_column_type(s->q_min, 0) != SQLITE_NULL) {
		int64_t m = sqlite3_column_int64(s->q_min, 0);
		if (m < next) next = m;
	}
	sqlite3_reset(s->q_min);
	sqlite3_reset(s->q_maxalert);
	if (sqlite3_step(s->q_maxalert) == SQLITE_ROW) out->max_alert_id = sqlite3_column_int64(s->q_maxalert, 0);
	sqlite3_reset(s->q_maxalert);
	if (next <= now) next = now + 1;
	/* the alive mark must not go stale by more than its period */
	if (next > s->alive_written + ALIVE_EVERY_MS) next = max64(now + 1, s->alive_written + ALIVE_EVERY_MS);
	s->planned_wake = next;
	out->next_wake_ms = next;
	return REG_OK;
}
