#!/bin/bash
# Golden files: `vigil crontab check` on each tests/crontab/golden/*.cron must
# print exactly the .ok file beside it (last line: the exit status).
# VIGIL_UPDATE_GOLDEN=1 rewrites the .ok files (review the diff).
set -u
bin=${VIGIL_BIN:-./build/test/vigil}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
cd "$(dirname "$0")/golden" || exit 1
fail=0
for f in *.cron; do
	got=$("$bin" crontab check "$f" 2>&1; echo "exit $?")
	if [ -n "${VIGIL_UPDATE_GOLDEN:-}" ]; then
		printf '%s\n' "$got" >"${f%.cron}.ok"
		echo "updated ${f%.cron}.ok"
	elif [ "$got" != "$(cat "${f%.cron}.ok" 2>/dev/null)" ]; then
		echo "FAIL $f:"
		diff <(cat "${f%.cron}.ok" 2>/dev/null) <(printf '%s\n' "$got") | sed 's/^/  /'
		fail=1
	else
		echo "ok   $f"
	fi
done
[ $fail -eq 0 ]
