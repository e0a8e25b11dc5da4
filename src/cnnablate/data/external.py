"""Your own data: any LightningDataModule by import path (`data.module`, `data.kwargs`).

The module is made as `Class(**kwargs)`, prepared (`prepare_data`, `setup("fit")`,
`setup("test")`) and asked for its train, val (if it has one) and test dataloaders of `(x, y)`
batches. The input shape is read from a batch; the number of classes is the module's
`num_classes` attribute, else the largest training label + 1.

In memory (`data.in_memory: true`, or `auto` when the splits fit in a quarter of the free
memory), each split is read once into tensors and served as every data set of the suite is: on
the device, in blocks of `data.batch_size`, each seed its own order, seeds packed. Otherwise the
module's own loaders feed the training, one update per batch, one seed at a time
(`StreamingDataModule`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import psutil
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from cnnablate.config import DataConfig
from cnnablate.data.base import Split, TensorDataModule
from cnnablate.errors import UserError
from cnnablate.imports import import_object, one_line

KEY = "data.module"
READ_BATCH = 1024


@dataclass(frozen=True)
class DataFacts:
    input_shape: tuple[int, ...]
    num_classes: int
    train_size: int
    batches_per_epoch: int  # of the module's own train loader (the streaming path)
    in_memory: bool


def user_module(config: DataConfig) -> pl.LightningDataModule:
    """The user's data module, made and set up; every failure one line naming `data.module`."""
    where = f"{KEY} {config.module!r}"
    cls = import_object(config.module, KEY)
    try:
        module = cls(**config.kwargs)
    except Exception as error:
        raise UserError(f"{where} raised {one_line(error)}") from None
    if not isinstance(module, pl.LightningDataModule):
        raise UserError(f"{where}: made {type(module).__name__!r}, not a LightningDataModule")
    try:
        module.prepare_data()
        module.setup("fit")
        module.setup("test")
    except Exception as error:
        raise UserError(f"{where}: preparing it raised {one_line(error)}") from None
    return module


def user_loaders(module: pl.LightningDataModule, where: str) -> dict[str, Iterable]:
    """Its train, val (when it defines one) and test loaders."""
    loaders = {}
    for split in ("train", "val", "test"):
        hook = f"{split}_dataloader"
        if getattr(type(module), hook) is getattr(pl.LightningDataModule, hook):
            if split == "val":
                continue
            raise UserError(f"{where}: defines no {hook}; train and test loaders are needed")
        try:
            loader = getattr(module, hook)()
        except Exception as error:
            raise UserError(f"{where}: {hook} raised {one_line(error)}") from None
        if isinstance(loader, list | tuple):
            if not loader:
                continue
            loader = loader[0]
        loaders[split] = loader
    return loaders


def first_batch(loader: Iterable, where: str, split: str) -> tuple[Tensor, Tensor]:
    try:
        batch = next(iter(loader))
    except StopIteration:
        raise UserError(f"{where}: its {split} loader yields no batch") from None
    if not (isinstance(batch, list | tuple) and len(batch) == 2):
        raise UserError(f"{where}: its {split} loader must yield (x, y) batches")
    x, y = batch
    if not (isinstance(x, Tensor) and isinstance(y, Tensor) and y.dim() == 1 and len(x) == len(y)):
        raise UserError(f"{where}: its {split} batches must be tensors x (B, ...), y (B,)")
    if y.dtype.is_floating_point:
        raise UserError(f"{where}: its {split} labels must be integer class indices")
    return x, y


def in_order(loader: Iterable) -> Iterable:
    """The loader's samples in its dataset's order when it has a sized dataset, else itself."""
    dataset = getattr(loader, "dataset", None)
    if dataset is None or not hasattr(dataset, "__len__"):
        return loader
    return DataLoader(dataset, READ_BATCH, collate_fn=getattr(loader, "collate_fn", None))


def read_split(loader: Iterable) -> Split:
    """All of a loader's samples, in its dataset's order when it has one (so that a shuffling
    or augmenting train loader does not fix one draw of either)."""
    xs, ys = zip(*in_order(loader), strict=True)
    return Split(torch.cat(xs), torch.cat(ys).long())


def estimated_bytes(loaders: dict[str, Iterable], sample: Tensor) -> float:
    """The splits' size in memory from their lengths and one sample (inf: unknown length)."""
    total = 0.0
    for loader in loaders.values():
        dataset = getattr(loader, "dataset", None)
        if dataset is None or not hasattr(dataset, "__len__"):
            return math.inf
        total += len(dataset) * (sample[0].nbytes + 8)
    return total


def fits_in_memory(config: DataConfig, loaders: dict[str, Iterable], sample: Tensor) -> bool:
    if config.in_memory != "auto":
        return config.in_memory
    return estimated_bytes(loaders, sample) <= psutil.virtual_memory().available / 4


@lru_cache(maxsize=2)
def _read(config_json: str) -> tuple[DataFacts, dict[str, Split] | None]:
    config = DataConfig.model_validate(json.loads(config_json))
    where = f"{KEY} {config.module!r}"
    module = user_module(config)
    loaders = user_loaders(module, where)
    x, y = first_batch(loaders["train"], where, "train")
    in_memory = fits_in_memory(config, loaders, x)
    splits = {name: read_split(loader) for name, loader in loaders.items()} if in_memory else None
    labels = splits["train"].y if splits else torch.cat([b[1] for b in loaders["train"]])
    num_classes = getattr(module, "num_classes", None) or int(labels.max()) + 1
    train = loaders["train"]
    size = len(splits["train"]) if splits else len(getattr(train, "dataset", labels))
    batches = len(train) if hasattr(train, "__len__") else math.ceil(size / len(y))
    facts = DataFacts(tuple(x.shape[1:]), int(num_classes), size, batches, in_memory)
    return facts, splits


def describe(config: DataConfig) -> DataFacts:
    """Input shape, classes, sizes and path of the user's data (read once per process)."""
    return _read(config.model_dump_json())[0]


class ExternalDataModule(TensorDataModule):
    """The user's data read into tensors: the block path, as for every data set here."""

    generated = True  # nothing for the suite to fetch: the module prepares its own data

    @classmethod
    def train_size(cls, config: DataConfig) -> int:
        return describe(config).train_size

    def __init__(self, config: DataConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        facts = describe(config)
        self.name = config.module
        self.input_shape = facts.input_shape
        self.num_classes = facts.num_classes

    def load_splits(self) -> dict[str, Split]:
        return dict(_read(self.config.model_dump_json())[1])


class StreamingDataModule(pl.LightningDataModule):
    """The user's own loaders, for data that stay where they are: one update per batch."""

    streams = True

    def __init__(self, config: DataConfig, max_updates: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.max_updates = max_updates
        self.facts = describe(config)
        self.input_shape = self.facts.input_shape
        self.num_classes = self.facts.num_classes
        self.loaders: dict[str, Iterable] = {}

    def prepare(self) -> None:
        if not self.loaders:
            where = f"{KEY} {self.config.module!r}"
            self.loaders = user_loaders(user_module(self.config), where)

    @property
    def has_val(self) -> bool:
        self.prepare()
        return "val" in self.loaders

    @property
    def num_train(self) -> int:
        return self.facts.train_size

    @property
    def batches_per_epoch(self) -> int:
        return self.facts.batches_per_epoch

    def eval_split_names(self) -> list[str]:
        self.prepare()
        return [name for name in ("val", "test") if name in self.loaders]

    def eval_batches(self, split: str) -> Iterable:
        self.prepare()
        return self.loaders[split]

    def train_eval_batches(self) -> Iterable:
        """The training samples in their dataset's order (no shuffling) when it has one."""
        return in_order(self.eval_batches("train"))

    def sample_batch(self) -> tuple[Tensor, Tensor]:
        return first_batch(self.eval_batches("train"), KEY, "train")

    def train_dataloader(self) -> Iterable:
        return self.eval_batches("train")

    def val_dataloader(self) -> list[Iterable]:
        return [self.eval_batches(name) for name in self.eval_split_names()]

    def test_dataloader(self) -> Iterable:
        return self.eval_batches("test")


def build_external(
    config: DataConfig,
    seed: int | list[int] = 0,
    data_dir: Path | None = None,
    steps_per_block: int = 1,
    max_updates: int | None = None,
) -> ExternalDataModule | StreamingDataModule:
    if describe(config).in_memory:
        return ExternalDataModule(config, seed, data_dir, steps_per_block, max_updates)
    return StreamingDataModule(config, max_updates)
