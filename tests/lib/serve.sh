# tests/lib/serve.sh — sourced by shell tests: start_vigil DB [ARGS...] starts
# the real `vigil serve` on a free loopback port and sets VIGIL_URL, PORT,
# VIGIL_PID; stop_vigil stops it.
start_vigil() {
	local db=$1; shift
	local pf
	pf=$(mktemp /tmp/vigil-port-XXXXXX); rm -f "$pf"
	"$VIGIL_BIN" --db "$db" serve --listen 127.0.0.1:0 --port-file "$pf" "$@" >"$db.serve.log" 2>&1 &
	VIGIL_PID=$!
	for _ in $(seq 1 2000); do [ -s "$pf" ] && break; kill -0 $VIGIL_PID 2>/dev/null || break; sleep 0.01; done
	[ -s "$pf" ] || { echo "vigil serve did not start:"; cat "$db.serve.log"; return 1; }
	PORT=$(cat "$pf"); rm -f "$pf"
	export VIGIL_URL=http://127.0.0.1:$PORT
}
stop_vigil() {
	[ -n "${VIGIL_PID:-}" ] && kill "$VIGIL_PID" 2>/dev/null && wait "$VIGIL_PID" 2>/dev/null
	VIGIL_PID=
}
