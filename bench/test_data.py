"""The data path alone: one epoch of training mini-batches, with no training.

Ours (`TrainBlocks`: one gather per block of mini-batches from tensors on the device, uint8
pixels turned into floats per block) against `DataLoader(TensorDataset(x, y))` over the float
tensors, which gathers and stacks sample by sample.
"""

from __future__ import annotations

import pytest

from bench.comparators import Workload, load_datamodule

ROUNDS = 20
PRESETS = ["nielsen-conv2-relu", "udl-cnn"]


def exhaust(batches) -> None:
    for _ in batches:
        pass


@pytest.mark.parametrize("preset", PRESETS)
def test_train_blocks(preset: str, measure) -> None:
    datamodule = load_datamodule(Workload.load(preset).config)
    blocks = datamodule.train_dataloader()
    measure(
        lambda: exhaust(blocks),
        rounds=ROUNDS,
        kind="data",
        network=preset,
        contender="TrainBlocks",
        samples=datamodule.num_train,
    )


@pytest.mark.parametrize("preset", PRESETS)
def test_dataloader(preset: str, measure) -> None:
    workload = Workload.load(preset)
    loader = workload.loader()
    measure(
        lambda: exhaust(loader),
        rounds=ROUNDS,
        kind="data",
        network=preset,
        contender="DataLoader",
        samples=len(workload.x),
    )
