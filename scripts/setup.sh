#!/usr/bin/env bash
# Create .venv with the CPU build of torch and cnnablate (editable) with its extras.
# Usage: bash scripts/setup.sh [extras]   (default extras: test)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python3 -m venv .venv
. .venv/bin/activate
pip install --quiet --upgrade pip
# Pinned here, not in pyproject: a looser torch requirement pulls a multi-GB CUDA build.
pip install --quiet "torch==${CNNABLATE_TORCH:-2.13.0}"
pip install --quiet -e ".[${extras}]"
