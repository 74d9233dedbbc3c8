/* validator/pingcall.c — finds the ping calls in a job's source.
 *
 * A ping call names a slug in one of these forms (comment lines, whose first
 * non-blank character is '#', are skipped):
 *   vigil ping SLUG ...        vigil run SLUG ...   (vigil may be a path, and
 *                              --db/--config FILE may come before the verb)
 *   .../ping/KEY/SLUG          (a healthchecks-style URL; KEY anything but '/')
 *   a configured helper pattern, literal text with one "{slug}" placeholder,
 *   e.g. health_run("{slug}").
 * SLUG may be quoted, or a $NAME / ${NAME} variable assigned in the same
 * text as NAME=value (the simple assignments a script makes). */
#include "validator/val_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct vars { char **name, **value; size_t n; } vars;

static int is_slug_ch(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
static int is_name_ch(int c) { return is_slug_ch(c) && c != '-'; }

static void vars_free(vars *v)
{
	val_strv_free(v->name, v->n);
	val_strv_free(v->value, v->n);
}

void val_strv_free(char **v, size_t n)
{
	if (!v) return;
	for (size_t i = 0; i < n; i++) free(v[i]);
	free(v);
}

static const char *vars_get(const vars *v, const char *name, size_t nlen)
{
	/* the last assignment wins */
	for (size_t i = v->n; i-- > 0;)
		if (strlen(v->name[i]) == nlen && !strncmp(v->name[i], name, nlen)) return v->value[i];
	return NULL;
}

/* Collects NAME=value / export NAME=value / NAME="value" at line starts. */
static void vars_collect(const char *t, size_t len, vars *v)
{
	const char *end = t + len, *p = t;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol) eol = end;
		const char *q = p;
		while (q < eol && (*q == ' ' || *q == '\t')) q++;
		if (eol - q > 7 && !strncmp(q, "export ", 7)) q += 7;
		else if (eol - q > 6 && !strncmp(q, "local ", 6)) q += 6;
		else if (eol - q > 9 && !strncmp(q, "readonly ", 9)) q += 9;
		const char *n0 = q;
		while (q < eol && is_name_ch((unsigned char)*q)) q++;
		if (q > n0 && q < eol && *q == '=' && !(*n0 >= '0' && *n0 <= '9')) {
			size_t nlen = (size_t)(q - n0);
			const char *v0 = ++q;
			char quote = 0;
			if (q < eol && (*q == '"' || *q == '\'')) { quote = *q; v0 = ++q; }
			const char *ref = NULL;   /* NAME=$OTHER / "${OTHER}" / ${1:?usage}: copy OTHER's value */
			size_t rlen = 0;
			if (q < eol && *q == '$' && quote != '\'') {
				const char *r = q + 1;
				if (r < eol && *r == '{') r++;
				const char *r0 = r;
				while (r < eol && is_name_ch((unsigned char)*r)) r++;
				if (r > r0) { ref = r0; rlen = (size_t)(r - r0); }
			}
			while (q < eol && (quote ? *q != quote : (is_slug_ch((unsigned char)*q) || *q == '.'))) q++;
			const char *rv = ref ? vars_get(v, ref, rlen) : NULL;
			char **nn = realloc(v->name, (v->n + 1) * sizeof *nn);
			if (nn) v->name = nn;
			char **nv = realloc(v->value, (v->n + 1) * sizeof *nv);
			if (nv) v->value = nv;
			if (nn && nv) {
				v->name[v->n] = strndup(n0, nlen);
				v->value[v->n] = rv ? strdup(rv) : strndup(v0, (size_t)(q - v0));
				if (v->name[v->n] && v->value[v->n]) v->n++;
				else { free(v->name[v->n]); free(v->value[v->n]); }
			}
		}
		p = eol + 1;
	}
}

typedef struct acc { char **slugs; int *lines; size_t n; int oom; } acc;

static void acc_add(acc *a, const char *s, size_t len, int line)
{
	if (len == 0 || len > REG_SLUG_MAX || !isalnum((unsigned char)s[0])) return;
	for (size_t i = 0; i < len; i++) if (!is_slug_ch((unsigned char)s[i])) return;
	char **ns = realloc(a->slugs, (a->n + 1) * sizeof *ns);
	if (!ns) { a->oom = 1; return; }
	a->slugs = ns;
	int *nl = realloc(a->lines, (a->n + 1) * sizeof *nl);
	if (!nl) { a->oom = 1; return; }
	a->lines = nl;
	char *d = strndup(s, len);
	if (!d) { a->oom = 1; return; }
	a->slugs[a->n] = d;
	a->lines[a->n] = line;
	a->n++;
}

/* Reads a slug argument at p (within [p, eol)): bare, quoted, or a variable.
 * Adds it to a when it resolves.  Returns 1 when something was read. */
static int read_slug_arg(const char *p, const char *eol, const vars *v, acc *a, int line)
{
	char quote = 0;
	if (p < eol && (*p == '"' || *p == '\'')) quote = *p++;
	if (p < eol && *p == '$' && quote != '\'') {
		p++;
		int brace = p < eol && *p == '{';
		if (brace) p++;
		const char *n0 = p;
		while (p < eol && is_name_ch((unsigned char)*p)) p++;
		if (p == n0 || (brace && (p >= eol || *p != '}'))) return 0;
		const char *val = vars_get(v, n0, (size_t)(p - n0));
		if (val) acc_add(a, val, strlen(val), line);
		return val != NULL;
	}
	const char *s0 = p;
	while (p < eol && is_slug_ch((unsigned char)*p)) p++;
	if (p == s0) return 0;
	if (p < eol && !(quote ? *p == quote : (*p == ' ' || *p == '\t' || *p == ';' || *p == '&' ||
	                                         *p == '|' || *p == ')' || *p == '\r' || *p == '>' || *p == '<' ||
	                                         *p == '"' || *p == '\'' || *p == '`')))
		return 0;
	acc_add(a, s0, (size_t)(p - s0), line);
	return 1;
}

static const char *skip_blank(const char *p, const char *eol)
{
	while (p < eol && (*p == ' ' || *p == '\t' || *p == '\\')) p++;
	return p;
}

/* Between the words of an argv list: ["vigil", "ping", "slug"] */
static const char *skip_sep(const char *p, const char *eol)
{
	while (p < eol && (*p == ' ' || *p == '\t' || *p == '\\' || *p == '"' || *p == '\'' || *p == ',')) p++;
	return p;
}

/* "vigil [--db X|--config X]... (ping|run) SLUG" starting after the word
 * vigil; list: the words are quoted and comma-separated (an argv list). */
static void scan_vigil(const char *p, const char *eol, const vars *v, acc *a, int line, int list)
{
	const char *(*sep)(const char *, const char *) = list ? skip_sep : skip_blank;
	for (;;) {
		p = sep(p, eol);
		if (eol - p > 5 && (!strncmp(p, "--db", 4) || !strncmp(p, "--config", 8))) {
			while (p < eol && !strchr(" \t=\"',", *p)) p++;
			if (p < eol && *p == '=') { while (p < eol && !strchr(" \t\"',", *p)) p++; continue; }
			p = sep(p, eol);
			while (p < eol && !strchr(" \t\"',", *p)) p++;
			continue;
		}
		break;
	}
	size_t verb = 0;
	if (eol - p >= 4 && !strncmp(p, "ping", 4)) verb = 4;
	else if (eol - p >= 3 && !strncmp(p, "run", 3)) verb = 3;
	if (!verb || (p + verb < eol && !strchr(" \t\"',", p[verb]))) return;
	read_slug_arg(sep(p + verb, eol), eol, v, a, line);
}

static void scan_line(const char *p, const char *eol, const char *const *patterns, const vars *v,
                      acc *a, int line)
{
	/* vigil ping|run */
	for (const char *q = p; q + 5 <= eol; q++) {
		q = memchr(q, 'v', (size_t)(eol - q));
		if (!q || q + 5 > eol) break;
		if (strncmp(q, "vigil", 5)) continue;
		if (q > p && (is_slug_ch((unsigned char)q[-1]) || q[-1] == '.')) continue;
		if (q + 5 >= eol || !strchr(" \t\"'", q[5])) continue;
		scan_vigil(q + 5, eol, v, a, line, q[5] == '"' || q[5] == '\'');
	}
	/* /ping/KEY/SLUG */
	for (const char *q = p; q + 6 <= eol; q++) {
		q = memchr(q, '/', (size_t)(eol - q));
		if (!q || q + 6 > eol) break;
		if (strncmp(q, "/ping/", 6)) continue;
		const char *k = q + 6, *k0 = k;
		while (k < eol && *k != '/' && *k != ' ' && *k != '\t' && *k != '"' && *k != '\'') k++;
		if (k == k0 || k >= eol || *k != '/') continue;
		k++;
		const char *s0 = k;
		if (k < eol && *k == '$') { read_slug_arg(k, eol, v, a, line); continue; }
		while (k < eol && is_slug_ch((unsigned char)*k)) k++;
		if (k == s0) continue;
		if (k < eol && !(*k == '/' || *k == '?' || *k == '"' || *k == '\'' || *k == ' ' || *k == '\t' ||
		                 *k == ')' || *k == ';' || *k == '\r' || *k == '&' || *k == '|' || *k == '`'))
			continue;
		acc_add(a, s0, (size_t)(k - s0), line);
	}
	/* helper patterns */
	for (size_t i = 0; patterns && patterns[i]; i++) {
		const char *ph = strstr(patterns[i], "{slug}");
		if (!ph) continue;
		size_t pre = (size_t)(ph - patterns[i]);
		const char *suf = ph + 6;
		size_t sl = strlen(suf);
		if (pre == 0) continue;   /* a pattern must start with literal text */
		for (const char *q = p; q + pre <= eol; q++) {
			q = memchr(q, patterns[i][0], (size_t)(eol - q));
			if (!q || q + pre > eol) break;
			if (strncmp(q, patterns[i], pre)) continue;
			const char *s0 = q + pre, *k = s0;
			if (k < eol && *k == '$') {
				/* a variable in the slug position: resolve if assigned */
				const char *e = k + 1;
				int brace = e < eol && *e == '{';
				if (brace) e++;
				const char *n0 = e;
				while (e < eol && is_name_ch((unsigned char)*e)) e++;
				const char *val = vars_get(v, n0, (size_t)(e - n0));
				if (brace && e < eol && *e == '}') e++;
				if (val && (size_t)(eol - e) >= sl && !strncmp(e, suf, sl)) acc_add(a, val, strlen(val), line);
				continue;
			}
			while (k < eol && is_slug_ch((unsigned char)*k)) k++;
			if (k == s0 || (size_t)(eol - k) < sl || strncmp(k, suf, sl)) continue;
			acc_add(a, s0, (size_t)(k - s0), line);
		}
	}
}

int val_ping_calls(const char *text, size_t len, const char *const *patterns,
                   char ***slugs, int **lines, size_t *n)
{
	return val_ping_calls_args(text, len, patterns, NULL, slugs, lines, n);
}

int val_ping_calls_args(const char *text, size_t len, const char *const *patterns,
                        const char *const *args, char ***slugs, int **lines, size_t *n)
{
	vars v = {0};
	acc a = {0};
	/* positional parameters first, so the script's own assignments win */
	for (size_t i = 0; args && args[i] && i < 9; i++) {
		char **nn = realloc(v.name, (v.n + 1) * sizeof *nn);
		if (nn) v.name = nn;
		char **nv = realloc(v.value, (v.n + 1) * sizeof *nv);
		if (nv) v.value = nv;
		if (!nn || !nv) break;
		char num[2] = { (char)('1' + i), '\0' };
		v.name[v.n] = strdup(num);
		v.value[v.n] = strdup(args[i]);
		if (v.name[v.n] && v.value[v.n]) v.n++;
		else { free(v.name[v.n]); free(v.value[v.n]); }
	}
	vars_collect(text, len, &v);
	const char *end = text + len, *p = text;
	int line = 1;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol) eol = end;
		const char *q = p;
		while (q < eol && (*q == ' ' || *q == '\t')) q++;
		if (q < eol && *q != '#') scan_line(q, eol, patterns, &v, &a, line);
		p = eol + 1;
		line++;
	}
	vars_free(&v);
	if (a.oom) {
		val_strv_free(a.slugs, a.n);
		free(a.lines);
		return -1;
	}
	*slugs = a.slugs;
	*n = a.n;
	if (lines) *lines = a.lines; else free(a.lines);
	return 0;
}
