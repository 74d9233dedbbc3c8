/* tests/gpu/atd_prof.h — the decode attention's phase clock (kernels built with
 * -DVIGIL_ATD_PROF, kern_attn_dec_prof), printed the same way by check_kernels
 * (standalone launches) and check_model (inside the decode graph).  C and C++. */
#ifndef VIGIL_TESTS_ATD_PROF_H
#define VIGIL_TESTS_ATD_PROF_H
#include <stdio.h>
#include <stdlib.h>
#include "kernels/kern.h"

#define ATD_PROF_COUNTER 8 /* the stamp after the merge counter; the merge's stamps follow it */
/* the phase each stamp ends (the merge's: only a range's last block writes them) */
static const char *const atd_stamp_names[KERN_ATD_NSTAMP] = {"start", "copies issued", "pdl wait", "q/k/v post",
                                                             "K arrived", "scores", "softmax, V", "P V + out",
                                                             "counter", "merge end", "merge fenced", "merge summed"};

/* h: nb blocks x KERN_ATD_NSTAMP clock64() stamps (0: not reached).  For
 * stamps 1 .. last: cycles from the block's start, mean and max over the
 * blocks that reached it; a line per stamp, each starting with prefix. */
static inline void atd_prof_print(const long long *h, int nb, int last, const char *prefix)
{
	for (int i = 1; i <= last && i < KERN_ATD_NSTAMP; i++) {
		double sum = 0, sc = 0; /* sc: since the block's counter stamp, for the merge's stamps */
		long long mx = 0;
		int n = 0;
		for (int b = 0; b < nb; b++) {
			long long t0 = h[(size_t)b * KERN_ATD_NSTAMP], t = h[(size_t)b * KERN_ATD_NSTAMP + i];
			if (!t0 || !t || t < t0) continue;
			sum += (double)(t - t0);
			if (i > ATD_PROF_COUNTER) sc += (double)(t - h[(size_t)b * KERN_ATD_NSTAMP + ATD_PROF_COUNTER]);
			if (t - t0 > mx) mx = t - t0;
			n++;
		}
		if (!n) continue;
		printf("%s%-14s %9.0f / %7lld  (%d)", prefix, atd_stamp_names[i], sum / n, mx, n);
		if (i > ATD_PROF_COUNTER) printf("  %6.0f after its counter", sc / n);
		printf("\n");
	}
}
/* The same stamps as global nanoseconds (-DVIGIL_ATD_GT): for each stamp, the
 * spread over the blocks (min, 10th, 50th, 90th percentile, max) in ns after
 * the earliest block's start, and how many blocks started after the first
 * block's PDL wait returned. */
static inline int atd_ll_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}
static inline void atd_prof_print_gt(const long long *h, int nb, const char *prefix)
{
	long long t0 = 0, w0 = 0;
	for (int b = 0; b < nb; b++) {
		long long t = h[(size_t)b * KERN_ATD_NSTAMP], w = h[(size_t)b * KERN_ATD_NSTAMP + 2];
		if (t && (!t0 || t < t0)) t0 = t;
		if (w && (!w0 || w < w0)) w0 = w;
	}
	long long *v = t0 ? (long long *)malloc(sizeof(long long) * (size_t)nb) : NULL;
	if (!v) return;
	for (int i = 0; i < KERN_ATD_NSTAMP; i++) {
		int n = 0;
		for (int b = 0; b < nb; b++) {
			long long t = h[(size_t)b * KERN_ATD_NSTAMP + i];
			if (t >= t0 && t - t0 < 1000000) v[n++] = t - t0;
		}
		if (!n) continue;
		qsort(v, (size_t)n, sizeof *v, atd_ll_cmp);
		printf("%s%-14s ns: min %6lld p10 %6lld p50 %6lld p90 %6lld max %6lld  (%d)\n", prefix, atd_stamp_names[i], v[0],
		       v[n / 10], v[n / 2], v[(n * 9) / 10], v[n - 1], n);
	}
	int late = 0, n0 = 0;
	for (int b = 0; b < nb; b++) {
		long long t = h[(size_t)b * KERN_ATD_NSTAMP];
		if (!t) continue;
		n0++;
		if (w0 && t > w0) late++;
	}
	printf("%s%d of %d blocks started after the first PDL wait returned (%lld ns)\n", prefix, late, n0, w0 - t0);
	free(v);
}
#endif
