#!/bin/bash
# mqtt-bridge: nightly housekeeping job
set -euo pipefail
echo "mqtt"
vigil ping mqtt-bridge
