/* supervisor/web.h — everything the HTTP server answers besides pings: the
 * status page (/ and /checks/<slug>), the JSON API (/api/v1/...) and
 * /metrics; the API keys they accept and the SHA-256 that stores them.
 * Called on the server's HTTP thread with the whole request body read
 * (bounded); fills a response.  Nothing slow here.
 *
 * Access: the API always wants "Authorization: Bearer KEY" (read-only key
 * for GET, read-write for the rest).  The page and /metrics are open when
 * the server listens on loopback only; otherwise they want a key too (basic
 * auth with the key as password, bearer, or the cookie set by /login).
 * The implementation is split over web.c (dispatch, escaping, auth),
 * web_api.c, web_page.c, web_metrics.c and web_keys.c. */
#ifndef VIGIL_WEB_H
#define VIGIL_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"
#include "supervisor/config.h"

typedef struct web_req {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* decoded path, no query */
	const char *query;         /* raw query string or "" */
	const char *authorization; /* Authorization header or NULL */
	const char *cookie;        /* Cookie header or NULL */
	const char *remote;        /* client address */
	const unsigned char *body; /* request body (not NUL-terminated) */
	size_t body_len;
	int body_too_large;        /* the body exceeded the limit and was dropped */
	int loopback;              /* the server listens on loopback only */
	reg_db *db;                /* connection owned by the HTTP thread */
	const vigil_config *cfg;
	const char *(*arg)(void *ctx, const char *name); /* query argument lookup */
	void *arg_ctx;
} web_req;

#define WEB_MAX_HEADERS 8
typedef struct web_resp {
	int status;
	char *body;                /* malloc'd (free()d by the server) or NULL */
	size_t body_len;
	const char *content_type;
	struct { const char *name; char value[256]; } headers[WEB_MAX_HEADERS];
	int nheaders;
} web_resp;

/* Returns 1 when the path is handled (resp filled), 0 when not (server
 * answers 404). */
int web_handle(const web_req *req, web_resp *resp);
/* Adds a response header (copied); silently ignores overflow past WEB_MAX_HEADERS. */
void web_header(web_resp *resp, const char *name, const char *value);

/* Counters the server feeds to /metrics; safe from any thread. */
void web_count_ping(int kind /* reg_ping_kind */, int found);
void web_observe_latency(double seconds);

/* ---- API keys (table apikeys; only the SHA-256 of a key is stored) ------- */

/* Creates a key ("vk_" + 64 hex digits from getrandom) and stores its hash.
 * KEY receives the key itself (shown once), keylen >= 68. */
int web_apikey_create(reg_db *db, int rw, const char *label, int64_t now_ms,
                      char *key, size_t keylen, int64_t *id);
/* Returns 2 for a read-write key, 1 for a read-only key, 0 for none, -1 on a
 * database error. */
int web_apikey_check(reg_db *db, const char *key);
int web_apikey_rm(reg_db *db, int64_t id);   /* REG_ENOTFOUND when absent */
typedef struct web_apikey {
	int64_t id, created_ms;
	int rw;
	char label[128];
	char hash_prefix[13];
} web_apikey;
/* *out malloc'd (free()), ordered by id. */
int web_apikey_list(reg_db *db, web_apikey **out, size_t *n);

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------- */


#endif
