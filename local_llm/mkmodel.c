/* local_llm/mkmodel.c — small models with deterministic pseudo-random weights.
 *
 * The built-in tokenizer is a byte-level BPE vocabulary: the 256 byte
 * symbols, merges that build a list of common English words and fragments
 * letter by letter, and the ChatML special tokens.  Weights come from a
 * seeded generator (splitmix64 → sum of four uniforms, roughly normal), so
 * the same options always write the same bytes. */
#include "local_llm/mkmodel.h"
#include "local_llm/gguf.h"
#include "local_llm/gguf_write.h"
#include "local_llm/llm_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llm_mkmodel_opts_init(llm_mkmodel_opts *o)
{
	memset(o, 0, sizeof *o);
	o->arch = "qwen2";
	o->n_layer = 2;
	o->n_embd = 64;
	o->n_head = 4;
	o->n_head_kv = 2;
	o->n_ff = 128;
	o->n_ctx = 2048;
	o->type = LLM_TYPE_F32;
	o->embd_type = -1;
	o->tied = 1;
	o->rope_theta = 10000.0f;
	o->scale = 1.0f;
	o->seed = 42;
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static float gauss(uint64_t *s)
{
	float a = 0;
	for (int i = 0; i < 4; i++)
		a += (float)(rng(s) >> 40) * (1.0f / 16777216.0f);
	return (a - 2.0f) * 1.7320508f;
}

/* ---- built-in vocabulary --------------------------------------------------------- */

static const char *words[] = {
	" the", " and", " of", " to", " in", " is", " a", " that", " for", " it", " on", " with",
	" as", " was", " be", " at", " by", " this", " job", " cron", " failed", " error", " exit",
	" code", " backup", " down", " up", " late", " ping", " run", " status", " check", " time",
	"ing", "ed", "er", "es", "ion", " you", " are", " assistant", " user", " system", "system",
	"user", "assistant", " Hello", "Hello", " world", " summary", " alert", " missed", "\n\n",
	"  ", "    ", " 0", " 1", "00", ":", "::", " -", "--", "()", "\",", "{\"", "\":",
};

typedef struct vocab {
	char **tok;
	int n, cap;
	char **merge;
	int nm, mcap;
} vocab;

static int v_find(const vocab *v, const char *s)
{
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->tok[i], s))
			return i;
	return -1;
}

static int v_add(vocab *v, const char *s)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 512;
		char **np = realloc(v->tok, (size_t)v->cap * sizeof *np);
		if (!np)
			return -1;
		v->tok = np;
	}
	v->tok[v->n] = strdup(s);
	return v->tok[v->n] ? v->n++ : -1;
}

static int m_add(vocab *v, const char *a, const char *b)
{
	if (v->nm == v->mcap) {
		v->mcap = v->mcap ? v->mcap * 2 : 256;
		char **np = realloc(v->merge, (size_t)v->mcap * sizeof *np);
		if (!np)
			return -1;
		v->merge = np;
	}
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);
	if (!s)
		return -1;
	memcpy(s, a, la);
	s[la] = ' ';
	memcpy(s + la + 1, b, lb + 1);
	v->merge[v->nm++] = s;
	return 0;
}

static void v_free(vocab *v)
{
	for (int i = 0; i < v->n; i++)
		free(v->tok[i]);
	for (int i = 0; i < v->nm; i++)
		free(v->merge[i]);
	free(v->tok);
	free(v->merge);
}

/* Byte-level form of one byte (GPT-2's bytes_to_unicode). */
static void byte_sym(int b, char *out)
{
	uint32_t cp;
	if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
		cp = (uint32_t)b;
	} else {
		int n = 0;
		for (int x = 0; x < b; x++)
			if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255)))
				n++;
		cp = 256u + (uint32_t)n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = 0;
	} else {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		out[2] = 0;
	}
}

static int build_vocab(vocab *v)
{
	char sym[4];
	for (int b = 0; b < 256; b++) {
		byte_sym(b, sym);
		if (v_add(v, sym) < 0)
			return -1;
	}
	for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
		char acc[128] = "", next[128];
		const unsigned char *s = (const unsigned char *)words[w];
		for (size_t i = 0; s[i]; i++) {
			byte_sym(s[i], sym);
			if (!acc[0]) {
				strcpy(acc, sym);
				continue;
			}
			snprintf(next, sizeof next, "%s%s", acc, sym);
			if (v_find(v, next) < 0 && (v_add(v, next) < 0 || m_add(v, acc, sym) < 0))
				return -1;
			strcpy(acc, next);
		}
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

static int tensor(gguf_w *w, uint64_t *seed, const char *name, int type, int64_t n0, int64_t n1,
                  float scale, float offset)
{
	int64_t n = n0 * (n1 ? n1 : 1);
	float *f = malloc((size_t)n * sizeof *f);
	int64_t rb = llm_type_row_bytes(type, n0);
	void *q = rb > 0 ? malloc((size_t)rb * (size_t)(n1 ? n1 : 1)) : NULL;
	int rc = -1;
	if (!f || !q)
		goto out;
	for (int64_t i = 0; i < n; i++)
		f[i] = offset + scale * gauss(seed);
	for (int64_t r = 0; r < (n1 ? n1 : 1); r++)
		if (llm_quant_row(type, f + r * n0, (char *)q + r * rb, n0) < 0)
			goto out;
	int64_t ne[2] = {n0, n1};
	rc = gguf_w_tensor(w, name, type, n1 ? 2 : 1, ne, q);
out:
	free(f);
	free(q);
	return rc;
}

int llm_mkmodel(const llm_mkmodel_opts *o, const char *path, char *err, size_t errlen)
{
	gguf_w *w = gguf_w_new();
	vocab v = {0};
	gguf_file src = {0};
	int have_src = 0, rc = -1;
	const char *arch = o->arch;
	int hd = o->head_dim ? o->head_dim : o->n_embd / (o->n_head ? o->n_head : 1);
	int etype = o->embd_type >= 0 ? o->embd_type : o->type;
	if (!w) {
		snprintf(err, errlen, "mkmodel: out of memory");
		return -1;
	}
	if (strcmp(arch, "llama") && strcmp(arch, "qwen2") && strcmp(arch, "qwen3")) {
		snprintf(err, errlen, "mkmodel: --arch %s: expected llama, qwen2 or qwen3", arch);
		goto out;
	}
	if (o->n_layer < 1 || o->n_embd < 1 || o->n_head < 1 || o->n_head_kv < 1 || o->n_ff < 1 ||
	    o->n_head % o->n_head_kv || hd % 2) {
		snprintf(err, errlen, "mkmodel: bad shape (layers %d, embd %d, heads %d/%d, head_dim %d, ff %d)",
		         o->n_layer, o->n_embd, o->n_head, o->n_head_kv, hd, o->n_ff);
		goto out;
	}
	int64_t be = 0;
	for (int t = 0; t < 2; t++) {
		int ty = t ? etype : o->type;
		be = llm_type_block_elems(ty);
		if (!llm_type_supported(ty) || o->n_embd % be || o->n_ff % be || (o->n_head * hd) % be) {
			snprintf(err, errlen, "mkmodel: type %s needs widths that are multiples of %lld",
			         llm_type_name(ty) ? llm_type_name(ty) : "?", (long long)be);
			goto out;
		}
	}
	char k[128];
	gguf_w_str(w, "general.architecture", arch);
	gguf_w_str(w, "general.name", "vigil mkmodel");
	gguf_w_u32(w, "general.alignment", 32);
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
	gguf_w_u32(w, KEY("block_count"), (uint32_t)o->n_layer);
	gguf_w_u32(w, KEY("context_length"), (uint32_t)o->n_ctx);
	gguf_w_u32(w, KEY("embedding_length"), (uint32_t)o->n_embd);
	gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)o->n_ff);
	gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)o->n_head);
	gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)o->n_head_kv);
	if (o->head_dim) {
		gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)hd);
		gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)hd);
	}
	gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)hd);
	gguf_w_f32(w, KEY("rope.freq_base"), o->rope_theta);
	gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
#undef KEY

	int n_vocab;
	if (o->tokenizer_from) {
		if (gguf_open(o->tokenizer_from, &src, err, errlen) < 0)
			goto out;
		have_src = 1;
		const gguf_kv *tk = gguf_find(&src, "tokenizer.ggml.tokens");
		if (!tk || tk->type != GGUF_T_ARRAY || tk->arr_type != GGUF_T_STRING) {
			snprintf(err, errlen, "%s: no tokenizer.ggml.tokens", o->tokenizer_from);
			goto out;
		}
		n_vocab = (int)tk->arr_n;
		for (uint32_t i = 0; i < src.n_kv; i++)
			if (!strncmp(src.kv[i].key, "tokenizer.", 10))
				gguf_w_raw_kv(w, src.buf + src.kv[i].offset, src.kv[i].end - src.kv[i].offset);
	} else {
		if (build_vocab(&v) < 0)
			goto oom;
		int eot = v.n, llama3 = o->template_kind && !strcmp(o->template_kind, "llama3");
		if (llama3) {
			if (v_add(&v, "<|begin_of_text|>") < 0 || v_add(&v, "<|start_header_id|>") < 0 ||
			    v_add(&v, "<|eot_id|>") < 0 || v_add(&v, "<|end_header_id|>") < 0)
				goto oom;
		} else if (v_add(&v, "<|endoftext|>") < 0 || v_add(&v, "<|im_start|>") < 0 ||
		           v_add(&v, "<|im_end|>") < 0) {
			goto oom;
		}
		int32_t *types = malloc((size_t)v.n * sizeof *types);
		if (!types)
			goto oom;
		for (int i = 0; i < v.n; i++)
			types[i] = i >= eot ? 3 : 1;
		n_vocab = v.n;
		gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
		gguf_w_str(w, "tokenizer.ggml.pre", strcmp(arch, "llama") ? "qwen2" : "smollm");
		gguf_w_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)v.tok, NULL, (uint64_t)v.n);
		gguf_w_i32_arr(w, "tokenizer.ggml.token_type", types, (uint64_t)v.n);
		gguf_w_str_arr(w, "tokenizer.ggml.merges", (const char *const *)v.merge, NULL, (uint64_t)v.nm);
		gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)eot);
		gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eot + 2);
		gguf_w_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)eot);
		gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 0);
		gguf_w_str(w, "tokenizer.chat_template", llama3 ?
		           "{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
		           "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
		           "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}" :
		           "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
		           "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
		           "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
		free(types);
	}

	uint64_t seed = o->seed;
	int E = o->n_embd, Q = o->n_head * hd, KV = o->n_head_kv * hd, F = o->n_ff;
	float s = o->scale > 0 ? o->scale : 1.0f;
	char name[96];
#define T(nm, ty, a, b, sc, off) \
	do { if (tensor(w, &seed, nm, ty, a, b, sc, off) < 0) goto oom; } while (0)
	T("token_embd.weight", etype, E, n_vocab, 1.0f * s, 0);
	T("output_norm.weight", LLM_TYPE_F32, E, 0, 0.1f, 1.0f);
	if (!o->tied)
		T("output.weight", etype, E, n_vocab, 2.0f * s / sqrtf((float)E), 0);
	for (int l = 0; l < o->n_layer; l++) {
#define N(fmt) (snprintf(name, sizeof name, fmt, l), name)
		T(N("blk.%d.attn_norm.weight"), LLM_TYPE_F32, E, 0, 0.1f, 1.0f);
		T(N("blk.%d.attn_q.weight"), o->type, E, Q, 1.5f * s / sqrtf((float)E), 0);
		T(N("blk.%d.attn_k.weight"), o->type, E, KV, 1.5f * s / sqrtf((float)E), 0);
		T(N("blk.%d.attn_v.weight"), o->type, E, KV, s / sqrtf((float)E), 0);
		if (!strcmp(arch, "qwen2")) {
			T(N("blk.%d.attn_q.bias"), LLM_TYPE_F32, Q, 0, 0.1f, 0);
			T(N("blk.%d.attn_k.bias"), LLM_TYPE_F32, KV, 0, 0.1f, 0);
			T(N("blk.%d.attn_v.bias"), LLM_TYPE_F32, KV, 0, 0.1f, 0);
		}
		if (!strcmp(arch, "qwen3")) {
			T(N("blk.%d.attn_q_norm.weight"), LLM_TYPE_F32, hd, 0, 0.1f, 1.0f);
			T(N("blk.%d.attn_k_norm.weight"), LLM_TYPE_F32, hd, 0, 0.1f, 1.0f);
		}
		T(N("blk.%d.attn_output.weight"), o->type, Q, E, s / sqrtf((float)Q), 0);
		T(N("blk.%d.ffn_norm.weight"), LLM_TYPE_F32, E, 0, 0.1f, 1.0f);
		T(N("blk.%d.ffn_gate.weight"), o->type, E, F, s / sqrtf((float)E), 0);
		T(N("blk.%d.ffn_up.weight"), o->type, E, F, s / sqrtf((float)E), 0);
		T(N("blk.%d.ffn_down.weight"), o->type, F, E, s / sqrtf((float)F), 0);
#undef N
	}
#undef T
	rc = gguf_w_write(w, path, err, errlen);
	goto out;
oom:
	snprintf(err, errlen, "mkmodel: out of memory or bad tensor shape");
out:
	v_free(&v);
	if (have_src)
		gguf_close(&src);
	gguf_w_free(w);
	return rc;
}
