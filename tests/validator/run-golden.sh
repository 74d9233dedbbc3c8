#!/bin/bash
# Golden tests for the validators: every folder under tests/validator/cases/
# is a small project (crontab.txt, registry.json, scripts, ...) and its
# expected.txt holds what `vigil validate` prints, then "exit: N".
#
# Per case, optional:
#   args        the validate arguments, one per line (default: --crontab
#               crontab.txt --registry registry.json --base . --now
#               2026-11-26T12:00:00Z); --base . makes the case folder the
#               jobs' $HOME
#   vigil.conf  passed as --config
#   setup.sql   the database is made with `vigil registry import registry.json
#               --crontab crontab.txt`, then this SQL runs on it (ping history,
#               states, orphans)
#   prepare.sh  runs in the case's scratch copy first (files git cannot hold:
#               huge, binary, fifos, symlink loops, odd names)
# Each case runs in a scratch copy, from its root, with TZ=UTC, so paths in
# the output are relative and the same on every machine.
#
# VIGIL_UPDATE_GOLDEN=1 rewrites the expected files instead of comparing
# (`make test-update-golden`); review the diff before committing it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${VIGIL_BIN:-$here/../../build/test/vigil}
case "$bin" in /*) ;; *) bin=$(pwd)/$bin ;; esac
[ -x "$bin" ] || { echo "run-golden: no vigil binary at $bin" >&2; exit 2; }
only=${1:-}
export TZ=UTC
scratch=$(mktemp -d)
trap 'chmod -R u+rwx "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
pass=0 fail=0 updated=0
for dir in "$here"/cases/*/; do
	name=$(basename "$dir")
	[ -n "$only" ] && [[ "$name" != *$only* ]] && continue
	work=$scratch/$name
	cp -a "$dir" "$work"
	rm -f "$work/expected.txt"
	(
		cd "$work" || exit 99
		mkdir -p var      # the database's folder: the ShellCheck cache goes there
		if [ -f prepare.sh ]; then bash prepare.sh >prepare.log 2>&1 || { echo "prepare.sh failed"; cat prepare.log; exit 99; }; fi
		cfg=()
		[ -f vigil.conf ] && cfg=(--config vigil.conf)
		if [ -f setup.sql ]; then
			ct=()
			[ -f crontab.txt ] && ct=(--crontab crontab.txt)
			HOME=$PWD "$bin" --db var/vigil.db "${cfg[@]}" registry import --force registry.json "${ct[@]}" >import.log 2>&1 \
				|| { echo "registry import failed"; cat import.log; exit 99; }
			sqlite3 var/vigil.db <setup.sql || { echo "setup.sql failed"; exit 99; }
		fi
		if [ -f args ]; then mapfile -t a < <(grep -v '^[[:space:]]*$' args)
		else a=(--crontab crontab.txt --registry registry.json --base . --now 2026-11-26T12:00:00Z); fi
		"$bin" --db var/vigil.db "${cfg[@]}" validate "${a[@]}" 2>&1
		echo "exit: $?"
	) >"$scratch/$name.out"
	if [ "${VIGIL_UPDATE_GOLDEN:-}" = 1 ]; then
		if ! cmp -s "$scratch/$name.out" "$dir/expected.txt"; then
			cp "$scratch/$name.out" "$dir/expected.txt"
			echo "updated: $name"
			updated=$((updated + 1))
		fi
		continue
	fi
	if diff -u "$dir/expected.txt" "$scratch/$name.out" >"$scratch/$name.diff" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name"
		cat "$scratch/$name.diff"
	fi
done
if [ "${VIGIL_UPDATE_GOLDEN:-}" = 1 ]; then
	echo "run-golden: $updated expected file(s) rewritten"
	exit 0
fi
echo "run-golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
