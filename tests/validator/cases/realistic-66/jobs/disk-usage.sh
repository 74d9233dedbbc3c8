#!/bin/bash
# disk-usage: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
df -h / | tail -1
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/disk-usage" >/dev/null
