#!/bin/bash
# SLOW (about 2-3 minutes): the one end-to-end test with the real cron daemon.
# A test user gets a crontab (installed with the real `crontab -u`, into a
# private spool: see below) whose job runs every minute through `vigil run`;
# once its pings are on record the job stops pinging, and the "down" alert for
# the missed minute must reach the webhook (a small Python HTTP server here).
# Needs root (useradd, crontab -u, cron).  Runs in CI; skip it locally with
# VIGIL_SKIP_SLOW=1.
set -u
[ -n "${VIGIL_SKIP_SLOW:-}" ] && { echo "SKIP: slow test (VIGIL_SKIP_SLOW set)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to create a test user and run cron"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "SKIP: cannot create a mount namespace here"; exit 77; }
[ -d /var/spool/cron/crontabs ] && getent group crontab >/dev/null || { echo "SKIP: no cron spool or crontab group"; exit 77; }
for b in crontab cron useradd userdel python3; do
	command -v $b >/dev/null || { echo "SKIP: $b not installed"; exit 77; }
done
. "$VIGIL_ROOT/tests/lib/serve.sh"
V=$VIGIL_BIN
D=$(mktemp -d /tmp/vigil-cron-e2e-XXXXXX)
chmod 755 "$D"
U=vigilcron$$
CRON_PID= SLACK_PID=
cleanup() {
	userdel "$U" 2>/dev/null
	stop_vigil
	[ -n "$CRON_PID" ] && kill "$CRON_PID" 2>/dev/null
	[ -n "$SLACK_PID" ] && kill "$SLACK_PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- serve log"; tail -n 30 "$DB.serve.log" 2>/dev/null
	echo "--- job log"; tail -n 30 "$D/job/log" 2>/dev/null
	echo "--- cron daemon output"; tail -n 10 "$D/cron.log" 2>/dev/null
	exit 1
}
DB=$D/v.db

# the webhook: records each POST body as msg.N
cat >"$D/slack.py" <<'EOF'
import http.server, sys
d = sys.argv[1]
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        n[0] += 1
        with open('%s/msg.%d.tmp' % (d, n[0]), 'wb') as f:
            f.write(body)
        import os
        os.rename('%s/msg.%d.tmp' % (d, n[0]), '%s/msg.%d' % (d, n[0]))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
with open(d + '/slack.port.tmp', 'w') as f:
    f.write(str(s.server_port))
import os
os.rename(d + '/slack.port.tmp', d + '/slack.port')
s.serve_forever()
EOF
python3 "$D/slack.py" "$D" &
SLACK_PID=$!
for _ in $(seq 1 500); do [ -s "$D/slack.port" ] && break; sleep 0.01; done
[ -s "$D/slack.port" ] || fail "fake webhook did not start"
HOOK="http://127.0.0.1:$(cat "$D/slack.port")/services/T/B/secret"

printf 'alert.batch_window = 1s\n' >"$D/vigil.conf"
"$V" --db "$DB" check add cronjob --cron '* * * * *' --grace 10s >/dev/null || fail "check add"
export VIGIL_CONFIG=$D/vigil.conf
start_vigil "$DB" --slack-webhook "$HOOK" || fail "serve did not start"
unset VIGIL_CONFIG
KEY=$("$V" --db "$DB" key)

useradd -M -d "$D" -s /bin/sh "$U" || fail "useradd"
mkdir -m 777 "$D/job"
# the job pings through `vigil run` until $D/stop exists
cat >"$D/crontab" <<EOF
VIGIL_URL=$VIGIL_URL
VIGIL_PING_KEY=$KEY
ASAN_OPTIONS=detect_leaks=0
* * * * * [ -e $D/stop ] || $V run cronjob -- sh -c 'echo cron ran' >>$D/job/log 2>&1 # vigil:cronjob
EOF
# Our own cron daemon in a private mount namespace: an empty tmpfs spool (the
# real `crontab -u` installs the test user's crontab there), no system
# crontabs, a private /run (its pid lock); nothing outside is read or changed,
# and other cron daemons on this machine do not interfere.
: >"$D/empty"
unshare -m --propagation private bash -c '
	set -e
	mount -t tmpfs -o mode=1730 tmpfs /var/spool/cron/crontabs
	chgrp crontab /var/spool/cron/crontabs
	[ -d /etc/cron.d ] && mount -t tmpfs tmpfs /etc/cron.d
	[ -f /etc/crontab ] && mount --bind "$1/empty" /etc/crontab
	mount -t tmpfs tmpfs /run
	crontab -u "$2" "$1/crontab"
	exec /usr/sbin/cron -f -L 0
' _ "$D" "$U" >"$D/cron.log" 2>&1 &
CRON_PID=$!

# first run: start + exit pings recorded
for _ in $(seq 1 150); do
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM pings WHERE kind=4 AND exit_status=0")" -ge 1 ] && break
	sleep 1
done
[ "$(sqlite3 "$DB" "SELECT status FROM checks WHERE slug='cronjob'")" = 1 ] || fail "no run recorded within 150 s (is cron working here?)"
touch "$D/stop"
# (a "never pinged" alert and its recovery may precede this if the daemon
# skipped the very first minute: look only at what comes next)
for _ in $(seq 1 100); do
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM alerts WHERE state <> 'sent'")" = 0 ] && break
	sleep 0.2
done
n0=$(ls "$D" | grep -c '^msg\.[0-9]*$')
want=$D/msg.$((n0 + 1))
# the next minute's run does not ping: down at that minute + 10 s grace
for _ in $(seq 1 150); do
	[ -e "$want" ] && break
	sleep 1
done
m=$want
[ -e "$m" ] || m=
[ -n "$m" ] || fail "no alert within 150 s of the last ping"
grep -q '1 check down' "$m" || fail "alert is not a down alert: $(head -c 300 "$m")"
grep -q 'cronjob' "$m" || fail "alert does not name the check"
grep -q 'no ping after the expected run' "$m" || fail "alert does not say the run was missed"
grep -q 'secret' "$m" && fail "webhook path leaked into the message"
grep -q "$KEY" "$m" && fail "ping key leaked into the message"
# read after the alert: the server writes checks rows behind its pings, and
# the scheduler folds them in before it judges
last=$(sqlite3 "$DB" "SELECT last_success_ms FROM checks WHERE slug='cronjob'")
exp=$(sqlite3 "$DB" "SELECT expected_ms FROM checks WHERE slug='cronjob'")
down=$(sqlite3 "$DB" "SELECT max(created_ms) FROM flips WHERE new_status=3")
[ $((exp % 60000)) -eq 0 ] || fail "expected run $exp is not a whole minute"
[ "$exp" -gt "$last" ] || fail "expected run is not after the last ping"
[ "$down" -ge $((exp + 10000)) ] || fail "down before expected + grace ($down < $exp + 10000)"
echo "last ping $last, expected $exp, down flip $down, alert $(basename "$m")"
exit 0
