/* validator/gate.c — placeholder gate: passes everything.  Replaced by the
 * validators issue (issue 4) with the real rules; nothing may ship on it. */
#include "validator/validator.h"

int val_gate(const val_gate_opts *o, FILE *report)
{
	(void)o;
	(void)report;
	return 0;
}
