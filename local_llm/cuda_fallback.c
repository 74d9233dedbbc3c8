/* local_llm/cuda_fallback.c — in a CUDA build (VIGIL_CUDA) whose kernels/
 * does not define the CUDA backend (yet), this weak definition keeps the
 * engine linkable: asking for CUDA fails with a message and `auto` falls back
 * to the CPU.  kernels/' own llm_cuda_backend_create() overrides it. */
#ifdef VIGIL_CUDA
#include "local_llm/llm_internal.h"
#include <stdio.h>

__attribute__((weak)) int llm_cuda_backend_create(const llm_config *cfg, const llm_weights *w, int n_ctx,
                                                  llm_backend_ops *ops, void **ctx, char *err,
                                                  size_t errlen)
{
	(void)cfg;
	(void)w;
	(void)n_ctx;
	(void)ops;
	*ctx = NULL;
	snprintf(err, errlen, "cuda backend: this build's kernels/ provides no CUDA backend");
	return -1;
}
#else
typedef int vigil_cuda_fallback_unused;
#endif
