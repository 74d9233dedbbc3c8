/* supervisor/cli_api.c — `vigil apikey create --ro|--rw [--label TEXT] | list | rm ID`.
 * The key is printed once at creation; only its SHA-256 is stored. */
#include "supervisor/cli.h"

#include "registry/registry.h"
#include "supervisor/ops.h"
#include "supervisor/web.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int apikey_usage(void)
{
	fprintf(stderr, "usage: vigil apikey create --ro|--rw [--label TEXT]\n"
	                "       vigil apikey list\n"
	                "       vigil apikey rm ID\n");
	return VIGIL_EXIT_USAGE;
}

int cli_apikey(int argc, char **argv, vigil_global *g)
{
	if (argc < 2) return apikey_usage();
	const char *op = argv[1];
	int rw = -1;
	const char *label = "";
	int64_t id = 0;
	if (!strcmp(op, "create")) {
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--ro") || !strcmp(argv[i], "--rw")) {
				if (rw != -1) { fprintf(stderr, "vigil apikey create: give one of --ro or --rw\n"); return VIGIL_EXIT_USAGE; }
				rw = argv[i][3] == 'w';
			} else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
				label = argv[++i];
				if (strlen(label) > 100) { fprintf(stderr, "vigil apikey create: --label longer than 100 bytes\n"); return VIGIL_EXIT_USAGE; }
			} else {
				fprintf(stderr, "vigil apikey create: unknown or incomplete option \"%s\"\n", argv[i]);
				return apikey_usage();
			}
		}
		if (rw == -1) { fprintf(stderr, "vigil apikey create: give --ro (read-only) or --rw (read-write)\n"); return VIGIL_EXIT_USAGE; }
	} else if (!strcmp(op, "list")) {
		if (argc != 2) return apikey_usage();
	} else if (!strcmp(op, "rm")) {
		char *end;
		if (argc != 3) return apikey_usage();
		long long v = strtoll(argv[2], &end, 10);
		if (!argv[2][0] || *end || v < 1) { fprintf(stderr, "vigil apikey rm: \"%s\" is not a key id (see vigil apikey list)\n", argv[2]); return VIGIL_EXIT_USAGE; }
		id = v;
	} else {
		fprintf(stderr, "vigil apikey: unknown subcommand \"%s\"\n", op);
		return apikey_usage();
	}

	reg_db *db;
	char err[512];
	if (reg_open(g->db_path, &db, err, sizeof err) != REG_OK) {
		fprintf(stderr, "vigil apikey: %s\n", err);
		return VIGIL_EXIT_INTERNAL;
	}
	int ret = VIGIL_EXIT_OK;
	if (!strcmp(op, "create")) {
		char key[80];
		int rc = web_apikey_create(db, rw, label, ops_now_ms(), key, sizeof key, &id);
		if (rc) { fprintf(stderr, "vigil apikey create: %s\n", sqlite3_errmsg(reg_sqlite(db))); ret = VIGIL_EXIT_INTERNAL; }
		else {
			printf("%s\n", key);
			fprintf(stderr, "vigil: %s key %lld created; it is shown only now (only its SHA-256 is stored)\n",
			        rw ? "read-write" : "read-only", (long long)id);
		}
	} else if (!strcmp(op, "list")) {
		web_apikey *ks;
		size_t n;
		if (web_apikey_list(db, &ks, &n)) { fprintf(stderr, "vigil apikey list: %s\n", sqlite3_errmsg(reg_sqlite(db))); ret = VIGIL_EXIT_INTERNAL; }
		else {
			printf("%-6s %-4s %-22s %-14s %s\n", "ID", "MODE", "CREATED", "SHA256", "LABEL");
			for (size_t i = 0; i < n; i++) {
				char t[64];
				printf("%-6lld %-4s %-22s %-14s %s\n", (long long)ks[i].id, ks[i].rw ? "rw" : "ro",
				       ops_rfc3339(ks[i].created_ms, t, sizeof t), ks[i].hash_prefix, ks[i].label);
			}
			free(ks);
		}
	} else {
		int rc = web_apikey_rm(db, id);
		if (rc == REG_ENOTFOUND) { fprintf(stderr, "vigil apikey rm: no key with id %lld\n", (long long)id); ret = VIGIL_EXIT_USAGE; }
		else if (rc) { fprintf(stderr, "vigil apikey rm: %s\n", sqlite3_errmsg(reg_sqlite(db))); ret = VIGIL_EXIT_INTERNAL; }
		else printf("key %lld removed\n", (long long)id);
	}
	reg_close(db);
	return ret;
}
