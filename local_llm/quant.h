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

/* Activations as integers for the quantized dot products: 32 values per
 * block, 16 bits each (x ~= d*q, |q| <= 32767). */
typedef struct llm_q8a {
	float d;        /* scale */
	float s;        /* d * sum(q) (for the types with a per-block minimum) */
	int16_t q[32];
} llm_q8a;

/* y[0..n/32) = x[0..n) in 32-value blocks (n % 32 == 0). */
void llm_quantize_x(const float *x, llm_q8a *y, int64_t n);
/* Quantized weight row · quantized activations (integer products). */
float llm_vec_dot_q8(int type, const void *row, const llm_q8a *xq, int64_t n);
/* 1 for F32/F16/BF16 (dotted with float activations). */
#define LLM_TYPE_IS_FLOAT(t) ((t) == 0 || (t) == 1 || (t) == 30)

/* Y[t][r] (+)= row_r(w) · X[t], r in [r0, r1), t < n_tok.  Float weight types
 * read X (x_stride floats per token); quantized ones read XQ (n_in/32 blocks
 * per token). */
void llm_matmul_rows(int type, const void *w, size_t row_bytes, const float *X, const llm_q8a *XQ,
                     int64_t n_in, int n_tok, int64_t x_stride, float *Y, int64_t y_stride,
                     int64_t r0, int64_t r1, int accumulate);

#endif
