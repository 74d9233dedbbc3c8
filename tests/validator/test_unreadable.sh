#!/bin/bash
# Files vigil may not read: an unreadable script is a V201 finding, an
# unreadable crontab or registry file an input error (exit 2) — never a
# crash, never a pass.  Needs a user other than root to mean anything, so as
# root it drops to nobody with setpriv; skipped where neither works.
set -u
bin=${VIGIL_BIN:?VIGIL_BIN not set}
as=()
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || { echo "SKIP: root without setpriv: cannot test unreadable files"; exit 77; }
	as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	"${as[@]}" "$bin" --help >/dev/null 2>&1 || { echo "SKIP: user nobody cannot run $bin (a private checkout)"; exit 77; }
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
chmod 755 "$t"
cd "$t" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
mkdir bin
printf '#!/bin/sh\nvigil ping locked\n' >bin/locked.sh
chmod 000 bin/locked.sh
printf '# vigil: locked\n0 5 * * * ~/bin/locked.sh\n' >crontab.txt
printf '{"version":1,"checks":[{"slug":"locked"}]}\n' >registry.json
chmod 644 crontab.txt registry.json
run() { "${as[@]}" env TZ=UTC HOME="$t" ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$bin" --db "$t/none/vigil.db" validate "$@"; }
out=$(run --crontab crontab.txt --registry registry.json 2>&1); rc=$?
[ $rc = 1 ] || fail "unreadable script: exit $rc, want 1: $out"
grep -qE "crontab.txt:2:11: error V201: script .*/bin/locked.sh is not executable" <<<"$out" || fail "no V201 (exec): $out"
grep -qE "error V201: script .*/bin/locked.sh cannot be read: Permission denied" <<<"$out" || fail "no V201 (read): $out"
chmod 000 crontab.txt
out=$(run --crontab crontab.txt --registry registry.json 2>&1); rc=$?
[ $rc = 2 ] || fail "unreadable crontab: exit $rc, want 2: $out"
grep -q 'crontab.txt: cannot read crontab: Permission denied' <<<"$out" || fail "crontab message: $out"
chmod 644 crontab.txt; chmod 000 registry.json
out=$(run --crontab crontab.txt --registry registry.json 2>&1); rc=$?
[ $rc = 2 ] || fail "unreadable registry file: exit $rc, want 2: $out"
grep -q 'registry.json: cannot read registry file: Permission denied' <<<"$out" || fail "registry message: $out"
echo "unreadable files: ok"
