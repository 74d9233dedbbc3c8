#!/bin/sh
echo "backup $1"
