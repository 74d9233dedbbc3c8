/* kernels/kern.h — the CUDA kernels of local_llm's GPU backend, as C-callable
 * launchers.  Used by kernels/llm_cuda.cu (the backend) and by the checkers in
 * tests/gpu/.  Not a public API of vigil: local_llm reaches the GPU only
 * through llm_cuda_backend_create() (local_llm/llm_internal.h).
 *
 * Every launcher is asynchronous on the given stream (a cudaStream_t passed as
 * void *), checks its arguments, and returns 0 or a cudaError_t value (never
 * prints).  All pointers named d_* are device memory; shapes are in comments.
 *
 * Device weight layouts (kern_mat): rows of GGUF blocks are uploaded once.
 *   F32 / F16 / BF16:  q = rows*cols elements, row-major; s = NULL.
 *   Q8_0:              q = int8 [rows][cols] (the 32 quants of each block,
 *                      contiguous); s = half d[rows][cols/32].
 *   Q4_0:              q = u8 [rows][cols/2] (each block's 16 bytes as in
 *                      GGUF); s = half d[rows][cols/32].
 *   Q4_1:              as Q4_0; s = half2 (d, m) [rows][cols/32].
 *   Q5_0:              as Q4_0 (low 4 bits); s = 8 bytes per block: half d,
 *                      2 zero bytes, u32 qh (the fifth bits).
 *   Q4_K:              q = the GGUF blocks unchanged (144 bytes each).
 *   Q6_K:              q = 16 records of 16 bytes per block (the quants and
 *                      scales that one 16-value chunk reads; kern_ops.cu,
 *                      q6k_repack); s = half d[rows][cols/256].
 * These are lossless rearrangements of each GGUF block so that every row starts
 * 16-byte aligned (34-, 18-, 20-, 22- and 210-byte blocks are not); the
 * kernels then read 16 bytes per load. */
#ifndef VIGIL_KERN_H
#define VIGIL_KERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kern_mat {
	int type;        /* llm_type (GGUF numbering) */
	int rows, cols;  /* n_out, n_in */
	void *q;         /* device, see above; owned (kern_mat_free) */
	void *s;         /* device scales or NULL; owned */
} kern_mat;

/* 1 when the type is one the kernels read (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q4_K Q6_K). */
int kern_type_ok(int type);
/* 1 when the decode matvecs of the type take integer dot products against x rounded
 * to int16 in 32-value blocks (Q8_0 Q4_0 Q4_1 Q5_0 Q4_K Q6_K; kern_ops.cu, MvInt). */
int kern_int_dot(int type);

/* Number of CUDA devices usable by this process, 0 when none; *why gets the
 * reason (a static string) when 0. Never fails otherwise. */
int kern_device_count(const char **why);

/* Allocates an empty device matrix.  Returns 0 or a cudaError_t
 * (cudaErrorInvalidValue for a type/shape the kernels cannot read). */
int kern_mat_alloc(kern_mat *m, int type, int rows, int cols);
/* Copies n GGUF rows (host, row-major blocks) into rows [row0, row0+n). Sync. */
int kern_mat_set_rows(kern_mat *m, int row0, int n, const void *host_rows);
void kern_mat_free(kern_mat *m);
/* Device bytes held by m. */
size_t kern_mat_bytes(const kern_mat *m);

/* ---- decode: y = W x ------------------------------------------------------- */
typedef struct kern_mv_opts {
	const float *d_norm;  /* [cols] RMSNorm weight: x is normalised first; or NULL */
	float eps;            /* RMSNorm epsilon */
	int accumulate;       /* 1: y += W x (residual add) */
	int swiglu;           /* 1: rows = 2*n: y[i] = silu(W[i] x) * (W[n+i] x), i < n */
	float *d_y2;          /* or NULL: every y[i] written is also written to d_y2[i] */
	int *d_argmax;        /* or NULL: *d_argmax = the index of the largest y[i] (as kern_argmax, */
	void *d_argmax_scr;   /* with this scratch), found by the same kernel (not with swiglu) */
	const long long *d_fix; /* or NULL: the residual's fixed-point part, kern_ffn_fused's
	                           accumulator (units of 2^-32, 16-byte aligned, of [cols] or, with
	                           accumulate, [rows], in fix_copies copies): with accumulate
	                           y[i] + f[i] 2^-32 is what W x is added to, else x[i] + f[i] 2^-32
	                           is the x read (and normalised), f[i] the sum of element i's
	                           copies.  Not with swiglu. */
	int fix_copies;         /* copies d_fix is made of (0 = 1; see kern_ffn_fused) */
} kern_mv_opts;
/* d_x [cols] f32; d_y [rows] f32 (or [rows/2] with swiglu). o may be NULL. */
int kern_matvec(const kern_mat *W, const float *d_x, float *d_y, const kern_mv_opts *o,
                void *stream);

/* Test/bench hook: force rows per warp (1, 2, 4) and warps per row (1..8, with 1
 * row per warp) for every following kern_matvec; 0 = chosen per shape (default). */
void kern_mv_force(int rows_per_warp, int warps_per_row);

/* ---- decode: the feed-forward block with the down projection fused ------------
 * d_acc += Wd h as 64-bit fixed point (units of 2^-32), h = silu(G xn) * (U xn),
 * xn = rmsnorm(d_x) * d_norm (d_norm NULL: xn = d_x); GU = gate and up stacked as for
 * kern_matvec's swiglu (rows 2*n_ff, cols), Wd rows cols, cols n_ff.  One kernel: each
 * block computes a slice of h and adds its slice's share of Wd h, rounded to a
 * multiple of 2^-32, into d_acc with integer atomics.  Integer sums do not depend on
 * the order the blocks add in, so the result is the same bits on every run (float
 * atomics would not be).  A block's share must stay under 2^31 in magnitude (it
 * saturates; a NaN adds 0).  The consumer reads x + d_acc 2^-32 (kern_mv_opts.d_fix).
 * An accumulator of a vector of n elements is `copies` copies of [n] (1 or
 * KERN_FIX_MAX_COPIES = 2; 0 means 1), each kern_fix_stride(n) elements after the one
 * before (KERN_FIX_BYTES(n, copies) bytes in all): block b adds into copy b % copies,
 * so that fewer blocks add into each address, and element i is the sum of its
 * copies (the same integer whichever copy each share went to).  Two copies made
 * Qwen2.5-0.5B BF16 decode 24 us a token faster on an H200 at context 128
 * (bench/RESULTS.md, session 15).
 * d_zero: or NULL, an accumulator of [cols] with as many copies, set to 0 by the
 * kernel once the previous kernel has finished (the layer before's, whose readers
 * are done by then); it must not overlap d_acc.  Both 16-byte aligned; d_x overlaps
 * neither.  Covers F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 with GU and Wd of one type. */
#define KERN_FIX_MAX_COPIES 2
#ifdef __CUDACC__
__host__ __device__
#endif
static inline int kern_fix_stride(int n) { return (n + 1) & ~1; } /* even: copies stay 16-byte aligned */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline int kern_fix_copies(int c) { return c < 1 ? 1 : c > KERN_FIX_MAX_COPIES ? KERN_FIX_MAX_COPIES : c; }
#define KERN_FIX_BYTES(n, copies) ((size_t)kern_fix_copies(copies) * (size_t)kern_fix_stride(n) * 8)
int kern_ffn_fused_ok(const kern_mat *GU, const kern_mat *Wd);
int kern_ffn_fused(const kern_mat *GU, const kern_mat *Wd, const float *d_x, const float *d_norm, float eps,
                   long long *d_acc, long long *d_zero, int copies, void *stream);
/* The float value of a fixed-point accumulator element: v 2^-32. */
#define KERN_FIX_SCALE 4294967296.0
/* Slice of h per block: 0 = chosen per shape (default), 1 = narrow (32 bytes of a
 * Wd row; 4-bit types one quant block), 2 = wide (twice that).  Process-wide; set
 * before capture. */
void kern_ffn_fused_wide(int mode);

/* ---- other per-token operations -------------------------------------------- */
/* out[i][0..cols) = row tokens[i] of E, for i < n.  d_tokens device int32[n]. */
int kern_embed(const kern_mat *E, const int32_t *d_tokens, int n, float *d_out, void *stream);
/* h [n][dim] += delta [n][dim] (delta may be NULL); out [n][dim] = rmsnorm(h) * g. */
int kern_add_rmsnorm(float *d_h, const float *d_delta, const float *d_g, float *d_out,
                     int n, int dim, float eps, void *stream);
/* gu [n][2*f] -> out [n][f] = silu(gu[.][i]) * gu[.][f+i]. */
int kern_swiglu(const float *d_gu, float *d_out, int n, int f, void *stream);

typedef struct kern_attn_shape {
	int n_head, n_head_kv, head_dim; /* head_dim % 8 == 0, <= 256; n_head % n_head_kv == 0 */
	int n_ctx;                       /* positions in the cache */
	float rope_theta;
	int rope_neox;                   /* 1: pairs (i, i+d/2) (qwen); 0: (2i, 2i+1) (llama) */
	float eps;                       /* qk-norm epsilon */
	const float *d_inv_freq;         /* [head_dim/2] device: theta_i = pos * inv_freq[i]; computed
	                                    on the host as the CPU path does; NULL = powf here */
} kern_attn_shape;

/* For n tokens at positions *d_pos + i: qkv [n][q_dim + 2*kv_dim] (q, k, v) ->
 * adds biases (each may be NULL), applies qk-norm (d_qn/d_kn [head_dim], or
 * NULL), RoPE to q and k; writes q to d_q [n][q_dim] and k, v to the F16 cache
 * d_kc/d_vc [n_head_kv][n_ctx][head_dim] at their positions. */
int kern_qkv_post(const float *d_qkv, const float *d_bq, const float *d_bk, const float *d_bv,
                  const float *d_qn, const float *d_kn, float *d_q, void *d_kc, void *d_vc,
                  const int *d_pos, int n, const kern_attn_shape *s, void *stream);

/* Scratch floats kern_attention needs for n queries with the given split count. */
size_t kern_attn_scratch_floats(const kern_attn_shape *s, int n, int n_split);
/* Split-K ("flash-decoding") causal attention: query i (d_q [n][q_dim], at
 * position *d_pos + i) attends to cache positions [0, *d_pos + i]; out
 * d_o [n][q_dim].  n_split >= 1 key ranges per (query, kv head), merged by a
 * second kernel; ranges are never shorter than 32 keys, never longer than
 * kern_attn_max_chunk.  d_scratch: kern_attn_scratch_floats floats. */
int kern_attention(const float *d_q, const void *d_kc, const void *d_vc, float *d_o,
                   const int *d_pos, int n, int n_split, const kern_attn_shape *s,
                   float *d_scratch, void *stream);
/* Smallest n_split that keeps every key range <= 256 for a cache of n_ctx. */
int kern_attn_min_split(int n_ctx);

/* Decode attention for one token (n == 1) in one kernel: the q/k/v
 * post-processing of kern_qkv_post on d_qkv [q_dim + 2*kv_dim] (bias, qk-norm,
 * RoPE), the F16 cache write at *d_pos, and split-K attention over key ranges
 * of at most `chunk` keys (0: 256; fewer where shared memory is short), merged
 * by the last block of each (kv head, head group); out d_o [q_dim].
 * d_scratch: kern_attn_dec_scratch_floats floats; d_cnt: n_head unsigned ints
 * zeroed once (left zeroed).  Unlike the other kernels it reads *d_pos and the cache
 * rows before *d_pos before waiting for the preceding kernel (programmatic
 * dependent launch): the kernels just before it must not write them (decode:
 * the position is copied before the graph, those rows by earlier tokens). */
int kern_attn_decode(const float *d_qkv, const float *d_bq, const float *d_bk, const float *d_bv,
                     const float *d_qn, const float *d_kn, void *d_kc, void *d_vc, float *d_o,
                     const int *d_pos, const kern_attn_shape *s, int chunk, float *d_scratch,
                     unsigned int *d_cnt, void *stream);
/* Only in a build with -DVIGIL_ATD_PROF: thread 0 of each working block of
 * kern_attn_decode writes clock64() at KERN_ATD_NSTAMP phase boundaries to
 * d_buf[block][i] (blocks numbered x fastest); NULL turns it off. */
#define KERN_ATD_NSTAMP 12
int kern_attn_dec_prof(long long *d_buf);
/* The range length kern_attn_decode uses for a requested chunk (0 if the shape is bad). */
int kern_attn_dec_chunk(const kern_attn_shape *s, int chunk);
size_t kern_attn_dec_scratch_floats(const kern_attn_shape *s, int chunk);
/* Query heads per block of kern_attn_decode (default 2; blocks = kv heads x
 * ranges x ceil(G / heads)).  Process-wide; set before capture. */
void kern_attn_dec_heads(int heads);
/* 1 when kern_attn_decode covers the shape on this device (shared memory). */
int kern_attn_dec_ok(const kern_attn_shape *s, int chunk);

/* ---- sampling on the device -------------------------------------------------- */
/* *d_out = index of the largest of d_x[0..n) (lowest index on ties; NaN never wins).
 * d_scratch: KERN_ARGMAX_SCRATCH bytes of device memory zeroed once by the
 * caller; left zeroed by each call.  One call at a time per scratch. */
#define KERN_ARGMAX_SCRATCH 16
int kern_argmax(const float *d_x, int n, int *d_out, void *d_scratch, void *stream);
/* Top-k (1..1024; <= 0 means 1024), then top-p (0 < p <= 1) over the k, then a
 * draw with uniform u in [0,1) from softmax(x / temp) restricted to them.
 * Candidates ordered by value desc, index asc. *d_out = token. */
int kern_sample(const float *d_x, int n, float temp, int top_k, float top_p, float u,
                int *d_out, void *stream);

/* ---- prefill helpers --------------------------------------------------------- */
/* W dequantised to dst [rows][cols]: dst_type 0 = f32, 1 = f16, 30 = bf16. */
int kern_dequant(const kern_mat *W, void *d_dst, int dst_type, void *stream);
/* n floats -> f16 (dst_type 1) or bf16 (30). */
int kern_convert(const float *d_src, void *d_dst, int dst_type, size_t n, void *stream);

/* ---- persistent decode kernel ------------------------------------------------------
 * One launch per token runs the embedding and every layer (everything up to the
 * final RMSNorm: the head and the sampling follow as ordinary kernels).  A grid
 * of a few blocks per SM, all resident (cooperative launch), steps through the
 * phases of each layer separated by grid-wide barriers:
 *   [RMSNorm + qkv matvec] [q/k/v post + F16 cache write + split-K attention,
 *   ranges merged by the last block of each kv head] [o matvec + residual]
 *   [RMSNorm + gate/up matvec + SwiGLU] [down matvec + residual]
 * Before each barrier a block loads the first weights of its next phase into
 * registers, and the grid prefetches later matrices into L2 (look_mb ahead). */
typedef struct kern_pd_layer {
	const void *q[4], *s[4];       /* matrices: 0 qkv, 1 o, 2 gate+up (stacked), 3 down */
	const float *attn_norm, *ffn_norm;
	const float *bq, *bk, *bv;     /* or NULL */
	const float *qn, *kn;          /* or NULL */
	void *kc, *vc;                 /* half [n_head_kv][n_ctx][head_dim] */
} kern_pd_layer;

typedef struct kern_pd {
	/* filled by the caller */
	int type;                      /* weight type of every layer matrix */
	int n_layer, n_embd, n_ff;
	float eps;                     /* RMSNorm epsilon */
	kern_attn_shape as;
	const kern_pd_layer *d_layers; /* device [n_layer] */
	int embd_type, n_vocab;
	const void *embd_q, *embd_s;
	const int32_t *d_tok;
	const int *d_pos;
	float *x;                      /* [n_embd] residual stream (output) */
	float *qkv, *att, *hf;         /* [q_dim + 2 kv_dim], [q_dim], [n_ff] */
	float *part;                   /* kern_attn_scratch_floats(as, 1, n_split) */
	unsigned int *d_cnt;           /* [n_head_kv], zeroed once; left zeroed */
	unsigned long long *d_bar;     /* KERN_PD_BAR_BYTES, zeroed once; only this kernel touches it */
	long long *d_prof;             /* NULL, or [grid][10*n_layer + 1]: each block's clock64() at
	                                  start, then at arrival and departure of each barrier */
	int look_mb;                   /* L2 prefetch distance in MB (0: none) */
	/* set by kern_pd_prepare */
	int grid, smem, n_split, wpr[4];
	int work;                      /* shared-memory bytes before the two weight buffers */
	size_t ring;                   /* bytes of each weight buffer (0: none) */
	size_t bytes_q[4], bytes_s[4], qrow[4], srow[4];
} kern_pd;

/* Checks that the persistent kernel covers this model (weight type, shapes,
 * head grouping <= 8) and the device (co-residency), and picks the grid, the
 * split count and the warps per row.  0, or cudaErrorNotSupported when the
 * per-kernel path must be used. */
int kern_pd_prepare(kern_pd *p);
#define KERN_PD_BAR_BYTES 1024
/* One decode step: x = the residual stream after the last layer. */
int kern_decode_persistent(const kern_pd *p, void *stream);
/* Test/bench hook: n grid barriers of the persistent kernel's kinds (variant
 * 0, 1, 2: see kern_ops.cu; the kernel uses PD_BV) in one launch of
 * blocks_per_sm blocks per SM; *errors counts blocks that saw a value of the
 * previous phase not yet written; *us = time per barrier. */
int kern_barrier_test(int n, int blocks_per_sm, int variant, int *errors, double *us);

/* ---- the whole-model backend (kernels/llm_cuda.cu): hooks for tests/gpu ---- */
/* The backend context most recently created in this process (NULL if none). */
void *llm_cuda_last_ctx(void);
/* Replays the captured decode graph n times from position pos (token tok first,
 * then each argmax fed back on the device, no host round trip), and reports
 * the device time per token.  Fills *kernels with the kernel nodes per token
 * and *vram with the bytes the backend holds.  Returns 0 or -1 with err. */
/* With VIGIL_CUDA_PD_PROF=1 at create and the persistent kernel in use: the
 * last decode step's phase times in us from each block's clock, per phase
 * kind k (0 qkv, 1 attention, 2 o, 3 gate/up, 4 down; averaged over layers):
 * work[k] mean over blocks of the time from leaving the previous barrier to
 * arriving at the phase's closing barrier, work_max[k] its max over blocks,
 * wait[k] mean time inside the barrier.  0, or -1. */
int llm_cuda_pd_phases(void *ctx, double work[5], double work_max[5], double wait[5]);
/* Layers whose decode step runs kern_ffn_fused (all or none; none with VIGIL_CUDA_FUSE_DOWN=0). */
int llm_cuda_fused_layers(void *ctx);
/* 1 when the backend's decode graph runs the persistent kernel. */
int llm_cuda_uses_persistent(void *ctx);
int llm_cuda_bench_decode(void *ctx, int32_t tok, int pos, int n, double *ms_per_token,
                          int *kernels, size_t *vram, char *err, size_t errlen);
/* The same loop of n decode steps (greedy, on the device) from token tok at
 * position pos; out[i] = the token step i chose.  0, or -1 with err. */
int llm_cuda_decode_greedy(void *ctx, int32_t tok, int pos, int n, int32_t *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
