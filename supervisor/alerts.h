/* supervisor/alerts.h — the deadline scheduler and the alert sender that run
 * inside `vigil serve` (issue 6).
 *
 * alerts_start() starts two worker threads, each with its own registry
 * connection: the scheduler (wakes at the earliest check deadline, moves
 * checks to grace/down/unknown via conditional updates, writes flips + outbox
 * rows in one transaction) and the sender (drains the outbox to Slack in
 * batches, retries, never loses or doubles an alert).  Nothing here runs on
 * the HTTP threads. */
#ifndef VIGIL_ALERTS_H
#define VIGIL_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "supervisor/config.h"

typedef struct vigil_alerts vigil_alerts;

typedef struct alerts_opts {
	const char *db_path;
	const vigil_config *cfg;   /* slack_webhook, upstream_ping_url, alert.batch_window, ... */
	const char *webhook;       /* overrides cfg / $VIGIL_SLACK_WEBHOOK when not NULL */
} alerts_opts;

/* Starts the threads.  *out is freed by alerts_stop().  Returns 0, or -1 with
 * the reason in err. */
int alerts_start(const alerts_opts *o, vigil_alerts **out, char *err, size_t errlen);
/* A ping was committed for CHECK_ID (its deadline may move; a flip may wait
 * in the outbox).  Cheap, callable from any thread. */
void alerts_notify(vigil_alerts *a, int64_t check_id);
/* Stops the threads and frees a.  NULL is fine. */
void alerts_stop(vigil_alerts *a);

/* ==== the parts below are used by `vigil alert`, `vigil status` and tests ==== */

#include "registry/registry.h"

/* ---- settings (alerts_cfg.c is in alerts.c) ------------------------------------
 * Config keys (durations: "90", "90s", "15m", "1h", or "500ms"):
 *   slack_webhook             (or $VIGIL_SLACK_WEBHOOK, or --slack-webhook)
 *   upstream_ping_url         pinged every alert.upstream_interval while healthy
 *   alert.batch_window        10s   flips arriving within it go out as one message
 *   alert.batch_max           200   alerts per message at most (the rest follow)
 *   alert.early_window        60s   a ping this early still counts for a cron slot
 *   alert.gap_threshold       60s   a wake-up this late, or a clock jump this big,
 *                                   is a gap: slots due inside it become `unknown`
 *   alert.retry_base          2s    first retry delay (doubles, with jitter)
 *   alert.retry_max           5m    longest retry delay
 *   alert.http_timeout        15s   whole-request timeout for the webhook
 *   alert.rescan_interval     2s    only where inotify is unavailable: how often to
 *                                   look for checks changed by other processes
 *                                   (otherwise a change of the database wakes the
 *                                   scheduler, which sleeps until its next deadline) */
typedef struct alerts_cfg {
	char webhook[2048];          /* "" none: alerts go to the log, stay pending */
	char upstream_url[2048];     /* "" none */
	int64_t batch_window_ms, early_window_ms, gap_threshold_ms;
	int64_t retry_base_ms, retry_max_ms, http_timeout_ms;
	int64_t upstream_interval_ms, rescan_ms;
	int batch_max;
} alerts_cfg;

/* Fills *out from cfg (may be NULL), $VIGIL_SLACK_WEBHOOK and webhook (wins
 * when not NULL).  Returns 0, or -1 with "key: what was expected" in err. */
int alerts_cfg_load(const vigil_config *cfg, const char *webhook, alerts_cfg *out,
                    char *err, size_t errlen);
/* "90", "90s", "2m", "500ms" -> milliseconds; -1 when malformed. */
int64_t alerts_parse_ms(const char *s);

/* ---- the scheduler (sched.c) ------------------------------------------------- */

/* A stretch of wall-clock time during which vigil was not watching (it was
 * not running, the host slept, the clock jumped forward).  Deadlines that
 * fell inside it are not judged: their checks go to `unknown`. */
typedef struct sched_gap { int64_t from_ms, to_ms; } sched_gap;

typedef struct sched_decision {
	int change;                 /* 1: move the check from its status to `to` */
	reg_status to;
	const char *reason;         /* flip reason: late, never_pinged, hung, gap */
	int alert;                  /* the flip goes to the outbox */
	int64_t next_deadline_ms;   /* when to evaluate it again; -1 never (until changed) */
	int64_t expected_ms;        /* the expected run the deadline is for; 0 none */
} sched_decision;

/* The time-driven state machine for one check at NOW: pure, no clock, no
 * database.  gap may be NULL.  Returns 0, or -1 when the check's schedule
 * cannot be evaluated (d->next_deadline_ms is then a retry time). */
int sched_decide(const reg_check *c, int64_t now_ms, const sched_gap *gap,
                 const alerts_cfg *cfg, sched_decision *d);
/* The first expected run of C that the last success/start ping (or, with
 * none, the check's creation or its `unknown` mark) does not cover; 0 when
 * the schedule never fires again, -1 when it cannot be evaluated. */
int64_t sched_expected(const reg_check *c, int64_t now_ms, const alerts_cfg *cfg);

typedef struct sched sched;
typedef struct sched_tick_out {
	int64_t next_wake_ms;       /* wall-clock time of the next deadline (or rescan) */
	int evaluated, flips, alerts;
	int gap;                    /* a gap was detected at this tick */
	int backward;               /* the clock went back since the last tick */
	int64_t max_alert_id;       /* newest outbox row (a change means: wake the sender) */
} sched_tick_out;
/* *out is freed with sched_free(); db stays the caller's. */
sched *sched_new(reg_db *db, const alerts_cfg *cfg);
void sched_free(sched *s);
/* One pass at wall-clock NOW and monotonic MONO (both ms): finds clock jumps,
 * evaluates every check whose deadline is due or that changed, writes flips
 * and outbox rows (one transaction per batch).  Returns 0 or a REG_E* code. */
int sched_tick(sched *s, int64_t now_ms, int64_t mono_ms, sched_tick_out *out);

/* ---- the outbox and the Slack sender (outbox.c, slack.c) ---------------------- */

typedef struct outbox outbox;
typedef struct outbox_step_out {
	int64_t next_wake_ms;       /* when there is work again; INT64_MAX none */
	int sent, retried, failed, held, released, logged;
	int http_status;            /* of the last POST, 0 none */
	int64_t held_total;         /* alerts held by mutes now (their mutes may be lifted elsewhere) */
} outbox_step_out;
/* *out is freed with outbox_free(); db stays the caller's.  stop (may be
 * NULL) aborts a request in flight when it becomes non-zero. */
outbox *outbox_new(reg_db *db, const alerts_cfg *cfg, const volatile int *stop);
void outbox_free(outbox *o);
/* Where the outbox reports what it did (one line, no newline, no secrets):
 * deliveries, retries, failures, and the full text of each alert when no
 * webhook is configured.  Without it nothing is reported. */
void outbox_set_log(outbox *o, void (*fn)(void *u, const char *line), void *u);
/* Does what is due at NOW: holds alerts of muted checks, releases them when
 * the mute ends, forms a batch once its window has passed, posts it, marks
 * it.  Returns 0 or a REG_E* code. */
int outbox_step(outbox *o, int64_t now_ms, outbox_step_out *out);

typedef struct alerts_outbox_stats {
	int64_t pending, sending, sent, failed, held, suppressed;
	int64_t oldest_pending_ms;
	char last_error[256];       /* of the newest failed or retried alert, "" none */
} alerts_outbox_stats;
/* For `vigil status`. */
int alerts_outbox_stats_get(reg_db *db, alerts_outbox_stats *st);
/* One line for `vigil status` ("alerts: 2 waiting to be sent, 1 failed
 * permanently (last error: HTTP 404: no_service)"); "" when every alert was
 * delivered.  Returns 0 or a REG_E* code. */
int alerts_status_text(reg_db *db, char *buf, size_t n);

/* One alert of a batch, with the facts the message shows. */
typedef struct alert_item {
	int64_t alert_id, flip_id, flip_ms;
	reg_status old_status, new_status;
	char reason[32];            /* the flip's: late, never_pinged, hung, gap, fail, exit, recovered */
	reg_check check;            /* the check as it is when the message is built */
	char *output;               /* last lines of the newest ping output (malloc'd), NULL none */
	int output_cut;             /* output had more lines or bytes than shown */
	int mute_ended;             /* held while muted, sent because still down after */
	char facts[768];            /* never pinged: what vigil knows (last crontab apply,
	                             * the script's ping call, similar orphan slugs); "" none */
} alert_item;
void alert_items_free(alert_item *items, size_t n);

/* The summary paragraph of a message, malloc'd; *kind says which summary it
 * is ("deterministic", or the model's once verified), shown in the footer.
 * Today the deterministic summary; the summarizer (local_llm) plugs in here
 * and only here (slack.c). */
char *alerts_summarize(const alert_item *items, size_t n, int64_t now_ms,
                       const char *const *registered, const char **kind);
char *alerts_summary_deterministic(const alert_item *items, size_t n);
/* Hands alert summaries to the summarizer's worker (NULL: deterministic
 * summaries from the facts).  Called by `vigil serve` before alerts_start. */
typedef struct summ_worker summ_worker;
void alerts_set_summarizer(summ_worker *w);
/* Model candidates accepted / rejected by the verifier since start; -1 when
 * no summarizer model is loaded (counts are then 0). */
int alerts_summary_counts(int64_t *accepted, int64_t *rejected);

/* Builds the Slack message: Block Kit blocks plus the plain `text` fallback.
 * Every string in SCRUB (NULL-terminated list, may be NULL) is replaced by
 * "[redacted]" wherever it would appear.  gap_from_ms is the start of the gap
 * the `unknown` flips come from (0 unknown).  Returns malloc'd JSON; *text
 * (when not NULL) receives the malloc'd plain text. */
char *slack_render(const alert_item *items, size_t n, const char *summary, const char *summary_kind,
                   const char *key,
                   int64_t gap_from_ms, const char *const *scrub, char **text);

/* One POST of a JSON body to URL.  *status is the HTTP status (0: no answer),
 * *retry_after_ms the Retry-After (-1 none).  err receives a message that
 * never contains the URL.  Returns 0 on 2xx, 1 transient (network, 5xx,
 * 429), 2 permanent (other status). */
int slack_post(const char *url, const char *json, const char *idem_key, int64_t timeout_ms,
               const volatile int *stop, long *status, int64_t *retry_after_ms,
               char *err, size_t errlen);

#endif
