#!/bin/bash
# cache-warm: nightly housekeeping job
set -euo pipefail
echo "warming"
vigil ping cache-warm
