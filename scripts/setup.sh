#!/usr/bin/env bash
# Create .venv with torch and cnnablate (editable) with its extras.
# Usage: bash scripts/setup.sh [extras]   (default extras: test)
#
# Environment:
#   CNNABLATE_TORCH        torch version to install first (default 2.13.0)
#   CNNABLATE_TORCH_INDEX  index to take torch from (pip --index-url). Unset: pip's configured
#                          indexes, which on this project's machines hold the CPU wheel on local
#                          disk. On an ordinary Linux machine PyPI's torch is the CUDA build (GBs);
#                          for the CPU build set https://download.pytorch.org/whl/cpu
#   CNNABLATE_PYTHON       the interpreter that makes .venv (default python3; needs >= 3.11)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python="${CNNABLATE_PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: cnnablate needs Python >= 3.11; $python is $("$python" -V 2>&1)." \
        "Set CNNABLATE_PYTHON to a newer one." >&2
    exit 1
fi
"$python" -m venv .venv
. .venv/bin/activate
pip install --quiet --upgrade pip
# Pinned here, not in pyproject: the library takes whatever torch >= 2.4 is already installed
# (a GPU machine keeps its CUDA build), so torch goes in first, from the chosen index.
torch_opts=()
if [[ -n "${CNNABLATE_TORCH_INDEX:-}" ]]; then
    torch_opts+=(--index-url "$CNNABLATE_TORCH_INDEX")
fi
pip install --quiet ${torch_opts[@]+"${torch_opts[@]}"} "torch==${CNNABLATE_TORCH:-2.13.0}"
pip install --quiet -e ".[${extras}]"
