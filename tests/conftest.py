"""Shared fixtures: the real MNIST (through the normal fetch chain) and a fake Fashion-MNIST."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings

from cnnablate.data.fetch import IDX_SHAPES, MNIST_FILES, SOURCE_ENV, fetch_mnist, is_verified
from cnnablate.data.idx import encode_idx

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"


def share_the_cores_between_test_processes() -> None:
    """Under pytest-xdist, each test process (and the processes it starts) gets its share of the
    cores: torch's default of one thread per core in every process oversubscribes the machine,
    and OpenMP's spinning threads then run several times slower."""
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if processes > 1:
        threads = max(1, (os.cpu_count() or 1) // processes)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


share_the_cores_between_test_processes()

# Tests assert behaviour, not speed: Hypothesis's 200 ms deadline per example failed a parquet
# round trip on a loaded machine (259 ms).
settings.register_profile("cnnablate", deadline=None)
settings.load_profile("cnnablate")


def _holds_verified_mnist(data_dir: Path) -> bool:
    return all(is_verified(data_dir / "mnist" / name, sha) for name, sha in MNIST_FILES.items())


@pytest.fixture(scope="session")
def mnist_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding `mnist/` with the four verified official files."""
    env_dir = os.environ.get("CNNABLATE_DATA")
    if env_dir and _holds_verified_mnist(Path(env_dir)):
        return Path(env_dir)
    source = os.environ.get(SOURCE_ENV) or (str(SHARED_MNIST) if SHARED_MNIST.is_dir() else None)
    if source is None:
        pytest.skip(
            f"real MNIST not available: set {SOURCE_ENV}=DIR (the four IDX files, raw or .gz) "
            f"or CNNABLATE_DATA=DIR (holding mnist/); {SHARED_MNIST} does not exist"
        )
    data_dir = tmp_path_factory.mktemp("data")
    fetch_mnist(data_dir, local_dir=Path(source), mirrors=[], use_npm=False, log=lambda _: None)
    return data_dir


def fake_idx_arrays() -> dict[str, np.ndarray]:
    """Arrays of the MNIST shapes: images with their index in the corner, labels i % 10."""
    arrays = {}
    for name, shape in IDX_SHAPES.items():
        if "labels" in name:
            arrays[name] = (np.arange(shape[0]) % 10).astype(np.uint8)
        else:
            images = np.zeros(shape, dtype=np.uint8)
            images[:, 0, 0] = np.arange(shape[0]) % 256
            arrays[name] = images
    return arrays


@pytest.fixture(scope="session")
def fake_fashion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory like Debian's Fashion-MNIST: training files raw, test files gzipped."""
    directory = tmp_path_factory.mktemp("fashion-source")
    for name, array in fake_idx_arrays().items():
        data = encode_idx(array)
        if name.startswith("t10k"):
            (directory / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (directory / name).write_bytes(data)
    return directory


OUTSIDE = Path(__file__).parent / "outside"


@pytest.fixture
def outside_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside the repository holding a user's modules (tests/outside/*.py: `nets`,
    `blobs`), importable by name here and in the processes these tests start."""
    folder = tmp_path / "usercode"
    folder.mkdir()
    for source in OUTSIDE.glob("*.py"):
        (folder / source.name).write_text(source.read_text())
    monkeypatch.syspath_prepend(str(folder))
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)
    return folder
