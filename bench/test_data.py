"""The data path alone: epochs of training mini-batches, with no training.

Ours (`TrainBlocks`: one gather per block of mini-batches from tensors on the device, uint8
pixels turned into floats per block) against `DataLoader(TensorDataset(x, y))` over the float
tensors, which gathers and stacks sample by sample. One call runs whole epochs, at least
`SAMPLES_PER_CALL` samples, so that even the fastest call lasts long enough to time well.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from bench.comparators import Workload, load_datamodule

ROUNDS = 10
SAMPLES_PER_CALL = 50_000
PRESETS = ["nielsen-conv2-relu", "udl-cnn"]


def epochs(batches: Iterable, count: int) -> None:
    for _ in range(count):
        for _ in batches:
            pass


def measure_epochs(measure, batches: Iterable, num_train: int, preset: str, name: str) -> None:
    count = -(-SAMPLES_PER_CALL // num_train)
    measure(
        lambda: epochs(batches, count),
        rounds=ROUNDS,
        kind="data",
        network=preset,
        contender=name,
        samples=count * num_train,
    )


@pytest.mark.parametrize("preset", PRESETS)
def test_train_blocks(preset: str, measure) -> None:
    datamodule = load_datamodule(Workload.load(preset).config)
    blocks = datamodule.train_dataloader()
    measure_epochs(measure, blocks, datamodule.num_train, preset, "TrainBlocks")


@pytest.mark.parametrize("preset", PRESETS)
def test_dataloader(preset: str, measure) -> None:
    workload = Workload.load(preset)
    measure_epochs(measure, workload.loader(), len(workload.x), preset, "DataLoader")
