/* validator/regfile.c — the declarative registry file (JSON): load, export,
 * and import into the database.  The format is described in
 * README.md, "The registry file".
 *
 * paused and mute are operational state: a file that leaves them out leaves
 * the database's values alone; every other field is declarative (absent
 * means the default). */
#include "validator/val_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGFILE_MAX_BYTES (16u << 20)

struct val_regfile {
	char *path;
	val_entry *e;
	size_t n;
};

const val_entry *val_regfile_entries(const val_regfile *f, size_t *n) { *n = f->n; return f->e; }
const char *val_regfile_path(const val_regfile *f) { return f->path; }
size_t val_regfile_count(const val_regfile *f) { return f->n; }

void val_regfile_free(val_regfile *f)
{
	if (!f) return;
	free(f->path);
	free(f->e);
	free(f);
}

static void line_col(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n') { (*line)++; *col = 1; } else (*col)++;
	}
}

/* Position of the k-th (0-based) unescaped "slug" key in text. */
static const char *nth_slug_key(const char *text, size_t k)
{
	const char *p = text;
	size_t seen = 0;
	while ((p = strstr(p, "\"slug\"")) != NULL) {
		if (p == text || p[-1] != '\\') {
			const char *q = p + 6;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') q++;
			if (*q == ':' && seen++ == k) return p;
		}
		p += 6;
	}
	return NULL;
}

static int dur_field(const cJSON *v, int64_t *out)
{
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble > 1e11 || v->valuedouble != (double)(int64_t)v->valuedouble) return -1;
		*out = (int64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v)) { *out = val_parse_duration(v->valuestring); return *out < 0 ? -1 : 0; }
	return -1;
}

static int str_field(const cJSON *v, char *dst, size_t n, const char **why)
{
	if (!cJSON_IsString(v)) { *why = "expected a string"; return -1; }
	if (strlen(v->valuestring) >= n) { *why = "too long"; return -1; }
	snprintf(dst, n, "%s", v->valuestring);
	return 0;
}

/* Fills e from object o; on error writes "field: what" into why. */
static int entry_from_json(const cJSON *o, val_entry *e, char *why, size_t wl)
{
	const char *w = NULL;
	reg_check_init(&e->c);
	e->c.source[0] = '\0';
	if (!cJSON_IsObject(o)) { snprintf(why, wl, "each check must be a JSON object"); return -1; }
	const cJSON *slug = cJSON_GetObjectItemCaseSensitive(o, "slug");
	if (!slug) { snprintf(why, wl, "check without \"slug\""); return -1; }
	if (str_field(slug, e->c.slug, sizeof e->c.slug, &w) || !reg_slug_valid(e->c.slug)) {
		snprintf(why, wl, "slug: %s", w ? w : "expected ^[a-z0-9][a-z0-9_-]{0,63}$");
		return -1;
	}
	for (const cJSON *f = o->child; f; f = f->next) {
		const char *k = f->string;
		int bad = 0;
		w = NULL;
		if (!strcmp(k, "slug")) continue;
		else if (!strcmp(k, "name")) bad = str_field(f, e->c.name, sizeof e->c.name, &w);
		else if (!strcmp(k, "desc")) bad = str_field(f, e->c.desc, sizeof e->c.desc, &w);
		else if (!strcmp(k, "tags")) {
			size_t off = 0;
			if (cJSON_IsString(f)) bad = str_field(f, e->c.tags, sizeof e->c.tags, &w);
			else if (cJSON_IsArray(f)) {
				for (const cJSON *t = f->child; t && !bad; t = t->next) {
					if (!cJSON_IsString(t) || !*t->valuestring || strpbrk(t->valuestring, " \t")) {
						bad = 1; w = "expected an array of words"; break;
					}
					int n = snprintf(e->c.tags + off, sizeof e->c.tags - off, "%s%s", off ? " " : "", t->valuestring);
					if (n < 0 || (size_t)n >= sizeof e->c.tags - off) { bad = 1; w = "too long"; break; }
					off += (size_t)n;
				}
			} else { bad = 1; w = "expected an array of strings"; }
		} else if (!strcmp(k, "source")) {
			bad = str_field(f, e->c.source, sizeof e->c.source, &w);
			if (!bad && strcmp(e->c.source, "crontab") && strcmp(e->c.source, "external")) {
				bad = 1; w = "expected \"crontab\" or \"external\"";
			}
			e->given |= VAL_GIVEN_SOURCE;
		} else if (!strcmp(k, "schedule")) {
			bad = str_field(f, e->c.schedule, sizeof e->c.schedule, &w) || !e->c.schedule[0];
			e->given |= VAL_GIVEN_SCHEDULE;
		} else if (!strcmp(k, "period")) {
			bad = dur_field(f, &e->c.period_s) || e->c.period_s <= 0;
			if (bad) w = "expected a positive duration (\"15m\" or seconds)";
			e->given |= VAL_GIVEN_PERIOD;
		} else if (!strcmp(k, "tz")) {
			bad = str_field(f, e->c.tz, sizeof e->c.tz, &w) || !e->c.tz[0];
			e->given |= VAL_GIVEN_TZ;
		} else if (!strcmp(k, "grace")) {
			bad = dur_field(f, &e->c.grace_s);
			if (bad) w = "expected a duration (\"5m\" or seconds)";
			e->given |= VAL_GIVEN_GRACE;
		} else if (!strcmp(k, "max_runtime")) {
			bad = dur_field(f, &e->c.max_runtime_s);
			if (bad) w = "expected a duration (\"1h\" or seconds)";
			e->given |= VAL_GIVEN_MAXRT;
		} else if (!strcmp(k, "script")) {
			bad = str_field(f, e->c.script, sizeof e->c.script, &w);
			e->given |= VAL_GIVEN_SCRIPT;
		} else if (!strcmp(k, "paused")) {
			bad = !cJSON_IsBool(f);
			if (bad) w = "expected true or false";
			else e->c.paused = cJSON_IsTrue(f);
			e->given |= 1u << 8;
		} else if (!strcmp(k, "mute")) {
			e->given |= VAL_GIVEN_MUTE;
			if (cJSON_IsNull(f)) continue;
			if (!cJSON_IsObject(f)) { snprintf(why, wl, "mute: expected an object or null"); return -1; }
			for (const cJSON *m = f->child; m; m = m->next) {
				if (!strcmp(m->string, "until")) {
					int64_t ms;
					if (!cJSON_IsString(m) || val_parse_time(m->valuestring, &ms) || ms <= 0) {
						snprintf(why, wl, "mute.until: expected an RFC 3339 time (2026-12-01T00:00:00Z)");
						return -1;
					}
					e->c.mute_until_ms = ms;
				} else if (!strcmp(m->string, "reason")) {
					if (str_field(m, e->c.mute_reason, sizeof e->c.mute_reason, &w)) {
						snprintf(why, wl, "mute.reason: %s", w);
						return -1;
					}
				} else if (!strcmp(m->string, "indefinite")) {
					if (!cJSON_IsBool(m)) { snprintf(why, wl, "mute.indefinite: expected true or false"); return -1; }
					e->c.mute_indefinite = cJSON_IsTrue(m);
				} else {
					snprintf(why, wl, "mute: unknown field \"%s\" (known: until, reason, indefinite)", m->string);
					return -1;
				}
			}
			if (!e->c.mute_until_ms && !e->c.mute_indefinite && !e->c.mute_reason[0]) {
				snprintf(why, wl, "mute: give until or indefinite (or null to unmute)");
				return -1;
			}
			if (!e->c.mute_until_ms && !e->c.mute_indefinite) {
				snprintf(why, wl, "mute: give until (RFC 3339) or \"indefinite\": true");
				return -1;
			}
		} else {
			snprintf(why, wl, "unknown field \"%s\" (known: slug, name, desc, tags, source, schedule, "
			         "period, tz, grace, max_runtime, script, paused, mute)", k);
			return -1;
		}
		if (bad) { snprintf(why, wl, "%s: %s", k, w ? w : "invalid value"); return -1; }
	}
	if (!e->c.source[0]) snprintf(e->c.source, sizeof e->c.source, "crontab");
	if (!strcmp(e->c.source, "external") && !e->c.schedule[0] && e->c.period_s <= 0) {
		snprintf(why, wl, "an external check must declare \"schedule\" or \"period\"");
		return -1;
	}
	if (!strcmp(e->c.source, "crontab") && e->c.period_s > 0) {
		snprintf(why, wl, "period: a crontab-driven check takes its schedule from its crontab line "
		         "(set \"source\": \"external\" for a check that declares its own)");
		return -1;
	}
	if (e->c.schedule[0] && e->c.period_s > 0) {
		snprintf(why, wl, "give \"schedule\" or \"period\", not both");
		return -1;
	}
	return 0;
}

int val_regfile_load(const char *path, val_regfile **out, char *err, size_t errlen)
{
	int rc = VAL_EINPUT;
	char *text = NULL;
	size_t len;
	cJSON *root = NULL;
	val_regfile *f = calloc(1, sizeof *f);
	*out = NULL;
	if (!f || !(f->path = strdup(path))) { rc = VAL_EINTERNAL; snprintf(err, errlen, "out of memory"); goto out; }
	int e = val_read_file(path, REGFILE_MAX_BYTES, &text, &len);
	if (e) {
		snprintf(err, errlen, "%s: cannot read registry file: %s", path,
		         e == EFBIG ? "larger than 16 MiB" : e == ENODEV ? "not a regular file" : strerror(e));
		goto out;
	}
	if (strlen(text) != len) { snprintf(err, errlen, "%s: not a registry file: NUL bytes", path); goto out; }
	const char *end = NULL;
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		int l, c;
		line_col(text, end ? end : text, &l, &c);
		snprintf(err, errlen, "%s:%d:%d: invalid JSON", path, l, c);
		goto out;
	}
	const cJSON *checks = NULL;
	if (!cJSON_IsObject(root)) { snprintf(err, errlen, "%s:1:1: expected an object {\"version\": 1, \"checks\": [...]}", path); goto out; }
	for (const cJSON *k = root->child; k; k = k->next) {
		if (!strcmp(k->string, "version")) {
			if (!cJSON_IsNumber(k) || k->valuedouble != 1) {
				snprintf(err, errlen, "%s: version: this vigil reads registry file version 1", path);
				goto out;
			}
		} else if (!strcmp(k->string, "checks")) checks = k;
		else { snprintf(err, errlen, "%s: unknown top-level field \"%s\" (known: version, checks)", path, k->string); goto out; }
	}
	if (!cJSON_IsArray(checks)) { snprintf(err, errlen, "%s: \"checks\" must be an array", path); goto out; }
	size_t n = (size_t)cJSON_GetArraySize(checks);
	f->e = calloc(n ? n : 1, sizeof *f->e);
	if (!f->e) { rc = VAL_EINTERNAL; snprintf(err, errlen, "out of memory"); goto out; }
	size_t i = 0;
	for (const cJSON *o = checks->child; o; o = o->next, i++) {
		val_entry *en = &f->e[i];
		const char *at = nth_slug_key(text, i);
		if (at) line_col(text, at, &en->line, &en->column);
		char why[512];
		if (entry_from_json(o, en, why, sizeof why)) {
			if (at) snprintf(err, errlen, "%s:%d:%d: check #%zu: %s", path, en->line, en->column, i + 1, why);
			else snprintf(err, errlen, "%s: check #%zu: %s", path, i + 1, why);
			goto out;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(f->e[k].c.slug, en->c.slug)) {
				snprintf(err, errlen, "%s:%d:%d: check \"%s\" is declared twice (first on line %d)", path,
				         en->line, en->column, en->c.slug, f->e[k].line);
				goto out;
			}
	}
	f->n = i;
	*out = f;
	f = NULL;
	rc = VAL_OK;
out:
	cJSON_Delete(root);
	free(text);
	val_regfile_free(f);
	return rc;
}

/* ---- export -------------------------------------------------------------- */

static cJSON *check_to_json(const reg_check *c)
{
	char buf[64];
	cJSON *o = cJSON_CreateObject();
	if (!o) return NULL;
	int crontab = !strcmp(c->source, "crontab");
	int ok = cJSON_AddStringToObject(o, "slug", c->slug) != NULL;
	if (c->name[0]) ok &= cJSON_AddStringToObject(o, "name", c->name) != NULL;
	if (c->desc[0]) ok &= cJSON_AddStringToObject(o, "desc", c->desc) != NULL;
	if (c->tags[0]) {
		cJSON *t = cJSON_AddArrayToObject(o, "tags");
		ok &= t != NULL;
		char tmp[sizeof c->tags];
		snprintf(tmp, sizeof tmp, "%s", c->tags);
		char *save = NULL;
		for (char *w = strtok_r(tmp, " \t", &save); w && t; w = strtok_r(NULL, " \t", &save))
			cJSON_AddItemToArray(t, cJSON_CreateString(w));
	}
	ok &= cJSON_AddStringToObject(o, "source", crontab ? "crontab" : "external") != NULL;
	if (!crontab) {
		if (c->schedule[0]) ok &= cJSON_AddStringToObject(o, "schedule", c->schedule) != NULL;
		if (c->period_s > 0) { val_format_duration(c->period_s, buf, sizeof buf); ok &= cJSON_AddStringToObject(o, "period", buf) != NULL; }
		ok &= cJSON_AddStringToObject(o, "tz", c->tz) != NULL;
	}
	val_format_duration(c->grace_s, buf, sizeof buf);
	ok &= cJSON_AddStringToObject(o, "grace", buf) != NULL;
	if (c->max_runtime_s > 0) {
		val_format_duration(c->max_runtime_s, buf, sizeof buf);
		ok &= cJSON_AddStringToObject(o, "max_runtime", buf) != NULL;
	}
	if (c->script[0]) ok &= cJSON_AddStringToObject(o, "script", c->script) != NULL;
	if (c->paused) ok &= cJSON_AddTrueToObject(o, "paused") != NULL;
	if (c->mute_until_ms > 0 || c->mute_indefinite) {
		cJSON *m = cJSON_AddObjectToObject(o, "mute");
		ok &= m != NULL;
		if (m && c->mute_until_ms > 0) { val_format_time(c->mute_until_ms, buf, sizeof buf); ok &= cJSON_AddStringToObject(m, "until", buf) != NULL; }
		if (m) ok &= cJSON_AddStringToObject(m, "reason", c->mute_reason) != NULL;
		if (m && c->mute_indefinite) ok &= cJSON_AddTrueToObject(m, "indefinite") != NULL;
	}
	if (!ok) { cJSON_Delete(o); return NULL; }
	return o;
}

int val_regfile_export(reg_db *db, FILE *out, char *err, size_t errlen)
{
	reg_check *cs = NULL;
	size_t n = 0;
	char *txt = NULL;
	int rc = VAL_EINTERNAL;
	cJSON *root = cJSON_CreateObject();
	if (reg_check_list(db, &cs, &n)) { snprintf(err, errlen, "%s", reg_errmsg(db)); goto out; }
	cJSON *arr;
	if (!root || !cJSON_AddNumberToObject(root, "version", 1) || !(arr = cJSON_AddArrayToObject(root, "checks")))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = check_to_json(&cs[i]);
		if (!o) goto oom;
		cJSON_AddItemToArray(arr, o);
	}
	txt = cJSON_Print(root);
	if (!txt) goto oom;
	fputs(txt, out);
	fputc('\n', out);
	rc = ferror(out) ? VAL_EINTERNAL : VAL_OK;
	if (rc) snprintf(err, errlen, "write error");
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(txt);
	free(cs);
	cJSON_Delete(root);
	return rc;
}

/* ---- import ------------------------------------------------------------- */

static int push_change(val_change **v, size_t *n, val_change_kind k, const char *slug, const char *what)
{
	val_change *nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv) return -1;
	*v = nv;
	val_change *c = &nv[(*n)++];
	memset(c, 0, sizeof *c);
	c->kind = k;
	snprintf(c->slug, sizeof c->slug, "%s", slug);
	snprintf(c->what, sizeof c->what, "%s", what);
	return 0;
}

static void diff_append(char *buf, size_t n, const char *field, const char *a, const char *b)
{
	size_t l = strlen(buf);
	if (l + 4 >= n) return;
	if (snprintf(buf + l, n - l, "%s%s: \"%s\" -> \"%s\"", l ? "; " : "", field, a, b) >= (int)(n - l))
		snprintf(buf + n - 4, 4, "...");
}

static void diff_num(char *buf, size_t n, const char *field, int64_t a, int64_t b, int dur)
{
	char x[32], y[32];
	if (dur) { val_format_duration(a, x, sizeof x); val_format_duration(b, y, sizeof y); }
	else { snprintf(x, sizeof x, "%lld", (long long)a); snprintf(y, sizeof y, "%lld", (long long)b); }
	diff_append(buf, n, field, x, y);
}

/* The schedule of SLUG's tagged line in the crontab, if any. */
static const val_job *crontab_job(const val_crontab *t, const char *slug)
{
	for (size_t i = 0; t && i < t->njobs; i++)
		if (t->jobs[i].slug && t->jobs[i].schedule && !t->jobs[i].ignored && !strcmp(t->jobs[i].slug, slug))
			return &t->jobs[i];
	return NULL;
}

int val_registry_import(reg_db *db, const val_regfile *f, const char *crontab_path,
                        const char *cron_tz, int apply, int prune, int64_t now_ms,
                        val_change **changes, size_t *n_changes, size_t *n_removals,
                        char *err, size_t errlen)
{
	int rc = VAL_EINTERNAL;
	reg_check *cs = NULL;
	size_t ncs = 0;
	val_crontab *t = NULL;
	val_report *scratch = val_report_new();
	int in_tx = 0;
	char zone[64];
	*changes = NULL;
	*n_changes = *n_removals = 0;
	if (!scratch) goto oom;
	if (cron_tz && *cron_tz) snprintf(zone, sizeof zone, "%s", cron_tz);
	else val_system_zone(zone, sizeof zone);
	if (crontab_path) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s", crontab_path);
		char *sl = strrchr(dir, '/');
		if (sl) *sl = '\0'; else snprintf(dir, sizeof dir, ".");
		rc = val_crontab_load(crontab_path, dir, scratch, &t, err, errlen);
		if (rc) goto out;
		rc = VAL_EINTERNAL;
	}
	if (reg_check_list(db, &cs, &ncs)) { snprintf(err, errlen, "%s", reg_errmsg(db)); goto out; }
	if (apply) {
		if (reg_begin(db)) { snprintf(err, errlen, "%s", reg_errmsg(db)); goto out; }
		in_tx = 1;
	}
	for (size_t i = 0; i < f->n; i++) {
		const val_entry *e = &f->e[i];
		const reg_check *old = NULL;
		for (size_t k = 0; k < ncs; k++) if (!strcmp(cs[k].slug, e->c.slug)) old = &cs[k];
		reg_check want = e->c;
		if (!strcmp(want.source, "crontab")) {
			const val_job *j = crontab_job(t, want.slug);
			if (j) {
				if (!(e->given & VAL_GIVEN_SCHEDULE)) snprintf(want.schedule, sizeof want.schedule, "%s", j->schedule);
				char line[1024];
				snprintf(line, sizeof line, "%s %s", j->schedule, j->command);
				snprintf(want.crontab_line, sizeof want.crontab_line, "%s", line);
			} else if (old) {
				snprintf(want.crontab_line, sizeof want.crontab_line, "%s", old->crontab_line);
				if (!(e->given & VAL_GIVEN_SCHEDULE)) snprintf(want.schedule, sizeof want.schedule, "%s", old->schedule);
			}
			if (!(e->given & VAL_GIVEN_TZ)) snprintf(want.tz, sizeof want.tz, "%s", old && !t ? old->tz : zone);
			if (!want.schedule[0]) {
				snprintf(err, errlen, "%s:%d:%d: check \"%s\" is crontab-driven and has no schedule yet: "
				         "give --crontab FILE so it can be read off its tagged line, or a \"schedule\"",
				         f->path, e->line, e->column, want.slug);
				rc = VAL_EINPUT;
				goto out;
			}
		}
		if (old) {
			if (!(e->given & (1u << 8))) want.paused = old->paused;
			if (!(e->given & VAL_GIVEN_MUTE)) {
				want.mute_until_ms = old->mute_until_ms;
				want.mute_indefinite = old->mute_indefinite;
				snprintf(want.mute_reason, sizeof want.mute_reason, "%s", old->mute_reason);
			}
			char d[512] = "";
			if (strcmp(old->name, want.name)) diff_append(d, sizeof d, "name", old->name, want.name);
			if (strcmp(old->desc, want.desc)) diff_append(d, sizeof d, "desc", old->desc, want.desc);
			if (strcmp(old->tags, want.tags)) diff_append(d, sizeof d, "tags", old->tags, want.tags);
			if (strcmp(old->source, want.source)) diff_append(d, sizeof d, "source", old->source, want.source);
			if (strcmp(old->schedule, want.schedule)) diff_append(d, sizeof d, "schedule", old->schedule, want.schedule);
			if (old->period_s != want.period_s) diff_num(d, sizeof d, "period", old->period_s, want.period_s, 1);
			if (strcmp(old->tz, want.tz)) diff_append(d, sizeof d, "tz", old->tz, want.tz);
			if (old->grace_s != want.grace_s) diff_num(d, sizeof d, "grace", old->grace_s, want.grace_s, 1);
			if (old->max_runtime_s != want.max_runtime_s) diff_num(d, sizeof d, "max_runtime", old->max_runtime_s, want.max_runtime_s, 1);
			if (strcmp(old->script, want.script)) diff_append(d, sizeof d, "script", old->script, want.script);
			if (strcmp(old->crontab_line, want.crontab_line)) diff_append(d, sizeof d, "crontab line", old->crontab_line, want.crontab_line);
			if (old->paused != want.paused) diff_num(d, sizeof d, "paused", old->paused, want.paused, 0);
			if (old->mute_until_ms != want.mute_until_ms || old->mute_indefinite != want.mute_indefinite ||
			    strcmp(old->mute_reason, want.mute_reason)) {
				char a[64] = "none", b[64] = "none";
				if (old->mute_indefinite) snprintf(a, sizeof a, "indefinite");
				else if (old->mute_until_ms) val_format_time(old->mute_until_ms, a, sizeof a);
				if (want.mute_indefinite) snprintf(b, sizeof b, "indefinite");
				else if (want.mute_until_ms) val_format_time(want.mute_until_ms, b, sizeof b);
				diff_append(d, sizeof d, "mute", a, b);
			}
			if (!d[0]) continue;
			if (push_change(changes, n_changes, VAL_CHANGE_UPDATE, want.slug, d)) goto oom;
			if (apply && reg_check_update(db, &want)) goto dberr;
		} else {
			char d[512];
			snprintf(d, sizeof d, "%s, %s%s", want.source, want.schedule[0] ? "schedule " : "every ", want.schedule);
			if (!want.schedule[0]) val_format_duration(want.period_s, d + strlen(d), sizeof d - strlen(d));
			if (push_change(changes, n_changes, VAL_CHANGE_ADD, want.slug, d)) goto oom;
			if (apply) {
				reg_check add = want;
				if (reg_check_add(db, &add, now_ms)) goto dberr;
			}
		}
	}
	for (size_t k = 0; k < ncs; k++) {
		int found = 0;
		for (size_t i = 0; i < f->n && !found; i++) found = !strcmp(cs[k].slug, f->e[i].c.slug);
		if (found) continue;
		if (push_change(changes, n_changes, VAL_CHANGE_REMOVE, cs[k].slug, "not in the file")) goto oom;
		(*n_removals)++;
		if (apply && prune && reg_check_rm(db, cs[k].slug)) goto dberr;
	}
	if (in_tx) {
		if (reg_commit(db)) goto dberr;
		in_tx = 0;
	}
	rc = VAL_OK;
	goto out;
dberr:
	snprintf(err, errlen, "%s", reg_errmsg(db));
	rc = VAL_EINPUT;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	rc = VAL_EINTERNAL;
out:
	if (in_tx) reg_rollback(db);
	if (rc) { free(*changes); *changes = NULL; *n_changes = *n_removals = 0; }
	free(cs);
	val_crontab_free(t);
	val_report_free(scratch);
	return rc;
}
