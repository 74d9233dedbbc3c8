#!/bin/sh
set -eu
echo pull
vigil ping weather-push
