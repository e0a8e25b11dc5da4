"""Training throughput: ours against stock Lightning and a plain PyTorch loop, side by side.

Every contender trains from scratch (network, optimiser, loader and, for Lightning, trainer built
anew) for `UPDATES` SGD updates. One benchmark per preset; each of its `ROUNDS` rounds trains all
three contenders one after another, in an order that rotates from round to round, so that the
drifting speed of a shared virtual machine touches all three alike. A contender's throughput is
the best of its rounds' steady states, each measured inside the run after a warm-up by the
one clock (`cnnablate.perf.clock.SteadyClock`). The time pytest-benchmark records is that of a
whole round (all three runs, start-up included); each contender's fastest run is in the
benchmark's `extra_info`.

On CUDA (`CNNABLATE_BENCH_DEVICE=cuda`) a fourth contender, ours with `train.cuda_graph=false`,
shows what capturing each block of updates as a CUDA graph buys; ours itself must have run on the
graph path (`update_path`, recorded per contender in `extra_info`). The CUDA presets and budgets
are their own (`CUDA_UPDATES`): the CPU's (`CPU_UPDATES`, `CPU_ROUNDS`) stay as the saved CPU
baselines were measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import torch

from bench.comparators import (
    EAGER,
    OURS,
    PLAIN,
    PLAIN_TUNED,
    STOCK,
    STOCK_TUNED,
    Run,
    Workload,
    bench_device,
    run_ours,
    run_ours_eager,
    run_plain_loop,
    run_plain_tuned,
    run_stock_lightning,
    run_stock_tuned,
)

Runner = Callable[[Workload, int, torch.device], Run]

CPU_ROUNDS = 5
# One preset per family: Nielsen's convnets and MLPs, UDL's MNIST-1D networks. The nielsen-*
# runs stay within one epoch of the synthetic MNIST (4,000 updates of 10); the MLP's updates are
# quick, so it makes more of them, for a steady-state window of seconds rather than a fraction of
# one. udl-cnn's are 25 epochs of 40.
CPU_UPDATES = {"nielsen-conv2-relu": 800, "nielsen-mlp30-mse": 4000, "udl-cnn": 1000}
# On a GPU, updates of batch 10 are launch-bound (stock Lightning: about 1 ms each on an H100):
# the convnets, with and without dropout, within one epoch; udl-cnn's 50 epochs of 40.
CUDA_ROUNDS = 3
CUDA_UPDATES = {"nielsen-conv2-relu": 3000, "nielsen-dropout": 3000, "udl-cnn": 2000}

ON_CUDA = bench_device().type == "cuda"
ROUNDS = CUDA_ROUNDS if ON_CUDA else CPU_ROUNDS
UPDATES = CUDA_UPDATES if ON_CUDA else CPU_UPDATES
CONTENDERS: dict[str, Runner] = {
    OURS: run_ours,
    **({EAGER: run_ours_eager} if ON_CUDA else {}),
    STOCK: run_stock_lightning,
    PLAIN: run_plain_loop,
    STOCK_TUNED: run_stock_tuned,
    PLAIN_TUNED: run_plain_tuned,
}


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    return {preset: Workload.load(preset) for preset in UPDATES}


def rotated(names: list[str], by: int) -> list[str]:
    by %= len(names)
    return names[by:] + names[:by]


@pytest.mark.parametrize("preset", list(UPDATES))
def test_training(preset: str, workloads, measure_contenders) -> None:
    workload, updates, device = workloads[preset], UPDATES[preset], bench_device()
    names = list(CONTENDERS)
    rounds = iter(range(ROUNDS))
    runs: dict[str, list[tuple[float, Run]]] = {name: [] for name in names}  # (seconds, run)

    def one_round() -> None:
        for name in rotated(names, next(rounds)):
            start = time.perf_counter()
            run = CONTENDERS[name](workload, updates, device)
            runs[name].append((time.perf_counter() - start, run))

    measure_contenders(
        one_round,
        runs,
        rounds=ROUNDS,
        network=preset,
        samples=updates * workload.batch_size,
        batch=workload.batch_size,
    )
    if ON_CUDA:
        ours = runs[OURS][-1][1]
        assert ours.update_path == "cuda-graph", f"ours ran eagerly: {ours.update_fallback}"
