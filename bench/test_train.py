"""Training throughput: ours against stock Lightning and a plain PyTorch loop, side by side.

Every contender trains from scratch (network, optimiser, loader and, for Lightning, trainer built
anew) for N1 and for N2 SGD updates; the steady-state throughput is (N2 − N1)·B / (t2 − t1),
with t the fastest of `ROUNDS` runs, so start-up cost cancels out identically for all three.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.comparators import (
    OURS,
    PLAIN,
    STOCK,
    Workload,
    run_ours,
    run_plain_loop,
    run_stock_lightning,
)

ROUNDS = 3
# preset: (N1, N2), one preset per family: Nielsen's convnets and MLPs, UDL's MNIST-1D networks.
# Runs of the nielsen-* presets stay within one epoch of the synthetic MNIST (600 updates of
# 10), so each run of ours validates once, at its end; udl-cnn's runs (5 and 25 epochs of 40
# updates) evaluate the test split once each, at their end too.
UPDATES = {
    "nielsen-conv2-relu": (100, 600),
    "nielsen-mlp30-mse": (100, 600),
    "udl-cnn": (200, 1000),
}
CONTENDERS: dict[str, Callable[[Workload, int], object]] = {
    OURS: run_ours,
    STOCK: run_stock_lightning,
    PLAIN: run_plain_loop,
}
CASES = [(preset, n, name) for preset, ns in UPDATES.items() for n in ns for name in CONTENDERS]


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    return {preset: Workload.load(preset) for preset in UPDATES}


@pytest.mark.parametrize(
    ("preset", "updates", "contender"),
    CASES,
    ids=[f"{preset}-{n}-{name.replace(' ', '_')}" for preset, n, name in CASES],
)
def test_training(preset: str, updates: int, contender: str, workloads, measure) -> None:
    workload = workloads[preset]
    run = CONTENDERS[contender]
    measure(
        lambda: run(workload, updates),
        rounds=ROUNDS,
        kind="train",
        network=preset,
        contender=contender,
        samples=updates * workload.batch_size,
        batch=workload.batch_size,
    )
