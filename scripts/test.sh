#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the test suite on the CPU. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check src tests
pytest -q "$@"
