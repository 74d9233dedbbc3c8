/* local_llm/gguf.h — GGUF v3 reader (inside local_llm; not a public API).
 *
 * The file is mapped read-only and parsed in one pass; every count, length,
 * offset, dimension and type is checked against the file size and the limits
 * below before it is used.  After gguf_parse() succeeds, every pointer in the
 * structure points inside the buffer and every size is known to fit. */
#ifndef VIGIL_LLM_GGUF_H
#define VIGIL_LLM_GGUF_H

#include "local_llm/llm_internal.h"
#include <stddef.h>
#include <stdint.h>

enum {
	GGUF_T_U8 = 0, GGUF_T_I8, GGUF_T_U16, GGUF_T_I16, GGUF_T_U32, GGUF_T_I32,
	GGUF_T_F32, GGUF_T_BOOL, GGUF_T_STRING, GGUF_T_ARRAY, GGUF_T_U64, GGUF_T_I64,
	GGUF_T_F64, GGUF_T_COUNT
};

#define GGUF_MAX_KV       (1u << 16)
#define GGUF_MAX_TENSORS  (1u << 16)
#define GGUF_MAX_ARRAY    (1u << 24)   /* elements in one metadata array */
#define GGUF_MAX_NAME     256          /* bytes of a tensor name */
#define GGUF_MAX_KEY      1024         /* bytes of a metadata key */
#define GGUF_MAX_STRING   (1u << 24)   /* bytes of one string value */

typedef struct gguf_str {
	const char *p;          /* into the buffer, not NUL-terminated */
	uint32_t len;
} gguf_str;

typedef struct gguf_kv {
	char *key;              /* NUL-terminated copy */
	int type;               /* GGUF_T_* */
	int arr_type;           /* element type when type == GGUF_T_ARRAY */
	uint64_t arr_n;         /* elements in the array */
	const uint8_t *arr;     /* first element (fixed-size types) */
	gguf_str *arr_str;      /* [arr_n] when arr_type == GGUF_T_STRING (owned) */
	union { uint64_t u; int64_t i; double f; gguf_str s; } v;   /* scalars */
	uint64_t offset;        /* byte offset of the key in the file */
	uint64_t end;           /* byte offset just past the value */
} gguf_kv;

typedef struct gguf_file {
	const uint8_t *buf;     /* the whole file */
	size_t size;
	void *map;              /* mmap base, NULL when parsing a caller's buffer */
	uint32_t version;
	uint32_t n_kv, n_tensors;
	gguf_kv *kv;            /* [n_kv] */
	llm_tensor *tensors;    /* [n_tensors], names owned */
	uint64_t alignment;
	uint64_t data_offset;   /* start of the tensor data section */
} gguf_file;

/* Maps path and parses it.  Returns 0, or -1 with err filled ("FILE: offset
 * N: FIELD: what").  Refuses split files.  gguf_close() releases. */
int gguf_open(const char *path, gguf_file *f, char *err, size_t errlen);
/* Parses a caller-owned buffer (kept alive by the caller). */
int gguf_parse(const void *buf, size_t size, gguf_file *f, char *err, size_t errlen);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
/* Integer (any integer or bool type) into *out; returns 0, -1 absent, -2 wrong type/range. */
int gguf_get_int(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_float(const gguf_file *f, const char *key, double *out);
/* String value; returns 0 or -1 absent/wrong type. */
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
const llm_tensor *gguf_tensor(const gguf_file *f, const char *name);

#endif
