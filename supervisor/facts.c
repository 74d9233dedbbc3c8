/* supervisor/facts.c — alert facts (validator/validator.h's val_facts) from
 * what the registry and the outbox know, for the summarizer and for
 * `vigil status --facts`.  Strings are borrowed from the checks and items. */
#include "supervisor/facts.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long secs_or_none(int64_t ms) { return ms > 0 ? (long long)(ms / 1000) : VAL_NO_TIME; }

static void fill(val_fact_check *fc, const reg_check *c, val_fact_state st, val_fact_reason rs,
                 int64_t since_ms, const char *output, int64_t now_ms)
{
	memset(fc, 0, sizeof *fc);
	fc->slug = c->slug;
	fc->name = c->name[0] ? c->name : NULL;
	fc->state = st;
	fc->reason = rs;
	fc->since = secs_or_none(since_ms);
	fc->expected_at = secs_or_none(c->expected_ms);
	fc->last_start = secs_or_none(c->last_start_ms);
	fc->last_success = secs_or_none(c->last_success_ms);
	fc->last_fail = secs_or_none(c->last_fail_ms);
	fc->grace_s = c->grace_s;
	fc->exit_status = c->last_exit >= 0 && c->last_exit <= 255 ? c->last_exit : -1;
	fc->duration_s = c->last_duration_ms >= 0 ? (double)c->last_duration_ms / 1000.0 : -1;
	fc->output_tail = output;
	fc->crontab_line = c->crontab_line[0] ? c->crontab_line : NULL;
	fc->muted = c->mute_indefinite || c->mute_until_ms > now_ms;
}

static val_fact_reason reason_of(const char *r)
{
	if (!strcmp(r, "late")) return VAL_FACT_LATE;
	if (!strcmp(r, "fail")) return VAL_FACT_FAIL;
	if (!strcmp(r, "exit")) return VAL_FACT_EXIT;
	if (!strcmp(r, "hung")) return VAL_FACT_HUNG;
	if (!strcmp(r, "never_pinged")) return VAL_FACT_NEVER_PINGED;
	if (!strcmp(r, "recovered")) return VAL_FACT_RECOVERED;
	return VAL_FACT_REASON_NONE;
}

static const char *host_name(void)
{
	static char host[256];
	if (!host[0] && gethostname(host, sizeof host - 1)) strcpy(host, "localhost");
	return host;
}

int facts_from_alerts(const alert_item *items, size_t n, int64_t now_ms, val_facts *f)
{
	memset(f, 0, sizeof *f);
	f->generated_at = now_ms / 1000;
	f->host = host_name();
	f->checks = calloc(n ? n : 1, sizeof *f->checks);
	if (!f->checks) return -1;
	for (size_t i = 0; i < n; i++) {
		const alert_item *it = &items[i];
		val_fact_state st = VAL_FACT_DOWN;
		val_fact_reason rs = reason_of(it->reason);
		switch (it->new_status) {
		case REG_UP: st = VAL_FACT_UP; rs = VAL_FACT_RECOVERED; break;
		case REG_GRACE: st = VAL_FACT_GRACE; if (rs == VAL_FACT_REASON_NONE) rs = VAL_FACT_LATE; break;
		case REG_UNKNOWN: st = VAL_FACT_UNKNOWN; rs = VAL_FACT_REASON_NONE; break;
		default: st = VAL_FACT_DOWN; if (rs == VAL_FACT_REASON_NONE) rs = VAL_FACT_LATE; break;
		}
		fill(&f->checks[f->n_checks++], &it->check, st, rs, it->flip_ms, it->output, now_ms);
	}
	return 0;
}

int facts_from_checks(const reg_check *cs, size_t n, int64_t now_ms, val_facts *f)
{
	memset(f, 0, sizeof *f);
	f->generated_at = now_ms / 1000;
	f->host = host_name();
	f->checks = calloc(n ? n : 1, sizeof *f->checks);
	if (!f->checks) return -1;
	for (size_t i = 0; i < n; i++) {
		const reg_check *c = &cs[i];
		if (c->paused) continue;
		val_fact_state st;
		val_fact_reason rs;
		switch (c->status) {
		case REG_DOWN:
			st = VAL_FACT_DOWN;
			if (c->last_ping_ms == 0) rs = VAL_FACT_NEVER_PINGED;
			else if (c->last_fail_ms > c->last_success_ms && c->last_fail_ms >= c->last_start_ms)
				rs = c->last_exit > 0 ? VAL_FACT_EXIT : VAL_FACT_FAIL;
			else if (c->last_start_ms > c->last_success_ms && c->max_runtime_s > 0) rs = VAL_FACT_HUNG;
			else rs = VAL_FACT_LATE;
			break;
		case REG_GRACE: st = VAL_FACT_GRACE; rs = VAL_FACT_LATE; break;
		case REG_UNKNOWN: st = VAL_FACT_UNKNOWN; rs = VAL_FACT_REASON_NONE; break;
		default: continue;	/* new, up, started: nothing to report */
		}
		fill(&f->checks[f->n_checks++], c, st, rs, c->status_since_ms, NULL, now_ms);
	}
	return 0;
}

void facts_release(val_facts *f)
{
	free(f->checks);
	f->checks = NULL;
	f->n_checks = 0;
}
