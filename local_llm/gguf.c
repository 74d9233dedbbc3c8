/* local_llm/gguf.c — GGUF v3 reader.
 *
 * Layout (little-endian):
 *   u32 magic "GGUF", u32 version (3), u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 type, value },
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
 *   padding to general.alignment (default 32), tensor data.
 *   string = u64 length + bytes; array = u32 elem type + u64 n + elements.
 *
 * A cursor walks the buffer; each read checks that the bytes exist.  The
 * first failure records "offset N: FIELD: what" and every later read fails. */
#include "local_llm/gguf.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct cursor {
	const uint8_t *buf;
	size_t size, pos;
	int failed;
	char *err;
	size_t errlen;
} cursor;

static void cfail(cursor *c, size_t at, const char *field, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = 1;
	int n = snprintf(c->err, c->errlen, "offset %zu: %s: ", at, field);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int need(cursor *c, size_t n, const char *field)
{
	if (c->failed)
		return 0;
	if (n > c->size - c->pos) {
		cfail(c, c->pos, field, "needs %zu bytes, file has %zu left (truncated?)", n,
		      c->size - c->pos);
		return 0;
	}
	return 1;
}

static uint64_t rd_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t rd(cursor *c, int n, const char *field)
{
	if (!need(c, (size_t)n, field))
		return 0;
	uint64_t v = rd_le(c->buf + c->pos, n);
	c->pos += (size_t)n;
	return v;
}

static gguf_str rd_str(cursor *c, uint64_t max, const char *field)
{
	gguf_str s = {NULL, 0};
	size_t at = c->pos;
	uint64_t len = rd(c, 8, field);
	if (c->failed)
		return s;
	if (len > max) {
		cfail(c, at, field, "string length %llu exceeds the limit %llu",
		      (unsigned long long)len, (unsigned long long)max);
		return s;
	}
	if (!need(c, (size_t)len, field))
		return s;
	s.p = (const char *)c->buf + c->pos;
	s.len = (uint32_t)len;
	c->pos += (size_t)len;
	return s;
}

static const int scalar_size[GGUF_T_COUNT] = {
	[GGUF_T_U8] = 1, [GGUF_T_I8] = 1, [GGUF_T_U16] = 2, [GGUF_T_I16] = 2,
	[GGUF_T_U32] = 4, [GGUF_T_I32] = 4, [GGUF_T_F32] = 4, [GGUF_T_BOOL] = 1,
	[GGUF_T_U64] = 8, [GGUF_T_I64] = 8, [GGUF_T_F64] = 8,
};

/* Reads one scalar of type t (not string/array) into kv->v. */
static void rd_scalar(cursor *c, int t, gguf_kv *kv, const char *field)
{
	size_t at = c->pos;
	uint64_t raw = rd(c, scalar_size[t], field);
	if (c->failed)
		return;
	switch (t) {
	case GGUF_T_I8: kv->v.i = (int8_t)raw; break;
	case GGUF_T_I16: kv->v.i = (int16_t)raw; break;
	case GGUF_T_I32: kv->v.i = (int32_t)raw; break;
	case GGUF_T_I64: kv->v.i = (int64_t)raw; break;
	case GGUF_T_F32: {
		uint32_t b = (uint32_t)raw;
		float f;
		memcpy(&f, &b, 4);
		kv->v.f = f;
		break;
	}
	case GGUF_T_F64: memcpy(&kv->v.f, &raw, 8); break;
	case GGUF_T_BOOL:
		if (raw > 1)
			cfail(c, at, field, "bool value %llu is not 0 or 1", (unsigned long long)raw);
		kv->v.u = raw;
		break;
	default: kv->v.u = raw;
	}
}

static void rd_value(cursor *c, gguf_kv *kv, const char *key)
{
	size_t at = c->pos;
	uint32_t t = (uint32_t)rd(c, 4, key);
	if (c->failed)
		return;
	if (t >= GGUF_T_COUNT) {
		cfail(c, at, key, "unknown value type %u", t);
		return;
	}
	kv->type = (int)t;
	if (t == GGUF_T_STRING) {
		kv->v.s = rd_str(c, GGUF_MAX_STRING, key);
		return;
	}
	if (t != GGUF_T_ARRAY) {
		rd_scalar(c, (int)t, kv, key);
		return;
	}
	at = c->pos;
	uint32_t et = (uint32_t)rd(c, 4, key);
	uint64_t n = rd(c, 8, key);
	if (c->failed)
		return;
	if (et >= GGUF_T_COUNT || et == GGUF_T_ARRAY) {
		cfail(c, at, key, et == GGUF_T_ARRAY ? "nested arrays are not supported"
		                                     : "unknown array element type %u", et);
		return;
	}
	if (n > GGUF_MAX_ARRAY) {
		cfail(c, at, key, "array of %llu elements exceeds the limit %u",
		      (unsigned long long)n, GGUF_MAX_ARRAY);
		return;
	}
	kv->arr_type = (int)et;
	kv->arr_n = n;
	kv->arr = c->buf + c->pos;
	if (et != GGUF_T_STRING) {
		if (!need(c, (size_t)n * (size_t)scalar_size[et], key))
			return;
		if (et == GGUF_T_BOOL)
			for (uint64_t i = 0; i < n; i++)
				if (c->buf[c->pos + i] > 1) {
					cfail(c, c->pos + i, key, "bool element %llu is not 0 or 1",
					      (unsigned long long)i);
					return;
				}
		c->pos += (size_t)n * (size_t)scalar_size[et];
		return;
	}
	/* strings: each at least 8 bytes, so n cannot exceed what is left */
	if (n > (c->size - c->pos) / 8) {
		cfail(c, at, key, "array of %llu strings cannot fit in the %zu bytes left",
		      (unsigned long long)n, c->size - c->pos);
		return;
	}
	kv->arr_str = calloc(n ? n : 1, sizeof(gguf_str));
	if (!kv->arr_str) {
		cfail(c, at, key, "out of memory for %llu strings", (unsigned long long)n);
		return;
	}
	for (uint64_t i = 0; i < n && !c->failed; i++)
		kv->arr_str[i] = rd_str(c, GGUF_MAX_STRING, key);
}

static int cmp_by_offset(const void *a, const void *b)
{
	const llm_tensor *x = *(const llm_tensor *const *)a, *y = *(const llm_tensor *const *)b;
	uintptr_t px = (uintptr_t)x->data, py = (uintptr_t)y->data;
	return px < py ? -1 : px > py;
}

static int cmp_name(const void *a, const void *b, void *offp)
{
	size_t off = *(const size_t *)offp;
	const char *x = *(char *const *)((const char *)*(const void *const *)a + off);
	const char *y = *(char *const *)((const char *)*(const void *const *)b + off);
	return strcmp(x, y);
}

/* Finds two elements (of n, each `size` bytes, with a char* at `off`) that
 * share a name: O(n log n).  Returns 1 and *dup = one of them, 0 if none. */
static int first_duplicate(const void *arr, uint32_t n, size_t size, size_t off, const void **dup)
{
	if (n < 2)
		return 0;
	const void **v = malloc(n * sizeof *v);
	if (!v)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		v[i] = (const char *)arr + (size_t)i * size;
	qsort_r(v, n, sizeof *v, cmp_name, &off);
	int found = 0;
	for (uint32_t i = 1; i < n && !found; i++)
		if (!cmp_name(&v[i - 1], &v[i], &off)) {
			*dup = v[i];
			found = 1;
		}
	free(v);
	return found;
}

static int has_nul(const char *p, uint32_t n)
{
	return memchr(p, 0, n) != NULL;
}

int gguf_parse(const void *buf, size_t size, gguf_file *f, char *err, size_t errlen)
{
	cursor c = {.buf = buf, .size = size, .err = err, .errlen = errlen};
	llm_tensor **order = NULL;
	uint64_t *offs = NULL;
	const void *dup = NULL;
	int rc = -1;
	memset(f, 0, sizeof *f);
	f->buf = buf;
	f->size = size;
	if (errlen)
		err[0] = 0;

	uint32_t magic = (uint32_t)rd(&c, 4, "magic");
	if (!c.failed && magic != 0x46554747u) {	/* "GGUF" */
		cfail(&c, 0, "magic", "not a GGUF file (expected \"GGUF\")");
		goto out;
	}
	f->version = (uint32_t)rd(&c, 4, "version");
	if (!c.failed && f->version != 3) {
		cfail(&c, 4, "version", "GGUF version %u is not supported (need 3)", f->version);
		goto out;
	}
	uint64_t nt = rd(&c, 8, "tensor_count"), nkv = rd(&c, 8, "kv_count");
	if (c.failed)
		goto out;
	if (nt > GGUF_MAX_TENSORS) {
		cfail(&c, 8, "tensor_count", "%llu tensors exceeds the limit %u",
		      (unsigned long long)nt, GGUF_MAX_TENSORS);
		goto out;
	}
	if (nkv > GGUF_MAX_KV) {
		cfail(&c, 16, "kv_count", "%llu metadata entries exceeds the limit %u",
		      (unsigned long long)nkv, GGUF_MAX_KV);
		goto out;
	}
	f->kv = calloc(nkv ? nkv : 1, sizeof *f->kv);
	f->tensors = calloc(nt ? nt : 1, sizeof *f->tensors);
	offs = calloc(nt ? nt : 1, sizeof *offs);
	if (!f->kv || !f->tensors || !offs) {
		cfail(&c, 0, "header", "out of memory");
		goto out;
	}

	/* metadata */
	f->alignment = 32;
	for (uint64_t i = 0; i < nkv; i++) {
		gguf_kv *kv = &f->kv[i];
		kv->offset = c.pos;
		gguf_str key = rd_str(&c, GGUF_MAX_KEY, "metadata key");
		if (c.failed)
			goto out;
		if (key.len == 0 || has_nul(key.p, key.len)) {
			cfail(&c, kv->offset, "metadata key", "empty key or key with a NUL byte");
			goto out;
		}
		kv->key = strndup(key.p, key.len);
		if (!kv->key) {
			cfail(&c, kv->offset, "metadata key", "out of memory");
			goto out;
		}
		f->n_kv = (uint32_t)(i + 1);
		rd_value(&c, kv, kv->key);
		if (c.failed)
			goto out;
		kv->end = c.pos;
		if (!strcmp(kv->key, "general.alignment")) {
			if (kv->type != GGUF_T_U32 || kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)) ||
			    kv->v.u > 65536) {
				cfail(&c, kv->offset, kv->key,
				      "must be a u32 power of two between 1 and 65536");
				goto out;
			}
			f->alignment = kv->v.u;
		}
	}

	if (first_duplicate(f->kv, f->n_kv, sizeof *f->kv, offsetof(gguf_kv, key), &dup)) {
		cfail(&c, ((const gguf_kv *)dup)->offset, ((const gguf_kv *)dup)->key,
		      "duplicate metadata key");
		goto out;
	}

	/* tensor infos */
	for (uint64_t i = 0; i < nt; i++) {
		llm_tensor *t = &f->tensors[i];
		size_t at = c.pos;
		gguf_str name = rd_str(&c, GGUF_MAX_NAME, "tensor name");
		if (c.failed)
			goto out;
		if (name.len == 0 || has_nul(name.p, name.len)) {
			cfail(&c, at, "tensor name", "empty name or name with a NUL byte");
			goto out;
		}
		t->name = strndup(name.p, name.len);
		if (!t->name) {
			cfail(&c, at, "tensor name", "out of memory");
			goto out;
		}
		f->n_tensors = (uint32_t)(i + 1);
		size_t at_dims = c.pos;
		uint32_t nd = (uint32_t)rd(&c, 4, t->name);
		if (c.failed)
			goto out;
		if (nd < 1 || nd > 4) {
			cfail(&c, at_dims, t->name, "n_dims %u is not in 1..4", nd);
			goto out;
		}
		t->n_dims = (int)nd;
		uint64_t nelem = 1;
		for (int d = 0; d < 4; d++)
			t->ne[d] = 1;
		for (uint32_t d = 0; d < nd; d++) {
			size_t at_d = c.pos;
			uint64_t ne = rd(&c, 8, t->name);
			if (c.failed)
				goto out;
			if (ne == 0 || ne > ((uint64_t)1 << 40) || nelem > ((uint64_t)1 << 48) / ne) {
				cfail(&c, at_d, t->name, "dimension %u = %llu is zero or too large", d,
				      (unsigned long long)ne);
				goto out;
			}
			t->ne[d] = (int64_t)ne;
			nelem *= ne;
		}
		size_t at_type = c.pos;
		uint32_t type = (uint32_t)rd(&c, 4, t->name);
		offs[i] = rd(&c, 8, t->name);
		if (c.failed)
			goto out;
		if (!llm_type_name((int)type)) {
			cfail(&c, at_type, t->name, "unknown tensor type %u", type);
			goto out;
		}
		t->type = (int)type;
		int64_t be = llm_type_block_elems((int)type);
		if (t->ne[0] % be) {
			cfail(&c, at_type, t->name, "row length %lld is not a multiple of %s's block (%lld)",
			      (long long)t->ne[0], llm_type_name((int)type), (long long)be);
			goto out;
		}
		t->nbytes = nelem / (uint64_t)be * (uint64_t)llm_type_block_bytes((int)type);
		if (offs[i] % f->alignment) {
			cfail(&c, at_type + 4, t->name, "data offset %llu is not a multiple of the alignment %llu",
			      (unsigned long long)offs[i], (unsigned long long)f->alignment);
			goto out;
		}
	}

	if (first_duplicate(f->tensors, f->n_tensors, sizeof *f->tensors,
	                    offsetof(llm_tensor, name), &dup)) {
		cfail(&c, c.pos, ((const llm_tensor *)dup)->name, "duplicate tensor name");
		goto out;
	}

	/* data section */
	uint64_t data = (c.pos + f->alignment - 1) / f->alignment * f->alignment;
	if (data > size) {
		if (nt)
			cfail(&c, c.pos, "tensor data", "file ends before the data section");
		data = size;
	}
	f->data_offset = data;
	for (uint64_t i = 0; i < nt; i++) {
		llm_tensor *t = &f->tensors[i];
		if (offs[i] > size - data || t->nbytes > size - data - offs[i]) {
			cfail(&c, (size_t)data, t->name,
			      "data [%llu, +%llu) lies outside the %llu bytes of tensor data",
			      (unsigned long long)offs[i], (unsigned long long)t->nbytes,
			      (unsigned long long)(size - data));
			goto out;
		}
		t->data = (const uint8_t *)buf + data + offs[i];
	}
	if (nt > 1) {
		order = malloc(nt * sizeof *order);
		if (!order) {
			cfail(&c, 0, "tensor data", "out of memory");
			goto out;
		}
		for (uint64_t i = 0; i < nt; i++)
			order[i] = &f->tensors[i];
		qsort(order, nt, sizeof *order, cmp_by_offset);
		for (uint64_t i = 1; i < nt; i++) {
			const llm_tensor *a = order[i - 1], *b = order[i];
			if ((const uint8_t *)a->data + a->nbytes > (const uint8_t *)b->data) {
				cfail(&c, (size_t)((const uint8_t *)b->data - (const uint8_t *)buf), b->name,
				      "data overlaps tensor %s", a->name);
				goto out;
			}
		}
	}
	int64_t split = 0;
	if (gguf_get_int(f, "split.count", &split) == 0 && split > 1) {
		cfail(&c, 0, "split.count", "split GGUF files (%lld parts) are not supported; "
		      "merge them into one file first", (long long)split);
		goto out;
	}
	rc = c.failed ? -1 : 0;
out:
	free(order);
	free(offs);
	if (rc)
		gguf_close(f);
	return rc;
}

/* Recognises "...-00001-of-00003.gguf". */
static int is_split_name(const char *path)
{
	const char *p = strstr(path, "-of-");
	if (!p || p - path < 6)
		return 0;
	for (int i = 1; i <= 5; i++)
		if (p[-i] < '0' || p[-i] > '9')
			return 0;
	if (p[-6] != '-')
		return 0;
	for (int i = 4; i < 9; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return strcmp(p + 9, ".gguf") == 0 && strcmp(p + 4, "00001.gguf") != 0;
}

int gguf_open(const char *path, gguf_file *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	if (is_split_name(path)) {
		snprintf(err, errlen, "%s: split GGUF files are not supported; merge the parts "
		         "into one file first (llama-gguf-split --merge)", path);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (size && map == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	char msg[400];
	static const uint8_t empty[1];
	if (gguf_parse(map ? map : empty, size, f, msg, sizeof msg) < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		if (map)
			munmap(map, size);
		return -1;
	}
	f->map = map;
	return 0;
}

void gguf_close(gguf_file *f)
{
	for (uint32_t i = 0; i < f->n_kv; i++) {
		free(f->kv[i].key);
		free(f->kv[i].arr_str);
	}
	for (uint32_t i = 0; i < f->n_tensors; i++)
		free((char *)f->tensors[i].name);
	free(f->kv);
	free(f->tensors);
	if (f->map)
		munmap(f->map, f->size);
	memset(f, 0, sizeof *f);
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
	for (uint32_t i = 0; i < f->n_kv; i++)
		if (!strcmp(f->kv[i].key, key))
			return &f->kv[i];
	return NULL;
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out)
{
	const gguf_kv *kv = gguf_find(f, key);
	if (!kv)
		return -1;
	switch (kv->type) {
	case GGUF_T_U8: case GGUF_T_U16: case GGUF_T_U32: case GGUF_T_BOOL:
		*out = (int64_t)kv->v.u;
		return 0;
	case GGUF_T_U64:
		if (kv->v.u > INT64_MAX)
			return -2;
		*out = (int64_t)kv->v.u;
		return 0;
	case GGUF_T_I8: case GGUF_T_I16: case GGUF_T_I32: case GGUF_T_I64:
		*out = kv->v.i;
		return 0;
	}
	return -2;
}

int gguf_get_float(const gguf_file *f, const char *key, double *out)
{
	const gguf_kv *kv = gguf_find(f, key);
	if (!kv)
		return -1;
	if (kv->type == GGUF_T_F32 || kv->type == GGUF_T_F64) {
		*out = kv->v.f;
		return 0;
	}
	int64_t i;
	if (gguf_get_int(f, key, &i) == 0) {
		*out = (double)i;
		return 0;
	}
	return -2;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
	const gguf_kv *kv = gguf_find(f, key);
	if (!kv || kv->type != GGUF_T_STRING)
		return -1;
	*out = kv->v.s;
	return 0;
}

const llm_tensor *gguf_tensor(const gguf_file *f, const char *name)
{
	for (uint32_t i = 0; i < f->n_tensors; i++)
		if (!strcmp(f->tensors[i].name, name))
			return &f->tensors[i];
	return NULL;
}
