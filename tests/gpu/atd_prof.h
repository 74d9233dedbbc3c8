/* tests/gpu/atd_prof.h — the decode attention's phase clock (kernels built with
 * -DVIGIL_ATD_PROF, kern_attn_dec_prof), printed the same way by check_kernels
 * (standalone launches) and check_model (inside the decode graph).  C and C++. */
#ifndef VIGIL_TESTS_ATD_PROF_H
#define VIGIL_TESTS_ATD_PROF_H
#include <stdio.h>
#include "kernels/kern.h"

#define ATD_PROF_COUNTER 8 /* the stamp after the merge counter; the merge's stamps follow it */

/* h: nb blocks x KERN_ATD_NSTAMP clock64() stamps (0: not reached).  For
 * stamps 1 .. last: cycles from the block's start, mean and max over the
 * blocks that reached it; a line per stamp, each starting with prefix. */
static inline void atd_prof_print(const long long *h, int nb, int last, const char *prefix)
{
	static const char *const names[KERN_ATD_NSTAMP] = {"start", "copies issued", "pdl wait", "q/k/v post",
	                                                   "K arrived", "scores", "softmax, V", "P V + out",
	                                                   "counter", "merge", "merge fenced", "merge summed"};
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
		printf("%s%-14s %9.0f / %7lld  (%d)", prefix, names[i], sum / n, mx, n);
		if (i > ATD_PROF_COUNTER) printf("  %6.0f after its counter", sc / n);
		printf("\n");
	}
}
#endif
