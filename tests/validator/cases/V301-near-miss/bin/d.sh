#!/bin/sh
set -eu
echo "d ran"
vigil ping d
