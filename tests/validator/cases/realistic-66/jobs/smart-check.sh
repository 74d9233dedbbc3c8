#!/bin/bash
# smart-check: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
smartctl -H /dev/sda
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/smart-check" >/dev/null
