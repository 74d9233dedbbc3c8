/* tests/kernels/test_cuda_fallback.c — the CUDA backend on a machine without
 * a usable GPU (CI, this box), or in a build without nvcc: creating it fails
 * cleanly with a reason (never a crash, nothing printed), `--backend cuda`
 * fails at load with that reason, and `auto` falls back to the CPU path and
 * still computes.  On a machine with a GPU the CUDA cases are skipped here
 * (tests/gpu/ covers them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local_llm/llm.h"
#include "local_llm/llm_internal.h"
#include "local_llm/mkmodel.h"

static char model_path[256];

static int has_gpu(void)
{
	return access("/dev/nvidia0", F_OK) == 0 || access("/dev/nvidiactl", F_OK) == 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(model_path, sizeof model_path, "/tmp/vigil-cudafb-%d.gguf", (int)getpid());
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	o.type = LLM_TYPE_Q8_0;
	char err[256];
	return llm_mkmodel(&o, model_path, err, sizeof err) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	remove(model_path);
	return 0;
}

/* The hook itself: -1, ctx NULL, a reason that names the cause. */
static void test_create_fails_cleanly(void **state)
{
	(void)state;
	if (has_gpu()) {
		printf("SKIP: a GPU is present; tests/gpu covers the backend\n");
		skip();
	}
	llm_config c;
	memset(&c, 0, sizeof c);
	c.arch = LLM_ARCH_QWEN2;
	c.n_layer = 1;
	c.n_embd = 64;
	c.n_head = 4;
	c.n_head_kv = 2;
	c.head_dim = 16;
	c.n_ff = 128;
	c.n_vocab = 300;
	c.rope_theta = 10000.f;
	c.rms_eps = 1e-6f;
	llm_weights w;
	memset(&w, 0, sizeof w);
	llm_backend_ops ops;
	memset(&ops, 0, sizeof ops);
	void *ctx = (void *)&ops;
	char err[256] = "";
	assert_int_equal(llm_cuda_backend_create(&c, &w, 128, &ops, &ctx, err, sizeof err), -1);
	assert_null(ctx);
	assert_non_null(strstr(err, "cuda backend: "));
	assert_true(strstr(err, "no CUDA device") != NULL || strstr(err, "built without CUDA") != NULL);
	/* twice: no state left behind by the first failure */
	assert_int_equal(llm_cuda_backend_create(&c, &w, 128, &ops, &ctx, err, sizeof err), -1);
}

static void test_load_cuda_refused(void **state)
{
	(void)state;
	if (has_gpu()) {
		printf("SKIP: a GPU is present; tests/gpu covers the backend\n");
		skip();
	}
	llm_load_opts o;
	llm_load_opts_init(&o);
	o.backend = LLM_BACKEND_CUDA;
	llm_error e;
	memset(&e, 0, sizeof e);
	llm_model *m = llm_load(model_path, &o, &e);
	assert_null(m);
	assert_true(strstr(e.msg, "no CUDA device") != NULL || strstr(e.msg, "built without CUDA") != NULL);
}

/* auto: the CPU path, and it computes the same logits as an explicit cpu load. */
static void test_auto_falls_back(void **state)
{
	(void)state;
	llm_load_opts o;
	llm_load_opts_init(&o);
	o.n_threads = 2;
	llm_error e;
	llm_model *a = llm_load(model_path, &o, &e);
	assert_non_null(a);
	o.backend = LLM_BACKEND_CPU;
	llm_model *c = llm_load(model_path, &o, &e);
	assert_non_null(c);
	llm_info ia;
	llm_get_info(a, &ia);
	if (!has_gpu()) assert_string_equal(ia.backend, "cpu");
	int32_t toks[4] = {1, 2, 3, 4};
	float *la = malloc(sizeof(float) * ia.n_vocab), *lc = malloc(sizeof(float) * ia.n_vocab);
	assert_int_equal(llm_eval(a, toks, 4, 0, 0, la), 0);
	assert_int_equal(llm_eval(c, toks, 4, 0, 0, lc), 0);
	if (!has_gpu()) assert_memory_equal(la, lc, sizeof(float) * ia.n_vocab);
	free(la);
	free(lc);
	llm_free(a);
	llm_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_fails_cleanly),
		cmocka_unit_test(test_load_cuda_refused),
		cmocka_unit_test(test_auto_falls_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
