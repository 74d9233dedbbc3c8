#!/bin/bash
# legacy-nas: nightly housekeeping job
set -euo pipefail
echo "nas"
vigil ping legacy-nas
