/* supervisor/duration.c — "90", "90s", "15m", "1h30m", "2d", "1w". */
#include "supervisor/cli.h"

#include <ctype.h>
#include <limits.h>

int vigil_parse_duration(const char *s, long long *secs, const char **why)
{
	if (!s || !*s) { *why = "empty duration"; return -1; }
	long long total = 0;
	const char *p = s;
	int parts = 0;
	while (*p) {
		if (!isdigit((unsigned char)*p)) { *why = "expected a number (e.g. 90s, 15m, 1h30m, 2d)"; return -1; }
		long long v = 0;
		while (isdigit((unsigned char)*p)) {
			if (v > (LLONG_MAX - 9) / 10) { *why = "duration too large"; return -1; }
			v = v * 10 + (*p++ - '0');
		}
		long long mul;
		switch (*p) {
		case '\0': mul = 1; if (parts) { *why = "missing unit after number"; return -1; } break;
		case 's': mul = 1; p++; break;
		case 'm': mul = 60; p++; break;
		case 'h': mul = 3600; p++; break;
		case 'd': mul = 86400; p++; break;
		case 'w': mul = 604800; p++; break;
		default: *why = "unknown unit (use s, m, h, d or w)"; return -1;
		}
		if (v > (LLONG_MAX / 4) / mul || total > LLONG_MAX / 4 - v * mul) { *why = "duration too large"; return -1; }
		total += v * mul;
		parts++;
	}
	if (total > 10LL * 365 * 86400) { *why = "duration longer than 10 years"; return -1; }
	*secs = total;
	return 0;
}
