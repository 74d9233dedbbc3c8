/* cli_jobs.c — placeholder until its issue lands; replaced by the real implementation. */
#include "supervisor/cli.h"
#include <stdio.h>

int cli_serve(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}

int cli_ping(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}

int cli_run(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}

int cli_check(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}

int cli_status(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}

int cli_key(int argc, char **argv, vigil_global *g)
{
	fprintf(stderr, "vigil: %s: not implemented yet\n", argv[0]);
	return VIGIL_EXIT_INTERNAL;
}
