#!/bin/sh
# mail-queue: POSIX sh, run with sh
set -eu
echo "checking"
vigil ping mail-queue
