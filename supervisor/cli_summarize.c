/* cli_summarize.c — placeholder until its issue lands; replaced by the real implementation. */
#include "supervisor/cli.h"
#include <stdio.h>

int cli_summarize(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}
