/* local_llm/llm.c — the public API: loading (GGUF → config, weights,
 * tokenizer, backend), tokens, chat templates, sampling and generation. */
#include "local_llm/llm.h"
#include "local_llm/gguf.h"
#include "local_llm/llm_internal.h"
#include "local_llm/tokenizer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum { TPL_NONE = 0, TPL_CHATML, TPL_LLAMA3 } tpl_kind;

struct llm_model {
	gguf_file f;
	llm_config cfg;
	llm_weights w;
	llm_tok *tok;
	llm_backend_ops ops;
	void *bctx;
	int n_ctx, n_threads;
	int32_t bos, eos, eot;
	tpl_kind tpl;
	char *default_system;       /* NULL if the template has none */
	char name[128];
	char types[256];
	size_t weight_bytes;
	double load_s;
	float *logits;              /* [n_vocab] */
	int32_t *cand_id;           /* [n_vocab] sampling scratch */
	float *cand_p;              /* [n_vocab] */
	int32_t *ctx_toks;          /* [n_ctx] tokens of the current generation */
	char err[512];
	char backend_note[640];     /* why --backend auto runs on the CPU, or "" */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void seterr(llm_model *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof m->err, fmt, ap);
	va_end(ap);
}

void llm_load_opts_init(llm_load_opts *o)
{
	memset(o, 0, sizeof *o);
	o->backend = LLM_BACKEND_AUTO;
}

void llm_gen_opts_init(llm_gen_opts *o)
{
	memset(o, 0, sizeof *o);
	o->max_tokens = 128;
	o->temperature = 0;
	o->top_k = 40;
	o->top_p = 0.95f;
	o->repeat_penalty = 1.0f;
	o->repeat_last_n = 64;
	o->seed = 1;
	o->parse_special = 1;
}

const char *llm_last_error(const llm_model *m)
{
	return m ? m->err : "";
}

/* ---- loading -------------------------------------------------------------------- */

typedef struct loader {
	llm_model *m;
	const char *path;
	llm_error *err;
} loader;

static int lerr(loader *L, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(L->err->msg, sizeof L->err->msg, "%s: %s", L->path, msg);
	return -1;
}

static int hp_int(loader *L, const char *arch, const char *key, int64_t def, int64_t lo, int64_t hi,
                  int *out)
{
	char k[128];
	int64_t v;
	snprintf(k, sizeof k, "%s.%s", arch, key);
	int rc = gguf_get_int(&L->m->f, k, &v);
	if (rc == -1) {
		if (def < 0)
			return lerr(L, "%s: missing", k);
		v = def;
	} else if (rc < 0) {
		return lerr(L, "%s: not an integer", k);
	}
	if (v < lo || v > hi)
		return lerr(L, "%s: %lld is outside %lld..%lld", k, (long long)v, (long long)lo, (long long)hi);
	*out = (int)v;
	return 0;
}

/* Finds a tensor and checks its shape ({n0} or {n0, n1}) and type; optional
 * tensors may be absent (NULL).  1-D tensors must be f32. */
static int want(loader *L, const llm_tensor **out, int opt, int64_t n0, int64_t n1, const char *fmt, ...)
{
	char name[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	const llm_tensor *t = gguf_tensor(&L->m->f, name);
	*out = t;
	if (!t)
		return opt ? 0 : lerr(L, "tensor %s: missing", name);
	int nd = n1 ? 2 : 1;
	if (t->n_dims != nd || t->ne[0] != n0 || (n1 && t->ne[1] != n1))
		return lerr(L, "tensor %s: shape [%lld, %lld] (n_dims %d), expected [%lld, %lld]", name,
		            (long long)t->ne[0], (long long)t->ne[1], t->n_dims, (long long)n0,
		            (long long)(n1 ? n1 : 1));
	if (!llm_type_supported(t->type) || (nd == 1 && t->type != LLM_TYPE_F32))
		return lerr(L, "tensor %s: type %s is not supported%s", name, llm_type_name(t->type),
		            nd == 1 ? " for a vector (need f32)" : "");
	return 0;
}

/* Pulls a literal default system prompt out of a ChatML Jinja template:
 * "<|im_start|>system\n" (or an escaped \n) followed by plain text up to
 * "<|im_end|>". */
static char *template_default_system(const char *tpl, size_t len)
{
	const char *key = "<|im_start|>system";
	const char *end = tpl + len;
	for (const char *p = tpl; (p = memmem(p, (size_t)(end - p), key, strlen(key))); p++) {
		const char *q = p + strlen(key);
		if (q < end && *q == '\n')
			q++;
		else if (q + 1 < end && q[0] == '\\' && q[1] == 'n')
			q += 2;
		else
			continue;
		const char *e = memmem(q, (size_t)(end - q), "<|im_end|>", 10);
		if (!e || e <= q)
			continue;
		size_t n = (size_t)(e - q);
		int plain = 1;
		for (const char *r = q; r < e; r++)
			if (*r == '{' || *r == '}' || *r == '\'' || *r == '"' || *r == '+')
				plain = 0;
		if (!plain)
			continue;
		char *s = malloc(n + 1), *o = s;
		if (!s)
			return NULL;
		for (const char *r = q; r < e; r++) {
			if (r[0] == '\\' && r + 1 < e && r[1] == 'n') {
				*o++ = '\n';
				r++;
			} else {
				*o++ = *r;
			}
		}
		*o = 0;
		return s;
	}
	return NULL;
}

static int load_config(loader *L)
{
	llm_model *m = L->m;
	llm_config *c = &m->cfg;
	gguf_str a;
	if (gguf_get_str(&m->f, "general.architecture", &a) < 0)
		return lerr(L, "general.architecture: missing");
	char arch[32];
	snprintf(arch, sizeof arch, "%.*s", (int)(a.len < 31 ? a.len : 31), a.p);
	if (!strcmp(arch, "llama"))
		c->arch = LLM_ARCH_LLAMA;
	else if (!strcmp(arch, "qwen2"))
		c->arch = LLM_ARCH_QWEN2;
	else if (!strcmp(arch, "qwen3"))
		c->arch = LLM_ARCH_QWEN3;
	else
		return lerr(L, "general.architecture: \"%s\" is not supported (llama, qwen2, qwen3)", arch);
	if (hp_int(L, arch, "block_count", -1, 1, 1024, &c->n_layer) ||
	    hp_int(L, arch, "embedding_length", -1, 8, 1 << 16, &c->n_embd) ||
	    hp_int(L, arch, "feed_forward_length", -1, 8, 1 << 18, &c->n_ff) ||
	    hp_int(L, arch, "attention.head_count", -1, 1, 1024, &c->n_head) ||
	    hp_int(L, arch, "attention.head_count_kv", c->n_head, 1, 1024, &c->n_head_kv) ||
	    hp_int(L, arch, "context_length", 2048, 1, 1 << 24, &c->n_ctx_train))
		return -1;
	int def_hd = c->n_embd / c->n_head;
	if (hp_int(L, arch, "attention.key_length", def_hd, 2, 1024, &c->head_dim))
		return -1;
	int vlen;
	if (hp_int(L, arch, "attention.value_length", c->head_dim, 2, 1024, &vlen))
		return -1;
	if (vlen != c->head_dim)
		return lerr(L, "%s.attention.value_length %d != key_length %d: not supported", arch, vlen,
		            c->head_dim);
	if (c->head_dim % 2)
		return lerr(L, "head_dim %d must be even (RoPE)", c->head_dim);
	if (c->n_head % c->n_head_kv)
		return lerr(L, "%s.attention.head_count %d is not a multiple of head_count_kv %d", arch,
		            c->n_head, c->n_head_kv);
	int rdim;
	if (hp_int(L, arch, "rope.dimension_count", c->head_dim, 2, 1024, &rdim))
		return -1;
	if (rdim != c->head_dim)
		return lerr(L, "%s.rope.dimension_count %d != head_dim %d: partial RoPE is not supported",
		            arch, rdim, c->head_dim);
	char k[128];
	double d;
	snprintf(k, sizeof k, "%s.rope.freq_base", arch);
	c->rope_theta = gguf_get_float(&m->f, k, &d) == 0 ? (float)d : 10000.0f;
	if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta))
		return lerr(L, "%s: %g is not a valid RoPE base", k, (double)c->rope_theta);
	snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
	c->rms_eps = gguf_get_float(&m->f, k, &d) == 0 ? (float)d : 1e-6f;
	if (!(c->rms_eps > 0 && c->rms_eps < 1))
		return lerr(L, "%s: %g is not a valid epsilon", k, (double)c->rms_eps);
	snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
	gguf_str rs;
	if (gguf_get_str(&m->f, k, &rs) == 0 && !(rs.len == 4 && !memcmp(rs.p, "none", 4)))
		return lerr(L, "%s: RoPE scaling \"%.*s\" is not supported", k, (int)(rs.len > 20 ? 20 : rs.len),
		            rs.p);
	c->rope_form = c->arch == LLM_ARCH_LLAMA ? LLM_ROPE_NORM : LLM_ROPE_NEOX;
	return 0;
}

static int load_weights(loader *L)
{
	llm_model *m = L->m;
	llm_config *c = &m->cfg;
	llm_weights *w = &m->w;
	const llm_tensor *te = gguf_tensor(&m->f, "token_embd.weight");
	if (!te || te->n_dims != 2)
		return lerr(L, "tensor token_embd.weight: missing or not 2-D");
	if (te->ne[1] < 1 || te->ne[1] > (1 << 22))
		return lerr(L, "tensor token_embd.weight: vocabulary of %lld rows", (long long)te->ne[1]);
	c->n_vocab = (int)te->ne[1];
	int64_t E = c->n_embd, Q = (int64_t)c->n_head * c->head_dim, KV = (int64_t)c->n_head_kv * c->head_dim;
	if (want(L, &w->token_embd, 0, E, c->n_vocab, "token_embd.weight") ||
	    want(L, &w->output_norm, 0, E, 0, "output_norm.weight") ||
	    want(L, &w->output, 1, E, c->n_vocab, "output.weight"))
		return -1;
	c->tied_output = w->output == NULL;
	if (!w->output)
		w->output = w->token_embd;
	w->layers = calloc((size_t)c->n_layer, sizeof *w->layers);
	if (!w->layers)
		return lerr(L, "out of memory");
	for (int l = 0; l < c->n_layer; l++) {
		llm_layer *y = &w->layers[l];
		if (want(L, &y->attn_norm, 0, E, 0, "blk.%d.attn_norm.weight", l) ||
		    want(L, &y->wq, 0, E, Q, "blk.%d.attn_q.weight", l) ||
		    want(L, &y->wk, 0, E, KV, "blk.%d.attn_k.weight", l) ||
		    want(L, &y->wv, 0, E, KV, "blk.%d.attn_v.weight", l) ||
		    want(L, &y->bq, 1, Q, 0, "blk.%d.attn_q.bias", l) ||
		    want(L, &y->bk, 1, KV, 0, "blk.%d.attn_k.bias", l) ||
		    want(L, &y->bv, 1, KV, 0, "blk.%d.attn_v.bias", l) ||
		    want(L, &y->q_norm, c->arch != LLM_ARCH_QWEN3, c->head_dim, 0, "blk.%d.attn_q_norm.weight", l) ||
		    want(L, &y->k_norm, c->arch != LLM_ARCH_QWEN3, c->head_dim, 0, "blk.%d.attn_k_norm.weight", l) ||
		    want(L, &y->wo, 0, Q, E, "blk.%d.attn_output.weight", l) ||
		    want(L, &y->ffn_norm, 0, E, 0, "blk.%d.ffn_norm.weight", l) ||
		    want(L, &y->w_gate, 0, E, c->n_ff, "blk.%d.ffn_gate.weight", l) ||
		    want(L, &y->w_up, 0, E, c->n_ff, "blk.%d.ffn_up.weight", l) ||
		    want(L, &y->w_down, 0, c->n_ff, E, "blk.%d.ffn_down.weight", l))
			return -1;
		if (!!y->bq != !!y->bk || !!y->bq != !!y->bv)
			return lerr(L, "blk.%d: q/k/v biases must be all present or all absent", l);
		if (!!y->q_norm != !!y->k_norm)
			return lerr(L, "blk.%d: attn_q_norm and attn_k_norm must come together", l);
		if (y->bq)
			c->has_qkv_bias = 1;
		if (y->q_norm)
			c->qk_norm = 1;
	}
	/* weight summary */
	int count[LLM_TYPE_COUNT] = {0};
	for (uint32_t i = 0; i < m->f.n_tensors; i++) {
		count[m->f.tensors[i].type]++;
		m->weight_bytes += m->f.tensors[i].nbytes;
	}
	size_t o = 0;
	for (int t = 0; t < LLM_TYPE_COUNT; t++)
		if (count[t] && o < sizeof m->types - 1)
			o += (size_t)snprintf(m->types + o, sizeof m->types - o, "%s%s:%d", o ? " " : "",
			                      llm_type_name(t), count[t]);
	return 0;
}

static void load_specials(llm_model *m)
{
	int64_t v;
	m->bos = gguf_get_int(&m->f, "tokenizer.ggml.bos_token_id", &v) == 0 && v >= 0 &&
	         v < m->cfg.n_vocab ? (int32_t)v : -1;
	m->eos = gguf_get_int(&m->f, "tokenizer.ggml.eos_token_id", &v) == 0 && v >= 0 &&
	         v < m->cfg.n_vocab ? (int32_t)v : -1;
	m->eot = gguf_get_int(&m->f, "tokenizer.ggml.eot_token_id", &v) == 0 && v >= 0 &&
	         v < m->cfg.n_vocab ? (int32_t)v : -1;
	if (m->eot < 0)
		m->eot = llm_tok_lookup(m->tok, "<|im_end|>");
	if (m->eot < 0)
		m->eot = llm_tok_lookup(m->tok, "<|eot_id|>");
	if (m->eot >= m->cfg.n_vocab)
		m->eot = -1;

	gguf_str t = {"", 0};
	gguf_get_str(&m->f, "tokenizer.chat_template", &t);
	if (t.len && memmem(t.p, t.len, "<|start_header_id|>", 19))
		m->tpl = TPL_LLAMA3;
	else if (t.len && memmem(t.p, t.len, "<|im_start|>", 12))
		m->tpl = TPL_CHATML;
	else if (!t.len && m->cfg.arch != LLM_ARCH_LLAMA && llm_tok_lookup(m->tok, "<|im_start|>") >= 0)
		m->tpl = TPL_CHATML;
	else
		m->tpl = TPL_NONE;
	if (m->tpl == TPL_CHATML && t.len)
		m->default_system = template_default_system(t.p, t.len);
}

llm_model *llm_load(const char *path, const llm_load_opts *opts, llm_error *err)
{
	llm_load_opts def;
	if (!opts) {
		llm_load_opts_init(&def);
		opts = &def;
	}
	double t0 = now_s();
	llm_model *m = calloc(1, sizeof *m);
	loader L = {m, path, err};
	char msg[400];
	err->msg[0] = 0;
	if (!m) {
		lerr(&L, "out of memory");
		return NULL;
	}
	if (gguf_open(path, &m->f, err->msg, sizeof err->msg) < 0)
		goto fail;
	if (load_config(&L) || load_weights(&L))
		goto fail;
	if (llm_tok_create(&m->f, &m->tok, msg, sizeof msg) < 0) {
		lerr(&L, "%s", msg);
		goto fail;
	}
	if (llm_tok_n_vocab(m->tok) > m->cfg.n_vocab) {
		lerr(&L, "tokenizer.ggml.tokens: %d tokens but token_embd has %d rows",
		     llm_tok_n_vocab(m->tok), m->cfg.n_vocab);
		goto fail;
	}
	load_specials(m);
	gguf_str nm;
	if (gguf_get_str(&m->f, "general.name", &nm) == 0)
		snprintf(m->name, sizeof m->name, "%.*s", (int)(nm.len > 100 ? 100 : nm.len), nm.p);
	m->n_ctx = opts->n_ctx > 0 ? opts->n_ctx : (m->cfg.n_ctx_train < 4096 ? m->cfg.n_ctx_train : 4096);
	if (m->n_ctx > (1 << 20)) {
		lerr(&L, "n_ctx %d is too large", m->n_ctx);
		goto fail;
	}
	m->logits = malloc((size_t)m->cfg.n_vocab * sizeof *m->logits);
	m->cand_id = malloc((size_t)m->cfg.n_vocab * sizeof *m->cand_id);
	m->cand_p = malloc((size_t)m->cfg.n_vocab * sizeof *m->cand_p);
	m->ctx_toks = malloc((size_t)m->n_ctx * sizeof *m->ctx_toks);
	if (!m->logits || !m->cand_id || !m->cand_p || !m->ctx_toks) {
		lerr(&L, "out of memory");
		goto fail;
	}
	int rc = -1;
	msg[0] = 0;
	if (opts->backend == LLM_BACKEND_CUDA || opts->backend == LLM_BACKEND_AUTO)
		rc = llm_cuda_backend_create(&m->cfg, &m->w, m->n_ctx, &m->ops, &m->bctx, msg, sizeof msg);
	if (rc < 0 && opts->backend == LLM_BACKEND_CUDA) {
		lerr(&L, "%s", msg);
		goto fail;
	}
	if (rc < 0) {
		if (opts->backend == LLM_BACKEND_AUTO)
			snprintf(m->backend_note, sizeof m->backend_note, "%s; running on the CPU", msg);
		rc = llm_cpu_backend_create(&m->cfg, &m->w, m->n_ctx, opts->n_threads, &m->ops, &m->bctx,
		                            msg, sizeof msg);
		if (rc < 0) {
			lerr(&L, "%s", msg);
			goto fail;
		}
		m->n_threads = opts->n_threads > 0 ? opts->n_threads : 0;
	}
	if (!m->n_threads) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		m->n_threads = nc > 0 ? (int)nc : 1;
	}
	m->load_s = now_s() - t0;
	return m;
fail:
	llm_free(m);
	return NULL;
}

void llm_free(llm_model *m)
{
	if (!m)
		return;
	if (m->bctx && m->ops.destroy)
		m->ops.destroy(m->bctx);
	llm_tok_free(m->tok);
	free(m->w.layers);
	gguf_close(&m->f);
	free(m->default_system);
	free(m->logits);
	free(m->cand_id);
	free(m->cand_p);
	free(m->ctx_toks);
	free(m);
}

void llm_get_info(const llm_model *m, llm_info *o)
{
	static const char *arch[] = {"?", "llama", "qwen2", "qwen3"};
	static const char *tpl[] = {"none", "chatml", "llama3"};
	memset(o, 0, sizeof *o);
	o->arch = arch[m->cfg.arch];
	o->name = m->name;
	o->backend = m->ops.name;
	o->backend_note = m->backend_note;
	o->template_name = tpl[m->tpl];
	o->n_layer = m->cfg.n_layer;
	o->n_embd = m->cfg.n_embd;
	o->n_head = m->cfg.n_head;
	o->n_head_kv = m->cfg.n_head_kv;
	o->head_dim = m->cfg.head_dim;
	o->n_ff = m->cfg.n_ff;
	o->n_vocab = m->cfg.n_vocab;
	o->n_ctx_train = m->cfg.n_ctx_train;
	o->n_ctx = m->n_ctx;
	o->bos = m->bos;
	o->eos = m->eos;
	o->eot = m->eot;
	o->n_threads = m->n_threads;
	o->weight_bytes = m->weight_bytes;
	o->weight_types = m->types;
}

/* ---- tokens ----------------------------------------------------------------------- */

int llm_tokenize(llm_model *m, const char *text, size_t len, int parse_special, int32_t *out, int cap)
{
	int n = llm_tok_encode(m->tok, text, len, parse_special, out, cap);
	if (n < 0)
		seterr(m, "tokenize: out of memory");
	return n;
}

int llm_token_bytes(const llm_model *m, int32_t tok, char *buf, size_t cap)
{
	return llm_tok_piece(m->tok, tok, buf, cap);
}

int llm_detokenize(const llm_model *m, const int32_t *toks, int n, char *buf, size_t cap)
{
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		size_t l;
		const char *p = llm_tok_bytes(m->tok, toks[i], &l);
		if (!p)
			return -1;
		if (o + l < cap)
			memcpy(buf + o, p, l);
		o += l;
		if (o > INT32_MAX)
			return -1;
	}
	if (cap)
		buf[o < cap ? o : cap - 1] = 0;
	return (int)o;
}

/* ---- chat template ------------------------------------------------------------------ */

/* The template as pieces: markers (special-token text) and message text. */
typedef struct piece { const char *s; int special; } piece;

static int chat_pieces(const llm_model *m, const char *system, const char *user, piece *p)
{
	int n = 0;
	if (!system)
		system = m->default_system;
	if (m->tpl == TPL_LLAMA3) {
		if (m->bos >= 0)
			p[n++] = (piece){"<|begin_of_text|>", 1};
		if (system) {
			p[n++] = (piece){"<|start_header_id|>", 1};
			p[n++] = (piece){"system", 0};
			p[n++] = (piece){"<|end_header_id|>", 1};
			p[n++] = (piece){"\n\n", 0};
			p[n++] = (piece){system, 0};
			p[n++] = (piece){"<|eot_id|>", 1};
		}
		p[n++] = (piece){"<|start_header_id|>", 1};
		p[n++] = (piece){"user", 0};
		p[n++] = (piece){"<|end_header_id|>", 1};
		p[n++] = (piece){"\n\n", 0};
		p[n++] = (piece){user, 0};
		p[n++] = (piece){"<|eot_id|>", 1};
		p[n++] = (piece){"<|start_header_id|>", 1};
		p[n++] = (piece){"assistant", 0};
		p[n++] = (piece){"<|end_header_id|>", 1};
		p[n++] = (piece){"\n\n", 0};
		return n;
	}
	if (m->tpl == TPL_CHATML) {
		if (system) {
			p[n++] = (piece){"<|im_start|>", 1};
			p[n++] = (piece){"system\n", 0};
			p[n++] = (piece){system, 0};
			p[n++] = (piece){"<|im_end|>", 1};
			p[n++] = (piece){"\n", 0};
		}
		p[n++] = (piece){"<|im_start|>", 1};
		p[n++] = (piece){"user\n", 0};
		p[n++] = (piece){user, 0};
		p[n++] = (piece){"<|im_end|>", 1};
		p[n++] = (piece){"\n", 0};
		p[n++] = (piece){"<|im_start|>", 1};
		p[n++] = (piece){"assistant\n", 0};
		return n;
	}
	return -1;
}

int llm_chat_format(const llm_model *m, const char *system, const char *user, char *buf, size_t cap)
{
	piece p[24];
	int n = chat_pieces(m, system, user, p);
	if (n < 0)
		return -1;
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(p[i].s);
		if (o + l < cap)
			memcpy(buf + o, p[i].s, l);
		o += l;
	}
	if (cap)
		buf[o < cap ? o : cap - 1] = 0;
	return o > INT32_MAX ? -1 : (int)o;
}

/* ---- sampling ------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_cand(const void *a, const void *b, void *pp)
{
	const float *p = pp;
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	if (p[x] != p[y])
		return p[x] > p[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int32_t sample(llm_model *m, const llm_gen_opts *o, const int32_t *hist, int nhist, uint64_t *rng)
{
	float *lg = m->logits;
	int V = m->cfg.n_vocab;
	if (o->repeat_penalty > 0 && o->repeat_penalty != 1.0f) {
		int from = o->repeat_last_n > 0 && nhist > o->repeat_last_n ? nhist - o->repeat_last_n : 0;
		/* mark each id once: the penalty applies once per distinct token */
		for (int i = from; i < nhist; i++) {
			int32_t t = hist[i];
			if (isnan(lg[t]))
				continue;
			int seen = 0;
			for (int j = from; j < i && !seen; j++)
				seen = hist[j] == t;
			if (!seen)
				lg[t] = lg[t] > 0 ? lg[t] / o->repeat_penalty : lg[t] * o->repeat_penalty;
		}
	}
	if (o->temperature <= 0) {
		int32_t best = 0;
		for (int i = 1; i < V; i++)
			if (lg[i] > lg[best])
				best = i;
		return best;
	}
	int n = V;
	int32_t *id = m->cand_id;
	for (int i = 0; i < V; i++)
		id[i] = i;
	int k = o->top_k > 0 && o->top_k < V ? o->top_k : V;
	if (k < V) {
		/* partial selection: keep the k largest (ties by lower id) */
		qsort_r(id, (size_t)V, sizeof *id, cmp_cand, lg);
		n = k;
	} else {
		qsort_r(id, (size_t)V, sizeof *id, cmp_cand, lg);
	}
	float mx = lg[id[0]];
	double sum = 0;
	float *p = m->cand_p;
	for (int i = 0; i < n; i++) {
		p[i] = expf((lg[id[i]] - mx) / o->temperature);
		sum += p[i];
	}
	if (o->top_p > 0 && o->top_p < 1) {
		double cum = 0;
		for (int i = 0; i < n; i++) {
			cum += p[i] / sum;
			if (cum >= o->top_p) {
				n = i + 1;
				break;
			}
		}
		sum = 0;
		for (int i = 0; i < n; i++)
			sum += p[i];
	}
	double r = (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0) * sum, acc = 0;
	for (int i = 0; i < n; i++) {
		acc += p[i];
		if (r < acc)
			return id[i];
	}
	return id[n - 1];
}

/* ---- generation ----------------------------------------------------------------------- */

int llm_eval(llm_model *m, const int32_t *toks, int n, int pos, int all_logits, float *logits)
{
	if (m->ops.forward(m->bctx, toks, n, pos, all_logits, logits, m->err, sizeof m->err) < 0)
		return -1;
	return 0;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t stop_holdback(const llm_gen_opts *o, const char *s, size_t n)
{
	size_t best = 0;
	for (int k = 0; k < o->n_stop; k++) {
		size_t sl = strlen(o->stop[k]);
		for (size_t l = sl - 1 < n ? sl - 1 : n; l > best; l--)
			if (!memcmp(s + n - l, o->stop[k], l)) {
				best = l;
				break;
			}
	}
	return best;
}

/* End of the last complete UTF-8 character in s[0..n). */
static size_t utf8_complete(const char *s, size_t n)
{
	size_t i = n, k = 0;
	while (i > 0 && k < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		k++;
	}
	if (i == 0)
		return n;
	unsigned char c = (unsigned char)s[i - 1];
	size_t need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	if (c < 0x80 || need == k || k > need)
		return n;
	return i - 1;	/* a lead byte still waiting for continuation bytes */
}

int llm_generate_tokens(llm_model *m, const int32_t *prompt, int n_prompt, const llm_gen_opts *opts,
                        llm_token_cb cb, void *user, llm_gen_result *res)
{
	llm_gen_opts def;
	if (!opts) {
		llm_gen_opts_init(&def);
		opts = &def;
	}
	memset(res, 0, sizeof *res);
	res->load_s = m->load_s;
	m->err[0] = 0;
	if (n_prompt < 1) {
		seterr(m, "generate: empty prompt");
		return -1;
	}
	if (n_prompt >= m->n_ctx) {
		seterr(m, "generate: prompt of %d tokens does not fit the context of %d", n_prompt, m->n_ctx);
		return -1;
	}
	for (int i = 0; i < n_prompt; i++)
		if (prompt[i] < 0 || prompt[i] >= m->cfg.n_vocab) {
			seterr(m, "generate: token %d of the prompt (%d) is outside the vocabulary", i, prompt[i]);
			return -1;
		}
	double t0 = now_s(), deadline = opts->time_limit_s > 0 ? t0 + opts->time_limit_s : 0;
	size_t cap = (size_t)(opts->max_tokens > 0 ? opts->max_tokens : 1) * 8 + 64, len = 0, emitted = 0;
	char *text = malloc(cap);
	if (!text) {
		seterr(m, "generate: out of memory");
		return -1;
	}
	memcpy(m->ctx_toks, prompt, (size_t)n_prompt * sizeof *prompt);
	int n = 0;
	res->stop = LLM_STOP_MAX_TOKENS;
	/* prefill in chunks, checking the clock between them */
	const int CH = 64;
	for (int done = 0; done < n_prompt; done += CH) {
		int c = n_prompt - done < CH ? n_prompt - done : CH;
		if (llm_eval(m, prompt + done, c, done, 0, m->logits) < 0)
			goto fail;
		if (deadline && now_s() > deadline && done + c < n_prompt) {
			res->stop = LLM_STOP_TIME;
			goto done;
		}
	}
	res->prefill_s = now_s() - t0;
	double t1 = now_s();
	uint64_t rng = opts->seed;
	int pos = n_prompt;
	for (;;) {
		if (n >= opts->max_tokens) {
			res->stop = LLM_STOP_MAX_TOKENS;
			break;
		}
		if (deadline && now_s() > deadline) {
			res->stop = LLM_STOP_TIME;
			break;
		}
		int32_t t = sample(m, opts, m->ctx_toks, pos, &rng);
		if (t == m->eos || t == m->eot) {
			res->stop = LLM_STOP_EOS;
			break;
		}
		n++;
		m->ctx_toks[pos] = t;
		size_t bl;
		const char *b = llm_tok_bytes(m->tok, t, &bl);
		if (len + bl + 1 > cap) {
			size_t nc = (len + bl + 1) * 2;
			char *nt = realloc(text, nc);
			if (!nt) {
				seterr(m, "generate: out of memory");
				goto fail;
			}
			text = nt;
			cap = nc;
		}
		memcpy(text + len, b, bl);
		len += bl;
		/* stop strings: search the region the new bytes can complete */
		int stopped = 0;
		for (int k = 0; k < opts->n_stop && !stopped; k++) {
			size_t sl = strlen(opts->stop[k]);
			if (!sl)
				continue;
			size_t from = len - bl >= sl ? len - bl - sl + 1 : 0;
			const char *hit = memmem(text + from, len - from, opts->stop[k], sl);
			if (hit) {
				len = (size_t)(hit - text);
				stopped = 1;
			}
		}
		size_t safe = stopped ? len : len - stop_holdback(opts, text, len);
		if (!stopped)
			safe = utf8_complete(text, safe);
		if (cb && (safe > emitted || stopped)) {
			size_t e = safe > emitted ? safe - emitted : 0;
			if (cb(user, t, text + emitted, e)) {
				emitted = safe;
				res->stop = LLM_STOP_CALLBACK;
				break;
			}
			emitted = safe;
		} else if (cb && !stopped && safe <= emitted) {
			if (cb(user, t, "", 0)) {
				res->stop = LLM_STOP_CALLBACK;
				break;
			}
		}
		if (stopped) {
			res->stop = LLM_STOP_STRING;
			break;
		}
		if (pos + 1 >= m->n_ctx) {
			res->stop = LLM_STOP_CTX_FULL;
			break;
		}
		if (llm_eval(m, &t, 1, pos, 0, m->logits) < 0)
			goto fail;
		pos++;
	}
	res->decode_s = now_s() - t1;
done:
	if (cb && len > emitted && res->stop != LLM_STOP_CALLBACK)
		cb(user, -1, text + emitted, len - emitted);
	text[len] = 0;
	res->text = text;
	res->text_len = len;
	res->n_prompt = n_prompt;
	res->n_gen = n;
	return 0;
fail:
	free(text);
	return -1;
}

int llm_generate(llm_model *m, const char *prompt, const llm_gen_opts *opts, llm_token_cb cb,
                 void *user, llm_gen_result *res)
{
	int ps = opts ? opts->parse_special : 1;
	size_t len = strlen(prompt);
	int n = llm_tokenize(m, prompt, len, ps, m->ctx_toks, m->n_ctx);
	if (n < 0)
		return -1;
	if (n >= m->n_ctx) {
		seterr(m, "generate: prompt of %d tokens does not fit the context of %d", n, m->n_ctx);
		return -1;
	}
	int32_t *copy = malloc((size_t)(n ? n : 1) * sizeof *copy);
	if (!copy) {
		seterr(m, "generate: out of memory");
		return -1;
	}
	memcpy(copy, m->ctx_toks, (size_t)n * sizeof *copy);
	int rc = llm_generate_tokens(m, copy, n, opts, cb, user, res);
	free(copy);
	return rc;
}

int llm_generate_chat(llm_model *m, const char *system, const char *user, const llm_gen_opts *opts,
                      llm_token_cb cb, void *user_data, llm_gen_result *res)
{
	piece p[24];
	int np = chat_pieces(m, system, user, p);
	if (np < 0) {
		seterr(m, "chat: this model has no known chat template");
		return -1;
	}
	int32_t *toks = m->ctx_toks;
	int n = 0;
	/* consecutive text pieces are tokenized together, as the rendered
	 * template would be; only the markers become special tokens */
	size_t tl = 0;
	for (int i = 0; i < np; i++)
		tl += strlen(p[i].s);
	char *buf = malloc(tl + 1);
	if (!buf) {
		seterr(m, "chat: out of memory");
		return -1;
	}
	for (int i = 0; i < np;) {
		if (p[i].special) {
			int32_t id = llm_tok_lookup(m->tok, p[i].s);
			if (id < 0) {
				seterr(m, "chat: the vocabulary has no token %s", p[i].s);
				free(buf);
				return -1;
			}
			if (n < m->n_ctx)
				toks[n] = id;
			n++;
			i++;
			continue;
		}
		size_t bl = 0;
		for (; i < np && !p[i].special; i++) {
			size_t l = strlen(p[i].s);
			memcpy(buf + bl, p[i].s, l);
			bl += l;
		}
		int k = llm_tokenize(m, buf, bl, 0, n < m->n_ctx ? toks + n : NULL,
		                     n < m->n_ctx ? m->n_ctx - n : 0);
		if (k < 0) {
			free(buf);
			return -1;
		}
		n += k;
	}
	free(buf);
	if (n >= m->n_ctx) {
		seterr(m, "chat: prompt of %d tokens does not fit the context of %d", n, m->n_ctx);
		return -1;
	}
	int32_t *copy = malloc((size_t)n * sizeof *copy);
	if (!copy) {
		seterr(m, "chat: out of memory");
		return -1;
	}
	memcpy(copy, toks, (size_t)n * sizeof *copy);
	int rc = llm_generate_tokens(m, copy, n, opts, cb, user_data, res);
	free(copy);
	return rc;
}

void llm_gen_result_clear(llm_gen_result *res)
{
	free(res->text);
	memset(res, 0, sizeof *res);
}
