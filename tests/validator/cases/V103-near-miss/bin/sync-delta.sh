#!/bin/sh
set -eu
echo "sync-delta ran"
vigil ping sync-delta
