"""The data path alone: epochs of training mini-batches, with no training.

Ours (`TrainBlocks`: one gather per block of mini-batches from tensors on the device, uint8
pixels turned into floats per block) against `DataLoader(TensorDataset(x, y))` over the float
tensors, which gathers and stacks sample by sample. One call runs whole epochs, at least
`SAMPLES_PER_CALL` samples, so that even the fastest call lasts long enough to time well.

On CUDA, `TrainBlocks` gathers from tensors on the GPU and the DataLoader's batches are moved
there one by one (as stock Lightning and the plain loop do); a call ends when the GPU is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest
import torch
from torch import Tensor

from bench.comparators import Workload, bench_device, load_datamodule, synchronize

ROUNDS = 10 if bench_device().type == "cpu" else 3
SAMPLES_PER_CALL = 50_000
PRESETS = ["nielsen-conv2-relu", "udl-cnn"]


class OnDevice:
    """Each batch of `batches` moved to `device`, as Lightning moves a DataLoader's."""

    def __init__(self, batches: Iterable[tuple[Tensor, Tensor]], device: torch.device) -> None:
        self.batches, self.device = batches, device

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for x, y in self.batches:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def epochs(batches: Iterable, count: int) -> None:
    for _ in range(count):
        for _ in batches:
            pass
    synchronize(bench_device())


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
    datamodule.splits = {
        name: split.to(bench_device()) for name, split in datamodule.splits.items()
    }
    blocks = datamodule.train_dataloader()
    measure_epochs(measure, blocks, datamodule.num_train, preset, "TrainBlocks")


@pytest.mark.parametrize("preset", PRESETS)
def test_dataloader(preset: str, measure) -> None:
    workload = Workload.load(preset)
    device = bench_device()
    batches = workload.loader() if device.type == "cpu" else OnDevice(workload.loader(), device)
    measure_epochs(measure, batches, len(workload.x), preset, "DataLoader")
