/* tests/fuzz/fuzz_apply_jobs.c — the safe apply's view of a crontab read
 * back from `crontab -l` (anything may come back): the job split, the
 * job-wise diff, the header strip and the read-back comparison must never
 * crash, and must agree with themselves. */
#include "crontab/apply_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *text = (const char *)data;
	ca_jobs a, b;
	if (ca_jobs_parse(text, size, &a) < 0) return 0;
	/* a crontab against itself: nothing added, removed or changed */
	ca_diff_count c;
	ca_jobs_diff(&a, &a, NULL, "", &c);
	if (c.added || c.removed || c.changed || c.unchanged != a.n) abort();
	static const char fixed[] = "# vigil: a\n0 3 * * * /a\n*/5 * * * * vigil run b -- /b\n";
	if (ca_jobs_parse(fixed, sizeof fixed - 1, &b) == 0) {
		ca_jobs_diff(&a, &b, NULL, "", &c);
		if (c.removed + c.changed + c.unchanged != a.n) abort();
		if (c.added + c.changed + c.unchanged != b.n) abort();
		ca_jobs_free(&b);
	}
	ca_jobs_free(&a);

	ca_buf buf = {0};
	if (ca_buf_append(&buf, data, size) < 0) return 0;
	if (!ca_same_as_meant(&buf, text, size, "/tmp/vigil-crontab-u-XXXXXX")) abort();
	size_t before = buf.n;
	if (ca_strip_vigil_header(&buf, "u") && buf.n >= before) abort();
	ca_buf_free(&buf);
	return 0;
}
