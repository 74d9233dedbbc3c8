/* validator/gate.c — the gate `vigil crontab apply` calls before installing:
 * every rule, on the crontab to be installed and the registry. */
#include "validator/val_internal.h"

#include <stdio.h>

int val_gate(const val_gate_opts *o, FILE *report)
{
	char err[1024];
	val_report *r = val_report_new();
	if (!r) {
		if (report) fprintf(report, "vigil: validator: out of memory\n");
		return -1;
	}
	val_opts vo = {
		.crontab_path = o->crontab_path,
		.registry_path = o->registry_path,
		.db_path = o->db_path,
		.ping_patterns = o->ping_patterns,
	};
	int rc = val_run(&vo, r, err, sizeof err);
	if (rc != VAL_OK) {
		if (report) fprintf(report, "%s\n", err);
		val_report_free(r);
		return -1;
	}
	val_report_sort(r);
	if (report) val_report_write_text(r, report);
	size_t n = val_report_errors(r);
	val_report_free(r);
	return n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
}
