/* local_llm/tokenizer.c — byte-level BPE (GPT-2 style, as used by Qwen2,
 * Qwen3, Llama 3 and SmolLM2) from GGUF metadata.
 *
 * Encoding a text:
 *   1. invalid UTF-8 is replaced by U+FFFD (one per maximal invalid subpart,
 *      as Python's bytes.decode(errors="replace") does); Qwen2-family
 *      vocabularies then normalize to NFC, as their Hugging Face tokenizer;
 *   2. special tokens (control / user-defined, e.g. <|im_start|>) are cut
 *      out first when parse_special is set (leftmost, longest);
 *   3. each remaining span is split by the model's pre-tokenizer regex
 *      (PCRE2, UTF + Unicode properties);
 *   4. each piece's bytes become the 256 byte-level symbols, which are merged
 *      pairwise by merge rank (lowest first, leftmost first) until no merge
 *      applies; each final symbol is a vocabulary id.
 * Decoding maps each token's byte-level characters back to bytes. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "local_llm/tokenizer.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct merge_slot {
	uint64_t key;       /* (left id + 1) << 32 | (right id + 1); 0 = empty */
	int32_t rank, id;
} merge_slot;

typedef struct str_slot {
	uint32_t off, len;  /* token text in text blob */
	int32_t id;         /* -1 = empty */
} str_slot;

struct llm_tok {
	int n_vocab;
	llm_pre pre;
	char *text;          /* all token texts (as in the file), concatenated */
	uint32_t *text_off;  /* [n_vocab + 1] */
	char *bytes;         /* all token bytes (decoded), concatenated */
	uint32_t *bytes_off; /* [n_vocab + 1] */
	uint8_t *type;       /* [n_vocab] */
	str_slot *vocab;     /* hash: text -> id */
	uint32_t vocab_mask;
	merge_slot *merges;  /* hash: pair -> rank, id */
	uint32_t merge_mask;
	int32_t byte_id[256];/* byte -> id of its byte-level symbol (-1 if none) */
	int32_t *special;    /* ids of special tokens, longest text first */
	int n_special;
	pcre2_code *re[2];   /* pre-tokenizer stages */
	int n_re;
};

/* ---- byte-level alphabet ------------------------------------------------------- */

static void byte_to_cp_table(uint32_t cp[256])
{
	int n = 0;
	for (int b = 0; b < 256; b++) {
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
			cp[b] = (uint32_t)b;
		else
			cp[b] = 256u + (uint32_t)n++;
	}
}

static int put_utf8(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or -k where k >= 1
 * is the length of the maximal invalid subpart to replace. */
static int utf8_check(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	int need;
	unsigned lo = 0x80, hi = 0xbf;
	uint32_t v;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return -1;
	}
	for (int i = 1; i <= need; i++) {
		if ((size_t)i >= n || s[i] < lo || s[i] > hi)
			return -i;
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/* ---- NFC (Qwen2's tokenizer normalizes its input to NFC) -------------------------- */

#include "local_llm/unicode_nfc.h"

enum { H_SBASE = 0xAC00, H_LBASE = 0x1100, H_VBASE = 0x1161, H_TBASE = 0x11A7,
       H_LCOUNT = 19, H_VCOUNT = 21, H_TCOUNT = 28, H_NCOUNT = 588, H_SCOUNT = 11172 };

static int nfc_ccc_of(uint32_t cp)
{
	size_t lo = 0, hi = sizeof nfc_ccc / sizeof *nfc_ccc;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (nfc_ccc[m][0] == cp)
			return (int)nfc_ccc[m][1];
		if (nfc_ccc[m][0] < cp)
			lo = m + 1;
		else
			hi = m;
	}
	return 0;
}

/* Appends the full canonical decomposition of cp to out (room for 18). */
static int nfc_decompose(uint32_t cp, uint32_t *out)
{
	if (cp >= H_SBASE && cp < H_SBASE + H_SCOUNT) {
		uint32_t si = cp - H_SBASE;
		out[0] = H_LBASE + si / H_NCOUNT;
		out[1] = H_VBASE + (si % H_NCOUNT) / H_TCOUNT;
		if (si % H_TCOUNT) {
			out[2] = H_TBASE + si % H_TCOUNT;
			return 3;
		}
		return 2;
	}
	size_t lo = 0, hi = sizeof nfc_dec / sizeof *nfc_dec;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (nfc_dec[m][0] == cp) {
			memcpy(out, nfc_flat + nfc_dec[m][1], nfc_dec[m][2] * sizeof *out);
			return (int)nfc_dec[m][2];
		}
		if (nfc_dec[m][0] < cp)
			lo = m + 1;
		else
			hi = m;
	}
	out[0] = cp;
	return 1;
}

static uint32_t nfc_compose(uint32_t a, uint32_t b)
{
	if (a >= H_LBASE && a < H_LBASE + H_LCOUNT && b >= H_VBASE && b < H_VBASE + H_VCOUNT)
		return H_SBASE + ((a - H_LBASE) * H_VCOUNT + (b - H_VBASE)) * H_TCOUNT;
	if (a >= H_SBASE && a < H_SBASE + H_SCOUNT && (a - H_SBASE) % H_TCOUNT == 0 && b > H_TBASE &&
	    b < H_TBASE + H_TCOUNT)
		return a + (b - H_TBASE);
	size_t lo = 0, hi = sizeof nfc_comp / sizeof *nfc_comp;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (nfc_comp[m][0] == a && nfc_comp[m][1] == b)
			return nfc_comp[m][2];
		if (nfc_comp[m][0] < a || (nfc_comp[m][0] == a && nfc_comp[m][1] < b))
			lo = m + 1;
		else
			hi = m;
	}
	return 0;
}

static int utf8_check(const unsigned char *s, size_t n, uint32_t *cp);
static int put_utf8(uint32_t c, char *o);

/* NFC of valid UTF-8 s[0..n): returns a malloc'd string (*outlen bytes), or
 * NULL when s is already plainly NFC (only code points below U+0300) or
 * memory ran out (*outlen = (size_t)-1 then). */
static unsigned char *nfc(const unsigned char *s, size_t n, size_t *outlen)
{
	size_t i = 0;
	while (i < n && (s[i] < 0xcc))	/* bytes below 0xCC start code points below U+0300 */
		i++;
	*outlen = 0;
	if (i == n)
		return NULL;
	uint32_t *cp = malloc((n * 18 + 1) * sizeof *cp);
	unsigned char *out = malloc(n * 3 + 4);
	if (!cp || !out) {
		free(cp);
		free(out);
		*outlen = (size_t)-1;
		return NULL;
	}
	size_t m = 0;
	for (i = 0; i < n;) {
		uint32_t c;
		int l = utf8_check(s + i, n - i, &c);
		if (l <= 0) {	/* cannot happen after sanitizing; keep the byte as U+FFFD */
			c = 0xfffd;
			l = 1;
		}
		m += (size_t)nfc_decompose(c, cp + m);
		i += (size_t)l;
	}
	/* canonical ordering: stable insertion sort of each run of non-starters */
	for (size_t k = 1; k < m; k++) {
		int cc = nfc_ccc_of(cp[k]);
		if (!cc)
			continue;
		size_t j = k;
		while (j > 0) {
			int pc = nfc_ccc_of(cp[j - 1]);
			if (pc <= cc)
				break;
			uint32_t t = cp[j];
			cp[j] = cp[j - 1];
			cp[j - 1] = t;
			j--;
		}
	}
	/* composition */
	size_t o = 0;
	long starter = -1;
	int last_cc = 0;
	for (size_t k = 0; k < m; k++) {
		uint32_t c = cp[k];
		int cc = nfc_ccc_of(c);
		if (starter >= 0) {
			int blocked = (size_t)starter != o - 1 && (last_cc == 0 || last_cc >= cc);
			uint32_t comp = blocked ? 0 : nfc_compose(cp[starter], c);
			if (comp) {
				cp[starter] = comp;
				continue;
			}
		}
		if (cc == 0)
			starter = (long)o;
		cp[o++] = c;
		last_cc = cc;
	}
	size_t b = 0;
	for (size_t k = 0; k < o; k++)
		b += (size_t)put_utf8(cp[k], (char *)out + b);
	free(cp);
	*outlen = b;
	return out;
}

/* ---- hashing ------------------------------------------------------------------ */

static uint32_t fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static uint32_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t)k;
}

static int32_t vocab_find(const llm_tok *t, const char *s, size_t n)
{
	for (uint32_t h = fnv(s, n) & t->vocab_mask;; h = (h + 1) & t->vocab_mask) {
		const str_slot *e = &t->vocab[h];
		if (e->id < 0)
			return -1;
		if (e->len == n && !memcmp(t->text + e->off, s, n))
			return e->id;
	}
}

static const merge_slot *merge_find(const llm_tok *t, int32_t a, int32_t b)
{
	uint64_t key = (uint64_t)(uint32_t)(a + 1) << 32 | (uint32_t)(b + 1);
	for (uint32_t h = mix64(key) & t->merge_mask;; h = (h + 1) & t->merge_mask) {
		const merge_slot *e = &t->merges[h];
		if (!e->key)
			return NULL;
		if (e->key == key)
			return e;
	}
}

/* ---- construction -------------------------------------------------------------- */

static const char *RE_GPT2 =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char *RE_QWEN2 =
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
	"|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *RE_LLAMA3 =
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
	"|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *RE_DIGIT = "\\p{N}";

static const char *pre_names[] = {"gpt2", "smollm", "qwen2", "llama3"};

static int compile(llm_tok *t, const char *pat, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	                               PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
	if (!re) {
		char m[128];
		pcre2_get_error_message(ec, (PCRE2_UCHAR *)m, sizeof m);
		snprintf(err, errlen, "tokenizer: pre-split regex: %s at %zu", m, (size_t)eo);
		return -1;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);	/* optional: falls back to the interpreter */
	t->re[t->n_re++] = re;
	return 0;
}

static int cmp_special(const void *a, const void *b, void *tp)
{
	const llm_tok *t = tp;
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	uint32_t lx = t->text_off[x + 1] - t->text_off[x], ly = t->text_off[y + 1] - t->text_off[y];
	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x < y ? -1 : x > y;
}

int llm_tok_create(const gguf_file *f, llm_tok **out, char *err, size_t errlen)
{
	llm_tok *t = calloc(1, sizeof *t);
	int rc = -1;
	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "tokenizer: out of memory");
		return -1;
	}
	gguf_str model;
	if (gguf_get_str(f, "tokenizer.ggml.model", &model) < 0) {
		snprintf(err, errlen, "tokenizer.ggml.model: missing (no tokenizer in this file)");
		goto out;
	}
	if (!(model.len == 4 && !memcmp(model.p, "gpt2", 4))) {
		snprintf(err, errlen, "tokenizer.ggml.model: \"%.*s\" is not supported (only byte-level "
		         "BPE, \"gpt2\")", (int)(model.len > 40 ? 40 : model.len), model.p);
		goto out;
	}
	const gguf_kv *toks = gguf_find(f, "tokenizer.ggml.tokens");
	if (!toks || toks->type != GGUF_T_ARRAY || toks->arr_type != GGUF_T_STRING || toks->arr_n == 0 ||
	    toks->arr_n > (1u << 22)) {
		snprintf(err, errlen, "tokenizer.ggml.tokens: missing, empty, too long or not an array of strings");
		goto out;
	}
	int n = (int)toks->arr_n;
	t->n_vocab = n;
	const gguf_kv *types = gguf_find(f, "tokenizer.ggml.token_type");
	if (types && (types->type != GGUF_T_ARRAY || types->arr_n != (uint64_t)n ||
	              (types->arr_type != GGUF_T_I32 && types->arr_type != GGUF_T_U32))) {
		snprintf(err, errlen, "tokenizer.ggml.token_type: must be %d int32 values", n);
		goto out;
	}
	const gguf_kv *merges = gguf_find(f, "tokenizer.ggml.merges");
	if (!merges || merges->type != GGUF_T_ARRAY || merges->arr_type != GGUF_T_STRING) {
		snprintf(err, errlen, "tokenizer.ggml.merges: missing or not an array of strings");
		goto out;
	}

	/* texts */
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += toks->arr_str[i].len;
	t->text = malloc(total + 1);
	t->text_off = malloc(((size_t)n + 1) * sizeof *t->text_off);
	t->bytes = malloc(total + 1);	/* decoding never grows a token */
	t->bytes_off = malloc(((size_t)n + 1) * sizeof *t->bytes_off);
	t->type = malloc((size_t)n);
	uint32_t vcap = 1;
	while (vcap < (uint32_t)n * 2)
		vcap <<= 1;
	t->vocab = malloc(vcap * sizeof *t->vocab);
	t->vocab_mask = vcap - 1;
	if (!t->text || !t->text_off || !t->bytes || !t->bytes_off || !t->type || !t->vocab || total > UINT32_MAX) {
		snprintf(err, errlen, "tokenizer: out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < vcap; i++)
		t->vocab[i].id = -1;
	uint32_t cp_of[256];
	int16_t byte_of_cp[512];
	byte_to_cp_table(cp_of);
	for (int i = 0; i < 512; i++)
		byte_of_cp[i] = -1;
	for (int b = 0; b < 256; b++)
		byte_of_cp[cp_of[b]] = (int16_t)b;

	size_t off = 0, boff = 0;
	for (int i = 0; i < n; i++) {
		const gguf_str *s = &toks->arr_str[i];
		t->text_off[i] = (uint32_t)off;
		memcpy(t->text + off, s->p, s->len);
		off += s->len;
		int ty = TT_NORMAL;
		if (types) {
			int32_t v;
			memcpy(&v, types->arr + (size_t)i * 4, 4);
			ty = (v >= 1 && v <= 6) ? v : TT_NORMAL;
		}
		t->type[i] = (uint8_t)ty;
		t->bytes_off[i] = (uint32_t)boff;
		if (ty == TT_NORMAL || ty == TT_UNKNOWN || ty == TT_UNUSED || ty == TT_BYTE) {
			/* byte-level text -> bytes; characters outside the alphabet pass through */
			const unsigned char *p = (const unsigned char *)s->p;
			size_t k = 0;
			while (k < s->len) {
				uint32_t cp;
				int l = utf8_check(p + k, s->len - k, &cp);
				if (l < 0) {
					t->bytes[boff++] = (char)p[k++];
					continue;
				}
				if (cp < 512 && byte_of_cp[cp] >= 0)
					t->bytes[boff++] = (char)byte_of_cp[cp];
				else {
					memcpy(t->bytes + boff, p + k, (size_t)l);
					boff += (size_t)l;
				}
				k += (size_t)l;
			}
		} else {
			memcpy(t->bytes + boff, s->p, s->len);
			boff += s->len;
		}
		/* first id wins for duplicate texts */
		if (vocab_find(t, s->p, s->len) < 0) {
			uint32_t h = fnv(s->p, s->len) & t->vocab_mask;
			while (t->vocab[h].id >= 0)
				h = (h + 1) & t->vocab_mask;
			t->vocab[h] = (str_slot){t->text_off[i], s->len, i};
		}
	}
	t->text_off[n] = (uint32_t)off;
	t->bytes_off[n] = (uint32_t)boff;

	for (int b = 0; b < 256; b++) {
		char u[4];
		int l = put_utf8(cp_of[b], u);
		t->byte_id[b] = vocab_find(t, u, (size_t)l);
	}

	/* merges */
	uint64_t nm = merges->arr_n;
	uint32_t mcap = 2;
	while (mcap < nm * 2)
		mcap <<= 1;
	t->merges = calloc(mcap, sizeof *t->merges);
	t->merge_mask = mcap - 1;
	if (!t->merges) {
		snprintf(err, errlen, "tokenizer: out of memory");
		goto out;
	}
	char *tmp = NULL;
	size_t tmpcap = 0;
	for (uint64_t r = 0; r < nm; r++) {
		const gguf_str *s = &merges->arr_str[r];
		const char *sp = s->len > 1 ? memchr(s->p + 1, ' ', s->len - 1) : NULL;
		if (!sp) {
			snprintf(err, errlen, "tokenizer.ggml.merges[%llu]: no space separating the pair",
			         (unsigned long long)r);
			free(tmp);
			goto out;
		}
		size_t la = (size_t)(sp - s->p), lb = s->len - la - 1;
		int32_t a = vocab_find(t, s->p, la), b = vocab_find(t, sp + 1, lb);
		if (la + lb > tmpcap) {
			free(tmp);
			tmpcap = (la + lb) * 2 + 16;
			tmp = malloc(tmpcap);
			if (!tmp) {
				snprintf(err, errlen, "tokenizer: out of memory");
				goto out;
			}
		}
		memcpy(tmp, s->p, la);
		memcpy(tmp + la, sp + 1, lb);
		int32_t c = vocab_find(t, tmp, la + lb);
		if (a < 0 || b < 0 || c < 0)
			continue;	/* a merge whose parts are not tokens can never apply */
		uint64_t key = (uint64_t)(uint32_t)(a + 1) << 32 | (uint32_t)(b + 1);
		uint32_t h = mix64(key) & t->merge_mask;
		while (t->merges[h].key && t->merges[h].key != key)
			h = (h + 1) & t->merge_mask;
		if (!t->merges[h].key)
			t->merges[h] = (merge_slot){key, (int32_t)r, c};
	}
	free(tmp);

	/* specials */
	t->special = malloc((size_t)n * sizeof *t->special);
	if (!t->special) {
		snprintf(err, errlen, "tokenizer: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		if ((t->type[i] == TT_CONTROL || t->type[i] == TT_USER) && t->text_off[i + 1] > t->text_off[i])
			t->special[t->n_special++] = i;
	qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special, t);

	/* pre-tokenizer */
	gguf_str pre = {"", 0};
	gguf_get_str(f, "tokenizer.ggml.pre", &pre);
#define PRE_IS(s) (pre.len == strlen(s) && !memcmp(pre.p, s, pre.len))
	if (PRE_IS("qwen2") || PRE_IS("deepseek-r1-qwen"))
		t->pre = LLM_PRE_QWEN2;
	else if (PRE_IS("llama3") || PRE_IS("llama-bpe") || PRE_IS("llama-v3") || PRE_IS("smaug-bpe"))
		t->pre = LLM_PRE_LLAMA3;
	else if (PRE_IS("smollm") || PRE_IS("starcoder") || PRE_IS("refact"))
		t->pre = LLM_PRE_SMOLLM;
	else
		t->pre = LLM_PRE_GPT2;
#undef PRE_IS
	if (t->pre == LLM_PRE_SMOLLM && compile(t, RE_DIGIT, err, errlen) < 0)
		goto out;
	if (compile(t, t->pre == LLM_PRE_QWEN2 ? RE_QWEN2 : t->pre == LLM_PRE_LLAMA3 ? RE_LLAMA3 : RE_GPT2,
	            err, errlen) < 0)
		goto out;
	*out = t;
	rc = 0;
out:
	if (rc)
		llm_tok_free(t);
	return rc;
}

void llm_tok_free(llm_tok *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n_re; i++)
		pcre2_code_free(t->re[i]);
	free(t->text);
	free(t->text_off);
	free(t->bytes);
	free(t->bytes_off);
	free(t->type);
	free(t->vocab);
	free(t->merges);
	free(t->special);
	free(t);
}

int llm_tok_n_vocab(const llm_tok *t) { return t->n_vocab; }
llm_pre llm_tok_pre(const llm_tok *t) { return t->pre; }
const char *llm_tok_pre_name(const llm_tok *t) { return pre_names[t->pre]; }

int32_t llm_tok_lookup(const llm_tok *t, const char *s)
{
	return vocab_find(t, s, strlen(s));
}

int llm_tok_is_special(const llm_tok *t, int32_t id)
{
	return id >= 0 && id < t->n_vocab && (t->type[id] == TT_CONTROL || t->type[id] == TT_USER);
}

const char *llm_tok_bytes(const llm_tok *t, int32_t id, size_t *len)
{
	if (id < 0 || id >= t->n_vocab)
		return NULL;
	*len = t->bytes_off[id + 1] - t->bytes_off[id];
	return t->bytes + t->bytes_off[id];
}

int llm_tok_piece(const llm_tok *t, int32_t id, char *buf, size_t cap)
{
	size_t n;
	const char *p = llm_tok_bytes(t, id, &n);
	if (!p)
		return -1;
	if (n <= cap)
		memcpy(buf, p, n);
	return (int)n;
}

/* ---- encoding ------------------------------------------------------------------- */

typedef struct enc {
	const llm_tok *t;
	int32_t *out;
	int cap, n;
	int32_t *sym;        /* BPE scratch */
	size_t sym_cap;
	pcre2_match_data *md;
	int failed;
} enc;

static void emit(enc *e, int32_t id)
{
	if (e->n < e->cap)
		e->out[e->n] = id;
	e->n++;
}

static void bpe(enc *e, const unsigned char *s, size_t len)
{
	const llm_tok *t = e->t;
	if (len > e->sym_cap) {
		free(e->sym);
		e->sym_cap = len * 2;
		e->sym = malloc(e->sym_cap * sizeof *e->sym);
		if (!e->sym) {
			e->sym_cap = 0;
			e->failed = 1;
			return;
		}
	}
	int32_t *sym = e->sym;
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (t->byte_id[s[i]] >= 0)
			sym[n++] = t->byte_id[s[i]];
	while (n > 1) {
		int32_t best_rank = INT32_MAX, best_id = -1;
		size_t best = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			const merge_slot *m = merge_find(t, sym[i], sym[i + 1]);
			if (m && m->rank < best_rank) {
				best_rank = m->rank;
				best_id = m->id;
				best = i;
			}
		}
		if (best_id < 0)
			break;
		sym[best] = best_id;
		memmove(sym + best + 1, sym + best + 2, (n - best - 2) * sizeof *sym);
		n--;
	}
	for (size_t i = 0; i < n; i++)
		emit(e, sym[i]);
}

/* Splits s by regex stage k (gaps between matches are pieces too) and sends
 * each piece to the next stage, the last stage to BPE. */
static void split(enc *e, int k, const unsigned char *s, size_t len)
{
	if (k == e->t->n_re) {
		bpe(e, s, len);
		return;
	}
	size_t pos = 0, gap = 0;
	while (pos < len && !e->failed) {
		int rc = pcre2_match(e->t->re[k], s, len, pos, PCRE2_NO_UTF_CHECK, e->md, NULL);
		if (rc < 0)
			break;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
		size_t a = ov[0], b = ov[1];
		if (b == a) {	/* empty match: step one character */
			pos = a + 1;
			while (pos < len && (s[pos] & 0xc0) == 0x80)
				pos++;
			continue;
		}
		if (a > gap)
			split(e, k + 1, s + gap, a - gap);
		split(e, k + 1, s + a, b - a);
		pos = gap = b;
	}
	if (gap < len && !e->failed)
		split(e, k + 1, s + gap, len - gap);
}

int llm_tok_encode(const llm_tok *t, const char *text, size_t len, int parse_special,
                   int32_t *out, int cap)
{
	enc e = {.t = t, .out = out, .cap = cap};
	unsigned char *clean = NULL;
	int rc = -1;
	/* 1. sanitize: at most 3 bytes out per byte in */
	if (len > ((size_t)1 << 28))
		return -1;
	clean = malloc(len * 3 + 1);
	e.md = pcre2_match_data_create(4, NULL);
	if (!clean || !e.md)
		goto out;
	size_t cl = 0;
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int l = utf8_check(s + i, len - i, &cp);
		if (l > 0) {
			memcpy(clean + cl, s + i, (size_t)l);
			cl += (size_t)l;
			i += (size_t)l;
		} else {
			memcpy(clean + cl, "\xef\xbf\xbd", 3);
			cl += 3;
			i += (size_t)-l;
		}
	}
	/* 1b. Qwen2's normalizer: NFC */
	if (t->pre == LLM_PRE_QWEN2) {
		size_t nl;
		unsigned char *nf = nfc(clean, cl, &nl);
		if (nl == (size_t)-1)
			goto out;
		if (nf) {
			free(clean);
			clean = nf;
			cl = nl;
		}
	}
	/* 2. specials, 3-4. split and merge */
	size_t start = 0;
	for (size_t i = 0; i < cl && parse_special && t->n_special;) {
		int32_t hit = -1;
		for (int k = 0; k < t->n_special; k++) {
			int32_t id = t->special[k];
			uint32_t sl = t->text_off[id + 1] - t->text_off[id];
			if (sl <= cl - i && !memcmp(clean + i, t->text + t->text_off[id], sl)) {
				hit = id;
				break;
			}
		}
		if (hit < 0) {
			i++;
			continue;
		}
		if (i > start)
			split(&e, 0, clean + start, i - start);
		emit(&e, hit);
		i += t->text_off[hit + 1] - t->text_off[hit];
		start = i;
	}
	if (start < cl)
		split(&e, 0, clean + start, cl - start);
	if (!e.failed)
		rc = e.n;
out:
	free(clean);
	free(e.sym);
	if (e.md)
		pcre2_match_data_free(e.md);
	return rc;
}
