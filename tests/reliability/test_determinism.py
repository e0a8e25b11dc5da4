"""Rerunning a finished matrix with the same seeds on the CPU gives the same numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.results import read_results
from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url

# What differs between two runs by nature: clocks, processes, folders, provenance.
NOT_RESULTS = {
    "trial",
    "wall_s",
    "eval_s",
    "train_samples_per_s",
    "eval_samples_per_s",
    "achieved_flops_per_s",
    "started",
    "finished",
    "pid",
    "dir",
    "hostname",
    "commit",
}


def run_into(spec, out) -> pd.DataFrame:
    options = RunOptions(out_dir=out, storage_url=default_storage_url(out), accelerator="cpu")
    run_spec(load_spec(spec), options)
    table = read_results(out)
    return table.set_index([c for c in table if c.startswith("param.")] + ["seed"]).sort_index()


def test_same_cells_same_seeds_same_metrics(tiny_spec, tmp_path):
    runs = first, second = [run_into(tiny_spec, tmp_path / name) for name in ("first", "second")]
    assert list(first.index) == list(second.index) and len(first) == 6
    compared = [column for column in first.columns if column not in NOT_RESULTS]
    assert {"test_acc", "test_loss", "train_acc", "train_loss", "steps"} <= set(compared)
    pd.testing.assert_frame_equal(first[compared], second[compared])
    for cell in first.index:  # every evaluated epoch too, to the last digit
        curves = [Path(table.loc[cell, "dir"], "metrics.csv").read_text() for table in runs]
        assert curves[0] == curves[1], cell
