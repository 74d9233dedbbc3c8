/* validator/summary_verify.c — rules S1-S8: the deterministic check that a
 * summary (written by the model, or by anyone) is true to its alert facts.
 *
 * The text is read in three passes:
 *   1. whole-text rules that need no tokens: S6 (links, mentions, fences,
 *      headers, long copies of output), S7 (UTF-8, printable, length);
 *   2. spans that are not prose: quotes (checked by S8, then left out of the
 *      other rules, since their words belong to the job's output) and check
 *      display names (a name mentions its check; its words are not tokens);
 *   3. tokens of the rest: slug mentions, numbers (times, dates, durations,
 *      exit statuses, counts), words and clause breaks, which S1-S5 read.
 * Each rule keeps only its first finding.  Nothing here allocates per token
 * beyond one array of items and one byte mask, both freed before returning. */
#include "validator/validator.h"
#include "validator/val_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const rule_text[VAL_SUM_RULES] = {
	"S1 every slug named is a check of this batch",
	"S2 every down or unknown check is named",
	"S3 every number can be derived from the facts",
	"S4 state words next to a slug match that check",
	"S5 no claim of a fix, restart or of anyone handling it",
	"S6 no links, mentions, code fences, headers or long copies of output",
	"S7 20 to 400 printable characters, at most 3 sentences",
	"S8 quoted text appears verbatim in an output tail or crontab line",
};

const char *val_summary_rule(int r)
{
	return r >= 1 && r <= VAL_SUM_RULES ? rule_text[r - 1] : "?";
}

/* ---- small helpers ------------------------------------------------------------ */

typedef struct vctx {
	const val_facts *f;
	const char *t;             /* the text */
	size_t n;                  /* its length in bytes */
	unsigned char *mask;       /* per byte: M_TEXT, M_QUOTE, M_NAME, M_HOST */
	int *named;                /* per check: mentioned somewhere */
	const char *const *reg;
	val_sum_verdict *v;
} vctx;

enum { M_TEXT = 0, M_QUOTE = 1, M_NAME = 2, M_HOST = 3 };

/* Records the first finding of rule r. */
static void broke(vctx *c, int r, const char *fmt, ...)
{
	if (c->v->broken & (1u << (r - 1))) return;
	c->v->broken |= 1u << (r - 1);
	char *w = c->v->why[r - 1];
	int k = snprintf(w, sizeof c->v->why[0], "S%d: ", r);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w + k, sizeof c->v->why[0] - (size_t)k, fmt, ap);
	va_end(ap);
	/* Keep the report one printable line. */
	for (char *p = w; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
}

/* A quotable excerpt of t[a,b): at most 60 bytes, cut on a character boundary. */
static void excerpt(const char *t, size_t a, size_t b, char *out, size_t n)
{
	size_t len = b - a;
	if (len > 60) {
		len = 60;
		while (len > 0 && ((unsigned char)t[a + len] & 0xC0) == 0x80) len--;
	}
	if (len + 4 > n) len = n - 4;
	memcpy(out, t + a, len);
	strcpy(out + len, b - a > len ? "..." : "");
}

static int is_wordc(unsigned char ch)
{
	return (ch < 0x80 && isalnum(ch)) || ch == '-' || ch == '_';
}

static int is_alpha(unsigned char ch) { return ch < 0x80 && isalpha(ch); }
static int is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

static int span_eq_ci(const char *t, size_t a, size_t b, const char *s)
{
	size_t len = strlen(s);
	return b - a == len && strncasecmp(t + a, s, len) == 0;
}

static int in_list(const char *t, size_t a, size_t b, const char *const *list)
{
	for (; *list; list++)
		if (span_eq_ci(t, a, b, *list)) return 1;
	return 0;
}

/* ---- pass 1: S6 and S7 ------------------------------------------------------------ */

/* Decodes one UTF-8 character at s[i]; returns its length, or 0 if invalid. */
static size_t utf8_dec(const unsigned char *s, size_t n, size_t i, unsigned *cp)
{
	unsigned c = s[i];
	size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
	if (!len || i + len > n) return 0;
	unsigned v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
	for (size_t k = 1; k < len; k++) {
		if ((s[i + k] & 0xC0) != 0x80) return 0;
		v = v << 6 | (s[i + k] & 0x3F);
	}
	static const unsigned minv[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (v < minv[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
	*cp = v;
	return len;
}

static int bad_cp(unsigned cp)
{
	return (cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F) ||
	       (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF;
}

static void rule_s7_chars(vctx *c)
{
	const unsigned char *s = (const unsigned char *)c->t;
	size_t chars = 0;
	for (size_t i = 0; i < c->n;) {
		unsigned cp = 0;
		size_t len = utf8_dec(s, c->n, i, &cp);
		if (!len) { broke(c, 7, "invalid UTF-8 at byte %zu", i); return; }
		if (bad_cp(cp)) { broke(c, 7, "unprintable character U+%04X at byte %zu", cp, i); return; }
		chars++;
		i += len;
	}
	if (chars < 20 || chars > 400)
		broke(c, 7, "%zu characters (20 to 400 allowed)", chars);
}

/* The first link, mention, code fence, emphasis or header in t[0,n) (t is
 * NUL-terminated at n).  Returns its kind ("link", "mention", ...), or NULL
 * when there is none; a link or mention's span is [*a,*b), empty for the rest. */
static const char *markup_in(const char *t, size_t n, size_t *a, size_t *b)
{
	const char *p;
	if ((p = strstr(t, "://")) || (p = strcasestr(t, "www.")) || (p = strcasestr(t, "<http")) ||
	    (p = strcasestr(t, "mailto:"))) {
		*a = *b = (size_t)(p - t);
		while (*a > 0 && !isspace((unsigned char)t[*a - 1])) (*a)--;
		while (*b < n && !isspace((unsigned char)t[*b])) (*b)++;
		return "link";
	}
	for (size_t i = 0; i < n; i++) {
		if ((t[i] == '@' && i + 1 < n && is_wordc((unsigned char)t[i + 1])) ||
		    (t[i] == '<' && (t[i + 1] == '!' || t[i + 1] == '@' || t[i + 1] == '#'))) {
			size_t e = i + 1;
			while (e < n && (is_wordc((unsigned char)t[e]) || t[e] == '!' || t[e] == '@')) e++;
			*a = i, *b = e;
			return "mention";
		}
	}
	*a = *b = 0;
	if (strstr(t, "```")) return "code fence";
	if (strstr(t, "**") || strstr(t, "__")) return "markdown emphasis";
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && t[i - 1] != '\n') continue;
		size_t j = i;
		while (j < n && (t[j] == ' ' || t[j] == '\t')) j++;
		if (t[j] == '#' && (t[j + 1] == '#' || t[j + 1] == ' ')) return "markdown header";
	}
	return NULL;
}

int val_sum_snippet_clean(const char *s, size_t n)
{
	char buf[256];
	if (n >= sizeof buf) return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	for (size_t i = 0; i < n;) {
		unsigned cp = 0;
		size_t len = utf8_dec((const unsigned char *)buf, n, i, &cp);
		if (!len || bad_cp(cp) || cp == '\n') return 0;   /* a NUL byte too */
		i += len;
	}
	size_t a, b;
	return markup_in(buf, n, &a, &b) == NULL;
}

static void rule_s6(vctx *c)
{
	const char *t = c->t;
	char ex[80];
	size_t ma, mb;
	const char *what = markup_in(t, c->n, &ma, &mb);
	if (what) {
		if (mb > ma) {
			excerpt(t, ma, mb, ex, sizeof ex);
			broke(c, 6, "%s \"%s\"", what, ex);
		} else {
			broke(c, 6, "%s", what);
		}
		return;
	}
	/* More than 80 bytes copied from an output tail: any 81-byte window of
	 * the text found in a tail. */
	for (size_t k = 0; k < c->f->n_checks; k++) {
		const char *tail = c->f->checks[k].output_tail;
		if (!tail || c->n < 81) continue;
		size_t tl = strlen(tail);
		for (size_t i = 0; i + 81 <= c->n; i++)
			if (memmem(tail, tl, t + i, 81)) {
				size_t b = i + 81;
				while (b < c->n && memmem(tail, tl, t + i, b + 1 - i)) b++;
				broke(c, 6, "%zu characters copied from the output tail of %s (at most 80)",
				      b - i, c->f->checks[k].slug);
				return;
			}
	}
}

/* ---- pass 2: quotes and names ---------------------------------------------------- */

/* The check whose slug, else whose display name, is s[0,len); -1 if none.
 * A slug wins: it names one check, while a name may repeat another's slug. */
static int is_slug_or_name(const val_facts *f, const char *s, size_t len)
{
	for (size_t k = 0; k < f->n_checks; k++)
		if (strlen(f->checks[k].slug) == len && !strncasecmp(f->checks[k].slug, s, len)) return (int)k;
	for (size_t k = 0; k < f->n_checks; k++) {
		const char *nm = f->checks[k].name;
		if (nm && strlen(nm) == len && !strncmp(nm, s, len)) return (int)k;
	}
	return -1;
}

static void check_quote(vctx *c, size_t a, size_t b)  /* content t[a,b) */
{
	for (size_t i = a; i < b; i++) c->mask[i] = M_QUOTE;
	if (b == a) return;
	int k = is_slug_or_name(c->f, c->t + a, b - a);
	if (k >= 0) {     /* "backup-db", `backup-db`: a mention, read as one */
		memset(c->mask + a, M_NAME, b - a);
		c->named[k] = 1;
		return;
	}
	for (size_t j = 0; j < c->f->n_checks; j++) {
		const char *o = c->f->checks[j].output_tail, *l = c->f->checks[j].crontab_line;
		if ((o && memmem(o, strlen(o), c->t + a, b - a)) || (l && memmem(l, strlen(l), c->t + a, b - a)))
			return;
	}
	char ex[80];
	excerpt(c->t, a, b, ex, sizeof ex);
	broke(c, 8, "quoted \"%s\" does not appear in any output_tail or crontab_line", ex);
}

static int quote_close_ok(const char *t, size_t n, size_t i)  /* a closing ' at i */
{
	unsigned char nx = i + 1 < n ? (unsigned char)t[i + 1] : ' ';
	return !is_wordc(nx);
}

static void find_quotes(vctx *c)
{
	const char *t = c->t;
	size_t n = c->n;
	static const char ldq[] = "\xE2\x80\x9C", rdq[] = "\xE2\x80\x9D";
	static const char lsq[] = "\xE2\x80\x98", rsq[] = "\xE2\x80\x99";
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '"') {
			const char *e = memchr(t + i + 1, '"', n - i - 1);
			if (!e) { broke(c, 8, "unterminated quote at byte %zu", i); c->mask[i] = M_QUOTE; continue; }
			size_t j = (size_t)(e - t);
			c->mask[i] = c->mask[j] = M_QUOTE;
			check_quote(c, i + 1, j);
			i = j;
		} else if (!strncmp(t + i, ldq, 3) || (!strncmp(t + i, lsq, 3))) {
			const char *close = t[i + 2] == '\x9C' ? rdq : rsq;
			const char *e = NULL;
			for (size_t j = i + 3; j + 3 <= n; j++)
				if (!strncmp(t + j, close, 3)) { e = t + j; break; }
			if (!e) { broke(c, 8, "unterminated quote at byte %zu", i); continue; }
			size_t j = (size_t)(e - t);
			memset(c->mask + i, M_QUOTE, 3);
			memset(c->mask + j, M_QUOTE, 3);
			check_quote(c, i + 3, j);
			i = j + 2;
		} else if (!strncmp(t + i, "```", 3)) {
			i += 2;                  /* a code fence: S6's business, not a quote */
		} else if (t[i] == '`') {
			const char *e = memchr(t + i + 1, '`', n - i - 1);
			if (!e) { broke(c, 8, "unterminated code quote at byte %zu", i); continue; }
			size_t j = (size_t)(e - t);
			c->mask[i] = c->mask[j] = M_QUOTE;
			check_quote(c, i + 1, j);
			i = j;
		} else if (t[i] == '\'' && (i == 0 || strchr(" \t\n(:[", t[i - 1])) && i + 1 < n &&
		           !isspace((unsigned char)t[i + 1])) {
			/* An opening single quote; an apostrophe ("hasn't") never gets here. */
			size_t j;
			for (j = i + 1; j < n; j++)
				if (t[j] == '\'' && quote_close_ok(t, n, j)) break;
			if (j >= n) continue;    /* no closing quote: read it as an apostrophe */
			c->mask[i] = c->mask[j] = M_QUOTE;
			check_quote(c, i + 1, j);
			i = j;
		}
	}
}

static void find_names(vctx *c)
{
	for (size_t k = 0; k < c->f->n_checks; k++) {
		const val_fact_check *ck = &c->f->checks[k];
		if (!ck->name || !strcmp(ck->name, ck->slug)) continue;
		size_t len = strlen(ck->name);
		if (len < 2 || is_slug_or_name(c->f, ck->name, len) != (int)k) continue;   /* another's slug, or an earlier check's name */
		for (const char *p = c->t; (p = memmem(p, c->n - (size_t)(p - c->t), ck->name, len)); p++) {
			size_t a = (size_t)(p - c->t), b = a + len;
			if ((a > 0 && is_wordc((unsigned char)c->t[a - 1])) || (b < c->n && is_wordc((unsigned char)c->t[b])))
				continue;
			int clear = 1;
			for (size_t i = a; i < b; i++) if (c->mask[i]) clear = 0;
			if (!clear) continue;
			memset(c->mask + a, M_NAME, len);
			c->named[k] = 1;
		}
	}
	/* A dotted host name ("vps-1.example.com") is a fact, not words and a
	 * slug; one without dots is read as a token (slug_of). */
	const char *h = c->f->host;
	size_t hl = h ? strlen(h) : 0;
	if (hl < 3 || !strchr(h, '.')) return;
	for (size_t i = 0; i + hl <= c->n; i++) {
		if (strncasecmp(c->t + i, h, hl) || (i > 0 && is_wordc((unsigned char)c->t[i - 1])) ||
		    (i + hl < c->n && is_wordc((unsigned char)c->t[i + hl])))
			continue;
		int clear = 1;
		for (size_t j = i; j < i + hl; j++) if (c->mask[j]) clear = 0;
		if (!clear) continue;
		memset(c->mask + i, M_HOST, hl);
		i += hl - 1;
	}
}

/* ---- pass 3: tokens ---------------------------------------------------------------- */

enum itype { I_SLUG, I_NAME, I_NUM, I_WORD, I_BREAK };
enum nkind { N_INT, N_TIME, N_DATE, N_DATETIME };

typedef struct item {
	enum itype type;
	size_t a, b;              /* bytes of the token (for numbers: with the unit) */
	int check;                /* I_SLUG/I_NAME: check index; -1 unknown slug, -2 registered elsewhere */
	enum nkind nk;
	double num;               /* N_INT: the value */
	int decimals;             /* N_INT: digits after the point */
	double unit;              /* N_INT: seconds per unit (0: no unit) */
	int Y, M, D, h, m, s;     /* dates and times; s = -1 when not given */
} item;

typedef struct items { item *v; size_t n, cap; } items;

static item *push(items *it, enum itype type, size_t a, size_t b)
{
	if (it->n == it->cap) {
		size_t nc = it->cap ? it->cap * 2 : 64;
		item *nv = realloc(it->v, nc * sizeof *nv);
		if (!nv) return NULL;
		it->v = nv;
		it->cap = nc;
	}
	item *x = &it->v[it->n++];
	memset(x, 0, sizeof *x);
	x->type = type; x->a = a; x->b = b; x->check = -1; x->s = -1;
	return x;
}

static int slug_of(const vctx *c, size_t a, size_t b)
{
	for (size_t k = 0; k < c->f->n_checks; k++)
		if (span_eq_ci(c->t, a, b, c->f->checks[k].slug)) return (int)k;
	if (c->f->host && span_eq_ci(c->t, a, b, c->f->host)) return -4;   /* the host: a fact too */
	if (c->reg)
		for (const char *const *r = c->reg; *r; r++)
			if (span_eq_ci(c->t, a, b, *r)) return -2;
	return -3;
}

static int slug_like(const char *t, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++) {
		if (t[i] == '-' || t[i] == '_') return 1;
		if (i > a && ((is_digit(t[i]) && is_alpha(t[i - 1])) || (is_alpha(t[i]) && is_digit(t[i - 1]))))
			return 1;
	}
	return 0;
}

static int num_at(const char *t, size_t n, size_t i, int len, int *out)
{
	if (i + (size_t)len > n) return 0;
	int v = 0;
	for (int k = 0; k < len; k++) {
		if (!is_digit(t[i + k])) return 0;
		v = v * 10 + (t[i + k] - '0');
	}
	*out = v;
	return 1;
}

/* "HH:MM[:SS]" or "H:MM" at i; returns its end, or 0. */
static size_t time_at(const char *t, size_t n, size_t i, int *h, int *m, int *s)
{
	size_t j = i;
	if (num_at(t, n, j, 2, h)) j += 2;
	else if (num_at(t, n, j, 1, h)) j += 1;
	else return 0;
	if (j >= n || t[j] != ':' || !num_at(t, n, j + 1, 2, m)) return 0;
	j += 3;
	*s = -1;
	if (j < n && t[j] == ':' && num_at(t, n, j + 1, 2, s)) {
		j += 3;
		if (j < n && t[j] == '.') { j++; while (j < n && is_digit(t[j])) j++; }
	}
	if (j < n && (is_digit(t[j]) || t[j] == ':')) return 0;
	if (*h > 23 || *m > 59 || *s > 60) return 0;
	return j;
}

static const struct unit { const char *w; double sec; } units[] = {
	{"ms", 0.001}, {"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
	{"m", 60}, {"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
	{"h", 3600}, {"hr", 3600}, {"hrs", 3600}, {"hour", 3600}, {"hours", 3600},
	{"d", 86400}, {"day", 86400}, {"days", 86400}, {"w", 604800}, {"week", 604800}, {"weeks", 604800},
};

static double unit_of(const char *t, size_t a, size_t b)
{
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
		if (span_eq_ci(t, a, b, units[u].w)) return units[u].sec;
	return 0;
}

static size_t skip_blank(const vctx *c, size_t j)
{
	while (j < c->n && c->t[j] == ' ' && !c->mask[j]) j++;
	return j;
}

static size_t word_end(const vctx *c, size_t j)
{
	while (j < c->n && is_wordc((unsigned char)c->t[j]) && !c->mask[j]) j++;
	return j;
}

/* Reads a number starting at i (a digit at a word start). */
static int scan_number(vctx *c, items *it, size_t i, size_t *next)
{
	const char *t = c->t;
	size_t n = c->n, j;
	int Y, M, D, h, m, s;
	/* date, or date and time */
	if (num_at(t, n, i, 4, &Y) && i + 10 <= n && t[i + 4] == '-' && num_at(t, n, i + 5, 2, &M) &&
	    t[i + 7] == '-' && num_at(t, n, i + 8, 2, &D) && (i + 10 == n || !is_digit(t[i + 10]))) {
		item *x = push(it, I_NUM, i, i + 10);
		if (!x) return -1;
		x->nk = N_DATE; x->Y = Y; x->M = M; x->D = D;
		j = i + 10;
		if (j < n && (t[j] == 'T' || t[j] == 't' || t[j] == ' ')) {
			size_t e = time_at(t, n, j + 1, &h, &m, &s);
			if (e) {
				x->nk = N_DATETIME; x->h = h; x->m = m; x->s = s;
				j = e;
				if (j < n && (t[j] == 'Z' || t[j] == 'z')) j++;
				x->b = j;
			}
		}
		*next = j;
		return 0;
	}
	size_t e = time_at(t, n, i, &h, &m, &s);
	if (e) {
		item *x = push(it, I_NUM, i, e);
		if (!x) return -1;
		x->nk = N_TIME; x->h = h; x->m = m; x->s = s;
		/* "7:45 pm" */
		size_t k = skip_blank(c, e);
		size_t we = word_end(c, k);
		if (span_eq_ci(t, k, we, "pm") || span_eq_ci(t, k, we, "am")) {
			if (tolower((unsigned char)t[k]) == 'p' && x->h < 12) x->h += 12;
			if (tolower((unsigned char)t[k]) == 'a' && x->h == 12) x->h = 0;
			x->b = e = we;
		}
		*next = e;
		return 0;
	}
	/* a plain number, perhaps with a unit */
	j = i;
	double v = 0;
	while (j < n && is_digit(t[j])) v = v * 10 + (t[j++] - '0');
	int dec = 0;
	if (j + 1 < n && t[j] == '.' && is_digit(t[j + 1]) && !c->mask[j]) {
		double scale = 0.1;
		for (j++; j < n && is_digit(t[j]); j++, dec++, scale /= 10) v += (t[j] - '0') * scale;
	}
	size_t we = word_end(c, j);
	double unit = 0;
	if (we > j && !dec && (span_eq_ci(t, j, we, "am") || span_eq_ci(t, j, we, "pm")) && v >= 1 && v <= 12) {
		/* "7am": an hour on the clock */
		item *x = push(it, I_NUM, i, we);
		if (!x) return -1;
		x->nk = N_TIME;
		x->h = (int)v % 12 + (tolower((unsigned char)t[j]) == 'p' ? 12 : 0);
		x->m = 0;
		*next = we;
		return 0;
	}
	if (we > j) {
		unit = unit_of(t, j, we);
		if (!unit) return 1;            /* "3rd", "4xx": a slug-like word */
		j = we;
	} else {
		size_t k = skip_blank(c, j);
		size_t ke = word_end(c, k);
		if (ke > k && (unit = unit_of(t, k, ke)) != 0) j = ke;   /* "12 s", "45 min" */
	}
	item *x = push(it, I_NUM, i, j);
	if (!x) return -1;
	x->nk = N_INT; x->num = v; x->decimals = dec; x->unit = unit;
	*next = j;
	return 0;
}

static int tokenize(vctx *c, items *it)
{
	const char *t = c->t;
	size_t n = c->n;
	for (size_t i = 0; i < n;) {
		if (c->mask[i] == M_QUOTE || c->mask[i] == M_HOST) { i++; continue; }
		if (c->mask[i] == M_NAME) {
			size_t j = i;
			while (j < n && c->mask[j] == M_NAME) j++;
			int k = is_slug_or_name(c->f, t + i, j - i);
			if (k < 0)   /* adjacent names: find the first that starts here */
				for (size_t q = 0; q < c->f->n_checks; q++) {
					const char *nm = c->f->checks[q].name;
					if (nm && strlen(nm) <= j - i && !strncmp(nm, t + i, strlen(nm))) { k = (int)q; j = i + strlen(nm); break; }
				}
			item *x = push(it, I_NAME, i, j);
			if (!x) return -1;
			x->check = k;
			i = j;
			continue;
		}
		unsigned char ch = (unsigned char)t[i];
		if (ch == '.' || ch == '!' || ch == '?' || ch == ';' || ch == '\n') {
			if (!push(it, I_BREAK, i, i + 1)) return -1;
			i++;
			continue;
		}
		if (!is_wordc(ch)) { i++; continue; }
		size_t we = word_end(c, i);
		/* a slug mention, whatever it contains */
		int k = slug_of(c, i, we);
		size_t a = i, b = we;
		if (k == -3) {   /* "-backup-db-" as a dash-wrapped mention */
			while (a < b && (t[a] == '-' || t[a] == '_')) a++;
			while (b > a && (t[b - 1] == '-' || t[b - 1] == '_')) b--;
			if (a < b && (a != i || b != we)) k = slug_of(c, a, b);
		}
		if (k == -4) {
			if (!push(it, I_WORD, a, b)) return -1;
			i = we;
			continue;
		}
		if (k != -3) {
			item *x = push(it, I_SLUG, a, b);
			if (!x) return -1;
			x->check = k;
			i = we;
			continue;
		}
		if (is_digit(ch)) {
			size_t next;
			int r = scan_number(c, it, i, &next);
			if (r < 0) return -1;
			if (r == 0) { i = next; continue; }
		}
		if (a < b && slug_like(t, a, b)) {
			item *x = push(it, I_SLUG, a, b);
			if (!x) return -1;
			x->check = -1;
		} else if (a < b) {
			if (!push(it, I_WORD, a, b)) return -1;
		}
		i = we;
	}
	return 0;
}

/* ---- S1 and S2 ---------------------------------------------------------------------- */

static void rule_s1_s2(vctx *c, const items *it)
{
	char ex[80];
	for (size_t i = 0; i < it->n; i++) {
		const item *x = &it->v[i];
		if (x->type != I_SLUG && x->type != I_NAME) continue;
		if (x->check >= 0) { c->named[x->check] = 1; continue; }
		excerpt(c->t, x->a, x->b, ex, sizeof ex);
		if (x->check == -2) broke(c, 1, "\"%s\" is a registered check that is not in this batch", ex);
		else broke(c, 1, "\"%s\" is not a check of this batch", ex);
	}
	for (size_t k = 0; k < c->f->n_checks; k++) {
		const val_fact_check *ck = &c->f->checks[k];
		if ((ck->state == VAL_FACT_DOWN || ck->state == VAL_FACT_UNKNOWN) && !c->named[k]) {
			broke(c, 2, "%s is %s but not named", ck->slug, val_fact_state_name(ck->state));
			return;
		}
	}
}

/* ---- S3: numbers ------------------------------------------------------------------ */

typedef struct tfacts {
	long long *times;  size_t nt;      /* every time in the facts */
	double *durs;      size_t nd;      /* durations in seconds */
	int counts[64];    size_t nc;
} tfacts;

static void add_count(tfacts *tf, int v)
{
	if (v <= 0 || tf->nc >= 64) return;
	for (size_t i = 0; i < tf->nc; i++) if (tf->counts[i] == v) return;
	tf->counts[tf->nc++] = v;
}

static int collect(const val_facts *f, tfacts *tf)
{
	size_t nk = f->n_checks;
	tf->times = malloc((1 + 5 * nk) * sizeof *tf->times);
	tf->durs = malloc((2 + 21) * (nk + 1) * sizeof *tf->durs);
	if (!tf->times || !tf->durs) return -1;
	tf->times[tf->nt++] = f->generated_at;
	int by_state[4] = {0}, by_reason[7] = {0}, failing = 0, alerting = 0, muted = 0;
	for (size_t k = 0; k < nk; k++) {
		const val_fact_check *ck = &f->checks[k];
		long long ts[6] = { f->generated_at, ck->since, ck->expected_at, ck->last_start,
		                    ck->last_success, ck->last_fail };
		for (int i = 1; i < 6; i++) if (ts[i] != VAL_NO_TIME) tf->times[tf->nt++] = ts[i];
		if (ck->duration_s >= 0) tf->durs[tf->nd++] = ck->duration_s;
		if (ck->grace_s >= 0) tf->durs[tf->nd++] = (double)ck->grace_s;
		for (int i = 0; i < 6; i++)
			for (int j = i + 1; j < 6; j++)
				if (ts[i] != VAL_NO_TIME && ts[j] != VAL_NO_TIME && ts[i] != ts[j])
					tf->durs[tf->nd++] = fabs((double)(ts[i] - ts[j]));
		by_state[ck->state]++;
		by_reason[ck->reason]++;
		if (ck->reason == VAL_FACT_FAIL || ck->reason == VAL_FACT_EXIT) failing++;
		if (ck->state != VAL_FACT_UP) alerting++;
		if (ck->muted) muted++;
	}
	add_count(tf, (int)(nk > 1000 ? 1000 : nk));
	for (int i = 0; i < 4; i++) add_count(tf, by_state[i]);
	for (int i = 1; i < 7; i++) add_count(tf, by_reason[i]);
	add_count(tf, failing);
	add_count(tf, alerting);
	add_count(tf, by_state[VAL_FACT_DOWN] + by_state[VAL_FACT_UNKNOWN]);
	add_count(tf, muted);
	for (int st = 0; st < 4; st++)
		for (int r = 0; r < 7; r++) {
			int cnt = 0;
			for (size_t k = 0; k < nk; k++)
				if ((int)f->checks[k].state == st && (int)f->checks[k].reason == r) cnt++;
			add_count(tf, cnt);
		}
	int down_failing = 0;
	for (size_t k = 0; k < nk; k++)
		if (f->checks[k].state == VAL_FACT_DOWN &&
		    (f->checks[k].reason == VAL_FACT_FAIL || f->checks[k].reason == VAL_FACT_EXIT)) down_failing++;
	add_count(tf, down_failing);
	return 0;
}

static int time_match(const tfacts *tf, const item *x)
{
	for (size_t i = 0; i < tf->nt; i++) {
		time_t tt = (time_t)tf->times[i];
		struct tm tm;
		gmtime_r(&tt, &tm);
		int date_ok = tm.tm_year + 1900 == x->Y && tm.tm_mon + 1 == x->M && tm.tm_mday == x->D;
		int time_ok = tm.tm_hour == x->h && tm.tm_min == x->m && (x->s < 0 || tm.tm_sec == x->s);
		if (x->nk == N_DATE && date_ok) return 1;
		if (x->nk == N_TIME && time_ok) return 1;
		if (x->nk == N_DATETIME && date_ok && time_ok) return 1;
	}
	return 0;
}

static int dur_match(const tfacts *tf, double v, int decimals, double unit)
{
	for (size_t i = 0; i < tf->nd; i++) {
		double d = tf->durs[i] / unit;
		if (decimals) {
			double p = pow(10, decimals);
			if (fabs(round(d * p) - round(v * p)) < 0.5) return 1;
		} else if (floor(d) == v || round(d) == v || ceil(d) == v) {
			return 1;
		}
	}
	return 0;
}

static int exit_match(const val_facts *f, double v)
{
	for (size_t k = 0; k < f->n_checks; k++)
		if (f->checks[k].exit_status >= 0 && f->checks[k].exit_status == v) return 1;
	return 0;
}

static int count_match(const tfacts *tf, double v)
{
	for (size_t i = 0; i < tf->nc; i++) if (tf->counts[i] == v) return 1;
	return 0;
}

static int is_word(const item *x, const char *t, const char *const *list)
{
	return x->type == I_WORD && in_list(t, x->a, x->b, list);
}

static void rule_s3(vctx *c, const items *it, const tfacts *tf)
{
	static const char *const exit_w[] = { "exit", "exited", "code", "status", "rc", "returned", NULL };
	static const char *const exit_glue[] = { "with", "an", "a", "of", "exit", "code", "status", NULL };
	static const char *const count_w[] = { "check", "checks", "job", "jobs", "task", "tasks", "alert", "alerts", NULL };
	static const char *const count_glue[] = { "failed", "failing", "late", "down", "hung", "other", "more",
	                                          "muted", "recovered", "cron", "scheduled", NULL };
	static const char *const months[] = { "jan", "january", "feb", "february", "mar", "march", "apr",
	                                      "april", "may", "jun", "june", "jul", "july", "aug", "august",
	                                      "sep", "sept", "september", "oct", "october", "nov", "november",
	                                      "dec", "december", NULL };
	static const char *const clock_w[] = { "utc", "gmt", "am", "pm", "o", NULL };
	char ex[80];
	const char *t = c->t;
	for (size_t i = 0; i < it->n && !(c->v->broken & 4u); i++) {
		const item *x = &it->v[i];
		if (x->type != I_NUM) continue;
		excerpt(t, x->a, x->b, ex, sizeof ex);
		if (x->nk == N_TIME || x->nk == N_DATE || x->nk == N_DATETIME) {
			if (!time_match(tf, x))
				broke(c, 3, "\"%s\" does not match any %s in the facts", ex,
				      x->nk == N_DATE ? "date" : "time");
			continue;
		}
		if (x->unit) {
			if (!dur_match(tf, x->num, x->decimals, x->unit))
				broke(c, 3, "\"%s\" does not match any duration in the facts", ex);
			continue;
		}
		/* exit status: "exit 2", "exit code 2", "exited with status 2" */
		int is_exit = 0;
		size_t start = x->a;
		for (size_t k = i, steps = 0; k > 0 && steps < 3; k--, steps++) {
			const item *p = &it->v[k - 1];
			if (is_word(p, t, exit_w)) { is_exit = 1; start = p->a; }
			if (!is_word(p, t, exit_glue)) break;
		}
		if (is_exit) {
			if (x->decimals || !exit_match(c->f, x->num)) {
				excerpt(t, start, x->b, ex, sizeof ex);
				broke(c, 3, "\"%s\" does not match any exit status in the facts", ex);
			}
			continue;
		}
		/* a count: "3 checks", "2 failed jobs" */
		int is_count = 0;
		size_t end = x->b;
		for (size_t k = i + 1, steps = 0; k < it->n && steps < 3; k++, steps++) {
			const item *p = &it->v[k];
			if (is_word(p, t, count_w)) { is_count = 1; end = p->b; break; }
			if (!is_word(p, t, count_glue)) break;
		}
		if (is_count) {
			if (x->decimals || !count_match(tf, x->num)) {
				excerpt(t, x->a, end, ex, sizeof ex);
				broke(c, 3, "\"%s\" does not match any count in the facts", ex);
			}
			continue;
		}
		/* "Nov 25", "25 November": a day of the month; "2026": a year; "7 UTC": an hour */
		const item *prev = i > 0 ? &it->v[i - 1] : NULL, *next = i + 1 < it->n ? &it->v[i + 1] : NULL;
		if ((prev && is_word(prev, t, months)) || (next && is_word(next, t, months)) ||
		    (next && is_word(next, t, clock_w)) || (x->num >= 1970 && x->num <= 2100)) {
			int ok = 0;
			for (size_t q = 0; q < tf->nt && !ok; q++) {
				time_t tt = (time_t)tf->times[q];
				struct tm tm;
				gmtime_r(&tt, &tm);
				if (x->num >= 1970) ok = tm.tm_year + 1900 == x->num;
				else if (next && is_word(next, t, clock_w)) {
					int h = (int)x->num;
					if (span_eq_ci(t, next->a, next->b, "pm") && h < 12) h += 12;
					if (span_eq_ci(t, next->a, next->b, "am") && h == 12) h = 0;
					ok = tm.tm_hour == h && tm.tm_min == 0;
				} else ok = tm.tm_mday == x->num;
			}
			if (!ok) broke(c, 3, "\"%s\" does not match any time or date in the facts", ex);
			continue;
		}
		/* a bare number: an exit status, a count, or a duration in seconds */
		if (!x->decimals && (exit_match(c->f, x->num) || count_match(tf, x->num)))
			continue;
		if (dur_match(tf, x->num, x->decimals, 1)) continue;
		broke(c, 3, "\"%s\" cannot be derived from the facts", ex);
	}
}

/* ---- S4: state words -------------------------------------------------------------- */

enum sw { SW_NONE, SW_DOWN, SW_FAIL, SW_LATE, SW_HUNG, SW_NEVER, SW_UP, SW_GRACE };

static enum sw state_word(const char *t, const item *x)
{
	static const struct { const char *w; enum sw s; } words[] = {
		{"down", SW_DOWN}, {"failed", SW_FAIL}, {"fails", SW_FAIL}, {"failing", SW_FAIL},
		{"failure", SW_FAIL}, {"fail", SW_FAIL}, {"exited", SW_FAIL}, {"crashed", SW_FAIL},
		{"errored", SW_FAIL}, {"late", SW_LATE}, {"missed", SW_LATE}, {"overdue", SW_LATE},
		{"hung", SW_HUNG}, {"hanging", SW_HUNG}, {"stuck", SW_HUNG}, {"never", SW_NEVER},
		{"recovered", SW_UP}, {"up", SW_UP}, {"grace", SW_GRACE},
	};
	if (x->type != I_WORD) return SW_NONE;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (span_eq_ci(t, x->a, x->b, words[i].w)) return words[i].s;
	return SW_NONE;
}

static int has_ping(const val_fact_check *k)
{
	return k->last_start != VAL_NO_TIME || k->last_success != VAL_NO_TIME || k->last_fail != VAL_NO_TIME;
}

static void s4_one(vctx *c, const item *w, enum sw s, int check)
{
	const val_fact_check *k = &c->f->checks[check];
	int ok = 1;
	switch (s) {
	case SW_DOWN:  ok = k->state == VAL_FACT_DOWN; break;
	case SW_FAIL:  ok = k->reason == VAL_FACT_FAIL || k->reason == VAL_FACT_EXIT; break;
	case SW_LATE:  ok = k->reason == VAL_FACT_LATE; break;
	case SW_HUNG:  ok = k->reason == VAL_FACT_HUNG; break;
	case SW_UP:    ok = k->state == VAL_FACT_UP; break;
	case SW_GRACE: ok = k->state == VAL_FACT_GRACE; break;
	case SW_NEVER:
		if (has_ping(k)) {
			broke(c, 4, "\"never\" said of %s, which has a ping on record", k->slug);
			return;
		}
		ok = k->reason == VAL_FACT_NEVER_PINGED;
		break;
	case SW_NONE: break;
	}
	if (!ok) {
		const char *rn = val_fact_reason_name(k->reason);
		broke(c, 4, "\"%.*s\" does not match %s (state %s, reason %s)", (int)(w->b - w->a),
		      c->t + w->a, k->slug, val_fact_state_name(k->state), rn ? rn : "none");
	}
}

static void rule_s4(vctx *c, const items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		enum sw s = state_word(c->t, &it->v[i]);
		if (s == SW_NONE) continue;
		/* The nearest mention before it in the same clause ... */
		int bound = 0;
		for (size_t k = i; k > 0; k--) {
			const item *p = &it->v[k - 1];
			if (p->type == I_BREAK) break;
			if ((p->type == I_SLUG || p->type == I_NAME) && p->check >= 0) {
				s4_one(c, &it->v[i], s, p->check);
				bound = 1;
				break;
			}
		}
		if (bound) continue;
		/* ... or, when none ("3 checks failed: a, b, c"), every mention after
		 * it up to the clause's end or the next state word ... */
		for (size_t k = i + 1; k < it->n; k++) {
			const item *p = &it->v[k];
			if (p->type == I_BREAK) break;
			/* "late and in their grace period: a, b": both words bind to a, b */
			if (state_word(c->t, p) != SW_NONE) { if (bound) break; continue; }
			if ((p->type == I_SLUG || p->type == I_NAME) && p->check >= 0) {
				s4_one(c, &it->v[i], s, p->check);
				bound = 1;
			}
		}
		if (bound) continue;
		/* ... or, for a clause that names no check ("It is down."), the
		 * nearest mention before it, else the nearest after it.  A state
		 * word with no check anywhere is a claim nothing can back. */
		int k2 = -1;
		for (size_t k = i; k > 0 && k2 < 0; k--)
			if ((it->v[k - 1].type == I_SLUG || it->v[k - 1].type == I_NAME) && it->v[k - 1].check >= 0)
				k2 = it->v[k - 1].check;
		for (size_t k = i + 1; k < it->n && k2 < 0; k++)
			if ((it->v[k].type == I_SLUG || it->v[k].type == I_NAME) && it->v[k].check >= 0)
				k2 = it->v[k].check;
		if (k2 >= 0) s4_one(c, &it->v[i], s, k2);
		else broke(c, 4, "\"%.*s\" is not said of any check of this batch",
		           (int)(it->v[i].b - it->v[i].a), c->t + it->v[i].a);
	}
}

/* ---- S5: claims of a fix ---------------------------------------------------------------- */

static void rule_s5(vctx *c, const items *it)
{
	static const char *const claim[] = {
		"fixed", "fix", "fixes", "fixing", "resolved", "resolve", "resolves", "resolving",
		"restarted", "restart", "restarts", "restarting", "handled", "handling", "repaired",
		"mitigated", "patched", "addressed", "rerun", "reran", "rerunning", "retried", "retrying",
		"rebooted", "investigating", "remediated", "solved", NULL };
	static const char *const pairs[][2] = {
		{"taken", "care"}, {"working", "on"}, {"looking", "into"}, {"on", "it"},
		{"being", "handled"}, {"been", "notified"}, {"will", "retry"},
	};
	for (size_t i = 0; i < it->n; i++) {
		const item *x = &it->v[i];
		if (x->type != I_WORD) continue;
		if (in_list(c->t, x->a, x->b, claim)) {
			broke(c, 5, "\"%.*s\" claims a fix or that someone is acting", (int)(x->b - x->a), c->t + x->a);
			return;
		}
		if (i + 1 < it->n && it->v[i + 1].type == I_WORD)
			for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
				if (span_eq_ci(c->t, x->a, x->b, pairs[p][0]) &&
				    span_eq_ci(c->t, it->v[i + 1].a, it->v[i + 1].b, pairs[p][1])) {
					broke(c, 5, "\"%s %s\" claims a fix or that someone is acting", pairs[p][0], pairs[p][1]);
					return;
				}
	}
}

/* ---- S7: sentences ------------------------------------------------------------------------ */

static void rule_s7_sentences(vctx *c)
{
	const char *t = c->t;
	int sentences = 0, open = 0;
	for (size_t i = 0; i < c->n; i++) {
		char ch = t[i];
		int term = !c->mask[i] && (ch == '.' || ch == '!' || ch == '?' || ch == '\n');
		if (term && ch == '.' && i > 0 && i + 1 < c->n && is_digit(t[i - 1]) && is_digit(t[i + 1]))
			term = 0;   /* "1.5" */
		if (term && ch != '\n' && i + 1 < c->n && !isspace((unsigned char)t[i + 1]) &&
		    !strchr(".!?\"')", t[i + 1]))
			term = 0;   /* "db.example" */
		if (term) {
			if (open) sentences++;
			open = 0;
		} else if (!isspace((unsigned char)ch)) {
			open = 1;
		}
	}
	if (open) sentences++;
	if (sentences > 3) broke(c, 7, "%d sentences (at most 3)", sentences);
}

/* ---- the verifier ------------------------------------------------------------------------ */

int val_summary_verify(const val_facts *f, const char *text, const char *const *registered,
                       val_sum_verdict *v)
{
	int rc = -1;
	items it = {0};
	tfacts tf = {0};
	memset(v, 0, sizeof *v);
	vctx c = { .f = f, .t = text, .n = strlen(text), .reg = registered, .v = v };
	c.mask = calloc(c.n + 1, 1);
	c.named = calloc(f->n_checks + 1, sizeof *c.named);
	if (!c.mask || !c.named || collect(f, &tf)) goto out;
	rule_s7_chars(&c);
	rule_s6(&c);
	find_quotes(&c);
	find_names(&c);
	if (tokenize(&c, &it)) goto out;
	rule_s1_s2(&c, &it);
	rule_s3(&c, &it, &tf);
	rule_s4(&c, &it);
	rule_s5(&c, &it);
	rule_s7_sentences(&c);
	rc = 0;
	for (int r = 0; r < VAL_SUM_RULES; r++) if (v->broken & (1u << r)) rc++;
out:
	free(it.v);
	free(tf.times);
	free(tf.durs);
	free(c.mask);
	free(c.named);
	return rc;
}
