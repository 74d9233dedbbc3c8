#!/bin/sh
set -eu
echo "cd ran"
vigil ping cd
