#!/bin/bash
# cron_next throughput on one core for a mix of typical schedules and zones
# (target: >= 1 000 000 calls/s).  Prints numbers; asserts nothing.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/bench
mkdir -p "$out"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$root" -pthread -o "$out/bench_cron" \
	"$root/tests/crontab/bench_cron.c" $(ls "$root"/crontab/*.c | grep -v /apply)
echo "cron_next benchmark on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
taskset -c 0 "$out/bench_cron" "${1:-3000000}" 2>/dev/null || "$out/bench_cron" "${1:-3000000}"
