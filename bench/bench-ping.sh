#!/bin/bash
# Ping throughput and latency: vigil (every counted ping durably committed)
# against nginx answering `return 200` on the same machine, both driven by
# wrk over loopback with keep-alive and the same stream of requests (success
# pings of random checks).  Prints numbers; asserts nothing about speed.
# Usage: [ROUNDS=3] bench/bench-ping.sh [CONNECTIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-64}; T=${2:-10}
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "bench-ping: needs wrk and nginx (tests/deps.sh bench)"; exit 1; }
VIGIL=${VIGIL:-./vigil}	# another build to compare: VIGIL=path bench/bench-ping.sh
[ "$VIGIL" != ./vigil ] || [ -x ./vigil ] || make -s vigil
D=$(mktemp -d /tmp/vigil-bench-XXXXXX)
cleanup() { [ -n "${VP:-}" ] && kill $VP 2>/dev/null; [ -f "$D/nginx.pid" ] && kill "$(cat $D/nginx.pid)" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
DB=$D/v.db
"$VIGIL" --db "$DB" check add c0 --every 1h >/dev/null
# 9 999 more checks, up and pinged a moment ago (a steady state: nothing is
# overdue, so the scheduler has nothing to flip while wrk runs)
NOW_MS=$(($(date +%s) * 1000))
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<9999)
  INSERT INTO checks(slug,period_s,created_ms,status,status_since_ms,last_ping_ms,last_success_ms)
  SELECT 'c'||i, 3600, $NOW_MS, 1, $NOW_MS, $NOW_MS, $NOW_MS FROM n;"
echo "registry: $(sqlite3 "$DB" 'SELECT count(*) FROM checks') checks"
"$VIGIL" --db "$DB" serve --listen 127.0.0.1:0 --port-file "$D/port" >"$D/vigil.log" 2>&1 &
VP=$!
for _ in $(seq 1 500); do [ -s "$D/port" ] && break; sleep 0.01; done
VPORT=$(cat "$D/port"); KEY=$("$VIGIL" --db "$DB" key)
NPORT=$((VPORT + 1)); [ $NPORT -gt 65000 ] && NPORT=18321
mkdir -p "$D/ng"
cat > "$D/nginx.conf" <<NG
worker_processes 2;
pid $D/nginx.pid;
error_log $D/ng/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $D/ng; proxy_temp_path $D/ng; fastcgi_temp_path $D/ng; uwsgi_temp_path $D/ng; scgi_temp_path $D/ng;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NPORT; location / { return 200 "OK"; } }
}
NG
nginx -c "$D/nginx.conf"
# every request a success ping of a random check; the requests are formatted
# once per wrk thread (init), so that wrk spends on each what it spends on
# nginx's fixed request, not a Lua string build
cat > "$D/ping.lua" <<LUA
local reqs, n, i = {}, 20000, 0
init = function(args)
  math.randomseed(42)
  for k = 1, n do reqs[k] = wrk.format("GET", "/ping/$KEY/c" .. math.random(0, 9999)) end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
LUA
run_wrk() {	# name url [script]
	local out
	out=$(wrk -t2 -c"$C" -d"${T}s" --latency ${3:+-s "$3"} "$2")
	local rps p50 p99 reqs non2
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	non2=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2=${non2:-0}
	printf '%-6s %10s req/s   p50 %-9s p99 %-9s (%s requests, %s non-2xx)\n' "$1" "$rps" "$p50" "$p99" "$reqs" "$non2"
	eval "${1}_RPS=$rps ${1}_REQS=$reqs ${1}_NON2=$non2 ${1}_P99=$p99"
}
echo "wrk: 2 threads, $C connections, ${T}s, keep-alive, loopback; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# ROUNDS pairs (nginx, then vigil) back to back: on a shared VM the speed
# drifts from one 10 s window to the next, so the ratio is taken per pair and
# the median pair is the figure
ROUNDS=${ROUNDS:-3}
ok=0; ratios=()
for r in $(seq 1 "$ROUNDS"); do
	[ "$ROUNDS" -gt 1 ] && echo "round $r:"
	run_wrk nginx "http://127.0.0.1:$NPORT/" "$D/ping.lua"
	run_wrk vigil "http://127.0.0.1:$VPORT/" "$D/ping.lua"
	ok=$((ok + vigil_REQS - vigil_NON2))
	ratios+=("$(awk -v a="$vigil_RPS" -v b="$nginx_RPS" -v p="$vigil_P99" 'BEGIN { printf "%.1f %% (vigil p99 %s)", 100*a/b, p }')")
	echo "ratio vigil/nginx: ${ratios[-1]}"
done
kill $VP; wait $VP || true; VP=
# the committer's own figures (printed by vigil at shutdown)
sed -n 's/^vigil: \([0-9]* pings in .*\)/committer: \1/p; s/^vigil: \([0-9]* WAL syncs.*\)/syncer: \1/p' "$D/vigil.log"
stored=$(sqlite3 "$DB" 'SELECT count(*) FROM pings')
echo "vigil: $ok pings answered 200, $stored in the database (each answered after the fsync of its commit; group commit)"
[ "$stored" -ge "$ok" ] || { echo "bench-ping: ERROR: acknowledged pings missing from the database"; exit 1; }
[ "$ROUNDS" -gt 1 ] && printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))s/^/median ratio vigil\/nginx: /p"
exit 0
