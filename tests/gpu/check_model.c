/* tests/gpu/check_model.c — whole-model CPU vs CUDA parity, and decode/prefill
 * timings, for the CUDA backend of local_llm.
 *
 *   check_model test    parity (exit 1 on failure)
 *   check_model bench   timings at Qwen2.5-0.5B / Qwen3-0.6B shapes
 *   check_model quick   three small models (for compute-sanitizer)
 *
 * Models: (a) small GGUF models written by llm_mkmodel and loaded twice through
 * the public API (llm_load with backend cpu and cuda, llm_eval); (b) models of
 * Qwen2.5-0.5B and Qwen3-0.6B shape with pseudo-random weights built in memory
 * (rows drawn from N(0, 1/n_in), quantised by the CPU reference quantiser) and
 * given to llm_cpu_backend_create / llm_cuda_backend_create directly.
 *
 * Parity: for a prompt of random tokens, logits at every position (prefill,
 * all_logits) must satisfy ||gpu - cpu||_2 / ||cpu||_2 <= LOGIT_TOL per row;
 * then greedy decoding on each backend from its own choices must give the same
 * tokens; at any step where the two differ the CPU's top-2 margin is printed
 * and the check fails unless that margin is below MARGIN_TOL (a near-tie). */
#include "local_llm/llm.h"
#include "local_llm/llm_internal.h"
#include "local_llm/mkmodel.h"
#include "kernels/kern.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGIT_TOL 5e-3   /* f16 KV cache + f32 sums in another order */
#define MARGIN_TOL 1e-2  /* a divergence is tolerated only at a CPU near-tie */

static int n_fail, n_pass;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rs = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static double gauss(void)
{
	double u1 = ((rnd() >> 11) + 1.0) / 9007199254740993.0, u2 = (rnd() >> 11) / 9007199254740992.0;
	return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static int argmax(const float *x, int n, double *margin)
{
	int b = 0, s = -1;
	for (int i = 1; i < n; i++)
		if (x[i] > x[b]) b = i;
	for (int i = 0; i < n; i++)
		if (i != b && (s < 0 || x[i] > x[s])) s = i;
	if (margin) *margin = s < 0 ? 1e30 : (double)x[b] - x[s];
	return b;
}

static double rel_l2(const float *a, const float *ref, int n)
{
	double d = 0, r = 0;
	for (int i = 0; i < n; i++) {
		double e = (double)a[i] - ref[i];
		d += e * e;
		r += (double)ref[i] * ref[i];
	}
	return sqrt(d / (r > 0 ? r : 1e-300));
}

/* ---- one parity run over two forward functions --------------------------------------- */
typedef int (*fwd_fn)(void *u, const int32_t *t, int n, int pos, int all, float *logits);

/* With VIGIL_CUDA_PERSIST=1 the weight types the persistent decode kernel
 * covers must take it (otherwise the run would test the other path). */
static int persistent_expected(int type)
{
	const char *e = getenv("VIGIL_CUDA_PERSIST");
	return e && strcmp(e, "1") == 0 &&
	       (type == LLM_TYPE_BF16 || type == LLM_TYPE_F16 || type == LLM_TYPE_Q8_0 || type == LLM_TYPE_Q4_0 ||
	        type == LLM_TYPE_Q4_K);
}

/* With VIGIL_CUDA_FUSE_DOWN=1/2/3 the per-kernel decode graph must run the fused
 * feed-forward (kern_ffn_fused) on the types it covers (the test models' shapes
 * all fit it), so the parity runs test it.  (0 it is off; unset or -1 it fuses
 * only where n_ff >= 4 n_embd, here the Qwen2.5-0.5B-shaped models.) */
static int fused_expected(int type)
{
	const char *e = getenv("VIGIL_CUDA_FUSE_DOWN");
	if (!e || !*e || atoi(e) <= 0) return 0;
	return type == LLM_TYPE_F32 || type == LLM_TYPE_F16 || type == LLM_TYPE_BF16 || type == LLM_TYPE_Q8_0 ||
	       type == LLM_TYPE_Q4_0 || type == LLM_TYPE_Q4_1 || type == LLM_TYPE_Q5_0;
}

static int persistent_ok(const char *name, int type)
{
	void *ctx = llm_cuda_last_ctx();
	int used = llm_cuda_uses_persistent(ctx);
	if (persistent_expected(type) && !used) {
		printf("FAIL   %s: the persistent decode kernel was not used\n", name);
		n_fail++;
		return 0;
	}
	if (!used && fused_expected(type) && llm_cuda_fused_layers(ctx) == 0) {
		printf("FAIL   %s: the fused feed-forward was not used\n", name);
		n_fail++;
		return 0;
	}
	return 1;
}

static void parity(const char *name, fwd_fn cpu, void *cu_, fwd_fn gpu, void *gu_, int V, int n_prompt, int n_gen)
{
	int32_t *prompt = malloc(sizeof(int32_t) * n_prompt);
	float *lc = malloc(sizeof(float) * (size_t)V * n_prompt), *lg = malloc(sizeof(float) * (size_t)V * n_prompt);
	for (int i = 0; i < n_prompt; i++) prompt[i] = (int32_t)(rnd() % (uint64_t)V);
	double t0 = now_s();
	int rc = cpu(cu_, prompt, n_prompt, 0, 1, lc);
	double t1 = now_s();
	rc |= gpu(gu_, prompt, n_prompt, 0, 1, lg);
	double t2 = now_s();
	if (rc) {
		printf("FAIL   %s: forward failed\n", name);
		n_fail++;
		goto done;
	}
	double worst = 0;
	for (int t = 0; t < n_prompt; t++) {
		double e = rel_l2(lg + (size_t)t * V, lc + (size_t)t * V, V);
		if (!(e <= worst)) worst = e;
	}
	int ok = worst <= LOGIT_TOL;
	printf("%-6s %s: prefill logits at %d positions, worst rel L2 %.2e (tol %.0e)  [cpu %.2fs, gpu %.3fs]\n",
	       ok ? "ok" : "FAIL", name, n_prompt, worst, LOGIT_TOL, t1 - t0, t2 - t1);
	ok ? n_pass++ : n_fail++;
	/* greedy decoding, each backend on its own choices; the GPU's first NREP
	 * decode steps are then run again and must give the same logits, bit for bit */
	{
		enum { NREP = 8, NDEV = 32 };
		int32_t gsel[NDEV]; /* the GPU's greedy choices, for the device-side loop */
		int nsel = 0;
		float *rec = malloc(sizeof(float) * (size_t)V * NREP), *again = malloc(sizeof(float) * (size_t)V);
		int32_t rtok[NREP];
		int nrec = 0;
		float *c1 = lc + (size_t)(n_prompt - 1) * V, *g1 = lg + (size_t)(n_prompt - 1) * V;
		int32_t tc = argmax(c1, V, NULL), tg = argmax(g1, V, NULL), tg0 = tg;
		int same = 0, diverged = -1, bad = 0;
		double worst_d = 0, margin_at = 0, min_margin = 1e30;
		for (int i = 0; i < n_gen; i++) {
			double m;
			argmax(c1, V, &m);
			if (m < min_margin) min_margin = m;
			if (tc != tg) {
				if (diverged < 0) {
					diverged = i;
					margin_at = m;
				}
				break;
			}
			same++;
			if (cpu(cu_, &tc, 1, n_prompt + i, 0, c1) || gpu(gu_, &tg, 1, n_prompt + i, 0, g1)) {
				bad = 1;
				break;
			}
			if (nrec < NREP) {
				rtok[nrec] = tg;
				memcpy(rec + (size_t)nrec++ * V, g1, sizeof(float) * V);
			}
			double e = rel_l2(g1, c1, V);
			if (!(e <= worst_d)) worst_d = e;
			tc = argmax(c1, V, NULL);
			tg = argmax(g1, V, NULL);
			if (nsel < NDEV) gsel[nsel++] = tg;
		}
		if (diverged < 0 && !bad) {
			ok = worst_d <= LOGIT_TOL;
			printf("%-6s %s: %d greedy tokens identical; decode logits worst rel L2 %.2e; smallest CPU top-2 margin %.3g\n",
			       ok ? "ok" : "FAIL", name, same, worst_d, min_margin);
		} else {
			ok = !bad && margin_at < MARGIN_TOL && worst_d <= LOGIT_TOL;
			printf("%-6s %s: greedy tokens identical for %d of %d, then differ where the CPU's top-2 margin is %.3g "
			       "(tol %.0e); decode logits worst rel L2 %.2e\n",
			       ok ? "ok" : "FAIL", name, same, n_gen, margin_at, MARGIN_TOL, worst_d);
		}
		ok ? n_pass++ : n_fail++;
		int differ = -1;
		for (int i = 0; i < nrec && differ < 0 && !bad; i++) {
			if (gpu(gu_, &rtok[i], 1, n_prompt + i, 0, again)) bad = 1;
			else if (memcmp(again, rec + (size_t)i * V, sizeof(float) * V) != 0) differ = i;
		}
		ok = !bad && differ < 0;
		if (differ >= 0)
			printf("FAIL   %s: decode step %d run again gave other logits\n", name, differ);
		else
			printf("%-6s %s: %d decode steps run again: the same logits bit for bit\n", ok ? "ok" : "FAIL", name, nrec);
		ok ? n_pass++ : n_fail++;
		/* the same greedy steps as a device-side loop (graph replays, each step's token
		 * and the positions left on the device): the same tokens */
		if (!bad && nsel > 0) {
			int32_t dev[NDEV];
			char err[256];
			int d = -1;
			if (llm_cuda_decode_greedy(llm_cuda_last_ctx(), tg0, n_prompt, nsel, dev, err, sizeof err)) {
				printf("FAIL   %s: device-side greedy loop: %s\n", name, err);
				n_fail++;
			} else {
				for (int i = 0; i < nsel && d < 0; i++)
					if (dev[i] != gsel[i]) d = i;
				if (d >= 0)
					printf("FAIL   %s: device-side greedy loop: step %d chose %d, the decode steps %d\n", name, d,
					       (int)dev[d], (int)gsel[d]);
				else
					printf("ok     %s: device-side greedy loop: the same %d tokens\n", name, nsel);
				d < 0 ? n_pass++ : n_fail++;
			}
		}
		free(rec);
		free(again);
	}
done:
	free(prompt);
	free(lc);
	free(lg);
}

/* ---- (a) GGUF models through the public API ----------------------------------------------- */
static int api_fwd(void *u, const int32_t *t, int n, int pos, int all, float *logits)
{
	return llm_eval((llm_model *)u, t, n, pos, all, logits);
}

static void gguf_parity(const char *dir, const char *arch, int type, int layers, int embd, int heads, int kv, int hd,
                        int ff, int n_prompt, int n_gen)
{
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	o.arch = arch;
	o.n_layer = layers;
	o.n_embd = embd;
	o.n_head = heads;
	o.n_head_kv = kv;
	o.head_dim = hd;
	o.n_ff = ff;
	o.type = type;
	o.seed = rnd();
	char path[512], err[512], name[160];
	snprintf(path, sizeof path, "%s/mk-%s-%s.gguf", dir, arch, llm_type_name(type));
	snprintf(name, sizeof name, "mkmodel %s %s L%d E%d H%d/%d", arch, llm_type_name(type), layers, embd, heads, kv);
	if (llm_mkmodel(&o, path, err, sizeof err)) {
		printf("FAIL   %s: %s\n", name, err);
		n_fail++;
		return;
	}
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	lo.n_ctx = 1024;
	llm_error e1, e2;
	lo.backend = LLM_BACKEND_CPU;
	llm_model *mc = llm_load(path, &lo, &e1);
	lo.backend = LLM_BACKEND_CUDA;
	llm_model *mg = llm_load(path, &lo, &e2);
	if (!mc || !mg) {
		printf("FAIL   %s: load: %s\n", name, !mc ? e1.msg : e2.msg);
		n_fail++;
	} else {
		llm_info ic, ig;
		llm_get_info(mc, &ic);
		llm_get_info(mg, &ig);
		if (strcmp(ig.backend, "cuda") != 0) {
			printf("FAIL   %s: backend is %s\n", name, ig.backend);
			n_fail++;
		} else if (persistent_ok(name, type)) {
			parity(name, api_fwd, mc, api_fwd, mg, ic.n_vocab, n_prompt, n_gen);
		}
	}
	if (mc) llm_free(mc);
	if (mg) llm_free(mg);
	remove(path);
}

/* ---- (b) Qwen-shaped models in memory ---------------------------------------------------------- */
typedef struct mem_model {
	llm_config c;
	llm_weights w;
	llm_tensor *t;   /* all tensors */
	int nt;
	void **bufs;
	int nb;
} mem_model;

#define POOL 512 /* distinct rows per layer matrix; its rows cycle through them */

/* all_distinct: every row drawn (the embedding / tied head: no tied logits). */
static const llm_tensor *mk_tensor(mem_model *m, const char *name, int type, int cols, int rows, float sd,
                                   int all_distinct)
{
	/* Q4_K where a row is not a whole number of its 256-wide blocks (the 896
	 * columns of the Qwen2.5-0.5B shape): the types llama.cpp's quantizer falls
	 * back to in a Q4_K_M file, Q5_0, and for the tied embedding/head (Q6_K
	 * there) Q8_0 */
	if (type == LLM_TYPE_Q4_K && cols % 256) type = strcmp(name, "token_embd") == 0 ? LLM_TYPE_Q8_0 : LLM_TYPE_Q5_0;
	llm_tensor *t = &m->t[m->nt++];
	int64_t rb = llm_type_row_bytes(type, cols);
	uint8_t *data = malloc((size_t)rb * rows);
	int np = rows < POOL || all_distinct ? rows : POOL;
	float *row = malloc(sizeof(float) * cols);
	for (int r = 0; r < np; r++) {
		for (int i = 0; i < cols; i++) row[i] = (float)(gauss() * sd);
		llm_quant_row(type, row, data + (size_t)r * rb, cols);
	}
	for (int r = np; r < rows; r++) memcpy(data + (size_t)r * rb, data + (size_t)(rnd() % np) * rb, rb);
	free(row);
	m->bufs[m->nb++] = data;
	t->name = name;
	t->type = type;
	t->n_dims = rows > 1 ? 2 : 1;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->data = data;
	t->nbytes = (uint64_t)rb * rows;
	return t;
}

static const llm_tensor *mk_f32(mem_model *m, const char *name, int n, float mean, float sd)
{
	llm_tensor *t = &m->t[m->nt++];
	float *d = malloc(sizeof(float) * n);
	for (int i = 0; i < n; i++) d[i] = mean + (float)(gauss() * sd);
	m->bufs[m->nb++] = d;
	t->name = name;
	t->type = LLM_TYPE_F32;
	t->n_dims = 1;
	t->ne[0] = n;
	t->ne[1] = t->ne[2] = t->ne[3] = 1;
	t->data = d;
	t->nbytes = (uint64_t)n * 4;
	return t;
}

static void mem_build(mem_model *m, int qwen3, int type)
{
	memset(m, 0, sizeof *m);
	llm_config *c = &m->c;
	c->arch = qwen3 ? LLM_ARCH_QWEN3 : LLM_ARCH_QWEN2;
	c->n_layer = qwen3 ? 28 : 24;
	c->n_embd = qwen3 ? 1024 : 896;
	c->n_head = qwen3 ? 16 : 14;
	c->n_head_kv = qwen3 ? 8 : 2;
	c->head_dim = qwen3 ? 128 : 64;
	c->n_ff = qwen3 ? 3072 : 4864;
	c->n_vocab = 151936;
	c->n_ctx_train = 32768;
	c->rope_theta = 1000000.f;
	c->rope_form = LLM_ROPE_NEOX;
	c->rms_eps = 1e-6f;
	c->qk_norm = qwen3;
	c->has_qkv_bias = !qwen3;
	c->tied_output = 1;
	int L = c->n_layer, E = c->n_embd, qd = c->n_head * c->head_dim, kd = c->n_head_kv * c->head_dim, F = c->n_ff;
	m->t = calloc((size_t)L * 16 + 8, sizeof(llm_tensor));
	m->bufs = calloc((size_t)L * 16 + 8, sizeof(void *));
	m->w.layers = calloc((size_t)L, sizeof(llm_layer));
	/* BENCH_EMBD=q6_K: the tied embedding/head in Q6_K, as llama.cpp's Q4_K_M files
	 * keep it where the width is a multiple of 256 (Qwen3-0.6B) */
	const char *et = getenv("BENCH_EMBD");
	int etype = et && strcmp(et, "q6_K") == 0 && E % 256 == 0 ? LLM_TYPE_Q6_K : type;
	m->w.token_embd = mk_tensor(m, "token_embd", etype, E, c->n_vocab, 1.0f, 1);
	m->w.output = m->w.token_embd;
	m->w.output_norm = mk_f32(m, "output_norm", E, 1.0f, 0.1f);
	for (int l = 0; l < L; l++) {
		llm_layer *y = &m->w.layers[l];
		y->attn_norm = mk_f32(m, "attn_norm", E, 1.0f, 0.1f);
		y->ffn_norm = mk_f32(m, "ffn_norm", E, 1.0f, 0.1f);
		y->wq = mk_tensor(m, "wq", type, E, qd, 1.0f / sqrtf((float)E), 0);
		y->wk = mk_tensor(m, "wk", type, E, kd, 1.0f / sqrtf((float)E), 0);
		y->wv = mk_tensor(m, "wv", type, E, kd, 1.0f / sqrtf((float)E), 0);
		y->wo = mk_tensor(m, "wo", type, qd, E, 1.0f / sqrtf((float)qd), 0);
		y->w_gate = mk_tensor(m, "w_gate", type, E, F, 1.0f / sqrtf((float)E), 0);
		y->w_up = mk_tensor(m, "w_up", type, E, F, 1.0f / sqrtf((float)E), 0);
		y->w_down = mk_tensor(m, "w_down", type, F, E, 1.0f / sqrtf((float)F), 0);
		if (!qwen3) {
			y->bq = mk_f32(m, "bq", qd, 0.f, 0.1f);
			y->bk = mk_f32(m, "bk", kd, 0.f, 0.1f);
			y->bv = mk_f32(m, "bv", kd, 0.f, 0.1f);
		} else {
			y->q_norm = mk_f32(m, "q_norm", c->head_dim, 1.0f, 0.1f);
			y->k_norm = mk_f32(m, "k_norm", c->head_dim, 1.0f, 0.1f);
		}
	}
}

/* 1 when mk_tensor fell back to other types for some of the model's matrices. */
static int mem_mixed(const mem_model *m, int type)
{
	for (int i = 0; i < m->nt; i++)
		if (m->t[i].n_dims == 2 && (int)m->t[i].type != type) return 1;
	return 0;
}
/* The weight type's name, "q4_K-mix" for the Q4_K model with fallbacks. */
static const char *mem_type_name(const mem_model *m, int type)
{
	return !mem_mixed(m, type) ? llm_type_name(type) : type == LLM_TYPE_Q4_K ? "q4_K-mix" : "mixed";
}

static void mem_free(mem_model *m)
{
	for (int i = 0; i < m->nb; i++) free(m->bufs[i]);
	free(m->bufs);
	free(m->t);
	free(m->w.layers);
}

typedef struct be { llm_backend_ops ops; void *ctx; } be;
static int be_fwd(void *u, const int32_t *t, int n, int pos, int all, float *logits)
{
	be *b = u;
	char err[256];
	int rc = b->ops.forward(b->ctx, t, n, pos, all, logits, err, sizeof err);
	if (rc) printf("       forward: %s\n", err);
	return rc;
}

static void mem_parity(int qwen3, int type, int n_prompt, int n_gen)
{
	mem_model m;
	mem_build(&m, qwen3, type);
	char name[128], err[512];
	snprintf(name, sizeof name, "%s-shaped %s", qwen3 ? "Qwen3-0.6B" : "Qwen2.5-0.5B", mem_type_name(&m, type));
	be c = {0}, g = {0};
	int n_ctx = n_prompt + n_gen + 8;
	if (llm_cpu_backend_create(&m.c, &m.w, n_ctx, 0, &c.ops, &c.ctx, err, sizeof err)) {
		printf("FAIL   %s: cpu: %s\n", name, err);
		n_fail++;
	} else if (llm_cuda_backend_create(&m.c, &m.w, n_ctx, &g.ops, &g.ctx, err, sizeof err)) {
		printf("FAIL   %s: cuda: %s\n", name, err);
		n_fail++;
	} else if (persistent_ok(name, mem_mixed(&m, type) ? -1 : type)) { /* -1: no single type to expect a path for */
		parity(name, be_fwd, &c, be_fwd, &g, m.c.n_vocab, n_prompt, n_gen);
	}
	if (c.ctx) c.ops.destroy(c.ctx);
	if (g.ctx) g.ops.destroy(g.ctx);
	mem_free(&m);
}

/* The persistent kernel's phase profile of the last decode step (VIGIL_CUDA_PD_PROF=1). */
static void pd_report(void *ctx, const char *name, int type, int at)
{
	double w[5], wm[5], wt[5];
	if (llm_cuda_pd_phases(ctx, w, wm, wt) != 0) return;
	static const char *kn[5] = {"qkv", "attention", "o", "gate/up", "down"};
	double tot = 0;
	printf("bench  %s %s persistent kernel per layer at ctx %d (us; work mean/max over blocks, barrier wait):", name,
	       llm_type_name(type), at);
	for (int k = 0; k < 5; k++) {
		printf("  %s %.2f/%.2f +%.2f", kn[k], w[k], wm[k], wt[k]);
		tot += w[k] + wt[k];
	}
	printf("  (sum of means %.2f)\n", tot);
}

static void mem_bench(int qwen3, int type, double copy_gbs)
{
	mem_model m;
	mem_build(&m, qwen3, type);
	char err[512];
	be g = {0};
	const char *name = qwen3 ? "Qwen3-0.6B" : "Qwen2.5-0.5B";
	int n_ctx = 4096 + 64;
	if (llm_cuda_backend_create(&m.c, &m.w, n_ctx, &g.ops, &g.ctx, err, sizeof err)) {
		printf("bench  %s %s: cuda: %s\n", name, mem_type_name(&m, type), err);
		mem_free(&m);
		return;
	}
	size_t wbytes = 0;
	for (int i = 0; i < m.nt; i++)
		if (m.t[i].n_dims == 2 || m.t[i].type != LLM_TYPE_F32) wbytes += m.t[i].nbytes;
	for (int i = 0; i < m.nt; i++)
		if (m.t[i].n_dims == 1 && m.t[i].type == LLM_TYPE_F32) wbytes += m.t[i].nbytes;
	/* bytes a decode step must read: every weight once except the embedding table
	 * (one row), with the tied head reading the table once */
	double floor_ms = wbytes / (copy_gbs * 1e9) * 1e3;
	int V = m.c.n_vocab, np = 512;
	int32_t *toks = malloc(sizeof(int32_t) * 4096);
	float *logits = malloc(sizeof(float) * V);
	for (int i = 0; i < 4096; i++) toks[i] = (int32_t)(rnd() % (uint64_t)V);
	/* prefill of 512 (warm once), TTFT = prefill + first logits */
	be_fwd(&g, toks, np, 0, 0, logits);
	double best = 1e30;
	for (int r = 0; r < 3; r++) {
		double t0 = now_s();
		be_fwd(&g, toks, np, 0, 0, logits);
		double t = now_s() - t0;
		if (t < best) best = t;
	}
	/* decode through the public forward (token in, logits out to the host) */
	double t0 = now_s();
	int nd = 64;
	for (int i = 0; i < nd; i++) be_fwd(&g, &toks[i], 1, np + i, 0, logits);
	double fwd_ms = (now_s() - t0) / nd * 1e3;
	/* device-side decode: graph replays with on-device argmax */
	double ms128 = 0, ms4k = 0;
	int kernels = 0;
	size_t vram = 0;
	void *ctx = llm_cuda_last_ctx();
	/* fill the cache up to 4096 with a long prefill so attention reads real entries */
	be_fwd(&g, toks, 4000, 0, 0, logits);
	if (llm_cuda_bench_decode(ctx, toks[0], 128, 128, &ms128, &kernels, &vram, err, sizeof err))
		printf("bench  %s: %s\n", name, err);
	pd_report(ctx, name, type, 256);
	if (llm_cuda_bench_decode(ctx, toks[0], 4000, 96, &ms4k, NULL, NULL, err, sizeof err))
		printf("bench  %s: %s\n", name, err);
	pd_report(ctx, name, type, 4096);
	/* BENCH_AT="1000 2000": decode at those contexts too */
	const char *at = getenv("BENCH_AT");
	for (const char *p = at; p && *p;) {
		char *end;
		long q = strtol(p, &end, 10);
		if (end == p) break;
		double ms = 0;
		if (q > 0 && q + 64 <= n_ctx && llm_cuda_bench_decode(ctx, toks[0], (int)q, 64, &ms, NULL, NULL, err, sizeof err) == 0)
			printf("bench  %-12s %-8s decode@%ld %.3f ms\n", name, mem_type_name(&m, type), q, ms);
		p = end;
	}
	printf("bench  %-12s %-8s weights %7.1f MB  VRAM (buffers) %7.1f MB  prefill512 %8.0f tok/s (TTFT %.2f ms)  "
	       "decode@128 %.3f ms (%.0f tok/s)  decode@4096 %.3f ms  floor %.3f ms -> %.2fx floor  forward() %.3f ms/tok  "
	       "%d graph nodes/token  prefill=%s\n",
	       name, mem_type_name(&m, type), wbytes / 1e6, vram / 1e6, np / best, best * 1e3, ms128, 1e3 / ms128, ms4k,
	       floor_ms, ms128 / floor_ms, fwd_ms, kernels, getenv("VIGIL_CUDA_PREFILL") ? getenv("VIGIL_CUDA_PREFILL") : "tf32");
	free(toks);
	free(logits);
	g.ops.destroy(g.ctx);
	mem_free(&m);
}

#ifdef VIGIL_CUPTI
/* ---- timeline: when each kernel of the decode graph really ran ----------------------
 * Built only with -DVIGIL_CUPTI (tests/gpu/iter.sh, step "timeline"): CUPTI's
 * concurrent-kernel records (start and end on the GPU, not serialised, so the
 * overlap that programmatic dependent launch buys shows) of n graph replays.
 * Per kind of node (kernel and grid): calls per token, mean time from its
 * start to its end, the gap from the previous node's end to its start
 * (negative: it started before that one ended) and what it adds to the
 * token's time (its end less the previous node's end). */
#include <cupti.h>
#ifdef VIGIL_ATD_PROF
#include <cuda_runtime_api.h>
#include "tests/gpu/atd_prof.h"
#endif
typedef struct tl_rec { uint64_t start, end, node; const char *name; int grid; } tl_rec;
static tl_rec *tl_v;
static size_t tl_n, tl_cap;
static void CUPTIAPI tl_buf(uint8_t **buf, size_t *size, size_t *maxrec)
{
	*size = (size_t)8 << 20;
	*buf = aligned_alloc(8, *size);
	*maxrec = 0;
}
static void CUPTIAPI tl_got(CUcontext c, uint32_t sid, uint8_t *buf, size_t size, size_t valid)
{
	(void)c, (void)sid, (void)size;
	CUpti_Activity *r = NULL;
	while (cuptiActivityGetNextRecord(buf, valid, &r) == CUPTI_SUCCESS) {
		if (r->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
		const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)r;
		if (tl_n == tl_cap) {
			tl_cap = tl_cap ? 2 * tl_cap : 4096;
			tl_v = realloc(tl_v, tl_cap * sizeof *tl_v);
		}
		tl_v[tl_n++] = (tl_rec){k->start, k->end, k->graphNodeId, k->name, k->gridX * k->gridY * k->gridZ};
	}
	free(buf);
}
static int tl_by_start(const void *a, const void *b)
{
	const tl_rec *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}
/* A short name: the mangled name up to "kernel" and its template arguments, cut to fit o. */
static void tl_short(const char *n, char *o, size_t on)
{
	const char *p = strstr(n, "kernel");
	size_t k = p ? (size_t)(p - n) + 6 : strlen(n);
	const char *lt = strchr(n, '<');
	if (lt && (size_t)(lt - n) >= k) {
		const char *gt = strchr(lt, '>');
		k = gt ? (size_t)(gt - n) + 1 : k;
	}
	snprintf(o, on, "%.*s", (int)(k < on - 1 ? k : on - 1), n);
}
static int timeline(int qwen3, int type, int pos, int n, int n_ctx)
{
	mem_model m;
	mem_build(&m, qwen3, type);
	be g = {0};
	char err[512];
	int V = m.c.n_vocab, K = 0;
	int32_t *toks = malloc(sizeof(int32_t) * 4096);
	float *logits = malloc(sizeof(float) * V);
	for (int i = 0; i < 4096; i++) toks[i] = (int32_t)(rnd() % (uint64_t)V);
	double ms = 0;
	if (llm_cuda_backend_create(&m.c, &m.w, n_ctx, &g.ops, &g.ctx, err, sizeof err) ||
	    be_fwd(&g, toks, pos > 64 ? pos : 64, 0, 0, logits) ||
	    llm_cuda_bench_decode(llm_cuda_last_ctx(), toks[0], pos, 8, &ms, &K, NULL, err, sizeof err)) {
		printf("timeline: %s\n", err);
		return 1;
	}
	if (cuptiActivityRegisterCallbacks(tl_buf, tl_got) != CUPTI_SUCCESS ||
	    cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS) {
		printf("timeline: CUPTI activity tracing is not available\n");
		return 1;
	}
	tl_n = 0;
	int rc = llm_cuda_bench_decode(llm_cuda_last_ctx(), toks[0], pos, n, &ms, &K, NULL, err, sizeof err);
	cuptiActivityFlushAll(1);
	cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
	if (rc || K <= 0 || tl_n < (size_t)K * n) {
		printf("timeline: %s (%zu kernel records for %d tokens of %d kernels)\n", rc ? err : "too few records", tl_n, n,
		       K);
		return 1;
	}
	qsort(tl_v, tl_n, sizeof *tl_v, tl_by_start);
	size_t base = tl_n - (size_t)K * n; /* the last n tokens */
	double *dur = calloc(K, sizeof(double)), *gap = calloc(K, sizeof(double)), span = 0, busy = 0;
	for (int t = 0; t < n; t++) {
		const tl_rec *r = tl_v + base + (size_t)t * K;
		uint64_t hi = r[0].end, lo = r[0].start;
		for (int i = 0; i < K; i++) {
			dur[i] += (double)(r[i].end - r[i].start) / 1e3 / n;
			if (i) gap[i] += ((double)r[i].start - (double)r[i - 1].end) / 1e3 / n;
			if (r[i].node != tl_v[base + i].node) {
				printf("timeline: token %d: kernel %d is another graph node than in token 0\n", t, i);
				return 1;
			}
			if (r[i].end > hi) hi = r[i].end;
		}
		span += (double)(hi - lo) / 1e3 / n;
		/* time with at least one kernel running */
		uint64_t cur_s = r[0].start, cur_e = r[0].end;
		for (int i = 1; i < K; i++) {
			if (r[i].start > cur_e) {
				busy += (double)(cur_e - cur_s) / 1e3 / n;
				cur_s = r[i].start;
			}
			if (r[i].end > cur_e) cur_e = r[i].end;
		}
		busy += (double)(cur_e - cur_s) / 1e3 / n;
	}
	printf("tl %s %s decode at position %d (n_ctx %d), %d tokens of %d kernels (graph replay with host copies between, "
	       "%.3f ms/token while traced)\n", qwen3 ? "Qwen3-0.6B" : "Qwen2.5-0.5B", mem_type_name(&m, type), pos, n_ctx, n, K, ms);
	printf("tl   first kernel start to last kernel end %.1f us/token; some kernel running %.1f us; none running %.1f us\n",
	       span, busy, span - busy);
	/* per kind (name + grid): calls per token, mean duration, mean gap before */
	char names[64][48];
	int grids[64], cnt[64], nk = 0;
	double kd[64], kg[64];
	for (int i = 0; i < K; i++) {
		char sn[48];
		tl_short(tl_v[base + i].name, sn, sizeof sn);
		int j = 0;
		while (j < nk && !(grids[j] == tl_v[base + i].grid && strcmp(names[j], sn) == 0)) j++;
		if (j == nk) {
			if (nk == 64) continue;
			snprintf(names[nk], sizeof names[nk], "%s", sn);
			grids[nk] = tl_v[base + i].grid;
			cnt[nk] = 0;
			kd[nk] = kg[nk] = 0;
			nk++;
		}
		cnt[j]++;
		kd[j] += dur[i];
		kg[j] += i ? gap[i] : 0;
	}
	printf("tl   %-44s %6s %5s %10s %10s %10s %12s\n", "kernel", "grid", "calls", "us/call", "gap before", "adds", "us/token");
	double td = 0, tg = 0;
	for (int j = 0; j < nk; j++) {
		printf("tl   %-44s %6d %5d %10.2f %10.2f %10.2f %12.1f\n", names[j], grids[j], cnt[j], kd[j] / cnt[j],
		       kg[j] / cnt[j], (kd[j] + kg[j]) / cnt[j], kd[j]);
		td += kd[j];
		tg += kg[j];
	}
	printf("tl   sum of kernel durations %.1f us/token, sum of gaps %.1f us (negative: overlap)\n", td, tg);
#ifdef VIGIL_ATD_PROF
	{ /* the decode attention's phase clock inside the graph (kern_ops built with -DVIGIL_ATD_PROF): one
	   more token, the stamps of the last layer's blocks */
		const int NS = KERN_ATD_NSTAMP, NB = 4096;
		long long *d = NULL, *h = malloc((size_t)NB * NS * 8);
		if (cudaMalloc((void **)&d, (size_t)NB * NS * 8) || cudaMemset(d, 0, (size_t)NB * NS * 8) || kern_attn_dec_prof(d) ||
		    llm_cuda_bench_decode(llm_cuda_last_ctx(), toks[0], pos, 1, &ms, NULL, NULL, err, sizeof err) ||
		    cudaDeviceSynchronize() || kern_attn_dec_prof(NULL) || cudaMemcpy(h, d, (size_t)NB * NS * 8, cudaMemcpyDeviceToHost)) {
			printf("timeline: phase clock failed\n");
		} else {
#ifdef VIGIL_ATD_GT /* stamps before the last layer's first start (earlier layers' merges) are left out */
			printf("tl   attention phase clock in the graph, last layer (ns since the first block's start, over the blocks)\n");
			atd_prof_print_gt(h, NB, "tl     ");
#else
			/* the merge stamp is left out: only a range's last block writes it, so
			   the buffer can hold one from an earlier layer */
			printf("tl   attention phase clock in the graph, last layer (cycles since the block's start: mean / max, blocks)\n");
			atd_prof_print(h, NB, ATD_PROF_COUNTER, "tl     ");
#endif
		}
		cudaFree(d);
		free(h);
	}
#endif
	if (getenv("TL_NODES")) /* every node of one token */
		for (int i = 0; i < K; i++) {
			char sn[48];
			tl_short(tl_v[base + i].name, sn, sizeof sn);
			printf("tl   node %3d %-44s grid %5d  %7.2f us  gap %6.2f\n", i, sn, tl_v[base + i].grid, dur[i], gap[i]);
		}
	free(dur);
	free(gap);
	free(toks);
	free(logits);
	g.ops.destroy(g.ctx);
	mem_free(&m);
	return 0;
}
#endif

/* Whether a comma-separated item of list is type name or a start of it. */
static int bench_type_picked(const char *list, const char *name)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n && n <= strlen(name) && strncmp(p, name, n) == 0) return 1;
		p += n;
		if (*p == ',') p++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "test";
	const char *why = NULL;
	if (kern_device_count(&why) == 0) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	rs ^= (uint64_t)time(NULL) * 2654435761u;
	if (strcmp(mode, "profile") == 0) { /* one eager + one graph decode step, for ncu: Qwen2.5-0.5B bf16 at
	                                      position 100, or argv[2] qwen3, argv[3] the position */
		int qwen3 = argc > 2 && strcmp(argv[2], "qwen3") == 0, pos = argc > 3 ? atoi(argv[3]) : 100;
		if (pos < 0 || pos > 8192) pos = 100;
		mem_model m;
		mem_build(&m, qwen3, LLM_TYPE_BF16);
		be g = {0};
		char err[512];
		double ms;
		int k;
		size_t vr;
		if (llm_cuda_backend_create(&m.c, &m.w, pos + 156, &g.ops, &g.ctx, err, sizeof err) ||
		    llm_cuda_bench_decode(llm_cuda_last_ctx(), 1, pos, 1, &ms, &k, &vr, err, sizeof err)) {
			printf("profile: %s\n", err);
			return 1;
		}
		printf("profile: %d graph nodes per token\n", k);
		g.ops.destroy(g.ctx);
		mem_free(&m);
		return 0;
	}
#ifdef VIGIL_CUPTI
	if (strcmp(mode, "timeline") == 0) { /* argv[2] qwen2|qwen3, argv[3] type name, argv[4] position, argv[5] tokens,
	                                       argv[6] n_ctx (4160, as the bench) */
		int qwen3 = argc > 2 && strcmp(argv[2], "qwen3") == 0, type = LLM_TYPE_BF16;
		if (argc > 3)
			for (int t = 0; t < LLM_TYPE_COUNT; t++)
				if (llm_type_name(t) && strcmp(llm_type_name(t), argv[3]) == 0) type = t;
		int pos = argc > 4 ? atoi(argv[4]) : 128, n = argc > 5 ? atoi(argv[5]) : 32;
		if (pos < 1 || pos > 4000) pos = 128;
		if (n < 1 || n > 96) n = 32;
		int n_ctx = argc > 6 ? atoi(argv[6]) : 4096 + 64;
		if (n_ctx < pos + 8 + n || n_ctx > 4096 + 64) n_ctx = 4096 + 64;
		return timeline(qwen3, type, pos, n, n_ctx);
	}
#endif
	if (strcmp(mode, "profile-prefill") == 0) { /* one prefill of 512 tokens (argv[2]: qwen3), for ncu */
		int qwen3 = argc > 2 && strcmp(argv[2], "qwen3") == 0;
		mem_model m;
		mem_build(&m, qwen3, LLM_TYPE_BF16);
		be g = {0};
		char err[512];
		int32_t *toks = malloc(512 * sizeof *toks);
		float *lg = malloc((size_t)m.c.n_vocab * sizeof *lg);
		for (int i = 0; i < 512; i++) toks[i] = (int32_t)(rnd() % (uint64_t)m.c.n_vocab);
		if (llm_cuda_backend_create(&m.c, &m.w, 1024, &g.ops, &g.ctx, err, sizeof err) ||
		    g.ops.forward(g.ctx, toks, 512, 0, 0, lg, err, sizeof err)) {
			printf("profile-prefill: %s\n", err);
			return 1;
		}
		printf("profile-prefill: %s 512 tokens\n", qwen3 ? "Qwen3-0.6B" : "Qwen2.5-0.5B");
		g.ops.destroy(g.ctx);
		free(toks);
		free(lg);
		mem_free(&m);
		return 0;
	}
	if (strcmp(mode, "bench") == 0) {
		double gbs = argc > 2 ? atof(argv[2]) : 0;
		if (!(gbs > 0)) gbs = 3000;
		printf("floor uses copy bandwidth %.0f GB/s\n", gbs);
		int types[] = {LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_K, LLM_TYPE_Q4_0};
		for (int q3 = 0; q3 < 2; q3++)
			for (int i = 0; i < 4; i++) {
				if (types[i] == LLM_TYPE_Q4_0 && q3) continue;
				/* BENCH_ONLY="bf16,q8_0" (type names or their starts: "q4" is q4_K and q4_0) /
				 * BENCH_MODELS=qwen2|qwen3 narrow the run */
				const char *only = getenv("BENCH_ONLY"), *models = getenv("BENCH_MODELS");
				if (only && *only && !bench_type_picked(only, llm_type_name(types[i]))) continue;
				if (models && *models && !strstr(models, q3 ? "qwen3" : "qwen2")) continue;
				mem_bench(q3, types[i], gbs);
			}
		return 0;
	}
	if (strcmp(mode, "quick") == 0) { /* small models, for compute-sanitizer */
		gguf_parity(dir, "qwen2", LLM_TYPE_BF16, 2, 256, 4, 2, 0, 512, 40, 16);
		gguf_parity(dir, "qwen3", LLM_TYPE_Q8_0, 2, 256, 4, 2, 64, 512, 100, 8);
		gguf_parity(dir, "llama", LLM_TYPE_Q4_K, 2, 256, 8, 4, 0, 768, 40, 8);
		printf("%d passed, %d failed\n", n_pass, n_fail);
		return n_fail ? 1 : 0;
	}
	int types[] = {LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,
	               LLM_TYPE_Q5_0, LLM_TYPE_Q4_K, LLM_TYPE_Q6_K};
	for (int i = 0; i < 9; i++) {
		gguf_parity(dir, "qwen2", types[i], 2, 256, 4, 2, 0, 512, 40, 256);
		gguf_parity(dir, "qwen3", types[i], 2, 256, 4, 2, 64, 512, 600, 64);
		gguf_parity(dir, "llama", types[i], 2, 256, 8, 4, 0, 768, 40, 64);
	}
	mem_parity(0, LLM_TYPE_BF16, 64, 256);
	mem_parity(0, LLM_TYPE_Q8_0, 64, 256);
	mem_parity(1, LLM_TYPE_BF16, 64, 256);
	mem_parity(1, LLM_TYPE_Q4_K, 64, 256);
	mem_parity(0, LLM_TYPE_Q4_K, 64, 256); /* q4_K-mix: Q4_K down, Q5_0 and Q8_0 elsewhere */
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
