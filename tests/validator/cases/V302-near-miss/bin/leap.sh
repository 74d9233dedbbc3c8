#!/bin/sh
set -eu
echo "leap ran"
vigil ping leap
