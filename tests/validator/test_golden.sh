#!/bin/bash
# Runs every validator golden case (tests/validator/cases/*) against the
# sanitized vigil binary.  ShellCheck is part of the rules under test: when it
# is missing the test fails (tests/deps.sh installs it).
set -u
command -v shellcheck >/dev/null || { echo "FAIL: shellcheck is not installed (tests/deps.sh test installs it)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 is not installed (tests/deps.sh test installs it)"; exit 1; }
exec "$(dirname "$0")/run-golden.sh"
