/* kernels/llm_cuda.cu — the CUDA backend of local_llm (llm_cuda_backend_create,
 * contract in local_llm/llm_internal.h).
 *
 * At create: weights uploaded once (q/k/v and gate/up concatenated when their
 * types agree), the F16 KV cache, every activation buffer and the cuBLAS
 * handle allocated once; then one decode step is run and captured in a CUDA
 * graph.  Per token (decode, n == 1) the host copies (token, position) to the
 * device, replays the graph, and copies the logits back:
 *
 *   x = embed(tok)                                           x [n_embd]
 *   per layer:  qkv = W_qkv · rmsnorm(x)*attn_norm           (one fused kernel)
 *               att = attention(qkv, cache)                  (one kernel: bias, qk-norm, RoPE,
 *                                                             F16 cache store, split-K, merge)
 *               x += W_o · att                               (residual fused)
 *               h = silu(W_g · rmsnorm(x)*ffn_norm) * (W_u · ...)   (fused)
 *               x += W_down · h
 *   logits = W_out · rmsnorm(x)*out_norm
 *
 * With VIGIL_CUDA_PERSIST=1 and a model the persistent decode kernel covers
 * (kern_decode_persistent: every layer in one cooperative launch), the graph
 * is that kernel + the head + argmax instead; it is correct but slower than the
 * per-kernel graph on H100/H200 (bench/RESULTS.md), so it is off by default.
 *
 * Prefill (n > 1, or all logits) runs in chunks of up to PCH tokens with cuBLAS
 * GEMMs on weights dequantised to f32 per matrix, and the tiled causal
 * attention of kern_attention.  Default ("tf32"): the SGEMMs run on tensor
 * cores in TF32 (operands rounded to a 10-bit mantissa, sums in f32; BF16
 * weights are exact in it), within the model checks' 5e-3 logit tolerance
 * (worst 1.4e-3, bench/RESULTS.md) at twice the speed of plain FP32.  The
 * environment variable VIGIL_CUDA_PREFILL picks another: "f32" (FP32 SGEMM, no
 * TF32: the closest to the CPU path), "bf16" (GEMMs on bf16/f16 operands,
 * activations rounded to the weight's 16-bit type: faster, and outside the
 * tolerance on some models).
 *
 * Tuning switches read at create (defaults are the measured best, bench/RESULTS.md):
 * VIGIL_CUDA_ATT=split (the old qkv_post + attention + merge kernels instead of
 * the fused decode attention), VIGIL_CUDA_ATT_CHUNK (its key-range length at
 * long context, 128), VIGIL_CUDA_ATT_HEADS (query heads per block, 2),
 * VIGIL_CUDA_HEAD_ARGMAX=0 (the greedy token by its own kernel after the head),
 * VIGIL_CUDA_FUSE_DOWN (the fused feed-forward; see fuse_down below),
 * VIGIL_CUDA_FUSE_UNTIL (the position from which the long-context graph runs),
 * VIGIL_CUDA_FUSE_LONG=0/1 (the fused feed-forward in that graph too),
 * VIGIL_CUDA_FIX_COPIES=1/2 (copies of its accumulators), VIGIL_CUDA_ATT_CHUNK_LONG
 * (the long graph's key-range length);
 * in kern_ops.cu: VIGIL_CUDA_ATD_GH1=0 (the decode attention with GH query heads
 * per block at short context too, for measuring), VIGIL_CUDA_CARVEOUT (shared-memory carveout %, 100; -1 the
 * driver's), VIGIL_CUDA_MV_BPS (matvec blocks per SM cap), VIGIL_CUDA_NO_PDL,
 * VIGIL_CUDA_APF_LPQ (lanes per query of the prefill attention: 4, 8, 16; 8).
 *
 * Library code: never prints, every CUDA call and launch checked. */
#include "kernels/kern.h"
extern "C" {
#include "local_llm/llm_internal.h"
}

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCH 512   /* prefill chunk (tokens) */
#define LCH 16    /* rows of logits computed per copy-out when all are wanted */

typedef struct cu_lin {  /* a linear layer: one matrix, or parts written side by side */
	kern_mat m[3];
	int n;           /* parts */
	int off[3];      /* output offset of each part */
} cu_lin;

typedef struct cu_layer {
	cu_lin qkv;              /* -> [q_dim + 2*kv_dim] */
	cu_lin gu;               /* -> [2*n_ff] (gate, up) */
	kern_mat wo, wdown;
	float *attn_norm, *ffn_norm; /* [n_embd] */
	float *bq, *bk, *bv;     /* or NULL */
	float *qn, *kn;          /* [head_dim] or NULL */
	void *kc, *vc;           /* half [n_head_kv][n_ctx][head_dim] */
} cu_layer;

typedef struct cu_backend {
	llm_config c;
	int n_ctx, q_dim, kv_dim, qkv_dim;
	int prefill_bf16;
	int prefill_tf32;
	cudaStream_t st;
	cublasHandle_t blas;
	kern_mat embd, out;
	int out_tied;
	float *out_norm, *inv_freq;
	cu_layer *L;
	kern_attn_shape as;
	int split_dec, split_pre;
	int att_fused;  /* decode attention through kern_attn_decode (default; VIGIL_CUDA_ATT=split: the old pair) */
	int att_chunk;  /* its key-range length (VIGIL_CUDA_ATT_CHUNK; 0: kern_attn_dec_chunk's default) */
	int att_chunk_long; /* the same in graph_long (VIGIL_CUDA_ATT_CHUNK_LONG; default where a block
	                       holds that many rows: 256 with fuse_long, else 192; else att_chunk) */
	unsigned int *att_cnt; /* [n_head] its merge counters */
	int head_argmax; /* decode: the argmax found by the head's matvec (0: its own kernel after) */
	int fuse_down;  /* decode: gate/up + down in one kernel (kern_ffn_fused) where it covers every
	                   layer.  VIGIL_CUDA_FUSE_DOWN unset or -1 (default): only where n_ff >= 4
	                   n_embd; 0 off; 1 on wherever it covers (slice chosen per shape); 2 on,
	                   wide slices; 3 on, narrow slices */
	int fused_layers; /* layers of the decode graph that use it (all or none) */
	int fuse_until;  /* positions from here on replay graph_long where there is one: with
	                    att_chunk_long, and the fused feed-forward only with fuse_long
	                    (VIGIL_CUDA_FUSE_UNTIL, default 2048) */
	int fuse_long;   /* graph_long keeps the fused feed-forward (VIGIL_CUDA_FUSE_LONG=0/1; default:
	                    where the layers' weights are F32/F16/BF16) */
	int in_long;     /* decode_step: build graph_long's step */
	long long *facc; /* [n_layer][fstride] the fused layers' fixed-point accumulators (kern_ffn_fused) */
	int fstride;     /* elements per layer: fcopies copies */
	int fcopies;     /* copies of each accumulator (VIGIL_CUDA_FIX_COPIES; default 2 where the
	                    layers' weights are F32/F16/BF16, else 1) */
	/* activations (device) */
	float *x;       /* [PCH][n_embd] residual stream */
	float *xb;      /* [PCH][n_embd] normed */
	float *qkv;     /* [PCH][qkv_dim] */
	float *q;       /* [PCH][q_dim] */
	float *att;     /* [PCH][q_dim] */
	float *gu;      /* [PCH][2*n_ff] */
	float *hf;      /* [PCH][n_ff] */
	float *logits;  /* [LCH][n_vocab] */
	float *ascr;    /* attention scratch */
	void *wbuf;     /* dequantised weights for prefill GEMMs */
	void *abuf;     /* activations as bf16/f16 for the bf16 prefill */
	int *pos;       /* [1 + PCH]: the position, then the tokens (one copy sets both for decode) */
	int *tok;       /* pos + 1: [PCH] */
	int *next;      /* tok: the decode step's argmax, where the next step's token is read, so that a
	                   device-side loop of decode steps needs no copy of it */
	void *amscr;    /* KERN_ARGMAX_SCRATCH bytes, zeroed */
	int *h_io;      /* pinned [2]: position, token */
	cudaGraphExec_t graph;
	cudaGraphExec_t graph_long; /* or NULL: the graph for positions >= fuse_until */
	size_t graph_kernels, graph_long_kernels; /* kernel nodes of graph and graph_long */
	/* persistent decode kernel (kern_decode_persistent), when it covers the model */
	int use_pd;
	int pd_refused;                /* the persistent kernel was prepared but its launch/capture failed */
	kern_pd pd;
	kern_pd_layer *pd_layers;      /* device [n_layer] */
	unsigned int *pd_cnt;          /* device [n_head_kv] */
	unsigned long long *pd_bar;    /* device */
	long long *pd_prof;            /* device [5*n_layer + 2] or NULL */
	size_t vram;
} cu_backend;

static void *g_last_ctx;

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[400];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (err && errlen) snprintf(err, errlen, "cuda backend: %s", buf);
	return -1;
}

#define CU(call, what) do { int e_ = (int)(call); if (e_) return fail(err, errlen, "%s: %s", what, cudaGetErrorString((cudaError_t)e_)); } while (0)
#define CB(call, what) do { cublasStatus_t s_ = (call); if (s_ != CUBLAS_STATUS_SUCCESS) return fail(err, errlen, "%s: cuBLAS status %d", what, (int)s_); } while (0)

static int dmalloc(cu_backend *b, void **p, size_t bytes)
{
	cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
	if (e == cudaSuccess) b->vram += bytes;
	return (int)e;
}

static int upload_f32(cu_backend *b, float **dst, const llm_tensor *t, int n, char *err, size_t errlen)
{
	*dst = NULL;
	if (!t) return 0;
	if (t->type != LLM_TYPE_F32 || t->nbytes < (uint64_t)n * 4)
		return fail(err, errlen, "tensor %s: expected %d f32 values", t->name, n);
	CU(dmalloc(b, (void **)dst, (size_t)n * 4), t->name);
	CU(cudaMemcpy(*dst, t->data, (size_t)n * 4, cudaMemcpyHostToDevice), t->name);
	return 0;
}

static int upload_mat(cu_backend *b, kern_mat *m, const llm_tensor *t, int rows, int cols, char *err, size_t errlen)
{
	if (!t) return fail(err, errlen, "a weight matrix is missing");
	if (t->ne[0] != cols || t->ne[1] != rows)
		return fail(err, errlen, "tensor %s: shape %lldx%lld, expected %dx%d", t->name, (long long)t->ne[0],
		            (long long)t->ne[1], cols, rows);
	if (!kern_type_ok(t->type))
		return fail(err, errlen, "tensor %s: type %d has no CUDA kernel", t->name, t->type);
	CU(kern_mat_alloc(m, t->type, rows, cols), t->name);
	b->vram += kern_mat_bytes(m);
	CU(kern_mat_set_rows(m, 0, rows, t->data), t->name);
	return 0;
}

/* parts[i] (rows[i] x cols each) into one matrix when all types agree, else apart. */
static int upload_lin(cu_backend *b, cu_lin *lin, const llm_tensor *const *parts, const int *rows, int n, int cols,
                      char *err, size_t errlen)
{
	int same = 1, total = 0;
	for (int i = 0; i < n; i++) {
		if (!parts[i]) return fail(err, errlen, "a weight matrix is missing");
		if (parts[i]->type != parts[0]->type) same = 0;
		total += rows[i];
	}
	memset(lin, 0, sizeof *lin);
	if (!same) {
		lin->n = n;
		int off = 0;
		for (int i = 0; i < n; i++) {
			if (upload_mat(b, &lin->m[i], parts[i], rows[i], cols, err, errlen)) return -1;
			lin->off[i] = off;
			off += rows[i];
		}
		return 0;
	}
	lin->n = 1;
	const llm_tensor *t = parts[0];
	if (!kern_type_ok(t->type)) return fail(err, errlen, "tensor %s: type %d has no CUDA kernel", t->name, t->type);
	CU(kern_mat_alloc(&lin->m[0], t->type, total, cols), t->name);
	b->vram += kern_mat_bytes(&lin->m[0]);
	int r0 = 0;
	for (int i = 0; i < n; i++) {
		if (parts[i]->ne[0] != cols || parts[i]->ne[1] != rows[i])
			return fail(err, errlen, "tensor %s: shape %lldx%lld, expected %dx%d", parts[i]->name,
			            (long long)parts[i]->ne[0], (long long)parts[i]->ne[1], cols, rows[i]);
		CU(kern_mat_set_rows(&lin->m[0], r0, rows[i], parts[i]->data), parts[i]->name);
		r0 += rows[i];
	}
	return 0;
}

static void lin_free(cu_lin *l)
{
	for (int i = 0; i < 3; i++) kern_mat_free(&l->m[i]);
}

static void cu_destroy(void *ctx)
{
	cu_backend *b = (cu_backend *)ctx;
	if (!b) return;
	if (g_last_ctx == b) g_last_ctx = NULL;
	if (b->graph) cudaGraphExecDestroy(b->graph);
	if (b->graph_long) cudaGraphExecDestroy(b->graph_long);
	if (b->pd_layers) cudaFree(b->pd_layers);
	if (b->pd_cnt) cudaFree(b->pd_cnt);
	if (b->pd_bar) cudaFree(b->pd_bar);
	if (b->pd_prof) cudaFree(b->pd_prof);
	if (b->L) {
		for (int l = 0; l < b->c.n_layer; l++) {
			cu_layer *L = &b->L[l];
			lin_free(&L->qkv);
			lin_free(&L->gu);
			kern_mat_free(&L->wo);
			kern_mat_free(&L->wdown);
			void *ps[] = {L->attn_norm, L->ffn_norm, L->bq, L->bk, L->bv, L->qn, L->kn, L->kc, L->vc};
			for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
				if (ps[i]) cudaFree(ps[i]);
		}
		free(b->L);
	}
	kern_mat_free(&b->embd);
	if (!b->out_tied) kern_mat_free(&b->out);
	void *ps[] = {b->out_norm, b->inv_freq, b->x, b->xb, b->qkv, b->q, b->att, b->gu, b->hf,
	              b->logits, b->ascr, b->wbuf, b->abuf, b->pos, b->amscr, b->att_cnt, b->facc};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
		if (ps[i]) cudaFree(ps[i]);
	if (b->h_io) cudaFreeHost(b->h_io);
	if (b->blas) cublasDestroy(b->blas);
	if (b->st) cudaStreamDestroy(b->st);
	free(b);
}

/* y = lin · x for one token (decode): one launch per part. */
static int lin_mv(cu_backend *b, const cu_lin *lin, const float *x, float *y, const kern_mv_opts *o)
{
	for (int i = 0; i < lin->n; i++) {
		int rc = kern_matvec(&lin->m[i], x, y + lin->off[i], o, b->st);
		if (rc) return rc;
	}
	return 0;
}

/* Profile entries for any grid of up to 8 blocks per SM. */
static size_t num_blocks_max(int n_layer)
{
	int dev = 0, sms = 0;
	if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
		sms = 256;
	return (size_t)sms * 8 * (10 * (size_t)n_layer + 1);
}

/* Prepares the persistent decode kernel when it covers the model: every layer
 * matrix one type, q/k/v and gate/up each one matrix.  VIGIL_CUDA_PERSIST=1
 * turns it on; VIGIL_CUDA_PD_LOOK=MB sets its L2 prefetch distance,
 * VIGIL_CUDA_PD_BPS its blocks per SM, VIGIL_CUDA_PD_PROF=1 its phase clock. */
static int pd_setup(cu_backend *b, char *err, size_t errlen)
{
	const llm_config *c = &b->c;
	const char *on = getenv("VIGIL_CUDA_PERSIST");
	if (!on || strcmp(on, "1") != 0) return 0; /* off by default: not yet faster than the per-kernel graph */
	int T = b->L[0].qkv.m[0].type;
	for (int l = 0; l < c->n_layer; l++) {
		const cu_layer *L = &b->L[l];
		if (L->qkv.n != 1 || L->gu.n != 1 || L->qkv.m[0].type != T || L->gu.m[0].type != T || L->wo.type != T ||
		    L->wdown.type != T)
			return 0;
	}
	kern_pd *p = &b->pd;
	memset(p, 0, sizeof *p);
	p->type = T;
	p->n_layer = c->n_layer;
	p->n_embd = c->n_embd;
	p->n_ff = c->n_ff;
	p->eps = c->rms_eps;
	p->as = b->as;
	p->embd_type = b->embd.type;
	p->n_vocab = c->n_vocab;
	p->embd_q = b->embd.q;
	p->embd_s = b->embd.s;
	p->x = b->x;
	p->qkv = b->qkv;
	p->att = b->att;
	p->hf = b->hf;
	const char *lk = getenv("VIGIL_CUDA_PD_LOOK");
	p->look_mb = lk ? atoi(lk) : 0;
	if (p->look_mb < 0) p->look_mb = 0;
	kern_pd_layer *h = (kern_pd_layer *)calloc((size_t)c->n_layer, sizeof *h);
	if (!h) return fail(err, errlen, "out of memory");
	for (int l = 0; l < c->n_layer; l++) {
		const cu_layer *L = &b->L[l];
		const kern_mat *ms[4] = {&L->qkv.m[0], &L->wo, &L->gu.m[0], &L->wdown};
		for (int k = 0; k < 4; k++) {
			h[l].q[k] = ms[k]->q;
			h[l].s[k] = ms[k]->s;
		}
		h[l].attn_norm = L->attn_norm;
		h[l].ffn_norm = L->ffn_norm;
		h[l].bq = L->bq;
		h[l].bk = L->bk;
		h[l].bv = L->bv;
		h[l].qn = L->qn;
		h[l].kn = L->kn;
		h[l].kc = L->kc;
		h[l].vc = L->vc;
	}
	int e = dmalloc(b, (void **)&b->pd_layers, (size_t)c->n_layer * sizeof *h);
	if (!e) e = (int)cudaMemcpy(b->pd_layers, h, (size_t)c->n_layer * sizeof *h, cudaMemcpyHostToDevice);
	free(h);
	if (e) return fail(err, errlen, "persistent kernel tables: %s", cudaGetErrorString((cudaError_t)e));
	p->d_layers = b->pd_layers;
	CU(dmalloc(b, (void **)&b->pd_cnt, (size_t)c->n_head_kv * 4), "persistent kernel counters");
	CU(cudaMemset(b->pd_cnt, 0, (size_t)c->n_head_kv * 4), "persistent kernel counters");
	CU(dmalloc(b, (void **)&b->pd_bar, KERN_PD_BAR_BYTES), "persistent kernel barrier");
	CU(cudaMemset(b->pd_bar, 0, KERN_PD_BAR_BYTES), "persistent kernel barrier");
	const char *prof = getenv("VIGIL_CUDA_PD_PROF");
	if (prof && strcmp(prof, "1") == 0) {
		CU(dmalloc(b, (void **)&b->pd_prof, (size_t)num_blocks_max(c->n_layer) * 8), "persistent kernel profile");
		p->d_prof = b->pd_prof;
	}
	p->d_cnt = b->pd_cnt;
	p->d_bar = b->pd_bar;
	int rc = kern_pd_prepare(p);
	if (rc == (int)cudaErrorNotSupported) {
		(void)cudaGetLastError();
		p->n_split = 0;
		return 0;
	}
	CU(rc, "persistent kernel");
	b->use_pd = 1;
	return 0;
}

/* The decode graph for the token at position pos. */
static cudaGraphExec_t decode_graph(const cu_backend *b, int pos)
{
	return b->graph_long && pos >= b->fuse_until ? b->graph_long : b->graph;
}

/* 1 when the decode step may run kern_ffn_fused in every layer (fuse_down allows it
 * for this shape and the kernel covers every layer's matrices). */
static int ffn_fusable(const cu_backend *b)
{
	const llm_config *c = &b->c;
	int fuse = b->fuse_down && c->n_layer >= 2;
	for (int l = 0; fuse && l < c->n_layer; l++)
		fuse = (b->fuse_down > 0 || c->n_ff >= 4 * c->n_embd) && b->L[l].gu.n == 1 &&
		       kern_ffn_fused_ok(&b->L[l].gu.m[0], &b->L[l].wdown);
	return fuse;
}

/* The decode step for the token at b->tok[0], position *b->pos; logits to b->logits. */
static int decode_step(cu_backend *b, char *err, size_t errlen)
{
	const llm_config *c = &b->c;
	void *st = b->st;
	/* The residual stream: x.  With the fused feed-forward (every layer or none,
	 * at least 2 layers) layer l adds W_down h into its own fixed-point
	 * accumulator facc[l] (fcopies copies, summed by its readers), and the
	 * residual after it is x + facc[l] 2^-32: the
	 * next layer's qkv and o read both (kern_mv_opts.d_fix), the o projection
	 * writes x + facc[l] 2^-32 + W_o att back to x, and that layer's fused
	 * kernel then zeroes facc[l], whose readers are done.  The head reads the
	 * last layer's, which the next token's first fused kernel zeroes. */
	int fuse = (!b->in_long || b->fuse_long) && ffn_fusable(b);
	b->fused_layers = 0;
	const long long *fin = NULL; /* the fixed-point part of the residual entering the layer */
	if (b->use_pd) {
		CU(kern_decode_persistent(&b->pd, st), "persistent decode");
		goto head;
	}
	CU(kern_embed(&b->embd, b->tok, 1, b->x, st), "embed");
	for (int l = 0; l < c->n_layer; l++) {
		cu_layer *L = &b->L[l];
		kern_mv_opts on = {L->attn_norm, c->rms_eps, 0, 0, NULL, NULL, NULL, fin, b->fcopies};
		CU(lin_mv(b, &L->qkv, b->x, b->qkv, &on), "qkv");
		if (b->att_fused) {
			CU(kern_attn_decode(b->qkv, L->bq, L->bk, L->bv, L->qn, L->kn, L->kc, L->vc, b->att, b->pos, &b->as,
			                    b->in_long ? b->att_chunk_long : b->att_chunk, b->ascr, b->att_cnt, st),
			   "attention");
		} else {
			CU(kern_qkv_post(b->qkv, L->bq, L->bk, L->bv, L->qn, L->kn, b->q, L->kc, L->vc, b->pos, 1, &b->as, st),
			   "qkv_post");
			CU(kern_attention(b->q, L->kc, L->vc, b->att, b->pos, 1, b->split_dec, &b->as, b->ascr, st), "attention");
		}
		kern_mv_opts acc = {NULL, 0.f, 1, 0, NULL, NULL, NULL, fin, b->fcopies};
		CU(kern_matvec(&L->wo, b->att, b->x, &acc, st), "attn_output");
		if (fuse) {
			long long *mine = b->facc + (size_t)l * b->fstride,
			          *prev = b->facc + (size_t)(l ? l - 1 : c->n_layer - 1) * b->fstride;
			CU(kern_ffn_fused(&L->gu.m[0], &L->wdown, b->x, L->ffn_norm, c->rms_eps, mine, prev, b->fcopies, st),
			   "ffn");
			fin = mine;
			b->fused_layers++;
			continue;
		}
		kern_mv_opts fn = {L->ffn_norm, c->rms_eps, 0, 1, NULL, NULL, NULL, NULL, 0};
		if (L->gu.n == 1) {
			CU(kern_matvec(&L->gu.m[0], b->x, b->hf, &fn, st), "ffn_gate_up");
		} else {
			fn.swiglu = 0;
			CU(lin_mv(b, &L->gu, b->x, b->gu, &fn), "ffn_gate_up");
			CU(kern_swiglu(b->gu, b->hf, 1, c->n_ff, st), "swiglu");
		}
		CU(kern_matvec(&L->wdown, b->hf, b->x, &acc, st), "ffn_down");
	}
head:;
	kern_mv_opts on = {b->out_norm, c->rms_eps, 0, 0, NULL, NULL, NULL, fin, b->fcopies};
	if (b->head_argmax) { /* one kernel less a token */
		on.d_argmax = b->next;
		on.d_argmax_scr = b->amscr;
	}
	CU(kern_matvec(&b->out, b->x, b->logits, &on, st), "output");
	if (!b->head_argmax) CU(kern_argmax(b->logits, c->n_vocab, b->next, b->amscr, st), "argmax");
	return 0;
}

/* Y[m][rows] (+)= X[m][cols] · W^T through cuBLAS. */
static int gemm(cu_backend *b, const kern_mat *W, const float *X, float *Y, int m, int ldy, int accumulate,
                char *err, size_t errlen)
{
	float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
	int M = W->rows, K = W->cols;
	if (!b->prefill_bf16) {
		const float *Wf = (const float *)W->q;
		if (W->type != LLM_TYPE_F32) {
			CU(kern_dequant(W, b->wbuf, LLM_TYPE_F32, b->st), "dequant");
			Wf = (const float *)b->wbuf;
		}
		CB(cublasSgemm(b->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, m, K, &alpha, Wf, K, X, K, &beta, Y, ldy), "sgemm");
		return 0;
	}
	int t16 = W->type == LLM_TYPE_F16 ? LLM_TYPE_F16 : LLM_TYPE_BF16;
	cudaDataType dt = t16 == LLM_TYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
	const void *W16 = W->q;
	if (W->type != t16) {
		CU(kern_dequant(W, b->wbuf, t16, b->st), "dequant");
		W16 = b->wbuf;
	}
	CU(kern_convert(X, b->abuf, t16, (size_t)m * K, b->st), "convert");
	CB(cublasGemmEx(b->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, m, K, &alpha, W16, dt, K, b->abuf, dt, K, &beta, Y,
	                CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
	   "gemm");
	return 0;
}

static int lin_gemm(cu_backend *b, const cu_lin *lin, const float *X, float *Y, int m, int ldy, char *err,
                    size_t errlen)
{
	for (int i = 0; i < lin->n; i++)
		if (gemm(b, &lin->m[i], X, Y + lin->off[i], m, ldy, 0, err, errlen)) return -1;
	return 0;
}

/* Prefill m (<= PCH) tokens already in b->tok at position pos; leaves x. */
static int prefill_chunk(cu_backend *b, int m, int pos, char *err, size_t errlen)
{
	const llm_config *c = &b->c;
	void *st = b->st;
	b->h_io[0] = pos;
	CU(cudaMemcpyAsync(b->pos, &b->h_io[0], 4, cudaMemcpyHostToDevice, b->st), "position");
	CU(kern_embed(&b->embd, b->tok, m, b->x, st), "embed");
	int E = c->n_embd, F = c->n_ff;
	for (int l = 0; l < c->n_layer; l++) {
		cu_layer *L = &b->L[l];
		CU(kern_add_rmsnorm(b->x, NULL, L->attn_norm, b->xb, m, E, c->rms_eps, st), "attn_norm");
		if (lin_gemm(b, &L->qkv, b->xb, b->qkv, m, b->qkv_dim, err, errlen)) return -1;
		CU(kern_qkv_post(b->qkv, L->bq, L->bk, L->bv, L->qn, L->kn, b->q, L->kc, L->vc, b->pos, m, &b->as, st),
		   "qkv_post");
		CU(kern_attention(b->q, L->kc, L->vc, b->att, b->pos, m, b->split_pre, &b->as, b->ascr, st), "attention");
		if (gemm(b, &L->wo, b->att, b->x, m, E, 1, err, errlen)) return -1;
		CU(kern_add_rmsnorm(b->x, NULL, L->ffn_norm, b->xb, m, E, c->rms_eps, st), "ffn_norm");
		if (lin_gemm(b, &L->gu, b->xb, b->gu, m, 2 * F, err, errlen)) return -1;
		CU(kern_swiglu(b->gu, b->hf, m, F, st), "swiglu");
		if (gemm(b, &L->wdown, b->hf, b->x, m, E, 1, err, errlen)) return -1;
	}
	return 0;
}

static int cu_forward(void *ctx, const int32_t *tokens, int n, int pos, int all_logits, float *logits, char *err,
                      size_t errlen)
{
	cu_backend *b = (cu_backend *)ctx;
	const llm_config *c = &b->c;
	if (n <= 0 || pos < 0 || pos + n > b->n_ctx)
		return fail(err, errlen, "positions %d..%d outside the cache of %d", pos, pos + n - 1, b->n_ctx);
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= c->n_vocab)
			return fail(err, errlen, "token %d at %d is outside the vocabulary (%d)", tokens[i], i, c->n_vocab);
	size_t V = (size_t)c->n_vocab;
	if (n == 1) {
		/* one copy: a 4-byte host-to-device copy before the graph cost ~7 us a token
		 * on an H200 (bench/RESULTS.md, session 16) */
		b->h_io[0] = pos;
		b->h_io[1] = tokens[0];
		CU(cudaMemcpyAsync(b->pos, b->h_io, 8, cudaMemcpyHostToDevice, b->st), "token and position");
		CU(cudaGraphLaunch(decode_graph(b, pos), b->st), "decode graph");
		CU(cudaMemcpyAsync(logits, b->logits, V * 4, cudaMemcpyDeviceToHost, b->st), "logits");
		CU(cudaStreamSynchronize(b->st), "decode");
		return 0;
	}
	for (int c0 = 0; c0 < n; c0 += PCH) {
		int m = n - c0 < PCH ? n - c0 : PCH;
		CU(cudaMemcpyAsync(b->tok, tokens + c0, (size_t)m * 4, cudaMemcpyHostToDevice, b->st), "tokens");
		if (prefill_chunk(b, m, pos + c0, err, errlen)) return -1;
		int first = all_logits ? 0 : (c0 + m == n ? m - 1 : m);
		for (int t0 = first; t0 < m; t0 += LCH) {
			int k = m - t0 < LCH ? m - t0 : LCH;
			for (int i = 0; i < k; i++) {
				kern_mv_opts on = {b->out_norm, c->rms_eps, 0, 0, NULL, NULL, NULL, NULL, 0};
				CU(kern_matvec(&b->out, b->x + (size_t)(t0 + i) * c->n_embd, b->logits + i * V, &on, b->st),
				   "output");
			}
			float *dst = all_logits ? logits + (size_t)(c0 + t0) * V : logits;
			CU(cudaMemcpyAsync(dst, b->logits, (size_t)k * V * 4, cudaMemcpyDeviceToHost, b->st), "logits");
		}
		CU(cudaStreamSynchronize(b->st), "prefill");
	}
	return 0;
}

/* One eager decode step (at the position already on the device), then the same
 * step captured into *g and instantiated into *ge; 1 when all went well. */
static int capture_decode(cu_backend *b, cudaGraph_t *g, cudaGraphExec_t *ge, char *err, size_t errlen)
{
	int ok = decode_step(b, err, errlen) == 0 && cudaStreamSynchronize(b->st) == cudaSuccess &&
	         cudaStreamBeginCapture(b->st, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
	if (ok) {
		ok = decode_step(b, err, errlen) == 0;
		ok = cudaStreamEndCapture(b->st, g) == cudaSuccess && ok;
		ok = ok && cudaGraphInstantiate(ge, *g, 0) == cudaSuccess;
	}
	return ok;
}

extern "C" int llm_cuda_backend_create(const llm_config *cfg, const llm_weights *w, int n_ctx, llm_backend_ops *ops,
                                       void **ctx, char *err, size_t errlen)
{
	*ctx = NULL;
	const char *why = NULL;
	if (kern_device_count(&why) == 0) return fail(err, errlen, "%s", why ? why : "no CUDA device");
	const llm_config *c = cfg;
	if (c->head_dim % 8 || c->head_dim > 256 || c->n_head % c->n_head_kv || n_ctx <= 0)
		return fail(err, errlen, "head_dim %d / heads %d/%d not supported by the kernels", c->head_dim, c->n_head,
		            c->n_head_kv);
	cu_backend *b = (cu_backend *)calloc(1, sizeof *b);
	if (!b) return fail(err, errlen, "out of memory");
	int rc = -1;
	size_t free0 = 0, total = 0;
	b->c = *cfg;
	b->n_ctx = n_ctx;
	b->q_dim = c->n_head * c->head_dim;
	b->kv_dim = c->n_head_kv * c->head_dim;
	b->qkv_dim = b->q_dim + 2 * b->kv_dim;
	const char *pm = getenv("VIGIL_CUDA_PREFILL");
	b->prefill_bf16 = pm && strcmp(pm, "bf16") == 0;
	b->prefill_tf32 = !pm || !*pm || strcmp(pm, "tf32") == 0;
	int E = c->n_embd, F = c->n_ff, V = c->n_vocab, D = c->head_dim;
	size_t maxw = 0;
	cudaGraph_t graph = NULL;
#undef CU
#define CU(call, what) do { int e_ = (int)(call); if (e_) { fail(err, errlen, "%s: %s", what, cudaGetErrorString((cudaError_t)e_)); goto out; } } while (0)
#define TRY(call) do { if ((call) != 0) goto out; } while (0)
	CU(cudaSetDevice(0), "device 0");
	CU(cudaMemGetInfo(&free0, &total), "memory info");
	CU(cudaStreamCreateWithFlags(&b->st, cudaStreamNonBlocking), "stream");
	if (cublasCreate(&b->blas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(b->blas, b->st) != CUBLAS_STATUS_SUCCESS ||
	    cublasSetMathMode(b->blas, b->prefill_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) !=
	        CUBLAS_STATUS_SUCCESS) {
		fail(err, errlen, "cuBLAS initialisation failed");
		goto out;
	}
	/* weights */
	TRY(upload_mat(b, &b->embd, w->token_embd, V, E, err, errlen));
	b->out_tied = w->output == w->token_embd || w->output == NULL;
	if (b->out_tied) b->out = b->embd;
	else TRY(upload_mat(b, &b->out, w->output, V, E, err, errlen));
	TRY(upload_f32(b, &b->out_norm, w->output_norm, E, err, errlen));
	if (!b->out_norm) {
		fail(err, errlen, "output_norm missing");
		goto out;
	}
	b->L = (cu_layer *)calloc((size_t)c->n_layer, sizeof *b->L);
	if (!b->L) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	for (int l = 0; l < c->n_layer; l++) {
		const llm_layer *lw = &w->layers[l];
		cu_layer *L = &b->L[l];
		const llm_tensor *qkv[3] = {lw->wq, lw->wk, lw->wv};
		int qkv_rows[3] = {b->q_dim, b->kv_dim, b->kv_dim};
		TRY(upload_lin(b, &L->qkv, qkv, qkv_rows, 3, E, err, errlen));
		const llm_tensor *gu[2] = {lw->w_gate, lw->w_up};
		int gu_rows[2] = {F, F};
		TRY(upload_lin(b, &L->gu, gu, gu_rows, 2, E, err, errlen));
		TRY(upload_mat(b, &L->wo, lw->wo, E, b->q_dim, err, errlen));
		TRY(upload_mat(b, &L->wdown, lw->w_down, E, F, err, errlen));
		TRY(upload_f32(b, &L->attn_norm, lw->attn_norm, E, err, errlen));
		TRY(upload_f32(b, &L->ffn_norm, lw->ffn_norm, E, err, errlen));
		if (!L->attn_norm || !L->ffn_norm) {
			fail(err, errlen, "layer %d: norm weights missing", l);
			goto out;
		}
		TRY(upload_f32(b, &L->bq, lw->bq, b->q_dim, err, errlen));
		TRY(upload_f32(b, &L->bk, lw->bk, b->kv_dim, err, errlen));
		TRY(upload_f32(b, &L->bv, lw->bv, b->kv_dim, err, errlen));
		if (c->qk_norm) {
			TRY(upload_f32(b, &L->qn, lw->q_norm, D, err, errlen));
			TRY(upload_f32(b, &L->kn, lw->k_norm, D, err, errlen));
		}
		size_t kvb = (size_t)c->n_head_kv * n_ctx * D * 2;
		CU(dmalloc(b, &L->kc, kvb), "K cache");
		CU(dmalloc(b, &L->vc, kvb), "V cache");
		CU(cudaMemset(L->kc, 0, kvb), "K cache");
		CU(cudaMemset(L->vc, 0, kvb), "V cache");
		const kern_mat *ms[] = {&L->qkv.m[0], &L->qkv.m[1], &L->qkv.m[2], &L->gu.m[0], &L->gu.m[1], &L->wo, &L->wdown};
		for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
			if (ms[i]->q && (size_t)ms[i]->rows * ms[i]->cols > maxw) maxw = (size_t)ms[i]->rows * ms[i]->cols;
	}
	{ /* RoPE frequencies exactly as the CPU path forms them */
		float *h = (float *)malloc((size_t)D / 2 * 4);
		if (!h) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		for (int i = 0; i < D / 2; i++) h[i] = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)D);
		int e = dmalloc(b, (void **)&b->inv_freq, (size_t)D / 2 * 4);
		if (!e) e = (int)cudaMemcpy(b->inv_freq, h, (size_t)D / 2 * 4, cudaMemcpyHostToDevice);
		free(h);
		CU(e, "rope table");
	}
	b->as.n_head = c->n_head;
	b->as.n_head_kv = c->n_head_kv;
	b->as.head_dim = D;
	b->as.n_ctx = n_ctx;
	b->as.rope_theta = c->rope_theta;
	b->as.rope_neox = c->rope_form == LLM_ROPE_NEOX;
	b->as.eps = c->rms_eps;
	b->as.d_inv_freq = b->inv_freq;
	{
		const char *fd = getenv("VIGIL_CUDA_FUSE_DOWN");
		/* Default -1: fused where n_ff >= 4 n_embd, below position fuse_until
		 * (bench/RESULTS.md, "A deterministic fused feed-forward"): with its
		 * fixed-point sums the logits are the same every run; Qwen2.5-0.5B
		 * decodes 7-17 us faster with it at context 128 (H100: up to 22 us at
		 * 512, 17 at 1024, even at 2048) and 2 us (H200) to 34 us (H100)
		 * slower at 4096 with one accumulator copy, so from fuse_until on the
		 * graph without it runs unless fuse_long (below) keeps it.  Qwen3-0.6B
		 * (n_ff 3 n_embd) is slower with it everywhere.  Not for Q8_0 layers since
		 * their matvecs take integer dot products: Qwen2.5-0.5B Q8_0 0.476 ms/token
		 * at 128 without it against 0.530 with it (H200, session 19, call R6). */
		int wt = b->L[0].wdown.type;
		b->fuse_down = fd && *fd ? atoi(fd) : wt == LLM_TYPE_Q8_0 ? 0 : -1;
		const char *fu = getenv("VIGIL_CUDA_FUSE_UNTIL");
		b->fuse_until = fu && *fu ? atoi(fu) : 2048;
		const char *ha = getenv("VIGIL_CUDA_HEAD_ARGMAX");
		b->head_argmax = !(ha && *ha && atoi(ha) == 0);
		kern_ffn_fused_wide(b->fuse_down == 2 ? 2 : b->fuse_down == 3 ? 1 : 0);
		/* Where the layers' weights are 2- or 4-byte floats, the fused feed-forward
		 * adds into 2 copies of each accumulator (half as many blocks add into
		 * each address) and runs in graph_long too.  Qwen2.5-0.5B BF16 on an
		 * H200 (session 15, calls M3-M7): 0.503 ms/token at context 128 against
		 * 0.527 with 1 copy (4 copies: 0.510), and 0.621 at 4096 (fused, 256-key
		 * ranges) against 0.647.  Q8_0 lost with 2 copies (0.575 against 0.560
		 * at 128) and with the fused feed-forward at 4096 (0.713 against 0.671).
		 * Q4_0 with integer dot products gains from both (session 19, call R6):
		 * 0.427 / 0.522 ms at 128 / 4096 against 0.435 / 0.540. */
		int fix2 = wt == LLM_TYPE_F32 || wt == LLM_TYPE_F16 || wt == LLM_TYPE_BF16 || wt == LLM_TYPE_Q4_0;
		const char *fc = getenv("VIGIL_CUDA_FIX_COPIES"), *fl = getenv("VIGIL_CUDA_FUSE_LONG");
		b->fcopies = kern_fix_copies(fc && *fc ? atoi(fc) : fix2 ? 2 : 1);
		b->fuse_long = (fl && *fl ? atoi(fl) != 0 : fix2) && ffn_fusable(b);
	}
	{
		/* at most 64 key ranges per kv head at long context (ranges shorter
		 * than 32 keys are never made: short contexts use fewer).  Swept on an
		 * H100 at context 4096 (check_kernels attn): 64 ranges 25.2 us for the
		 * Qwen3-0.6B shape and 20.4 us for Qwen2.5-0.5B, against 31.4 / 21.5 us
		 * with the earlier ~8 blocks per SM (132 / 528 ranges). */
		int want = 64;
		b->split_dec = kern_attn_min_split(n_ctx);
		if (b->split_dec < want) b->split_dec = want;
		if (b->split_dec > 1024) b->split_dec = 1024;
		b->split_pre = kern_attn_min_split(n_ctx);
		/* decode attention: one fused kernel (q/k/v post-processing, cache
		 * write, key ranges, merge) unless VIGIL_CUDA_ATT=split */
		const char *am = getenv("VIGIL_CUDA_ATT"), *ac = getenv("VIGIL_CUDA_ATT_CHUNK");
		b->att_chunk = ac ? atoi(ac) : 0;
		const char *ag = getenv("VIGIL_CUDA_ATT_HEADS");
		if (ag) kern_attn_dec_heads(atoi(ag));
		b->att_fused = !(am && strcmp(am, "split") == 0) && kern_attn_dec_ok(&b->as, b->att_chunk);
		/* Longer key ranges in the long-context graph: fewer ranges to merge.
		 * Qwen2.5-0.5B on an H200 at 4096 (session 14, call L3): 192 keys
		 * 0.647 ms/token bf16 and 0.671 q8_0 against 0.658 / 0.676 with 128,
		 * 0.661 / 0.683 with 256; at context 128 it was 5 us slower, so the
		 * graph below fuse_until keeps 128.  With the fused feed-forward in the
		 * long graph too (fuse_long), 256 keys: 0.620 against 0.626 with 192
		 * and 0.638 with 160 (session 15, call M5).  Qwen3-0.6B's blocks hold
		 * 160 rows, and 160 was 5-7 us slower there at 4096 (call L2): it keeps
		 * 128. */
		const char *acl = getenv("VIGIL_CUDA_ATT_CHUNK_LONG");
		if (acl && *acl)
			b->att_chunk_long = atoi(acl);
		else if (ac) /* a range length asked for holds in both graphs */
			b->att_chunk_long = b->att_chunk;
		else if (kern_attn_dec_chunk(&b->as, b->fuse_long ? 256 : 192) == (b->fuse_long ? 256 : 192))
			b->att_chunk_long = b->fuse_long ? 256 : 192;
		else
			b->att_chunk_long = b->att_chunk;
		if (!b->att_fused || !kern_attn_dec_ok(&b->as, b->att_chunk_long) ||
		    kern_attn_dec_chunk(&b->as, b->att_chunk_long) == kern_attn_dec_chunk(&b->as, b->att_chunk))
			b->att_chunk_long = b->att_chunk; /* the same ranges: graph_long is not needed for them */
	}
	/* activations */
	CU(dmalloc(b, (void **)&b->x, (size_t)PCH * E * 4), "activations");
	CU(dmalloc(b, (void **)&b->xb, (size_t)PCH * E * 4), "activations");
	CU(dmalloc(b, (void **)&b->qkv, (size_t)PCH * b->qkv_dim * 4), "activations");
	CU(dmalloc(b, (void **)&b->q, (size_t)PCH * b->q_dim * 4), "activations");
	CU(dmalloc(b, (void **)&b->att, (size_t)PCH * b->q_dim * 4), "activations");
	CU(dmalloc(b, (void **)&b->gu, (size_t)PCH * 2 * F * 4), "activations");
	CU(dmalloc(b, (void **)&b->hf, (size_t)PCH * F * 4), "activations");
	b->fstride = (int)(KERN_FIX_BYTES(E, b->fcopies) / 8); /* elements: 16-byte aligned */
	CU(dmalloc(b, (void **)&b->facc, (size_t)c->n_layer * b->fstride * 8), "activations");
	CU(cudaMemset(b->facc, 0, (size_t)c->n_layer * b->fstride * 8), "activations");
	CU(dmalloc(b, (void **)&b->logits, (size_t)LCH * V * 4), "logits");
	TRY(pd_setup(b, err, errlen));
	{
		size_t s1 = kern_attn_scratch_floats(&b->as, 1, b->split_dec > b->pd.n_split ? b->split_dec : b->pd.n_split);
		size_t s2 = kern_attn_scratch_floats(&b->as, PCH, b->split_pre);
		size_t s3 = kern_attn_dec_scratch_floats(&b->as, b->att_chunk),
		       s4 = kern_attn_dec_scratch_floats(&b->as, b->att_chunk_long);
		if (s3 > s1) s1 = s3;
		if (s4 > s1) s1 = s4;
		CU(dmalloc(b, (void **)&b->ascr, (s1 > s2 ? s1 : s2) * 4), "attention scratch");
		CU(dmalloc(b, (void **)&b->att_cnt, (size_t)c->n_head * 4), "attention counters");
		CU(cudaMemset(b->att_cnt, 0, (size_t)c->n_head * 4), "attention counters");
	}
	CU(dmalloc(b, &b->wbuf, maxw * 4), "prefill weights");
	{
		size_t maxin = (size_t)(E > F ? E : F);
		if ((size_t)b->q_dim > maxin) maxin = (size_t)b->q_dim;
		CU(dmalloc(b, &b->abuf, (size_t)PCH * maxin * 2), "prefill activations");
	}
	CU(dmalloc(b, (void **)&b->pos, (PCH + 1) * 4), "position and tokens");
	b->tok = b->pos + 1;
	b->next = b->tok;
	b->pd.part = b->ascr;
	b->pd.d_tok = b->tok;
	b->pd.d_pos = b->pos;
	CU(dmalloc(b, &b->amscr, KERN_ARGMAX_SCRATCH), "argmax");
	CU(cudaMemset(b->amscr, 0, KERN_ARGMAX_SCRATCH), "argmax");
	CU(cudaMallocHost((void **)&b->h_io, 8), "pinned");
	/* one eager decode step (position 0: its cache entry is rewritten before any
	 * read), then the same step captured as a graph */
	b->h_io[0] = 0;
	b->h_io[1] = 0;
	CU(cudaMemcpyAsync(b->pos, b->h_io, 8, cudaMemcpyHostToDevice, b->st), "token and position");
	for (;;) { /* with the persistent kernel first; without it if that fails */
		if (capture_decode(b, &graph, &b->graph, err, errlen)) break;
		if (!b->use_pd) {
			if (!err || !*err) fail(err, errlen, "decode graph capture failed");
			goto out;
		}
		/* a failed launch inside the persistent kernel would have left a sticky
		 * error; a refused capture or launch does not */
		(void)cudaGetLastError();
		CU(cudaStreamSynchronize(b->st), "decode step");
		if (graph) cudaGraphDestroy(graph);
		graph = NULL;
		b->use_pd = 0;
		b->pd_refused = 1;
	}
	CU(cudaGraphGetNodes(graph, NULL, &b->graph_kernels), "graph nodes");
	if (!b->use_pd && b->fuse_until < b->n_ctx &&
	    ((b->fused_layers && !b->fuse_long) || b->att_chunk_long != b->att_chunk)) {
		/* the step for long contexts: with the long key ranges, and without
		 * the fused feed-forward unless fuse_long (its accumulators are then
		 * left as they are: no graph reads one before the fused kernel of a
		 * graph with them has zeroed it) */
		int fl = b->fused_layers;
		cudaGraph_t g2 = NULL;
		b->in_long = 1;
		int ok = capture_decode(b, &g2, &b->graph_long, err, errlen);
		if (ok && cudaGraphGetNodes(g2, NULL, &b->graph_long_kernels) != cudaSuccess) ok = 0;
		if (g2) cudaGraphDestroy(g2);
		b->in_long = 0;
		b->fused_layers = fl;
		if (!ok) {
			if (!err || !*err) fail(err, errlen, "decode graph capture (long context) failed");
			goto out;
		}
	}
	CU(cudaStreamSynchronize(b->st), "graph");
	ops->name = "cuda";
	ops->forward = cu_forward;
	ops->destroy = cu_destroy;
	*ctx = b;
	g_last_ctx = b;
	rc = 0;
out:
	if (graph) cudaGraphDestroy(graph);
	if (rc) {
		cu_destroy(b);
		(void)cudaGetLastError();
	}
	return rc;
}

extern "C" void *llm_cuda_last_ctx(void)
{
	return g_last_ctx;
}

/* n decode steps back to back from position pos, token tok first: graph replays
 * with the token left on the device by each step's argmax (next is tok) and the
 * positions uploaded once, each set by a device-to-device copy (the
 * host-to-device copy of a position cost ~7 us a token on an H200, a
 * device-to-device one ~1).  out: or NULL, the n tokens chosen (one more copy a
 * step).  *ms: device time per step. */
static int device_loop(cu_backend *b, int32_t tok, int pos, int n, int32_t *out, double *ms_per_token, char *err,
                       size_t errlen)
{
	int rc = -1;
	int *hpos = NULL, *dpos = NULL;
	cudaEvent_t e0 = NULL, e1 = NULL;
	float ms = 0;
	if (!b || n <= 0 || pos < 0 || pos + n > b->n_ctx) return fail(err, errlen, "decode loop: bad arguments");
	CU(cudaMallocHost((void **)&hpos, (size_t)n * 4), "pinned");
	CU(cudaMalloc((void **)&dpos, (size_t)n * 4 * (out ? 2 : 1)), "positions");
	for (int i = 0; i < n; i++) hpos[i] = pos + i;
	CU(cudaEventCreate(&e0), "event");
	CU(cudaEventCreate(&e1), "event");
	CU(cudaMemcpyAsync(dpos, hpos, (size_t)n * 4, cudaMemcpyHostToDevice, b->st), "positions");
	b->h_io[0] = pos;
	b->h_io[1] = tok;
	CU(cudaMemcpyAsync(b->pos, b->h_io, 8, cudaMemcpyHostToDevice, b->st), "token and position");
	CU(cudaEventRecord(e0, b->st), "event");
	for (int i = 0; i < n; i++) {
		if (i) CU(cudaMemcpyAsync(b->pos, dpos + i, 4, cudaMemcpyDeviceToDevice, b->st), "position");
		CU(cudaGraphLaunch(decode_graph(b, hpos[i]), b->st), "decode graph");
		if (out) CU(cudaMemcpyAsync(dpos + n + i, b->next, 4, cudaMemcpyDeviceToDevice, b->st), "token");
	}
	CU(cudaEventRecord(e1, b->st), "event");
	CU(cudaEventSynchronize(e1), "decode loop");
	CU(cudaEventElapsedTime(&ms, e0, e1), "event");
	if (out) CU(cudaMemcpy(out, dpos + n, (size_t)n * 4, cudaMemcpyDeviceToHost), "tokens");
	if (ms_per_token) *ms_per_token = ms / n;
	rc = 0;
out:
	if (e0) cudaEventDestroy(e0);
	if (e1) cudaEventDestroy(e1);
	if (hpos) cudaFreeHost(hpos);
	if (dpos) cudaFree(dpos);
	return rc;
}

extern "C" int llm_cuda_bench_decode(void *ctx, int32_t tok, int pos, int n, double *ms_per_token, int *kernels,
                                     size_t *vram, char *err, size_t errlen)
{
	cu_backend *b = (cu_backend *)ctx;
	if (device_loop(b, tok, pos, n, NULL, ms_per_token, err, errlen)) return -1;
	if (kernels) /* of the graph the first position replayed */
		*kernels = (int)(decode_graph(b, pos) == b->graph ? b->graph_kernels : b->graph_long_kernels);
	if (vram) *vram = b->vram;
	return 0;
}

extern "C" int llm_cuda_decode_greedy(void *ctx, int32_t tok, int pos, int n, int32_t *out, char *err, size_t errlen)
{
	if (!out) return fail(err, errlen, "decode loop: no output");
	return device_loop((cu_backend *)ctx, tok, pos, n, out, NULL, err, errlen);
}

extern "C" int llm_cuda_pd_phases(void *ctx, double work[5], double work_max[5], double wait[5])
{
	cu_backend *b = (cu_backend *)ctx;
	if (!b || !b->use_pd || !b->pd_prof) return -1;
	int L = b->c.n_layer, per = 10 * L + 1, G = b->pd.grid, dev = 0, khz = 0;
	size_t n = (size_t)G * per;
	long long *t = (long long *)malloc(n * 8);
	if (!t) return -1;
	int rc = -1;
	if (cudaMemcpy(t, b->pd_prof, n * 8, cudaMemcpyDeviceToHost) == cudaSuccess && cudaGetDevice(&dev) == cudaSuccess &&
	    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev) == cudaSuccess && khz > 0) {
		double f = 1e3 / khz; /* us per cycle */
		for (int k = 0; k < 5; k++) work[k] = work_max[k] = wait[k] = 0;
		/* barrier j (0-based): 0 after the embedding, 1 + 5l + k after phase k of layer l */
		for (int l = 0; l < L; l++)
			for (int k = 0; k < 5; k++) {
				int j = 1 + 5 * l + k;
				if (j >= 5 * L) continue; /* the last phase has no closing barrier */
				double sum = 0, mx = 0, ws = 0;
				for (int g = 0; g < G; g++) {
					const long long *q = t + (size_t)g * per;
					double wk = (q[1 + 2 * j] - q[1 + 2 * (j - 1) + 1]) * f;
					sum += wk;
					if (wk > mx) mx = wk;
					ws += (q[2 + 2 * j] - q[1 + 2 * j]) * f;
				}
				int nl = k == 4 ? L - 1 : L;
				work[k] += sum / G / nl;
				work_max[k] += mx / nl;
				wait[k] += ws / G / nl;
			}
		rc = 0;
	}
	free(t);
	return rc;
}

extern "C" int llm_cuda_fused_layers(void *ctx)
{
	return ctx ? ((cu_backend *)ctx)->fused_layers : 0;
}

extern "C" int llm_cuda_uses_persistent(void *ctx)
{
	return ctx ? ((cu_backend *)ctx)->use_pd : 0;
}
