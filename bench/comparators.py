"""The suite's device, and the contenders it times, which live in the package
(`cnnablate.perf.workloads`, with the one clock `cnnablate.perf.clock.SteadyClock`), so that
`cnnablate bench` runs the same workloads from an installed wheel.

The device is `CNNABLATE_BENCH_DEVICE` (`cpu`, the default, or `cuda`; `bench_device`).
"""

from __future__ import annotations

import functools
import os

import pytest
import torch

from cnnablate.perf.clock import SteadyClock, synchronize
from cnnablate.perf.workloads import (
    EAGER,
    OURS,
    PLAIN,
    PLAIN_TUNED,
    STOCK,
    STOCK_TUNED,
    WARMUP_UPDATES,
    Run,
    Workload,
    load_datamodule,
    run_ours,
    run_ours_eager,
    run_plain_loop,
    run_plain_tuned,
    run_stock_lightning,
    run_stock_tuned,
    synthetic_mnist,
)

DEVICE_VARIABLE = "CNNABLATE_BENCH_DEVICE"
DEVICES = ("cpu", "cuda")

__all__ = [
    "EAGER",
    "OURS",
    "PLAIN",
    "PLAIN_TUNED",
    "STOCK",
    "STOCK_TUNED",
    "WARMUP_UPDATES",
    "Run",
    "SteadyClock",
    "Workload",
    "bench_device",
    "load_datamodule",
    "run_ours",
    "run_ours_eager",
    "run_plain_loop",
    "run_plain_tuned",
    "run_stock_lightning",
    "run_stock_tuned",
    "synchronize",
    "synthetic_mnist",
]


@functools.cache
def bench_device() -> torch.device:
    """The device every benchmark runs on: `$CNNABLATE_BENCH_DEVICE`, `cpu` by default."""
    name = os.environ.get(DEVICE_VARIABLE, "cpu").strip().lower() or "cpu"
    if name not in DEVICES:
        raise pytest.UsageError(f"{DEVICE_VARIABLE}={name!r}: expected 'cpu' or 'cuda'")
    if name == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError(
            f"{DEVICE_VARIABLE}=cuda, but torch {torch.__version__} sees no CUDA GPU here "
            f"(run on a GPU machine, or unset {DEVICE_VARIABLE} for the CPU benchmarks)"
        )
    return torch.device(name)
