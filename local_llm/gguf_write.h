/* local_llm/gguf_write.h — GGUF v3 writer (mkmodel, convert, tests; not a
 * public API).  Values are copied in; call order = file order. */
#ifndef VIGIL_LLM_GGUF_WRITE_H
#define VIGIL_LLM_GGUF_WRITE_H

#include "local_llm/llm_internal.h"
#include <stddef.h>
#include <stdint.h>

typedef struct gguf_w gguf_w;

gguf_w *gguf_w_new(void);               /* NULL when out of memory; free with gguf_w_free */
void gguf_w_free(gguf_w *w);

void gguf_w_str(gguf_w *w, const char *key, const char *v);
void gguf_w_u32(gguf_w *w, const char *key, uint32_t v);
void gguf_w_i32(gguf_w *w, const char *key, int32_t v);
void gguf_w_f32(gguf_w *w, const char *key, float v);
void gguf_w_bool(gguf_w *w, const char *key, int v);
/* One whole key/value entry copied from another GGUF file (bytes from
 * gguf_kv.offset to gguf_kv.end). */
void gguf_w_raw_kv(gguf_w *w, const void *bytes, size_t n);
/* lens may be NULL (NUL-terminated strings). */
void gguf_w_str_arr(gguf_w *w, const char *key, const char *const *s, const uint32_t *lens, uint64_t n);
void gguf_w_i32_arr(gguf_w *w, const char *key, const int32_t *v, uint64_t n);
/* data: llm_type_row_bytes(type, ne[0]) * (rows) bytes, already in `type`. */
int gguf_w_tensor(gguf_w *w, const char *name, int type, int n_dims, const int64_t *ne, const void *data);

/* The whole file: *out malloc'd (caller frees).  0 or -1 (out of memory). */
int gguf_w_to_mem(gguf_w *w, uint8_t **out, size_t *len);
int gguf_w_write(gguf_w *w, const char *path, char *err, size_t errlen);

#endif
