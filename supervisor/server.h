/* supervisor/server.h — the HTTP server of `vigil serve`: ping endpoint with
 * group commit, and the dispatch of /, /checks/, /api/v1/ and /metrics to
 * supervisor/web.h. */
#ifndef VIGIL_SERVER_H
#define VIGIL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "supervisor/alerts.h"
#include "supervisor/config.h"

typedef struct vigil_server vigil_server;

typedef struct server_opts {
	const char *db_path;
	const char *listen;        /* "ADDR:PORT"; port 0 picks a free one */
	size_t body_limit;         /* bytes kept of a ping body (default 100 KB) */
	const vigil_config *cfg;
	vigil_alerts *alerts;      /* notified after each committed ping; may be NULL */
} server_opts;

/* Starts the server threads.  *out is freed by server_stop(). */
int server_start(const server_opts *o, vigil_server **out, char *err, size_t errlen);
/* A ping URL taken apart. */
typedef struct server_ping_path {
	char slug[65];
	int kind;          /* reg_ping_kind */
	int exit_status;   /* -1 unless kind is exit */
} server_ping_path;
/* Parses "/ping/<key>/<slug>[/start|fail|log|0-255]" against KEY.  Returns 0
 * (out filled), or the HTTP status to answer (400, 404) with *why set. */
int server_parse_ping(const char *url, const char *key, server_ping_path *out, const char **why);

/* 0 when LISTEN is a valid "IPv4:PORT"; else -1 with the reason. */
int server_check_listen(const char *listen, char *err, size_t errlen);
int server_port(const vigil_server *s);
/* 1 when the listen address is a loopback address. */
int server_is_loopback(const vigil_server *s);
void server_stop(vigil_server *s);

#endif
