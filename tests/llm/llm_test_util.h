/* tests/llm/llm_test_util.h — helpers shared by the tests of local_llm
 * (header-only: each test program includes it once). */
#ifndef VIGIL_LLM_TEST_UTIL_H
#define VIGIL_LLM_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $VIGIL_ROOT or "." */
static const char *tu_root(void)
{
	const char *r = getenv("VIGIL_ROOT");
	return r && *r ? r : ".";
}

/* Reads a whole file (NUL-terminated); NULL if absent.  Caller frees. */
static char *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		if (len)
			*len = (size_t)n;
	}
	return b;
}

static cJSON *tu_json(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/llm/fixtures/%s", tu_root(), rel);
	char *s = tu_read(path, NULL);
	if (!s)
		return NULL;
	cJSON *j = cJSON_Parse(s);
	free(s);
	return j;
}

/* Hex string -> bytes (caller frees). */
static unsigned char *tu_unhex(const char *h, size_t *n)
{
	size_t l = strlen(h) / 2;
	unsigned char *b = malloc(l + 1);
	for (size_t i = 0; i < l; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		b[i] = (unsigned char)v;
	}
	b[l] = 0;
	*n = l;
	return b;
}

/* A fresh temporary file name (caller unlinks). */
static void tu_tmpname(char *buf, size_t n, const char *suffix)
{
	static int k;
	snprintf(buf, n, "/tmp/vigil-llm-test-%d-%d%s", (int)getpid(), k++, suffix);
}

#endif
