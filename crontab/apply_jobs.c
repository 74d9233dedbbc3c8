/* crontab/apply_jobs.c — the job-wise view of a crontab that apply needs for
 * its diff, its removal guards and the registry update: which lines are jobs,
 * their schedule, command and slug.  Deliberately forgiving (the gate, not
 * this file, judges syntax): anything that is not blank, a comment or an
 * environment setting is a job line. */
#include "crontab/apply_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p) return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int slug_char(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

/* The slug of a "# vigil: SLUG" directive, or "" for "# vigil: ignore ...",
 * or NULL when the comment is no directive.  Malloc'd. */
static char *directive_slug(const char *s, size_t n)
{
	size_t i = 1;   /* past '#' */
	while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
	if (n - i < 6 || strncmp(s + i, "vigil:", 6) != 0) return NULL;
	i += 6;
	while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
	size_t b = i;
	while (i < n && slug_char((unsigned char)s[i])) i++;
	if (i == b) return NULL;
	if (i - b == 6 && !strncmp(s + b, "ignore", 6)) return dupn("", 0);
	return dupn(s + b, i - b);
}

/* The SLUG of "vigil run SLUG" (the program may be given by path). */
static char *run_slug(const char *cmd)
{
	for (const char *p = strstr(cmd, "vigil"); p; p = strstr(p + 1, "vigil")) {
		if (p != cmd && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '/') continue;
		const char *q = p + 5;
		if (*q != ' ' && *q != '\t') continue;
		while (*q == ' ' || *q == '\t') q++;
		if (strncmp(q, "run", 3) != 0 || (q[3] != ' ' && q[3] != '\t')) continue;
		q += 3;
		while (*q == ' ' || *q == '\t') q++;
		const char *b = q;
		while (slug_char((unsigned char)*q)) q++;
		if (q > b && (*q == '\0' || *q == ' ' || *q == '\t')) return dupn(b, (size_t)(q - b));
	}
	return NULL;
}

static int is_env(const char *s, size_t n)
{
	size_t i = 0;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_')) i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
	return i < n && s[i] == '=';
}

/* Fills job from line s (n bytes, already without leading blanks). */
static int split_job(const char *s, size_t n, ca_job *job)
{
	int want = s[0] == '@' ? 1 : 5;
	size_t i = 0, fields_end = 0;
	int got = 0;
	char sched[512];
	size_t sl = 0;
	while (got < want) {
		while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
		if (i >= n) break;
		size_t b = i;
		while (i < n && s[i] != ' ' && s[i] != '\t') i++;
		if (sl + (i - b) + 2 > sizeof sched) break;
		if (sl) sched[sl++] = ' ';
		memcpy(sched + sl, s + b, i - b);
		sl += i - b;
		got++;
		fields_end = i;
	}
	while (fields_end < n && (s[fields_end] == ' ' || s[fields_end] == '\t')) fields_end++;
	if (got < want || fields_end >= n) {   /* not a readable job line: keep it whole */
		job->schedule = dupn("", 0);
		job->command = dupn(s, n);
	} else {
		job->schedule = dupn(sched, sl);
		job->command = dupn(s + fields_end, n - fields_end);
	}
	return job->schedule && job->command ? 0 : -1;
}

int ca_jobs_parse(const char *text, size_t n, ca_jobs *out)
{
	memset(out, 0, sizeof *out);
	size_t cap = 0;
	char *pending = NULL;       /* slug from a directive, "" for ignore */
	int lineno = 0, ret = -1;
	for (size_t pos = 0; pos < n;) {
		const char *eol = memchr(text + pos, '\n', n - pos);
		size_t len = eol ? (size_t)(eol - (text + pos)) : n - pos;
		const char *line = text + pos;
		pos += len + (eol ? 1 : 0);
		lineno++;
		size_t k = 0;
		while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
		const char *s = line + k;
		size_t sn = len - k;
		while (sn && (s[sn - 1] == '\r' || s[sn - 1] == ' ' || s[sn - 1] == '\t')) sn--;
		if (sn == 0) continue;
		if (s[0] == '#') {
			char *d = directive_slug(s, sn);
			if (d) { free(pending); pending = d; }
			continue;
		}
		if (is_env(s, sn)) continue;
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			ca_job *v = realloc(out->v, nc * sizeof *v);
			if (!v) goto out;
			out->v = v;
			cap = nc;
		}
		ca_job *job = &out->v[out->n];
		memset(job, 0, sizeof *job);
		out->n++;
		job->lineno = lineno;
		job->line = dupn(line, len);
		if (!job->line || split_job(s, sn, job) < 0) goto out;
		if (pending && pending[0]) { job->slug = pending; pending = NULL; }
		else if (!pending) job->slug = run_slug(job->command);
		free(pending);
		pending = NULL;
	}
	out->n_content = out->n;
	ret = 0;
out:
	free(pending);
	if (ret < 0) ca_jobs_free(out);
	return ret;
}

void ca_jobs_free(ca_jobs *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->v[i].slug);
		free(j->v[i].schedule);
		free(j->v[i].command);
		free(j->v[i].line);
	}
	free(j->v);
	memset(j, 0, sizeof *j);
}

/* Index in J of the job matching X (same slug, or same line when X has no
 * slug) not yet taken; -1 if none. */
static long match(const ca_jobs *j, const ca_job *x, const unsigned char *taken)
{
	for (size_t i = 0; i < j->n; i++) {
		if (taken[i]) continue;
		const ca_job *y = &j->v[i];
		if (x->slug && y->slug && !strcmp(x->slug, y->slug)) return (long)i;
		if (!x->slug && !y->slug && !strcmp(x->line, y->line)) return (long)i;
	}
	return -1;
}

static void show(FILE *f, const char *indent, char sign, const ca_job *j)
{
	if (!f) return;
	if (j->slug) fprintf(f, "%s%c %s: %s  %s\n", indent, sign, j->slug, j->schedule, j->command);
	else fprintf(f, "%s%c (no slug, line %d): %s\n", indent, sign, j->lineno, j->line);
}

void ca_jobs_diff(const ca_jobs *old, const ca_jobs *new_, FILE *f, const char *indent,
                  ca_diff_count *c)
{
	memset(c, 0, sizeof *c);
	unsigned char *taken = calloc(new_->n + 1, 1);
	long *pair = calloc(old->n + 1, sizeof *pair);
	if (!taken || !pair) {   /* count conservatively: everything removed and added */
		c->removed = old->n;
		c->added = new_->n;
		goto out;
	}
	for (size_t i = 0; i < old->n; i++) {
		pair[i] = match(new_, &old->v[i], taken);
		if (pair[i] >= 0) taken[pair[i]] = 1;
	}
	for (size_t i = 0; i < old->n; i++) {
		const ca_job *o = &old->v[i];
		if (pair[i] < 0) { c->removed++; show(f, indent, '-', o); continue; }
		const ca_job *n = &new_->v[pair[i]];
		int ds = strcmp(o->schedule, n->schedule) != 0;
		int dc = strcmp(o->command, n->command) != 0;
		if (!ds && !dc) { c->unchanged++; continue; }
		c->changed++;
		if (!f) continue;
		if (ds) fprintf(f, "%s~ %s: schedule \"%s\" -> \"%s\"\n", indent, o->slug, o->schedule, n->schedule);
		if (dc) fprintf(f, "%s~ %s: command \"%s\" -> \"%s\"\n", indent, o->slug, o->command, n->command);
	}
	for (size_t i = 0; i < new_->n; i++)
		if (!taken[i]) { c->added++; show(f, indent, '+', &new_->v[i]); }
out:
	free(taken);
	free(pair);
}
