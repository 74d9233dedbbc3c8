#!/usr/bin/env python3
"""currency-rates"""
import sys

sys.path.insert(0, "lib")
from health import health_run


def main():
    print("done")


if __name__ == "__main__":
    with health_run("currency-rates"):
        main()
