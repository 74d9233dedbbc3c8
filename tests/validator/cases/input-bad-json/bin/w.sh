#!/bin/sh
set -eu
echo "weather-pull ran"
vigil ping weather-pull
