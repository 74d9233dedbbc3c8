#!/bin/bash
# `vigil run`: exit status propagation, signal forwarding, output streamed
# through and its tail captured, time limit, and a server that is down.
set -u
. "$VIGIL_ROOT/tests/lib/serve.sh"
V=$VIGIL_BIN
D=$(mktemp -d /tmp/vigil-run-XXXXXX)
trap 'stop_vigil; rm -rf "$D"' EXIT
DB=$D/v.db
fails=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fails=$((fails + 1)); fi; }
q() { sqlite3 "$DB" "$1"; }
"$V" --db "$DB" check add job --every 1h >/dev/null
start_vigil "$DB" || exit 1

# exit status, start + finish paired by one rid, output streamed through
out=$("$V" --db "$DB" run job -- sh -c 'echo to-stdout; echo to-stderr >&2; exit 3' 2>"$D/err"); rc=$?
check "exit status 3 propagated (got $rc)" '[ $rc -eq 3 ]'
check "stdout streamed through" '[ "$out" = to-stdout ]'
check "stderr streamed through" 'grep -qx to-stderr "$D/err"'
check "start and exit pings recorded" '[ "$(q "SELECT group_concat(kind||\":\"||exit_status) FROM pings")" = "1:-1,4:3" ]'
check "one rid pairs them" '[ "$(q "SELECT count(DISTINCT rid) FROM pings WHERE rid<>\"\"")" = 1 ]'
check "duration recorded" '[ "$(q "SELECT duration_ms >= 0 FROM pings WHERE kind=4")" = 1 ]'
check "tail holds both streams" '[ "$(q "SELECT instr(body, \"to-stdout\") > 0 AND instr(body, \"to-stderr\") > 0 FROM pings WHERE kind=4")" = 1 ]'
check "check is down" '[ "$(q "SELECT status FROM checks")" = 3 ]'

# success
"$V" --db "$DB" run job -- true; rc=$?
check "exit 0 (got $rc)" '[ $rc -eq 0 ]'
check "check is up" '[ "$(q "SELECT status FROM checks")" = 1 ]'

# only the last N KB are kept, and they are the end of the output
"$V" --db "$DB" run job --tail-kb 1 -- sh -c 'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
check "tail is 1024 bytes" '[ "$(q "SELECT length(body) FROM pings ORDER BY id DESC LIMIT 1")" = 1024 ]'
check "tail ends with the last line" '[ "$(q "SELECT hex(substr(body, -10)) FROM pings ORDER BY id DESC LIMIT 1")" = 6C696E6520323939390A ]'

# killed by a signal: 128+signal
"$V" --db "$DB" run job -- sh -c 'kill -9 $$'; rc=$?
check "killed by SIGKILL gives 137 (got $rc)" '[ $rc -eq 137 ]'
check "exit ping 137" '[ "$(q "SELECT exit_status FROM pings ORDER BY id DESC LIMIT 1")" = 137 ]'

# signal forwarding: SIGTERM to vigil reaches the job, which handles it
rm -f "$D/ready"
"$V" --db "$DB" run job -- sh -c "trap 'echo got-term; exit 42' TERM; touch $D/ready; while :; do sleep 0.05; done" >"$D/sig.out" 2>&1 &
rp=$!
for _ in $(seq 1 500); do [ -e "$D/ready" ] && break; sleep 0.01; done
kill -TERM $rp; wait $rp; rc=$?
check "forwarded SIGTERM: job's own exit 42 (got $rc)" '[ $rc -eq 42 ]'
check "job saw the signal" 'grep -q got-term "$D/sig.out"'

# time limit: SIGTERM after --timeout
"$V" --db "$DB" run job --timeout 1 -- sleep 30 2>"$D/to.err"; rc=$?
check "timeout kills with SIGTERM: 143 (got $rc)" '[ $rc -eq 143 ]'
check "timeout reported" 'grep -q "timed out after 1s" "$D/to.err"'

# command not found: 127, and still reported
"$V" --db "$DB" run job -- /nonexistent/cmd 2>/dev/null; rc=$?
check "missing command: 127 (got $rc)" '[ $rc -eq 127 ]'

# stdin passes through
out=$(echo piped-in | "$V" --db "$DB" run job -- cat)
check "stdin passed through" '[ "$out" = piped-in ]'

# server down: the job still runs and exits with its own status
stop_vigil
n0=$(q "SELECT count(*) FROM pings")
out=$(VIGIL_URL=http://127.0.0.1:1 "$V" --db "$DB" run job -- sh -c 'echo ran; exit 5' 2>"$D/down.err"); rc=$?
check "server down: job ran" '[ "$out" = ran ]'
check "server down: job status 5 (got $rc)" '[ $rc -eq 5 ]'
check "server down: said so" 'grep -q "not recorded" "$D/down.err"'
check "server down: nothing recorded" '[ "$(q "SELECT count(*) FROM pings")" = "$n0" ]'
# vigil ping exits 0 when the server is down, 1 with --strict
VIGIL_URL=http://127.0.0.1:1 "$V" --db "$DB" ping job --timeout 1 2>/dev/null; rc=$?
check "ping, server down: exit 0 (got $rc)" '[ $rc -eq 0 ]'
VIGIL_URL=http://127.0.0.1:1 "$V" --db "$DB" ping job --timeout 1 --strict 2>/dev/null; rc=$?
check "ping --strict, server down: exit 1 (got $rc)" '[ $rc -eq 1 ]'

# vigil ping against a live server: body from stdin, rid, kinds
start_vigil "$DB" || exit 1
echo "hello body" | "$V" --db "$DB" ping job fail --body-file - --rid 12345678-1234-4234-8234-123456789abc --strict; rc=$?
check "ping fail: exit 0 (got $rc)" '[ $rc -eq 0 ]'
check "ping fail recorded with body and rid" '[ "$(q "SELECT kind||\"|\"||rid||\"|\"||CAST(body AS TEXT) FROM pings ORDER BY id DESC LIMIT 1")" = "2|12345678-1234-4234-8234-123456789abc|hello body" ]'
"$V" --db "$DB" ping nosuch --strict 2>"$D/ns.err"; rc=$?
check "ping unknown slug --strict: exit 1 (got $rc)" '[ $rc -eq 1 ]'
check "ping unknown slug: said so" 'grep -q "does not know this check" "$D/ns.err"'
echo "fails: $fails"
[ $fails -eq 0 ]
