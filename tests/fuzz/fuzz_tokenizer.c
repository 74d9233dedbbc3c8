/* tests/fuzz/fuzz_tokenizer.c — libFuzzer target: encoding arbitrary bytes
 * with the Qwen2-style and SmolLM-style pre-tokenizers of a small byte-level
 * vocabulary (built once by mkmodel); valid UTF-8 must round-trip exactly. */
#include "local_llm/gguf.h"
#include "local_llm/mkmodel.h"
#include "local_llm/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llm_tok *toks[2];
static gguf_file files[2];

static void init(void)
{
	const char *arch[2] = {"qwen2", "llama"};
	for (int i = 0; i < 2; i++) {
		llm_mkmodel_opts o;
		llm_mkmodel_opts_init(&o);
		o.arch = arch[i];
		o.n_layer = 1;
		o.n_embd = 32;
		o.n_ff = 32;
		char path[128], err[512];
		snprintf(path, sizeof path, "/tmp/vigil-fuzz-tok-%d-%d.gguf", (int)getpid(), i);
		if (llm_mkmodel(&o, path, err, sizeof err) || gguf_open(path, &files[i], err, sizeof err) ||
		    llm_tok_create(&files[i], &toks[i], err, sizeof err))
			abort();
		unlink(path);
	}
}

static int valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t l = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!l || i + l > n)
			return 0;
		for (size_t j = 1; j < l; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		if (l == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f)))
			return 0;
		if (l == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f)))
			return 0;
		i += l;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!toks[0])
		init();
	if (size < 1)
		return 0;
	int which = data[0] & 1, special = (data[0] >> 1) & 1;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	int k = llm_tok_encode(toks[which], s, n, special, NULL, 0);
	if (k < 0)
		return 0;
	int32_t *ids = malloc(((size_t)k + 1) * sizeof *ids);
	if (llm_tok_encode(toks[which], s, n, special, ids, k) != k)
		abort();
	char *back = malloc(n * 3 + 16);
	size_t o = 0;
	for (int i = 0; i < k; i++) {
		int l = llm_tok_piece(toks[which], ids[i], back + o, n * 3 + 16 - o);
		if (l < 0 || o + (size_t)l > n * 3 + 16)
			abort();
		o += (size_t)l;
	}
	/* Qwen2 normalizes to NFC, so only the llama (SmolLM) vocabulary round-trips every valid input */
	if (which == 1 && valid_utf8((const uint8_t *)s, n) && (o != n || memcmp(back, s, n)))
		abort();
	free(back);
	free(ids);
	return 0;
}
