/* supervisor/web_keys.c — SHA-256 (FIPS 180-4, written from the standard) and
 * the API keys stored by their hash in the apikeys table. */
#include "supervisor/web.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- SHA-256 ------------------------------------------------------------------- */

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void web_sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	size_t left = len;
	while (left >= 64) { sha256_block(h, p); p += 64; left -= 64; }
	unsigned char tail[128] = {0};
	memcpy(tail, p, left);
	tail[left] = 0x80;
	size_t tl = left < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_block(h, tail);
	if (tl == 128) sha256_block(h, tail + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

void web_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[32];
	web_sha256(data, len, d);
	for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

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
	web_sha256_hex(key, strlen(key), hash);
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
	web_sha256_hex(key, strlen(key), hash);
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
