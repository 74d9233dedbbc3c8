/* supervisor/web_internal.h — shared between the web*.c files only: the
 * output buffer with HTML/UTF-8 escaping, authentication, responses, and the
 * read-only queries the page, the API and /metrics have in common. */
#ifndef VIGIL_WEB_INTERNAL_H
#define VIGIL_WEB_INTERNAL_H

#include "supervisor/web.h"

#include <stdint.h>

/* ---- output buffer ----------------------------------------------------------
 * Grows with malloc; on allocation failure sets oom and drops further output
 * (the response then becomes a 500).  The bytes are owned by the buffer until
 * wb_take() hands them over (free() them). */
typedef struct web_buf {
	char *p;
	size_t len, cap;
	int oom;
} web_buf;

void wb_put(web_buf *b, const char *s, size_t n);
void wb_puts(web_buf *b, const char *s);
void wb_printf(web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* HTML-escaped (& < > " '), invalid UTF-8 and control bytes replaced by U+FFFD
 * (tab, newline kept). */
void wb_html(web_buf *b, const char *s, size_t n);
void wb_html_s(web_buf *b, const char *s);
/* A copy that is valid UTF-8: invalid sequences become U+FFFD. */
void wb_utf8(web_buf *b, const char *s, size_t n);
/* Returns the NUL-terminated bytes (malloc'd, caller frees) or NULL on oom. */
char *wb_take(web_buf *b, size_t *len);
void wb_free(web_buf *b);

/* ---- auth ----------------------------------------------------------------------- */

typedef enum { WEB_AUTH_NONE = 0, WEB_AUTH_RO = 1, WEB_AUTH_RW = 2 } web_auth;
/* The key presented as "Authorization: Bearer KEY" (API, /metrics). */
web_auth web_auth_bearer(const web_req *r);
/* The page: a bearer key, basic auth (the key as the password, or as the user
 * name with an empty password) or the vigil_key cookie. */
web_auth web_auth_page(const web_req *r);

/* ---- responses --------------------------------------------------------------------- */

/* Hands b's bytes to resp (b is emptied). */
void web_send(web_resp *resp, int status, const char *ctype, web_buf *b);
void web_send_text(web_resp *resp, int status, const char *text);
/* {"error": CODE, "detail": "..."} with STATUS. */
void web_error(web_resp *resp, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- shared queries ------------------------------------------------------------------- */

/* The alert outbox (the sender's `alerts` table) by state. */
typedef struct web_outbox {
	int64_t pending, sending, sent, failed, held;
	int64_t oldest_pending_ms;   /* created_ms of the oldest pending/sending row; 0 none */
	int64_t stuck;               /* pending/sending rows retried already or older than WEB_STUCK_MS */
	int64_t last_error_ms;       /* newest failed row's created_ms */
	char last_error[256];
} web_outbox;
#define WEB_STUCK_MS (5 * 60 * 1000)
int web_outbox_counts(reg_db *db, int64_t now_ms, web_outbox *out);

/* The latest crontab revision (id 0 when none). */
int web_last_revision(reg_db *db, int64_t *id, int64_t *created_ms, char *user, size_t userlen);

/* One ping's stored body: *body malloc'd (caller frees).  REG_ENOTFOUND when
 * ping ID is not one of CHECK_ID's. */
int web_ping_body(reg_db *db, int64_t check_id, int64_t ping_id, unsigned char **body, size_t *len, int *cut);

/* Parses a positive decimal id ("17"); -1 when not one. */
int64_t web_parse_id(const char *s, size_t n);

/* Checks sorted for operators: down, grace, then the rest by slug. */
void web_sort_checks(reg_check *cs, size_t n);

/* The one call site for findings of the validator (issue: validators) and the
 * summarizer's acceptance counters (issue: summarizer): not wired in yet.
 * Each returns -1 ("not available"). */
int web_validator_findings(reg_db *db, const reg_check *c, web_buf *html);
int web_summarizer_counts(int64_t *accepted, int64_t *rejected);

/* ---- the three surfaces ------------------------------------------------------------------ */

int web_api(const web_req *r, web_resp *resp);        /* /api/v1/... */
int web_page(const web_req *r, web_resp *resp);       /* /, /checks/..., /login, /style.css */
int web_metrics(const web_req *r, web_resp *resp);    /* /metrics */

#endif
