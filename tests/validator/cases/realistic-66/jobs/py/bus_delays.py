#!/usr/bin/env python3
"""bus-delays"""
import sys

sys.path.insert(0, "lib")
from health import health_run


def main():
    print("done")


if __name__ == "__main__":
    with health_run("bus-delays"):
        main()
