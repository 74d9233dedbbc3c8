#!/bin/bash
# The command-line contract of `vigil cron next|prev` and `vigil crontab
# check|next` that scripts depend on: output lines, formats and exit codes.
set -u
bin=${VIGIL_BIN:-./build/test/vigil}
work=$(mktemp -d /tmp/vigil-cron-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0

# expect NAME WANT_RC WANT_STDOUT -- ARGS...
expect() {
	local name=$1 want_rc=$2 want_out=$3
	shift 4
	local out rc
	out=$("$bin" "$@" 2>"$work/stderr")
	rc=$?
	if [ "$rc" != "$want_rc" ] || [ "$out" != "$want_out" ]; then
		echo "FAIL $name: vigil $*"
		echo "  want rc $want_rc, stdout:"; printf '%s\n' "$want_out" | sed 's/^/    /'
		echo "  got  rc $rc, stdout:"; printf '%s\n' "$out" | sed 's/^/    /'
		echo "  stderr: $(cat "$work/stderr")"
		fail=1
	else
		echo "ok   $name"
	fi
}

expect next-example 0 "2026-03-08T07:00:00Z" -- cron next '*/15 * * * *' --tz America/New_York --from 2026-03-08T06:50:00Z
expect next-n 0 "2026-03-08T07:00:00Z
2026-03-09T06:30:00Z
2026-03-10T06:30:00Z" -- cron next '30 2 * * *' --tz America/New_York --from 2026-03-07T12:00:00Z -n 3
expect next-strict 0 "2026-01-01T00:05:00Z" -- cron next '*/5 * * * *' --tz UTC --from 2026-01-01T00:00:00Z
expect next-offset-from 0 "2026-01-01T00:05:00Z" -- cron next '*/5 * * * *' --tz UTC --from 2026-01-01T01:00:00+01:00
expect next-macro 0 "2026-03-09T04:00:00Z" -- cron next @daily --tz America/New_York --from 2026-03-08T12:00:00Z
expect prev 0 "2026-11-01T06:30:00Z" -- cron prev '*/30 1 * * *' --tz America/New_York --from 2026-11-01T07:00:00Z
expect prev-strict 0 "2026-01-01T00:00:00Z" -- cron prev '0 * * * *' --tz UTC --from 2026-01-01T00:00:01Z
expect prev-n 0 "2026-01-01T00:00:00Z
2025-12-31T23:00:00Z" -- cron prev '0 * * * *' --tz UTC --from 2026-01-01T00:30:00Z -n 2
expect never-reboot 3 "" -- cron next @reboot --tz UTC --from 2026-01-01T00:00:00Z
expect never-prev 3 "" -- cron prev @reboot --tz UTC --from 2026-01-01T00:00:00Z
expect never-gap 3 "" -- cron next '*/7 2 8-14 3 */7' --tz America/New_York --from 2026-01-01T00:00:00Z
expect bad-expr 2 "" -- cron next '61 * * * *' --tz UTC --from 2026-01-01T00:00:00Z
expect bad-junk 2 "" -- cron next '5; * * * *' --tz UTC --from 2026-01-01T00:00:00Z
expect bad-never-date 2 "" -- cron next '0 0 30 2 *' --tz UTC --from 2026-01-01T00:00:00Z
expect bad-zone 2 "" -- cron next '* * * * *' --tz Mars/Olympus --from 2026-01-01T00:00:00Z
expect bad-zone-path 2 "" -- cron next '* * * * *' --tz ../../etc/passwd --from 2026-01-01T00:00:00Z
expect bad-from 2 "" -- cron next '* * * * *' --tz UTC --from yesterday
expect bad-n 2 "" -- cron next '* * * * *' --tz UTC --from 2026-01-01T00:00:00Z -n 0
expect bad-sub 2 "" -- cron later '* * * * *'
printf 'crontab.tz = Asia/Tokyo\n' >"$work/vigil.conf"
expect tz-from-config 0 "2026-01-01T15:00:00Z" -- --config "$work/vigil.conf" cron next '0 0 * * *' --from 2026-01-01T00:00:00Z
expect tz-flag-wins 0 "2026-01-02T00:00:00Z" -- --config "$work/vigil.conf" cron next '0 0 * * *' --tz UTC --from 2026-01-01T00:00:00Z
grep -q "column 1" <("$bin" cron next '61 * * * *' --tz UTC 2>&1) || { echo "FAIL bad-expr message lacks the column"; fail=1; }

# crontab check
printf 'SHELL=/bin/sh\n# vigil: backup\n30 2 * * * /usr/bin/backup\n@hourly true\n' >"$work/good.cron"
printf '0 0 * * * ok\n60 * * * * x\n# c\n5; * * * * y\n0 0 * * *\n' >"$work/bad.cron"
expect check-clean 0 "" -- crontab check "$work/good.cron"
expect check-errors 1 "$work/bad.cron:2:1: error: minute field: 60 is out of range 0-59
$work/bad.cron:4:2: error: minute field: ';' follows \"5\"; Debian's cron would accept the line and silently ignore everything up to the next blank, vigil refuses it
$work/bad.cron:5:10: error: empty command; Debian's cron would accept the line and run nothing, vigil refuses it" -- crontab check "$work/bad.cron"
expect check-missing 2 "" -- crontab check "$work/nonexistent.cron"
out=$("$bin" crontab check "$work/bad.cron" --format json)
rc=$?
if [ $rc -ne 1 ] || ! python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] is False and d["jobs"] == 1 and len(d["errors"]) == 3, d
e = d["errors"][1]
assert (e["line"], e["col"]) == (4, 2) and "follows" in e["message"], e
' "$out"; then echo "FAIL check-json: rc $rc: $out"; fail=1; else echo "ok   check-json"; fi
out=$("$bin" crontab check "$work/good.cron" --format json)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["errors"] == [] and d["jobs"] == 2' "$out" \
	&& echo "ok   check-json-clean" || { echo "FAIL check-json-clean: $out"; fail=1; }

# crontab next
expect crontab-next 0 "$work/good.cron:3: 30 2 * * *  /usr/bin/backup
  2026-03-08T07:00:00Z
  2026-03-09T06:30:00Z
$work/good.cron:4: @hourly  true
  2026-03-08T06:00:00Z
  2026-03-08T07:00:00Z" -- crontab next "$work/good.cron" -n 2 --from 2026-03-08T05:30:00Z --tz America/New_York
out=$("$bin" crontab next "$work/good.cron" -n 1 --from 2026-03-08T05:30:00Z --tz America/New_York --format json)
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["tz"] == "America/New_York" and d["jobs"][0]["line"] == 3, d
assert d["jobs"][0]["next"] == ["2026-03-08T07:00:00Z"], d
' "$out" && echo "ok   crontab-next-json" || { echo "FAIL crontab-next-json: $out"; fail=1; }
# apply/diff/history/rollback are issue 5's (tests/apply/): never run them
# here, they would act on the invoking user's real crontab.
[ $fail -eq 0 ]
