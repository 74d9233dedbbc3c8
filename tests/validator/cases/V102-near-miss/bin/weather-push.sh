#!/bin/sh
set -eu
echo "weather-push ran"
vigil ping weather-push
