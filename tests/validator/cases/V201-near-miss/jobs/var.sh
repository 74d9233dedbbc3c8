#!/bin/sh
set -eu
echo "var ran"
vigil ping var
