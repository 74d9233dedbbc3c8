#!/bin/bash
# embedding-refresh: nightly housekeeping job
set -euo pipefail
echo "refreshing embeddings"
vigil ping embedding-refresh
