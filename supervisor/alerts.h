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

#endif
