/* tests/fuzz/fuzz_gguf.c — libFuzzer target: the GGUF reader and, for files
 * it accepts, the tokenizer built from their metadata.  Any input must give
 * a clean error (a message, never empty) or a structure whose every pointer
 * lies inside the input. */
#include "local_llm/gguf.h"
#include "local_llm/tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy, so that ASan catches any read past the end */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	gguf_file f;
	char err[512] = "";
	if (gguf_parse(buf, size, &f, err, sizeof err) != 0) {
		if (!err[0]) abort();   /* a refusal always says what and where */
	} else {
		for (uint32_t i = 0; i < f.n_tensors; i++) {
			const llm_tensor *t = &f.tensors[i];
			volatile uint8_t x = 0;
			if (t->nbytes)
				x ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
			(void)x;
		}
		llm_tok *tok;
		if (llm_tok_create(&f, &tok, err, sizeof err) == 0) {
			int32_t ids[256];
			const char *s = "Hello world <|im_start|> 123 naïve 🚀";
			int n = llm_tok_encode(tok, s, strlen(s), 1, ids, 256);
			for (int i = 0; i < n && i < 256; i++) {
				char piece[64];
				llm_tok_piece(tok, ids[i], piece, sizeof piece);
			}
			llm_tok_free(tok);
		}
		gguf_close(&f);
	}
	free(buf);
	return 0;
}
