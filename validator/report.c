/* validator/report.c — the rule table, the findings list and its two output
 * forms (compiler-like text, JSON). */
#include "validator/val_internal.h"
#include "registry/registry.h"

#include <sqlite3.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const val_rule_info_t rules[] = {
	{"V101", VAL_SEV_ERROR,   "job line without exactly one tag (vigil run SLUG or # vigil: SLUG)"},
	{"V102", VAL_SEV_ERROR,   "tag names a slug that is not in the registry"},
	{"V103", VAL_SEV_ERROR,   "a slug tagged on more than one line"},
	{"V104", VAL_SEV_ERROR,   "a crontab-driven registry entry has no crontab line"},
	{"V105", VAL_SEV_ERROR,   "ignore directive without a reason"},
	{"V201", VAL_SEV_ERROR,   "the job's script does not exist or cannot be run"},
	{"V202", VAL_SEV_ERROR,   "the job's script contains no ping call for its slug"},
	{"V203", VAL_SEV_ERROR,   "the job's script pings a different slug than its line's"},
	{"V204", VAL_SEV_ERROR,   "ShellCheck finding of severity warning or error"},
	{"V301", VAL_SEV_ERROR,   "invalid cron syntax"},
	{"V302", VAL_SEV_ERROR,   "a schedule that never fires"},
	{"V303", VAL_SEV_ERROR,   "registry schedule or time zone differs from the crontab line's"},
	{"V304", VAL_SEV_WARNING, "CRON_TZ/TZ line that the cron daemon ignores"},
	{"V401", VAL_SEV_ERROR,   "mute without a reason"},
	{"V402", VAL_SEV_ERROR,   "mute ending beyond the policy maximum without indefinite"},
	{"V403", VAL_SEV_WARNING, "indefinite mute (debt, listed every time)"},
	{"V404", VAL_SEV_WARNING, "muted check that has been up for longer than the mute has left"},
	{"V501", VAL_SEV_WARNING, "orphan pings: a slug that pinged but is not registered"},
	{"V502", VAL_SEV_ERROR,   "registered check that has never pinged although its first run plus grace has passed"},
};
#define NRULES (sizeof rules / sizeof rules[0])

const val_rule_info_t *val_rule_info(const char *id)
{
	for (size_t i = 0; id && i < NRULES; i++)
		if (!strcmp(rules[i].id, id)) return &rules[i];
	return NULL;
}

const val_rule_info_t *val_rule_nth(size_t i) { return i < NRULES ? &rules[i] : NULL; }

struct val_report {
	val_finding *v;
	size_t n, cap;
};

val_report *val_report_new(void) { return calloc(1, sizeof(val_report)); }

static void finding_free(val_finding *f)
{
	free((char *)f->file); free((char *)f->slug); free((char *)f->message); free((char *)f->hint);
}

void val_report_free(val_report *r)
{
	if (!r) return;
	for (size_t i = 0; i < r->n; i++) finding_free(&r->v[i]);
	free(r->v);
	free(r);
}

size_t val_report_count(const val_report *r) { return r->n; }
const val_finding *val_report_get(const val_report *r, size_t i) { return i < r->n ? &r->v[i] : NULL; }

static size_t count_sev(const val_report *r, val_severity s)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) k += r->v[i].severity == s;
	return k;
}
size_t val_report_errors(const val_report *r) { return count_sev(r, VAL_SEV_ERROR); }
size_t val_report_warnings(const val_report *r) { return count_sev(r, VAL_SEV_WARNING); }

int val_add(val_report *r, const char *rule, val_severity sev, const char *file,
            int line, int col, const char *slug, const char *hint, const char *fmt, ...)
{
	const val_rule_info_t *ri = val_rule_info(rule);
	if (!ri) return -1;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 32;
		val_finding *nv = realloc(r->v, nc * sizeof *nv);
		if (!nv) return -1;
		r->v = nv;
		r->cap = nc;
	}
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	val_finding f = {
		.rule = ri->id, .severity = sev ? sev : ri->severity,
		.file = strdup(file ? file : ""), .line = line, .column = col,
		.slug = strdup(slug ? slug : ""), .message = strdup(msg), .hint = strdup(hint ? hint : ""),
	};
	if (!f.file || !f.slug || !f.message || !f.hint) { finding_free(&f); return -1; }
	r->v[r->n++] = f;
	return 0;
}

static int cmp_finding(const void *a, const void *b)
{
	const val_finding *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	if (c) return c;
	if (x->line != y->line) return x->line < y->line ? -1 : 1;
	if (x->column != y->column) return x->column < y->column ? -1 : 1;
	c = strcmp(x->rule, y->rule);
	if (c) return c;
	c = strcmp(x->slug, y->slug);
	return c ? c : strcmp(x->message, y->message);
}

void val_report_sort(val_report *r)
{
	if (r->n > 1) qsort(r->v, r->n, sizeof *r->v, cmp_finding);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80) return 1;
	size_t n;
	unsigned min;
	unsigned cp;
	if ((s[0] & 0xe0) == 0xc0) { n = 2; cp = s[0] & 0x1f; min = 0x80; }
	else if ((s[0] & 0xf0) == 0xe0) { n = 3; cp = s[0] & 0x0f; min = 0x800; }
	else if ((s[0] & 0xf8) == 0xf0) { n = 4; cp = s[0] & 0x07; min = 0x10000; }
	else return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
	return n;
}

char *val_utf8_clean(const char *s)
{
	size_t len = strlen(s);
	char *o = malloc(len * 3 + 1), *p = o;
	if (!o) return NULL;
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		size_t n = utf8_len(u);
		if (n == 0) { memcpy(p, "\xef\xbf\xbd", 3); p += 3; u++; continue; }
		memcpy(p, u, n);
		p += n;
		u += n;
	}
	*p = '\0';
	return o;
}

/* Writes s with control bytes and invalid UTF-8 as \xNN. */
static void put_safe(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		size_t n = utf8_len(u);
		if (n == 0 || (n == 1 && (*u < 0x20 || *u == 0x7f))) { fprintf(f, "\\x%02x", *u); u++; continue; }
		fwrite(u, 1, n, f);
		u += n;
	}
}

int val_report_write_text(const val_report *r, FILE *f)
{
	for (size_t i = 0; i < r->n; i++) {
		const val_finding *x = &r->v[i];
		if (x->file[0]) {
			put_safe(f, x->file);
			if (x->line > 0) fprintf(f, ":%d", x->line);
			if (x->line > 0 && x->column > 0) fprintf(f, ":%d", x->column);
			fputs(": ", f);
		}
		fprintf(f, "%s %s: ", x->severity == VAL_SEV_ERROR ? "error" : "warning", x->rule);
		put_safe(f, x->message);
		if (x->hint[0]) { fputs("\n    hint: ", f); put_safe(f, x->hint); }
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

static int add_str(cJSON *o, const char *k, const char *v)
{
	char *c = val_utf8_clean(v);
	if (!c) return -1;
	cJSON *s = cJSON_AddStringToObject(o, k, c);
	free(c);
	return s ? 0 : -1;
}

int val_report_write_json(const val_report *r, FILE *f)
{
	int rc = -1;
	char *txt = NULL;
	cJSON *arr = cJSON_CreateArray();
	if (!arr) goto out;
	for (size_t i = 0; i < r->n; i++) {
		const val_finding *x = &r->v[i];
		cJSON *o = cJSON_CreateObject();
		if (!o) goto out;
		cJSON_AddItemToArray(arr, o);
		if (add_str(o, "rule", x->rule) ||
		    add_str(o, "severity", x->severity == VAL_SEV_ERROR ? "error" : "warning") ||
		    add_str(o, "file", x->file) ||
		    !cJSON_AddNumberToObject(o, "line", x->line) ||
		    !cJSON_AddNumberToObject(o, "column", x->column) ||
		    add_str(o, "slug", x->slug) || add_str(o, "message", x->message) ||
		    add_str(o, "hint", x->hint))
			goto out;
	}
	txt = cJSON_Print(arr);
	if (!txt) goto out;
	fputs(txt, f);
	fputc('\n', f);
	rc = ferror(f) ? -1 : 0;
out:
	free(txt);
	cJSON_Delete(arr);
	return rc;
}

void val_report_retain(val_report *r, size_t from, int (*keep)(const char *rule, void *arg), void *arg)
{
	size_t w = from;
	for (size_t i = from; i < r->n; i++) {
		if (keep(r->v[i].rule, arg)) r->v[w++] = r->v[i];
		else finding_free(&r->v[i]);
	}
	r->n = w;
}

int val_report_store(reg_db *db, const val_report *r, int64_t now_ms, char *err, size_t errlen)
{
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	if (reg_begin(db) != REG_OK) goto fail;
	if (sqlite3_exec(s, "DELETE FROM findings", NULL, NULL, NULL) != SQLITE_OK) goto fail;
	if (sqlite3_prepare_v2(s, "INSERT INTO findings(slug,rule,severity,file,line,col,message,hint,created_ms) "
	                          "VALUES(?,?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK) goto fail;
	for (size_t i = 0; i < val_report_count(r); i++) {
		const val_finding *f = val_report_get(r, i);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, f->slug ? f->slug : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, f->rule, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, f->severity == VAL_SEV_ERROR ? "error" : "warning", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, f->file ? f->file : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, f->line);
		sqlite3_bind_int(st, 6, f->column);
		sqlite3_bind_text(st, 7, f->message ? f->message : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, f->hint ? f->hint : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, now_ms);
		if (sqlite3_step(st) != SQLITE_DONE) goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	char when[32];
	snprintf(when, sizeof when, "%lld", (long long)now_ms);
	if (reg_setting_set(db, "findings.validated_ms", when) != REG_OK) goto fail;
	if (reg_commit(db) != REG_OK) goto fail;
	return VAL_OK;
fail:
	snprintf(err, errlen, "cannot store the findings: %s", sqlite3_errmsg(s));
	sqlite3_finalize(st);
	reg_rollback(db);
	return VAL_EINTERNAL;
}
