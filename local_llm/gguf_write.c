/* local_llm/gguf_write.c — builds a GGUF v3 file in memory (mkmodel, convert,
 * tests).  Metadata values and tensor data are copied in; the caller frees
 * what it passed.  Tensors are laid out in the order added, each aligned to
 * 32 bytes. */
#include "local_llm/gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
	uint8_t *p;
	size_t n, cap;
	int oom;
} buf;

struct gguf_w {
	buf kv, ti, data;
	uint64_t n_kv, n_t;
};

static void put(buf *b, const void *src, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->n + n)
			nc *= 2;
		uint8_t *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	if (n)
		memcpy(b->p + b->n, src, n);
	b->n += n;
}

static void put_u32(buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(b, x, 4);
}

static void put_u64(buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(buf *b, const char *s, size_t n)
{
	put_u64(b, n);
	put(b, s, n);
}

gguf_w *gguf_w_new(void)
{
	return calloc(1, sizeof(gguf_w));
}

void gguf_w_free(gguf_w *w)
{
	if (!w)
		return;
	free(w->kv.p);
	free(w->ti.p);
	free(w->data.p);
	free(w);
}

static void key(gguf_w *w, const char *k, uint32_t type)
{
	put_str(&w->kv, k, strlen(k));
	put_u32(&w->kv, type);
	w->n_kv++;
}

void gguf_w_raw_kv(gguf_w *w, const void *bytes, size_t n)
{
	put(&w->kv, bytes, n);
	w->n_kv++;
}

void gguf_w_str(gguf_w *w, const char *k, const char *v)
{
	key(w, k, 8);
	put_str(&w->kv, v, strlen(v));
}

void gguf_w_u32(gguf_w *w, const char *k, uint32_t v)
{
	key(w, k, 4);
	put_u32(&w->kv, v);
}

void gguf_w_i32(gguf_w *w, const char *k, int32_t v)
{
	key(w, k, 5);
	put_u32(&w->kv, (uint32_t)v);
}

void gguf_w_f32(gguf_w *w, const char *k, float v)
{
	uint32_t b;
	memcpy(&b, &v, 4);
	key(w, k, 6);
	put_u32(&w->kv, b);
}

void gguf_w_bool(gguf_w *w, const char *k, int v)
{
	uint8_t b = v ? 1 : 0;
	key(w, k, 7);
	put(&w->kv, &b, 1);
}

void gguf_w_str_arr(gguf_w *w, const char *k, const char *const *s, const uint32_t *lens, uint64_t n)
{
	key(w, k, 9);
	put_u32(&w->kv, 8);
	put_u64(&w->kv, n);
	for (uint64_t i = 0; i < n; i++)
		put_str(&w->kv, s[i], lens ? lens[i] : strlen(s[i]));
}

void gguf_w_i32_arr(gguf_w *w, const char *k, const int32_t *v, uint64_t n)
{
	key(w, k, 9);
	put_u32(&w->kv, 5);
	put_u64(&w->kv, n);
	for (uint64_t i = 0; i < n; i++)
		put_u32(&w->kv, (uint32_t)v[i]);
}

int gguf_w_tensor(gguf_w *w, const char *name, int type, int n_dims, const int64_t *ne,
                  const void *data)
{
	int64_t nelem = 1;
	for (int d = 0; d < n_dims; d++)
		nelem *= ne[d];
	int64_t rb = llm_type_row_bytes(type, ne[0]);
	if (rb < 0)
		return -1;
	size_t nbytes = (size_t)(nelem / ne[0]) * (size_t)rb;
	static const uint8_t zero[32];
	put(&w->data, zero, (32 - w->data.n % 32) % 32);
	put_str(&w->ti, name, strlen(name));
	put_u32(&w->ti, (uint32_t)n_dims);
	for (int d = 0; d < n_dims; d++)
		put_u64(&w->ti, (uint64_t)ne[d]);
	put_u32(&w->ti, (uint32_t)type);
	put_u64(&w->ti, w->data.n);
	put(&w->data, data, nbytes);
	w->n_t++;
	return w->data.oom ? -1 : 0;
}

int gguf_w_to_mem(gguf_w *w, uint8_t **out, size_t *len)
{
	buf b = {0};
	put_u32(&b, 0x46554747u);
	put_u32(&b, 3);
	put_u64(&b, w->n_t);
	put_u64(&b, w->n_kv);
	put(&b, w->kv.p, w->kv.n);
	put(&b, w->ti.p, w->ti.n);
	static const uint8_t zero[32];
	put(&b, zero, (32 - b.n % 32) % 32);
	put(&b, w->data.p, w->data.n);
	if (b.oom || w->kv.oom || w->ti.oom || w->data.oom) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.n;
	return 0;
}

int gguf_w_write(gguf_w *w, const char *path, char *err, size_t errlen)
{
	uint8_t *p;
	size_t n;
	if (gguf_w_to_mem(w, &p, &n) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	FILE *f = fopen(path, "wb");
	int rc = -1;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else if (fwrite(p, 1, n, f) != n) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
		fclose(f);
	} else if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: close: %s", path, strerror(errno));
	} else {
		rc = 0;
	}
	free(p);
	return rc;
}
