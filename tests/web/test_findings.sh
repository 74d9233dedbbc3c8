#!/bin/bash
# A check's page shows the findings of the last `vigil validate` of the live
# registry: before any validation it says so; after one, the check's own
# findings (escaped), not another check's; a clean re-run clears them.
set -u
. "$VIGIL_ROOT/tests/lib/serve.sh"
V=$VIGIL_BIN
D=$(mktemp -d /tmp/vigil-findings-XXXXXX)
trap 'stop_vigil; rm -rf "$D"' EXIT
DB=$D/v.db
fails=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fails=$((fails + 1)); fi; }
"$V" --db "$DB" check add backup-db --cron '0 3 * * *' >/dev/null
"$V" --db "$DB" check add other --cron '0 4 * * *' >/dev/null
start_vigil "$DB" || exit 1
page() { curl -fsS "$VIGIL_URL/checks/$1"; }
check "no validation yet" 'page backup-db | grep -q "no validation recorded yet"'
printf '# vigil: backup-db\n0 3 * * * /nonexistent/backup.sh\n# vigil: other\n0 4 * * * %s/other.sh\n' "$D" >"$D/crontab.txt"
printf '#!/bin/sh\nvigil ping other\n' >"$D/other.sh"; chmod +x "$D/other.sh"
"$V" --db "$DB" validate --crontab "$D/crontab.txt" >"$D/out" 2>&1; rc=$?
check "validate finds the error (exit $rc)" '[ $rc -eq 1 ] && grep -q "V201" "$D/out"'
page backup-db >"$D/page.html"
check "the finding is on the check's page" 'grep -q "<b>V201</b> error" "$D/page.html"'
check "with its location" 'grep -q "crontab.txt:2:11" "$D/page.html"'
check "the other check has none" 'page other | grep -q "<p>no findings</p>"'
printf '#!/bin/sh\nvigil ping backup-db\n' >"$D/backup.sh"; chmod +x "$D/backup.sh"
printf '# vigil: backup-db\n0 3 * * * %s/backup.sh\n# vigil: other\n0 4 * * * %s/other.sh\n' "$D" "$D" >"$D/crontab.txt"
"$V" --db "$DB" validate --crontab "$D/crontab.txt" >"$D/out" 2>&1; rc=$?
check "clean re-run (exit $rc: $(cat "$D/out"))" '[ $rc -eq 0 ]'
check "findings cleared" 'page backup-db | grep -q "<p>no findings</p>"'
echo "fails: $fails"
[ $fails -eq 0 ]
