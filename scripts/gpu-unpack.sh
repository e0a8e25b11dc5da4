#!/usr/bin/env bash
# Restore the GPU campaign's state from a device call's returned files (gpu-state.tgz.NN parts)
# into .gpu/, keep the parts in results/gpu-campaign/ (committed, so that a later session's
# `gpu.sh --prepare` resumes the campaign), and copy the finished tables and bench baselines
# where they are committed.
# Usage: bash scripts/gpu-unpack.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
from="${1:?usage: gpu-unpack.sh DIR (the folder holding gpu-state.tgz.00 ...)}"
mkdir -p .gpu
# The returned state is whole: it replaces the old one (files deleted there, like the saved state
# of a trial that has since finished, must not come back); the carried MNIST files stay.
find .gpu -mindepth 1 -maxdepth 1 ! -name mnist -exec rm -rf {} +
cat "$from"/gpu-state.tgz.* | tar xzf - -C .gpu
rm -f results/gpu-campaign/gpu-state.tgz.*
mkdir -p results/gpu-campaign && cp "$from"/gpu-state.tgz.* results/gpu-campaign/
for folder in .gpu/results/*/; do
  name="$(basename "$folder")"
  if [ -f "$folder/done" ] || [ -f ".gpu/done/campaign-$name" ]; then
    mkdir -p "results/$name"
    cp "$folder/results.parquet" "$folder/results.csv" "results/$name/"
  fi
done
if [ -d .gpu/baselines ]; then
  cp -r .gpu/baselines/. bench/baselines/
fi
ls results .gpu/done
