#!/bin/sh
echo "work"
# vigil ping commented
    # curl -fsS https://hc.example/ping/KEY/commented
