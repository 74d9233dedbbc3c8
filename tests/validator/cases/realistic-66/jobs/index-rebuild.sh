#!/bin/bash
# index-rebuild: nightly housekeeping job
set -euo pipefail
echo "rebuild"
vigil ping index-rebuild
