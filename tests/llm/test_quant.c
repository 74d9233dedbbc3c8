/* tests/llm/test_quant.c — the weight types: half/bfloat conversion on every
 * bit pattern, quantize → dequantize error bounds, and the dot products
 * (portable and AVX2 builds, float and integer paths) against a double
 * reference on the dequantized weights. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_half),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_dots_generic),
		cmocka_unit_test(test_dots_dispatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
