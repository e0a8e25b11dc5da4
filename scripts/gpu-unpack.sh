#!/usr/bin/env bash
# Restore the GPU campaign's state from a device call's returned files (gpu-state.tgz.NN parts)
# into .gpu/, and copy the finished tables and bench baselines where they are committed.
# Usage: bash scripts/gpu-unpack.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
from="${1:?usage: gpu-unpack.sh DIR (the folder holding gpu-state.tgz.00 ...)}"
mkdir -p .gpu
cat "$from"/gpu-state.tgz.* | tar xzf - -C .gpu
for folder in .gpu/results/*/; do
  name="$(basename "$folder")"
  if [ -f "$folder/results.parquet" ]; then
    mkdir -p "results/$name"
    cp "$folder/results.parquet" "$folder/results.csv" "results/$name/"
  fi
done
if [ -d .gpu/baselines ]; then
  cp -r .gpu/baselines/. bench/baselines/
fi
ls results .gpu/done
