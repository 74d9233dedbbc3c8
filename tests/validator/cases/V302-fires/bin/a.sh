#!/bin/sh
vigil ping "$1"
