"""Data sets as LightningDataModules that hold their tensors on the training device."""

from __future__ import annotations

from pathlib import Path

from cnnablate.config import DataConfig
from cnnablate.data.base import Split, TensorDataModule
from cnnablate.data.mnist import FashionMNISTDataModule, MNISTDataModule, MNISTExpandedDataModule
from cnnablate.data.mnist1d import MNIST1DDataModule

DATAMODULES: dict[str, type[TensorDataModule]] = {
    "mnist1d": MNIST1DDataModule,
    "mnist": MNISTDataModule,
    "mnist-expanded": MNISTExpandedDataModule,
    "fashion-mnist": FashionMNISTDataModule,
}


def input_shape(name: str) -> tuple[int, ...]:
    return DATAMODULES[name].input_shape


def build_datamodule(
    config: DataConfig,
    seed: int = 0,
    data_dir: Path | None = None,
    steps_per_block: int = 1,
    max_updates: int | None = None,
) -> TensorDataModule:
    return DATAMODULES[config.name](config, seed, data_dir, steps_per_block, max_updates)


__all__ = ["DATAMODULES", "Split", "TensorDataModule", "build_datamodule", "input_shape"]
