#!/bin/sh
set -eu
echo "unset ran"
vigil ping unset
