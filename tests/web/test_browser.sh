#!/bin/bash
# tests/web/test_browser.sh — the status page in a real headless Chromium,
# against the real `vigil serve`: checks in every state, the DOM as rendered
# (--dump-dom): states, order (down → grace → the rest), filters, banners,
# escaping of a check name and a ping body holding <script>; screenshots at
# desktop and phone widths kept in tests/out/ (CI artefacts) and checked to
# be styled (the stylesheet loads under the strict CSP).
set -u
: "${VIGIL_BIN:?VIGIL_BIN must name the vigil binary}"
root=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$root/tests/out
mkdir -p "$out"
for tool in chromium python3 sqlite3 curl; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (tests/deps.sh test installs it)"; exit 77; }
done

tmp=$(mktemp -d /tmp/vigil-browser-XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/serve.log" ] && sed 's/^/serve: /' "$tmp/serve.log" | tail -20; exit 1; }

db=$tmp/vigil.db
v() { "$VIGIL_BIN" --db "$db" "$@"; }

# ---- checks in every state ----------------------------------------------------
v check add c-up --every 1h --name "Up check" --tags "web prod" >/dev/null || fail "check add"
v check add c-down --cron '0 3 * * *' --tz Europe/Paris --name '<script>alert("x")</script>' --tags db >/dev/null
v check add a-down2 --every 1h --tags db >/dev/null
v check add c-grace --cron '*/15 * * * *' >/dev/null
v check add c-started --every 1h --max-runtime 30m >/dev/null
v check add c-paused --every 1d >/dev/null
v check add c-new --every 10m >/dev/null
v check add c-unknown --every 1h >/dev/null
v check mute c-up --for 2h --reason 'disk <swap>' >/dev/null || fail "mute"
v check mute c-new --indefinite --reason 'vendor outage' >/dev/null || fail "mute --indefinite"

"$VIGIL_BIN" --db "$db" serve --listen 127.0.0.1:0 --port-file "$tmp/port" >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 1000); do
	[ -s "$tmp/port" ] && break
	kill -0 "$pid" 2>/dev/null || fail "vigil serve exited"
	sleep 0.01
done
[ -s "$tmp/port" ] || fail "no port file"
base="http://127.0.0.1:$(cat "$tmp/port")"
key=$(v key)
ping() { curl -fsS -o /dev/null -X POST --data-binary "${3:-}" "$base/ping/$key/$1$2" || fail "ping $1$2"; }

ping c-up /start
ping c-up "" "run 1 ok"
ping c-up /start
ping c-up "" "run 2 ok"
ping c-down /fail "<script>document.title='pwned'</script> disk full"
ping a-down2 /1 "exit 1"
ping c-started /start
ping c-paused ""
v check pause c-paused >/dev/null
# grace and unknown come from the scheduler; set them the way it would
sqlite3 "$db" "PRAGMA busy_timeout=5000; UPDATE checks SET status=2 WHERE slug='c-grace'; UPDATE checks SET status=6 WHERE slug='c-unknown';" >/dev/null \
	|| fail "sqlite3 update"

# ---- the browser ------------------------------------------------------------------
chrome() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-dev-shm-usage --hide-scrollbars --user-data-dir="$tmp/profile" "$@" 2>>"$tmp/chromium.log"
}
dump() { chrome --dump-dom "$base$1" >"$tmp/$2" || fail "chromium --dump-dom $1"; [ -s "$tmp/$2" ] || fail "empty DOM for $1"; }
shot() {	# path name width height
	rm -f "$out/$2"
	chrome --window-size="$3,$4" --screenshot="$out/$2" "$base$1" >/dev/null || fail "chromium --screenshot $1"
	[ -s "$out/$2" ] || fail "no screenshot $2"
}

dump / index.html
dump "/?state=down" down.html
dump "/?tag=db" tag.html
dump /checks/c-down check-down.html
dump /checks/c-up check-up.html
shot / web-index-desktop.png 1280 900
shot / web-index-phone.png 390 844
shot /checks/c-down web-check-desktop.png 1280 900
shot /checks/c-down web-check-phone.png 390 844

python3 - "$tmp" "$out" <<'EOF' || fail "DOM or screenshot assertions"
import sys, zlib, struct
from html.parser import HTMLParser

tmp, out = sys.argv[1], sys.argv[2]
errors = []
def check(cond, msg):
    if not cond: errors.append(msg)

class Dom(HTMLParser):
    """Collects rows of the checks table, script elements, text and ids."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.scripts, self.ids, self.text = [], 0, set(), []
        self.title, self._in_title, self._badge, self.svg_points = "", False, None, []
        self.links = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script": self.scripts += 1
        if "id" in a: self.ids.add(a["id"])
        if tag == "title": self._in_title = True
        if tag == "tr" and "check" in a.get("class", "").split():
            self.rows.append({"slug": a.get("data-slug"), "state": a.get("data-state"), "badges": []})
        if tag == "span" and "badge" in a.get("class", "").split():
            self._badge = a["class"]
        if tag == "polyline": self.svg_points.append(a.get("points", ""))
        if tag == "a": self.links.append(a.get("href", ""))
    def handle_endtag(self, tag):
        if tag == "title": self._in_title = False
    def handle_data(self, d):
        self.text.append(d)
        if self._in_title: self.title += d
        if self._badge is not None:
            if self.rows and "state-" in self._badge: self.rows[-1]["badges"].append(d.strip())
            self._badge = None

def parse(name):
    d = Dom()
    d.feed(open(f"{tmp}/{name}", encoding="utf-8").read())
    d.alltext = "".join(d.text)
    return d

idx = parse("index.html")
order = [r["slug"] for r in idx.rows]
want = ["a-down2", "c-down", "c-grace", "c-new", "c-paused", "c-started", "c-unknown", "c-up"]
check(order == want, f"row order {order}, want {want}")
states = {r["slug"]: r["state"] for r in idx.rows}
want_states = {"a-down2": "down", "c-down": "down", "c-grace": "grace", "c-new": "new", "c-paused": "paused",
               "c-started": "started", "c-unknown": "unknown", "c-up": "up"}
check(states == want_states, f"states {states}")
for r in idx.rows:
    check(r["badges"][:1] == [r["state"]], f"badge of {r['slug']}: {r['badges']}")
check(set(want_states.values()) == {"up", "grace", "down", "started", "paused", "new", "unknown"}, "every state shown")
# escaping: the name is text, no script element exists, nothing ran
check(idx.scripts == 0, f"{idx.scripts} script elements in the DOM")
check('<script>alert("x")</script>' in idx.alltext, "the <script> name is not shown as text")
check("pwned" not in idx.title, "a script ran")
check("banner-mutes" in idx.ids, "no banner for the indefinite mute")
check("banner-alerts" not in idx.ids, "alerts banner for alerts queued seconds ago")
check("vendor outage" in idx.alltext, "indefinite mute reason missing")
check("disk <swap>" in idx.alltext, "mute reason missing")
check("daily at 03:00" in idx.alltext and "Europe/Paris" in idx.alltext, "schedule in words / zone missing")
check("2 down" in idx.title, f"title {idx.title!r}")

down = parse("down.html")
check([r["slug"] for r in down.rows] == ["a-down2", "c-down"], f"state filter: {[r['slug'] for r in down.rows]}")
tag = parse("tag.html")
check([r["slug"] for r in tag.rows] == ["a-down2", "c-down"], f"tag filter: {[r['slug'] for r in tag.rows]}")

cd = parse("check-down.html")
check(cd.scripts == 0, "script element on the check page")
check("pwned" not in cd.title, "a script ran on the check page")
check("<script>document.title='pwned'</script> disk full" in cd.alltext, "ping body not shown as text")
check(any(h.startswith("/checks/c-down/pings/") and h.endswith("/body") for h in cd.links), "no link to the full body")
check({"flips", "pings", "findings", "durations"} <= cd.ids, f"sections missing: {cd.ids}")
check("no validation recorded yet" in cd.alltext, "validator findings section missing")
cu = parse("check-up.html")
check(len(cu.svg_points) == 1 and len(cu.svg_points[0].split()) == 2, f"sparkline points {cu.svg_points}")

def png(path):
    """Decodes an 8-bit non-interlaced RGB/RGBA PNG: (width, height, set of colours)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and inter == 0, f"PNG kind {depth}/{ctype}/{inter}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, colours, i = zlib.decompress(idat), w * bpp, bytearray(w * bpp), set(), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(line[k:k + 3]) for k in range(0, stride, bpp))
        prev = line
    return w, h, colours

DOWN_RED = bytes((0xc9, 0x30, 0x2c))   # .state-down in the stylesheet
for name, width in (("web-index-desktop.png", 1280), ("web-index-phone.png", 390),
                    ("web-check-desktop.png", 1280), ("web-check-phone.png", 390)):
    w, h, colours = png(f"{out}/{name}")
    check(w == width, f"{name}: width {w}, want {width}")
    check(len(colours) > 20, f"{name}: only {len(colours)} colours (blank page?)")
    check(DOWN_RED in colours, f"{name}: no down-red badge pixel (stylesheet not applied?)")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"browser: {len(idx.rows)} rows in order, escaping and screenshots OK")
EOF

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "vigil serve exited with $rc"
echo "PASS: screenshots in tests/out/web-*.png"
exit 0
