#!/bin/sh
set -eu
echo "backup ran"
vigil ping backup
