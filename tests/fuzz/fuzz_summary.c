/* Fuzz target: the facts parser, the deterministic summary and the verifier.
 * Input: a facts document, a NUL byte, then a candidate text.  Without a NUL
 * (or when the document does not parse) the whole input is the text, checked
 * against a fixed batch.  The deterministic summary of any facts that parse
 * must pass rules S1-S6 and S8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validator/validator.h"

static const char fixed[] =
	"{\"generated_at\":\"2026-11-26T08:00:00Z\",\"host\":\"h\",\"checks\":["
	"{\"slug\":\"weather-pull\",\"state\":\"down\",\"reason\":\"fail\",\"last_fail\":\"2026-11-26T07:45:00Z\","
	"\"exit_status\":1,\"output_tail\":\"error: connection refused\"},"
	"{\"slug\":\"backup-db\",\"state\":\"up\",\"reason\":\"recovered\",\"since\":\"2026-11-26T07:50:00Z\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	char err[256];
	val_facts *f = NULL;
	const uint8_t *text = data;
	size_t tlen = size;
	if (nul) {
		f = val_facts_parse((const char *)data, (size_t)(nul - data), err, sizeof err);
		text = nul + 1;
		tlen = size - (size_t)(nul - data) - 1;
	}
	if (f) {
		char *s = val_summary_from_facts(f);
		if (s) {
			val_sum_verdict v;
			if (val_summary_verify(f, s, NULL, &v) > 0 && (v.broken & ~(1u << 6)))
				abort();   /* the deterministic summary must be true to its facts */
			free(s);
		}
		char *j = val_facts_to_json(f);
		free(j);
	} else {
		f = val_facts_parse(fixed, sizeof fixed - 1, err, sizeof err);
		if (!f) abort();
	}
	char *t = malloc(tlen + 1);
	if (t) {
		memcpy(t, text, tlen);
		t[tlen] = 0;
		val_sum_verdict v;
		val_summary_verify(f, t, NULL, &v);
		free(t);
	}
	val_facts_free(f);
	return 0;
}
