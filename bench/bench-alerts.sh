#!/bin/bash
# bench/bench-alerts.sh — the deadline scheduler and the alert sender at scale.
#
# 100 000 checks with staggered schedules (half periods of 1 h to 1 h 10 min,
# half daily cron lines spread over the day) plus 1 000 checks whose deadlines
# fall one every 60 ms within one minute.  Prints:
#   - startup: time for the scheduler's first evaluation of every check
#   - memory per check: RSS of `vigil serve` with the checks minus RSS with an
#     empty database, divided by the number of checks; database bytes per check
#   - idle CPU: vigil's user+system time over IDLE_S seconds with nothing due
#   - alert latency: webhook receipt minus (deadline + grace), p50/p99/max,
#     with the batching window set to 0 (the window is excluded by design)
# Prints numbers; asserts nothing.  Env: N (100000), DOWN (1000), IDLE_S (20).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
V=${VIGIL_BENCH_BIN:-$root/vigil}
N=${N:-100000}
DOWN=${DOWN:-1000}
IDLE_S=${IDLE_S:-20}
D=$(mktemp -d /tmp/vigil-bench-alerts-XXXXXX)
VPID= HPID=
trap '[ -n "$VPID" ] && kill $VPID 2>/dev/null; [ -n "$HPID" ] && kill $HPID 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
command -v sqlite3 >/dev/null && command -v python3 >/dev/null || { echo "bench-alerts: needs sqlite3 and python3"; exit 0; }
now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS/{print $2}' /proc/$1/status; }
# on-CPU nanoseconds of every thread (schedstat: finer than clock ticks)
cpu_ns() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }

# the webhook: records, per down-check slug, when it first arrived
cat >"$D/hook.py" <<'EOF'
import http.server, json, re, sys, time, os
d = sys.argv[1]
seen = {}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0))).decode('utf-8', 'replace')
        t = time.time() * 1000.0
        for m in re.findall(r'\bd(\d{4})\b', body):
            seen.setdefault(int(m), t)
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
        with open(d + '/seen.tmp', 'w') as f:
            json.dump(seen, f)
        os.replace(d + '/seen.tmp', d + '/seen.json')
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
with open(d + '/hook.port', 'w') as f:
    f.write(str(s.server_port))
s.serve_forever()
EOF
python3 "$D/hook.py" "$D" &
HPID=$!
for _ in $(seq 1 500); do [ -s "$D/hook.port" ] && break; sleep 0.01; done
HOOK="http://127.0.0.1:$(cat "$D/hook.port")/services/bench"
printf 'alert.batch_window = 0\n' >"$D/vigil.conf"

serve() {	# $1 = db; sets VPID
	rm -f "$D/port"
	"$V" --db "$1" --config "$D/vigil.conf" serve --listen 127.0.0.1:0 --port-file "$D/port" \
		--slack-webhook "$HOOK" >"$D/serve.log" 2>&1 &
	VPID=$!
	for _ in $(seq 1 1000); do [ -s "$D/port" ] && break; sleep 0.01; done
}

# baseline: an empty database
"$V" --db "$D/empty.db" key >/dev/null
serve "$D/empty.db"
sleep 3
rss0=$(rss_kb $VPID)
kill $VPID; wait $VPID 2>/dev/null; VPID=

# the checks
DB=$D/v.db
"$V" --db "$DB" key >/dev/null
NOW=$(now_ms)
H=$(date -u +%H)
T0=$((NOW + IDLE_S * 1000 + 30000))   # the first of the down wave's deadlines (after the idle window)
sqlite3 "$DB" <<EOF
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $N - 1)
INSERT INTO checks(slug, schedule, period_s, tz, grace_s, status, status_since_ms, created_ms,
                   last_ping_ms, last_success_ms)
SELECT printf('c%06d', i),
       CASE WHEN i % 2 = 0 THEN '' ELSE printf('%d %d * * *', i % 60, ($((10#$H)) + 2 + i % 20) % 24) END,
       CASE WHEN i % 2 = 0 THEN 3600 + i % 600 ELSE 0 END,
       'UTC', 300, 1, $NOW, $NOW, $NOW, $NOW FROM s;
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $DOWN - 1)
INSERT INTO checks(slug, period_s, tz, grace_s, status, status_since_ms, created_ms, last_ping_ms, last_success_ms)
SELECT printf('d%04d', i), 120, 'UTC', 0, 1, $NOW, $NOW,
       $T0 + i * 60 - 120000, $T0 + i * 60 - 120000 FROM s;
EOF
total=$((N + DOWN))
dbbytes=$(stat -c %s "$DB")

t_start=$(now_ms)
serve "$DB"
for _ in $(seq 1 6000); do
	left=$(sqlite3 "$DB" "SELECT count(*) FROM checks WHERE next_deadline_ms = 0" 2>/dev/null || echo 1)
	[ "$left" = 0 ] && break
	sleep 0.05
done
t_eval=$(( $(now_ms) - t_start ))
sleep 2
rss1=$(rss_kb $VPID)
hz=1000000000
c0=$(cpu_ns $VPID); w0=$(now_ms)
sleep "$IDLE_S"
c1=$(cpu_ns $VPID); w1=$(now_ms)
[ $(now_ms) -lt $T0 ] || echo "bench-alerts: warning: the idle window ran into the down wave"

# the down wave: wait for every down check to reach the webhook
end=$((T0 + DOWN * 60 + 60000))
while [ $(now_ms) -lt $end ]; do
	got=$(python3 -c "import json;print(len(json.load(open('$D/seen.json'))))" 2>/dev/null || echo 0)
	[ "$got" -ge "$DOWN" ] && break
	sleep 0.5
done
rss2=$(rss_kb $VPID)

python3 - "$D/seen.json" "$T0" "$DOWN" "$rss0" "$rss1" "$rss2" "$total" "$dbbytes" "$t_eval" \
	"$c0" "$c1" "$w0" "$w1" "$hz" "$(nproc)" <<'EOF'
import json, sys
seen_f, T0, DOWN, rss0, rss1, rss2, total, dbbytes, t_eval, c0, c1, w0, w1, hz, ncpu = sys.argv[1:]
T0, DOWN, total = int(T0), int(DOWN), int(total)
try:
    seen = {int(k): v for k, v in json.load(open(seen_f)).items()}
except Exception:
    seen = {}
lat = sorted(seen[i] - (T0 + i * 60) for i in range(DOWN) if i in seen)
def pct(p):
    return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] if lat else float('nan')
idle = (int(c1) - int(c0)) / float(hz) / ((int(w1) - int(w0)) / 1000.0) * 100.0
print("checks:                 %d (+%d in the down wave)" % (total - DOWN, DOWN))
print("first evaluation:       %.1f s for all %d checks" % (int(t_eval) / 1000.0, total))
print("memory per check:       %.1f bytes RSS  (RSS %d KiB empty, %d KiB with checks, %d KiB after the wave)"
      % ((int(rss1) - int(rss0)) * 1024.0 / total, int(rss0), int(rss1), int(rss2)))
print("database per check:     %.0f bytes" % (int(dbbytes) / float(total)))
print("idle CPU:               %.3f %% of one core over %.0f s (%d cores)" % (idle, (int(w1) - int(w0)) / 1000.0, int(ncpu)))
print("alerts received:        %d of %d" % (len(lat), DOWN))
print("alert latency (deadline+grace -> webhook, window 0): p50 %.0f ms, p99 %.0f ms, max %.0f ms"
      % (pct(50), pct(99), lat[-1] if lat else float('nan')))
EOF
