/* kernels/cuda_stub.c — the CUDA backend's entry point in a build without
 * CUDA (no VIGIL_CUDA): it always refuses, so `--backend cuda` fails with a
 * clear message and `auto` falls back to the CPU. */
#ifndef VIGIL_CUDA
#include "local_llm/llm_internal.h"
#include <stdio.h>

int llm_cuda_backend_create(const llm_config *cfg, const llm_weights *w, int n_ctx,
                            llm_backend_ops *ops, void **ctx, char *err, size_t errlen)
{
	(void)cfg; (void)w; (void)n_ctx; (void)ops;
	*ctx = NULL;
	snprintf(err, errlen, "cuda backend: built without CUDA (rebuild with nvcc present or CUDA=1)");
	return -1;
}
#else
typedef int vigil_cuda_stub_unused;
#endif
