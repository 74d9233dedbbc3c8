/* validator/ctab.c — the managed crontab as the rules see it: job lines with
 * their tag (a "vigil run SLUG --" wrapper or a "# vigil:" directive on the
 * line directly above), environment lines, and each job's script as cron
 * would run it.  Cron syntax itself is judged by the crontab engine (V301);
 * this reader only needs the shape of each line. */
#include "validator/val_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTAB_MAX_BYTES (4u << 20)

void val_crontab_free(val_crontab *t)
{
	if (!t) return;
	for (size_t i = 0; i < t->njobs; i++) {
		val_job *j = &t->jobs[i];
		free(j->schedule); free(j->command); free(j->slug); free(j->wrapper_slug); free(j->script);
		for (size_t k = 0; k < 9; k++) free(j->args[k]);
	}
	for (size_t i = 0; i < t->nenv; i++) { free(t->env[i].name); free(t->env[i].value); }
	free(t->jobs);
	free(t->env);
	free(t->path);
	free(t);
}

static const char *env_get(const val_crontab *t, const char *name, size_t len)
{
	for (size_t i = t ? t->nenv : 0; i-- > 0;)
		if (strlen(t->env[i].name) == len && !strncmp(t->env[i].name, name, len)) return t->env[i].value;
	return NULL;
}

/* ---- command words ---------------------------------------------------------- */

typedef struct word { char *s; int col; int op; } word;   /* op: 1 for ; && || | & */
typedef struct words { word *v; size_t n; } words;

static void words_free(words *w)
{
	for (size_t i = 0; i < w->n; i++) free(w->v[i].s);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

static int words_push(words *w, const char *s, size_t len, int col, int op)
{
	word *nv = realloc(w->v, (w->n + 1) * sizeof *nv);
	if (!nv) return -1;
	w->v = nv;
	char *d = strndup(s, len);
	if (!d) return -1;
	w->v[w->n++] = (word){d, col, op};
	return 0;
}

/* Splits the first line of a cron command (up to an unescaped '%') into
 * shell words; quotes are removed, nothing is expanded.  Redirections end
 * the word list of their simple command (their target is not a word). */
static int split_words(const char *cmd, words *w)
{
	char buf[4096];
	const char *p = cmd;
	while (*p) {
		while (*p == ' ' || *p == '\t') p++;
		if (!*p || *p == '%' || *p == '\n' || *p == '#') break;
		int col = (int)(p - cmd);
		if (*p == ';' || *p == '|' || *p == '&' || *p == '(' || *p == ')') {
			size_t l = (p[1] == *p && (*p == '|' || *p == '&')) ? 2 : 1;
			if (words_push(w, p, l, col, 1)) return -1;
			p += l;
			continue;
		}
		if (*p == '>' || *p == '<' || ((*p >= '0' && *p <= '9') && (p[1] == '>' || p[1] == '<'))) {
			/* skip the redirection and its target */
			while (*p && strchr("0123456789<>&", *p)) p++;
			while (*p == ' ' || *p == '\t') p++;
			while (*p && !strchr(" \t;|&%", *p)) p++;
			continue;
		}
		size_t n = 0;
		while (*p && !strchr(" \t;|&<>()%\n", *p)) {
			if (*p == '\\' && p[1]) { p++; if (n < sizeof buf - 1) buf[n++] = *p; p++; continue; }
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				while (*p && *p != q) {
					if (q == '"' && *p == '\\' && p[1]) p++;
					if (n < sizeof buf - 1) buf[n++] = *p;
					p++;
				}
				if (*p) p++;
				continue;
			}
			if (n < sizeof buf - 1) buf[n++] = *p;
			p++;
		}
		if (words_push(w, buf, n, col, 0)) return -1;
	}
	return 0;
}

static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++) if (!strcmp(s, list[i])) return 1;
	return 0;
}

static int is_assignment(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
	while (isalnum((unsigned char)*s) || *s == '_') s++;
	return *s == '=';
}

/* Expands ~/ and $NAME / ${NAME} from the crontab's environment (HOME falls
 * back to home); relative results are joined to cwd.  Returns malloc'd path
 * or NULL when a variable is unset (its name copied into unset). */
static char *expand_path(const char *w, const val_crontab *t, const char *home, const char *cwd,
                         char *unset, size_t unset_len)
{
	char out[PATH_MAX];
	size_t n = 0;
	const char *p = w;
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		n = (size_t)snprintf(out, sizeof out, "%s", home);
		p++;
	}
	while (*p && n < sizeof out - 1) {
		if (*p == '$' && (p[1] == '{' || isalpha((unsigned char)p[1]) || p[1] == '_')) {
			int brace = p[1] == '{';
			const char *n0 = p + 1 + brace, *e = n0;
			while (isalnum((unsigned char)*e) || *e == '_') e++;
			const char *v = env_get(t, n0, (size_t)(e - n0));
			if (!v && (size_t)(e - n0) == 4 && !strncmp(n0, "HOME", 4)) v = home;
			if (!v) { snprintf(unset, unset_len, "%.*s", (int)(e - n0), n0); return NULL; }
			n += (size_t)snprintf(out + n, sizeof out - n, "%s", v);
			p = e + (brace && *e == '}');
			continue;
		}
		out[n++] = *p++;
	}
	if (n >= sizeof out) n = sizeof out - 1;
	out[n] = '\0';
	char joined[PATH_MAX * 2];
	if (out[0] == '/') snprintf(joined, sizeof joined, "%s", out);
	else snprintf(joined, sizeof joined, "%s/%s", cwd, out);
	return val_path_clean(joined);
}

static const char *const interpreters[] = {
	"sh", "bash", "dash", "ksh", "zsh", "python", "python2", "python3", "perl", "ruby", "node",
	"php", "Rscript", "lua", ".", "source", NULL };
static const char *const shells[] = { "sh", "bash", "dash", "ksh", ".", "source", NULL };
/* wrappers that run the rest of the line; value: options that take an argument */
static const struct { const char *name; const char *argopts; int positional; } wrappers[] = {
	{"nice", "n", 0}, {"ionice", "cnp", 0}, {"timeout", "sk", 1}, {"flock", "wEs", 1},
	{"chronic", "", 0}, {"nohup", "", 0}, {"setsid", "", 0}, {"stdbuf", "ioe", 0},
	{"systemd-cat", "tp", 0}, {"time", "fo", 0}, {"env", "uSC", 0}, {"sudo", "ugUCDhp", 0},
	{"runuser", "ugc", 0}, {"caffeinate", "", 0}, {"run-one", "", 0}, {"lckdo", "", 1},
	{"exec", "a", 0}, {"command", "", 0}, {"nocache", "", 0}, {"trickle", "ud", 0},
};

void val_command_analyse(const char *command, const val_crontab *t, const char *base_dir, val_job *j)
{
	words w = {0};
	char cwd[PATH_MAX];
	const char *home = env_get(t, "HOME", 4);
	if (!home) home = base_dir;
	snprintf(cwd, sizeof cwd, "%s", home);
	if (split_words(command, &w)) goto out;
	size_t i = 0;
	while (i < w.n) {
		while (i < w.n && !w.v[i].op && is_assignment(w.v[i].s)) i++;
		if (i >= w.n) break;
		if (w.v[i].op) { i++; continue; }
		const char *b = base_name(w.v[i].s);
		/* cd DIR && next */
		if (!strcmp(b, "cd") && i + 2 < w.n && !w.v[i + 1].op && w.v[i + 2].op) {
			char unset[64];
			char *d = expand_path(w.v[i + 1].s, t, home, cwd, unset, sizeof unset);
			if (d) { snprintf(cwd, sizeof cwd, "%s", d); free(d); }
			i += 3;
			continue;
		}
		if (!strcmp(b, "vigil")) {
			i++;
			while (i + 1 < w.n && (!strcmp(w.v[i].s, "--db") || !strcmp(w.v[i].s, "--config"))) i += 2;
			while (i < w.n && (!strncmp(w.v[i].s, "--db=", 5) || !strncmp(w.v[i].s, "--config=", 9))) i++;
			if (i < w.n && !strcmp(w.v[i].s, "run") && i + 1 < w.n && !w.v[i + 1].op) {
				if (!j->wrapper) {
					j->wrapper = 1;
					j->wrapper_slug = strdup(w.v[i + 1].s);
					j->tag_col = w.v[i + 1].col + j->cmd_col;
				}
				i += 2;
				while (i < w.n && !w.v[i].op && strcmp(w.v[i].s, "--")) i++;
				if (i < w.n && !strcmp(w.v[i].s, "--")) { i++; continue; }
			}
			break;   /* "vigil ping ..." and the like: no script */
		}
		int wi = -1;
		for (size_t k = 0; k < sizeof wrappers / sizeof wrappers[0]; k++)
			if (!strcmp(b, wrappers[k].name)) wi = (int)k;
		if (wi >= 0) {
			i++;
			while (i < w.n && !w.v[i].op && w.v[i].s[0] == '-') {
				const char *o = w.v[i].s;
				int takes = o[1] && o[1] != '-' && !o[2] && strchr(wrappers[wi].argopts, o[1]);
				i += takes ? 2 : 1;
			}
			if (!strcmp(wrappers[wi].name, "env"))
				while (i < w.n && !w.v[i].op && is_assignment(w.v[i].s)) i++;
			i += (size_t)wrappers[wi].positional;
			continue;
		}
		if (in_list(b, interpreters)) {
			j->script_shell = in_list(b, shells);
			snprintf(j->interp, sizeof j->interp, "%s", b);
			i++;
			while (i < w.n && !w.v[i].op && w.v[i].s[0] == '-') {
				const char *o = w.v[i].s;
				if (!strcmp(o, "-c") || !strcmp(o, "-m") || !strcmp(o, "-e") || !strcmp(o, "-E") ||
				    !strcmp(o, "--command"))
					goto out;   /* inline code or a module: no script file */
				if (!strcmp(o, "--")) { i++; break; }
				i += (!strcmp(o, "-W") || !strcmp(o, "-X") || !strcmp(o, "-o") || !strcmp(o, "-O")) ? 2 : 1;
			}
			if (i >= w.n || w.v[i].op) goto out;   /* reads stdin */
			j->script_exec = 0;
		} else {
			const char *s = w.v[i].s;
			if (!strchr(s, '/') && s[0] != '~' && s[0] != '$') goto out;   /* a command on PATH */
			j->script_exec = 1;
		}
		char unset[64] = "";
		for (size_t k = i + 1, na = 0; k < w.n && !w.v[k].op && na < 9; k++)
			j->args[na++] = strdup(w.v[k].s);
		j->script_col = w.v[i].col + j->cmd_col;
		j->script = expand_path(w.v[i].s, t, home, cwd, unset, sizeof unset);
		if (!j->script) {
			/* keep what was written, so V201 can name the unset variable */
			size_t l = strlen(w.v[i].s) + strlen(unset) + 8;
			j->script = malloc(l);
			if (j->script) snprintf(j->script, l, "\x01%s\x01%s", unset, w.v[i].s);
		}
		break;
	}
out:
	words_free(&w);
}

/* ---- directives ------------------------------------------------------------- */

typedef struct directive {
	int line, col;
	int ignore;
	char *slug;
	int bad;   /* could not be read */
} directive;

/* "# vigil: ..." — returns 1 for a directive (filled), 0 for another comment. */
static int parse_directive(const char *s, int line, int col0, const char *file, val_report *r, directive *d)
{
	const char *p = s + 1;    /* after '#' */
	while (*p == ' ' || *p == '\t') p++;
	if (strncmp(p, "vigil:", 6)) return 0;
	p += 6;
	while (*p == ' ' || *p == '\t') p++;
	memset(d, 0, sizeof *d);
	d->line = line;
	d->col = col0 + (int)(p - s);
	const char *w0 = p;
	while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
	size_t wl = (size_t)(p - w0);
	if (wl == 0) {
		val_add(r, "V101", 0, file, line, col0, NULL, "write \"# vigil: SLUG\" or \"# vigil: ignore reason=\\\"...\\\"\"",
		        "directive names no slug");
		d->bad = 1;
		return 1;
	}
	if (wl == 6 && !strncmp(w0, "ignore", 6)) {
		d->ignore = 1;
		while (*p == ' ' || *p == '\t') p++;
		if (strncmp(p, "reason=", 7)) {
			val_add(r, "V105", 0, file, line, d->col, NULL, "write # vigil: ignore reason=\"why this job is not monitored\"",
			        "ignore directive without a reason");
			return 1;
		}
		p += 7;
		const char *v0 = p, *v1;
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			v0 = p;
			v1 = strchr(p, q);
			if (!v1) {
				val_add(r, "V105", 0, file, line, col0 + (int)(v0 - 1 - s), NULL, "close the quote",
				        "ignore reason has no closing quote");
				return 1;
			}
		} else {
			v1 = v0;
			while (*v1 && *v1 != '\r') v1++;
		}
		int blank = 1;
		for (const char *c = v0; c < v1; c++) if (!isspace((unsigned char)*c)) blank = 0;
		if (blank)
			val_add(r, "V105", 0, file, line, d->col, NULL, "say why this job is not monitored",
			        "ignore directive with an empty reason");
		return 1;
	}
	d->slug = strndup(w0, wl);
	/* options: grace=DUR max_runtime=DUR */
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r') p++;
		if (!*p) break;
		const char *o0 = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
		char opt[128];
		snprintf(opt, sizeof opt, "%.*s", (int)(p - o0), o0);
		char *eq = strchr(opt, '=');
		int ok = 0;
		if (eq && (!strncmp(opt, "grace=", 6) || !strncmp(opt, "max_runtime=", 12)))
			ok = val_parse_duration(eq + 1) >= 0;
		if (!ok) {
			val_add(r, "V101", 0, file, line, col0 + (int)(o0 - s), d->slug,
			        "options are grace=DUR and max_runtime=DUR (DUR like 90s, 5m, 1h)",
			        "directive option \"%s\" not understood", opt);
			d->bad = 1;
		}
	}
	return 1;
}

/* ---- the file ----------------------------------------------------------------- */

static int push_job(val_crontab *t, const val_job *j)
{
	val_job *nv = realloc(t->jobs, (t->njobs + 1) * sizeof *nv);
	if (!nv) return -1;
	t->jobs = nv;
	t->jobs[t->njobs++] = *j;
	return 0;
}

static int push_env(val_crontab *t, const char *name, size_t nl, const char *val, size_t vl, int line)
{
	val_env *nv = realloc(t->env, (t->nenv + 1) * sizeof *nv);
	if (!nv) return -1;
	t->env = nv;
	char *n = strndup(name, nl), *v = strndup(val, vl);
	if (!n || !v) { free(n); free(v); return -1; }
	t->env[t->nenv++] = (val_env){n, v, line};
	return 0;
}

/* NAME=value / NAME = "value" ; 1 if the line is an environment line. */
static int parse_env(const char *s, const char **n0, size_t *nl, const char **v0, size_t *vl)
{
	const char *p = s;
	char q = 0;
	if (*p == '"' || *p == '\'') q = *p++;
	*n0 = p;
	while (*p && (q ? *p != q : (*p != '=' && *p != ' ' && *p != '\t'))) p++;
	*nl = (size_t)(p - *n0);
	if (q) { if (*p != q) return 0; p++; }
	while (*p == ' ' || *p == '\t') p++;
	if (*p != '=' || *nl == 0) return 0;
	p++;
	while (*p == ' ' || *p == '\t') p++;
	const char *e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
	if (e - p >= 2 && (*p == '"' || *p == '\'') && e[-1] == *p) { p++; e--; }
	*v0 = p;
	*vl = (size_t)(e - p);
	return 1;
}

int val_crontab_load(const char *path, const char *base_dir, val_report *r,
                     val_crontab **out, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc = VAL_EINTERNAL;
	directive pend = {0};
	int have_pend = 0;
	val_crontab *t = calloc(1, sizeof *t);
	if (!t || !(t->path = strdup(path))) goto out;
	int e = val_read_file(path, CTAB_MAX_BYTES, &data, &len);
	if (e) {
		snprintf(err, errlen, "%s: cannot read crontab: %s", path,
		         e == EFBIG ? "larger than 4 MiB" : e == ENODEV ? "not a regular file" : strerror(e));
		rc = VAL_EINPUT;
		goto out;
	}
	if (memchr(data, '\0', len)) {
		snprintf(err, errlen, "%s: not a crontab: the file contains NUL bytes (binary?)", path);
		rc = VAL_EINPUT;
		goto out;
	}
	/* a UTF-8 byte order mark is the crontab engine's finding (V301); here
	 * it must not hide a directive on line 1 */
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) memset(data, ' ', 3);
	int line = 0;
	char *p = data;
	while (*p) {
		char *eol = strchr(p, '\n');
		if (eol) *eol = '\0';
		line++;
		char *s = p;
		while (*s == ' ' || *s == '\t') s++;
		int col0 = (int)(s - p) + 1;
		if (!*s || (s[0] == '\r' && !s[1])) { if (have_pend) { free(pend.slug); have_pend = 0; } }
		else if (*s == '#') {
			directive d;
			if (have_pend) { free(pend.slug); have_pend = 0; }
			if (parse_directive(s, line, col0, path, r, &d)) { pend = d; have_pend = 1; }
		} else {
			const char *n0, *v0;
			size_t nl, vl;
			if (!(*s == '@' || *s == '*' || isdigit((unsigned char)*s)) && parse_env(s, &n0, &nl, &v0, &vl)) {
				if (push_env(t, n0, nl, v0, vl, line)) goto out;
				if (have_pend) { free(pend.slug); have_pend = 0; }
			} else {
				val_job j = {0};
				j.line = line;
				j.col = col0;
				char sched[512];
				size_t sn = 0;
				char *q = s;
				int fields = *s == '@' ? 1 : 5, got = 0;
				while (got < fields && *q) {
					char *f0 = q;
					while (*q && *q != ' ' && *q != '\t') q++;
					if (sn && sn < sizeof sched - 1) sched[sn++] = ' ';
					size_t fl = (size_t)(q - f0);
					if (fl > sizeof sched - 1 - sn) fl = sizeof sched - 1 - sn;
					memcpy(sched + sn, f0, fl);
					sn += fl;
					got++;
					while (*q == ' ' || *q == '\t') q++;
				}
				sched[sn] = '\0';
				char *ce = q + strlen(q);
				while (ce > q && (ce[-1] == '\r' || ce[-1] == ' ' || ce[-1] == '\t')) ce--;
				if (got == fields && ce > q) {
					j.schedule = strdup(sched);
					j.command = strndup(q, (size_t)(ce - q));
					j.cmd_col = (int)(q - p) + 1;
					if (!j.schedule || !j.command) { free(j.schedule); free(j.command); goto out; }
				}
				if (have_pend) {
					j.tag_line = pend.line;
					j.tag_col = pend.col;
					j.ignored = pend.ignore;
					j.bad_directive = pend.bad;
					j.slug = pend.slug;
					pend.slug = NULL;
					have_pend = 0;
				}
				if (push_job(t, &j)) { free(j.schedule); free(j.command); free(j.slug); goto out; }
			}
		}
		if (!eol) break;
		p = eol + 1;
	}
	/* commands are analysed once the whole environment is known */
	for (size_t i = 0; i < t->njobs; i++) {
		val_job *j = &t->jobs[i];
		if (!j->command) continue;
		int dcol = j->tag_col, dline = j->tag_line;
		val_command_analyse(j->command, t, base_dir, j);
		if (j->wrapper && !j->slug) {
			j->tag_line = j->line;
			j->slug = j->wrapper_slug ? strdup(j->wrapper_slug) : NULL;
		} else if (j->wrapper) {
			j->tag_col = dcol;
			j->tag_line = dline;
		}
	}
	*out = t;
	t = NULL;
	rc = VAL_OK;
out:
	if (rc == VAL_EINTERNAL) snprintf(err, errlen, "%s: out of memory", path);
	if (have_pend) free(pend.slug);
	free(data);
	val_crontab_free(t);
	return rc;
}
