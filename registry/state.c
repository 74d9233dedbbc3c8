/* registry/state.c — how pings move a check between states.
 *
 *                 success                      start
 *     ┌──────┐ ───────────▶ ┌──────┐ ◀──────────────────── (any but paused)
 *     │ new  │              │  up  │ ─────────▶ ┌─────────┐
 *     └──────┘              └──────┘   start    │ started │
 *        │  ▲                  ▲  │             └─────────┘
 *        │  │   success        │  │ deadline+0     │  no finish within
 *        │  └─(first ping)─────┘  ▼ (scheduler)    │  max_runtime (scheduler)
 *        │                     ┌───────┐ grace end │
 *        │                     │ grace │ ──────────┼─────▶ ┌──────┐
 *        │                     └───────┘           └─────▶ │ down │
 *        └──── fail / exit≠0 / first run missed ─────────▶ └──────┘
 *   success from down / unknown / grace / started → up   (down → up: recovery alert)
 *   start while down stays down (only a success recovers)
 *   fail or exit≠0 from anywhere → down at once            (alert unless already down)
 *
 * Transitions and who performs them:
 *   ping-driven (this file, applied by reg_ping_record in the ping's transaction):
 *     * → up (success, exit 0), * → started (start), * → down (fail, exit≠0)
 *   time-driven (supervisor/sched.c: sched_decide() decides, sched_tick()
 *   applies with reg_check_transition in a BEGIN IMMEDIATE that re-reads the
 *   row; E = the expected run not covered by the last success/start ping,
 *   G = grace, M = max runtime):
 *     up/new/unknown/started(M=0) → grace   at E              no alert, reason late
 *     grace (or any of those, woken late) → down   at E+G     alert, reason late,
 *                                          or never_pinged when no ping of any kind is on record
 *     started(M>0) → down                   at last start + M   alert, reason hung
 *     any of the above → unknown            when E+G (or start+M) fell inside a gap
 *                                           (vigil not running, late wake-up, forward
 *                                           jump): reason gap, one digest line per message
 *     unknown → (as up, judged from the next slot after the mark)
 *     down, paused: no deadline.  Mute: tracked as usual; the sender holds the
 *     alerts (held) and, when the mute ends, sends the newest if still down.
 *
 * Every change is a conditional UPDATE ... WHERE status=FROM; the flip row is
 * written only when the row changed.  paused is a flag, not a status: a paused
 * check keeps its status, and none of its flips alerts. */
#include "registry/reg_internal.h"

reg_state_step reg_state_on_ping(reg_status from, reg_ping_kind kind, int exit_status)
{
	reg_state_step s = { .to = from };
	if (kind == REG_PING_EXIT && exit_status == 0) kind = REG_PING_SUCCESS;
	switch (kind) {
	case REG_PING_SUCCESS:
		s.to = REG_UP;
		if (from == REG_DOWN) { s.reason = "recovered"; s.alert = 1; }
		else if (from == REG_NEW) s.reason = "first_ping";
		else s.reason = "success";
		/* started → up and up → up are routine, not flips */
		s.flip = from != REG_UP && from != REG_STARTED;
		break;
	case REG_PING_START:
		/* A start is not a recovery: a down check stays down until a
		 * success, so that the success can carry the recovery notice. */
		s.to = from == REG_DOWN ? REG_DOWN : REG_STARTED;
		s.reason = "start";
		s.flip = from == REG_GRACE || from == REG_UNKNOWN || from == REG_NEW;
		break;
	case REG_PING_FAIL:
	case REG_PING_EXIT:
		s.to = REG_DOWN;
		s.reason = kind == REG_PING_FAIL ? "fail" : "exit";
		s.flip = from != REG_DOWN;
		s.alert = s.flip;
		break;
	case REG_PING_LOG:
	default:
		break;
	}
	s.change = s.to != from;
	if (!s.change) s.flip = s.alert = 0;
	return s;
}
