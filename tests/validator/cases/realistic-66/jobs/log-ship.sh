#!/bin/bash
# log-ship: nightly housekeeping job
set -euo pipefail
cd /var/log/app
for f in $(ls *.log); do gzip "$f"; done
vigil ping log-ship
