/* local_llm/llm_internal.h — shared between local_llm/ and kernels/ only; not
 * a public API.  Holds the model configuration, the weight tensor descriptors
 * (pointing into the read-only mmap of the GGUF file), the per-layer weights,
 * the block formats of the quantized types, the CPU reference routines, and
 * the backend hook that the CUDA backend (kernels/) implements.
 *
 * Conventions (as in GGUF/ggml):
 *   - a tensor's ne[0] is the innermost (contiguous) dimension;
 *   - a weight matrix W of shape ne = {n_in, n_out} stores n_out rows of n_in
 *     values; a linear layer computes y[o] = sum_i W[o][i] * x[i];
 *   - quantized rows are a whole number of blocks (n_in % block == 0).
 */
#ifndef VIGIL_LLM_INTERNAL_H
#define VIGIL_LLM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* ---- tensor types: GGUF's numbering ---------------------------------------- */

typedef enum llm_type {
	LLM_TYPE_F32  = 0,
	LLM_TYPE_F16  = 1,
	LLM_TYPE_Q4_0 = 2,
	LLM_TYPE_Q4_1 = 3,
	LLM_TYPE_Q5_0 = 6,   /* CPU only so far (the 0.5B test model uses it) */
	LLM_TYPE_Q5_1 = 7,   /* CPU only so far */
	LLM_TYPE_Q8_0 = 8,
	LLM_TYPE_Q8_1 = 9,   /* recognised, not supported */
	LLM_TYPE_Q2_K = 10,  /* recognised, not supported */
	LLM_TYPE_Q3_K = 11,  /* recognised, not supported */
	LLM_TYPE_Q4_K = 12,
	LLM_TYPE_Q5_K = 13,  /* recognised, not supported */
	LLM_TYPE_Q6_K = 14,
	LLM_TYPE_Q8_K = 15,  /* activation format only */
	LLM_TYPE_BF16 = 30,
	LLM_TYPE_COUNT = 40,
} llm_type;

/* Block layouts (little-endian, packed, as in GGUF).  A "block" covers
 * llm_type_block_elems() values and takes llm_type_block_bytes() bytes.
 *   F32  1 value, 4 B.     F16 1 value, 2 B (IEEE half).   BF16 1 value, 2 B.
 *   Q8_0 32 values, 34 B:  f16 d; int8 q[32];              x = d*q
 *   Q4_0 32 values, 18 B:  f16 d; u8 q[16];  x[j] = d*((q[j]&15)-8),
 *                          x[j+16] = d*((q[j]>>4)-8)
 *   Q4_1 32 values, 20 B:  f16 d, m; u8 q[16]; x = d*nibble + m (same order)
 *   Q5_0 32 values, 22 B:  f16 d; u8 qh[4] (bit j = 5th bit of value j, LE u32);
 *                          u8 qs[16]; x[j] = d*((qs[j]&15 | bit j<<4) - 16),
 *                          x[j+16] = d*((qs[j]>>4 | bit j+16<<4) - 16)
 *   Q5_1 32 values, 24 B:  f16 d, m; u8 qh[4]; u8 qs[16]; x = d*q5 + m
 *   Q4_K 256 values, 144 B: f16 d, dmin; u8 scales[12] (8 6-bit scales and 8
 *                          6-bit mins); u8 qs[128]; 8 sub-blocks of 32
 *   Q6_K 256 values, 210 B: u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d
 */
#define LLM_QK 32          /* block size of Q8_0 / Q4_0 / Q4_1 */
#define LLM_QK_K 256       /* block size of the K-quants */

typedef struct { uint16_t d; int8_t qs[32]; } llm_block_q8_0;
typedef struct { uint16_t d; uint8_t qs[16]; } llm_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } llm_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } llm_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } llm_block_q5_1;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } llm_block_q4_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } llm_block_q6_K;

const char *llm_type_name(int type);         /* "q4_K", or NULL when unknown */
int llm_type_supported(int type);            /* 1 for the types listed above as such */
int64_t llm_type_block_elems(int type);      /* 0 when unknown */
int64_t llm_type_block_bytes(int type);      /* 0 when unknown */
/* Bytes of a row of n values (n a multiple of the block), -1 if not. */
int64_t llm_type_row_bytes(int type, int64_t n);

float llm_f16_to_f32(uint16_t h);
uint16_t llm_f32_to_f16(float f);            /* round to nearest even */
float llm_bf16_to_f32(uint16_t h);
uint16_t llm_f32_to_bf16(float f);           /* round to nearest even */

/* ---- CPU reference routines (the CUDA checkers compare against these) ----- */

/* dst[0..n) = values of the first n elements of a row of type `type`. */
void llm_dequant_row(int type, const void *src, float *dst, int64_t n);
/* Quantizes n floats into a row of type (F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/
 * Q6_K) at dst (llm_type_row_bytes bytes).  Returns 0, -1 if unsupported. */
int llm_quant_row(int type, const float *src, void *dst, int64_t n);
/* Dot product of a weight row with a float vector x[0..n). */
float llm_vec_dot(int type, const void *row, const float *x, int64_t n);

/* ---- tensors ---------------------------------------------------------------- */

typedef struct llm_tensor {
	const char *name;       /* NUL-terminated, owned by the model */
	int type;               /* llm_type */
	int n_dims;             /* 1..4 */
	int64_t ne[4];          /* ne[0] innermost; unused dims are 1 */
	const void *data;       /* into the read-only mmap, aligned to general.alignment */
	uint64_t nbytes;
} llm_tensor;

/* ---- model configuration --------------------------------------------------- */

typedef enum llm_arch { LLM_ARCH_LLAMA = 1, LLM_ARCH_QWEN2, LLM_ARCH_QWEN3 } llm_arch;

/* RoPE pairing: NORM rotates (x[2i], x[2i+1]) — GGUF llama (weights
 * permuted by the converter); NEOX rotates (x[i], x[i+head_dim/2]) — qwen2,
 * qwen3.  theta_i = pos * rope_theta^(-2i/head_dim). */
typedef enum llm_rope_form { LLM_ROPE_NORM = 0, LLM_ROPE_NEOX = 1 } llm_rope_form;

typedef struct llm_config {
	llm_arch arch;
	int n_layer;
	int n_embd;             /* model width */
	int n_head;             /* query heads */
	int n_head_kv;          /* key/value heads (GQA: n_head % n_head_kv == 0) */
	int head_dim;           /* qwen3: explicit (attention.key_length); else n_embd/n_head */
	int n_ff;               /* SwiGLU hidden width */
	int n_vocab;            /* rows of token_embd */
	int n_ctx_train;
	float rope_theta;
	llm_rope_form rope_form;
	float rms_eps;
	int qk_norm;            /* qwen3: RMSNorm over each head of q and k before RoPE */
	int has_qkv_bias;       /* qwen2: q/k/v biases */
	int tied_output;        /* lm_head shares token_embd */
} llm_config;

/* Per-layer weights.  Shapes as ne = {n_in, n_out}; q_dim = n_head*head_dim,
 * kv_dim = n_head_kv*head_dim.  Optional ones are NULL when absent. */
typedef struct llm_layer {
	const llm_tensor *attn_norm;  /* {n_embd} f32 */
	const llm_tensor *wq;         /* {n_embd, q_dim} */
	const llm_tensor *wk;         /* {n_embd, kv_dim} */
	const llm_tensor *wv;         /* {n_embd, kv_dim} */
	const llm_tensor *bq;         /* {q_dim} f32, optional */
	const llm_tensor *bk;         /* {kv_dim} f32, optional */
	const llm_tensor *bv;         /* {kv_dim} f32, optional */
	const llm_tensor *q_norm;     /* {head_dim} f32, qwen3 */
	const llm_tensor *k_norm;     /* {head_dim} f32, qwen3 */
	const llm_tensor *wo;         /* {q_dim, n_embd} */
	const llm_tensor *ffn_norm;   /* {n_embd} f32 */
	const llm_tensor *w_gate;     /* {n_embd, n_ff} */
	const llm_tensor *w_up;       /* {n_embd, n_ff} */
	const llm_tensor *w_down;     /* {n_ff, n_embd} */
} llm_layer;

typedef struct llm_weights {
	const llm_tensor *token_embd; /* {n_embd, n_vocab} */
	const llm_tensor *output_norm;/* {n_embd} f32 */
	const llm_tensor *output;     /* {n_embd, n_vocab}; == token_embd when tied */
	llm_layer *layers;            /* [n_layer] */
} llm_weights;

/* ---- backend hook ------------------------------------------------------------ */

/* A backend owns its KV cache (n_ctx positions, allocated at create) and its
 * activations.  The CPU backend (local_llm/cpu_backend.c) is the reference.
 *
 * forward: runs tokens[0..n) at positions pos..pos+n-1, attending to the
 *   cached positions [0, pos) plus themselves (causal); writes their K/V into
 *   the cache.  pos + n <= n_ctx.  logits: when all_logits, n rows of
 *   n_vocab floats (row i = token i); otherwise n_vocab floats for the last
 *   token only.  Returns 0, or -1 with a message in err (errlen bytes).
 * destroy: frees everything the backend allocated. */
typedef struct llm_backend_ops {
	const char *name;   /* "cpu", "cuda" */
	int (*forward)(void *ctx, const int32_t *tokens, int n, int pos,
	               int all_logits, float *logits, char *err, size_t errlen);
	void (*destroy)(void *ctx);
} llm_backend_ops;

/* CPU backend (local_llm/).  Returns 0 and fills *ops and *ctx, or -1 with err. */
int llm_cpu_backend_create(const llm_config *cfg, const llm_weights *w, int n_ctx,
                           int n_threads, llm_backend_ops *ops, void **ctx,
                           char *err, size_t errlen);

/* CUDA backend (kernels/).  Same contract.  In a build without VIGIL_CUDA it
 * returns -1 with "built without CUDA" (kernels/cuda_stub.c); at run time it
 * returns -1 with a reason when no usable GPU is found.  The weights stay
 * valid (mmap) for the backend's whole life. */
int llm_cuda_backend_create(const llm_config *cfg, const llm_weights *w, int n_ctx,
                            llm_backend_ops *ops, void **ctx, char *err, size_t errlen);

/* ---- threads (used by the CPU backend; exposed for kernels' CPU checkers) -- */

typedef struct llm_pool llm_pool;
/* n_threads total workers including the caller.  NULL on failure. */
llm_pool *llm_pool_create(int n_threads);
void llm_pool_free(llm_pool *p);
int llm_pool_size(const llm_pool *p);
/* Runs fn(arg, i, n) for i in [0, n) on all threads and waits. */
void llm_pool_run(llm_pool *p, void (*fn)(void *arg, int ith, int nth), void *arg);

#endif
