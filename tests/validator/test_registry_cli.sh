#!/bin/bash
# `vigil registry export|import` and `vigil validate` as an operator uses them:
# import validates first and shows what would change, removals need --prune,
# export round-trips, exit statuses are 0 / 1 / 2.
set -u
bin=${VIGIL_BIN:?VIGIL_BIN not set}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
export TZ=UTC HOME=$t     # cron runs the jobs in $HOME
fail() { echo "FAIL: $*"; exit 1; }
v() { "$bin" --db var/vigil.db "$@"; }

mkdir bin
printf '#!/bin/sh\nvigil ping nightly\n' >bin/nightly.sh
printf '#!/bin/sh\nvigil ping weekly\n' >bin/weekly.sh
chmod +x bin/*.sh
printf '# vigil: nightly\n15 2 * * * ~/bin/nightly.sh\n# vigil: weekly\n0 4 * * 0 ~/bin/weekly.sh\n' >crontab.txt
cat >checks.json <<'J'
{"version": 1, "checks": [
  {"slug": "nightly", "name": "Nightly backup", "grace": "30m"},
  {"slug": "weekly"},
  {"slug": "nas", "source": "external", "schedule": "0 */6 * * *", "tz": "Europe/Berlin"}
]}
J

# dry run changes nothing
out=$(v registry import checks.json --crontab crontab.txt --dry-run) || fail "dry run exit $?"
grep -q '^+ add    nightly: crontab, schedule 15 2 \* \* \*$' <<<"$out" || fail "dry run output: $out"
grep -q '3 to add, 0 to update, 0 to remove (dry run' <<<"$out" || fail "dry run summary: $out"
[ "$(v registry export | grep -c '"slug"')" = 0 ] || fail "dry run wrote checks"

# import
out=$(v registry import checks.json --crontab crontab.txt) || fail "import exit $?"
grep -q 'checks.json: 3 added, 0 updated, 0 removed' <<<"$out" || fail "import summary: $out"
v validate --crontab crontab.txt >val.out || fail "validate from the db: $(cat val.out)"

# export round trip: importing the export changes nothing
v registry export >exported.json || fail "export"
grep -q '"grace":	"30m"' exported.json || fail "export lacks grace: $(cat exported.json)"
out=$(v registry import exported.json --crontab crontab.txt) || fail "re-import exit $?"
grep -q '0 added, 0 updated, 0 removed\|0 to add, 0 to update, 0 to remove' <<<"$out" || fail "re-import changed: $out"

# the weekly job leaves the crontab and the file: refused without --prune, nothing changed
printf '# vigil: nightly\n15 2 * * * ~/bin/nightly.sh\n' >crontab.txt
grep -v weekly checks.json | sed 's/"grace": "30m"},/"grace": "1h"},/' >smaller.json
v registry import smaller.json --crontab crontab.txt >imp.out 2>imp.err
rc=$?
[ $rc = 1 ] || fail "removal without --prune: exit $rc, want 1"
grep -q '^- remove weekly' imp.out || fail "removal not shown: $(cat imp.out)"
grep -q 'refused: 1 check in the database is not in smaller.json; pass --prune' imp.err || fail "refusal message: $(cat imp.err)"
v registry export | grep -q '"weekly"' || fail "weekly was removed without --prune"
v registry export | grep -q '"30m"' || fail "grace changed by a refused import"

# with --prune
v registry import smaller.json --crontab crontab.txt --prune >imp.out 2>&1 || fail "prune import: $(cat imp.out)"
v registry export | grep -q '"weekly"' && fail "weekly still there after --prune"
v registry export | grep -q '"grace":	"1h"' || fail "grace not updated"

# a file that does not validate is not imported (exit 1), a malformed one is exit 2
printf '{"version":1,"checks":[{"slug":"nightly","mute":{"until":"2099-01-01T00:00:00Z"}}]}\n' >muted.json
v registry import muted.json --crontab crontab.txt >imp.out 2>&1
rc=$?
[ $rc = 1 ] || fail "invalid file: exit $rc, want 1"
grep -q 'V401' imp.out && grep -q 'V402' imp.out && grep -q 'nothing imported' imp.out || fail "invalid file output: $(cat imp.out)"
printf '{"version":1,"checks":[\n{"slug":"x",}]}\n' >broken.json
v registry import broken.json >imp.out 2>&1
rc=$?
[ $rc = 2 ] || fail "broken file: exit $rc, want 2"
grep -q 'broken.json:2:' imp.out || fail "broken file message: $(cat imp.out)"

# validate: usage errors are 2, findings 1, clean 0; --rule / --ignore-rule select
v validate --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "unknown option not exit 2"
v validate --format yaml >/dev/null 2>&1; [ $? = 2 ] || fail "bad format not exit 2"
printf '0 1 * * * ~/bin/nightly.sh\n' >>crontab.txt
v validate --crontab crontab.txt >val.out 2>&1; rc=$?
[ $rc = 1 ] || fail "untagged line: exit $rc, want 1: $(cat val.out)"
grep -q 'crontab.txt:3:1: error V101' val.out || fail "V101 missing: $(cat val.out)"
v validate --crontab crontab.txt --ignore-rule V101 >val.out 2>&1 || fail "--ignore-rule V101: $(cat val.out)"
v validate --crontab crontab.txt --rule V4 >val.out 2>&1 || fail "--rule V4: $(cat val.out)"
v validate --crontab crontab.txt --format json >val.json 2>&1
python3 -c 'import json,sys; a=json.load(open("val.json")); assert [f["rule"] for f in a]==["V101"], a; assert set(a[0])=={"rule","severity","file","line","column","slug","message","hint"}' \
	|| fail "json output: $(cat val.json)"
v validate --list-rules | grep -q '^V502 error' || fail "--list-rules"
echo "registry CLI: ok"
