/* cli_alert.c — `vigil alert test`: sends a test message through the same
 * renderer and HTTP path as real alerts (slack_render + slack_post). */
#include "supervisor/alerts.h"
#include "supervisor/cli.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: vigil alert test [--slack-webhook URL]\n");
	return VIGIL_EXIT_USAGE;
}

int cli_alert(int argc, char **argv, vigil_global *g)
{
	if (argc < 2 || strcmp(argv[1], "test")) return usage();
	const char *webhook = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--slack-webhook") && i + 1 < argc) webhook = argv[++i];
		else if (!strncmp(argv[i], "--slack-webhook=", 16)) webhook = argv[i] + 16;
		else { fprintf(stderr, "vigil alert test: unexpected argument \"%s\"\n", argv[i]); return usage(); }
	}
	alerts_cfg cfg;
	char err[512];
	if (alerts_cfg_load(g->cfg, webhook, &cfg, err, sizeof err)) {
		fprintf(stderr, "vigil alert test: %s\n", err);
		return VIGIL_EXIT_USAGE;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char key[40];
	snprintf(key, sizeof key, "test-%lld", (long long)ts.tv_sec);
	const char *summary = "This is a test message from vigil: alerts reach this channel.";
	const char *scrub[] = { cfg.webhook, NULL };
	char *text = NULL, *json = slack_render(NULL, 0, summary, NULL, key, 0, scrub, &text);
	if (!json) { fprintf(stderr, "vigil alert test: out of memory\n"); return VIGIL_EXIT_INTERNAL; }
	int rc;
	if (!cfg.webhook[0]) {
		printf("%s", text ? text : "");
		fprintf(stderr, "vigil alert test: no Slack webhook configured (slack_webhook in the config, "
		                "--slack-webhook, or $VIGIL_SLACK_WEBHOOK); the message above would be sent\n");
		rc = VIGIL_EXIT_FAIL;
	} else {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		long status = 0;
		int64_t ra;
		int r = slack_post(cfg.webhook, json, key, cfg.http_timeout_ms, NULL, &status, &ra, err, sizeof err);
		curl_global_cleanup();
		if (r == 0) { printf("test message %s delivered (HTTP %ld)\n", key, status); rc = VIGIL_EXIT_OK; }
		else {
			fprintf(stderr, "vigil alert test: not delivered: %s (%s)\n", err,
			        r == 1 ? "transient: the daemon would retry" : "permanent: check the webhook URL");
			rc = VIGIL_EXIT_FAIL;
		}
	}
	free(text);
	free(json);
	return rc;
}
