/* crontab/crontab_file.c — a whole user crontab, read the way Debian's cron
 * and crontab(1) read it, with every error collected (line, column, what).
 *
 * Lines, as Debian classifies them (leading spaces and tabs skipped):
 *   blank, or '#' first          comment (kept, with its line number)
 *   NAME=value                   environment setting, per env.c's rules:
 *                                the name and the value may be quoted ('' or
 *                                ""), blanks around '=' are allowed, an
 *                                unquoted value is trimmed, and an empty
 *                                value needs quotes ("FOO=" is not an env
 *                                line, so it is read as a job and fails)
 *   anything else                a job: a schedule (cron_expr.c) then the
 *                                command up to the newline, at most 998 bytes
 * File rules: at most 10 000 lines; a last line holding a job or env setting
 * must end with a newline (crontab(1) refuses the file otherwise).
 * vigil is stricter than Debian on: an empty command, a carriage return
 * ending a command (CRLF files), an env line longer than Debian's buffer
 * (Debian silently truncates it), a UTF-8 byte order mark, and the schedule
 * cases listed in cron_expr.c. */
#include "crontab/cron_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_LINE_MAX 999   /* Debian reads an env line into a 1000-byte buffer */

typedef struct parser {
	crontab_file *f;
	size_t cap_jobs, cap_envs, cap_comments, cap_errors;
	int oom;
} parser;

static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap) return arr;
	size_t nc = *cap ? *cap * 2 : 16;
	void *p = realloc(arr, nc * elem);
	if (p) *cap = nc;
	return p;
}

/* Every message of this file, in one place (schedule errors come from
 * cron_expr.c's own table). */
enum file_msg {
	F_SCHEDULE, F_EMPTY_CMD, F_CMD_LONG, F_CMD_CR, F_BOM, F_NUL, F_NO_NEWLINE, F_ENV_LONG, F_TOO_MANY_LINES,
	F_ENV_BAD, F_CR_LINE,
};

static const char *const file_msgs[] = {
	[F_SCHEDULE] = "%s",
	[F_EMPTY_CMD] = "empty command; Debian's cron would accept the line and run nothing, vigil refuses it",
	[F_CMD_LONG] = "command is %zu bytes long, at most %d are allowed (Debian's crontab refuses it: "
	               "command too long)",
	[F_CMD_CR] = "command ends with a carriage return (CRLF line ending); Debian's cron would accept it "
	             "and pass the \\r to the shell as part of the command, vigil refuses it",
	[F_BOM] = "file begins with a UTF-8 byte order mark; Debian's cron takes those bytes as part of the "
	          "first line (a first env line would silently set a variable with another name), vigil refuses it",
	[F_NUL] = "NUL byte in line; cron would cut the line here",
	[F_NO_NEWLINE] = "missing newline at the end of the file; Debian's crontab refuses to install a file "
	                 "whose last line does not end with a newline",
	[F_ENV_LONG] = "environment line is %zu bytes long; Debian's cron would silently cut it after %d bytes, "
	               "vigil refuses it",
	[F_TOO_MANY_LINES] = "crontab has more than %d lines; Debian's crontab refuses it",
	[F_ENV_BAD] = "\"%.*s\" is not a valid environment setting (an empty value needs quotes, NAME=\"\"; "
	              "quotes must match; nothing may follow a quoted value): Debian's cron reads the line as "
	              "a job and refuses it",
	[F_CR_LINE] = "line holds only a carriage return (CRLF line ending); Debian's cron reads it as a job "
	              "line and refuses it",
};

/* Does the line (from its first non-blank) look like an attempted NAME=value
 * that the env rules refused?  A name without blanks, then '='. */
static int looks_like_env(const char *s, size_t len)
{
	if (len == 0 || isdigit((unsigned char)s[0]) || s[0] == '*' || s[0] == '@') return 0;
	const char *eq = memchr(s, '=', len);
	if (!eq || eq == s) return 0;
	for (const char *q = s; q < eq; q++)
		if (*q == ' ' || *q == '\t') {
			for (; q < eq; q++) if (*q != ' ' && *q != '\t') return 0;  /* "NAME =" is fine */
			break;
		}
	return 1;
}

static void add_error(parser *p, int line, int col, enum file_msg id, ...)
{
	crontab_file *f = p->f;
	cron_error *a = grow(f->errors, &p->cap_errors, f->n_errors, sizeof *a);
	if (!a) { p->oom = 1; return; }
	f->errors = a;
	cron_error *e = &a[f->n_errors++];
	e->line = line;
	e->col = col;
	va_list ap;
	va_start(ap, id);
	vsnprintf(e->msg, sizeof e->msg, file_msgs[id], ap);
	va_end(ap);
}

static void add_sched_error(parser *p, int line, const cron_error *ce)
{
	add_error(p, line, ce->col, F_SCHEDULE, ce->msg);
}

static char *dupn(parser *p, const char *s, size_t n)
{
	char *r = malloc(n + 1);
	if (!r) { p->oom = 1; return NULL; }
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

/* Debian's env.c state machine over one line (leading blanks skipped, no
 * newline).  Returns 1 and fills name/value (malloc'd) when it is an env
 * setting, 0 when it is not. */
static int parse_env(parser *p, const char *s, size_t len, char **name, char **value)
{
	enum { NAMEI, NAME, EQ1, EQ2, VALUEI, VALUE, FINI, ERROR };
	int state = NAMEI;
	char quote = 0;
	size_t i = 0, nn = 0, vn = 0;
	char *nb = malloc(len + 1), *vb = malloc(len + 1), *str = nb;
	size_t *sn = &nn;
	if (!nb || !vb) { free(nb); free(vb); p->oom = 1; return 0; }
	while (state != ERROR && i < len) {
		char c = s[i];
		switch (state) {
		case NAMEI: case VALUEI:
			if (c == '\'' || c == '"') { quote = c; i++; }
			state++;
			break;
		case NAME: case VALUE:
			if (quote) {
				if (c == quote) { state++; i++; break; }
				if (state == NAME && c == '=') { state = ERROR; break; }
			} else if (state == NAME) {
				if (isspace((unsigned char)c)) { i++; state++; break; }
				if (c == '=') { state++; break; }
			}
			str[(*sn)++] = c;
			i++;
			break;
		case EQ1:
			if (c == '=') { state++; str = vb; sn = &vn; quote = 0; }
			else if (!isspace((unsigned char)c)) state = ERROR;
			i++;
			break;
		case EQ2: case FINI:
			if (isspace((unsigned char)c)) i++; else state++;
			break;
		}
	}
	/* NAMEI/VALUEI at the end of input: the loop ran out before the step */
	if (state != FINI && !(state == VALUE && !quote)) { free(nb); free(vb); return 0; }
	if (state == VALUE) while (vn > 0 && isspace((unsigned char)vb[vn - 1])) vn--;
	nb[nn] = 0;
	vb[vn] = 0;
	*name = nb;
	*value = vb;
	return 1;
}

/* Splits a command as the daemon does before running it.  Command part: a
 * backslash escapes the next byte; an escaped '%' becomes '%' (the backslash
 * goes), any other escaped byte keeps its backslash; the first unescaped '%'
 * ends the command.  Input part: '%' becomes a newline, "\%" becomes '%',
 * other backslash pairs stay, a final lone backslash is dropped, and a
 * newline is added when the input does not end with one. */
static void split_command(parser *p, crontab_job *j)
{
	const char *c = j->command;
	size_t n = strlen(c), o = 0, i = 0;
	char *sh = malloc(n + 1);
	if (!sh) { p->oom = 1; return; }
	int esc = 0, pct = 0;
	for (; i < n; i++) {
		char ch = c[i];
		if (esc) {
			if (ch == '%') sh[o - 1] = '%'; else sh[o++] = ch;
			esc = 0;
			continue;
		}
		if (ch == '%') { pct = 1; i++; break; }
		sh[o++] = ch;
		esc = ch == '\\';
	}
	sh[o] = 0;
	j->shell_command = sh;
	if (!pct) return;
	char *in = malloc(2 * (n - i) + 2);
	if (!in) { p->oom = 1; return; }
	o = 0;
	esc = 0;
	for (; i < n; i++) {
		char ch = c[i];
		if (esc) { if (ch != '%') in[o++] = '\\'; }
		else if (ch == '%') ch = '\n';
		esc = ch == '\\';
		if (!esc) in[o++] = ch;
	}
	if (o > 0 && in[o - 1] != '\n') in[o++] = '\n';  /* the daemon ends stdin with a newline */
	in[o] = 0;
	j->input = in;
}

static void do_job(parser *p, int ln, const char *line, size_t len, size_t st)
{
	crontab_file *f = p->f;
	cron_error ce = { 0 };
	crontab_job j;
	memset(&j, 0, sizeof j);
	size_t end;
	if (cron_sched_parse(line + st, len - st, (int)st + 1, &j.expr, j.col_field, &end, &ce)) {
		add_sched_error(p, ln, &ce);
		return;
	}
	end += st;
	size_t c = end;
	while (c < len && (line[c] == ' ' || line[c] == '\t')) c++;
	if (c == len) {
		add_error(p, ln, (int)c + 1, F_EMPTY_CMD);
		return;
	}
	size_t cl = len - c;
	if (cl > CRONTAB_MAX_COMMAND) {
		add_error(p, ln, (int)c + 1, F_CMD_LONG, cl, CRONTAB_MAX_COMMAND);
		return;
	}
	if (line[len - 1] == '\r') {
		add_error(p, ln, (int)len, F_CMD_CR);
		return;
	}
	j.line = ln;
	j.col_command = (int)c + 1;
	j.schedule = dupn(p, line + st, end - st);
	j.command = dupn(p, line + c, cl);
	if (!j.schedule || !j.command) { free(j.schedule); free(j.command); return; }
	split_command(p, &j);
	j.n_env = f->n_envs;
	crontab_job *a = grow(f->jobs, &p->cap_jobs, f->n_jobs, sizeof *a);
	if (!a) { p->oom = 1; free(j.schedule); free(j.command); free(j.shell_command); free(j.input); return; }
	f->jobs = a;
	a[f->n_jobs++] = j;
}

static void do_line(parser *p, int ln, const char *line, size_t len, int last_unterminated)
{
	crontab_file *f = p->f;
	size_t st = 0;
	if (ln == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		add_error(p, 1, 1, F_BOM);
		st = 3;
	}
	const char *nul = memchr(line, 0, len);
	if (nul) {
		add_error(p, ln, (int)(nul - line) + 1, F_NUL);
		return;
	}
	while (st < len && (line[st] == ' ' || line[st] == '\t')) st++;
	if (st == len || line[st] == '#') {
		if (st < len) {
			crontab_comment *a = grow(f->comments, &p->cap_comments, f->n_comments, sizeof *a);
			if (!a) { p->oom = 1; return; }
			f->comments = a;
			char *t = dupn(p, line, len);
			if (!t) return;
			a[f->n_comments].line = ln;
			a[f->n_comments].text = t;
			f->n_comments++;
		}
		return;
	}
	if (last_unterminated)
		add_error(p, ln, (int)len + 1, F_NO_NEWLINE);
	char *name = NULL, *value = NULL;
	if (parse_env(p, line + st, len - st, &name, &value)) {
		if (len - st > ENV_LINE_MAX) {
			add_error(p, ln, (int)st + ENV_LINE_MAX + 1, F_ENV_LONG, len - st, ENV_LINE_MAX);
			free(name); free(value);
			return;
		}
		crontab_env *a = grow(f->envs, &p->cap_envs, f->n_envs, sizeof *a);
		if (!a) { p->oom = 1; free(name); free(value); return; }
		f->envs = a;
		a[f->n_envs].line = ln;
		a[f->n_envs].name = name;
		a[f->n_envs].value = value;
		f->n_envs++;
		return;
	}
	if (len - st == 1 && line[st] == '\r') {
		add_error(p, ln, (int)st + 1, F_CR_LINE);
		return;
	}
	if (looks_like_env(line + st, len - st)) {
		size_t show = len - st;
		while (show > 0 && (line[st + show - 1] == '\r' || line[st + show - 1] == ' ')) show--;
		add_error(p, ln, (int)st + 1, F_ENV_BAD, (int)(show < 60 ? show : 60), line + st);
		return;
	}
	do_job(p, ln, line, len, st);
}

static int err_cmp(const void *a, const void *b)
{
	const cron_error *x = a, *y = b;
	if (x->line != y->line) return x->line < y->line ? -1 : 1;
	return (x->col > y->col) - (x->col < y->col);
}

int crontab_parse(const char *path, const char *buf, size_t len, crontab_file **out)
{
	*out = NULL;
	crontab_file *f = calloc(1, sizeof *f);
	if (!f) return -1;
	f->path = strdup(path ? path : "-");
	parser p = { .f = f };
	if (!f->path) p.oom = 1;
	size_t pos = 0;
	int ln = 0;
	while (pos < len && !p.oom) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t e = nl ? (size_t)(nl - buf) : len;
		ln++;
		if (ln == CRONTAB_MAX_LINES + 1)
			add_error(&p, ln, 1, F_TOO_MANY_LINES, CRONTAB_MAX_LINES);
		do_line(&p, ln, buf + pos, e - pos, nl == NULL);
		pos = e + 1;
	}
	f->n_lines = ln;
	if (p.oom) { crontab_free(f); return -1; }
	/* comment directly above each job */
	for (size_t i = 0, k = 0; i < f->n_jobs; i++) {
		while (k < f->n_comments && f->comments[k].line < f->jobs[i].line - 1) k++;
		f->jobs[i].comment_above = (k < f->n_comments && f->comments[k].line == f->jobs[i].line - 1)
		                           ? &f->comments[k] : NULL;
	}
	if (f->n_errors > 1) qsort(f->errors, f->n_errors, sizeof *f->errors, err_cmp);
	*out = f;
	return f->n_errors ? 1 : 0;
}

int crontab_parse_file(const char *path, crontab_file **out, cron_error *err)
{
	*out = NULL;
	int rc = -1;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (err) { err->line = 0; err->col = 0; err->msg[0] = 0; }
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		if (err) snprintf(err->msg, sizeof err->msg, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= (64u << 20)) {
				if (err) snprintf(err->msg, sizeof err->msg, "%s: file larger than 64 MiB", path);
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap);
			if (!nb) { if (err) snprintf(err->msg, sizeof err->msg, "out of memory"); goto out; }
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, fp);
		len += r;
		if (r == 0) break;
	}
	if (ferror(fp)) {
		if (err) snprintf(err->msg, sizeof err->msg, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	rc = crontab_parse(path, buf ? buf : "", len, out);
	if (rc < 0 && err) snprintf(err->msg, sizeof err->msg, "out of memory");
out:
	if (fp) fclose(fp);
	free(buf);
	return rc;
}

void crontab_free(crontab_file *f)
{
	if (!f) return;
	for (size_t i = 0; i < f->n_jobs; i++) {
		free(f->jobs[i].schedule);
		free(f->jobs[i].command);
		free(f->jobs[i].shell_command);
		free(f->jobs[i].input);
	}
	for (size_t i = 0; i < f->n_envs; i++) { free(f->envs[i].name); free(f->envs[i].value); }
	for (size_t i = 0; i < f->n_comments; i++) free(f->comments[i].text);
	free(f->jobs);
	free(f->envs);
	free(f->comments);
	free(f->errors);
	free(f->path);
	free(f);
}

const char *crontab_job_env(const crontab_file *f, const crontab_job *j, const char *name)
{
	for (size_t i = j->n_env; i-- > 0;)
		if (!strcmp(f->envs[i].name, name)) return f->envs[i].value;
	return NULL;
}
