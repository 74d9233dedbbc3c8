#!/bin/bash
set -euo pipefail
SLUG="var-slug"
echo "$SLUG"
vigil ping "$SLUG" start
vigil ping "$SLUG"
