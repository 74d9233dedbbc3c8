#!/bin/sh
set -eu
echo "wrapped ran"
vigil ping wrapped
