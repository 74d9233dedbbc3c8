#!/bin/bash
# shellcheck disable=SC2034
unused="x"
vigil ping disabled
