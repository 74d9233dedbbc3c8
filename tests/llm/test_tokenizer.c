/* tests/llm/test_tokenizer.c — the byte-level BPE tokenizer.
 *   - Qwen2 vocabulary (../shared/models/qwen2-tokenizer, skipped when
 *     absent): identical ids to Hugging Face on the 2 357-string corpus in
 *     fixtures/ (ids made by tests/llm/make-fixtures.py) and on llama.cpp's
 *     46 test vectors; exact byte round trip;
 *   - the built-in mkmodel vocabulary: round trip, special tokens on/off,
 *     invalid UTF-8, streaming pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "local_llm/gguf.h"
#include "local_llm/gguf_write.h"
#include "local_llm/mkmodel.h"
#include "local_llm/tokenizer.h"
#include "tests/llm/llm_test_util.h"

/* ---- Qwen2 vocabulary from the shared Hugging Face files --------------------------- */

typedef struct qwen {
	uint8_t *gguf;
	size_t len;
	gguf_file f;
	llm_tok *tok;
} qwen;

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Builds a GGUF holding only the tokenizer, from vocab.json, merges.txt and
 * tokenizer_config.json's added tokens.  Returns 0, or -1 when absent. */
static int qwen_build(qwen *q)
{
	char dir[1024], path[1200];
	snprintf(dir, sizeof dir, "%s/../shared/models/qwen2-tokenizer", tu_root());
	snprintf(path, sizeof path, "%s/vocab.json", dir);
	char *vj = tu_read(path, NULL);
	if (!vj)
		return -1;
	snprintf(path, sizeof path, "%s/merges.txt", dir);
	size_t ml;
	char *mt = tu_read(path, &ml);
	snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
	char *cj = tu_read(path, NULL);
	assert_non_null(mt);
	assert_non_null(cj);
	cJSON *vocab = cJSON_Parse(vj), *cfg = cJSON_Parse(cj);
	assert_non_null(vocab);
	assert_non_null(cfg);
	int n = 0;
	for (cJSON *e = vocab->child; e; e = e->next)
		if (e->valueint + 1 > n)
			n = e->valueint + 1;
	cJSON *added = cJSON_GetObjectItem(cfg, "added_tokens_decoder");
	for (cJSON *e = added ? added->child : NULL; e; e = e->next)
		if (atoi(e->string) + 1 > n)
			n = atoi(e->string) + 1;
	const char **toks = calloc((size_t)n, sizeof *toks);
	int32_t *types = calloc((size_t)n, sizeof *types);
	for (cJSON *e = vocab->child; e; e = e->next) {
		toks[e->valueint] = e->string;
		types[e->valueint] = 1;
	}
	for (cJSON *e = added ? added->child : NULL; e; e = e->next) {
		int id = atoi(e->string);
		toks[id] = cJSON_GetObjectItem(e, "content")->valuestring;
		types[id] = cJSON_IsTrue(cJSON_GetObjectItem(e, "special")) ? 3 : 4;
	}
	for (int i = 0; i < n; i++)
		assert_non_null(toks[i]);
	/* merges: one per line, skipping a "#version" header */
	int nm = 0, cap = 1 << 18;
	const char **merges = malloc((size_t)cap * sizeof *merges);
	for (char *p = mt, *e; p < mt + ml; p = e + 1) {
		e = memchr(p, '\n', (size_t)(mt + ml - p));
		if (!e)
			e = mt + ml;
		*e = 0;
		if (*p && strncmp(p, "#version", 8))
			merges[nm++] = p;
	}
	gguf_w *w = gguf_w_new();
	gguf_w_str(w, "general.architecture", "qwen2");
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_str(w, "tokenizer.ggml.pre", "qwen2");
	gguf_w_str_arr(w, "tokenizer.ggml.tokens", toks, NULL, (uint64_t)n);
	gguf_w_i32_arr(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
	gguf_w_str_arr(w, "tokenizer.ggml.merges", merges, NULL, (uint64_t)nm);
	assert_int_equal(gguf_w_to_mem(w, &q->gguf, &q->len), 0);
	gguf_w_free(w);
	char err[512];
	assert_int_equal(gguf_parse(q->gguf, q->len, &q->f, err, sizeof err), 0);
	int rc = llm_tok_create(&q->f, &q->tok, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	free(toks);
	free(types);
	free(merges);
	cJSON_Delete(vocab);
	cJSON_Delete(cfg);
	free(vj);
	free(mt);
	free(cj);
	(void)cmp_int;
	return 0;
}

static void qwen_free(qwen *q)
{
	llm_tok_free(q->tok);
	gguf_close(&q->f);
	free(q->gguf);
}

static void test_qwen2_corpus(void **state)
{
	qwen q = {0};
	if (qwen_build(&q) < 0) {
		printf("SKIP: ../shared/models/qwen2-tokenizer is absent; Qwen2 tokenizer parity not checked\n");
		skip();
	}
	cJSON *corpus = tu_json("tok_corpus.json"), *want = tu_json("tok_qwen2.json");
	assert_non_null(corpus);
	assert_non_null(want);
	int n = cJSON_GetArraySize(corpus), bad = 0, total = 0, roundtrip_bad = 0;
	assert_true(n >= 2000);
	assert_int_equal(n, cJSON_GetArraySize(want));
	int32_t ids[8192];
	char back[65536];
	for (int i = 0; i < n; i++) {
		size_t len;
		unsigned char *s = tu_unhex(cJSON_GetArrayItem(corpus, i)->valuestring, &len);
		cJSON *w = cJSON_GetArrayItem(want, i);
		int k = llm_tok_encode(q.tok, (const char *)s, len, 1, ids, 8192);
		int ok = k == cJSON_GetArraySize(w);
		for (int j = 0; ok && j < k; j++)
			ok = ids[j] == cJSON_GetArrayItem(w, j)->valueint;
		if (!ok && bad++ < 5) {
			printf("mismatch on string %d (%zu bytes): got %d tokens, want %d\n", i, len, k,
			       cJSON_GetArraySize(w));
			for (int j = 0; j < k && j < 40; j++)
				printf(" %d", ids[j]);
			printf("\n");
			for (int j = 0; j < cJSON_GetArraySize(w) && j < 40; j++)
				printf(" %d", cJSON_GetArrayItem(w, j)->valueint);
			printf("\n");
		}
		/* round trip: exact for valid UTF-8 */
		size_t o = 0;
		for (int j = 0; j < k; j++) {
			int l = llm_tok_piece(q.tok, ids[j], back + o, sizeof back - o);
			assert_true(l >= 0);
			o += (size_t)l;
		}
		int valid = 1;
		for (size_t j = 0; j < len; j++)	/* the corpus' invalid strings carry these */
			if (s[j] >= 0x80) {
				valid = 0;
				break;
			}
		if (valid && (o != len || memcmp(back, s, len)))
			roundtrip_bad++;
		total += k;
		free(s);
	}
	printf("qwen2 corpus: %d strings, %d tokens, %d mismatches, %d ascii round-trip failures\n", n, total,
	       bad, roundtrip_bad);
	assert_int_equal(bad, 0);
	assert_int_equal(roundtrip_bad, 0);
	cJSON_Delete(corpus);
	cJSON_Delete(want);
	qwen_free(&q);
}

/* llama.cpp's vocabulary test vectors for Qwen2 (inputs split on the
 * separator line; one line of ids per input). */
static void test_qwen2_vectors(void **state)
{
	qwen q = {0};
	if (qwen_build(&q) < 0) {
		printf("SKIP: ../shared/models/qwen2-tokenizer is absent\n");
		skip();
	}
	char p1[1200], p2[1200];
	snprintf(p1, sizeof p1, "%s/../shared/models/qwen2-tokenizer/test-vectors/ggml-vocab-qwen2.gguf.inp", tu_root());
	snprintf(p2, sizeof p2, "%s/../shared/models/qwen2-tokenizer/test-vectors/ggml-vocab-qwen2.gguf.out", tu_root());
	size_t il, ol;
	char *in = tu_read(p1, &il), *out = tu_read(p2, &ol);
	if (!in || !out) {
		printf("SKIP: llama.cpp test vectors absent\n");
		free(in);
		free(out);
		qwen_free(&q);
		skip();
	}
	const char *sep = "\n__ggml_vocab_test__\n";
	char *p = in, *o = out;
	int count = 0;
	int32_t ids[4096];
	for (;;) {
		char *e = strstr(p, sep);
		if (!e)
			break;
		char *ol_end = strchr(o, '\n');
		assert_non_null(ol_end);
		*ol_end = 0;
		int k = llm_tok_encode(q.tok, p, (size_t)(e - p), 0, ids, 4096);
		char got[16384];
		size_t g = 0;
		got[0] = 0;
		for (int j = 0; j < k; j++)
			g += (size_t)snprintf(got + g, sizeof got - g, "%s%d", j ? " " : "", ids[j]);
		/* the .out lines have a leading space before each id */
		char *w = o;
		while (*w == ' ')
			w++;
		if (strcmp(got, w))
			printf("vector %d: got [%s] want [%s]\n", count, got, w);
		assert_string_equal(got, w);
		count++;
		p = e + strlen(sep);
		o = ol_end + 1;
	}
	assert_true(count >= 40);
	/* ChatML with special tokens */
	const char *chat = "<|im_start|>user\na red fox sits under a cherry blossom tree<|im_end|>\n"
	                   "<|im_start|>assistant\n";
	const int32_t want[] = {151644, 872, 198, 64, 2518, 38835, 23011, 1212, 264, 40880, 88758,
	                        4916, 151645, 198, 151644, 77091, 198};
	int k = llm_tok_encode(q.tok, chat, strlen(chat), 1, ids, 4096);
	assert_int_equal(k, (int)(sizeof want / sizeof *want));
	assert_memory_equal(ids, want, sizeof want);
	/* the same text with specials off never yields a special id */
	k = llm_tok_encode(q.tok, chat, strlen(chat), 0, ids, 4096);
	for (int j = 0; j < k; j++)
		assert_true(ids[j] < 151643);
	free(in);
	free(out);
	qwen_free(&q);
}

/* ---- the built-in vocabulary --------------------------------------------------------- */

typedef struct mk {
	char path[256];
	gguf_file f;
	llm_tok *tok;
} mk;

static void mk_open(mk *m, const char *arch)
{
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	o.arch = arch;
	o.n_layer = 1;
	o.n_embd = 32;
	o.n_ff = 32;
	char err[512];
	tu_tmpname(m->path, sizeof m->path, ".gguf");
	assert_int_equal(llm_mkmodel(&o, m->path, err, sizeof err), 0);
	assert_int_equal(gguf_open(m->path, &m->f, err, sizeof err), 0);
	assert_int_equal(llm_tok_create(&m->f, &m->tok, err, sizeof err), 0);
}

static void mk_close(mk *m)
{
	llm_tok_free(m->tok);
	gguf_close(&m->f);
	unlink(m->path);
}

static int encode_decode(const llm_tok *t, const char *s, size_t len, int special, char *out, size_t cap)
{
	int32_t ids[4096];
	int k = llm_tok_encode(t, s, len, special, ids, 4096);
	assert_true(k >= 0 && k <= 4096);
	size_t o = 0;
	for (int i = 0; i < k; i++) {
		int l = llm_tok_piece(t, ids[i], out + o, cap - o);
		assert_true(l >= 0 && (size_t)l <= cap - o);
		o += (size_t)l;
	}
	return (int)o;
}

static void test_roundtrip_builtin(void **state)
{
	const char *archs[] = {"qwen2", "llama"};
	for (int a = 0; a < 2; a++) {
		mk m;
		mk_open(&m, archs[a]);
		const char *cases[] = {
			"", " ", "Hello world", "the cron job failed with exit code 2",
			"  leading and trailing  ", "tabs\tand\nnewlines\r\n", "naïve café 日本語 🚀",
			"1234567890 3.14159", "<|im_start|>user\nhi<|im_end|>", "{\"slug\": \"backup\"}",
		};
		char out[4096];
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
			int n = encode_decode(m.tok, cases[i], strlen(cases[i]), 1, out, sizeof out);
			assert_int_equal(n, (int)strlen(cases[i]));
			assert_memory_equal(out, cases[i], (size_t)n);
			n = encode_decode(m.tok, cases[i], strlen(cases[i]), 0, out, sizeof out);
			assert_int_equal(n, (int)strlen(cases[i]));
		}
		/* all 256 bytes one by one where valid; every printable ascii string */
		char s[128];
		for (int c = 1; c < 128; c++)
			s[c - 1] = (char)c;
		int n = encode_decode(m.tok, s, 127, 0, out, sizeof out);
		assert_int_equal(n, 127);
		assert_memory_equal(out, s, 127);
		mk_close(&m);
	}
}

static void test_specials(void **state)
{
	mk m;
	mk_open(&m, "qwen2");
	int32_t start = llm_tok_lookup(m.tok, "<|im_start|>"), end = llm_tok_lookup(m.tok, "<|im_end|>");
	assert_true(start > 0 && end > 0);
	assert_true(llm_tok_is_special(m.tok, start));
	assert_false(llm_tok_is_special(m.tok, 'a' - 33 >= 0 ? llm_tok_lookup(m.tok, "a") : 0));
	int32_t ids[64];
	const char *s = "<|im_start|>user<|im_end|>";
	int k = llm_tok_encode(m.tok, s, strlen(s), 1, ids, 64);
	assert_true(k >= 3);
	assert_int_equal(ids[0], start);
	assert_int_equal(ids[k - 1], end);
	k = llm_tok_encode(m.tok, s, strlen(s), 0, ids, 64);
	for (int i = 0; i < k; i++)
		assert_false(llm_tok_is_special(m.tok, ids[i]));
	/* cap smaller than needed: the count is still the full count */
	int full = llm_tok_encode(m.tok, s, strlen(s), 0, NULL, 0);
	assert_int_equal(full, k);
	mk_close(&m);
}

static void test_invalid_utf8(void **state)
{
	mk m;
	mk_open(&m, "qwen2");
	/* each maximal invalid subpart becomes one U+FFFD (as Python's errors="replace") */
	struct { const char *in; size_t n; const char *out; } cases[] = {
		{"a\x80" "b", 3, "a\xef\xbf\xbd" "b"},
		{"\xe2\x82", 2, "\xef\xbf\xbd"},
		{"\xe2\x82" "a", 3, "\xef\xbf\xbd" "a"},
		{"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
		{"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
		{"ok\xf4\x90\x80\x80", 6, "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	};
	char out[256];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int n = encode_decode(m.tok, cases[i].in, cases[i].n, 1, out, sizeof out);
		assert_int_equal(n, (int)strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, (size_t)n);
	}
	/* embedded NUL bytes are ordinary bytes */
	int n = encode_decode(m.tok, "a\0b", 3, 1, out, sizeof out);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a\0b", 3);
	mk_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_builtin),
		cmocka_unit_test(test_specials),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_qwen2_vectors),
		cmocka_unit_test(test_qwen2_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
