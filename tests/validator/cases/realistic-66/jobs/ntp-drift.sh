#!/bin/bash
# ntp-drift: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
chronyc tracking | head -3
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/ntp-drift" >/dev/null
