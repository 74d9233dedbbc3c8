#!/bin/sh
set -eu
# old: vigil ping etl-old
vigil ping etl start
echo load
vigil ping etl-load
vigil ping etl
