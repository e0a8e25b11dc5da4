#!/usr/bin/env bash
# One device call of the GPU campaign (scripts/gpu_campaign.py says what it runs and keeps):
# the packed-layers microbenchmark (scripts/gpu_bench.py, ~2 min), the CUDA equivalence tests,
# then the rest of the chain at full budget from the committed state, within ~9 minutes.
#
# Here, once:  bash scripts/gpu-wheels.sh            # the wheels the device lacks, into .whl/
#              bash scripts/gpu.sh --prepare          # MNIST into .gpu/mnist (carried)
# Each call:   device run, carry [".whl", ".gpu"]:  bash scripts/gpu.sh
# Afterwards:  bash scripts/gpu-unpack.sh DIR         # DIR: the call's returned files
# On the CPU:  bash scripts/gpu.sh --dry [--state DIR]   (tiny budgets; part of the tests)
set -uo pipefail
cd "$(dirname "$0")/.."

dry=0
for arg in "$@"; do
  case "$arg" in
    --dry) dry=1 ;;
    --prepare)  # before every call: MNIST, the commit the call will run, the campaign's state
                # as the last call left it (if .gpu has none), and what travels under 64 MiB
      mkdir -p .gpu/mnist && cp "${CNNABLATE_MNIST_SOURCE:-../shared/data/mnist}"/*.gz .gpu/mnist/
      if [ ! -d .gpu/done ]; then bash scripts/gpu-unpack.sh; fi
      PYTHONPATH=src "${PYTHON:-.venv/bin/python}" -c \
        "from cnnablate.machine import git_commit; print(git_commit())" > .gpu/commit
      # The committed parts of earlier calls hold what .gpu holds: they wait in the ignored
      # .gpu-hold/ until gpu-unpack.sh puts them back, so that they do not travel too.
      for part in results/gpu-campaign/*/gpu-state.tgz.*; do
        [ -f "$part" ] || continue
        call="$(basename "$(dirname "$part")")"
        mkdir -p ".gpu-hold/parts/$call" && mv "$part" ".gpu-hold/parts/$call/"
      done
      # The reference runs' checkpoints (the report's probes and ensemble, about 40 MB) are not
      # needed on the device either: they wait in .gpu-hold/ckpt/ the same way.
      while IFS= read -r -d '' ckpt; do
        [ -f "$ckpt" ] || continue
        mkdir -p ".gpu-hold/ckpt/$(dirname "$ckpt")" && mv "$ckpt" ".gpu-hold/ckpt/$ckpt"
      done < <(git ls-files -z results/reference | grep -z '/best\.ckpt$')
      travels() {  # MiB: tracked and untracked-not-ignored files, .gpu and .whl
        { git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null \
            | tail -1; du -cb .gpu .whl | tail -1; } | awk '{s += $1} END {print int(s / 1048576)}'
      }
      if [ "$(travels)" -gt 63 ] && ls .whl/kornia*.whl >/dev/null 2>&1; then
        # kornia serves augmentation only (lecture-factors): it waits while the chain runs
        mkdir -p .gpu-hold/whl && mv .whl/kornia*.whl .gpu-hold/whl/
        echo "gpu.sh: kornia's wheels stay here this call (.gpu-hold/whl), to fit 64 MiB"
      fi
      echo "gpu.sh: the call will send $(travels) MiB (at most 64)"
      [ "$(travels)" -le 63 ] || echo "gpu.sh: too much travels: look at what in .gpu a call does not need"
      exit 0 ;;
  esac
done

if [ "$dry" = 1 ]; then
  python="${PYTHON:-.venv/bin/python}"
else
  python=python3
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "gpu.sh: installing the carried wheels failed"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
  export CNNABLATE_MNIST_SOURCE="$PWD/.gpu/mnist" CNNABLATE_NO_NPM=1
  # The device's checkout has another commit under this tree: record the one prepared here.
  [ -f .gpu/commit ] && export CNNABLATE_COMMIT="$(cat .gpu/commit)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
fi
out="${OUT:-.gpu/out}"
mkdir -p "$out"
"$python" scripts/gpu_campaign.py "$@" 2>&1 | tee "$out/gpu.log"
exit "${PIPESTATUS[0]}"
