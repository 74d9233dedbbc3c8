#!/bin/bash
# thumbnail-gen: nightly housekeeping job
set -euo pipefail
echo "thumbs"
vigil ping thumbnail-gen
