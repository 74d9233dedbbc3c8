#!/bin/bash
# zfs-scrub: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
zpool scrub tank
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/zfs-scrub" >/dev/null
