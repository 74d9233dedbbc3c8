/* local_llm/llm.h — vigil's in-process model engine: load a GGUF model, turn
 * text into tokens and back, and generate text token by token.
 *
 * Depends on libc, libm, pthreads and PCRE2 only.  Library code never prints
 * and never exits; every failure is reported through an llm_error (load) or
 * llm_last_error() (everything after load).
 *
 * Threading: one llm_model is used by one thread at a time (the engine itself
 * runs its own worker threads inside each call).
 */
#ifndef VIGIL_LLM_H
#define VIGIL_LLM_H

#include <stddef.h>
#include <stdint.h>

typedef struct llm_model llm_model;   /* opaque: weights, tokenizer, KV cache */

/* An error message that says where (file, field, byte offset) and what. */
typedef struct llm_error {
	char msg[512];
} llm_error;

/* ---- loading ------------------------------------------------------------ */

typedef enum llm_backend {
	LLM_BACKEND_AUTO = 0,   /* CUDA when built with it and a GPU is usable, else CPU */
	LLM_BACKEND_CPU  = 1,
	LLM_BACKEND_CUDA = 2,   /* fails with "built without CUDA" in a CPU-only build */
} llm_backend;

typedef struct llm_load_opts {
	int n_ctx;              /* KV cache length in tokens; 0 = min(model's, 4096) */
	int n_threads;          /* CPU worker threads; 0 = online CPUs */
	llm_backend backend;
} llm_load_opts;

/* Fills *o with the defaults (n_ctx 0, n_threads 0, backend auto). */
void llm_load_opts_init(llm_load_opts *o);

/* Maps the GGUF file at path, checks it, builds the tokenizer and allocates
 * the KV cache and every activation buffer once.  Returns NULL and fills
 * *err on failure.  The caller frees the model with llm_free(). */
llm_model *llm_load(const char *path, const llm_load_opts *opts, llm_error *err);
void llm_free(llm_model *m);

/* Message of the last failed call on m ("" if none).  Owned by m. */
const char *llm_last_error(const llm_model *m);

/* ---- describing ---------------------------------------------------------- */

typedef struct llm_info {
	const char *arch;       /* "llama", "qwen2", "qwen3" */
	const char *name;       /* general.name or "" */
	const char *backend;    /* "cpu" or "cuda" */
	const char *backend_note; /* "" or, when --backend auto fell back to the CPU, why */
	const char *template_name; /* "chatml", "llama3", "smollm2" (chatml), "none" */
	int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff;
	int n_vocab, n_ctx_train, n_ctx;
	int32_t bos, eos, eot;  /* -1 when absent; eot = end-of-turn (<|im_end|>, <|eot_id|>) */
	int n_threads;
	size_t weight_bytes;    /* bytes of tensor data mapped */
	const char *weight_types; /* e.g. "q4_K:169 q6_K:25 f32:61" */
} llm_info;

/* Pointers inside *out stay valid until llm_free(m). */
void llm_get_info(const llm_model *m, llm_info *out);

/* ---- tokens ---------------------------------------------------------------- */

/* Tokenizes len bytes of text.  parse_special: 1 = text like "<|im_start|>"
 * becomes its special token; 0 = it is ordinary text (use 0 for untrusted
 * content).  No BOS is added.  Writes at most cap ids to out and returns the
 * number of tokens the text needs (may exceed cap: call again), or -1. */
int llm_tokenize(llm_model *m, const char *text, size_t len, int parse_special,
                 int32_t *out, int cap);

/* Appends the bytes of token tok to buf (cap bytes) and returns their count
 * (may exceed cap: nothing is written then), or -1 for an unknown id.
 * Bytes, not characters: a UTF-8 character may be split across tokens. */
int llm_token_bytes(const llm_model *m, int32_t tok, char *buf, size_t cap);

/* Decodes n tokens into buf (NUL-terminated when the result fits cap-1).
 * Returns the byte count needed (excluding the NUL) or -1. */
int llm_detokenize(const llm_model *m, const int32_t *toks, int n, char *buf, size_t cap);

/* ---- chat template ---------------------------------------------------------- */

/* Formats a system (may be NULL) and a user message with the model's chat
 * template, ending with the opening of the assistant turn.  snprintf-style:
 * returns the length needed, or -1.  The result contains special-token
 * text; tokenize it with parse_special=1 only when the messages are trusted —
 * llm_generate_chat() is the safe way for untrusted content. */
int llm_chat_format(const llm_model *m, const char *system, const char *user,
                    char *buf, size_t cap);

/* ---- generation ---------------------------------------------------------------- */

typedef struct llm_gen_opts {
	int max_tokens;         /* tokens to generate (default 128) */
	float temperature;      /* 0 = greedy (default 0) */
	int top_k;              /* 0 = off (default 40) */
	float top_p;            /* 1 = off (default 0.95) */
	float repeat_penalty;   /* 1 = off (default 1.0) */
	int repeat_last_n;      /* window for the penalty (default 64) */
	uint64_t seed;          /* same seed + same prompt = same text (default 1) */
	const char *const *stop;/* stop strings (not included in the output), may be NULL */
	int n_stop;
	double time_limit_s;    /* hard wall-clock limit for the whole call; 0 = none */
	int parse_special;      /* llm_generate only: see llm_tokenize (default 1) */
} llm_gen_opts;

void llm_gen_opts_init(llm_gen_opts *o);

/* Called once per generated token with the text it completes: bytes that end
 * on a UTF-8 character boundary (a partial character is held back until the
 * next token), with stop-string candidates held back until decided.  Return 0
 * to continue, non-zero to stop. */
typedef int (*llm_token_cb)(void *user, int32_t tok, const char *text, size_t len);

typedef enum llm_stop_reason {
	LLM_STOP_EOS = 1, LLM_STOP_STRING, LLM_STOP_MAX_TOKENS, LLM_STOP_CTX_FULL,
	LLM_STOP_TIME, LLM_STOP_CALLBACK,
} llm_stop_reason;

typedef struct llm_gen_result {
	char *text;             /* generated text (malloc'd, NUL-terminated); caller frees
	                           with llm_gen_result_clear() */
	size_t text_len;
	int n_prompt, n_gen;
	llm_stop_reason stop;
	double load_s, prefill_s, decode_s; /* load_s: of the model, for reports */
} llm_gen_result;

/* Runs the prompt text (tokenized per opts->parse_special) and generates.
 * The KV cache is reset first: each call is independent.  cb may be NULL.
 * Returns 0 (res filled) or -1 (see llm_last_error). */
int llm_generate(llm_model *m, const char *prompt, const llm_gen_opts *opts,
                 llm_token_cb cb, void *user, llm_gen_result *res);

/* Same from token ids. */
int llm_generate_tokens(llm_model *m, const int32_t *prompt, int n_prompt,
                        const llm_gen_opts *opts, llm_token_cb cb, void *user,
                        llm_gen_result *res);

/* Chat: the template's markers become special tokens, the system and user
 * text never do (safe for untrusted content).  system may be NULL. */
int llm_generate_chat(llm_model *m, const char *system, const char *user,
                      const llm_gen_opts *opts, llm_token_cb cb, void *user_data,
                      llm_gen_result *res);

void llm_gen_result_clear(llm_gen_result *res);

/* ---- low level (tests, benchmarks) ---------------------------------------------- */

/* Runs n tokens at positions pos..pos+n-1 through the model (KV cache kept
 * for positions < pos).  logits: n_vocab floats for the last token, or
 * n*n_vocab when all_logits.  Returns 0 or -1. */
int llm_eval(llm_model *m, const int32_t *toks, int n, int pos, int all_logits,
             float *logits);

/* ---- command line ----------------------------------------------------------------- */

/* The `llm` sub-commands (run, info, tokenize, mkmodel, bench) for `vigil llm`
 * and `vigil-llm`: argv[0] is the sub-command.  Unlike the rest of this
 * module it prints (stdout: results, stderr: errors).  Returns the exit
 * status (0 ok, 1 failed, 2 usage, 4 internal). */
int llm_cmd(int argc, char **argv, const char *progname);

#endif
