/* local_llm/tokenizer.h — byte-level BPE tokenizer built from a GGUF file's
 * tokenizer.ggml.* metadata (inside local_llm; not a public API). */
#ifndef VIGIL_LLM_TOKENIZER_H
#define VIGIL_LLM_TOKENIZER_H

#include "local_llm/gguf.h"
#include <stddef.h>
#include <stdint.h>

typedef struct llm_tok llm_tok;

/* Pre-tokenizer families (tokenizer.ggml.pre). */
typedef enum llm_pre {
	LLM_PRE_GPT2 = 0,   /* GPT-2 regex */
	LLM_PRE_SMOLLM,     /* single digits isolated, then the GPT-2 regex */
	LLM_PRE_QWEN2,      /* Qwen2 regex (single digits) */
	LLM_PRE_LLAMA3,     /* Llama-3 regex (digits in runs of up to 3) */
} llm_pre;

/* Builds the tokenizer; copies what it needs (f may be closed after).
 * Returns 0 or -1 with err.  Free with llm_tok_free(). */
int llm_tok_create(const gguf_file *f, llm_tok **out, char *err, size_t errlen);
void llm_tok_free(llm_tok *t);

int llm_tok_n_vocab(const llm_tok *t);
llm_pre llm_tok_pre(const llm_tok *t);
const char *llm_tok_pre_name(const llm_tok *t);
/* Id of the token whose text is exactly s, or -1. */
int32_t llm_tok_lookup(const llm_tok *t, const char *s);
/* 1 for control / user-defined tokens (matched before BPE). */
int llm_tok_is_special(const llm_tok *t, int32_t id);

/* See llm_tokenize() in llm.h.  Returns the number of tokens needed, or -1
 * (out of memory). */
int llm_tok_encode(const llm_tok *t, const char *text, size_t len, int parse_special,
                   int32_t *out, int cap);
/* The raw bytes of a token (see llm_token_bytes()). */
int llm_tok_piece(const llm_tok *t, int32_t id, char *buf, size_t cap);
/* Pointer to the bytes of a token and their count (NULL for a bad id). */
const char *llm_tok_bytes(const llm_tok *t, int32_t id, size_t *len);

#endif
