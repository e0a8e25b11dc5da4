"""The three contenders of the training benchmarks, and the data they all train on.

- ours: the real `cnnablate.train.train` (Trainer + Classifier + TensorDataModule: tensors on the
  device, blocks of mini-batches, manual optimisation), with `progress=False`;
- stock Lightning: a LightningModule with automatic optimisation over
  `DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True)`, the usual way;
- plain loop: zero_grad / forward / cost / backward / step over the same kind of DataLoader.

All three build the network with `build_network` from the preset's config, minimise the preset's
cost (its loss, plus its L2 term when it has one, as `Classifier.objective` does) with SGD at the
preset's learning rate and batch size, on the same training tensors. The nielsen-* presets train
on synthetic MNIST-shaped data (uint8 pixels, 28×28, turned into floats in [0, 1]): speed does not
depend on the pixel values, and the benchmarks must not need the MNIST files.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from cnnablate.config import ExperimentConfig
from cnnablate.data import DATAMODULES, Split, TensorDataModule, build_datamodule
from cnnablate.data.batches import to_float
from cnnablate.losses import get_loss
from cnnablate.models import build_network, weight_parameters
from cnnablate.module import l2_coefficient
from cnnablate.presets import get_preset
from cnnablate.train import train

SYNTHETIC_TRAIN = 6_000
SYNTHETIC_EVAL = 1_000
SEED = 0
OURS, STOCK, PLAIN = "ours", "stock Lightning", "plain loop"

Cost = Callable[[nn.Module, Tensor, Tensor], Tensor]


def synthetic_mnist(n: int, seed: int) -> Split:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=generator, dtype=torch.uint8)
    return Split(x, torch.randint(0, 10, (n,), generator=generator))


class SyntheticMNISTDataModule(TensorDataModule):
    """MNIST's shapes and dtype (uint8 images of 28×28, ten classes), random pixels and labels."""

    input_shape = (1, 28, 28)

    def load_splits(self) -> dict[str, Split]:
        sizes = {"train": SYNTHETIC_TRAIN, "val": SYNTHETIC_EVAL, "test": SYNTHETIC_EVAL}
        return {name: synthetic_mnist(n, seed) for seed, (name, n) in enumerate(sizes.items())}


def synthetic_mnist_registered():
    """While active, the MNIST data sets of the registry are the synthetic one."""
    synthetic = {"mnist": SyntheticMNISTDataModule, "mnist-expanded": SyntheticMNISTDataModule}
    return patch.dict(DATAMODULES, synthetic)


def load_datamodule(config: ExperimentConfig) -> TensorDataModule:
    with synthetic_mnist_registered():
        datamodule = build_datamodule(config.data, SEED, None, config.train.steps_per_block)
    datamodule.prepare()
    return datamodule


@dataclass(frozen=True)
class Workload:
    """A preset, and its training split as floats: what a `TensorDataset` would hold."""

    preset: str
    config: ExperimentConfig
    x: Tensor
    y: Tensor

    @classmethod
    def load(cls, preset: str) -> Workload:
        config = get_preset(preset).config
        if config.optim.name != "sgd":
            raise ValueError(f"{preset}: the comparators implement SGD only")
        split = load_datamodule(config).splits["train"]
        return cls(preset, config, to_float(split.x), split.y)

    @property
    def batch_size(self) -> int:
        return self.config.data.batch_size

    def loader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=self.batch_size, shuffle=True)

    def network(self) -> nn.Module:
        return build_network(self.config.model, tuple(self.x.shape[1:]))

    def optimizer(self, net: nn.Module) -> torch.optim.SGD:
        optim = self.config.optim
        return torch.optim.SGD(
            net.parameters(), lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
        )

    def cost(self) -> Cost:
        loss_fn = get_loss(self.config.loss)
        l2 = l2_coefficient(self.config, len(self.x))

        def cost(net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
            loss = loss_fn(net(x), y)
            if not l2:
                return loss
            return loss + 0.5 * l2 * sum(w.square().sum() for w in weight_parameters(net))

        return cost


def run_ours(workload: Workload, updates: int, out_dir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch, synthetic_mnist_registered():
        return train(
            workload.config,
            seed=SEED,
            out_dir=out_dir or Path(scratch),
            accelerator="cpu",
            preset=workload.preset,
            progress=False,
            step_cap=updates,
        )


class StockClassifier(pl.LightningModule):
    """The usual LightningModule: automatic optimisation, one Lightning step per mini-batch."""

    def __init__(self, workload: Workload) -> None:
        super().__init__()
        self.workload = workload
        self.net = workload.network()
        self.cost = workload.cost()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_index: int) -> Tensor:
        x, y = batch
        return self.cost(self.net, x, y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.workload.optimizer(self.net)


def run_stock_lightning(workload: Workload, updates: int) -> None:
    torch.manual_seed(SEED)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=updates,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(StockClassifier(workload), train_dataloaders=workload.loader())


def endless(loader: DataLoader) -> Iterator[tuple[Tensor, Tensor]]:
    """Epoch after epoch of `loader` (reshuffled each time)."""
    return itertools.chain.from_iterable(itertools.repeat(loader))


def run_plain_loop(workload: Workload, updates: int) -> None:
    torch.manual_seed(SEED)
    net = workload.network()
    optimizer = workload.optimizer(net)
    cost = workload.cost()
    net.train()
    for x, y in itertools.islice(endless(workload.loader()), updates):
        optimizer.zero_grad()
        cost(net, x, y).backward()
        optimizer.step()
