/* tests/llm/test_quant.c — the weight types: half/bfloat conversion on every
 * bit pattern, quantize → dequantize error bounds, and the dot products
 * (portable and AVX2 builds, float and integer paths) against a double
 * reference on the dequantized weights, and the batched products of every
 * kernel level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "local_llm/llm_internal.h"
#include "local_llm/quant.h"

static uint64_t rs = 12345;
static float frand(void)
{
	rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rs >> 40) * (1.0 / 16777216.0)) - 0.5f;
}

static void test_half(void **state)
{
	for (uint32_t h = 0; h < 65536; h++) {
		float f = llm_f16_to_f32((uint16_t)h);
		if (isnan(f)) {
			assert_true(isnan(llm_f16_to_f32(llm_f32_to_f16(f))));
			continue;
		}
		assert_int_equal(llm_f32_to_f16(f), h);	/* exact round trip */
		float b = llm_bf16_to_f32((uint16_t)h);
		if (!isnan(b))
			assert_int_equal(llm_f32_to_bf16(b), h);
	}
	/* rounding to nearest even, overflow, subnormals */
	assert_int_equal(llm_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);	/* halfway: even */
	assert_int_equal(llm_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
	assert_int_equal(llm_f32_to_f16(70000.0f), 0x7c00);
	assert_int_equal(llm_f32_to_f16(-70000.0f), 0xfc00);
	assert_int_equal(llm_f32_to_f16(5.9604645e-8f), 0x0001);
	assert_int_equal(llm_f32_to_f16(2.9e-8f), 0x0000);
	assert_int_equal(llm_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
	assert_int_equal(llm_f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
}

static const int types[] = {LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0,
                            LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_Q4_K, LLM_TYPE_Q6_K};
/* max |dequant(quant(x)) - x| / max|x| allowed per type, for x in [-0.5, 0.5) */
static const double qtol[] = {0, 1e-3, 8e-3, 1e-2, 1.3e-1, 7e-2, 6.5e-2, 3.5e-2, 1.3e-1, 4e-2};

static void test_roundtrip(void **state)
{
	enum { N = 1024 };
	float x[N], y[N];
	static uint8_t buf[N * 4];
	for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
		int t = types[k];
		for (int i = 0; i < N; i++)
			x[i] = frand() * (1 + (i % 97 == 0) * 8);	/* some outliers */
		assert_int_equal(llm_type_row_bytes(t, N), N / llm_type_block_elems(t) * llm_type_block_bytes(t));
		assert_int_equal(llm_quant_row(t, x, buf, N), 0);
		llm_dequant_row(t, buf, y, N);
		double err = 0, mx = 0;
		for (int i = 0; i < N; i++) {
			err = fmax(err, fabs(y[i] - x[i]));
			mx = fmax(mx, fabs(x[i]));
		}
		printf("%-5s max err %.4f (of %.2f)\n", llm_type_name(t), err, mx);
		assert_true(err <= qtol[k] * mx + 1e-7);
	}
	assert_int_equal(llm_type_row_bytes(LLM_TYPE_Q4_K, 100), -1);
	assert_int_equal(llm_quant_row(LLM_TYPE_Q2_K, x, buf, 256), -1);
	assert_null(llm_type_name(99));
}

/* Dots against a double-precision reference on the dequantized weights. */
static void check_dots(int generic)
{
	enum { N = 2048, ROWS = 5 };
	static float w[ROWS * N], x[N * 3], dq[N];
	static uint8_t buf[ROWS * N * 4];
	static llm_q8a xq[3 * N / 32];
	llm_cpu_force_generic(generic);
	for (int i = 0; i < N * 3; i++)
		x[i] = frand() * 4;
	for (int t3 = 0; t3 < 3; t3++)
		llm_quantize_x(x + t3 * N, xq + t3 * (N / 32), N);
	for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
		int t = types[k];
		size_t rb = (size_t)llm_type_row_bytes(t, N);
		for (int i = 0; i < ROWS * N; i++)
			w[i] = frand();
		for (int r = 0; r < ROWS; r++)
			assert_int_equal(llm_quant_row(t, w + r * N, buf + r * rb, N), 0);
		float y[3 * ROWS];
		llm_matmul_rows(t, buf, rb, x, xq, N, 3, N, y, ROWS, 0, ROWS, 0);
		for (int r = 0; r < ROWS; r++) {
			llm_dequant_row(t, buf + r * rb, dq, N);
			for (int t3 = 0; t3 < 3; t3++) {
				double ref = 0, mag = 0;
				for (int i = 0; i < N; i++) {
					ref += (double)dq[i] * x[t3 * N + i];
					mag += fabs((double)dq[i] * x[t3 * N + i]);
				}
				double got = y[t3 * ROWS + r];
				double fd = llm_vec_dot(t, buf + r * rb, x + t3 * N, N);
				/* float path: rounding only; integer path: 16-bit activations */
				assert_true(fabs(fd - ref) <= 1e-5 * mag);
				double tol = (t == LLM_TYPE_F32 || t == LLM_TYPE_F16 || t == LLM_TYPE_BF16) ? 1e-5 : 1e-4;
				if (fabs(got - ref) > tol * mag)
					fail_msg("%s %s row %d tok %d: got %g want %g (mag %g)", generic ? "generic" : "auto",
					         llm_type_name(t), r, t3, got, ref, mag);
			}
		}
		/* accumulate mode adds */
		float y2[3 * ROWS];
		memcpy(y2, y, sizeof y);
		llm_matmul_rows(t, buf, rb, x, xq, N, 3, N, y2, ROWS, 1, 3, 1);
		assert_true(fabsf(y2[1] - 2 * y[1]) <= 1e-4f * fabsf(y[1]) + 1e-6f);
		assert_true(y2[0] == y[0]);
	}
	llm_cpu_force_generic(0);
}

static void test_dots_generic(void **state) { check_dots(1); }
static void test_dots_dispatch(void **state)
{
	printf("cpu kernels: %s\n", llm_cpu_has_avx2() ? "avx2" : "portable");
	check_dots(0);
}

/* The batched (prefill) products of every kernel level the CPU has, against a
 * double reference on the dequantized weights and the dequantized int16
 * activations (the integer sums are exact: only the float scaling rounds),
 * for every quantized type: widths of one and of several panel passes
 * (LLM_PANEL_KC blocks) with a partial last one, one token (the decode
 * products) and token counts that are not a multiple of the 4- or 8-token
 * groups, row ranges that start and end inside a panel (8 or 16 rows), and
 * accumulate mode. */
static void check_batched(int level)
{
	enum { MAXN = 2304, ROWS = 37, MAXT = 19 };
	static const int widths[] = {256, 768, 2304};
	static const int ntoks[] = {1, 2, 3, 5, 8, 9, 19};
	static const int ranges[][2] = {{0, ROWS}, {3, 29}, {16, 32}, {5, 6}};
	static float w[ROWS * MAXN], x[MAXT * MAXN], xd[MAXT * MAXN], dq[ROWS * MAXN];
	static uint8_t buf[ROWS * MAXN * 2];
	static llm_q8a xq[MAXT * MAXN / 32];
	static float y[MAXT * ROWS], y0[MAXT * ROWS];
	int got_level = llm_cpu_set_level(level);
	printf("batched products, level %s: %s\n", llm_cpu_level_name(level),
	       got_level == level ? "checked" : "not on this CPU (checked at the level below)");
	for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
		int N = widths[wi];
		for (int i = 0; i < MAXT * N; i++)
			x[i] = frand() * 4 * (1 + (i % 61 == 0) * 6);
		for (int t = 0; t < MAXT; t++) {
			llm_quantize_x(x + t * N, xq + t * (N / 32), N);
			for (int b = 0; b < N / 32; b++)
				for (int j = 0; j < 32; j++)
					xd[t * N + b * 32 + j] = xq[t * (N / 32) + b].d * xq[t * (N / 32) + b].q[j];
		}
		for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
			int ty = types[k];
			if (LLM_TYPE_IS_FLOAT(ty))
				continue;
			size_t rb = (size_t)llm_type_row_bytes(ty, N);
			for (int i = 0; i < ROWS * N; i++)
				w[i] = frand() + 0.1f * (float)(i % 3);	/* blocks with an offset: the minimum matters */
			for (int r = 0; r < ROWS; r++) {
				assert_int_equal(llm_quant_row(ty, w + r * N, buf + r * rb, N), 0);
				llm_dequant_row(ty, buf + r * rb, dq + r * N, N);
			}
			for (size_t ti = 0; ti < sizeof ntoks / sizeof *ntoks; ti++) {
				int nt = ntoks[ti];
				for (size_t ri = 0; ri < sizeof ranges / sizeof *ranges; ri++) {
					int r0 = ranges[ri][0], r1 = ranges[ri][1], acc = (int)(ri + ti) % 2;
					for (int i = 0; i < nt * ROWS; i++)
						y[i] = y0[i] = frand() * 10;
					llm_matmul_rows(ty, buf, rb, x, xq, N, nt, N, y, ROWS, r0, r1, acc);
					for (int t = 0; t < nt; t++)
						for (int r = 0; r < ROWS; r++) {
							double got = y[t * ROWS + r];
							if (r < r0 || r >= r1) {
								if (got != y0[t * ROWS + r])
									fail_msg("%s: row %d outside [%d, %d) written", llm_type_name(ty), r, r0, r1);
								continue;
							}
							double ref = 0, mag = 0, fref = 0;
							for (int i = 0; i < N; i++) {
								ref += (double)dq[r * N + i] * xd[t * N + i];
								mag += fabs((double)dq[r * N + i] * xd[t * N + i]);
								fref += (double)dq[r * N + i] * x[t * N + i];
							}
							if (acc)
								got -= y0[t * ROWS + r];
							if (fabs(got - ref) > 1e-5 * mag + (acc ? 4e-6 : 0) ||
							    fabs(got - fref) > 1e-4 * mag + (acc ? 4e-6 : 0))
								fail_msg("%s %s n_in %d n_tok %d rows [%d,%d) acc %d: row %d tok %d: got %.9g "
								         "want %.9g (float x: %.9g; mag %g)",
								         llm_cpu_level_name(got_level), llm_type_name(ty), N, nt, r0, r1, acc, r,
								         t, got, ref, fref, mag);
						}
				}
			}
		}
	}
	llm_cpu_set_level(-1);
}

static void test_batched_generic(void **state) { check_batched(LLM_CPU_GENERIC); }
static void test_batched_avx2(void **state) { check_batched(LLM_CPU_AVX2); }
static void test_batched_avx512(void **state) { check_batched(LLM_CPU_AVX512); }
static void test_batched_avx512vnni(void **state) { check_batched(LLM_CPU_AVX512VNNI); }

/* Attention of one head, portable and AVX2 (head sizes 64 and 128 have
 * their own code), against a double reference. */
static void test_attention(void **state)
{
	enum { NP = 300, STRIDE = 136 };
	static float kc[NP * STRIDE], vc[NP * STRIDE], q[128], sc[NP], out[128];
	static const int hds[] = {64, 128, 32, 40};
	static const int nps[] = {1, 2, 7, 300};
	for (int i = 0; i < NP * STRIDE; i++) {
		kc[i] = frand() * 2;
		vc[i] = frand();
	}
	for (int lv = LLM_CPU_GENERIC; lv <= LLM_CPU_AVX2; lv++) {
		llm_cpu_set_level(lv);
		for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++)
			for (size_t pi = 0; pi < sizeof nps / sizeof *nps; pi++) {
				int hd = hds[hi], np = nps[pi];
				float scale = 1.0f / sqrtf((float)hd);
				for (int i = 0; i < hd; i++)
					q[i] = frand() * 3;
				llm_attn_head(q, kc + 8, vc + 8, STRIDE, np, hd, scale, sc, out);
				double e[NP], mx = -1e300, sum = 0;
				for (int p = 0; p < np; p++) {
					double d = 0;
					for (int i = 0; i < hd; i++)
						d += (double)q[i] * kc[8 + p * STRIDE + i];
					e[p] = d * scale;
					mx = fmax(mx, e[p]);
				}
				for (int p = 0; p < np; p++)
					sum += e[p] = exp(e[p] - mx);
				for (int i = 0; i < hd; i++) {
					double ref = 0;
					for (int p = 0; p < np; p++)
						ref += e[p] / sum * vc[8 + p * STRIDE + i];
					if (fabs(out[i] - ref) > 1e-5)
						fail_msg("%s hd %d np %d: out[%d] %.8f want %.8f", llm_cpu_level_name(llm_cpu_level()),
						         hd, np, i, out[i], ref);
				}
			}
	}
	llm_cpu_set_level(-1);
}

/* silu(g) * u, portable and AVX2, against double, over the whole float
 * range that matters (and past where e^-g overflows). */
static void test_swiglu(void **state)
{
	enum { N = 1003 };
	static float g[N], u[N], g0[N];
	for (int lv = LLM_CPU_GENERIC; lv <= LLM_CPU_AVX2; lv++) {
		llm_cpu_set_level(lv);
		for (int i = 0; i < N; i++) {
			g0[i] = g[i] = (i % 5 == 0) ? (float)(i - N / 2) * 0.2f : frand() * 12;
			u[i] = frand() * 4;
		}
		llm_swiglu(g, u, N);
		for (int i = 0; i < N; i++) {
			double x = g0[i], want = x / (1 + exp(-x)) * u[i];
			if (fabs(g[i] - want) > 1e-6 * fabs(want) + 1e-30)
				fail_msg("%s: silu(%g)*%g = %.9g, want %.9g", llm_cpu_level_name(llm_cpu_level()), x, u[i], g[i],
				         want);
		}
	}
	llm_cpu_set_level(-1);
}

/* VIGIL_LLM_CPU caps the detected level. */
static void test_level_env(void **state)
{
	int best = llm_cpu_set_level(-1);
	printf("cpu kernels: %s\n", llm_cpu_level_name(best));
	setenv("VIGIL_LLM_CPU", "portable", 1);
	assert_int_equal(llm_cpu_set_level(-1), LLM_CPU_GENERIC);
	assert_false(llm_cpu_has_avx2());
	setenv("VIGIL_LLM_CPU", "avx2", 1);
	assert_int_equal(llm_cpu_set_level(-1), best < LLM_CPU_AVX2 ? best : LLM_CPU_AVX2);
	unsetenv("VIGIL_LLM_CPU");
	assert_int_equal(llm_cpu_set_level(-1), best);
	assert_int_equal(llm_cpu_set_level(LLM_CPU_GENERIC), LLM_CPU_GENERIC);
	llm_cpu_set_level(-1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_half),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_dots_generic),
		cmocka_unit_test(test_dots_dispatch),
		cmocka_unit_test(test_batched_generic),
		cmocka_unit_test(test_batched_avx2),
		cmocka_unit_test(test_batched_avx512),
		cmocka_unit_test(test_batched_avx512vnni),
		cmocka_unit_test(test_attention),
		cmocka_unit_test(test_swiglu),
		cmocka_unit_test(test_level_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
