#!/bin/sh
set -eu
echo work
curl -fsS -m 10 --retry 3 "https://hc.example/ping/${PING_KEY:-x}/curl-url" >/dev/null
