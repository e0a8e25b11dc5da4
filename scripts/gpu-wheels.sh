#!/usr/bin/env bash
# Download the wheels that the GPU machine lacks into .whl/ (git-ignored), for Python 3.12 on
# x86-64 Linux. scripts/gpu.sh installs them there with pip --no-index. The versions are this
# project's test environment's (the device's image already has torch, pytorch-lightning,
# pandas, pyarrow, seaborn, scipy, pytest, pytest-benchmark, tqdm, psutil, pyyaml, filelock).
# Usage: bash scripts/gpu-wheels.sh [DIR]   (default .whl)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.whl}"
mkdir -p "$dest"
wheels=(
  optuna==5.0.0 alembic==1.20.1 sqlalchemy==2.1.9 mako==1.4.3
  colorlog==6.12.0 mnist1d==0.0.2.post1 kornia==0.9.0 kornia-rs==0.2.0 pydantic==2.14.4
  pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  typing-extensions==4.16.0 platformdirs==4.14.8 greenlet
)
platforms=()
for tag in manylinux_2_39 manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 \
  manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
for wheel in "${wheels[@]}"; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" --platform any -d "$dest" "$wheel"
done
ls "$dest"
