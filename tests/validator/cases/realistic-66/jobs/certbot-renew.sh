#!/bin/bash
# certbot-renew: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
certbot renew --quiet
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/certbot-renew" >/dev/null
