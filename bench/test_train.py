"""Training throughput: ours against stock Lightning and a plain PyTorch loop, side by side.

Every contender trains from scratch (network, optimiser, loader and, for Lightning, trainer built
anew) for `UPDATES` SGD updates, `ROUNDS` times. Its throughput is the best of the rounds' steady
states, each measured inside the run after a warm-up (`comparators.SteadyClock`). The time
pytest-benchmark records is that of the whole run, start-up included.
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

ROUNDS = 5
# One preset per family: Nielsen's convnets and MLPs, UDL's MNIST-1D networks. The nielsen-*
# runs stay within one epoch of the synthetic MNIST (800 updates of 10); udl-cnn's are 25 epochs
# of 40 updates.
UPDATES = {"nielsen-conv2-relu": 800, "nielsen-mlp30-mse": 800, "udl-cnn": 1000}
CONTENDERS: dict[str, Callable[[Workload, int], float]] = {
    OURS: run_ours,
    STOCK: run_stock_lightning,
    PLAIN: run_plain_loop,
}
CASES = [(preset, name) for preset in UPDATES for name in CONTENDERS]


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    return {preset: Workload.load(preset) for preset in UPDATES}


@pytest.mark.parametrize(
    ("preset", "contender"),
    CASES,
    ids=[f"{preset}-{name.replace(' ', '_')}" for preset, name in CASES],
)
def test_training(preset: str, contender: str, workloads, measure) -> None:
    workload, updates = workloads[preset], UPDATES[preset]
    run = CONTENDERS[contender]
    measure(
        lambda: run(workload, updates),
        rounds=ROUNDS,
        in_run_rate=True,
        kind="train",
        network=preset,
        contender=contender,
        samples=updates * workload.batch_size,
        batch=workload.batch_size,
    )
