#!/usr/bin/env bash
# The GPU campaign's state, here. Each device call returns its whole state as gpu-state.tgz.NN
# parts; every call's parts are kept, committed, in results/gpu-campaign/<call>/.
#
# Usage: bash scripts/gpu-unpack.sh DIR   # DIR: a call's returned files; keep them, then restore
#        bash scripts/gpu-unpack.sh       # restore from the kept calls (gpu.sh --prepare does)
#
# Restoring goes through the calls in order. Finished trials leave the carried state for
# results/reference/NAME/trials/ (not committed: their files are in their call's parts), so that the next
# call carries only what it needs (storage, the saved states of unfinished trials) within the
# device's 64 MiB. The last call's remainder becomes .gpu/; its tables (and storage, for the
# report) go to results/reference/NAME/, its bench baselines to bench/baselines/ and its
# packed-layers tables to results/gpu-campaign/packs.md (and .json).
set -euo pipefail
cd "$(dirname "$0")/.."
calls=results/gpu-campaign

# What gpu.sh --prepare set aside for the call comes back first.
if [ -d .gpu-hold/parts ]; then
  for call in .gpu-hold/parts/*/; do
    mkdir -p "$calls/$(basename "$call")" && mv "$call"* "$calls/$(basename "$call")/"
  done
fi
if [ -d .gpu-hold/whl ]; then mv .gpu-hold/whl/*.whl .whl/; fi
if [ -d .gpu-hold/ckpt ]; then cp -a .gpu-hold/ckpt/. ./; fi
rm -rf .gpu-hold

if [ $# -gt 0 ]; then
  from="$1"
  ls "$from"/gpu-state.tgz.* >/dev/null
  call="$calls/$(date -u +%Y%m%dT%H%M%S)"
  mkdir -p "$call"
  cp "$from"/gpu-state.tgz.* "$call/"
  if [ -f "$from/gpu.log" ]; then cp "$from/gpu.log" "$call/gpu.log"; fi
  chmod u+w "$call"/*
  echo "kept in $call"
fi

finished_trials_out() {  # $1: an unpacked state folder
  for trial in "$1"/results/*/trials/*/; do
    [ -d "$trial" ] || continue
    if [ -f "$trial/result.json" ] && [ ! -f "$trial/resume.ckpt" ]; then
      name="$(basename "$(dirname "$(dirname "$trial")")")"
      mkdir -p "results/reference/$name/trials"
      # A trial already here (unpacked before, or committed) stays as it is.
      if [ -e "results/reference/$name/trials/$(basename "$trial")" ]; then
        rm -rf "$trial"
      else
        mv "$trial" "results/reference/$name/trials/"
      fi
    fi
  done
}

last=""
for call in $(ls -d "$calls"/*/ 2>/dev/null | sort); do
  ls "$call"gpu-state.tgz.* >/dev/null 2>&1 || continue
  [ -n "$last" ] && rm -rf "$last"
  last="$(mktemp -d)"
  cat "$call"gpu-state.tgz.* | tar xzf - -C "$last"
  finished_trials_out "$last"
done
[ -n "$last" ] || { echo "gpu-unpack: no call's state in $calls/"; exit 1; }

mkdir -p .gpu
find .gpu -mindepth 1 -maxdepth 1 ! -name mnist -exec rm -rf {} +
cp -a "$last"/. .gpu/
rm -rf "$last"
for folder in .gpu/results/*/; do
  name="$(basename "$folder")"
  mkdir -p "results/reference/$name"
  for file in results.parquet results.csv spec.yaml study.db; do
    if [ -f "$folder/$file" ]; then cp "$folder/$file" "results/reference/$name/"; fi
  done
done
if [ -d .gpu/baselines ]; then cp -r .gpu/baselines/. bench/baselines/; fi
# The last packed-layers microbenchmark (scripts/gpu_bench.py), beside the calls' logs.
if [ -f .gpu/packs/packs.md ]; then cp .gpu/packs/packs.md .gpu/packs/packs.json "$calls/"; fi
echo "carried state: $(du -sh --apparent-size .gpu | cut -f1) in .gpu (mnist included), $(du -sh --apparent-size .whl 2>/dev/null | cut -f1) of wheels; a call carries at most 64 MiB"
ls .gpu/done
