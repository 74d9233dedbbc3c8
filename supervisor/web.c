/* supervisor/web.c — placeholder until the operator-surfaces issue (issue 9)
 * lands: answers only a minimal /metrics-free 404 for everything. */
#include "supervisor/web.h"

#include <stdio.h>
#include <string.h>

void web_header(web_resp *resp, const char *name, const char *value)
{
	if (resp->nheaders >= WEB_MAX_HEADERS) return;
	resp->headers[resp->nheaders].name = name;
	snprintf(resp->headers[resp->nheaders].value, sizeof resp->headers[0].value, "%s", value);
	resp->nheaders++;
}

int web_handle(const web_req *req, web_resp *resp)
{
	(void)req; (void)resp;
	return 0;
}

void web_count_ping(int kind, int found) { (void)kind; (void)found; }
void web_observe_latency(double seconds) { (void)seconds; }
