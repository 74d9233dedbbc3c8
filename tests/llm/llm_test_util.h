/* tests/llm/llm_test_util.h — helpers shared by the tests of local_llm
 * (header-only: each test program includes it once). */
#ifndef VIGIL_LLM_TEST_UTIL_H
#define VIGIL_LLM_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $VIGIL_ROOT or "." */
static inline const char *tu_root(void)
{
	const char *r = getenv("VIGIL_ROOT");
	return r && *r ? r : ".";
}

/* Reads a whole file (NUL-terminated); NULL if absent.  Caller frees. */
static inline char *tu_read(const char *path, size_t *len)
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

static inline cJSON *tu_json(const char *rel)
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
static inline unsigned char *tu_unhex(const char *h, size_t *n)
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
static inline void tu_tmpname(char *buf, size_t n, const char *suffix)
{
	static int k;
	snprintf(buf, n, "/tmp/vigil-llm-test-%d-%d%s", (int)getpid(), k++, suffix);
}

#endif

/* ---- comparing logits with a fixture (needs local_llm/llm.h) ------------------- */
#ifdef VIGIL_LLM_H
typedef struct tu_cmp {
	double max_abs, max_rel;   /* over the fixture's top-k entries */
	int top1_agree, positions;
	int greedy_match, greedy_len; /* leading tokens equal, tokens compared */
} tu_cmp;

/* Runs every case of fixture j ({"cases":[{"ids","positions","topk",["greedy"]}]})
 * through m and accumulates the differences into *c.  Returns -1 on an
 * engine error. */
static inline int tu_compare(llm_model *m, cJSON *j, int max_greedy, tu_cmp *c)
{
	llm_info in;
	llm_get_info(m, &in);
	cJSON *cases = cJSON_GetObjectItem(j, "cases");
	for (cJSON *cs = cases ? cases->child : NULL; cs; cs = cs->next) {
		cJSON *ids = cJSON_GetObjectItem(cs, "ids");
		int n = cJSON_GetArraySize(ids);
		int32_t *t = malloc((size_t)(n + 256) * sizeof *t);
		float *lg = malloc((size_t)n * (size_t)in.n_vocab * sizeof *lg);
		for (int i = 0; i < n; i++)
			t[i] = cJSON_GetArrayItem(ids, i)->valueint;
		if (llm_eval(m, t, n, 0, 1, lg) < 0) {
			free(t);
			free(lg);
			return -1;
		}
		cJSON *pos = cJSON_GetObjectItem(cs, "positions"), *tk = cJSON_GetObjectItem(cs, "topk");
		for (int k = 0; k < cJSON_GetArraySize(pos); k++) {
			int p = cJSON_GetArrayItem(pos, k)->valueint;
			const float *l = lg + (size_t)p * in.n_vocab;
			cJSON *row = cJSON_GetArrayItem(tk, k);
			int best = 0;
			for (int v = 1; v < in.n_vocab; v++)
				if (l[v] > l[best])
					best = v;
			c->positions++;
			c->top1_agree += best == cJSON_GetArrayItem(cJSON_GetArrayItem(row, 0), 0)->valueint;
			for (cJSON *e = row->child; e; e = e->next) {
				int id = cJSON_GetArrayItem(e, 0)->valueint;
				double want = cJSON_GetArrayItem(e, 1)->valuedouble, d = fabs(l[id] - want);
				if (d > c->max_abs)
					c->max_abs = d;
				if (d / (fabs(want) + 1e-3) > c->max_rel)
					c->max_rel = d / (fabs(want) + 1e-3);
			}
		}
		cJSON *g = cJSON_GetObjectItem(cs, "greedy");
		if (g && max_greedy > 0) {
			int ng = cJSON_GetArraySize(g), pos0 = n, ok = 1;
			if (ng > max_greedy)
				ng = max_greedy;
			const float *l = lg + (size_t)(n - 1) * in.n_vocab;
			float *one = malloc((size_t)in.n_vocab * sizeof *one);
			c->greedy_len += ng;
			for (int i = 0; i < ng && ok; i++) {
				int best = 0;
				for (int v = 1; v < in.n_vocab; v++)
					if (l[v] > l[best])
						best = v;
				ok = best == cJSON_GetArrayItem(g, i)->valueint;
				if (!ok)
					break;
				c->greedy_match++;
				int32_t tok = best;
				if (i + 1 < ng && llm_eval(m, &tok, 1, pos0 + i, 0, one) < 0)
					break;
				l = one;
			}
			free(one);
		}
		free(t);
		free(lg);
	}
	return 0;
}
#endif
