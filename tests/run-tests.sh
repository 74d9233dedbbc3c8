#!/bin/bash
# Runs every test program (build/test/tests/*/test_*) and every shell test
# (tests/*/test_*.sh), adds up the results, and ends with the line
# "N passed, N failed[, N skipped]".  A program that dies without printing its
# cmocka summary counts as one failure.
set -u
build=${1:-build/test}
pattern=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
export VIGIL_BIN="$root/$build/vigil"
export VIGIL_ROOT="$root"
export CMOCKA_MESSAGE_OUTPUT=stdout
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:protect_shadow_gap=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$root/tests/out"
passed=0 failed=0 skipped=0
failed_names=()

run_one() {	# $1 = program, $2 = display name
	local log="$root/tests/out/$(echo "$2" | tr '/' '_').log" rc p f s
	local t0=$SECONDS
	"$1" >"$log" 2>&1
	rc=$?
	p=$(grep -aoE '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$NF} END{print s+0}')
	f=$(grep -aoE '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$(NF-1)} END{print s+0}')
	s=$(grep -aoE '^\[  SKIPPED \] [0-9]+' "$log" | awk '{s+=$NF} END{print s+0}')
	if ! grep -aqE '^\[  (PASSED|FAILED)  \] [0-9]+' "$log"; then
		# not a cmocka program (shell test): exit 0 pass, 77 skip, else fail
		if [ $rc -eq 0 ]; then p=1; elif [ $rc -eq 77 ]; then s=1; else f=1; fi
	elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or sanitizer abort after the summary
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-44s %3d passed %3d failed %3d skipped  (%ds)\n' "$2" "$p" "$f" "$s" $((SECONDS - t0))
	if [ "$f" -ne 0 ]; then
		failed_names+=("$2")
		echo "---- last lines of $log"
		tail -n 40 "$log"
		echo "----"
	fi
	grep -a '^SKIP' "$log" | sed 's/^/    /'
}

for prog in $(find "$root/$build/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
	name=${prog#"$root/$build/"}
	[ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
	run_one "$prog" "$name"
done
for sh in $(find "$root/tests" -mindepth 2 -maxdepth 2 -name 'test_*.sh' | sort); do
	name=${sh#"$root/"}
	[ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
	run_one "$sh" "$name"
done
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
