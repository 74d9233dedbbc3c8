/* supervisor/config.c — see config.h for the file format. */
#include "supervisor/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cfg_item { char *key, *value; } cfg_item;

struct vigil_config {
	cfg_item *items;
	size_t n, cap;
};

static char *trim(char *s)
{
	while (isspace((unsigned char)*s)) s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
	return s;
}

static int add_item(vigil_config *cfg, const char *k, const char *v)
{
	if (cfg->n == cfg->cap) {
		size_t nc = cfg->cap ? cfg->cap * 2 : 16;
		cfg_item *ni = realloc(cfg->items, nc * sizeof *ni);
		if (!ni) return -1;
		cfg->items = ni;
		cfg->cap = nc;
	}
	char *kk = strdup(k), *vv = strdup(v);
	if (!kk || !vv) { free(kk); free(vv); return -1; }
	cfg->items[cfg->n].key = kk;
	cfg->items[cfg->n].value = vv;
	cfg->n++;
	return 0;
}

static int valid_key(const char *k)
{
	if (!*k) return 0;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.' && *k != '-') return 0;
	return 1;
}

/* Caller frees the result with cfg_free(). */
vigil_config *cfg_load(const char *file, char *err, size_t errlen)
{
	vigil_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg) { snprintf(err, errlen, "out of memory"); return NULL; }
	if (!file) return cfg;
	FILE *f = fopen(file, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open config file: %s", file, strerror(errno));
		goto fail;
	}
	char line[8192];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line longer than %zu bytes", file, lineno, sizeof line - 2);
			goto fail_close;
		}
		char *s = trim(line);
		if (!*s || *s == '#') continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected \"key = value\"", file, lineno);
			goto fail_close;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		if (!valid_key(k)) {
			snprintf(err, errlen, "%s:%d: invalid key \"%s\" (letters, digits, '.', '_', '-')", file, lineno, k);
			goto fail_close;
		}
		size_t vl = strlen(v);
		if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') { v[vl - 1] = '\0'; v++; }
		if (add_item(cfg, k, v)) { snprintf(err, errlen, "out of memory"); goto fail_close; }
	}
	fclose(f);
	return cfg;
fail_close:
	fclose(f);
fail:
	cfg_free(cfg);
	return NULL;
}

void cfg_free(vigil_config *cfg)
{
	if (!cfg) return;
	for (size_t i = 0; i < cfg->n; i++) { free(cfg->items[i].key); free(cfg->items[i].value); }
	free(cfg->items);
	free(cfg);
}

const char *cfg_get(const vigil_config *cfg, const char *key)
{
	if (!cfg) return NULL;
	for (size_t i = cfg->n; i-- > 0;)
		if (!strcmp(cfg->items[i].key, key)) return cfg->items[i].value;
	return NULL;
}

const char *cfg_get_nth(const vigil_config *cfg, const char *key, size_t nth)
{
	if (!cfg) return NULL;
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->items[i].key, key) && nth-- == 0) return cfg->items[i].value;
	return NULL;
}

int cfg_set(vigil_config *cfg, const char *key, const char *value)
{
	size_t w = 0;
	for (size_t i = 0; i < cfg->n; i++) {
		if (!strcmp(cfg->items[i].key, key)) {
			free(cfg->items[i].key);
			free(cfg->items[i].value);
			continue;
		}
		cfg->items[w++] = cfg->items[i];
	}
	cfg->n = w;
	return add_item(cfg, key, value);
}
