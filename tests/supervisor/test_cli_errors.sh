#!/bin/bash
# Malformed command lines: each gets its exact exit status and message and
# leaves the database unchanged.
set -u
V=${VIGIL_BIN:?}
D=$(mktemp -d /tmp/vigil-cli-XXXXXX)
trap 'rm -rf "$D"' EXIT
DB=$D/v.db
"$V" --db "$DB" check add job --every 1h >/dev/null || exit 1
"$V" --db "$DB" check add dup --cron '0 3 * * *' >/dev/null || exit 1
printf 'ok = 1\nno equals here\n' > "$D/bad.conf"
before=$(sqlite3 "$DB" .dump | sha256sum)
fails=0 n=0
expect() {	# expect CODE 'message substring' -- args...
	local code=$1 msg=$2; shift 3
	local out rc
	out=$("$V" --db "$DB" "$@" 2>&1 </dev/null); rc=$?
	n=$((n + 1))
	if [ "$rc" -ne "$code" ] || [[ "$out" != *"$msg"* ]]; then
		echo "FAIL: vigil $*: exit $rc (want $code), output: $out (want: $msg)"
		fails=$((fails + 1))
	fi
}
expect 2 'unknown command "frobnicate"'            -- frobnicate
expect 2 'usage: vigil check add'                  -- check add
expect 2 'slug "Bad" is invalid'                   -- check add Bad --every 1m
expect 2 'give exactly one of --cron EXPR or --every DUR' -- check add x
expect 2 'give exactly one of'                     -- check add x --every 1m --cron '* * * * *'
expect 2 '--every "5x": unknown unit'              -- check add x --every 5x
expect 2 '--every "0": must be at least 1s'        -- check add x --every 0
expect 2 'schedule "* * *": column'                -- check add x --cron '* * *'
expect 2 'never fires'                             -- check add x --cron '0 0 30 2 *'
expect 2 '@reboot is not periodic'                 -- check add x --cron @reboot
expect 2 'time zone "Mars/Olympus" is not in the system tz database' -- check add x --every 1m --tz Mars/Olympus
expect 2 'option --grace needs a value'            -- check add x --every 1m --grace
expect 2 'unknown option "--bogus"'                -- check add x --every 1m --bogus 1
expect 2 'check dup already exists'                -- check add dup --every 1m
expect 2 'no check nope'                           -- check show nope
expect 2 'no check nope'                           -- check rm nope
expect 2 'a mute needs a reason'                   -- check mute job --for 1h
expect 2 'a mute needs an end'                     -- check mute job --reason deploy
expect 2 'more than 14 days'                       -- check mute job --reason x --until 2099-01-01T00:00:00Z
expect 2 "the mute's end is in the past"           -- check mute job --reason x --until 2001-01-01T00:00:00Z
expect 2 'expected RFC 3339'                       -- check mute job --reason x --until tomorrow
expect 2 'give either --until or --indefinite'     -- check mute job --reason x --indefinite --until 2026-12-01T00:00:00Z
expect 2 'unknown subcommand "frob"'               -- check frob
expect 2 '--format "xml": expected text or json'   -- status --format xml
expect 2 'usage: vigil ping'                       -- ping
expect 2 'slug "Bad" is invalid'                   -- ping Bad
expect 2 '"256": expected start, fail, log'        -- ping job 256
expect 2 '--timeout "0": must be at least 1s'      -- ping job --timeout 0
expect 2 'usage: vigil run'                        -- run job
expect 2 'usage: vigil run'                        -- run job --
expect 2 'the command goes after --'               -- run job true
expect 2 'expected ADDR:PORT'                      -- serve --listen nonsense
expect 2 'port must be 0-65535'                    -- serve --listen 127.0.0.1:99999
expect 2 'is not an IPv4 address'                  -- serve --listen localhost:80
expect 2 'body limit "0"'                          -- serve --body-limit 0
expect 2 'usage: vigil key'                        -- key extra
expect 2 'cannot open config file'                 -- --config /nonexistent/v.conf check list
expect 2 "bad.conf:2: expected \"key = value\""    -- --config "$D/bad.conf" check list
expect 2 'option --db needs a file name'           -- check list --db
after=$(sqlite3 "$DB" .dump | sha256sum)
if [ "$before" != "$after" ]; then echo "FAIL: the database changed"; fails=$((fails + 1)); fi
# no command at all
out=$("$V" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"usage: vigil"* ]] || { echo "FAIL: bare vigil: $rc $out"; fails=$((fails + 1)); }
echo "$n malformed invocations checked, $fails failed"
[ $fails -eq 0 ]
