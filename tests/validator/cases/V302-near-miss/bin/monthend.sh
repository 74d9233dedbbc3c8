#!/bin/sh
set -eu
echo "monthend ran"
vigil ping monthend
