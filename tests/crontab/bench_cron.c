/* Benchmark (not a test): cron_next throughput for a mix of typical
 * schedules, zones and instants.  Built and run by bench/bench-cron.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crontab/crontab.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *const exprs[] = {
		"*/5 * * * *", "0 * * * *", "30 2 * * *", "0 9 * * 1-5", "15 3 1 * *", "@daily",
		"@hourly", "0 0 * * 0", "*/15 9-17 * * mon-fri", "0 4 1,15 * *", "45 23 * * 6",
		"0 0 1 1 *", "10 */6 * * *", "5 4 * * sun", "0 12 29 2 *", "* * * * *",
	};
	static const char *const zones[] = { "America/New_York", "Europe/London", "UTC",
		"Australia/Lord_Howe", "Asia/Kolkata", "Europe/Berlin" };
	enum { NE = sizeof exprs / sizeof exprs[0], NZ = sizeof zones / sizeof zones[0], NT = 4096 };
	long calls = argc > 1 ? atol(argv[1]) : 3000000;
	cron_expr e[NE];
	const cron_zone *z[NZ];
	cron_error err;
	for (int i = 0; i < NE; i++)
		if (cron_expr_parse(exprs[i], &e[i], &err)) { fprintf(stderr, "%s: %s\n", exprs[i], err.msg); return 1; }
	for (int i = 0; i < NZ; i++)
		if (!(z[i] = cron_zone_get(zones[i], &err))) { fprintf(stderr, "%s\n", err.msg); return 1; }
	static int64_t t[NT];
	srand(42);
	for (int i = 0; i < NT; i++) t[i] = 1577836800 + (int64_t)(rand() % 315360000);  /* 2020..2030 */
	int64_t sink = 0, r;
	for (int pass = 0; pass < 3; pass++) {
		double t0 = now_s();
		for (long k = 0; k < calls; k++) {
			int rc;
			if (pass == 0) rc = cron_next_z(&e[k % NE], z[k % NZ], t[k % NT], &r);
			else if (pass == 1) rc = cron_next(&e[k % NE], zones[k % NZ], t[k % NT], &r);
			else rc = cron_prev_z(&e[k % NE], z[k % NZ], t[k % NT], &r);
			if (rc == CRON_OK) sink += r;
		}
		double dt = now_s() - t0;
		static const char *const what[] = { "cron_next_z (zone handle)", "cron_next (zone by name)",
			"cron_prev_z (zone handle)" };
		printf("%-28s %10.0f calls/s  (%ld calls, %d schedules x %d zones, %.2f s)\n", what[pass],
		       calls / dt, calls, NE, NZ, dt);
	}
	return sink == 42 ? 2 : 0;
}
