#!/usr/bin/env bash
# Rebuild reports/lecture from the reference runs committed in results/reference/: on a fresh
# clone, after `bash scripts/setup.sh`. The report reads their tables, spec.yaml, per-epoch
# metrics and the few weight files it probes, and the MNIST test split (the fetch chain).
# Usage: bash scripts/lecture-report.sh [--out DIR]   (default reports/lecture)
#        bash scripts/lecture-report.sh --sources      (only print the results folders it reads)
set -euo pipefail
cd "$(dirname "$0")/.."
sources=(
  results/reference/mnist1d-udl          # UDL's MNIST-1D networks, the lecture's budgets (CPU)
  results/reference/nielsen-chain        # Nielsen's chain at full budget (H200; unfinished)
  results/reference/nielsen-activation-cpu  # claim 3 at full budget (CPU)
  results/reference/nielsen-chain-cpu    # every Nielsen network, one epoch (CPU)
  results/reference/lecture-factors-cpu  # the lecture's factors, one epoch per cell (CPU)
  results/reference/nielsen-l2           # L2 strength on conv2-relu, one epoch per cell (CPU)
)
if [ "${1:-}" = "--sources" ]; then printf '%s\n' "${sources[@]}"; exit 0; fi
cnnablate="${CNNABLATE:-.venv/bin/cnnablate}"
exec "$cnnablate" report "${sources[@]}" --out reports/lecture "$@"
