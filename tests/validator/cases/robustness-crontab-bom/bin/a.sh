#!/bin/sh
set -eu
echo "a ran"
vigil ping a
