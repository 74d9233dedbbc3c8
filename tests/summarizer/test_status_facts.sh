#!/bin/bash
# `vigil status --facts` writes the facts document of what is wrong now, from
# real pings; it parses strictly, and its deterministic summary passes the
# verifier.
set -u
. "$VIGIL_ROOT/tests/lib/serve.sh"
V=$VIGIL_BIN
D=$(mktemp -d /tmp/vigil-facts-XXXXXX)
trap 'stop_vigil; rm -rf "$D"' EXIT
DB=$D/v.db
fails=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fails=$((fails + 1)); fi; }
"$V" --db "$DB" check add backup-db --every 1h --name "Nightly backup" >/dev/null
"$V" --db "$DB" check add weather-pull --every 1h >/dev/null
"$V" --db "$DB" check add fine --every 1h >/dev/null
start_vigil "$DB" || exit 1
"$V" --db "$DB" ping backup-db 2 --strict
"$V" --db "$DB" ping weather-pull fail --strict
"$V" --db "$DB" ping fine --strict
stop_vigil
"$V" --db "$DB" status --facts >"$D/facts.json"; rc=$?
check "status --facts exits 0 (got $rc)" '[ $rc -eq 0 ]'
check "down checks in the facts" 'grep -q "\"slug\":[[:space:]]*\"backup-db\"" "$D/facts.json" && grep -q "\"slug\":[[:space:]]*\"weather-pull\"" "$D/facts.json"'
check "up check left out" '! grep -q "\"fine\"" "$D/facts.json"'
check "exit status and reasons" 'grep -q "\"exit_status\":[[:space:]]*2" "$D/facts.json" && grep -q "\"reason\":[[:space:]]*\"exit\"" "$D/facts.json" && grep -q "\"reason\":[[:space:]]*\"fail\"" "$D/facts.json"'
"$V" summarize --facts "$D/facts.json" --explain >"$D/sum.txt" 2>&1; rc=$?
check "summarize reads the document (got $rc)" '[ $rc -eq 0 ]'
check "deterministic summary chosen and named" 'grep -q "summary generated from the facts" "$D/sum.txt"'
tail -1 "$D/sum.txt" >"$D/text"
"$V" summarize verify --facts "$D/facts.json" --text-file "$D/text" >"$D/verify.txt" 2>&1; rc=$?
check "its summary passes S1-S8 (got $rc: $(cat "$D/verify.txt"))" '[ $rc -eq 0 ]'
printf 'backup-db failed with exit 3 and weather-pull recovered.\n' >"$D/bad"
"$V" summarize verify --facts "$D/facts.json" --text-file "$D/bad" >"$D/verify.txt" 2>&1; rc=$?
check "a wrong summary is rejected (got $rc)" '[ $rc -eq 1 ] && grep -q "^S3:" "$D/verify.txt" && grep -q "^S4:" "$D/verify.txt"'
echo "fails: $fails"
[ $fails -eq 0 ]
