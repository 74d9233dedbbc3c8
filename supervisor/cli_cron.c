/* supervisor/cli_cron.c — `vigil cron next|prev 'EXPR' --tz ZONE --from T [-n N]`.
 *
 * Prints fire instants of one schedule as Debian's cron daemon in ZONE would
 * start the job, one per line, RFC 3339 in UTC ("2026-03-08T07:00:00Z").
 *   next: the first N instants strictly after T (default N = 1)
 *   prev: the last N instants strictly before T, latest first
 * Exit 0 when at least one was printed; 3 (and nothing printed) when the
 * schedule never fires; 2 on a bad expression, zone, instant or option.
 * --tz defaults to the config's crontab.tz, else the system zone (the cron
 * daemon's); --from defaults to now. */
#include "supervisor/cli.h"
#include "crontab/crontab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: vigil cron next|prev 'EXPR' [--tz ZONE] [--from RFC3339] [-n N]\n");
	return VIGIL_EXIT_USAGE;
}

int cli_cron(int argc, char **argv, vigil_global *g)
{
	if (argc < 3) return usage();
	int prev;
	if (!strcmp(argv[1], "next")) prev = 0;
	else if (!strcmp(argv[1], "prev")) prev = 1;
	else return usage();
	const char *expr_text = NULL, *tz = NULL, *from = NULL;
	long n = 1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (!strcmp(a, "--tz") || !strcmp(a, "--from") || !strcmp(a, "-n")) {
			if (i + 1 >= argc) { fprintf(stderr, "vigil cron: option %s needs a value\n", a); return VIGIL_EXIT_USAGE; }
			val = argv[++i];
		} else if (!strncmp(a, "--tz=", 5)) { val = a + 5; a = "--tz"; }
		else if (!strncmp(a, "--from=", 7)) { val = a + 7; a = "--from"; }
		if (val) {
			if (!strcmp(a, "--tz")) tz = val;
			else if (!strcmp(a, "--from")) from = val;
			else {
				char *end;
				n = strtol(val, &end, 10);
				if (*end || end == val || n < 1 || n > 100000) {
					fprintf(stderr, "vigil cron: -n wants a count 1-100000, got \"%s\"\n", val);
					return VIGIL_EXIT_USAGE;
				}
			}
			continue;
		}
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			fprintf(stderr, "vigil cron: unknown option %s\n", a);
			return usage();
		}
		if (expr_text) { fprintf(stderr, "vigil cron: one expression only (quote it)\n"); return usage(); }
		expr_text = a;
	}
	if (!expr_text) return usage();
	cron_expr e;
	cron_error err;
	if (cron_expr_parse(expr_text, &e, &err)) {
		fprintf(stderr, "vigil cron: bad schedule \"%s\": column %d: %s\n", expr_text, err.col, err.msg);
		return VIGIL_EXIT_USAGE;
	}
	char sys[256];
	if (!tz) tz = cfg_get(g->cfg, "crontab.tz");
	if (!tz) { cron_zone_system(sys, sizeof sys); tz = sys; }
	const cron_zone *z = cron_zone_get(tz, &err);
	if (!z) {
		fprintf(stderr, "vigil cron: %s\n", err.msg);
		return VIGIL_EXIT_USAGE;
	}
	int64_t t;
	if (from) {
		if (cron_parse_rfc3339(from, &t)) {
			fprintf(stderr, "vigil cron: --from wants an RFC 3339 instant such as "
			        "2026-03-08T06:30:00Z, got \"%s\"\n", from);
			return VIGIL_EXIT_USAGE;
		}
	} else {
		t = (int64_t)time(NULL);
	}
	long printed = 0;
	for (long k = 0; k < n; k++) {
		int64_t r;
		int rc = prev ? cron_prev_z(&e, z, t, &r) : cron_next_z(&e, z, t, &r);
		if (rc == CRON_EINVAL) {
			fprintf(stderr, "vigil cron: instant out of the supported range (years 1-9999)\n");
			return printed ? VIGIL_EXIT_OK : VIGIL_EXIT_USAGE;
		}
		if (rc != CRON_OK) break;
		char buf[40];
		cron_format_utc(r, buf, sizeof buf);
		puts(buf);
		printed++;
		t = r;
	}
	fflush(stdout);
	return printed ? VIGIL_EXIT_OK : VIGIL_EXIT_NONE;
}
