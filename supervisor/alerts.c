/* supervisor/alerts.c — placeholder until issue 6 lands: no scheduler, no
 * sender.  Replaced by the real implementation. */
#include "supervisor/alerts.h"

#include <stdlib.h>

struct vigil_alerts { int unused; };

int alerts_start(const alerts_opts *o, vigil_alerts **out, char *err, size_t errlen)
{
	(void)o; (void)err; (void)errlen;
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -1;
}
void alerts_notify(vigil_alerts *a, int64_t check_id) { (void)a; (void)check_id; }
void alerts_stop(vigil_alerts *a) { free(a); }
