"""Tiny real results, made once per session: a grid (2 activations × 2 architectures × 2 seeds,
with checkpoints) and a 4-trial Optuna study; and the report built on the grid by the CLI."""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path

import pytest

from cnnablate.cli import main
from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.spec import parse_spec
from cnnablate.runner.storage import default_storage_url

GRID_SPEC = """
name: tiny-grid
base:
  preset: udl-mlp
  set:
    data.num_samples: 600
    model.hidden: [16]
    train.eval_every_epochs: 1
factors:
  model.activation: [relu, tanh]
  architecture:
    cnn: {model.conv: [{channels: 4, kernel: 3, stride: 2}, {channels: 4, kernel: 3, stride: 2}]}
    mlp: {}
seeds: [0, 1]
budget: {max_steps: 20}
mode: grid
checkpoint: true
"""

OPTUNA_SPEC = """
name: tiny-tune
base:
  preset: udl-cnn
  set:
    data.num_samples: 600
    data.val_size: 100
    train.eval_every_epochs: 1
seeds: [0]
budget: {max_steps: 20}
mode: optuna
optuna:
  metric: best_val_acc
  n_trials: 4
  pruner: none
  space:
    optim.lr: {type: float, low: 0.001, high: 0.3, log: true}
    channels:
      type: int
      low: 2
      high: 8
      targets: [model.conv.0.channels, model.conv.1.channels, model.conv.2.channels]
"""


def run_tiny(text: str, out: Path) -> Path:
    spec = parse_spec(textwrap.dedent(text))
    run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    return out


@pytest.fixture(scope="session")
def grid_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_tiny(GRID_SPEC, tmp_path_factory.mktemp("results") / "tiny-grid")


@pytest.fixture(scope="session")
def optuna_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_tiny(OPTUNA_SPEC, tmp_path_factory.mktemp("results") / "tiny-tune")


@pytest.fixture(scope="session")
def grid_report(grid_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cnnablate report RESULTS --out OUT`, as a user runs it (its time is printed)."""
    out = tmp_path_factory.mktemp("reports") / "tiny-grid"
    started = time.perf_counter()
    assert main(["report", str(grid_results), "--out", str(out)]) == 0
    print(f"cnnablate report on the tiny grid: {time.perf_counter() - started:.1f} s")
    return out


@pytest.fixture
def bare_results(grid_results: Path, tmp_path: Path) -> Path:
    """The grid's table without its study.db (as with a remote storage)."""
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(grid_results / "results.parquet", bare / "results.parquet")
    return bare
