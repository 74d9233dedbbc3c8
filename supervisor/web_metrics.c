/* supervisor/web_metrics.c — /metrics in the Prometheus text format (0.0.4),
 * and the process counters the server feeds (atomics: pings are counted on
 * the committer thread, latencies on the HTTP thread).
 *
 * Per check (label check="<slug>"):
 *   vigil_check_up                          1 when up, started or in grace; else 0
 *   vigil_check_state{state}                1 for the shown state, 0 for the others
 *   vigil_check_last_ping_timestamp_seconds absent when never pinged
 *   vigil_check_last_duration_seconds       absent when no run was timed
 * Totals: vigil_pings_total{kind}, vigil_orphan_pings_total (since start),
 *   vigil_alerts_total{result} and vigil_outbox_pending (from the outbox),
 *   vigil_http_request_duration_seconds (histogram), vigil_summaries_total. */
#include "supervisor/web_internal.h"

#include "supervisor/ops.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t pings_by_kind[REG_PING_KIND_COUNT];
static atomic_uint_fast64_t orphan_pings;

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])
static atomic_uint_fast64_t lat_bucket[NBUCKETS];   /* not cumulative; summed when written */
static atomic_uint_fast64_t lat_count;
static atomic_uint_fast64_t lat_sum_ns;

void web_count_ping(int kind, int found)
{
	if (!found) { atomic_fetch_add_explicit(&orphan_pings, 1, memory_order_relaxed); return; }
	if (kind >= 0 && kind < REG_PING_KIND_COUNT)
		atomic_fetch_add_explicit(&pings_by_kind[kind], 1, memory_order_relaxed);
}

void web_observe_latency(double seconds)
{
	if (!(seconds >= 0)) seconds = 0;
	for (size_t i = 0; i < NBUCKETS; i++)
		if (seconds <= bucket_le[i]) { atomic_fetch_add_explicit(&lat_bucket[i], 1, memory_order_relaxed); break; }
	atomic_fetch_add_explicit(&lat_sum_ns, (uint_fast64_t)(seconds * 1e9), memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_count, 1, memory_order_relaxed);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(web_buf *b, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\') wb_puts(b, "\\\\");
		else if (*p == '"') wb_puts(b, "\\\"");
		else if (*p == '\n') wb_puts(b, "\\n");
		else wb_put(b, p, 1);
	}
}

static void family(web_buf *b, const char *name, const char *type, const char *help)
{
	wb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void check_sample(web_buf *b, const char *name, const reg_check *c, const char *extra_k, const char *extra_v,
                         const char *value)
{
	wb_printf(b, "%s{check=\"", name);
	label(b, c->slug);
	wb_puts(b, "\"");
	if (extra_k) { wb_printf(b, ",%s=\"", extra_k); label(b, extra_v); wb_puts(b, "\""); }
	wb_printf(b, "} %s\n", value);
}

int web_metrics(const web_req *r, web_resp *resp)
{
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		web_header(resp, "Allow", "GET, HEAD");
		web_send_text(resp, 405, "method not allowed\n");
		return 1;
	}
	if (!r->loopback && !web_auth_page(r)) {
		web_header(resp, "WWW-Authenticate", "Bearer realm=\"vigil\"");
		web_send_text(resp, 401, "an API key is required (bearer, or basic auth with the key as password)\n");
		return 1;
	}
	reg_check *cs = NULL;
	size_t n = 0;
	if (reg_check_list(r->db, &cs, &n)) {
		web_send_text(resp, 503, "database unavailable\n");
		return 1;
	}
	web_outbox ob;
	int ob_ok = web_outbox_counts(r->db, ops_now_ms(), &ob) == REG_OK;
	web_buf b = {0};
	char v[64];

	family(&b, "vigil_check_up", "gauge", "1 when the check is up, started or in grace, 0 otherwise.");
	for (size_t i = 0; i < n; i++) {
		int up = !cs[i].paused && (cs[i].status == REG_UP || cs[i].status == REG_STARTED || cs[i].status == REG_GRACE);
		check_sample(&b, "vigil_check_up", &cs[i], NULL, NULL, up ? "1" : "0");
	}
	family(&b, "vigil_check_state", "gauge", "1 for the check's current state (paused overrides the status).");
	static const char *const states[] = {"new", "up", "grace", "down", "started", "paused", "unknown"};
	for (size_t i = 0; i < n; i++) {
		const char *cur = ops_state_name(&cs[i]);
		for (size_t k = 0; k < sizeof states / sizeof states[0]; k++)
			check_sample(&b, "vigil_check_state", &cs[i], "state", states[k], strcmp(cur, states[k]) ? "0" : "1");
	}
	family(&b, "vigil_check_last_ping_timestamp_seconds", "gauge", "Unix time of the check's last ping.");
	for (size_t i = 0; i < n; i++) {
		if (!cs[i].last_ping_ms) continue;
		snprintf(v, sizeof v, "%.3f", (double)cs[i].last_ping_ms / 1000);
		check_sample(&b, "vigil_check_last_ping_timestamp_seconds", &cs[i], NULL, NULL, v);
	}
	family(&b, "vigil_check_last_duration_seconds", "gauge", "Duration of the check's last timed run (start to finish).");
	for (size_t i = 0; i < n; i++) {
		if (cs[i].last_duration_ms < 0) continue;
		snprintf(v, sizeof v, "%.3f", (double)cs[i].last_duration_ms / 1000);
		check_sample(&b, "vigil_check_last_duration_seconds", &cs[i], NULL, NULL, v);
	}
	free(cs);

	family(&b, "vigil_pings_total", "counter", "Pings recorded since vigil started, by kind.");
	for (int k = 0; k < REG_PING_KIND_COUNT; k++)
		wb_printf(&b, "vigil_pings_total{kind=\"%s\"} %llu\n", reg_ping_kind_name((reg_ping_kind)k),
		          (unsigned long long)atomic_load_explicit(&pings_by_kind[k], memory_order_relaxed));
	family(&b, "vigil_orphan_pings_total", "counter", "Pings for unknown slugs (or not recorded) since vigil started.");
	wb_printf(&b, "vigil_orphan_pings_total %llu\n",
	          (unsigned long long)atomic_load_explicit(&orphan_pings, memory_order_relaxed));

	if (ob_ok) {
		family(&b, "vigil_alerts_total", "counter", "Alerts in the outbox that reached a final result.");
		wb_printf(&b, "vigil_alerts_total{result=\"sent\"} %lld\n", (long long)ob.sent);
		wb_printf(&b, "vigil_alerts_total{result=\"failed\"} %lld\n", (long long)ob.failed);
		family(&b, "vigil_outbox_pending", "gauge", "Alerts waiting to be delivered (pending or being sent).");
		wb_printf(&b, "vigil_outbox_pending %lld\n", (long long)(ob.pending + ob.sending));
		family(&b, "vigil_outbox_stuck", "gauge", "Undelivered alerts already retried or queued for over 5 minutes.");
		wb_printf(&b, "vigil_outbox_stuck %lld\n", (long long)ob.stuck);
		family(&b, "vigil_outbox_held", "gauge", "Alerts held back (muted or paused checks).");
		wb_printf(&b, "vigil_outbox_held %lld\n", (long long)ob.held);
	}

	int64_t acc, rej;
	family(&b, "vigil_summaries_total", "counter",
	       "Model summary candidates by verifier result (no samples without a model).");
	if (web_summarizer_counts(&acc, &rej) == 0) {
		wb_printf(&b, "vigil_summaries_total{result=\"accepted\"} %lld\n", (long long)acc);
		wb_printf(&b, "vigil_summaries_total{result=\"rejected\"} %lld\n", (long long)rej);
	}

	family(&b, "vigil_http_request_duration_seconds", "histogram", "Time to answer HTTP requests (pings include the commit).");
	uint64_t cum = 0;
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += atomic_load_explicit(&lat_bucket[i], memory_order_relaxed);
		wb_printf(&b, "vigil_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i], (unsigned long long)cum);
	}
	/* count is read after the buckets and never less than their sum */
	uint64_t count = atomic_load_explicit(&lat_count, memory_order_relaxed);
	if (count < cum) count = cum;
	wb_printf(&b, "vigil_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)count);
	wb_printf(&b, "vigil_http_request_duration_seconds_sum %.9f\n",
	          (double)atomic_load_explicit(&lat_sum_ns, memory_order_relaxed) / 1e9);
	wb_printf(&b, "vigil_http_request_duration_seconds_count %llu\n", (unsigned long long)count);
	web_send(resp, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
	return 1;
}
