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
    if name not in DATAMODULES:
        raise UserError(f"unknown data set {name!r}; allowed: {', '.join(DATAMODULES)}")
    return DATAMODULES[name]


def input_shape(name: str) -> tuple[int, ...]:
    return datamodule_class(name).input_shape


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
    seed: int = 0,
    data_dir: Path | None = None,
    steps_per_block: int = 1,
    max_updates: int | None = None,
) -> TensorDataModule:
    return DATAMODULES[config.name](config, seed, data_dir, steps_per_block, max_updates)


__all__ = [
    "DATAMODULES",
    "Split",
    "TensorDataModule",
    "build_datamodule",
    "datamodule_class",
    "fetch_dataset",
    "input_shape",
]
