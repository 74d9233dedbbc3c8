/* supervisor/facts.h — alert facts documents built from outbox items (for
 * the summarizer) or from the registry's checks (`vigil status --facts`). */
#ifndef VIGIL_FACTS_H
#define VIGIL_FACTS_H

#include "supervisor/alerts.h"
#include "validator/validator.h"

/* Fill *f (its checks array malloc'd: facts_release()); strings borrowed from
 * items / cs, which must outlive f.  0, or -1 on OOM. */
int facts_from_alerts(const alert_item *items, size_t n, int64_t now_ms, val_facts *f);
/* Every unpaused check that is down, in grace or unknown. */
int facts_from_checks(const reg_check *cs, size_t n, int64_t now_ms, val_facts *f);
void facts_release(val_facts *f);

#endif
