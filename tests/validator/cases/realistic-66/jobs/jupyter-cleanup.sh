#!/bin/bash
# jupyter-cleanup: nightly housekeeping job
set -euo pipefail
find /srv/notebooks -name "*.ipynb_checkpoints" -prune -exec rm -rf {} +
vigil ping jupyter-cleanup
