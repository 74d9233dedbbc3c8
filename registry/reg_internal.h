/* registry/reg_internal.h — shared between the registry's own files only. */
#ifndef VIGIL_REG_INTERNAL_H
#define VIGIL_REG_INTERNAL_H

#include "registry/registry.h"

#include <sqlite3.h>

void reg_set_err(reg_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int reg_schema_latest(void);
/* A cached prepared statement for SQL (reset and with bindings cleared);
 * owned by db. NULL on error (message set). */
sqlite3_stmt *reg_stmt(reg_db *db, const char *sql);
/* Maps an SQLite result code to REG_E* and records the message. */
int reg_fail(reg_db *db, int rc, const char *what);

/* The ping-driven part of the state machine (state.c). */
typedef struct reg_state_step {
	reg_status to;
	const char *reason;   /* flip reason */
	int change;           /* 0: no status change */
	int flip;             /* write a flip row */
	int alert;            /* the flip warrants an alert */
} reg_state_step;
reg_state_step reg_state_on_ping(reg_status from, reg_ping_kind kind, int exit_status);

#endif
