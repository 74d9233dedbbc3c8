#!/bin/bash
# model-sync: nightly housekeeping job
set -euo pipefail
rsync -a models:/srv/models/ /srv/models/
vigil ping model-sync
