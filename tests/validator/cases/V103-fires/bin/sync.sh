#!/bin/sh
set -eu
echo "sync ran"
vigil ping sync
