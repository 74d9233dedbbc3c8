#!/bin/sh
set -eu
echo "noexec ran"
vigil ping noexec
