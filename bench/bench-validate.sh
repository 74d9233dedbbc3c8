#!/bin/bash
# vigil validate on a generated project of N jobs (default 1000): shell and
# Python scripts, every line tagged, every script pinging.  Prints the time of
# a cold run (ShellCheck runs on every script, in batches) and of warm runs
# (ShellCheck results from the cache).  Numbers only; nothing is asserted.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${VIGIL_BIN:-$root/vigil}
n=${BENCH_JOBS:-1000}
[ -x "$bin" ] || { echo "bench-validate: build ./vigil first (make)"; exit 1; }
command -v shellcheck >/dev/null || { echo "bench-validate: shellcheck not installed; skipped"; exit 0; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
mkdir -p jobs
{
	echo 'SHELL=/bin/bash'
	echo 'MAILTO=""'
} >crontab.txt
printf '{"version": 1, "checks": [\n' >registry.json
for i in $(seq 1 "$n"); do
	slug=$(printf 'job-%04d' "$i")
	m=$((i % 60)); h=$((i % 24))
	if [ $((i % 4)) = 0 ]; then
		printf '#!/usr/bin/env python3\n"""%s"""\nimport subprocess\n\nN = %d\nsubprocess.run(["vigil", "ping", "%s"], check=False)\n' \
			"$slug" "$i" "$slug" >"jobs/$slug.py"
		printf '# vigil: %s\n%d %d * * * python3 ~/jobs/%s.py\n' "$slug" "$m" "$h" "$slug" >>crontab.txt
	else
		printf '#!/bin/bash\n# %s\nset -euo pipefail\nSLUG="%s"\nvigil ping "$SLUG" start\nfind /tmp -maxdepth 1 -name "%s.*" -mmin +%d -delete\nvigil ping "$SLUG"\n' \
			"$slug" "$slug" "$slug" "$i" >"jobs/$slug.sh"
		chmod +x "jobs/$slug.sh"
		printf '# vigil: %s\n%d %d * * * ~/jobs/%s.sh >/dev/null 2>&1\n' "$slug" "$m" "$h" "$slug" >>crontab.txt
	fi
	sep=,; [ "$i" = "$n" ] && sep=
	printf '  {"slug": "%s", "grace": "10m", "tags": ["bench"]}%s\n' "$slug" "$sep" >>registry.json
done
printf ']}\n' >>registry.json

run() {
	local s e
	s=$(date +%s.%N)
	"$bin" --db var/vigil.db validate --crontab crontab.txt --registry registry.json --cron-tz UTC --base "$t" >out.txt 2>&1
	local rc=$?
	e=$(date +%s.%N)
	awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f", e - s}'
	[ $rc = 0 ] || { echo; echo "bench-validate: validate exit $rc"; tail -5 out.txt; exit 1; }
}
echo "bench-validate: $n jobs ($((n / 4)) Python, $((n - n / 4)) shell), $(nproc) CPUs, $(shellcheck --version | sed -n 's/^version: //p') ShellCheck"
printf 'cold (ShellCheck on every script): %ss\n' "$(run)"
best=999
for k in 1 2 3 4 5; do
	w=$(run)
	printf 'warm run %d (cached ShellCheck):   %ss\n' "$k" "$w"
	best=$(awk -v w="$w" -v b="$best" 'BEGIN{print (w < b) ? w : b}')
done
printf 'best warm: %.3fs for %d jobs (target < 1 s)\n' "$best" "$n"
