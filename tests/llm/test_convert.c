/* tests/llm/test_convert.c — `vigil llm convert` on tiny Hugging Face
 * checkpoints (fixtures/hf_*: bf16 safetensors, config.json, tokenizer.json,
 * tokenizer_config.json) with the geometry of Qwen2.5-0.5B, Qwen3-0.6B and
 * SmolLM2 (head_dim 64, GQA, q/k/v biases, qk-norm, tied / untied heads),
 * reduced in width and depth.  The converted GGUF must tokenize the fixture
 * texts as the Hugging Face tokenizer did, and its logits / greedy 64-token
 * continuations must match transformers on the original checkpoint (run in
 * float64; logits ~2):
 *   --type f32 / bf16 / f16 (the checkpoint's bf16 values are exact in all
 *     three): greedy identical, max abs error 1e-5 (measured ~1e-6);
 *   --type q8_0 (weights re-quantized, so a different model): top-1 equal at
 *     >= 90% of positions, max abs error 0.1 (measured 0.03-0.05). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "local_llm/llm.h"
#include "tests/llm/llm_test_util.h"

int cli_llm_convert(int argc, char **argv);	/* supervisor/cli_llm.c */

static void check(const char *name, const char *type, double tol, int exact)
{
	char dir[1024], fix[64], out[256];
	snprintf(dir, sizeof dir, "%s/tests/llm/fixtures/hf_%s", tu_root(), name);
	snprintf(fix, sizeof fix, "hf_%s.json", name);
	tu_tmpname(out, sizeof out, ".gguf");
	char *argv[] = {"convert", dir, "--out", out, "--type", (char *)type, NULL};
	assert_int_equal(cli_llm_convert(6, argv), 0);
	cJSON *j = tu_json(fix);
	assert_non_null(j);
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	lo.backend = LLM_BACKEND_CPU;
	lo.n_ctx = 256;
	lo.n_threads = 2;
	llm_error e;
	llm_model *m = llm_load(out, &lo, &e);
	if (!m)
		fail_msg("%s", e.msg);
	for (cJSON *c = cJSON_GetObjectItem(j, "cases")->child; c; c = c->next) {
		const char *t = cJSON_GetObjectItem(c, "text")->valuestring;
		cJSON *ids = cJSON_GetObjectItem(c, "ids");
		int32_t got[512];
		int k = llm_tokenize(m, t, strlen(t), 1, got, 512);
		assert_int_equal(k, cJSON_GetArraySize(ids));
		for (int i = 0; i < k; i++)
			assert_int_equal(got[i], cJSON_GetArrayItem(ids, i)->valueint);
	}
	tu_cmp c = {0};
	assert_int_equal(tu_compare(m, j, 64, &c), 0);
	printf("%-8s %-5s: max abs err %.2e (rel %.2e), top-1 %d/%d, greedy %d/%d\n", name, type, c.max_abs,
	       c.max_rel, c.top1_agree, c.positions, c.greedy_match, c.greedy_len);
	assert_true(c.max_abs <= tol);
	if (exact) {
		assert_int_equal(c.top1_agree, c.positions);
		assert_int_equal(c.greedy_match, c.greedy_len);
	} else {
		assert_true(c.top1_agree * 10 >= c.positions * 9);
	}
	llm_free(m);
	cJSON_Delete(j);
	unlink(out);
}

static void test_qwen25(void **state)
{
	check("qwen25", "f32", 1e-5, 1);
	check("qwen25", "bf16", 1e-5, 1);
	check("qwen25", "f16", 1e-5, 1);
	check("qwen25", "q8_0", 0.1, 0);
}

static void test_qwen3(void **state)
{
	check("qwen3", "f32", 1e-5, 1);
	check("qwen3", "bf16", 1e-5, 1);
	check("qwen3", "q8_0", 0.1, 0);
}

static void test_smollm2(void **state)
{
	check("smollm2", "f32", 1e-5, 1);
	check("smollm2", "bf16", 1e-5, 1);
	check("smollm2", "f16", 1e-5, 1);
}

static void test_errors(void **state)
{
	char *a1[] = {"convert", "/nonexistent", "--out", "/tmp/x.gguf", NULL};
	assert_int_equal(cli_llm_convert(4, a1), 1);
	char *a2[] = {"convert", "/tmp", "--type", "q4_K", "--out", "/tmp/x.gguf", NULL};
	assert_int_equal(cli_llm_convert(6, a2), 2);
	char *a3[] = {"convert", "--out", NULL};
	assert_int_equal(cli_llm_convert(2, a3), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qwen25),
		cmocka_unit_test(test_qwen3),
		cmocka_unit_test(test_smollm2),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
