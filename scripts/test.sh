#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the test suite on the CPU. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check src tests
# Two or more processes (at most 4), a file each at a time: most tests wait on a subprocess's
# imports or on a database, so one process left half of a 2-core machine idle.
pytest -q -n auto --maxprocesses 4 --dist loadfile "$@"
