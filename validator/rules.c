/* validator/rules.c — val_run(): reads the crontab, the registry and the job
 * scripts, and applies every selected rule.
 *
 *   crontab line ──tag──▶ registry entry          V101 V102 V103 V104 V105
 *        └──script──▶ ping call for the slug      V201 V202 V203 V204
 *   schedule / zone                               V301 V302 V303 V304
 *   mutes                                         V401 V402 V403 V404
 *   ping history (the database)                   V501 V502
 */
#include "validator/val_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCRIPT_MAX_BYTES (16u << 20)
#define DEFAULT_MUTE_MAX_S (14 * 86400)

typedef struct seen_script { char *path; } seen_script;

typedef struct ctx {
	const val_opts *o;
	val_report *r;
	int64_t now;
	char zone[64];
	char base[PATH_MAX];
	char cache[PATH_MAX];
	const char *regname;         /* registry file path or db path, for findings */
	val_entry *e;                /* registry entries */
	size_t ne;
	reg_db *db;                  /* NULL: no ping history */
	val_crontab *t;
	char **scripts_done;         /* V201/V204 reported once per script */
	size_t nscripts;
	val_sc_job *sc;              /* scripts for ShellCheck (V204) */
	char **sc_slug;
	size_t nsc;
} ctx;

static int rule_on(const ctx *c, const char *id)
{
	const val_opts *o = c->o;
	if (o->rules) {
		int hit = 0;
		for (size_t i = 0; o->rules[i] && !hit; i++) hit = !strncmp(id, o->rules[i], strlen(o->rules[i]));
		if (!hit) return 0;
	}
	for (size_t i = 0; o->ignore_rules && o->ignore_rules[i]; i++)
		if (!strncmp(id, o->ignore_rules[i], strlen(o->ignore_rules[i]))) return 0;
	return 1;
}

static int keep_rule(const char *rule, void *arg) { return rule_on(arg, rule); }

static const val_entry *find_entry(const ctx *c, const char *slug)
{
	for (size_t i = 0; slug && i < c->ne; i++) if (!strcmp(c->e[i].c.slug, slug)) return &c->e[i];
	return NULL;
}

/* The registered slug nearest to s (edit distance small enough to be a typo). */
static const char *nearest(const ctx *c, const char *s)
{
	const char *best = NULL;
	size_t bd = (size_t)-1, len = strlen(s);
	size_t limit = len < 6 ? 1 : len < 12 ? 2 : 3;
	for (size_t i = 0; i < c->ne; i++) {
		size_t d = val_edit_distance(s, c->e[i].c.slug);
		if (d < bd) { bd = d; best = c->e[i].c.slug; }
	}
	return bd <= limit ? best : NULL;
}

static void did_you_mean(const ctx *c, const char *s, char *buf, size_t n)
{
	const char *m = nearest(c, s);
	if (m) snprintf(buf, n, " (did you mean \"%s\"?)", m);
	else buf[0] = '\0';
}

/* A registry "script": relative to the base directory (malloc'd). */
static char *reg_script_path(const ctx *c, const char *script)
{
	char buf[PATH_MAX * 2];
	if (script[0] == '/') snprintf(buf, sizeof buf, "%s", script);
	else if (script[0] == '~' && script[1] == '/') snprintf(buf, sizeof buf, "%s/%s", c->base, script + 2);
	else snprintf(buf, sizeof buf, "%s/%s", c->base, script);
	return val_path_clean(buf);
}

/* ---- scripts --------------------------------------------------------------- */

typedef struct where { const char *file; int line, col; } where;

static int script_done(ctx *c, const char *path)
{
	for (size_t i = 0; i < c->nscripts; i++) if (!strcmp(c->scripts_done[i], path)) return 1;
	char **nv = realloc(c->scripts_done, (c->nscripts + 1) * sizeof *nv);
	if (!nv) return 0;
	c->scripts_done = nv;
	char *d = strdup(path);
	if (d) c->scripts_done[c->nscripts++] = d;
	return 0;
}

static const char *sc_shell(const char *data, size_t len, const char *path, const char *line_shell)
{
	if (line_shell) return line_shell;
	if (len > 2 && data[0] == '#' && data[1] == '!') {
		char first[256];
		size_t l = strcspn(data + 2, "\n");
		snprintf(first, sizeof first, "%.*s", (int)(l < 255 ? l : 255), data + 2);
		first[strcspn(first, "\r")] = '\0';
		char *w = strtok(first, " \t");
		if (w && !strcmp(strrchr(w, '/') ? strrchr(w, '/') + 1 : w, "env")) w = strtok(NULL, " \t");
		while (w && w[0] == '-') w = strtok(NULL, " \t");   /* env -S */
		if (!w) return NULL;
		const char *b = strrchr(w, '/') ? strrchr(w, '/') + 1 : w;
		if (!strcmp(b, "sh")) return "sh";
		if (!strcmp(b, "bash")) return "bash";
		if (!strcmp(b, "dash")) return "dash";
		if (!strcmp(b, "ksh")) return "ksh";
		return NULL;
	}
	size_t pl = strlen(path);
	if (pl > 3 && !strcmp(path + pl - 3, ".sh")) return "sh";
	if (pl > 5 && !strcmp(path + pl - 5, ".bash")) return "bash";
	return NULL;
}

/* ShellCheck runs after every other rule, all scripts in a few processes. */
static void queue_shellcheck(ctx *c, const char *slug, const char *path, const char *data, size_t len,
                             const char *shell)
{
	val_sc_job *nv = realloc(c->sc, (c->nsc + 1) * sizeof *nv);
	if (!nv) return;
	c->sc = nv;
	char **ns = realloc(c->sc_slug, (c->nsc + 1) * sizeof *ns);
	if (!ns) return;
	c->sc_slug = ns;
	val_sc_job *j = &c->sc[c->nsc];
	memset(j, 0, sizeof *j);
	j->path = strdup(path);
	j->shell = shell;
	c->sc_slug[c->nsc] = strdup(slug);
	if (!j->path || !c->sc_slug[c->nsc]) { free((char *)j->path); free(c->sc_slug[c->nsc]); return; }
	reg_sha256_hex(data, len, j->content_sha);
	c->nsc++;
}

static void run_shellcheck(ctx *c)
{
	char err[1024];
	if (!c->nsc) return;
	int rc = val_shellcheck_batch(c->o->shellcheck, c->cache[0] ? c->cache : NULL, c->o->shellcheck_timeout_s,
	                              c->sc, c->nsc, err, sizeof err);
	if (rc) {
		val_add(c->r, "V204", 0, "", 0, 0, NULL, "apt-get install shellcheck", "%s", err);
		return;
	}
	for (size_t k = 0; k < c->nsc; k++) {
		val_sc_job *j = &c->sc[k];
		if (j->err[0]) val_add(c->r, "V204", 0, j->path, 0, 0, c->sc_slug[k], NULL, "%s", j->err);
		for (size_t i = 0; i < j->n; i++) {
			val_sc_item *it = &j->items[i];
			if (strcmp(it->level, "error") && strcmp(it->level, "warning")) continue;
			char hint[96];
			snprintf(hint, sizeof hint, "https://www.shellcheck.net/wiki/SC%d", it->code);
			val_add(c->r, "V204", 0, j->path, it->line, it->column, c->sc_slug[k], hint, "SC%d (%s): %s",
			        it->code, it->level, it->message);
		}
	}
}

/* line_pings: slugs the command line itself pings (may be empty). */
static void check_script(ctx *c, const char *slug, const char *path, int need_exec, const char *line_shell,
                         int wrapper, char **line_pings, size_t nline, const char *const *args, where at)
{
	char *data = NULL;
	size_t len = 0;
	char **pings = NULL;
	size_t np = 0;
	int own = 0;
	for (size_t i = 0; i < nline; i++) own |= !strcmp(line_pings[i], slug);
	int first = !script_done(c, path);
	if (path[0] == '\x01') {   /* "\x01VAR\x01as-written": an unset variable */
		char var[64];
		const char *e = strchr(path + 1, '\x01');
		snprintf(var, sizeof var, "%.*s", e ? (int)(e - path - 1) : 0, path + 1);
		val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, "set it in the crontab (NAME=value) or write the full path",
		        "script path \"%s\" uses $%s, which the crontab does not set", e ? e + 1 : path, var);
		goto pingcheck_none;
	}
	struct stat st;
	if (stat(path, &st)) {
		int e = errno;
		const char *why = e == ENOENT ? "does not exist" : e == ELOOP ? "cannot be resolved: too many levels of symbolic links (a symlink loop?)"
		                  : e == EACCES ? "cannot be reached: permission denied" : e == ENOTDIR ? "does not exist (a path component is not a directory)"
		                  : e == ENAMETOOLONG ? "has a name that is too long" : strerror(e);
		if (first) val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, NULL, "script %s %s", path, why);
		goto pingcheck_none;
	}
	if (S_ISDIR(st.st_mode)) {
		if (first) val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, NULL, "script %s is a directory", path);
		goto pingcheck_none;
	}
	if (!S_ISREG(st.st_mode)) {
		if (first) val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, NULL, "script %s is not a regular file", path);
		goto pingcheck_none;
	}
	if (need_exec && (!(st.st_mode & 0111) || access(path, X_OK))) {
		char hint[PATH_MAX + 32];
		snprintf(hint, sizeof hint, "chmod +x %s", path);
		if (first) val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, hint, "script %s is not executable", path);
	}
	int e = val_read_file(path, SCRIPT_MAX_BYTES, &data, &len);
	if (e == EFBIG) {
		if (!wrapper && !own)
			val_add(c->r, "V202", 0, at.file, at.line, at.col, slug, "run it through \"vigil run SLUG -- ...\"",
			        "script %s is larger than 16 MiB and was not scanned for a ping call for \"%s\"", path, slug);
		goto out;
	}
	if (e) {
		if (first) val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, NULL, "script %s cannot be read: %s", path, strerror(e));
		goto out;
	}
	int binary = memchr(data, '\0', len < 8192 ? len : 8192) != NULL;
	if (need_exec && len > 2 && data[0] == '#' && data[1] == '!') {
		size_t l = strcspn(data, "\n");
		if (l > 2 && data[l - 1] == '\r' && first)
			val_add(c->r, "V201", 0, at.file, at.line, at.col, slug, "convert the file to LF line endings (dos2unix)",
			        "script %s has a #! line ending in a carriage return (CRLF): the kernel looks for an "
			        "interpreter whose name ends in \\r and the job cannot start", path);
	}
	if (val_ping_calls_args(data, len, c->o->ping_patterns, args, &pings, NULL, &np)) goto out;
	for (size_t i = 0; i < np; i++) own |= !strcmp(pings[i], slug);
	if (!wrapper && !own) {
		if (np > 0) {
			char list[512] = "";
			size_t off = 0;
			for (size_t i = 0; i < np && off < sizeof list - 70; i++) {
				int dup = 0;
				for (size_t k = 0; k < i; k++) dup |= !strcmp(pings[k], pings[i]);
				if (!dup) off += (size_t)snprintf(list + off, sizeof list - off, "%s\"%s\"", off ? ", " : "", pings[i]);
			}
			char hint[160];
			snprintf(hint, sizeof hint, "make the script ping \"%s\", or tag the line with the slug it pings", slug);
			val_add(c->r, "V203", 0, at.file, at.line, at.col, slug, hint,
			        "script %s pings %s, not its line's slug \"%s\"", path, list, slug);
		} else {
			char hint[256];
			snprintf(hint, sizeof hint, "add \"vigil ping %s\" (or the /ping/KEY/%s URL) to the script, or run the line "
			         "through \"vigil run %s -- ...\"", slug, slug, slug);
			val_add(c->r, "V202", 0, at.file, at.line, at.col, slug, hint,
			        "script %s contains no ping call for \"%s\"%s", path, slug, binary ? " (binary file)" : "");
		}
	}
	if (first && !binary && rule_on(c, "V204")) {
		const char *sh = sc_shell(data, len, path, line_shell);
		if (sh) queue_shellcheck(c, slug, path, data, len, sh);
	}
	goto out;
pingcheck_none:
	(void)0;
out:
	val_strv_free(pings, np);
	free(data);
}

/* ---- crontab rules ------------------------------------------------------------ */

static void crontab_rules(ctx *c)
{
	val_crontab *t = c->t;
	const char *f = t->path;
	for (size_t i = 0; i < t->njobs; i++) {
		val_job *j = &t->jobs[i];
		if (!j->schedule || j->ignored) continue;
		if (j->wrapper && j->slug && j->wrapper_slug && strcmp(j->slug, j->wrapper_slug)) {
			val_add(c->r, "V101", 0, f, j->tag_line, j->tag_col, j->slug, "keep one slug: the directive's or the wrapper's",
			        "job line carries two different slugs: \"%s\" (directive) and \"%s\" (vigil run)", j->slug, j->wrapper_slug);
			continue;
		}
		if (!j->slug) {
			if (!j->bad_directive)
				val_add(c->r, "V101", 0, f, j->line, j->col, NULL,
				        "put \"# vigil: SLUG\" on the line above, run it through \"vigil run SLUG -- ...\", "
				        "or exempt it with \"# vigil: ignore reason=\\\"...\\\"\"",
				        "job line has no vigil tag");
			continue;
		}
		/* V103: the first line keeps the slug; later ones are findings */
		int dup = 0;
		for (size_t k = 0; k < i && !dup; k++) {
			const val_job *o = &t->jobs[k];
			if (o->schedule && !o->ignored && o->slug && !strcmp(o->slug, j->slug)) {
				char hint[64];
				snprintf(hint, sizeof hint, "first tagged on line %d", o->line);
				val_add(c->r, "V103", 0, f, j->tag_line, j->tag_col, j->slug, hint,
				        "slug \"%s\" is tagged on more than one line", j->slug);
				dup = 1;
			}
		}
		const val_entry *en = find_entry(c, j->slug);
		if (!en) {
			char dym[128];
			did_you_mean(c, j->slug, dym, sizeof dym);
			const char *hint = reg_slug_valid(j->slug) ? "add it to the registry, or fix the tag"
			                   : "slugs match ^[a-z0-9][a-z0-9_-]{0,63}$";
			val_add(c->r, "V102", 0, f, j->tag_line, j->tag_col, j->slug, hint,
			        "slug \"%s\" is not in the registry%s", j->slug, dym);
			continue;
		}
		if (dup) continue;
		/* the job's source */
		char **lp = NULL;
		size_t nlp = 0;
		if (val_ping_calls(j->command, strlen(j->command), c->o->ping_patterns, &lp, NULL, &nlp)) nlp = 0;
		where at = { f, j->line, j->script_col ? j->script_col : j->cmd_col };
		char *rpath = NULL;
		const char *script = j->script;
		int need_exec = j->script_exec;
		const char *line_shell = NULL;
		if (en->c.script[0]) {
			rpath = reg_script_path(c, en->c.script);
			script = rpath;
			need_exec = 0;
		} else if (j->script_shell && j->script) {
			/* "sh x.sh": the interpreter named on the line decides */
			/* (". file" and "source file": the file's own #! or name decides) */
			line_shell = !strcmp(j->interp, ".") || !strcmp(j->interp, "source") ? NULL
			             : !strcmp(j->interp, "bash") ? "bash" : !strcmp(j->interp, "dash") ? "dash"
			             : !strcmp(j->interp, "ksh") ? "ksh" : "sh";
		}
		if (script) {
			if (rule_on(c, "V201") || rule_on(c, "V202") || rule_on(c, "V203") || rule_on(c, "V204"))
				check_script(c, j->slug, script, need_exec, line_shell, j->wrapper, lp, nlp,
				             rpath ? NULL : (const char *const *)j->args, at);
		} else if (!j->wrapper) {
			int own = 0;
			for (size_t k = 0; k < nlp; k++) own |= !strcmp(lp[k], j->slug);
			if (!own) {
				char hint[200];
				snprintf(hint, sizeof hint, "run it through \"vigil run %s -- ...\", or name its source in the registry's \"script\"", j->slug);
				val_add(c->r, "V202", 0, f, j->line, j->cmd_col, j->slug, hint,
				        "the line runs no script vigil can read, and pings nothing for \"%s\"", j->slug);
			}
		}
		val_strv_free(lp, nlp);
		free(rpath);
		/* V303: the registry may repeat the line's schedule, but must agree */
		char lwhy[8];
		int lnever;
		if (!strcmp(en->c.source, "crontab") && !val_cron_check(j->schedule, NULL, lwhy, sizeof lwhy, &lnever)) {
			char rf[64] = "";
			if (en->line) snprintf(rf, sizeof rf, " (%s:%d)", c->regname, en->line);
			if (en->c.schedule[0] && (en->given & VAL_GIVEN_SCHEDULE) && !val_cron_same(en->c.schedule, j->schedule, c->zone))
				val_add(c->r, "V303", 0, f, j->line, j->col, j->slug, "drop \"schedule\" from the registry entry: the crontab line is the truth",
				        "registry schedule \"%s\"%s differs from the crontab line's \"%s\"", en->c.schedule, rf, j->schedule);
			if ((en->given & VAL_GIVEN_TZ) && !val_zone_same(en->c.tz, c->zone)) {
				char hint[160];
				snprintf(hint, sizeof hint, "the cron daemon runs every job in %s; drop \"tz\" or set it to that zone", c->zone);
				val_add(c->r, "V303", 0, f, j->line, j->col, j->slug, hint,
				        "registry time zone \"%s\"%s differs from the zone this line runs in (%s)", en->c.tz, rf, c->zone);
			}
		} else if (strcmp(en->c.source, "crontab") && en->c.source[0]) {
			val_add(c->r, "V104", 0, f, j->tag_line, j->tag_col, j->slug, "set \"source\": \"crontab\" in the registry entry",
			        "slug \"%s\" is tagged on this line but its registry entry says source \"%s\"", j->slug, en->c.source);
		}
	}
	for (size_t i = 0; i < t->nenv; i++) {
		const val_env *v = &t->env[i];
		if (!strcmp(v->name, "CRON_TZ") || !strcmp(v->name, "TZ")) {
			char hint[200];
			snprintf(hint, sizeof hint, "remove the line; vigil judges this crontab in the daemon's zone (%s)", c->zone);
			val_add(c->r, "V304", 0, f, v->line, 1, NULL, hint,
			        "%s=%s does not change when jobs run: Debian's cron runs every job in its own zone%s",
			        v->name, v->value, !strcmp(v->name, "TZ") ? " (TZ only changes the jobs' environment)" : "");
		}
	}
}

/* ---- registry rules ------------------------------------------------------------ */

static void registry_rules(ctx *c)
{
	for (size_t i = 0; i < c->ne; i++) {
		const val_entry *en = &c->e[i];
		const reg_check *k = &en->c;
		where at = { c->regname, en->line, en->column };
		/* V104 */
		if (c->t && !strcmp(k->source, "crontab")) {
			int found = 0;
			for (size_t j = 0; j < c->t->njobs && !found; j++)
				found = c->t->jobs[j].slug && !c->t->jobs[j].ignored && !strcmp(c->t->jobs[j].slug, k->slug);
			if (!found)
				val_add(c->r, "V104", 0, at.file, at.line, at.col, k->slug,
				        "tag its crontab line, or set \"source\": \"external\" and a \"schedule\"",
				        "check \"%s\" is crontab-driven but no line of %s is tagged with it", k->slug, c->t->path);
		}
		/* external checks declare their own schedule */
		if (strcmp(k->source, "crontab") && k->schedule[0]) {
			char why[400];
			int never;
			if (val_cron_check(k->schedule, k->tz, why, sizeof why, &never))
				val_add(c->r, never ? "V302" : "V301", 0, at.file, at.line, at.col, k->slug, NULL,
				        "check \"%s\": schedule \"%s\" (%s): %s", k->slug, k->schedule, k->tz, why);
		}
		/* external checks with a declared script */
		if (strcmp(k->source, "crontab") && k->script[0]) {
			char *p = reg_script_path(c, k->script);
			if (p) check_script(c, k->slug, p, 0, NULL, 0, NULL, 0, NULL, at);
			free(p);
		}
		/* mutes */
		int active = k->mute_indefinite || k->mute_until_ms > c->now;
		if (active) {
			char until[40];
			val_format_time(k->mute_until_ms, until, sizeof until);
			int64_t max = c->o->mute_max_s > 0 ? c->o->mute_max_s : DEFAULT_MUTE_MAX_S;
			char maxs[32];
			val_format_duration(max, maxs, sizeof maxs);
			if (!k->mute_reason[0])
				val_add(c->r, "V401", 0, at.file, at.line, at.col, k->slug, "every mute says why (\"reason\")",
				        "check \"%s\" is muted without a reason", k->slug);
			if (k->mute_indefinite)
				val_add(c->r, "V403", 0, at.file, at.line, at.col, k->slug, "lift it or give it an end",
				        "check \"%s\" is muted indefinitely%s%s%s", k->slug, k->mute_reason[0] ? " (" : "",
				        k->mute_reason, k->mute_reason[0] ? ")" : "");
			else if (k->mute_until_ms - c->now > max * 1000) {
				char hint[160];
				snprintf(hint, sizeof hint, "end it within %s, or declare it \"indefinite\": true (listed as debt)", maxs);
				val_add(c->r, "V402", 0, at.file, at.line, at.col, k->slug, hint,
				        "check \"%s\" is muted until %s, beyond the policy maximum of %s", k->slug, until, maxs);
			}
			if (en->in_db && k->status == REG_UP && k->status_since_ms > 0) {
				int64_t up = c->now - k->status_since_ms;
				int64_t left = k->mute_indefinite ? max * 1000 : k->mute_until_ms - c->now;
				if (up > left) {
					char ups[32], lefts[32], hint[128];
					val_format_duration(up / 1000, ups, sizeof ups);
					val_format_duration(left / 1000, lefts, sizeof lefts);
					snprintf(hint, sizeof hint, "lift it: vigil check unmute %s", k->slug);
					val_add(c->r, "V404", 0, at.file, at.line, at.col, k->slug, hint,
					        "check \"%s\" has been up for %s, longer than its mute has left (%s)", k->slug, ups,
					        k->mute_indefinite ? "indefinite" : lefts);
				}
			}
		}
		/* V502: never pinged although the first run plus grace has passed */
		if (c->db && en->in_db && k->last_ping_ms == 0 && k->n_pings == 0 && !k->paused) {
			int64_t first = -1;
			const char *sched = k->schedule;
			const char *zone = k->tz;
			if (!strcmp(k->source, "crontab") && c->t) {
				for (size_t j = 0; j < c->t->njobs; j++)
					if (c->t->jobs[j].slug && c->t->jobs[j].schedule && !strcmp(c->t->jobs[j].slug, k->slug)) {
						sched = c->t->jobs[j].schedule;
						break;
					}
				zone = c->zone;
			}
			if (k->period_s > 0) first = k->created_ms + k->period_s * 1000;
			else if (sched[0]) first = val_cron_next(sched, zone, k->created_ms);
			if (first > 0 && first + k->grace_s * 1000 < c->now) {
				char ft[40], g[32];
				val_format_time(first, ft, sizeof ft);
				val_format_duration(k->grace_s, g, sizeof g);
				val_add(c->r, "V502", 0, at.file, at.line, at.col, k->slug,
				        "check that the job runs and that its ping reaches vigil (URL, key, slug)",
				        "check \"%s\" has never pinged; its first run was due at %s (grace %s)", k->slug, ft, g);
			}
		}
	}
	/* V501: orphan pings */
	if (c->db && rule_on(c, "V501")) {
		reg_orphan *ov = NULL;
		size_t no = 0;
		if (reg_orphan_list(c->db, &ov, &no) == REG_OK) {
			for (size_t i = 0; i < no; i++) {
				if (find_entry(c, ov[i].slug)) continue;
				char last[40], dym[128];
				val_format_time(ov[i].last_ms, last, sizeof last);
				did_you_mean(c, ov[i].slug, dym, sizeof dym);
				val_add(c->r, "V501", 0, c->o->db_path, 0, 0, ov[i].slug,
				        "register it, or fix the slug in the job that sends it",
				        "slug \"%s\" pinged %lld time%s (last at %s) but is not registered%s", ov[i].slug,
				        (long long)ov[i].count, ov[i].count == 1 ? "" : "s", last, dym);
			}
			free(ov);
		}
	}
}

/* ---- loading ------------------------------------------------------------------ */

static int file_exists(const char *p)
{
	struct stat st;
	return p && !stat(p, &st);
}

/* Joins ping history from the db into the entries. */
static void join_db(ctx *c)
{
	for (size_t i = 0; i < c->ne; i++) {
		reg_check k;
		val_entry *en = &c->e[i];
		if (reg_check_get(c->db, en->c.slug, &k) != REG_OK) continue;
		en->in_db = 1;
		en->c.id = k.id;
		en->c.status = k.status;
		en->c.status_since_ms = k.status_since_ms;
		en->c.created_ms = k.created_ms;
		en->c.last_ping_ms = k.last_ping_ms;
		en->c.n_pings = reg_ping_count(c->db, k.id);
	}
}

int val_run(const val_opts *o, val_report *r, char *err, size_t errlen)
{
	ctx c = { .o = o, .r = r };
	int rc = VAL_EINTERNAL;
	val_regfile *rf = NULL;
	reg_check *cs = NULL;
	size_t start = val_report_count(r);
	err[0] = '\0';
	c.now = o->now_ms ? o->now_ms : (int64_t)time(NULL) * 1000;
	if (o->cron_tz && *o->cron_tz) snprintf(c.zone, sizeof c.zone, "%s", o->cron_tz);
	else val_system_zone(c.zone, sizeof c.zone);
	if (!val_zone_known(c.zone)) {
		snprintf(err, errlen, "unknown time zone \"%s\" for the cron daemon (--cron-tz / crontab.tz)", c.zone);
		rc = VAL_EINPUT;
		goto out;
	}
	/* cron runs each command in $HOME (the crontab's HOME= line, else the
	 * user's); relative paths and ~ resolve there.  The user running vigil is
	 * normally the one whose crontab it is; --base says otherwise (a
	 * repository checked out in CI). */
	const char *home = getenv("HOME");
	if (o->base_dir) snprintf(c.base, sizeof c.base, "%s", o->base_dir);
	else if (home && home[0] == '/') snprintf(c.base, sizeof c.base, "%s", home);
	else if (o->crontab_path && strrchr(o->crontab_path, '/'))
		snprintf(c.base, sizeof c.base, "%.*s", (int)(strrchr(o->crontab_path, '/') - o->crontab_path), o->crontab_path);
	else snprintf(c.base, sizeof c.base, ".");
	if (!c.base[0]) snprintf(c.base, sizeof c.base, "/");
	/* the ShellCheck cache: as configured; else beside the database when its
	 * folder exists; else ~/.cache/vigil/shellcheck; else none */
	if (o->cache_dir) snprintf(c.cache, sizeof c.cache, "%s", o->cache_dir);
	else {
		char dir[PATH_MAX] = ".";
		const char *sl = o->db_path ? strrchr(o->db_path, '/') : NULL;
		if (sl) snprintf(dir, sizeof dir, "%.*s", (int)(sl - o->db_path), o->db_path);
		struct stat dst;
		if (o->db_path && dir[0] && !stat(dir, &dst) && S_ISDIR(dst.st_mode))
			snprintf(c.cache, sizeof c.cache, "%s/shellcheck-cache", dir);
		else if (home && home[0] == '/')
			snprintf(c.cache, sizeof c.cache, "%s/.cache/vigil/shellcheck", home);
	}

	/* the registry */
	if (o->registry_path) {
		rc = val_regfile_load(o->registry_path, &rf, err, errlen);
		if (rc) goto out;
		size_t n;
		const val_entry *e = val_regfile_entries(rf, &n);
		c.e = calloc(n ? n : 1, sizeof *c.e);
		if (!c.e) { rc = VAL_EINTERNAL; goto oom; }
		memcpy(c.e, e, n * sizeof *e);
		c.ne = n;
		c.regname = o->registry_path;
	}
	if (file_exists(o->db_path)) {
		char msg[512];
		if (reg_open(o->db_path, &c.db, msg, sizeof msg)) {
			snprintf(err, errlen, "%s: %s", o->db_path, msg);
			rc = VAL_EINPUT;
			goto out;
		}
	} else if (!o->registry_path) {
		snprintf(err, errlen, "%s: no registry database here; give --registry FILE or --db FILE",
		         o->db_path ? o->db_path : "(none)");
		rc = VAL_EINPUT;
		goto out;
	}
	if (!o->registry_path) {
		size_t n;
		if (reg_check_list(c.db, &cs, &n)) { snprintf(err, errlen, "%s", reg_errmsg(c.db)); rc = VAL_EINPUT; goto out; }
		c.e = calloc(n ? n : 1, sizeof *c.e);
		if (!c.e) goto oom;
		for (size_t i = 0; i < n; i++) {
			c.e[i].c = cs[i];
			c.e[i].given = VAL_GIVEN_SCHEDULE | VAL_GIVEN_TZ | VAL_GIVEN_SOURCE | VAL_GIVEN_MUTE;
			/* a crontab-driven check's schedule in the db is derived from its
			 * line by the last apply (step 10), never declared: a new crontab
			 * that changes the line's schedule must pass (issue 5) */
			if (!strcmp(cs[i].source, "crontab")) c.e[i].given &= ~(unsigned)VAL_GIVEN_SCHEDULE;
		}
		c.ne = n;
		c.regname = o->db_path;
	}
	if (c.db) join_db(&c);

	/* the crontab */
	if (o->crontab_path) {
		rc = val_crontab_load(o->crontab_path, c.base, r, &c.t, err, errlen);
		if (rc) goto out;
		for (size_t i = c.t->nenv; i-- > 0;)   /* a HOME= line is the jobs' home */
			if (!strcmp(c.t->env[i].name, "HOME")) {
				snprintf(c.base, sizeof c.base, "%s", c.t->env[i].value);
				break;
			}
		if (rule_on(&c, "V3")) val_cron_rules(o->crontab_path, c.t, c.zone, r);
		crontab_rules(&c);
	}
	registry_rules(&c);
	run_shellcheck(&c);
	val_report_retain(r, start, keep_rule, &c);
	rc = VAL_OK;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	rc = VAL_EINTERNAL;
out:
	for (size_t i = 0; i < c.nsc; i++) {
		free((char *)c.sc[i].path);
		free(c.sc_slug[i]);
		val_sc_free(c.sc[i].items, c.sc[i].n);
	}
	free(c.sc);
	free(c.sc_slug);
	for (size_t i = 0; i < c.nscripts; i++) free(c.scripts_done[i]);
	free(c.scripts_done);
	free(cs);
	free(c.e);
	val_crontab_free(c.t);
	val_regfile_free(rf);
	if (c.db) reg_close(c.db);
	return rc;
}
