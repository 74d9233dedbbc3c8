/* libFuzzer target: the config file reader; a refusal must come with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "supervisor/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0]) snprintf(path, sizeof path, "/tmp/vigil-fuzz-config-%d", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f) return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	char err[512] = "";
	vigil_config *c = cfg_load(path, err, sizeof err);
	if (!c && !err[0]) abort();   /* a refusal always says what and where */
	if (c) {
		cfg_get(c, "listen");
		cfg_get_nth(c, "validator.ping_patterns", 1);
		cfg_set(c, "listen", "127.0.0.1:1");
		cfg_free(c);
	}
	return 0;
}
