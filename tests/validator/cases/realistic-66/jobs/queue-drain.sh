#!/bin/bash
# queue-drain: nightly housekeeping job
set -euo pipefail
echo "draining"
# vigil ping queue-drain   (disabled during INC-231)
