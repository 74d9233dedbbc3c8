#!/bin/sh
set -eu
echo "ext ran"
vigil ping ext
