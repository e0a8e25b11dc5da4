"""MNIST (Nielsen's split), Nielsen's expanded MNIST, and Fashion-MNIST, as uint8 image tensors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from cnnablate.data.augment import shift_images
from cnnablate.data.base import Split, TensorDataModule
from cnnablate.data.fetch import (
    FASHION_SYSTEM_DIR,
    IDX_SHAPES,
    MNIST_FILES,
    fetch_fashion_mnist,
    fetch_mnist,
    find_idx,
    resolve_data_dir,
    sha256_hex,
    validated_idx,
)
from cnnablate.data.idx import read_idx
from cnnablate.errors import Unavailable, UserError

__all__ = [
    "FashionMNISTDataModule",
    "MNISTDataModule",
    "MNISTExpandedDataModule",
    "expand_with_shifts",
    "shift_images",
]

NIELSEN_TRAIN_SIZE = 50_000
# Nielsen's expand_mnist.py shuffles the expanded set once; ours is a fixed permutation too.
EXPANSION_SEED = 0
# (dy, dx) of the four expansion copies: up, down, left, right.
EXPANSION_SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def expand_with_shifts(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Each image followed by its copies shifted up, down, left, right: 5n images, unshuffled."""
    versions = [x, *(shift_images(x, dy, dx) for dy, dx in EXPANSION_SHIFTS)]
    expanded = torch.stack(versions, dim=1).flatten(0, 1)
    return expanded, y.repeat_interleave(len(versions))


def expansion_order(n: int) -> Tensor:
    generator = torch.Generator().manual_seed(EXPANSION_SEED)
    return torch.randperm(n, generator=generator)


def _images(array: np.ndarray) -> Tensor:
    return torch.from_numpy(array).unsqueeze(1)


def _labels(array: np.ndarray) -> Tensor:
    return torch.from_numpy(array).long()


def read_verified_idx(path: Path, expected_sha256: str) -> np.ndarray:
    """Parse a file of the data directory, refusing it unless its SHA256 is the official one."""
    data = path.read_bytes()
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise Unavailable(
            f"{path} is corrupted (SHA256 {actual[:12]}…, expected {expected_sha256[:12]}…); "
            "delete it and run `cnnablate data fetch mnist` to fetch it again"
        )
    return read_idx(data)


def official_splits(read: Callable[[str], np.ndarray]) -> dict[str, Split]:
    """The official `train` (60,000) and `test` (10,000) splits, each file parsed by `read`."""
    return {
        "train": Split(
            _images(read("train-images-idx3-ubyte")), _labels(read("train-labels-idx1-ubyte"))
        ),
        "test": Split(
            _images(read("t10k-images-idx3-ubyte")), _labels(read("t10k-labels-idx1-ubyte"))
        ),
    }


def mnist_dir(data_dir: Path | None) -> Path:
    """`data_dir/mnist`, fetched through the normal chain when some file is missing."""
    directory = resolve_data_dir(data_dir) / "mnist"
    if all((directory / name).is_file() for name in MNIST_FILES):
        return directory
    return fetch_mnist(resolve_data_dir(data_dir))


class MNISTDataModule(TensorDataModule):
    """Nielsen's split: the first 50,000 training images train, the last 10,000 validate."""

    name = "mnist"
    input_shape = (1, 28, 28)
    fixed_train_size = NIELSEN_TRAIN_SIZE

    @classmethod
    def prepare_files(
        cls, data_dir: Path, local_dir: Path | None = None, log: Callable[[str], None] = print
    ) -> Path:
        return fetch_mnist(data_dir, local_dir=local_dir, log=log)

    def load_splits(self) -> dict[str, Split]:
        directory = mnist_dir(self.data_dir)
        official = official_splits(
            lambda name: read_verified_idx(directory / name, MNIST_FILES[name])
        )
        train = official["train"]
        return {
            "train": Split(train.x[:NIELSEN_TRAIN_SIZE], train.y[:NIELSEN_TRAIN_SIZE]),
            "val": Split(train.x[NIELSEN_TRAIN_SIZE:], train.y[NIELSEN_TRAIN_SIZE:]),
            "test": official["test"],
        }


class MNISTExpandedDataModule(MNISTDataModule):
    """Nielsen's expand_mnist.py: the 50,000 training images and their four one-pixel shifts.

    250,000 training images in a fixed order (a permutation seeded with EXPANSION_SEED, as
    Nielsen shuffles the expanded set once); validation and test are MNIST's.
    """

    name = "mnist-expanded"
    fixed_train_size = 5 * NIELSEN_TRAIN_SIZE
    test_stand_in = "mnist"  # the same test split, without building 250,000 shifted images

    def load_splits(self) -> dict[str, Split]:
        splits = super().load_splits()
        x, y = expand_with_shifts(splits["train"].x, splits["train"].y)
        order = expansion_order(len(y))
        splits["train"] = Split(x[order], y[order])
        return splits


def fashion_mnist_dir(data_dir: Path | None) -> Path:
    """`data_dir/fashion-mnist` if it holds the four files (raw or .gz), else Debian's copy."""
    candidates = [resolve_data_dir(data_dir) / "fashion-mnist", FASHION_SYSTEM_DIR]
    for directory in candidates:
        if all(find_idx(directory, name) for name in IDX_SHAPES):
            return directory
    raise Unavailable(
        f"Fashion-MNIST not found in {' or '.join(str(d) for d in candidates)}; install it with "
        "`apt-get install dataset-fashion-mnist` or copy it with "
        "`cnnablate data fetch fashion-mnist --from DIR`"
    )


def read_fashion_idx(directory: Path, name: str) -> np.ndarray:
    path = find_idx(directory, name) or directory / name
    try:
        return validated_idx(path, name)
    except (OSError, ValueError) as error:
        raise UserError(f"{directory / name}: not a valid Fashion-MNIST file: {error}") from None


class FashionMNISTDataModule(TensorDataModule):
    """Fashion-MNIST: 60,000 training images, no validation split, 10,000 test images."""

    name = "fashion-mnist"
    input_shape = (1, 28, 28)
    fixed_train_size = 60_000

    @classmethod
    def prepare_files(
        cls, data_dir: Path, local_dir: Path | None = None, log: Callable[[str], None] = print
    ) -> Path:
        return fetch_fashion_mnist(data_dir, local_dir=local_dir, log=log)

    def load_splits(self) -> dict[str, Split]:
        directory = fashion_mnist_dir(self.data_dir)
        return official_splits(lambda name: read_fashion_idx(directory, name))
