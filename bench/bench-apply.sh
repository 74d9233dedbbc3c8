#!/bin/bash
# vigil crontab apply with Debian's real crontab, for a throw-away system
# user: the time of one full apply (gate, read, diff, guards, lock, durable
# revision, install, read-back, record) on a crontab of N jobs (default 60),
# of a dry run (steps 1-4), and of `crontab -l` alone for scale.  Needs root.
# Numbers only; nothing is asserted.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${VIGIL_BIN:-$root/vigil}
n=${BENCH_JOBS:-60}
runs=${BENCH_RUNS:-20}
U=vigilbench-apply
[ -x "$bin" ] || { echo "bench-apply: build ./vigil first (make)"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-apply: needs root (creates user $U); skipped"; exit 0; }
command -v crontab >/dev/null || { echo "bench-apply: Debian's cron is not installed; skipped"; exit 0; }
t=$(mktemp -d)
made=0
id $U >/dev/null 2>&1 || { useradd --system --no-create-home --shell /usr/sbin/nologin $U && made=1; }
trap 'crontab -u $U -r >/dev/null 2>&1; [ $made = 1 ] && userdel $U; rm -rf "$t"' EXIT
db=$t/db/vigil.db
"$bin" --db "$db" crontab history >/dev/null
now=$(date +%s)000
for i in $(seq 1 "$n"); do
	slug=$(printf 'job-%03d' "$i")
	sqlite3 "$db" "INSERT INTO checks(slug,schedule,created_ms,source,paused) VALUES('$slug','0 0 * * *',$now,'crontab',1)"
	printf '%d %d * * * vigil run %s -- /bin/true\n' $((i % 60)) $((i % 24)) "$slug" >>"$t/a.cron"
	printf '%d %d * * * vigil run %s -- /bin/true\n' $(((i + 1) % 60)) $((i % 24)) "$slug" >>"$t/b.cron"
done
"$bin" --db "$db" crontab apply "$t/a.cron" --user $U >/dev/null || { echo "bench-apply: first apply failed"; exit 1; }
ms() { date +%s%N | cut -c1-13; }
t0=$(ms)
for i in $(seq 1 "$runs"); do
	f=$t/b.cron; [ $((i % 2)) = 0 ] && f=$t/a.cron
	"$bin" --db "$db" crontab apply "$f" --user $U >/dev/null || { echo "bench-apply: apply $i failed"; exit 1; }
done
t1=$(ms)
for i in $(seq 1 "$runs"); do "$bin" --db "$db" crontab apply "$t/b.cron" --user $U --dry-run >/dev/null; done
t2=$(ms)
for i in $(seq 1 "$runs"); do crontab -u $U -l >/dev/null; done
t3=$(ms)
echo "bench-apply: $n jobs, $runs runs each"
echo "  apply (steps 1-10):   $(( (t1 - t0) / runs )) ms"
echo "  dry run (steps 1-4):  $(( (t2 - t1) / runs )) ms"
echo "  crontab -l alone:     $(( (t3 - t2) / runs )) ms"
