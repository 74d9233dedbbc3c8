#!/bin/sh
set -eu
echo "sync-full ran"
vigil ping sync-full
