"""Training throughput: ours against stock Lightning and a plain PyTorch loop, side by side.

Every contender trains from scratch (network, optimiser, loader and, for Lightning, trainer built
anew) for `UPDATES` SGD updates. One benchmark per preset; each of its `ROUNDS` rounds trains all
three contenders one after another, in an order that rotates from round to round, so that the
drifting speed of a shared virtual machine touches all three alike. A contender's throughput is
the best of its rounds' steady states, each measured inside the run after a warm-up
(`comparators.SteadyClock`). The time pytest-benchmark records is that of a whole round (all
three runs, start-up included); each contender's fastest run is in the benchmark's `extra_info`.
"""

from __future__ import annotations

import time
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

ROUNDS = 5
# One preset per family: Nielsen's convnets and MLPs, UDL's MNIST-1D networks. The nielsen-*
# runs stay within one epoch of the synthetic MNIST (4,000 updates of 10); the MLP's updates are
# quick, so it makes more of them, for a steady-state window of seconds rather than a fraction of
# one. udl-cnn's are 25 epochs of 40.
UPDATES = {"nielsen-conv2-relu": 800, "nielsen-mlp30-mse": 4000, "udl-cnn": 1000}
CONTENDERS: dict[str, Callable[[Workload, int], float]] = {
    OURS: run_ours,
    STOCK: run_stock_lightning,
    PLAIN: run_plain_loop,
}


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    return {preset: Workload.load(preset) for preset in UPDATES}


def rotated(names: list[str], by: int) -> list[str]:
    by %= len(names)
    return names[by:] + names[:by]


@pytest.mark.parametrize("preset", list(UPDATES))
def test_training(preset: str, workloads, measure_contenders) -> None:
    workload, updates = workloads[preset], UPDATES[preset]
    names = list(CONTENDERS)
    rounds = iter(range(ROUNDS))
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}  # (seconds, rate)

    def one_round() -> None:
        for name in rotated(names, next(rounds)):
            start = time.perf_counter()
            rate = CONTENDERS[name](workload, updates)
            runs[name].append((time.perf_counter() - start, rate))

    measure_contenders(
        one_round,
        runs,
        rounds=ROUNDS,
        network=preset,
        samples=updates * workload.batch_size,
        batch=workload.batch_size,
    )
