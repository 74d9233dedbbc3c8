#!/bin/bash
# printer-toner: nightly housekeeping job
set -euo pipefail
echo "toner"
vigil ping printer-toner
