#!/bin/bash
# dns-update: nightly housekeeping job
set -euo pipefail
echo "dns"
vigil ping dns-update
