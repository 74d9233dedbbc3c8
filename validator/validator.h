/* validator/validator.h — the deterministic validators (issue 4) and the
 * summary verifier's rules (issue 10).
 *
 * The gate that `vigil crontab apply` calls before installing anything: */
#ifndef VIGIL_VALIDATOR_H
#define VIGIL_VALIDATOR_H

#include <stdio.h>

typedef struct val_gate_opts {
	const char *crontab_path;        /* the crontab file to be installed */
	const char *registry_path;       /* declarative registry file, or NULL: use the db */
	const char *db_path;             /* the registry database */
	const char *const *ping_patterns;/* extra helper patterns ("health_run(\"{slug}\")"), NULL-terminated, may be NULL */
} val_gate_opts;

/* Runs every validator on the crontab + registry.  Writes the findings in the
 * compiler-like text form to `report` (may be NULL).  Returns the number of
 * error-severity findings (0: the gate passes), or -1 on an internal fault
 * (message written to report).  Never exits, never touches the crontab. */
int val_gate(const val_gate_opts *o, FILE *report);

#endif
