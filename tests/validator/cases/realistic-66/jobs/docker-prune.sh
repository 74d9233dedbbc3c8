#!/bin/bash
# docker-prune: nightly housekeeping job
set -euo pipefail
: "${PING_KEY:?PING_KEY is not set}"
docker system prune -af --filter "until=168h"
curl -fsS -m 10 --retry 3 "https://hc.example.net/ping/${PING_KEY}/docker-prune" >/dev/null
