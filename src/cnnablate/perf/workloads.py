"""The training workloads of the speed checks, and the contenders that train them.

`cnnablate bench` trains ours (`run_ours`) in its worker processes; the pytest-benchmark suite of
a checkout (`bench/`) runs every contender side by side:

- ours: the real `cnnablate.train.train` (Trainer + Classifier + TensorDataModule: tensors on the
  device, blocks of mini-batches, manual optimisation), with `progress="off"`;
- stock Lightning: a LightningModule with automatic optimisation over
  `DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True)`, the usual way;
- plain loop: zero_grad / forward / cost / backward / step over the same kind of DataLoader;
- the last two again as a careful user tunes them with the CPU measures ours takes.

All build the network with `build_network` from the preset's config, minimise the preset's cost
(its loss, plus Nielsen's L2 term `Classifier.l2_penalty` when it has one) with SGD at the
preset's learning rate and batch size, on the same training tensors. The presets on MNIST train
on a synthetic MNIST-shaped set instead (`synthetic_config`): speed does not depend on the pixel
values, and the checks must not need the MNIST files.

Each runner returns its steady-state throughput, measured alike for all by the one clock
(`cnnablate.perf.clock.SteadyClock`): samples per second after the first `WARMUP_UPDATES`.
On CUDA ours keeps its training set on the GPU (its `TensorDataModule` moves it there); stock
Lightning and the plain loop read the same CPU-side `DataLoader` and move each batch, as a
user's code would.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from cnnablate.config import ExperimentConfig, apply_overrides
from cnnablate.data import DATAMODULES, Split, TensorDataModule, build_datamodule
from cnnablate.data.batches import to_float
from cnnablate.losses import get_loss
from cnnablate.models import build_network, weight_parameters
from cnnablate.module import l2_coefficient
from cnnablate.perf.clock import SteadyClock
from cnnablate.presets import get_preset
from cnnablate.train import TrainOptions, train

SYNTHETIC = "synthetic-mnist"
SYNTHETIC_TRAIN = 40_000
SYNTHETIC_EVAL = 1_000
MNIST_SETS = ("mnist", "mnist-expanded")  # what the synthetic set stands in for
SEED = 0
OURS, STOCK, PLAIN = "ours", "stock Lightning", "plain loop"
# The same two as a careful user tunes them with the CPU measures ours takes.
STOCK_TUNED, PLAIN_TUNED = "stock Lightning, tuned", "plain loop, tuned"
EAGER = "ours (eager)"  # CUDA only: ours with train.cuda_graph=false
WARMUP_UPDATES = 150  # ours: its first 3 blocks
ACCELERATORS = {"cpu": "cpu", "cuda": "gpu"}  # Lightning's name of each device

Cost = Callable[[nn.Module, Tensor, Tensor], Tensor]


def synthetic_mnist(n: int, seed: int) -> Split:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=generator, dtype=torch.uint8)
    return Split(x, torch.randint(0, 10, (n,), generator=generator))


class SyntheticMNISTDataModule(TensorDataModule):
    """MNIST's shapes and dtype (uint8 images of 28×28, ten classes), random pixels and labels:
    `data.num_samples` training images, `SYNTHETIC_EVAL` each to validate and test."""

    name = SYNTHETIC
    input_shape = (1, 28, 28)
    generated = True

    @classmethod
    def train_size(cls, config) -> int:
        return config.num_samples

    def load_splits(self) -> dict[str, Split]:
        sizes = {"train": self.config.num_samples, "val": SYNTHETIC_EVAL, "test": SYNTHETIC_EVAL}
        return {name: synthetic_mnist(n, seed) for seed, (name, n) in enumerate(sizes.items())}


def register_synthetic_mnist() -> None:
    """The synthetic set joins the data-set registry under its own name, as any new data set
    does; the real MNIST entries stay as they are."""
    DATAMODULES.setdefault(SYNTHETIC, SyntheticMNISTDataModule)


def synthetic_config(
    config: ExperimentConfig, train_images: int = SYNTHETIC_TRAIN
) -> ExperimentConfig:
    """`config` on the synthetic set of `train_images` if it trains on MNIST, else as it is."""
    if config.data.name not in MNIST_SETS:
        return config
    register_synthetic_mnist()
    return apply_overrides(config, [f"data.name={SYNTHETIC}", f"data.num_samples={train_images}"])


def load_datamodule(config: ExperimentConfig) -> TensorDataModule:
    config = synthetic_config(config)
    datamodule = build_datamodule(config.data, SEED, None, config.train.steps_per_block)
    datamodule.prepare()
    return datamodule


@dataclass(frozen=True)
class Workload:
    """A preset (on the synthetic set in place of MNIST), and its training split as floats:
    what a `TensorDataset` would hold."""

    preset: str
    config: ExperimentConfig
    x: Tensor
    y: Tensor

    @classmethod
    def load(cls, preset: str, train_images: int = SYNTHETIC_TRAIN) -> Workload:
        config = synthetic_config(get_preset(preset).config, train_images)
        if config.optim.name != "sgd":
            raise ValueError(f"{preset}: the contenders implement SGD only")
        split = load_datamodule(config).splits["train"]
        return cls(preset, config, to_float(split.x), split.y)

    @property
    def batch_size(self) -> int:
        return self.config.data.batch_size

    def loader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=self.batch_size, shuffle=True)

    def network(self, tuned: bool = False, device: torch.device | None = None) -> nn.Module:
        """Tuned, on the CPU: 2-D conv weights (and so the activations) in channels_last."""
        net = build_network(self.config.model, tuple(self.x.shape[1:]))
        convolutional = any(isinstance(m, nn.Conv2d) for m in net.modules())
        if tuned and convolutional and (device is None or device.type == "cpu"):
            net = net.to(memory_format=torch.channels_last)
        return net

    def optimizer(self, net: nn.Module, tuned: bool = False) -> torch.optim.SGD:
        """Tuned: Nielsen's L2 as the optimiser's weight decay on the weights (the same gradient
        as the penalty in the cost, without computing the penalty)."""
        optim = self.config.optim
        l2 = l2_coefficient(self.config, len(self.x)) if tuned else 0.0
        weights = {id(w) for w in weight_parameters(net)} if l2 else set()
        groups = [
            {"params": [p for p in net.parameters() if id(p) in weights], "weight_decay": l2},
            {"params": [p for p in net.parameters() if id(p) not in weights]},
        ]
        return torch.optim.SGD(
            [g for g in groups if g["params"]],
            lr=optim.lr,
            momentum=optim.momentum,
            weight_decay=optim.weight_decay,
        )

    def cost(self, tuned: bool = False) -> Cost:
        loss_fn = get_loss(self.config.loss)
        l2 = 0.0 if tuned else l2_coefficient(self.config, len(self.x))

        def cost(net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
            loss = loss_fn(net(x), y)
            if not l2:
                return loss
            return loss + 0.5 * l2 * sum(w.square().sum() for w in weight_parameters(net))

        return cost


@dataclass(frozen=True)
class Run:
    """What a contender's run reports."""

    samples_per_s: float  # steady state (`SteadyClock`)
    update_path: str | None = None  # ours: "cuda-graph" or "eager" (its result.json)
    update_fallback: str | None = None  # ours: why its updates ran eagerly, if they did


def clock_for(workload: Workload, updates: int, device: torch.device) -> SteadyClock:
    batch = workload.batch_size
    return SteadyClock(WARMUP_UPDATES * batch, updates * batch, device)


def run_ours(
    workload: Workload,
    updates: int,
    device: torch.device,
    cuda_graph: bool = True,
    clock: SteadyClock | None = None,
) -> Run:
    """`cuda_graph=False`: the "ours (eager)" contender, each update's kernels launched anew.
    `clock`: another than `clock_for`'s (the A/B worker's, which takes turns)."""
    clock = clock or clock_for(workload, updates, device)
    config = workload.config
    if not cuda_graph:
        config = apply_overrides(config, ["train.cuda_graph=false"])
    register_synthetic_mnist()  # where the workload was made elsewhere
    with tempfile.TemporaryDirectory() as scratch:
        options = TrainOptions(
            accelerator=ACCELERATORS[device.type],
            preset=workload.preset,
            progress="off",
            step_cap=updates,
            callbacks=[clock],
        )
        result = train(config, seed=SEED, out_dir=Path(scratch), options=options)
    return Run(clock.steady_samples_per_s(), result["update_path"], result["update_fallback"])


def run_ours_eager(workload: Workload, updates: int, device: torch.device) -> Run:
    return run_ours(workload, updates, device, cuda_graph=False)


class StockClassifier(pl.LightningModule):
    """The usual LightningModule: automatic optimisation, one Lightning step per mini-batch."""

    def __init__(self, workload: Workload, tuned: bool = False, device: torch.device | None = None):
        super().__init__()
        self.workload, self.tuned = workload, tuned
        self.net = workload.network(tuned, device)
        self.cost = workload.cost(tuned)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_index: int) -> Tensor:
        x, y = batch
        return self.cost(self.net, x, y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.workload.optimizer(self.net, self.tuned)


def run_stock_lightning(
    workload: Workload, updates: int, device: torch.device, tuned: bool = False
) -> Run:
    torch.manual_seed(SEED)
    clock = clock_for(workload, updates, device)
    trainer = pl.Trainer(
        accelerator=ACCELERATORS[device.type],
        devices=1,
        max_steps=updates,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    module = StockClassifier(workload, tuned, device)
    trainer.fit(module, train_dataloaders=workload.loader())
    return Run(clock.steady_samples_per_s())


def run_stock_tuned(workload: Workload, updates: int, device: torch.device) -> Run:
    return run_stock_lightning(workload, updates, device, tuned=True)


def endless(loader: DataLoader) -> Iterator[tuple[Tensor, Tensor]]:
    """Epoch after epoch of `loader` (reshuffled each time)."""
    return itertools.chain.from_iterable(itertools.repeat(loader))


def run_plain_loop(
    workload: Workload, updates: int, device: torch.device, tuned: bool = False
) -> Run:
    torch.manual_seed(SEED)
    clock = clock_for(workload, updates, device)
    net = workload.network(tuned, device).to(device)
    optimizer = workload.optimizer(net, tuned)
    cost = workload.cost(tuned)
    net.train()
    clock.resume()
    for x, y in itertools.islice(endless(workload.loader()), updates):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        cost(net, x, y).backward()
        optimizer.step()
        clock.tick(len(y))
    return Run(clock.steady_samples_per_s())


def run_plain_tuned(workload: Workload, updates: int, device: torch.device) -> Run:
    return run_plain_loop(workload, updates, device, tuned=True)
