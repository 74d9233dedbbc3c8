/* supervisor/cli_serve.c — `vigil serve` and `vigil key`. */
#include "supervisor/cli.h"

#include "crontab/crontab.h"
#include "registry/registry.h"
#include "supervisor/alerts.h"
#include "supervisor/server.h"
#include "supervisor/summarizer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_serve(void)
{
	fprintf(stderr, "usage: vigil serve [--listen ADDR:PORT] [--slack-webhook URL] [--body-limit BYTES] [--port-file FILE]\n");
	return VIGIL_EXIT_USAGE;
}

int cli_serve(int argc, char **argv, vigil_global *g)
{
	const char *listen = cfg_get(g->cfg, "listen");
	const char *webhook = NULL, *port_file = NULL;
	const char *limit_s = cfg_get(g->cfg, "ping_body_limit");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--listen") && v) { listen = v; i++; }
		else if (!strcmp(a, "--slack-webhook") && v) { webhook = v; i++; }
		else if (!strcmp(a, "--body-limit") && v) { limit_s = v; i++; }
		else if (!strcmp(a, "--port-file") && v) { port_file = v; i++; }
		else { fprintf(stderr, "vigil serve: unknown or incomplete option \"%s\"\n", a); return usage_serve(); }
	}
	size_t limit = 100 * 1024;
	if (limit_s) {
		char *end;
		unsigned long long v = strtoull(limit_s, &end, 10);
		if (!*limit_s || *end || v < 1 || v > 64ULL * 1024 * 1024) {
			fprintf(stderr, "vigil serve: body limit \"%s\": expected 1 to 67108864 bytes\n", limit_s);
			return VIGIL_EXIT_USAGE;
		}
		limit = (size_t)v;
	}
	char err[512];
	if (server_check_listen(listen ? listen : "127.0.0.1:8321", err, sizeof err)) {
		fprintf(stderr, "vigil serve: %s\n", err);
		return VIGIL_EXIT_USAGE;
	}
	/* Signals are taken by sigwait() below; every thread inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	vigil_alerts *alerts = NULL;
	alerts_opts ao = { .db_path = g->db_path, .cfg = g->cfg, .webhook = webhook };
	/* open (and migrate) the database before any thread does */
	reg_db *db;
	if (reg_open(g->db_path, &db, err, sizeof err) != REG_OK) {
		fprintf(stderr, "vigil serve: %s\n", err);
		return VIGIL_EXIT_INTERNAL;
	}
	char key[80];
	int krc = reg_ping_key(db, key, sizeof key);
	if (krc) fprintf(stderr, "vigil serve: %s\n", reg_errmsg(db));
	reg_close(db);
	if (krc) return VIGIL_EXIT_INTERNAL;
	char rmsg[1024] = "";
	int rrc = cron_apply_recover(g->db_path, rmsg, sizeof rmsg);
	if (rrc > 0) fprintf(stderr, "vigil serve: %s\n", rmsg);
	else if (rrc < 0) fprintf(stderr, "vigil serve: interrupted crontab apply not recovered: %s\n", rmsg);
	/* The summarizer: the model is loaded once here; without one (or if it
	 * cannot be loaded) every alert carries the deterministic summary. */
	summ_opts sumo;
	if (summ_opts_from_config(&sumo, g->cfg, err, sizeof err)) {
		fprintf(stderr, "vigil serve: %s\n", err);
		return VIGIL_EXIT_USAGE;
	}
	summ_engine *engine = summ_open(&sumo, err, sizeof err);
	summ_worker *worker = NULL;
	if (!engine) fprintf(stderr, "vigil serve: summarizer: %s; alerts carry the deterministic summary\n", err);
	else if (summ_has_model(engine) && (worker = summ_worker_start(engine))) {
		const char *note, *be = summ_backend(engine, &note);
		printf("vigil: alert summaries by the local model %s (%s backend), checked against the facts\n",
		       sumo.model_path, be);
		if (note[0]) fprintf(stderr, "vigil serve: summarizer: %s\n", note);
	}
	alerts_set_summarizer(worker);
	if (alerts_start(&ao, &alerts, err, sizeof err)) {
		fprintf(stderr, "vigil serve: %s\n", err);
		alerts_set_summarizer(NULL);
		summ_worker_stop(worker);
		summ_close(engine);
		return VIGIL_EXIT_INTERNAL;
	}
	server_opts so = { .db_path = g->db_path, .listen = listen, .body_limit = limit, .cfg = g->cfg, .alerts = alerts };
	vigil_server *srv;
	if (server_start(&so, &srv, err, sizeof err)) {
		fprintf(stderr, "vigil serve: %s\n", err);
		alerts_stop(alerts);
		alerts_set_summarizer(NULL);
		summ_worker_stop(worker);
		summ_close(engine);
		return VIGIL_EXIT_USAGE;
	}
	int port = server_port(srv);
	const char *host = listen ? listen : "127.0.0.1:8321";
	char hostonly[64];
	snprintf(hostonly, sizeof hostonly, "%.*s", (int)(strrchr(host, ':') - host), host);
	printf("vigil: listening on %s:%d (database %s)\n", hostonly, port, g->db_path);
	printf("vigil: example: curl -fsS -m 10 --retry 3 http://%s:%d/ping/%s/SLUG\n", hostonly, port, key);
	if (!server_is_loopback(srv))
		printf("vigil: warning: listening on a non-loopback address: pings and the API are reachable from the network\n");
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (f) { fprintf(f, "%d\n", port); fclose(f); }
	}
	int sig = 0;
	sigwait(&set, &sig);
	printf("vigil: signal %d, shutting down\n", sig);
	fflush(stdout);
	server_stop(srv);
	alerts_stop(alerts);
	alerts_set_summarizer(NULL);
	summ_worker_stop(worker);
	summ_close(engine);
	return VIGIL_EXIT_OK;
}

int cli_key(int argc, char **argv, vigil_global *g)
{
	if (argc != 1) { fprintf(stderr, "usage: vigil key\n"); return VIGIL_EXIT_USAGE; }
	reg_db *db;
	char err[512];
	if (reg_open(g->db_path, &db, err, sizeof err) != REG_OK) {
		fprintf(stderr, "vigil key: %s\n", err);
		return VIGIL_EXIT_INTERNAL;
	}
	char key[80];
	int rc = reg_ping_key(db, key, sizeof key);
	if (rc) fprintf(stderr, "vigil key: %s\n", reg_errmsg(db));
	else printf("%s\n", key);
	reg_close(db);
	return rc ? VIGIL_EXIT_INTERNAL : VIGIL_EXIT_OK;
}
