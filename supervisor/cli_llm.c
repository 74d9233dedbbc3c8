/* supervisor/cli_llm.c — `vigil llm ...`: the model engine's commands
 * (local_llm/llm_cmd.c) plus `convert`, which needs cJSON and so lives here. */
#include "supervisor/cli.h"
#include "local_llm/llm.h"

#include <stdio.h>
#include <string.h>

int cli_llm_convert(int argc, char **argv);

int cli_llm(int argc, char **argv, vigil_global *g)
{
	(void)g;
	if (argc >= 2 && !strcmp(argv[1], "convert"))
		return cli_llm_convert(argc - 1, argv + 1);
	return llm_cmd(argc - 1, argv + 1, "vigil llm");
}

int cli_llm_convert(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "vigil llm convert: not implemented yet\n");
	return VIGIL_EXIT_INTERNAL;
}
