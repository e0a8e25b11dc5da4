#!/usr/bin/env bash
# One device call of the GPU campaign (scripts/gpu_campaign.py says what it runs and keeps).
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
    --prepare)  # MNIST, the commit the call will run, and the campaign's state as the last
                # call left it (if .gpu has none). Run it before every call.
      mkdir -p .gpu/mnist && cp "${CNNABLATE_MNIST_SOURCE:-../shared/data/mnist}"/*.gz .gpu/mnist/
      PYTHONPATH=src "${PYTHON:-.venv/bin/python}" -c \
        "from cnnablate.machine import git_commit; print(git_commit())" > .gpu/commit
      if [ ! -d .gpu/done ] && ls results/gpu-campaign/gpu-state.tgz.* >/dev/null 2>&1; then
        cat results/gpu-campaign/gpu-state.tgz.* | tar xzf - -C .gpu
      fi
      ls .gpu .gpu/done; exit 0 ;;
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
