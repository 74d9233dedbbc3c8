#!/bin/sh
set -eu
echo "b ran"
vigil ping b
