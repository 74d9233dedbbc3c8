#!/bin/sh
set -eu
echo "via-sh ran"
vigil ping via-sh
