/* tests/llm/test_gguf.c — the GGUF reader refuses malformed files cleanly:
 * every truncation of a valid file, corrupted header fields, bad metadata,
 * bad tensor infos (types, dimensions, offsets, overlaps), split files; and
 * llm_load() refuses models whose shapes do not add up.  Each failure must
 * name the field (and offset) and never crash (the tests run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "local_llm/gguf.h"
#include "local_llm/gguf_write.h"
#include "local_llm/llm.h"
#include "local_llm/mkmodel.h"
#include "tests/llm/llm_test_util.h"

/* A small valid file: 2 metadata entries, 2 tensors. */
static void small(uint8_t **buf, size_t *len)
{
	gguf_w *w = gguf_w_new();
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_u32(w, "general.alignment", 32);
	const char *arr[] = {"a", "bc"};
	gguf_w_str_arr(w, "tokenizer.ggml.tokens", arr, NULL, 2);
	float a[64], b[32];
	for (int i = 0; i < 64; i++)
		a[i] = (float)i;
	for (int i = 0; i < 32; i++)
		b[i] = -(float)i;
	int64_t ne_a[2] = {32, 2}, ne_b[1] = {32};
	assert_int_equal(gguf_w_tensor(w, "wa", LLM_TYPE_F32, 2, ne_a, a), 0);
	assert_int_equal(gguf_w_tensor(w, "wb", LLM_TYPE_F32, 1, ne_b, b), 0);
	assert_int_equal(gguf_w_to_mem(w, buf, len), 0);
	gguf_w_free(w);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the first occurrence of n bytes s in buf. */
static size_t findn(const uint8_t *buf, size_t len, const char *s, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(buf + i, s, n))
			return i;
	fail_msg("\"%s\" not in the file", s);
	return 0;
}

static size_t find(const uint8_t *buf, size_t len, const char *s)
{
	return findn(buf, len, s, strlen(s));
}

static void expect_fail(const uint8_t *buf, size_t len, const char *needle)
{
	gguf_file f;
	char err[512];
	int rc = gguf_parse(buf, len, &f, err, sizeof err);
	if (rc == 0) {
		gguf_close(&f);
		fail_msg("accepted a malformed file (expected an error mentioning \"%s\")", needle);
	}
	if (needle && !strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	assert_non_null(strstr(err, "offset "));
}

static void test_valid(void **state)
{
	uint8_t *buf;
	size_t len;
	small(&buf, &len);
	gguf_file f;
	char err[512];
	assert_int_equal(gguf_parse(buf, len, &f, err, sizeof err), 0);
	assert_int_equal(f.n_kv, 3);
	assert_int_equal(f.n_tensors, 2);
	const llm_tensor *a = gguf_tensor(&f, "wa"), *b = gguf_tensor(&f, "wb");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->ne[0], 32);
	assert_int_equal(a->ne[1], 2);
	assert_int_equal(((const float *)a->data)[63], 63);
	assert_int_equal(((const float *)b->data)[5], -5);
	assert_int_equal((uintptr_t)a->data % 32, (uintptr_t)buf % 32);
	gguf_str s;
	assert_int_equal(gguf_get_str(&f, "general.architecture", &s), 0);
	assert_int_equal(s.len, 5);
	int64_t v;
	assert_int_equal(gguf_get_int(&f, "general.alignment", &v), 0);
	assert_int_equal(v, 32);
	assert_int_equal(gguf_get_int(&f, "general.architecture", &v), -2);
	assert_int_equal(gguf_get_int(&f, "nope", &v), -1);
	const gguf_kv *kv = gguf_find(&f, "tokenizer.ggml.tokens");
	assert_non_null(kv);
	assert_int_equal(kv->arr_n, 2);
	assert_int_equal(kv->arr_str[1].len, 2);
	gguf_close(&f);
	free(buf);
}

static void test_every_truncation(void **state)
{
	uint8_t *buf;
	size_t len;
	small(&buf, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);	/* exact size: ASan sees any overread */
		memcpy(cut, buf, n);
		expect_fail(cut, n, NULL);
		free(cut);
	}
	free(buf);
}

static void test_header_fields(void **state)
{
	uint8_t *buf;
	size_t len;
	small(&buf, &len);
	uint8_t *b = malloc(len);
#define FRESH() memcpy(b, buf, len)
	FRESH(); b[0] = 'X'; expect_fail(b, len, "magic");
	FRESH(); put32(b + 4, 2); expect_fail(b, len, "version");
	FRESH(); put32(b + 4, 4); expect_fail(b, len, "version");
	FRESH(); put64(b + 8, 1ull << 40); expect_fail(b, len, "tensor_count");
	FRESH(); put64(b + 16, 1ull << 40); expect_fail(b, len, "kv_count");
	FRESH(); put64(b + 16, 1000); expect_fail(b, len, NULL);	/* runs off the end */
	FRESH(); put64(b + 24, 1ull << 62); expect_fail(b, len, "metadata key");	/* key length */
	FRESH(); put64(b + 24, 0); expect_fail(b, len, "metadata key");
	/* value type of the first entry */
	size_t t = 24 + 8 + strlen("general.architecture");
	FRESH(); put32(b + t, 99); expect_fail(b, len, "unknown value type");
	/* string value length */
	FRESH(); put64(b + t + 4, len); expect_fail(b, len, "general.architecture");
	/* alignment: not a power of two, zero */
	size_t al = find(buf, len, "general.alignment") + strlen("general.alignment") + 4;
	FRESH(); put32(b + al, 3); expect_fail(b, len, "general.alignment");
	FRESH(); put32(b + al, 0); expect_fail(b, len, "general.alignment");
	/* array element type and count */
	size_t ar = find(buf, len, "tokenizer.ggml.tokens") + strlen("tokenizer.ggml.tokens") + 4;
	FRESH(); put32(b + ar, 9); expect_fail(b, len, "nested arrays");
	FRESH(); put32(b + ar, 77); expect_fail(b, len, "array element type");
	FRESH(); put64(b + ar + 4, 1ull << 30); expect_fail(b, len, "limit");
	FRESH(); put64(b + ar + 4, 1000000); expect_fail(b, len, "strings cannot fit");
	free(b);
	/* duplicate key */
	gguf_w *w = gguf_w_new();
	gguf_w_u32(w, "x.y", 1);
	gguf_w_u32(w, "a.b", 2);
	gguf_w_u32(w, "x.y", 3);
	uint8_t *d;
	size_t dl;
	assert_int_equal(gguf_w_to_mem(w, &d, &dl), 0);
	gguf_w_free(w);
	expect_fail(d, dl, "duplicate metadata key");
	free(d);
	free(buf);
}

static void test_tensor_infos(void **state)
{
	uint8_t *buf;
	size_t len;
	small(&buf, &len);
	uint8_t *b = malloc(len);
	/* tensor "wa": name (8+2) then n_dims, ne[2], type, offset */
	size_t ta = findn(buf, len, "\x02\0\0\0\0\0\0\0wa", 10) + 10;
	size_t tb = findn(buf + ta, len - ta, "\x02\0\0\0\0\0\0\0wb", 10) + ta + 10;
	FRESH(); put32(b + ta, 0); expect_fail(b, len, "n_dims");
	FRESH(); put32(b + ta, 5); expect_fail(b, len, "n_dims");
	FRESH(); put64(b + ta + 4, 0); expect_fail(b, len, "dimension 0");
	FRESH(); put64(b + ta + 4, 1ull << 41); expect_fail(b, len, "dimension 0");
	FRESH(); put64(b + ta + 12, 1ull << 39); expect_fail(b, len, NULL);	/* product too large */
	FRESH(); put32(b + ta + 20, 99); expect_fail(b, len, "unknown tensor type");
	FRESH(); put32(b + ta + 20, LLM_TYPE_Q4_K); expect_fail(b, len, "multiple of");
	FRESH(); put64(b + ta + 24, 7); expect_fail(b, len, "alignment");
	FRESH(); put64(b + ta + 24, 1ull << 50); expect_fail(b, len, "outside");
	FRESH(); put64(b + tb + 16, 0); expect_fail(b, len, "overlaps");	/* wb at wa's offset */
	FRESH(); put64(b + tb + 16, 224); expect_fail(b, len, "overlaps");
	FRESH(); put64(b + ta + 12, 3); expect_fail(b, len, NULL);	/* a grows into b / past the end */
	FRESH(); b[tb - 1] = 'a'; expect_fail(b, len, "duplicate tensor name");
	free(b);
	free(buf);
#undef FRESH
}

/* Random byte flips of a real (mkmodel) model: never a crash, any error is
 * clean; llm_load on the mutated file either works or reports. */
static void test_flips_and_load(void **state)
{
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	o.n_layer = 1;
	o.n_embd = 32;
	o.n_ff = 32;
	char path[256], mut[256], err[512];
	tu_tmpname(path, sizeof path, ".gguf");
	tu_tmpname(mut, sizeof mut, ".gguf");
	assert_int_equal(llm_mkmodel(&o, path, err, sizeof err), 0);
	size_t len;
	uint8_t *orig = (uint8_t *)tu_read(path, &len);
	assert_non_null(orig);
	uint64_t s = 99;
	int loaded = 0, refused = 0;
	for (int it = 0; it < 60; it++) {
		uint8_t *b = malloc(len);
		memcpy(b, orig, len);
		for (int k = 0; k < 4; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			size_t at = (size_t)((s >> 33) % (len < 8192 ? len : 8192));	/* headers live up front */
			b[at] ^= (uint8_t)(1u << ((s >> 20) & 7));
		}
		FILE *f = fopen(mut, "wb");
		fwrite(b, 1, len, f);
		fclose(f);
		llm_load_opts lo;
		llm_load_opts_init(&lo);
		lo.backend = LLM_BACKEND_CPU;
		lo.n_ctx = 32;
		lo.n_threads = 1;
		llm_error e;
		llm_model *m = llm_load(mut, &lo, &e);
		if (m) {
			int32_t t[4] = {1, 2, 3, 4};
			float *lg = malloc(65536 * sizeof *lg);
			llm_info in;
			llm_get_info(m, &in);
			if (in.n_vocab <= 65536)
				llm_eval(m, t, 4, 0, 0, lg);
			free(lg);
			llm_free(m);
			loaded++;
		} else {
			assert_true(strlen(e.msg) > 0);
			assert_non_null(strstr(e.msg, mut));
			refused++;
		}
		free(b);
	}
	printf("flipped files: %d loaded, %d refused\n", loaded, refused);
	assert_true(refused > 0);
	free(orig);
	unlink(path);
	unlink(mut);
}

static void test_split_and_missing(void **state)
{
	llm_error e;
	llm_model *m = llm_load("/tmp/no-such-model-00001-of-00003.gguf", NULL, &e);
	assert_null(m);
	assert_non_null(strstr(e.msg, "split"));
	m = llm_load("/nonexistent/model.gguf", NULL, &e);
	assert_null(m);
	assert_non_null(strstr(e.msg, "No such file"));
	/* split.count in the metadata */
	gguf_w *w = gguf_w_new();
	gguf_w_u32(w, "split.count", 3);
	uint8_t *buf;
	size_t len;
	assert_int_equal(gguf_w_to_mem(w, &buf, &len), 0);
	gguf_w_free(w);
	gguf_file f;
	char err[512];
	assert_int_equal(gguf_parse(buf, len, &f, err, sizeof err), -1);
	assert_non_null(strstr(err, "split"));
	free(buf);
}

/* Model-level checks: a file that is valid GGUF but not a usable model. */
static void test_model_shapes(void **state)
{
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	o.n_layer = 1;
	o.n_embd = 32;
	o.n_ff = 32;
	char path[256], err[512];
	tu_tmpname(path, sizeof path, ".gguf");
	assert_int_equal(llm_mkmodel(&o, path, err, sizeof err), 0);
	gguf_file f;
	assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
	/* rewrite the file without blk.0.ffn_up.weight, then with a wrong arch */
	for (int variant = 0; variant < 3; variant++) {
		gguf_w *w = gguf_w_new();
		for (uint32_t i = 0; i < f.n_kv; i++) {
			if (variant == 1 && !strcmp(f.kv[i].key, "general.architecture")) {
				gguf_w_str(w, "general.architecture", "gpt-j");
				continue;
			}
			if (variant == 2 && !strcmp(f.kv[i].key, "qwen2.attention.head_count_kv")) {
				gguf_w_u32(w, "qwen2.attention.head_count_kv", 3);
				continue;
			}
			gguf_w_raw_kv(w, f.buf + f.kv[i].offset, f.kv[i].end - f.kv[i].offset);
		}
		for (uint32_t i = 0; i < f.n_tensors; i++) {
			const llm_tensor *t = &f.tensors[i];
			if (variant == 0 && !strcmp(t->name, "blk.0.ffn_up.weight"))
				continue;
			gguf_w_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
		}
		char p2[256];
		tu_tmpname(p2, sizeof p2, ".gguf");
		assert_int_equal(gguf_w_write(w, p2, err, sizeof err), 0);
		gguf_w_free(w);
		llm_error e;
		llm_model *m = llm_load(p2, NULL, &e);
		assert_null(m);
		const char *want[] = {"blk.0.ffn_up.weight: missing", "gpt-j", "head_count"};
		if (!strstr(e.msg, want[variant]))
			fail_msg("error \"%s\" lacks \"%s\"", e.msg, want[variant]);
		unlink(p2);
	}
	gguf_close(&f);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_tensor_infos),
		cmocka_unit_test(test_split_and_missing),
		cmocka_unit_test(test_model_shapes),
		cmocka_unit_test(test_flips_and_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
