/* local_llm/quant.c — the weight types: sizes, half/bfloat conversion, the
 * reference dequantizers and quantizers, and row·vector dot products.
 *
 * The dot products and row dequantizers exist twice: a portable build and an
 * AVX2+FMA+F16C build of the same source (quant_kern.inc), picked once at run
 * time from the CPU's features.  The batched (prefill) product of quantized
 * weights, integer row panels, has two more builds for AVX-512, with and
 * without VNNI (quant_panel512.inc).  The reference functions in
 * llm_internal.h (llm_dequant_row, llm_vec_dot) go through that dispatch. */
#include "local_llm/llm_internal.h"
#include "local_llm/quant.h"

#include <math.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int64_t elems, bytes;
	int supported;
} type_tab[LLM_TYPE_COUNT] = {
	[LLM_TYPE_F32]  = {"f32", 1, 4, 1},
	[LLM_TYPE_F16]  = {"f16", 1, 2, 1},
	[LLM_TYPE_Q4_0] = {"q4_0", 32, 18, 1},
	[LLM_TYPE_Q4_1] = {"q4_1", 32, 20, 1},
	[LLM_TYPE_Q5_0] = {"q5_0", 32, 22, 1},
	[LLM_TYPE_Q5_1] = {"q5_1", 32, 24, 1},
	[LLM_TYPE_Q8_0] = {"q8_0", 32, 34, 1},
	[LLM_TYPE_Q8_1] = {"q8_1", 32, 36, 0},
	[LLM_TYPE_Q2_K] = {"q2_K", 256, 84, 0},
	[LLM_TYPE_Q3_K] = {"q3_K", 256, 110, 0},
	[LLM_TYPE_Q4_K] = {"q4_K", 256, 144, 1},
	[LLM_TYPE_Q5_K] = {"q5_K", 256, 176, 0},
	[LLM_TYPE_Q6_K] = {"q6_K", 256, 210, 1},
	[LLM_TYPE_Q8_K] = {"q8_K", 256, 292, 0},
	[LLM_TYPE_BF16] = {"bf16", 1, 2, 1},
};

const char *llm_type_name(int t)
{
	return (t >= 0 && t < LLM_TYPE_COUNT) ? type_tab[t].name : NULL;
}
int llm_type_supported(int t)
{
	return t >= 0 && t < LLM_TYPE_COUNT && type_tab[t].supported;
}
int64_t llm_type_block_elems(int t)
{
	return (t >= 0 && t < LLM_TYPE_COUNT) ? type_tab[t].elems : 0;
}
int64_t llm_type_block_bytes(int t)
{
	return (t >= 0 && t < LLM_TYPE_COUNT) ? type_tab[t].bytes : 0;
}
int64_t llm_type_row_bytes(int t, int64_t n)
{
	int64_t be = llm_type_block_elems(t);
	if (be <= 0 || n < 0 || n % be)
		return -1;
	return n / be * type_tab[t].bytes;
}

/* ---- half and bfloat ------------------------------------------------------ */

float llm_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {	/* subnormal: value = man * 2^-24 */
			float f = (float)man * 5.9604644775390625e-8f;
			return sign ? -f : f;
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (man << 13);
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t llm_f32_to_f16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t ax = x & 0x7fffffffu;
	if (ax >= 0x7f800000u)	/* inf or nan */
		return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
	if (ax >= 0x477ff000u)	/* rounds to >= 65520: inf */
		return (uint16_t)(sign | 0x7c00);
	if (ax < 0x38800000u) {	/* below the smallest normal half: subnormal */
		float a;
		memcpy(&a, &ax, 4);
		/* a * 2^24 rounded to nearest even (rintf, default rounding mode) */
		return (uint16_t)(sign | (uint32_t)rintf(a * 16777216.0f));
	}
	uint32_t r = ax + 0xfff + ((ax >> 13) & 1);	/* round to nearest even */
	return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float llm_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t llm_f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40);	/* quiet nan */
	return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* ---- quantizers (for mkmodel / convert; not on the hot path) ------------------ */

static void quant_q8_0(const float *x, llm_block_q8_0 *y, int64_t nb)
{
	for (int64_t b = 0; b < nb; b++, x += 32) {
		float amax = 0;
		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		float d = amax / 127.0f, id = d ? 1.0f / d : 0;
		y[b].d = llm_f32_to_f16(d);
		for (int j = 0; j < 32; j++)
			y[b].qs[j] = (int8_t)lrintf(x[j] * id);
	}
}

static void quant_q4_0(const float *x, llm_block_q4_0 *y, int64_t nb)
{
	for (int64_t b = 0; b < nb; b++, x += 32) {
		float amax = 0, max = 0;
		for (int j = 0; j < 32; j++)
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		float d = max / -8.0f, id = d ? 1.0f / d : 0;
		y[b].d = llm_f32_to_f16(d);
		for (int j = 0; j < 16; j++) {
			int a = (int)fminf(15.0f, x[j] * id + 8.5f);
			int c = (int)fminf(15.0f, x[j + 16] * id + 8.5f);
			y[b].qs[j] = (uint8_t)(a | (c << 4));
		}
	}
}

static void quant_q4_1(const float *x, llm_block_q4_1 *y, int64_t nb)
{
	for (int64_t b = 0; b < nb; b++, x += 32) {
		float mn = x[0], mx = x[0];
		for (int j = 1; j < 32; j++) {
			mn = fminf(mn, x[j]);
			mx = fmaxf(mx, x[j]);
		}
		float d = (mx - mn) / 15.0f, id = d ? 1.0f / d : 0;
		y[b].d = llm_f32_to_f16(d);
		y[b].m = llm_f32_to_f16(mn);
		for (int j = 0; j < 16; j++) {
			int a = (int)fminf(15.0f, (x[j] - mn) * id + 0.5f);
			int c = (int)fminf(15.0f, (x[j + 16] - mn) * id + 0.5f);
			y[b].qs[j] = (uint8_t)(a | (c << 4));
		}
	}
}

static void quant_q5(const float *x, void *dst, int64_t nb, int with_min)
{
	for (int64_t b = 0; b < nb; b++, x += 32) {
		float mn = x[0], mx = x[0], amax = 0, max = 0, d, m = 0;
		for (int j = 0; j < 32; j++) {
			mn = fminf(mn, x[j]);
			mx = fmaxf(mx, x[j]);
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		if (with_min) {
			d = (mx - mn) / 31.0f;
			m = mn;
		} else {
			d = max / -16.0f;
		}
		float id = d ? 1.0f / d : 0;
		uint8_t q[32];
		for (int j = 0; j < 32; j++) {
			float v = with_min ? (x[j] - m) * id + 0.5f : x[j] * id + 16.5f;
			int qi = (int)v;
			q[j] = (uint8_t)(qi < 0 ? 0 : qi > 31 ? 31 : qi);
		}
		uint32_t qh = 0;
		uint8_t qs[16];
		for (int j = 0; j < 16; j++) {
			qs[j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
			qh |= (uint32_t)(q[j] >> 4) << j;
			qh |= (uint32_t)(q[j + 16] >> 4) << (j + 16);
		}
		uint8_t qhb[4] = {(uint8_t)qh, (uint8_t)(qh >> 8), (uint8_t)(qh >> 16), (uint8_t)(qh >> 24)};
		if (with_min) {
			llm_block_q5_1 *y = (llm_block_q5_1 *)dst + b;
			y->d = llm_f32_to_f16(d);
			y->m = llm_f32_to_f16(m);
			memcpy(y->qh, qhb, 4);
			memcpy(y->qs, qs, 16);
		} else {
			llm_block_q5_0 *y = (llm_block_q5_0 *)dst + b;
			y->d = llm_f32_to_f16(d);
			memcpy(y->qh, qhb, 4);
			memcpy(y->qs, qs, 16);
		}
	}
}

/* Q4_K: 8 sub-blocks of 32, each x ~= d*sc*q - dmin*m with 6-bit sc, m. */
static void quant_q4_K(const float *x, llm_block_q4_K *y, int64_t nb)
{
	for (int64_t b = 0; b < nb; b++, x += 256) {
		float scale[8], mins[8], maxs = 0, maxm = 0;
		for (int s = 0; s < 8; s++) {
			float mn = 0, mx = 0;	/* min clamped to <= 0, as the format wants */
			for (int j = 0; j < 32; j++) {
				mn = fminf(mn, x[s * 32 + j]);
				mx = fmaxf(mx, x[s * 32 + j]);
			}
			scale[s] = (mx - mn) / 15.0f;
			mins[s] = -mn;
			maxs = fmaxf(maxs, scale[s]);
			maxm = fmaxf(maxm, mins[s]);
		}
		float d = maxs / 63.0f, dm = maxm / 63.0f;
		uint8_t ls[8], lm[8];
		for (int s = 0; s < 8; s++) {
			ls[s] = (uint8_t)(d ? fminf(63.0f, lrintf(scale[s] / d)) : 0);
			lm[s] = (uint8_t)(dm ? fminf(63.0f, lrintf(mins[s] / dm)) : 0);
		}
		memset(y[b].scales, 0, 12);
		for (int s = 0; s < 8; s++) {
			if (s < 4) {
				y[b].scales[s] = ls[s];
				y[b].scales[s + 4] = lm[s];
			} else {
				y[b].scales[s + 4] = (uint8_t)((ls[s] & 0xf) | ((lm[s] & 0xf) << 4));
				y[b].scales[s - 4] |= (uint8_t)((ls[s] >> 4) << 6);
				y[b].scales[s] |= (uint8_t)((lm[s] >> 4) << 6);
			}
		}
		y[b].d = llm_f32_to_f16(d);
		y[b].dmin = llm_f32_to_f16(dm);
		float dd = llm_f16_to_f32(y[b].d), ddm = llm_f16_to_f32(y[b].dmin);
		uint8_t q[256];
		for (int s = 0; s < 8; s++) {
			float sd = dd * ls[s], sm = ddm * lm[s];
			for (int j = 0; j < 32; j++) {
				int v = sd ? (int)lrintf((x[s * 32 + j] + sm) / sd) : 0;
				q[s * 32 + j] = (uint8_t)(v < 0 ? 0 : v > 15 ? 15 : v);
			}
		}
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++)
				y[b].qs[c * 32 + l] = (uint8_t)(q[c * 64 + l] | (q[c * 64 + 32 + l] << 4));
	}
}

/* Q6_K: 16 sub-blocks of 16, x ~= d*sc*(q-32) with int8 sc, 6-bit q. */
static void quant_q6_K(const float *x, llm_block_q6_K *y, int64_t nb)
{
	for (int64_t b = 0; b < nb; b++, x += 256) {
		float sc[16], amaxs = 0;
		for (int s = 0; s < 16; s++) {
			float amax = 0;
			for (int j = 0; j < 16; j++)
				amax = fmaxf(amax, fabsf(x[s * 16 + j]));
			sc[s] = amax / 31.0f;
			amaxs = fmaxf(amaxs, sc[s]);
		}
		float d = amaxs / 127.0f;
		y[b].d = llm_f32_to_f16(d);
		float dd = llm_f16_to_f32(y[b].d);
		uint8_t q[256];
		for (int s = 0; s < 16; s++) {
			int is = dd ? (int)lrintf(sc[s] / dd) : 0;
			if (is > 127)
				is = 127;
			y[b].scales[s] = (int8_t)is;
			float sd = dd * is;
			for (int j = 0; j < 16; j++) {
				int v = sd ? (int)lrintf(x[s * 16 + j] / sd) : 0;
				v = v < -32 ? -32 : v > 31 ? 31 : v;
				q[s * 16 + j] = (uint8_t)(v + 32);
			}
		}
		for (int h = 0; h < 2; h++) {
			const uint8_t *qq = q + h * 128;
			uint8_t *ql = y[b].ql + h * 64, *qh = y[b].qh + h * 32;
			for (int l = 0; l < 32; l++) {
				ql[l] = (uint8_t)((qq[l] & 0xf) | ((qq[l + 64] & 0xf) << 4));
				ql[l + 32] = (uint8_t)((qq[l + 32] & 0xf) | ((qq[l + 96] & 0xf) << 4));
				qh[l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
				                  ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
			}
		}
	}
}

int llm_quant_row(int type, const float *src, void *dst, int64_t n)
{
	int64_t be = llm_type_block_elems(type);
	if (!llm_type_supported(type) || n % be)
		return -1;
	int64_t nb = n / be;
	switch (type) {
	case LLM_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return 0;
	case LLM_TYPE_F16:
		for (int64_t i = 0; i < n; i++)
			((uint16_t *)dst)[i] = llm_f32_to_f16(src[i]);
		return 0;
	case LLM_TYPE_BF16:
		for (int64_t i = 0; i < n; i++)
			((uint16_t *)dst)[i] = llm_f32_to_bf16(src[i]);
		return 0;
	case LLM_TYPE_Q8_0: quant_q8_0(src, dst, nb); return 0;
	case LLM_TYPE_Q4_0: quant_q4_0(src, dst, nb); return 0;
	case LLM_TYPE_Q4_1: quant_q4_1(src, dst, nb); return 0;
	case LLM_TYPE_Q5_0: quant_q5(src, dst, nb, 0); return 0;
	case LLM_TYPE_Q5_1: quant_q5(src, dst, nb, 1); return 0;
	case LLM_TYPE_Q4_K: quant_q4_K(src, dst, nb); return 0;
	case LLM_TYPE_Q6_K: quant_q6_K(src, dst, nb); return 0;
	}
	return -1;
}

/* ---- the builds of the kernels, and the dispatch -------------------------------- */

#define LLM_PANEL_KC 16
#define LLM_PREFETCH_ROWS 8	/* the one-token products ask for the row this far ahead */	/* blocks of 32 values per panel pass (a 16-row panel: 19.5 KiB) */

/* Asks for rows [r, r + nr) ahead of their use (into L2): the panel kernels
 * read 8 or 16 rows a few blocks at a time, more streams than the hardware
 * prefetcher follows. */
static void prefetch_rows(const void *w, size_t row_bytes, int64_t r, int nr)
{
	const char *p = (const char *)w + (size_t)r * row_bytes, *e = p + (size_t)nr * row_bytes;
	for (; p < e; p += 64)
		__builtin_prefetch(p, 0, 2);
}

#define KSUFFIX(name) name##_generic
#include "local_llm/quant_kern.inc"
#undef KSUFFIX

#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
#define KSUFFIX(name) name##_avx2
#define KERN_AVX2 1
#include "local_llm/quant_kern.inc"
#undef KERN_AVX2
#undef KSUFFIX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* AVX-512 builds of the batched (prefill) product: with and without VNNI. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#endif
#define PSUFFIX(name) name##_avx512
#include "local_llm/quant_panel512.inc"
#undef PSUFFIX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#endif
#define PSUFFIX(name) name##_vnni
#define PANEL_VNNI 1
#include "local_llm/quant_panel512.inc"
#undef PANEL_VNNI
#undef PSUFFIX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

/* The kernel level in use: detected once (capped by VIGIL_LLM_CPU, or by
 * VIGIL_LLM_NO_AVX512), or capped by llm_cpu_set_level (tests). */
static int cpu_level = -1, cpu_cap = -1;

static const char *const level_names[] = {"portable", "avx2", "avx512", "avx512vnni"};

const char *llm_cpu_level_name(int level)
{
	return level >= 0 && level <= LLM_CPU_AVX512VNNI ? level_names[level] : "?";
}

static int detect_level(void)
{
	int lv = LLM_CPU_GENERIC;
#if defined(__x86_64__)
	__builtin_cpu_init();
	unsigned a, b, c, d;
	int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) {
		lv = LLM_CPU_AVX2;
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl")) {
			lv = LLM_CPU_AVX512;
			if (__builtin_cpu_supports("avx512vnni"))
				lv = LLM_CPU_AVX512VNNI;
		}
	}
#endif
	const char *env = getenv("VIGIL_LLM_CPU");
	if (env)
		for (int i = 0; i <= LLM_CPU_AVX512VNNI; i++)
			if (!strcmp(env, level_names[i]) && i < lv)
				lv = i;
	if (getenv("VIGIL_LLM_NO_AVX512") && lv > LLM_CPU_AVX2)
		lv = LLM_CPU_AVX2;
	return lv;
}

int llm_cpu_level(void)
{
	if (cpu_level < 0) {
		int lv = detect_level();
		cpu_level = cpu_cap >= 0 && cpu_cap < lv ? cpu_cap : lv;
	}
	return cpu_level;
}

int llm_cpu_set_level(int max)
{
	cpu_cap = max;
	cpu_level = -1;
	return llm_cpu_level();
}

int llm_cpu_has_avx2(void)
{
	return llm_cpu_level() >= LLM_CPU_AVX2;
}

void llm_cpu_force_generic(int on)
{
	llm_cpu_set_level(on ? LLM_CPU_GENERIC : -1);
}

void llm_dequant_row(int type, const void *src, float *dst, int64_t n)
{
#if defined(__x86_64__)
	if (llm_cpu_has_avx2()) {
		dequant_row_avx2(type, src, dst, n);
		return;
	}
#endif
	dequant_row_generic(type, src, dst, n);
}

float llm_vec_dot(int type, const void *row, const float *x, int64_t n)
{
#if defined(__x86_64__)
	if (llm_cpu_has_avx2())
		return vec_dot_avx2(type, row, x, n);
#endif
	return vec_dot_generic(type, row, x, n);
}

void llm_quantize_x(const float *x, llm_q8a *y, int64_t n)
{
#if defined(__x86_64__)
	if (llm_cpu_has_avx2()) {
		quantize_x_avx2(x, y, n / 32);
		return;
	}
#endif
	quantize_x_generic(x, y, n / 32);
}

void llm_attn_head(const float *q, const float *kc, const float *vc, int64_t stride, int np, int hd, float scale,
                   float *sc, float *out)
{
#if defined(__x86_64__)
	if (llm_cpu_has_avx2()) {
		attn_head_avx2(q, kc, vc, stride, np, hd, scale, sc, out);
		return;
	}
#endif
	attn_head_generic(q, kc, vc, stride, np, hd, scale, sc, out);
}

/* the types that vec_dot_q32 (AVX-512) takes */
#define Q32_TYPE(t) ((t) == LLM_TYPE_Q8_0 || (t) == LLM_TYPE_Q5_0 || (t) == LLM_TYPE_Q4_0)

void llm_swiglu(float *g, const float *u, int64_t n)
{
#if defined(__x86_64__)
	if (llm_cpu_has_avx2()) {
		swiglu_avx2(g, u, n);
		return;
	}
#endif
	swiglu_generic(g, u, n);
}

float llm_vec_dot_q8(int type, const void *row, const llm_q8a *xq, int64_t n)
{
#if defined(__x86_64__)
	if (Q32_TYPE(type) && llm_cpu_level() >= LLM_CPU_AVX512)
		return vec_dot_q32_avx512(type, row, xq, n);
	if (llm_cpu_has_avx2())
		return vec_dot_q_avx2(type, row, xq, n);
#endif
	return vec_dot_q_generic(type, row, xq, n);
}

void llm_matmul_rows(int type, const void *w, size_t row_bytes, const float *X, const llm_q8a *XQ,
                     int64_t n_in, int n_tok, int64_t x_stride, float *Y, int64_t y_stride,
                     int64_t r0, int64_t r1, int accumulate)
{
#if defined(__x86_64__)
	int lv = llm_cpu_level();
	if (n_tok >= 2 && !LLM_TYPE_IS_FLOAT(type) && lv >= LLM_CPU_AVX512) {
		if (lv >= LLM_CPU_AVX512VNNI)
			matmul_panel_vnni(type, w, row_bytes, XQ, n_in, n_tok, Y, y_stride, r0, r1, accumulate);
		else
			matmul_panel_avx512(type, w, row_bytes, XQ, n_in, n_tok, Y, y_stride, r0, r1, accumulate);
		return;
	}
	if (n_tok == 1 && Q32_TYPE(type) && lv >= LLM_CPU_AVX512) {
		for (int64_t r = r0; r < r1; r++) {
			if (r + LLM_PREFETCH_ROWS < r1)	/* one core's memory latency, not bandwidth, is the limit */
				prefetch_rows(w, row_bytes, r + LLM_PREFETCH_ROWS, 1);
			float v = vec_dot_q32_avx512(type, (const char *)w + (size_t)r * row_bytes, XQ, n_in);
			Y[r] = accumulate ? Y[r] + v : v;
		}
		return;
	}
	if (lv >= LLM_CPU_AVX2) {
		matmul_rows_avx2(type, w, row_bytes, X, XQ, n_in, n_tok, x_stride, Y, y_stride, r0, r1,
		                 accumulate);
		return;
	}
#endif
	matmul_rows_generic(type, w, row_bytes, X, XQ, n_in, n_tok, x_stride, Y, y_stride, r0, r1,
	                    accumulate);
}
