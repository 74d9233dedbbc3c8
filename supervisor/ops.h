/* supervisor/ops.h — one implementation of each check operation, shared by
 * the CLI (`vigil check ...`) and the JSON API.  Each returns REG_OK or a
 * REG_E* code with a message for the operator in err. */
#ifndef VIGIL_OPS_H
#define VIGIL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"
#include "supervisor/config.h"

/* Validates c's fields (slug, schedule, zone, durations) and inserts it, or,
 * with upsert, updates the existing check of that slug. */
int ops_check_save(reg_db *db, reg_check *c, int upsert, int64_t now_ms, char *err, size_t errlen);
/* 0 when EXPR is a valid schedule; else -1 and a message. */
int ops_schedule_valid(const char *expr, char *err, size_t errlen);
/* 1 when ZONE names a zone of the system tz database. */
int ops_zone_valid(const char *zone);
int ops_check_pause(reg_db *db, const char *slug, int paused, int64_t now_ms, char *err, size_t errlen);
/* A mute needs a reason, and an end no further than the policy maximum
 * (cfg `mute_max`, default 14d) unless indefinite. */
int ops_check_mute(reg_db *db, const vigil_config *cfg, const char *slug, int64_t until_ms, int indefinite,
                   const char *reason, int64_t now_ms, char *err, size_t errlen);
int ops_check_unmute(reg_db *db, const char *slug, char *err, size_t errlen);
int ops_check_rm(reg_db *db, const char *slug, char *err, size_t errlen);
/* The next time a run is expected after `after_ms` (0 when unknown). */
int64_t ops_next_expected(const reg_check *c, int64_t after_ms);
/* The state shown to operators: "paused" for a paused check, else status. */
const char *ops_state_name(const reg_check *c);
/* "4m ago", "2h ago", "never" into buf. */
const char *ops_ago(int64_t then_ms, int64_t now_ms, char *buf, size_t n);
/* RFC 3339 UTC ("2026-03-08T07:00:00Z") into buf; "" for 0. */
const char *ops_rfc3339(int64_t ms, char *buf, size_t n);
/* Parses RFC 3339 ("2026-03-08T07:00:00Z", "...+01:00"); -1 on error. */
int ops_parse_time(const char *s, int64_t *ms);
int64_t ops_now_ms(void);

#endif
