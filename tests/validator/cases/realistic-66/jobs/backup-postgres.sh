#!/bin/bash
# backup-postgres: nightly housekeeping job
set -euo pipefail
SLUG="backup-postgres"
vigil ping "$SLUG" start
pg_dump --format=custom app >"/var/backups/app-$(date +%F).dump"
vigil ping "$SLUG"
