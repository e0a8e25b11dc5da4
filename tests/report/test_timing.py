"""Time to result per cell and for the whole run: packs counted once, evaluation apart."""

from __future__ import annotations

import pandas as pd
import pytest

from cnnablate.config import ExperimentConfig, apply_overrides
from cnnablate.report.timing import time_to_result
from cnnablate.train import TrainOptions, train


def trials() -> pd.DataFrame:
    start = pd.Timestamp("2026-12-06 10:00:00")
    return pd.DataFrame(
        {
            "param.lr": [0.1, 0.1, 0.1, 0.5],
            "wall_s": [60.0, 60.0, 60.0, 30.0],  # the first three: one pack of three
            "eval_s": [6.0, 6.0, 6.0, 3.0],
            "pack_size": [3, 3, 3, 1],
            "device": ["gpu: H200"] * 4,
            "started": [start] * 3 + [start + pd.Timedelta(seconds=60)],
            "finished": [start + pd.Timedelta(seconds=60)] * 3 + [start + pd.Timedelta(seconds=90)],
        }
    )


def test_a_pack_is_device_time_once_and_the_run_has_a_total():
    table = time_to_result(trials(), ["param.lr"])
    assert table["lr"].tolist() == [0.1, 0.5, "all"]
    assert table["device min"].tolist() == pytest.approx([1.0, 0.5, 1.5])
    assert table["wall s per trial"].tolist() == pytest.approx([60.0, 30.0, 52.5])
    assert table["eval s per trial"].tolist() == pytest.approx([6.0, 3.0, 5.25])
    assert table["elapsed min"].iloc[-1] == pytest.approx(1.5)
    assert table["device"].iloc[-1] == "gpu: H200"


def test_without_wall_times_there_is_no_table():
    assert time_to_result(trials().drop(columns="wall_s"), ["param.lr"]).empty


def test_a_run_records_its_evaluation_time_within_its_wall_time(tmp_path):
    config = apply_overrides(
        ExperimentConfig(),
        ["data.num_samples=600", "train.max_epochs=null", "train.max_steps=20"],
    )
    result = train(config, 0, tmp_path, TrainOptions(progress="off"))
    assert 0 < result["eval_s"] < result["wall_s"]
