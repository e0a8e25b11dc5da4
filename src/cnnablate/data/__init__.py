"""Data sets as LightningDataModules that hold their tensors on the training device.

The registry: a data set is its module (a `TensorDataModule` with its facts: name, input
shape, training-set size, how its files are prepared) and one line in `DATAMODULES`
(`registry.py`). Importing this package is light: torch and Lightning load with the first data
module class used, so that the command line can name and check data sets without them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnablate.data.registry import DATAMODULES
from cnnablate.errors import UserError

if TYPE_CHECKING:
    from cnnablate.config import DataConfig
    from cnnablate.data.base import Split, TensorDataModule


def __getattr__(name: str) -> Any:
    """`Split` and `TensorDataModule`, imported on first use (they need torch and Lightning)."""
    if name in ("Split", "TensorDataModule"):
        from cnnablate.data import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def datamodule_class(name: str) -> type[TensorDataModule]:
    """The class of a registered data set, or of a `data.module` (its name is its path)."""
    if ":" in name:
        from cnnablate.data.external import ExternalDataModule

        return ExternalDataModule
    if name not in DATAMODULES:
        raise UserError(f"unknown data set {name!r}; allowed: {', '.join(DATAMODULES)}")
    return DATAMODULES[name]


def input_shape(name: str) -> tuple[int, ...]:
    return datamodule_class(name).input_shape


def data_shape(config: DataConfig) -> tuple[tuple[int, ...], int]:
    """Input shape and number of classes (a `data.module`'s read from its data)."""
    if config.module is not None:
        from cnnablate.data.external import describe

        facts = describe(config)
        return facts.input_shape, facts.num_classes
    cls = datamodule_class(config.name)
    return cls.input_shape, cls.num_classes


def batches_per_epoch(config: DataConfig) -> int:
    """Training mini-batches (= SGD updates) per epoch under `config`, without training."""
    if config.module is not None:
        from cnnablate.data.external import describe

        facts = describe(config)
        if not facts.in_memory:
            return facts.batches_per_epoch
    return -(-datamodule_class(config.name).train_size(config) // config.batch_size)


def fetch_dataset(
    name: str, data_dir: Path, local_dir: Path | None = None, log: Callable[[str], None] = print
) -> Path:
    """`cnnablate data fetch NAME`: fetch and verify the data set's files; the folder holding
    them (a generated data set: nothing is done and `data_dir` is returned)."""
    module = datamodule_class(name)
    if module.generated:
        log(f"{name} is generated on the fly: nothing to fetch")
        return Path(data_dir)
    return module.prepare_files(Path(data_dir), local_dir=local_dir, log=log)


def build_datamodule(
    config: DataConfig,
    seed: int | list[int] = 0,
    data_dir: Path | None = None,
    steps_per_block: int = 1,
    max_updates: int | None = None,
) -> TensorDataModule:
    if config.module is not None:
        from cnnablate.data.external import build_external

        return build_external(config, seed, data_dir, steps_per_block, max_updates)
    return DATAMODULES[config.name](config, seed, data_dir, steps_per_block, max_updates)


__all__ = [
    "DATAMODULES",
    "Split",
    "TensorDataModule",
    "batches_per_epoch",
    "build_datamodule",
    "data_shape",
    "datamodule_class",
    "fetch_dataset",
    "input_shape",
]
