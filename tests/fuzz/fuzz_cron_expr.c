/* libFuzzer target: the schedule parser, then fire times in a few zones with
 * their invariants (next is after, prev is before, prev(next(t)+1) == next(t)). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crontab/crontab.h"

static const char *const zones[] = { "UTC", "America/New_York", "Australia/Lord_Howe", "Europe/London" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 512) return 0;
	char text[520];
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	cron_expr e;
	cron_error err;
	if (cron_expr_parse(text, &e, &err)) {
		if (err.col < 0 || err.col > (int)size + 1 || !err.msg[0]) abort();
		return 0;
	}
	const char *zone = zones[data[0] % 4];
	int64_t t = 1500000000 + (int64_t)(data[0]) * 7919 * 60, r, p;
	for (int i = 0; i < 4; i++) {
		int rc = cron_next(&e, zone, t, &r);
		if (rc == CRON_NEVER) break;
		if (rc != CRON_OK || r <= t) abort();
		if (cron_prev(&e, zone, r + 1, &p) != CRON_OK || p != r) abort();
		t = r;
	}
	return 0;
}
