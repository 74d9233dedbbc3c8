/* supervisor/cli_llm.c — `vigil llm ...`: the model engine's commands
 * (local_llm/llm_cmd.c) plus `convert`, which reads JSON (cJSON) and so
 * lives in the command layer rather than in local_llm.
 *
 * vigil llm convert DIR --out F.gguf [--type f32|f16|bf16|q8_0]
 *   DIR holds a Hugging Face checkpoint: config.json, model.safetensors (or
 *   model.safetensors.index.json + shards; F32/F16/BF16 tensors), and the
 *   tokenizer (tokenizer.json, or vocab.json + merges.txt), with
 *   tokenizer_config.json for the special tokens and chat template.
 *   Architectures: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
 *   Llama's q/k rows are permuted to the pairwise RoPE layout GGUF's llama
 *   uses; 1-D tensors stay f32; 2-D weights take --type (default f16). */
#include "supervisor/cli.h"
#include "local_llm/gguf_write.h"
#include "local_llm/llm.h"
#include "local_llm/llm_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_llm_convert(int argc, char **argv);

int cli_llm(int argc, char **argv, vigil_global *g)
{
	(void)g;
	if (argc >= 2 && !strcmp(argv[1], "convert"))
		return cli_llm_convert(argc - 1, argv + 1);
	return llm_cmd(argc - 1, argv + 1, "vigil llm");
}

/* ---- files ------------------------------------------------------------------------ */

typedef struct conv {
	const char *dir;
	char err[1024];
	/* safetensors shards, mapped */
	struct shard { char name[256]; uint8_t *map; size_t size; size_t data; cJSON *hdr; } sh[64];
	int nsh;
} conv;

static int cerr(conv *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -1;
}

static char *slurp(conv *c, const char *name, size_t *len, int must)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/%s", c->dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (must)
			cerr(c, "%s: %s", path, strerror(errno));
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		fclose(f);
		cerr(c, "%s: read error", path);
		return NULL;
	}
	fclose(f);
	b[n] = 0;
	if (len)
		*len = (size_t)n;
	return b;
}

static cJSON *json_file(conv *c, const char *name, int must)
{
	char *s = slurp(c, name, NULL, must);
	if (!s)
		return NULL;
	cJSON *j = cJSON_Parse(s);
	if (!j)
		cerr(c, "%s/%s: invalid JSON near byte %ld", c->dir, name,
		     cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - s) : -1L);
	free(s);
	return j;
}

static int open_shard(conv *c, const char *name)
{
	for (int i = 0; i < c->nsh; i++)
		if (!strcmp(c->sh[i].name, name))
			return 0;
	if (c->nsh == 64)
		return cerr(c, "too many safetensors shards");
	struct shard *s = &c->sh[c->nsh];
	char path[1200];
	snprintf(path, sizeof path, "%s/%s", c->dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return cerr(c, "%s: %s", path, strerror(errno));
	}
	s->size = (size_t)st.st_size;
	s->map = s->size ? mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (s->map == MAP_FAILED)
		return cerr(c, "%s: cannot map", path);
	uint64_t hl = 0;
	if (s->size < 8 || (memcpy(&hl, s->map, 8), hl > s->size - 8))
		return munmap(s->map, s->size), cerr(c, "%s: offset 0: header length: truncated file", path);
	char *h = strndup((const char *)s->map + 8, (size_t)hl);
	s->hdr = h ? cJSON_Parse(h) : NULL;
	free(h);
	if (!s->hdr)
		return munmap(s->map, s->size), cerr(c, "%s: offset 8: header: invalid JSON", path);
	s->data = 8 + (size_t)hl;
	snprintf(s->name, sizeof s->name, "%s", name);
	c->nsh++;
	return 0;
}

/* Finds tensor `name`; fills dims (HF order: outermost first) and data as
 * floats (malloc'd, caller frees).  Returns 0, 1 when absent, -1 on error. */
static int st_get(conv *c, const char *name, int64_t *dims, int *nd, float **out)
{
	*out = NULL;
	for (int i = 0; i < c->nsh; i++) {
		cJSON *t = cJSON_GetObjectItem(c->sh[i].hdr, name);
		if (!t)
			continue;
		const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(t, "dtype"));
		cJSON *shape = cJSON_GetObjectItem(t, "shape"), *off = cJSON_GetObjectItem(t, "data_offsets");
		if (!dt || !cJSON_IsArray(shape) || cJSON_GetArraySize(off) != 2)
			return cerr(c, "%s: tensor %s: dtype/shape/data_offsets missing", c->sh[i].name, name);
		int es = !strcmp(dt, "F32") ? 4 : (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) ? 2 : 0;
		if (!es)
			return cerr(c, "%s: tensor %s: dtype %s not supported (F32, F16, BF16)", c->sh[i].name, name, dt);
		*nd = cJSON_GetArraySize(shape);
		if (*nd < 1 || *nd > 2)
			return cerr(c, "%s: tensor %s: %d dimensions", c->sh[i].name, name, *nd);
		uint64_t n = 1;
		for (int d = 0; d < *nd; d++) {
			double v = cJSON_GetArrayItem(shape, d)->valuedouble;
			if (v < 1 || v > (1 << 24))
				return cerr(c, "%s: tensor %s: dimension %d = %g", c->sh[i].name, name, d, v);
			dims[d] = (int64_t)v;
			n *= (uint64_t)v;
		}
		double a = cJSON_GetArrayItem(off, 0)->valuedouble, b = cJSON_GetArrayItem(off, 1)->valuedouble;
		if (a < 0 || b < a || b - a != (double)(n * (uint64_t)es) || c->sh[i].data + (size_t)b > c->sh[i].size)
			return cerr(c, "%s: tensor %s: data_offsets [%g, %g) do not fit (%llu values of %d bytes)",
			            c->sh[i].name, name, a, b, (unsigned long long)n, es);
		const uint8_t *p = c->sh[i].map + c->sh[i].data + (size_t)a;
		float *f = malloc(n * sizeof *f);
		if (!f)
			return cerr(c, "out of memory for %s", name);
		for (uint64_t k = 0; k < n; k++) {
			if (es == 4) {
				memcpy(f + k, p + 4 * k, 4);
			} else {
				uint16_t h = (uint16_t)(p[2 * k] | p[2 * k + 1] << 8);
				f[k] = !strcmp(dt, "F16") ? llm_f16_to_f32(h) : llm_bf16_to_f32(h);
			}
		}
		*out = f;
		return 0;
	}
	return 1;
}

/* ---- tokenizer ----------------------------------------------------------------------- */

static int add_tokenizer(conv *c, gguf_w *w, const char *arch, int n_vocab, cJSON *tcfg, cJSON *cfg)
{
	cJSON *tj = json_file(c, "tokenizer.json", 0);
	cJSON *vocab = NULL, *merges = NULL, *vj = NULL;
	char *mtxt = NULL;
	const char **toks = calloc((size_t)n_vocab, sizeof *toks);
	int32_t *types = calloc((size_t)n_vocab, sizeof *types);
	const char **ml = NULL;
	char **owned = NULL;
	int nm = 0, rc = -1, nowned = 0;
	if (!toks || !types)
		goto out;
	const char *pre = strcmp(arch, "llama") ? "qwen2" : "gpt2";
	if (tj) {
		cJSON *model = cJSON_GetObjectItem(tj, "model");
		vocab = cJSON_GetObjectItem(model, "vocab");
		merges = cJSON_GetObjectItem(model, "merges");
		char *ps = cJSON_PrintUnformatted(cJSON_GetObjectItem(tj, "pre_tokenizer"));
		if (ps && !strcmp(arch, "llama")) {
			if (strstr(ps, "\"Digits\""))
				pre = "smollm";
			else if (strstr(ps, "\\\\p{N}{1,3}"))
				pre = "llama-bpe";
		}
		free(ps);
		cJSON *added = cJSON_GetObjectItem(tj, "added_tokens");
		for (cJSON *a = added ? added->child : NULL; a; a = a->next) {
			int id = cJSON_GetObjectItem(a, "id") ? cJSON_GetObjectItem(a, "id")->valueint : -1;
			if (id >= 0 && id < n_vocab) {
				toks[id] = cJSON_GetStringValue(cJSON_GetObjectItem(a, "content"));
				types[id] = cJSON_IsTrue(cJSON_GetObjectItem(a, "special")) ? 3 : 4;
			}
		}
	} else {
		vj = json_file(c, "vocab.json", 1);
		if (!vj)
			goto out;
		vocab = vj;
		mtxt = slurp(c, "merges.txt", NULL, 1);
		if (!mtxt)
			goto out;
		cJSON *added = tcfg ? cJSON_GetObjectItem(tcfg, "added_tokens_decoder") : NULL;
		for (cJSON *a = added ? added->child : NULL; a; a = a->next) {
			int id = atoi(a->string);
			if (id >= 0 && id < n_vocab) {
				toks[id] = cJSON_GetStringValue(cJSON_GetObjectItem(a, "content"));
				types[id] = cJSON_IsTrue(cJSON_GetObjectItem(a, "special")) ? 3 : 4;
			}
		}
	}
	if (!vocab || !cJSON_IsObject(vocab)) {
		cerr(c, "%s: no BPE vocabulary (tokenizer.json model.vocab or vocab.json)", c->dir);
		goto out;
	}
	for (cJSON *e = vocab->child; e; e = e->next) {
		if (e->valueint < 0 || e->valueint >= n_vocab) {
			cerr(c, "vocabulary: token \"%s\" has id %d outside the model's %d rows", e->string, e->valueint,
			     n_vocab);
			goto out;
		}
		if (!toks[e->valueint]) {
			toks[e->valueint] = e->string;
			types[e->valueint] = 1;
		}
	}
	owned = calloc((size_t)n_vocab, sizeof *owned);
	for (int i = 0; i < n_vocab; i++)
		if (!toks[i]) {	/* padding rows of the embedding */
			char b[32];
			snprintf(b, sizeof b, "[PAD%d]", i);
			toks[i] = owned[nowned++] = strdup(b);
			types[i] = 5;
		}
	/* merges: "a b" strings or ["a", "b"] pairs (tokenizer.json), or merges.txt lines */
	if (merges) {
		int n = cJSON_GetArraySize(merges);
		ml = calloc((size_t)n + 1, sizeof *ml);
		char **mo = calloc((size_t)n + 1, sizeof *mo);
		for (cJSON *e = merges->child; e; e = e->next) {
			if (cJSON_IsString(e)) {
				ml[nm++] = e->valuestring;
			} else if (cJSON_GetArraySize(e) == 2) {
				const char *a = cJSON_GetArrayItem(e, 0)->valuestring, *b = cJSON_GetArrayItem(e, 1)->valuestring;
				size_t la = strlen(a), lb = strlen(b);
				char *s = malloc(la + lb + 2);
				memcpy(s, a, la);
				s[la] = ' ';
				memcpy(s + la + 1, b, lb + 1);
				mo[nm] = s;
				ml[nm++] = s;
			}
		}
		/* keep the pair strings alive until written */
		gguf_w_str_arr(w, "tokenizer.ggml.merges", ml, NULL, (uint64_t)nm);
		for (int i = 0; i < n; i++)
			free(mo[i]);
		free(mo);
	} else {
		size_t cap = 1024;
		ml = malloc(cap * sizeof *ml);
		for (char *p = mtxt, *e; p && *p; p = e ? e + 1 : NULL) {
			e = strchr(p, '\n');
			if (e)
				*e = 0;
			if (*p && strncmp(p, "#version", 8)) {
				if ((size_t)nm == cap)
					ml = realloc(ml, (cap *= 2) * sizeof *ml);
				ml[nm++] = p;
			}
			if (!e)
				break;
		}
		gguf_w_str_arr(w, "tokenizer.ggml.merges", ml, NULL, (uint64_t)nm);
	}
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_str(w, "tokenizer.ggml.pre", pre);
	gguf_w_str_arr(w, "tokenizer.ggml.tokens", toks, NULL, (uint64_t)n_vocab);
	gguf_w_i32_arr(w, "tokenizer.ggml.token_type", types, (uint64_t)n_vocab);
	/* special ids: tokenizer_config's strings, else config.json's ids */
	const char *keys[3][2] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
	                          {"eos_token", "tokenizer.ggml.eos_token_id"},
	                          {"pad_token", "tokenizer.ggml.padding_token_id"}};
	for (int k = 0; k < 3; k++) {
		cJSON *v = tcfg ? cJSON_GetObjectItem(tcfg, keys[k][0]) : NULL;
		const char *s = cJSON_IsString(v) ? v->valuestring : cJSON_GetStringValue(cJSON_GetObjectItem(v, "content"));
		int id = -1;
		for (int i = 0; s && i < n_vocab && id < 0; i++)
			if (!strcmp(toks[i], s))
				id = i;
		if (id < 0 && k < 2) {
			cJSON *ci = cJSON_GetObjectItem(cfg, k ? "eos_token_id" : "bos_token_id");
			if (cJSON_IsArray(ci))
				ci = cJSON_GetArrayItem(ci, 0);
			if (cJSON_IsNumber(ci))
				id = ci->valueint;
		}
		if (id >= 0)
			gguf_w_u32(w, keys[k][1], (uint32_t)id);
	}
	gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 0);
	const char *tpl = tcfg ? cJSON_GetStringValue(cJSON_GetObjectItem(tcfg, "chat_template")) : NULL;
	if (tpl)
		gguf_w_str(w, "tokenizer.chat_template", tpl);
	rc = 0;
out:
	if (owned)
		for (int i = 0; i < nowned; i++)
			free(owned[i]);
	free(owned);
	free(ml);
	free(toks);
	free(types);
	free(mtxt);
	cJSON_Delete(tj);
	cJSON_Delete(vj);
	return rc;
}

/* ---- weights ------------------------------------------------------------------------------ */

/* GGUF llama keeps q/k rows so that RoPE rotates adjacent pairs: within each
 * head, row 2i <- row i and row 2i+1 <- row i + head_dim/2. */
static void permute_rows(float *w, int64_t rows, int64_t cols, int n_head)
{
	int64_t hd = rows / n_head;
	float *tmp = malloc((size_t)(hd * cols) * sizeof *tmp);
	for (int h = 0; h < n_head; h++) {
		float *base = w + h * hd * cols;
		for (int64_t i = 0; i < hd / 2; i++) {
			memcpy(tmp + (2 * i) * cols, base + i * cols, (size_t)cols * 4);
			memcpy(tmp + (2 * i + 1) * cols, base + (i + hd / 2) * cols, (size_t)cols * 4);
		}
		memcpy(base, tmp, (size_t)(hd * cols) * 4);
	}
	free(tmp);
}

static int put_tensor(conv *c, gguf_w *w, const char *hf, const char *gg, int type, int opt, int permute_heads)
{
	int64_t dims[2] = {0, 0};
	int nd = 0;
	float *f;
	int rc = st_get(c, hf, dims, &nd, &f);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return opt ? 0 : cerr(c, "%s: tensor %s missing from the checkpoint", c->dir, hf);
	int64_t rows = nd == 2 ? dims[0] : 1, cols = nd == 2 ? dims[1] : dims[0];
	if (permute_heads)
		permute_rows(f, rows, cols, permute_heads);
	int t = nd == 1 ? LLM_TYPE_F32 : type;
	if (llm_type_row_bytes(t, cols) < 0)
		t = LLM_TYPE_F16;	/* a width the block type cannot hold */
	int64_t rb = llm_type_row_bytes(t, cols);
	void *q = malloc((size_t)(rb * rows));
	if (!q) {
		free(f);
		return cerr(c, "out of memory for %s", hf);
	}
	for (int64_t r = 0; r < rows; r++)
		llm_quant_row(t, f + r * cols, (char *)q + r * rb, cols);
	int64_t ne[2] = {cols, rows};
	rc = gguf_w_tensor(w, gg, t, nd, ne, q);
	free(q);
	free(f);
	return rc < 0 ? cerr(c, "out of memory writing %s", gg) : 0;
}

static int num(cJSON *cfg, const char *k, double def, double *out)
{
	cJSON *v = cJSON_GetObjectItem(cfg, k);
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return 0;
	}
	*out = def;
	return def < 0 ? -1 : 0;
}

static int convert(conv *c, const char *out, int type)
{
	cJSON *cfg = json_file(c, "config.json", 1), *tcfg = NULL, *idx = NULL;
	gguf_w *w = NULL;
	int rc = -1;
	if (!cfg)
		goto out;
	tcfg = json_file(c, "tokenizer_config.json", 0);
	const char *mt = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "model_type"));
	const char *arch = mt && !strcmp(mt, "llama") ? "llama" : mt && !strcmp(mt, "qwen2") ? "qwen2"
	                   : mt && !strcmp(mt, "qwen3") ? "qwen3" : NULL;
	if (!arch) {
		cerr(c, "%s/config.json: model_type \"%s\" is not supported (llama, qwen2, qwen3)", c->dir, mt ? mt : "?");
		goto out;
	}
	cJSON *rs = cJSON_GetObjectItem(cfg, "rope_scaling");
	if (rs && !cJSON_IsNull(rs)) {
		cerr(c, "%s/config.json: rope_scaling is not supported", c->dir);
		goto out;
	}
	double L, E, H, KV, FF, V, eps, theta, ctx, hd;
	if (num(cfg, "num_hidden_layers", -1, &L) || num(cfg, "hidden_size", -1, &E) ||
	    num(cfg, "num_attention_heads", -1, &H) || num(cfg, "intermediate_size", -1, &FF) ||
	    num(cfg, "vocab_size", -1, &V)) {
		cerr(c, "%s/config.json: num_hidden_layers, hidden_size, num_attention_heads, intermediate_size "
		     "and vocab_size are required", c->dir);
		goto out;
	}
	num(cfg, "num_key_value_heads", H, &KV);
	num(cfg, "rms_norm_eps", 1e-6, &eps);
	num(cfg, "rope_theta", 10000, &theta);
	num(cfg, "max_position_embeddings", 2048, &ctx);
	num(cfg, "head_dim", E / H, &hd);
	cJSON *rp = cJSON_GetObjectItem(cfg, "rope_parameters");	/* newer transformers */
	if (rp && cJSON_IsNumber(cJSON_GetObjectItem(rp, "rope_theta")))
		theta = cJSON_GetObjectItem(rp, "rope_theta")->valuedouble;
	if (L < 1 || L > 1024 || E < 1 || H < 1 || KV < 1 || (int)H % (int)KV || V < 1 || V > (1 << 22)) {
		cerr(c, "%s/config.json: shape out of range", c->dir);
		goto out;
	}
	/* shards */
	idx = json_file(c, "model.safetensors.index.json", 0);
	if (idx) {
		cJSON *map = cJSON_GetObjectItem(idx, "weight_map");
		for (cJSON *e = map ? map->child : NULL; e; e = e->next)
			if (open_shard(c, e->valuestring) < 0)
				goto out;
	} else if (open_shard(c, "model.safetensors") < 0) {
		goto out;
	}
	w = gguf_w_new();
	char k[128];
	gguf_w_str(w, "general.architecture", arch);
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "_name_or_path"));
	gguf_w_str(w, "general.name", name && *name ? name : "converted by vigil");
	gguf_w_u32(w, "general.alignment", 32);
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
	gguf_w_u32(w, KEY("block_count"), (uint32_t)L);
	gguf_w_u32(w, KEY("context_length"), (uint32_t)ctx);
	gguf_w_u32(w, KEY("embedding_length"), (uint32_t)E);
	gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)FF);
	gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)H);
	gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)KV);
	gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)hd);
	gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)hd);
	gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)hd);
	gguf_w_f32(w, KEY("rope.freq_base"), (float)theta);
	gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)eps);
#undef KEY
	if (add_tokenizer(c, w, arch, (int)V, tcfg, cfg) < 0)
		goto out;
	int llama = !strcmp(arch, "llama");
	if (put_tensor(c, w, "model.embed_tokens.weight", "token_embd.weight", type, 0, 0) ||
	    put_tensor(c, w, "model.norm.weight", "output_norm.weight", type, 0, 0))
		goto out;
	cJSON *tie = cJSON_GetObjectItem(cfg, "tie_word_embeddings");
	if (!cJSON_IsTrue(tie) && put_tensor(c, w, "lm_head.weight", "output.weight", type, 0, 0))
		goto out;
	static const char *map[][2] = {
		{"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
		{"self_attn.k_proj.weight", "attn_k.weight"}, {"self_attn.v_proj.weight", "attn_v.weight"},
		{"self_attn.q_proj.bias", "attn_q.bias"}, {"self_attn.k_proj.bias", "attn_k.bias"},
		{"self_attn.v_proj.bias", "attn_v.bias"}, {"self_attn.q_norm.weight", "attn_q_norm.weight"},
		{"self_attn.k_norm.weight", "attn_k_norm.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
		{"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
		{"mlp.up_proj.weight", "ffn_up.weight"}, {"mlp.down_proj.weight", "ffn_down.weight"},
	};
	for (int l = 0; l < (int)L; l++)
		for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
			char hf[160], gg[96];
			snprintf(hf, sizeof hf, "model.layers.%d.%s", l, map[i][0]);
			snprintf(gg, sizeof gg, "blk.%d.%s", l, map[i][1]);
			int opt = strstr(map[i][0], "bias") || strstr(map[i][0], "_norm.");
			int perm = 0;
			if (llama && i == 1)
				perm = (int)H;
			if (llama && i == 2)
				perm = (int)KV;
			if (put_tensor(c, w, hf, gg, type, opt, perm) < 0)
				goto out;
		}
	rc = gguf_w_write(w, out, c->err, sizeof c->err);
out:
	gguf_w_free(w);
	cJSON_Delete(cfg);
	cJSON_Delete(tcfg);
	cJSON_Delete(idx);
	for (int i = 0; i < c->nsh; i++) {
		munmap(c->sh[i].map, c->sh[i].size);
		cJSON_Delete(c->sh[i].hdr);
	}
	c->nsh = 0;
	return rc;
}

int cli_llm_convert(int argc, char **argv)
{
	const char *dir = NULL, *out = NULL;
	int type = LLM_TYPE_F16;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			const char *t = argv[++i];
			type = !strcmp(t, "f32") ? LLM_TYPE_F32 : !strcmp(t, "f16") ? LLM_TYPE_F16
			       : !strcmp(t, "bf16") ? LLM_TYPE_BF16 : !strcmp(t, "q8_0") ? LLM_TYPE_Q8_0 : -1;
			if (type < 0) {
				fprintf(stderr, "vigil llm convert: --type %s: expected f32, f16, bf16 or q8_0\n", t);
				return VIGIL_EXIT_USAGE;
			}
		} else if (argv[i][0] != '-' && !dir) {
			dir = argv[i];
		} else {
			fprintf(stderr, "vigil llm convert: unexpected argument %s\n", argv[i]);
			dir = NULL;
			break;
		}
	}
	if (!dir || !out) {
		fprintf(stderr, "usage: vigil llm convert DIR --out F.gguf [--type f32|f16|bf16|q8_0]\n");
		return VIGIL_EXIT_USAGE;
	}
	conv *c = calloc(1, sizeof *c);
	if (!c)
		return VIGIL_EXIT_INTERNAL;
	c->dir = dir;
	int rc = convert(c, out, type);
	if (rc < 0)
		fprintf(stderr, "vigil llm convert: %s\n", c->err);
	free(c);
	return rc < 0 ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
}
