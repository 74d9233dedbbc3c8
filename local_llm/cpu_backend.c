/* local_llm/cpu_backend.c — the reference forward pass on the CPU, and the
 * thread pool it runs on.
 *
 * One forward call runs on every pool thread at once: each step (norm,
 * matrix product, RoPE, attention, ...) gives each thread a slice (rows of a
 * weight matrix, or tokens, or (token, head) pairs), and threads meet at a
 * barrier between steps.  Everything is allocated at create: the KV cache
 * ([n_layer][n_ctx][kv_dim] floats for K and for V) and the activations for a
 * batch of up to MAXB tokens; a forward call allocates nothing.
 *
 * Per layer, for a batch of n tokens (x: [n][n_embd], the residual stream):
 *   xb  = rmsnorm(x) * attn_norm
 *   q,k,v = xb·Wq (+bq), xb·Wk (+bk), xb·Wv (+bv)      [n][q_dim], [n][kv_dim]
 *   (qwen3) q,k = rmsnorm per head * q_norm / k_norm
 *   q,k = rope(q,k, pos)   ; K/V cache[pos..] = k, v
 *   att = softmax(q·K^T / sqrt(head_dim), causal) · V  [n][q_dim]
 *   x  += att·Wo
 *   xb  = rmsnorm(x) * ffn_norm
 *   x  += (silu(xb·Wgate) * (xb·Wup)) · Wdown
 * then logits = rmsnorm(x) * output_norm · Woutput. */
#include "local_llm/llm_internal.h"
#include "local_llm/quant.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>

/* ---- pool ------------------------------------------------------------------------- */

struct llm_pool {
	int n;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t gen;                /* job generation, under mu */
	int quit;
	void (*fn)(void *, int, int);
	void *arg;
	atomic_int pending;          /* workers still running the job */
	/* barrier */
	atomic_int bar_count;
	atomic_uint bar_gen;
	atomic_int bar_sleepers;     /* threads asleep on the futex */
};

typedef struct { llm_pool *p; int ith; } worker_arg;

static void *worker(void *a)
{
	worker_arg *wa = a;
	llm_pool *p = wa->p;
	int ith = wa->ith;
	free(wa);
	uint64_t seen = 0;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = p->gen;
		void (*fn)(void *, int, int) = p->fn;
		void *arg = p->arg;
		pthread_mutex_unlock(&p->mu);
		fn(arg, ith, p->n);
		atomic_fetch_sub(&p->pending, 1);
	}
}

llm_pool *llm_pool_create(int n)
{
	if (n < 1)
		n = 1;
	llm_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n = n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tid = calloc((size_t)n, sizeof *p->tid);
	if (!p->tid) {
		free(p);
		return NULL;
	}
	for (int i = 1; i < n; i++) {
		worker_arg *wa = malloc(sizeof *wa);
		if (!wa || (wa->p = p, wa->ith = i, pthread_create(&p->tid[i], NULL, worker, wa))) {
			free(wa);
			p->n = i;	/* only the threads started so far */
			llm_pool_free(p);
			return NULL;
		}
	}
	return p;
}

void llm_pool_free(llm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->tid[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->tid);
	free(p);
}

int llm_pool_size(const llm_pool *p) { return p->n; }

void llm_pool_run(llm_pool *p, void (*fn)(void *, int, int), void *arg)
{
	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	atomic_store(&p->pending, p->n - 1);
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->gen++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	fn(arg, 0, p->n);
	for (int spins = 0; atomic_load(&p->pending) > 0; spins++)
		if (spins > 64)
			sched_yield();
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* All n threads of the pool wait here until every one has arrived.  A
 * waiter spins briefly (the common case on an idle machine: the steps are
 * short and balanced), then sleeps on a futex so that, on a busy machine, the
 * thread it waits for can have the CPU. */
static void barrier(llm_pool *p)
{
	if (p->n == 1)
		return;
	unsigned g = atomic_load(&p->bar_gen);
	if (atomic_fetch_add(&p->bar_count, 1) == p->n - 1) {
		atomic_store(&p->bar_count, 0);
		atomic_fetch_add(&p->bar_gen, 1);
		if (atomic_load(&p->bar_sleepers))
			syscall(SYS_futex, (unsigned *)&p->bar_gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
		return;
	}
	for (int spins = 0; atomic_load(&p->bar_gen) == g; spins++) {
		if (spins < 4000) {
			cpu_relax();
			continue;
		}
		atomic_fetch_add(&p->bar_sleepers, 1);
		/* returns at once if the generation moved on since g was read */
		syscall(SYS_futex, (unsigned *)&p->bar_gen, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
		atomic_fetch_sub(&p->bar_sleepers, 1);
	}
}

/* ---- backend ---------------------------------------------------------------------- */

#define MAXB 64   /* tokens per internal batch */

typedef struct cpu {
	llm_config c;
	const llm_weights *w;
	int n_ctx, q_dim, kv_dim, max_in;
	llm_pool *pool;
	float *kcache, *vcache;     /* [n_layer][n_ctx][kv_dim] */
	float *x, *xb;              /* [MAXB][n_embd] */
	float *q;                   /* [MAXB][q_dim] */
	float *k, *v;               /* [MAXB][kv_dim] */
	float *att;                 /* [MAXB][q_dim] */
	float *hg, *hu;             /* [MAXB][n_ff] */
	float *scores;              /* [n_threads][n_ctx] */
	llm_q8a *xq;                /* [MAXB * max_in / 32] the current matmul input, quantized */
	float *inv_freq;            /* [head_dim/2] */
	/* the current job */
	const int32_t *toks;
	int n, pos, all_logits;
	float *logits;
} cpu;

static void slice(int64_t total, int ith, int nth, int64_t *a, int64_t *b)
{
	*a = total * ith / nth;
	*b = total * (ith + 1) / nth;
}

/* Y = X · W^T (or Y += ...), rows of W split across threads; quantized
 * weight types read s->xq, which must hold X quantized. */
static void mm(cpu *s, const llm_tensor *t, const float *X, int64_t xs, float *Y, int64_t ys,
               int n, int acc, int ith, int nth)
{
	int64_t r0, r1;
	slice(t->ne[1], ith, nth, &r0, &r1);
	llm_matmul_rows(t->type, t->data, (size_t)llm_type_row_bytes(t->type, t->ne[0]), X, s->xq,
	                t->ne[0], n, xs, Y, ys, r0, r1, acc);
}

/* Quantizes token rows [a, b) of X (width n_in) into s->xq. */
static void quant_rows(cpu *s, const float *X, int64_t n_in, int64_t a, int64_t b)
{
	if (n_in % 32)
		return;	/* only float weight types can consume such a width */
	for (int64_t t = a; t < b; t++)
		llm_quantize_x(X + t * n_in, s->xq + t * (n_in / 32), n_in);
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps)
{
	double ss = 0;
	for (int i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	float r = 1.0f / sqrtf((float)(ss / n) + eps);
	for (int i = 0; i < n; i++)
		o[i] = w[i] * (x[i] * r);
}

static void rope(const cpu *s, float *v, int pos)
{
	int hd = s->c.head_dim, half = hd / 2;
	for (int i = 0; i < half; i++) {
		float a = (float)pos * s->inv_freq[i];
		float cs = cosf(a), sn = sinf(a);
		int i0 = s->c.rope_form == LLM_ROPE_NEOX ? i : 2 * i;
		int i1 = s->c.rope_form == LLM_ROPE_NEOX ? i + half : 2 * i + 1;
		float x0 = v[i0], x1 = v[i1];
		v[i0] = x0 * cs - x1 * sn;
		v[i1] = x0 * sn + x1 * cs;
	}
}

static void forward_batch(cpu *s, const int32_t *toks, int n, int pos, float *logits,
                          int want, int ith, int nth)
{
	const llm_config *c = &s->c;
	const llm_weights *w = s->w;
	int E = c->n_embd, hd = c->head_dim, F = c->n_ff;
	int64_t a, b;

	/* embeddings */
	slice(n, ith, nth, &a, &b);
	for (int64_t t = a; t < b; t++) {
		const llm_tensor *te = w->token_embd;
		size_t rb = (size_t)llm_type_row_bytes(te->type, E);
		llm_dequant_row(te->type, (const char *)te->data + rb * (size_t)toks[t], s->x + t * E, E);
	}
	barrier(s->pool);

	for (int l = 0; l < c->n_layer; l++) {
		const llm_layer *L = &w->layers[l];
		float *kc = s->kcache + (size_t)l * s->n_ctx * s->kv_dim;
		float *vc = s->vcache + (size_t)l * s->n_ctx * s->kv_dim;
		slice(n, ith, nth, &a, &b);
		for (int64_t t = a; t < b; t++)
			rmsnorm(s->xb + t * E, s->x + t * E, L->attn_norm->data, E, c->rms_eps);
		quant_rows(s, s->xb, E, a, b);
		barrier(s->pool);
		mm(s, L->wq, s->xb, E, s->q, s->q_dim, n, 0, ith, nth);
		mm(s, L->wk, s->xb, E, s->k, s->kv_dim, n, 0, ith, nth);
		mm(s, L->wv, s->xb, E, s->v, s->kv_dim, n, 0, ith, nth);
		barrier(s->pool);
		/* biases, qk-norm, rope, cache: per (token, head) over q and kv heads */
		int nh = c->n_head + c->n_head_kv;
		slice((int64_t)n * nh, ith, nth, &a, &b);
		for (int64_t j = a; j < b; j++) {
			int t = (int)(j / nh), h = (int)(j % nh);
			int p = pos + t;
			if (h < c->n_head) {
				float *qh = s->q + (size_t)t * s->q_dim + (size_t)h * hd;
				if (L->bq)
					for (int i = 0; i < hd; i++)
						qh[i] += ((const float *)L->bq->data)[h * hd + i];
				if (L->q_norm)
					rmsnorm(qh, qh, L->q_norm->data, hd, c->rms_eps);
				rope(s, qh, p);
			} else {
				h -= c->n_head;
				float *kh = s->k + (size_t)t * s->kv_dim + (size_t)h * hd;
				float *vh = s->v + (size_t)t * s->kv_dim + (size_t)h * hd;
				if (L->bk)
					for (int i = 0; i < hd; i++)
						kh[i] += ((const float *)L->bk->data)[h * hd + i];
				if (L->bv)
					for (int i = 0; i < hd; i++)
						vh[i] += ((const float *)L->bv->data)[h * hd + i];
				if (L->k_norm)
					rmsnorm(kh, kh, L->k_norm->data, hd, c->rms_eps);
				rope(s, kh, p);
				memcpy(kc + (size_t)p * s->kv_dim + (size_t)h * hd, kh, (size_t)hd * 4);
				memcpy(vc + (size_t)p * s->kv_dim + (size_t)h * hd, vh, (size_t)hd * 4);
			}
		}
		barrier(s->pool);
		/* attention per (token, query head) */
		int group = c->n_head / c->n_head_kv;
		float scale = 1.0f / sqrtf((float)hd);
		float *sc = s->scores + (size_t)ith * s->n_ctx;
		slice((int64_t)n * c->n_head, ith, nth, &a, &b);
		for (int64_t j = a; j < b; j++) {
			int t = (int)(j / c->n_head), h = (int)(j % c->n_head), kvh = h / group;
			int np = pos + t + 1;
			llm_attn_head(s->q + (size_t)t * s->q_dim + (size_t)h * hd, kc + (size_t)kvh * hd,
			              vc + (size_t)kvh * hd, s->kv_dim, np, hd, scale, sc,
			              s->att + (size_t)t * s->q_dim + (size_t)h * hd);
		}
		barrier(s->pool);
		slice(n, ith, nth, &a, &b);
		quant_rows(s, s->att, s->q_dim, a, b);
		barrier(s->pool);
		mm(s, L->wo, s->att, s->q_dim, s->x, E, n, 1, ith, nth);
		barrier(s->pool);
		slice(n, ith, nth, &a, &b);
		for (int64_t t = a; t < b; t++)
			rmsnorm(s->xb + t * E, s->x + t * E, L->ffn_norm->data, E, c->rms_eps);
		quant_rows(s, s->xb, E, a, b);
		barrier(s->pool);
		mm(s, L->w_gate, s->xb, E, s->hg, F, n, 0, ith, nth);
		mm(s, L->w_up, s->xb, E, s->hu, F, n, 0, ith, nth);
		barrier(s->pool);
		if (F % 32 == 0) {	/* by 32-value blocks, quantized as they are done */
			slice((int64_t)n * F / 32, ith, nth, &a, &b);
			for (int64_t k = a; k < b; k++) {
				llm_swiglu(s->hg + k * 32, s->hu + k * 32, 32);
				llm_quantize_x(s->hg + k * 32, s->xq + k, 32);
			}
		} else {
			slice((int64_t)n * F, ith, nth, &a, &b);
			llm_swiglu(s->hg + a, s->hu + a, b - a);
		}
		barrier(s->pool);
		mm(s, L->w_down, s->hg, F, s->x, E, n, 1, ith, nth);
		barrier(s->pool);
	}
	/* output: want 0 = none, 1 = last token, 2 = every token */
	if (want == 0)
		return;
	int first = want == 2 ? 0 : n - 1;
	int nout = n - first;
	slice(nout, ith, nth, &a, &b);
	for (int64_t t = first + a; t < first + b; t++) {
		rmsnorm(s->xb + t * E, s->x + t * E, w->output_norm->data, E, c->rms_eps);
		quant_rows(s, s->xb + (size_t)first * E, E, t - first, t - first + 1);
	}
	barrier(s->pool);
	mm(s, w->output, s->xb + (size_t)first * E, E, logits, c->n_vocab, nout, 0, ith, nth);
	barrier(s->pool);
}

static void job(void *arg, int ith, int nth)
{
	cpu *s = arg;
	for (int done = 0; done < s->n;) {
		int nb = s->n - done > MAXB ? MAXB : s->n - done;
		int last = done + nb == s->n;
		float *lg = s->all_logits ? s->logits + (size_t)done * s->c.n_vocab : s->logits;
		forward_batch(s, s->toks + done, nb, s->pos + done, lg,
		              s->all_logits ? 2 : last ? 1 : 0, ith, nth);
		done += nb;
	}
}

static int cpu_forward(void *ctx, const int32_t *toks, int n, int pos, int all_logits,
                       float *logits, char *err, size_t errlen)
{
	cpu *s = ctx;
	if (n < 1 || pos < 0 || pos + n > s->n_ctx) {
		snprintf(err, errlen, "cpu forward: positions %d..%d outside the context of %d", pos,
		         pos + n - 1, s->n_ctx);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (toks[i] < 0 || toks[i] >= s->c.n_vocab) {
			snprintf(err, errlen, "cpu forward: token id %d outside the vocabulary (%d)",
			         toks[i], s->c.n_vocab);
			return -1;
		}
	s->toks = toks;
	s->n = n;
	s->pos = pos;
	s->all_logits = all_logits;
	s->logits = logits;
	llm_pool_run(s->pool, job, s);
	return 0;
}

static void cpu_destroy(void *ctx)
{
	cpu *s = ctx;
	if (!s)
		return;
	llm_pool_free(s->pool);
	free(s->kcache);
	free(s->vcache);
	free(s->x);
	free(s->xb);
	free(s->q);
	free(s->k);
	free(s->v);
	free(s->att);
	free(s->hg);
	free(s->hu);
	free(s->scores);
	free(s->xq);
	free(s->inv_freq);
	free(s);
}

int llm_cpu_backend_create(const llm_config *cfg, const llm_weights *w, int n_ctx, int n_threads,
                           llm_backend_ops *ops, void **ctx, char *err, size_t errlen)
{
	*ctx = NULL;
	if (n_threads <= 0) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		n_threads = nc > 0 ? (int)nc : 1;
	}
	if (n_threads > 256)
		n_threads = 256;
	cpu *s = calloc(1, sizeof *s);
	if (!s)
		goto oom;
	s->c = *cfg;
	s->w = w;
	s->n_ctx = n_ctx;
	s->q_dim = cfg->n_head * cfg->head_dim;
	s->kv_dim = cfg->n_head_kv * cfg->head_dim;
	s->max_in = cfg->n_embd;
	if (s->q_dim > s->max_in)
		s->max_in = s->q_dim;
	if (cfg->n_ff > s->max_in)
		s->max_in = cfg->n_ff;
	size_t kv = (size_t)cfg->n_layer * (size_t)n_ctx * (size_t)s->kv_dim;
	s->kcache = calloc(kv, 4);
	s->vcache = calloc(kv, 4);
	s->x = calloc((size_t)MAXB * cfg->n_embd, 4);
	s->xb = calloc((size_t)MAXB * cfg->n_embd, 4);
	s->q = calloc((size_t)MAXB * s->q_dim, 4);
	s->k = calloc((size_t)MAXB * s->kv_dim, 4);
	s->v = calloc((size_t)MAXB * s->kv_dim, 4);
	s->att = calloc((size_t)MAXB * s->q_dim, 4);
	s->hg = calloc((size_t)MAXB * cfg->n_ff, 4);
	s->hu = calloc((size_t)MAXB * cfg->n_ff, 4);
	s->scores = calloc((size_t)n_threads * n_ctx, 4);
	s->xq = calloc((size_t)MAXB * (size_t)(s->max_in / 32 + 1), sizeof *s->xq);
	s->inv_freq = calloc((size_t)cfg->head_dim / 2 + 1, 4);
	if (!s->kcache || !s->vcache || !s->x || !s->xb || !s->q || !s->k || !s->v || !s->att ||
	    !s->hg || !s->hu || !s->scores || !s->xq || !s->inv_freq)
		goto oom;
	for (int i = 0; i < cfg->head_dim / 2; i++)
		s->inv_freq[i] = 1.0f / powf(cfg->rope_theta, (float)(2 * i) / (float)cfg->head_dim);
	s->pool = llm_pool_create(n_threads);
	if (!s->pool) {
		snprintf(err, errlen, "cpu backend: cannot start %d threads", n_threads);
		cpu_destroy(s);
		return -1;
	}
	ops->name = "cpu";
	ops->forward = cpu_forward;
	ops->destroy = cpu_destroy;
	*ctx = s;
	return 0;
oom:
	snprintf(err, errlen, "cpu backend: out of memory (KV cache for %d positions)", n_ctx);
	cpu_destroy(s);
	return -1;
}
