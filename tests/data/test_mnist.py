from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cnnablate.config import DataConfig
from cnnablate.data import mnist as mnist_module
from cnnablate.data.fetch import MNIST_FILES, sha256_hex
from cnnablate.data.mnist import (
    FashionMNISTDataModule,
    MNISTDataModule,
    MNISTExpandedDataModule,
    expansion_order,
    shift_images,
)
from cnnablate.errors import UserError

SHARED_SUMS = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist" / "SHA256SUMS"


def load(cls: type, data_dir: Path, name: str) -> dict:
    module = cls(DataConfig(name=name), data_dir=data_dir)
    module.prepare()
    return module.splits


@pytest.fixture(scope="module")
def mnist(mnist_data_dir: Path) -> dict:
    return load(MNISTDataModule, mnist_data_dir, "mnist")


@pytest.fixture(scope="module")
def expanded(mnist_data_dir: Path) -> dict:
    return load(MNISTExpandedDataModule, mnist_data_dir, "mnist-expanded")


# shift_images


def reference_shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[i, j] = x[i - dy, j - dx] where that is inside the image, else 0."""
    height, width = x.shape[-2:]
    out = np.zeros_like(x)
    for i in range(height):
        for j in range(width):
            if 0 <= i - dy < height and 0 <= j - dx < width:
                out[..., i, j] = x[..., i - dy, j - dx]
    return out


def test_shift_images_moves_content_and_fills_zeros() -> None:
    x = torch.arange(1, 10).view(1, 3, 3)
    assert shift_images(x, 1, 0).tolist() == [[[0, 0, 0], [1, 2, 3], [4, 5, 6]]]
    assert shift_images(x, 0, -1).tolist() == [[[2, 3, 0], [5, 6, 0], [8, 9, 0]]]
    assert torch.equal(shift_images(x, 0, 0), x)
    assert not shift_images(x, 3, 0).any()


@given(
    st.integers(-5, 5),
    st.integers(-5, 5),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
)
def test_shift_images_matches_reference(dy: int, dx: int, shape: tuple[int, ...]) -> None:
    x = torch.randint(1, 255, shape, dtype=torch.uint8)
    assert np.array_equal(shift_images(x, dy, dx).numpy(), reference_shift(x.numpy(), dy, dx))


# MNIST


def test_file_checksums_match_official_sums(mnist_data_dir: Path) -> None:
    for name, sha in MNIST_FILES.items():
        assert sha256_hex((mnist_data_dir / "mnist" / name).read_bytes()) == sha
    if not SHARED_SUMS.is_file():
        pytest.skip(f"{SHARED_SUMS} not present to compare the hard-coded checksums with")
    official = dict(line.split()[::-1] for line in SHARED_SUMS.read_text().splitlines())
    assert official == MNIST_FILES


def test_nielsen_split_sizes_and_types(mnist: dict) -> None:
    assert {name: len(split) for name, split in mnist.items()} == {
        "train": 50_000,
        "val": 10_000,
        "test": 10_000,
    }
    for split in mnist.values():
        assert split.x.dtype == torch.uint8
        assert split.x.shape[1:] == (1, 28, 28)
        assert split.y.dtype == torch.int64
        assert split.x.min() == 0 and split.x.max() == 255
        assert sorted(split.y.unique().tolist()) == list(range(10))


def test_nielsen_split_order(mnist: dict) -> None:
    # The first labels of MNIST's training and test files are well known.
    assert mnist["train"].y[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist["test"].y[:5].tolist() == [7, 2, 1, 0, 4]
    assert not torch.equal(mnist["val"].x[:100], mnist["train"].x[:100])


def test_corrupted_file_is_a_user_error_and_left_alone(mnist_data_dir: Path, tmp_path) -> None:
    shutil.copytree(mnist_data_dir / "mnist", tmp_path / "mnist")
    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    labels.chmod(0o644)
    corrupted = bytearray(labels.read_bytes())
    corrupted[-1] ^= 1
    labels.write_bytes(bytes(corrupted))
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte is corrupted.*delete it"):
        load(MNISTDataModule, tmp_path, "mnist")
    assert labels.read_bytes() == bytes(corrupted)


def test_missing_files_are_fetched_through_the_chain(mnist_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNABLATE_MNIST_SOURCE", str(mnist_data_dir / "mnist"))
    monkeypatch.setenv("CNNABLATE_MNIST_MIRRORS", "")
    monkeypatch.setenv("CNNABLATE_NO_NPM", "1")
    splits = load(MNISTDataModule, tmp_path, "mnist")
    assert len(splits["train"]) == 50_000
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(MNIST_FILES)


def test_no_source_is_a_user_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CNNABLATE_MNIST_SOURCE", raising=False)
    monkeypatch.setenv("CNNABLATE_MNIST_MIRRORS", "")
    monkeypatch.setenv("CNNABLATE_NO_NPM", "1")
    with pytest.raises(UserError, match="CNNABLATE_MNIST_SOURCE"):
        load(MNISTDataModule, tmp_path, "mnist")


# Expanded MNIST


def expected_expansion(images: np.ndarray) -> np.ndarray:
    """Nielsen's five versions per image, written out with numpy slices: (n, 5, 28, 28)."""
    versions = np.zeros((len(images), 5, 28, 28), dtype=np.uint8)
    versions[:, 0] = images
    versions[:, 1, :-1, :] = images[:, 1:, :]  # up
    versions[:, 2, 1:, :] = images[:, :-1, :]  # down
    versions[:, 3, :, :-1] = images[:, :, 1:]  # left
    versions[:, 4, :, 1:] = images[:, :, :-1]  # right
    return versions


def test_expanded_sizes(expanded: dict, mnist: dict) -> None:
    assert len(expanded["train"]) == 250_000
    assert expanded["train"].x.shape == (250_000, 1, 28, 28)
    assert expanded["train"].x.dtype == torch.uint8
    for name in ("val", "test"):
        assert torch.equal(expanded[name].x, mnist[name].x)
        assert torch.equal(expanded[name].y, mnist[name].y)
    counts = torch.bincount(expanded["train"].y, minlength=10)
    assert torch.equal(counts, 5 * torch.bincount(mnist["train"].y, minlength=10))


def test_expanded_images_are_the_one_pixel_shifts(expanded: dict, mnist: dict) -> None:
    images = mnist["train"].x[:, 0].numpy()
    order = expansion_order(250_000).numpy()
    source, version = order // 5, order % 5
    versions = expected_expansion(images)
    assert np.array_equal(expanded["train"].x[:, 0].numpy(), versions[source, version])
    assert np.array_equal(expanded["train"].y.numpy(), mnist["train"].y.numpy()[source])
    assert np.array_equal(np.bincount(version, minlength=5), [50_000] * 5)
    # Shifts are not no-ops: a digit touching no border changes when moved by a pixel.
    assert all(not np.array_equal(versions[0, 0], versions[0, k]) for k in range(1, 5))


def test_expanded_order_is_shuffled_and_deterministic(expanded: dict, mnist_data_dir) -> None:
    order = expansion_order(250_000)
    assert not torch.equal(order, torch.arange(250_000))
    assert torch.equal(order, expansion_order(250_000))
    again = load(MNISTExpandedDataModule, mnist_data_dir, "mnist-expanded")
    assert torch.equal(again["train"].x, expanded["train"].x)
    assert torch.equal(again["train"].y, expanded["train"].y)


# Fashion-MNIST


def test_fashion_mnist_from_data_dir(tmp_path, fake_fashion_dir, monkeypatch) -> None:
    monkeypatch.setattr(mnist_module, "FASHION_SYSTEM_DIR", tmp_path / "none")
    shutil.copytree(fake_fashion_dir, tmp_path / "fashion-mnist")
    splits = load(FashionMNISTDataModule, tmp_path, "fashion-mnist")
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 60_000,
        "test": 10_000,
    }
    assert splits["train"].x.shape == (60_000, 1, 28, 28)
    assert splits["train"].x.dtype == torch.uint8
    assert splits["test"].y.dtype == torch.int64
    assert splits["train"].x[:300, 0, 0, 0].tolist() == [i % 256 for i in range(300)]


def test_fashion_mnist_from_system_dir(tmp_path, fake_fashion_dir, monkeypatch) -> None:
    monkeypatch.setattr(mnist_module, "FASHION_SYSTEM_DIR", fake_fashion_dir)
    splits = load(FashionMNISTDataModule, tmp_path, "fashion-mnist")
    assert len(splits["train"]) == 60_000


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(mnist_module, "FASHION_SYSTEM_DIR", tmp_path / "none")
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist") as caught:
        load(FashionMNISTDataModule, tmp_path, "fashion-mnist")
    assert "cnnablate data fetch fashion-mnist --from DIR" in str(caught.value)
