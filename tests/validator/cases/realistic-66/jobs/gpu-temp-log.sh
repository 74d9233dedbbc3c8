#!/bin/bash
# gpu-temp-log: nightly housekeeping job
set -euo pipefail
nvidia-smi --query-gpu=temperature.gpu --format=csv,noheader
vigil ping gpu-temp-log
