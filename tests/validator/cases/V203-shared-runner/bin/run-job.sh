#!/bin/sh
# run-job.sh SLUG COMMAND...: runs COMMAND between two pings
set -eu
slug=$1
shift
vigil ping "$slug" start
"$@"
vigil ping "$slug"
