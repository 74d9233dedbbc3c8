#!/bin/bash
# midnight-sweep: nightly housekeeping job
set -euo pipefail
echo "sweep"
vigil ping midnight-sweep
