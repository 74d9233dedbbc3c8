/* tests/llm/test_model.c — the forward pass against Hugging Face transformers
 * on small models written by `vigil llm mkmodel` (fixtures/mk_*.json, made
 * by tests/llm/make-fixtures.py: transformers loads the same GGUF files).
 *
 * Tolerances, per weight type (absolute error on the reference's top-8
 * logits at the fixture's positions, logits of size ~1-10):
 *   f32: 1e-4 (~2e-6 relative; measured 6e-5); f16/bf16: 1e-3 (the
 *   weights are the same numbers, only the summation order differs);
 *   quantized types: top-1 identical everywhere and 1e-2 (16-bit
 *   activations against transformers' float32 ones).
 * Greedy continuations (64 tokens) must be identical for f32/f16/bf16. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "local_llm/llm.h"
#include "local_llm/llm_internal.h"
#include "local_llm/mkmodel.h"
#include "local_llm/quant.h"
#include "tests/llm/llm_test_util.h"

static int type_of(const char *s)
{
	for (int t = 0; t < LLM_TYPE_COUNT; t++)
		if (llm_type_name(t) && !strcmp(llm_type_name(t), s))
			return t;
	return -1;
}

/* Rebuilds the model named by a fixture's "args" (the mkmodel options). */
static void build(cJSON *args, const char *path)
{
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	int n = cJSON_GetArraySize(args);
	for (int i = 0; i < n; i++) {
		const char *a = cJSON_GetArrayItem(args, i)->valuestring;
		if (!strcmp(a, "--untied")) {
			o.tied = 0;
			continue;
		}
		const char *v = cJSON_GetArrayItem(args, ++i)->valuestring;
		if (!strcmp(a, "--arch")) o.arch = v;
		else if (!strcmp(a, "--layers")) o.n_layer = atoi(v);
		else if (!strcmp(a, "--embd")) o.n_embd = atoi(v);
		else if (!strcmp(a, "--heads")) o.n_head = atoi(v);
		else if (!strcmp(a, "--kv-heads")) o.n_head_kv = atoi(v);
		else if (!strcmp(a, "--head-dim")) o.head_dim = atoi(v);
		else if (!strcmp(a, "--ff")) o.n_ff = atoi(v);
		else if (!strcmp(a, "--type")) o.type = type_of(v);
		else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
		else fail_msg("fixture option %s not understood", a);
	}
	char err[512];
	int rc = llm_mkmodel(&o, path, err, sizeof err);
	if (rc)
		fail_msg("mkmodel: %s", err);
}

static void check_fixture(const char *name, int threads)
{
	cJSON *j = tu_json(name);
	if (!j)
		fail_msg("fixture %s missing (tests/llm/make-fixtures.py writes it)", name);
	char path[256];
	tu_tmpname(path, sizeof path, ".gguf");
	build(cJSON_GetObjectItem(j, "args"), path);
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	lo.backend = LLM_BACKEND_CPU;
	lo.n_threads = threads;
	lo.n_ctx = 128;
	llm_error e;
	llm_model *m = llm_load(path, &lo, &e);
	if (!m)
		fail_msg("%s", e.msg);
	tu_cmp c = {0};
	assert_int_equal(tu_compare(m, j, 64, &c), 0);
	int quant = !strstr(name, "_f32") && !strstr(name, "_f16") && !strstr(name, "_bf16");
	double tol = strstr(name, "_f32") ? 1e-4 : quant ? 1e-2 : 1e-3;
	printf("%-22s threads %d: max abs err %.2e (rel %.2e), top-1 %d/%d, greedy %d/%d\n", name, threads,
	       c.max_abs, c.max_rel, c.top1_agree, c.positions, c.greedy_match, c.greedy_len);
	assert_true(c.max_abs <= tol);
	assert_int_equal(c.top1_agree, c.positions);
	assert_int_equal(c.greedy_match, c.greedy_len);
	llm_free(m);
	unlink(path);
	cJSON_Delete(j);
}

static const char *fixtures[] = {
	"mk_qwen2_f32.json", "mk_qwen2_f16.json", "mk_qwen2_bf16.json", "mk_qwen2_q8_0.json",
	"mk_qwen2_q4_0.json", "mk_qwen2_q4_1.json", "mk_qwen2_q5_0.json", "mk_qwen2_q4_K.json",
	"mk_qwen2_q6_K.json", "mk_llama_f32.json", "mk_llama_f16.json", "mk_llama_q4_K.json",
	"mk_qwen3_f32.json", "mk_qwen3_bf16.json", "mk_qwen3_q8_0.json",
};

static void test_parity(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
		check_fixture(fixtures[i], 2);
}

/* The same numbers with one thread and with the portable kernels. */
static void test_parity_threads(void **state)
{
	(void)state;
	check_fixture("mk_qwen2_f32.json", 1);
	check_fixture("mk_qwen2_q4_K.json", 3);
	check_fixture("mk_llama_f16.json", 4);
	llm_cpu_force_generic(1);
	check_fixture("mk_qwen2_q4_K.json", 2);
	check_fixture("mk_qwen3_bf16.json", 2);
	llm_cpu_force_generic(0);
}

/* Every quantized fixture at each kernel level below the best (test_parity
 * ran the best): the batched products differ by level. */
static void test_parity_levels(void **state)
{
	(void)state;
	int best = llm_cpu_set_level(-1);
	for (int lv = LLM_CPU_AVX2; lv < best; lv++) {
		llm_cpu_set_level(lv);
		printf("kernels %s\n", llm_cpu_level_name(lv));
		for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
			if (!strstr(fixtures[i], "_f32") && !strstr(fixtures[i], "_f16") && !strstr(fixtures[i], "_bf16"))
				check_fixture(fixtures[i], 2);
	}
	llm_cpu_set_level(-1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parity),
		cmocka_unit_test(test_parity_threads),
		cmocka_unit_test(test_parity_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
