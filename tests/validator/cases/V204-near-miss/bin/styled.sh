#!/bin/sh
echo $1
vigil ping styled
