/* local_llm/quant.h — CPU kernels' entry points inside local_llm (not
 * exported beyond the module; llm_internal.h holds the shared reference API). */
#ifndef VIGIL_LLM_QUANT_H
#define VIGIL_LLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the AVX2 kernels are in use. */
int llm_cpu_has_avx2(void);
/* Tests: force the portable kernels (on=1) or go back to detection (on=0). */
void llm_cpu_force_generic(int on);

/* y[r] = row_r(w) · x for r in [r0, r1); rows are row_bytes apart. */
void llm_matvec_rows(int type, const void *w, size_t row_bytes, const float *x, int64_t n_in,
                     float *y, int64_t r0, int64_t r1);

/* Y[t][r] (+)= row_r(w) · X[t], r in [r0, r1), t < n_tok; scratch holds n_in
 * floats (used when n_tok > 1). */
void llm_matmul_rows(int type, const void *w, size_t row_bytes, const float *X, int64_t n_in,
                     int n_tok, int64_t x_stride, float *Y, int64_t y_stride, int64_t r0,
                     int64_t r1, int accumulate, float *scratch);

#endif
