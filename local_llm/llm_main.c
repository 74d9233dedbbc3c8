/* local_llm/llm_main.c — `vigil-llm`: the model engine alone (local_llm +
 * kernels; libc, libm, pthreads, PCRE2, CUDA runtime), for GPU boxes and
 * benchmarks.  Same sub-commands as `vigil llm`, without `convert`. */
#include "local_llm/llm.h"

int main(int argc, char **argv)
{
	return llm_cmd(argc - 1, argv + 1, "vigil-llm");
}
