#!/bin/bash
unused="x"
cd /var/tmp
for f in $(ls *.log); do echo "$f"; done
vigil ping lint
