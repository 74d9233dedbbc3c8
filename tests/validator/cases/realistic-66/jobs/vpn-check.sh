#!/bin/bash
# vpn-check: nightly housekeeping job
set -euo pipefail
echo "vpn"
vigil ping vpn-check
