/* local_llm/mkmodel.h — writes small GGUF models with deterministic
 * pseudo-random weights (tests, benchmarks, kernels' checkers).  Not a
 * public API. */
#ifndef VIGIL_LLM_MKMODEL_H
#define VIGIL_LLM_MKMODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct llm_mkmodel_opts {
	const char *arch;      /* "llama", "qwen2", "qwen3" */
	int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff; /* head_dim 0 = n_embd/n_head */
	int n_ctx;             /* context_length metadata */
	int type;              /* llm_type of the 2-D weights */
	int embd_type;         /* llm_type of token_embd (and output); -1 = same as type */
	int tied;              /* 1 = no output.weight (lm_head = token_embd) */
	float rope_theta;
	float scale;           /* weight scale multiplier (default 1) */
	uint64_t seed;
	const char *tokenizer_from; /* copy tokenizer.* from this GGUF; NULL = built-in small vocab */
	const char *template_kind;  /* built-in vocab: "chatml" (default) or "llama3" (its special
	                               tokens and header-style template) */
} llm_mkmodel_opts;

/* Fills *o with a tiny qwen2 (2 layers, 64 wide, f32). */
void llm_mkmodel_opts_init(llm_mkmodel_opts *o);

/* Writes the model to path.  Returns 0 or -1 with err. */
int llm_mkmodel(const llm_mkmodel_opts *o, const char *path, char *err, size_t errlen);

#endif
