#!/usr/bin/env python3
"""pollen-count"""
import sys

sys.path.insert(0, "lib")
from health import health_run


def main():
    print("done")


if __name__ == "__main__":
    with health_run("pollen-count"):
        main()
