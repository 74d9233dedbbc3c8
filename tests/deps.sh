#!/bin/bash
# Installs the Debian packages vigil needs to build (and, with "test", to test).
# Root: apt-get install them.  Not root: print the exact sudo line and fail.
set -u
want=(gcc make pkg-config libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev
      libcjson-dev libpcre2-dev)
if [ "${1:-}" = test ]; then
	want+=(libcmocka-dev clang libclang-rt-14-dev shellcheck cron faketime curl
	       sqlite3 python3 chromium)
fi
if [ "${1:-}" = bench ]; then
	want+=(wrk nginx-light)
fi
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
		|| missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "vigil: missing Debian packages; run:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "vigil: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q "${missing[@]}" >/dev/null || exit 1
fi
