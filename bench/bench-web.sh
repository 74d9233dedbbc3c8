#!/bin/bash
# Operator surfaces under a large registry: time to render / (status page),
# /checks/<slug>, /api/v1/checks, /api/v1/status and /metrics with N checks
# (default 1000) and 50 pings with bodies on one of them.  Median and p90 of
# 30 sequential requests each (curl, keep-alive off).  Prints numbers;
# asserts nothing about speed.  Usage: bench/bench-web.sh [CHECKS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
[ -x ./vigil ] || make -s vigil
D=$(mktemp -d /tmp/vigil-bench-web-XXXXXX)
cleanup() { [ -n "${VP:-}" ] && kill $VP 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
DB=$D/v.db
./vigil --db "$DB" check add c0 --every 1h --name "first" >/dev/null
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<$((N - 1)))
  INSERT INTO checks(slug,name,tags,schedule,period_s,status,created_ms,last_ping_ms,last_success_ms)
  SELECT 'c'||i, 'job '||i, 't'||(i%9), CASE WHEN i%2 THEN '*/5 * * * *' ELSE '' END,
         CASE WHEN i%2 THEN 0 ELSE 3600 END, i%7, 0, 1700000000000, 1700000000000 FROM n;"
KEY_RO=$(./vigil --db "$DB" apikey create --ro 2>/dev/null)
./vigil --db "$DB" serve --listen 127.0.0.1:0 --port-file "$D/port" >"$D/vigil.log" 2>&1 &
VP=$!
for _ in $(seq 1 500); do [ -s "$D/port" ] && break; sleep 0.01; done
B=http://127.0.0.1:$(cat "$D/port"); KEY=$(./vigil --db "$DB" key)
for i in $(seq 1 50); do
	seq 1 40 | sed "s/^/output line /" | curl -fsS -o /dev/null --data-binary @- "$B/ping/$KEY/c0" 
done
echo "registry: $(sqlite3 "$DB" 'SELECT count(*) FROM checks') checks; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-26s %10s %10s %10s\n' path median_ms p90_ms bytes
for u in / /checks/c0 /api/v1/checks /api/v1/status /metrics; do
	for _ in $(seq 1 30); do
		curl -fsS -o /dev/null -H "Authorization: Bearer $KEY_RO" -w '%{time_total} %{size_download}\n' "$B$u"
	done | sort -n | awk -v u="$u" '{t[NR]=$1; b=$2} END {printf "%-26s %10.2f %10.2f %10d\n", u, t[int(NR/2)+1]*1000, t[int(NR*0.9)]*1000, b}'
done
