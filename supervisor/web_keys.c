/* supervisor/web_keys.c — the API keys, stored by their SHA-256 (reg_sha256)
 * in the apikeys table. */
#include "supervisor/web.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- API keys ---------------------------------------------------------------- */

static int db_fail(sqlite3 *s)
{
	int rc = sqlite3_errcode(s);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return REG_EBUSY;
	if (rc == SQLITE_CONSTRAINT) return REG_EEXISTS;
	return REG_EIO;
}

int web_apikey_create(reg_db *db, int rw, const char *label, int64_t now_ms,
                      char *key, size_t keylen, int64_t *id)
{
	unsigned char rnd[32];
	if (keylen < 68) return REG_EINVAL;
	size_t got = 0;
	while (got < sizeof rnd) {
		ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
		if (n <= 0) return REG_EIO;
		got += (size_t)n;
	}
	memcpy(key, "vk_", 3);
	for (size_t i = 0; i < sizeof rnd; i++) snprintf(key + 3 + 2 * i, 3, "%02x", rnd[i]);
	char hash[65];
	reg_sha256_hex(key, strlen(key), hash);
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int rc = REG_OK;
	if (sqlite3_prepare_v2(s, "INSERT INTO apikeys(hash, rw, label, created_ms) VALUES (?,?,?,?)", -1, &st, NULL)) {
		rc = db_fail(s);
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, rw ? 1 : 0);
	sqlite3_bind_text(st, 3, label ? label : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, now_ms);
	if (sqlite3_step(st) != SQLITE_DONE) { rc = db_fail(s); goto out; }
	if (id) *id = sqlite3_last_insert_rowid(s);
out:
	sqlite3_finalize(st);
	if (rc) memset(key, 0, keylen);
	return rc;
}

int web_apikey_check(reg_db *db, const char *key)
{
	if (!key || !*key || strlen(key) > 200) return 0;
	char hash[65];
	reg_sha256_hex(key, strlen(key), hash);
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int ret = -1;
	if (sqlite3_prepare_v2(s, "SELECT rw FROM apikeys WHERE hash=?", -1, &st, NULL)) goto out;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) ret = sqlite3_column_int(st, 0) ? 2 : 1;
	else if (rc == SQLITE_DONE) ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int web_apikey_rm(reg_db *db, int64_t id)
{
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int rc = REG_OK;
	if (sqlite3_prepare_v2(s, "DELETE FROM apikeys WHERE id=?", -1, &st, NULL)) { rc = db_fail(s); goto out; }
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) { rc = db_fail(s); goto out; }
	if (sqlite3_changes(s) == 0) rc = REG_ENOTFOUND;
out:
	sqlite3_finalize(st);
	return rc;
}

int web_apikey_list(reg_db *db, web_apikey **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3 *s = reg_sqlite(db);
	sqlite3_stmt *st = NULL;
	int rc = REG_OK;
	size_t cap = 0;
	if (sqlite3_prepare_v2(s, "SELECT id, rw, label, created_ms, hash FROM apikeys ORDER BY id", -1, &st, NULL)) {
		rc = db_fail(s);
		goto out;
	}
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			web_apikey *nk = realloc(*out, nc * sizeof *nk);
			if (!nk) { rc = REG_EIO; goto out; }
			*out = nk;
			cap = nc;
		}
		web_apikey *k = &(*out)[(*n)++];
		memset(k, 0, sizeof *k);
		k->id = sqlite3_column_int64(st, 0);
		k->rw = sqlite3_column_int(st, 1);
		snprintf(k->label, sizeof k->label, "%s", (const char *)sqlite3_column_text(st, 2));
		k->created_ms = sqlite3_column_int64(st, 3);
		snprintf(k->hash_prefix, sizeof k->hash_prefix, "%s", (const char *)sqlite3_column_text(st, 4));
	}
	if (step != SQLITE_DONE) rc = db_fail(s);
out:
	sqlite3_finalize(st);
	if (rc) { free(*out); *out = NULL; *n = 0; }
	return rc;
}
