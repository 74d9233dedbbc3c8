#!/bin/bash
# raid-check: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
cat /proc/mdstat
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/raid-check" >/dev/null
