/* libFuzzer target: the ping URL parser and the duration parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "supervisor/cli.h"
#include "supervisor/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s) return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	server_ping_path p;
	const char *why = NULL;
	int st = server_parse_ping(s, "0123456789abcdef0123456789abcdef", &p, &why);
	if (st == 0) {
		if (!reg_slug_valid(p.slug)) abort();
		if (p.kind == REG_PING_EXIT && (p.exit_status < 0 || p.exit_status > 255)) abort();
	} else if (!why || (st != 400 && st != 404)) {
		abort();
	}
	long long secs;
	if (vigil_parse_duration(s, &secs, &why) == 0 && (secs < 0 || secs > 10LL * 365 * 86400)) abort();
	free(s);
	return 0;
}
