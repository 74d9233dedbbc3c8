/* supervisor/cli_check.c — `vigil check ...` and `vigil status`. */
#include "supervisor/cli.h"
#include "supervisor/alerts.h"

#include "crontab/crontab.h"
#include "registry/registry.h"
#include "supervisor/facts.h"
#include "supervisor/ops.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_db(vigil_global *g, reg_db **db, const char *who)
{
	char err[512];
	if (reg_open(g->db_path, db, err, sizeof err) != REG_OK) {
		fprintf(stderr, "%s: %s\n", who, err);
		return -1;
	}
	return 0;
}

static int exit_for(int rc)
{
	switch (rc) {
	case REG_OK: return VIGIL_EXIT_OK;
	case REG_ENOTFOUND: case REG_EEXISTS: case REG_EINVAL: return VIGIL_EXIT_USAGE;
	default: return VIGIL_EXIT_INTERNAL;
	}
}

static int check_usage(void)
{
	fprintf(stderr,
	        "usage: vigil check add SLUG (--cron EXPR | --every DUR) [--tz TZ] [--grace DUR] [--max-runtime DUR]\n"
	        "                           [--name TEXT] [--desc TEXT] [--tags TEXT]\n"
	        "       vigil check list | show SLUG | rm SLUG | pause SLUG | resume SLUG\n"
	        "       vigil check mute SLUG (--until RFC3339 | --for DUR | --indefinite) --reason TEXT\n"
	        "       vigil check unmute SLUG\n");
	return VIGIL_EXIT_USAGE;
}

static int set_text(char *dst, size_t n, const char *v, const char *what)
{
	if (strlen(v) >= n) {
		fprintf(stderr, "vigil check: %s longer than %zu bytes\n", what, n - 1);
		return -1;
	}
	snprintf(dst, n, "%s", v);
	return 0;
}

static int cmd_add(int argc, char **argv, vigil_global *g)
{
	if (argc < 3 || argv[2][0] == '-') return check_usage();
	reg_check c;
	reg_check_init(&c);
	if (set_text(c.slug, sizeof c.slug, argv[2], "slug")) return VIGIL_EXIT_USAGE;
	int have_sched = 0;
	for (int i = 3; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) { fprintf(stderr, "vigil check add: option %s needs a value\n", a); return VIGIL_EXIT_USAGE; }
		long long d;
		const char *why;
		if (!strcmp(a, "--cron")) {
			if (set_text(c.schedule, sizeof c.schedule, v, "schedule")) return VIGIL_EXIT_USAGE;
			have_sched++;
		} else if (!strcmp(a, "--every")) {
			if (vigil_parse_duration(v, &d, &why) || d < 1) {
				fprintf(stderr, "vigil check add: --every \"%s\": %s\n", v, vigil_parse_duration(v, &d, &why) ? why : "must be at least 1s");
				return VIGIL_EXIT_USAGE;
			}
			c.period_s = d;
			have_sched++;
		} else if (!strcmp(a, "--grace") || !strcmp(a, "--max-runtime")) {
			if (vigil_parse_duration(v, &d, &why)) {
				fprintf(stderr, "vigil check add: %s \"%s\": %s\n", a, v, why);
				return VIGIL_EXIT_USAGE;
			}
			if (a[2] == 'g') c.grace_s = d; else c.max_runtime_s = d;
		} else if (!strcmp(a, "--tz")) {
			if (set_text(c.tz, sizeof c.tz, v, "time zone")) return VIGIL_EXIT_USAGE;
		} else if (!strcmp(a, "--name")) {
			if (set_text(c.name, sizeof c.name, v, "name")) return VIGIL_EXIT_USAGE;
		} else if (!strcmp(a, "--desc")) {
			if (set_text(c.desc, sizeof c.desc, v, "description")) return VIGIL_EXIT_USAGE;
		} else if (!strcmp(a, "--tags")) {
			if (set_text(c.tags, sizeof c.tags, v, "tags")) return VIGIL_EXIT_USAGE;
		} else {
			fprintf(stderr, "vigil check add: unknown option \"%s\"\n", a);
			return check_usage();
		}
	}
	if (have_sched != 1) {
		fprintf(stderr, "vigil check add: give exactly one of --cron EXPR or --every DUR\n");
		return VIGIL_EXIT_USAGE;
	}
	reg_db *db;
	if (open_db(g, &db, "vigil check add")) return VIGIL_EXIT_INTERNAL;
	char err[512];
	int rc = ops_check_save(db, &c, 0, ops_now_ms(), err, sizeof err);
	if (rc) fprintf(stderr, "vigil check add: %s\n", err);
	else printf("added %s\n", c.slug);
	reg_close(db);
	return exit_for(rc);
}

static void print_check(const reg_check *c, int64_t now)
{
	char a[64], b[64];
	printf("slug:          %s\n", c->slug);
	if (c->name[0]) printf("name:          %s\n", c->name);
	if (c->desc[0]) printf("description:   %s\n", c->desc);
	if (c->tags[0]) printf("tags:          %s\n", c->tags);
	if (c->schedule[0]) printf("schedule:      %s (%s)\n", c->schedule, c->tz);
	else printf("period:        %llds\n", (long long)c->period_s);
	printf("grace:         %llds\n", (long long)c->grace_s);
	if (c->max_runtime_s) printf("max runtime:   %llds\n", (long long)c->max_runtime_s);
	printf("state:         %s (since %s)\n", ops_state_name(c), ops_rfc3339(c->status_since_ms, a, sizeof a));
	printf("last ping:     %s\n", ops_ago(c->last_ping_ms, now, a, sizeof a));
	printf("last start:    %s\n", ops_ago(c->last_start_ms, now, a, sizeof a));
	printf("last success:  %s\n", ops_ago(c->last_success_ms, now, a, sizeof a));
	printf("last failure:  %s\n", ops_ago(c->last_fail_ms, now, a, sizeof a));
	if (c->last_exit >= 0) printf("last exit:     %d\n", c->last_exit);
	if (c->last_duration_ms >= 0) printf("last duration: %.3fs\n", (double)c->last_duration_ms / 1000);
	int64_t nx = ops_next_expected(c, now);
	if (nx) printf("next expected: %s (%s)\n", ops_rfc3339(nx, a, sizeof a), ops_ago(nx, now, b, sizeof b));
	if (c->mute_indefinite) printf("muted:         indefinitely: %s\n", c->mute_reason);
	else if (c->mute_until_ms > now) printf("muted:         until %s: %s\n", ops_rfc3339(c->mute_until_ms, a, sizeof a), c->mute_reason);
	if (c->source[0]) printf("source:        %s\n", c->source);
	if (c->crontab_line[0]) printf("crontab line:  %s\n", c->crontab_line);
}

static int cmd_slug_op(int argc, char **argv, vigil_global *g)
{
	const char *op = argv[1];
	if (argc < 3) return check_usage();
	const char *slug = argv[2];
	int64_t until = 0;
	int indefinite = 0;
	const char *reason = NULL;
	int64_t now = ops_now_ms();
	if (!strcmp(op, "mute")) {
		for (int i = 3; i < argc;) {
			const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
			if (!strcmp(a, "--indefinite")) { indefinite = 1; i++; continue; }
			if (!v) { fprintf(stderr, "vigil check mute: option %s needs a value\n", a); return VIGIL_EXIT_USAGE; }
			if (!strcmp(a, "--reason")) reason = v;
			else if (!strcmp(a, "--until")) {
				if (ops_parse_time(v, &until)) {
					fprintf(stderr, "vigil check mute: --until \"%s\": expected RFC 3339, e.g. 2026-03-08T07:00:00Z\n", v);
					return VIGIL_EXIT_USAGE;
				}
			} else if (!strcmp(a, "--for")) {
				long long d;
				const char *why;
				if (vigil_parse_duration(v, &d, &why) || d < 1) {
					fprintf(stderr, "vigil check mute: --for \"%s\": %s\n", v, vigil_parse_duration(v, &d, &why) ? why : "must be at least 1s");
					return VIGIL_EXIT_USAGE;
				}
				until = now + d * 1000;
			} else { fprintf(stderr, "vigil check mute: unknown option \"%s\"\n", a); return check_usage(); }
			i += 2;
		}
	} else if (argc != 3) {
		fprintf(stderr, "vigil check %s: unexpected argument \"%s\"\n", op, argv[3]);
		return check_usage();
	}
	if (!reg_slug_valid(slug)) {
		fprintf(stderr, "vigil check %s: slug \"%s\" is invalid (expected ^[a-z0-9][a-z0-9_-]{0,63}$)\n", op, slug);
		return VIGIL_EXIT_USAGE;
	}
	reg_db *db;
	if (open_db(g, &db, "vigil check")) return VIGIL_EXIT_INTERNAL;
	char err[512] = "";
	int rc;
	if (!strcmp(op, "show")) {
		reg_check c;
		rc = reg_check_get(db, slug, &c);
		if (rc) snprintf(err, sizeof err, "%s", reg_errmsg(db));
		else print_check(&c, now);
	} else if (!strcmp(op, "rm")) rc = ops_check_rm(db, slug, err, sizeof err);
	else if (!strcmp(op, "pause")) rc = ops_check_pause(db, slug, 1, now, err, sizeof err);
	else if (!strcmp(op, "resume")) rc = ops_check_pause(db, slug, 0, now, err, sizeof err);
	else if (!strcmp(op, "mute")) rc = ops_check_mute(db, g->cfg, slug, until, indefinite, reason, now, err, sizeof err);
	else rc = ops_check_unmute(db, slug, err, sizeof err);
	if (rc) fprintf(stderr, "vigil check %s: %s\n", op, err);
	else if (strcmp(op, "show")) printf("%s: %s\n", slug, !strcmp(op, "rm") ? "removed" : !strcmp(op, "pause") ? "paused"
	                                   : !strcmp(op, "resume") ? "resumed" : !strcmp(op, "mute") ? "muted" : "unmuted");
	reg_close(db);
	return exit_for(rc);
}

static cJSON *check_json(const reg_check *c, int64_t now)
{
	char t[64];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "slug", c->slug);
	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddStringToObject(o, "state", ops_state_name(c));
	cJSON_AddStringToObject(o, "status", reg_status_name(c->status));
	if (c->schedule[0]) cJSON_AddStringToObject(o, "schedule", c->schedule);
	else cJSON_AddNumberToObject(o, "period_s", (double)c->period_s);
	cJSON_AddStringToObject(o, "tz", c->tz);
	cJSON_AddNumberToObject(o, "grace_s", (double)c->grace_s);
	cJSON_AddNumberToObject(o, "max_runtime_s", (double)c->max_runtime_s);
	cJSON_AddBoolToObject(o, "paused", c->paused);
	struct { const char *k; int64_t v; } ts[] = {
		{"last_ping", c->last_ping_ms}, {"last_start", c->last_start_ms},
		{"last_success", c->last_success_ms}, {"last_fail", c->last_fail_ms},
		{"since", c->status_since_ms}, {"next_expected", ops_next_expected(c, now)},
	};
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		if (ts[i].v) cJSON_AddStringToObject(o, ts[i].k, ops_rfc3339(ts[i].v, t, sizeof t));
		else cJSON_AddNullToObject(o, ts[i].k);
	}
	if (c->last_exit >= 0) cJSON_AddNumberToObject(o, "last_exit", c->last_exit);
	else cJSON_AddNullToObject(o, "last_exit");
	if (c->last_duration_ms >= 0) cJSON_AddNumberToObject(o, "last_duration_s", (double)c->last_duration_ms / 1000);
	else cJSON_AddNullToObject(o, "last_duration_s");
	if (c->mute_indefinite || c->mute_until_ms > now) {
		cJSON *m = cJSON_AddObjectToObject(o, "mute");
		cJSON_AddBoolToObject(m, "indefinite", c->mute_indefinite);
		if (c->mute_until_ms) cJSON_AddStringToObject(m, "until", ops_rfc3339(c->mute_until_ms, t, sizeof t));
		cJSON_AddStringToObject(m, "reason", c->mute_reason);
	} else cJSON_AddNullToObject(o, "mute");
	return o;
}

static int cmd_list(vigil_global *g, int json, const char *who)
{
	reg_db *db;
	if (open_db(g, &db, who)) return VIGIL_EXIT_INTERNAL;
	reg_check *cs;
	size_t n;
	int rc = reg_check_list(db, &cs, &n);
	if (rc) {
		fprintf(stderr, "%s: %s\n", who, reg_errmsg(db));
		reg_close(db);
		return VIGIL_EXIT_INTERNAL;
	}
	int64_t now = ops_now_ms();
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, check_json(&cs[i], now));
		char *s = cJSON_Print(arr);
		if (s) printf("%s\n", s);
		free(s);
		cJSON_Delete(arr);
	} else {
		printf("%-32s %-8s %-12s %-22s %s\n", "SLUG", "STATE", "LAST PING", "NEXT EXPECTED", "MUTE");
		int debt = 0;
		for (size_t i = 0; i < n; i++) {
			const reg_check *c = &cs[i];
			char ago[32], nx[64] = "-", mute[300] = "";
			int64_t e = ops_next_expected(c, now);
			if (e) ops_rfc3339(e, nx, sizeof nx);
			if (c->mute_indefinite) { snprintf(mute, sizeof mute, "indefinite: %s", c->mute_reason); debt++; }
			else if (c->mute_until_ms > now) {
				char u[64];
				snprintf(mute, sizeof mute, "until %s: %s", ops_rfc3339(c->mute_until_ms, u, sizeof u), c->mute_reason);
			}
			printf("%-32s %-8s %-12s %-22s %s\n", c->slug, ops_state_name(c),
			       ops_ago(c->last_ping_ms, now, ago, sizeof ago), nx, mute);
		}
		if (debt) printf("\n%d indefinite mute%s (debt: lift or give an end)\n", debt, debt == 1 ? "" : "s");
	}
	free(cs);
	reg_close(db);
	return VIGIL_EXIT_OK;
}

int cli_check(int argc, char **argv, vigil_global *g)
{
	if (argc < 2) return check_usage();
	const char *op = argv[1];
	if (!strcmp(op, "add")) return cmd_add(argc, argv, g);
	if (!strcmp(op, "list")) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json"))) return check_usage();
		return cmd_list(g, argc == 3, "vigil check list");
	}
	static const char *const slug_ops[] = {"show", "rm", "pause", "resume", "mute", "unmute"};
	for (size_t i = 0; i < sizeof slug_ops / sizeof slug_ops[0]; i++)
		if (!strcmp(op, slug_ops[i])) return cmd_slug_op(argc, argv, g);
	fprintf(stderr, "vigil check: unknown subcommand \"%s\"\n", op);
	return check_usage();
}

/* An apply interrupted by a crash is finished or reverted before anything
 * is reported, so the installed crontab is exactly the old or the new one. */
static int recover_applies(vigil_global *g, const char *who)
{
	char msg[1024] = "";
	int rc = cron_apply_recover(g->db_path, msg, sizeof msg);
	if (rc > 0) fprintf(stderr, "%s: %s\n", who, msg);
	else if (rc < 0) fprintf(stderr, "%s: interrupted crontab apply not recovered: %s\n", who, msg);
	return rc;
}

/* The facts document of what is wrong now (the summarizer's input schema). */
static int print_facts(vigil_global *g)
{
	reg_db *db;
	if (open_db(g, &db, "vigil status")) return VIGIL_EXIT_INTERNAL;
	reg_check *cs;
	size_t n;
	int rc = reg_check_list(db, &cs, &n);
	reg_close(db);
	if (rc) { fprintf(stderr, "vigil status: cannot list checks\n"); return VIGIL_EXIT_INTERNAL; }
	val_facts f;
	char *json = NULL;
	if (!facts_from_checks(cs, n, ops_now_ms(), &f)) {
		json = val_facts_to_json(&f);
		facts_release(&f);
	}
	free(cs);
	if (!json) { fprintf(stderr, "vigil status: out of memory\n"); return VIGIL_EXIT_INTERNAL; }
	printf("%s\n", json);
	free(json);
	return VIGIL_EXIT_OK;
}

int cli_status(int argc, char **argv, vigil_global *g)
{
	int json = 0, facts = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--facts")) { facts = 1; continue; }
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			const char *f = argv[++i];
			if (!strcmp(f, "json")) json = 1;
			else if (strcmp(f, "text")) {
				fprintf(stderr, "vigil status: --format \"%s\": expected text or json\n", f);
				return VIGIL_EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "vigil status: unknown or incomplete option \"%s\"\nusage: vigil status [--format text|json] [--facts]\n", argv[i]);
			return VIGIL_EXIT_USAGE;
		}
	}
	recover_applies(g, "vigil status");
	if (facts) return print_facts(g);
	int rc = cmd_list(g, json, "vigil status");
	reg_db *db;
	if (rc == VIGIL_EXIT_OK && !json && !open_db(g, &db, "vigil status")) {
		char line[512];   /* undelivered and failed alerts (supervisor/alerts.h) */
		if (alerts_status_text(db, line, sizeof line) == REG_OK && line[0]) printf("\n%s\n", line);
		reg_close(db);
	}
	return rc;
}
