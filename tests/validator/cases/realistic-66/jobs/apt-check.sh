#!/bin/bash
# apt-check: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
apt-get -qq update
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/apt-check" >/dev/null
