#!/bin/sh
set -eu
echo "c ran"
vigil ping c
