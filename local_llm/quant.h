/* local_llm/quant.h — CPU kernels' entry points inside local_llm (not
 * exported beyond the module; llm_internal.h holds the shared reference API). */
#ifndef VIGIL_LLM_QUANT_H
#define VIGIL_LLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* Kernel levels, each including the ones below it.  The best the CPU has is
 * picked at first use; the environment variable VIGIL_LLM_CPU (one of the
 * level names) caps it, and so does VIGIL_LLM_NO_AVX512 (at avx2).
 *   portable    C only
 *   avx2        AVX2+FMA+F16C: every kernel
 *   avx512      + AVX-512 F/BW/VL: the batched (prefill) products of quantized
 *               weights, and the one-token products of Q8_0/Q5_0/Q4_0
 *   avx512vnni  + AVX512-VNNI (vpdpwssd) in the batched products */
enum { LLM_CPU_GENERIC = 0, LLM_CPU_AVX2 = 1, LLM_CPU_AVX512 = 2, LLM_CPU_AVX512VNNI = 3 };
int llm_cpu_level(void);
const char *llm_cpu_level_name(int level);	/* "portable", "avx2", "avx512", "avx512vnni" */
/* Tests: use at most level max (-1: no cap, back to detection).  Returns the
 * level now in use (lower than max where the CPU lacks it). */
int llm_cpu_set_level(int max);
/* 1 when the AVX2 kernels (or better) are in use. */
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
/* Attention of one query head q[0..hd) over positions p < np of a cache
 * (K[p] = kc + p*stride floats, V[p] = vc + p*stride):
 * out = sum_p softmax_p(scale * q·K[p]) V[p].  sc: np floats of scratch. */
void llm_attn_head(const float *q, const float *kc, const float *vc, int64_t stride, int np, int hd, float scale,
                   float *sc, float *out);
/* g[i] = silu(g[i]) * u[i] for i < n. */
void llm_swiglu(float *g, const float *u, int64_t n);
/* 1 for F32/F16/BF16 (dotted with float activations). */
#define LLM_TYPE_IS_FLOAT(t) ((t) == 0 || (t) == 1 || (t) == 30)

/* Y[t][r] (+)= row_r(w) · X[t], r in [r0, r1), t < n_tok.  Float weight types
 * read X (x_stride floats per token); quantized ones read XQ (n_in/32 blocks
 * per token). */
void llm_matmul_rows(int type, const void *w, size_t row_bytes, const float *X, const llm_q8a *XQ,
                     int64_t n_in, int n_tok, int64_t x_stride, float *Y, int64_t y_stride,
                     int64_t r0, int64_t r1, int accumulate);

#endif
