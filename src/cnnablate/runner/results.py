"""The results table, read from the study's storage only: for a grid one row per cell (the trial
done at the run's budget, else the cell's latest, with why it is short), for a search one row per
finished trial.

Its columns are `SCHEMA` (fixed names and types, whatever the folder) plus one `param.<factor>`
column per factor of the spec. `read_results` brings tables written by earlier versions to it.
"""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from cnnablate.atomic import atomic_path

if TYPE_CHECKING:
    from cnnablate.runner.plans import Plan

PARAM_PREFIX = "param."

TEXT, INT, FLOAT, TIME = "string", "Int64", "float64", "datetime64[ns]"

# column: (pandas dtype, meaning). The README's table of the results is this one.
SCHEMA: dict[str, tuple[str, str]] = {
    "trial": (INT, "Optuna trial number"),
    "state": (TEXT, "Optuna state: COMPLETE, PRUNED or FAIL"),
    "status": (TEXT, "ok, diverged, pruned or failed"),
    "failure": (TEXT, "why a FAIL trial failed (interrupted, duplicate, error text)"),
    "short": (TEXT, "why a finished trial falls short of the budget the run asked for, if it does"),
    "seed": (INT, "the trial's seed (init, data order, dropout, augmentation)"),
    "preset": (TEXT, "the lecture network the cell trains"),
    "test_acc": (FLOAT, "accuracy on the test split, final weights"),
    "test_error": (FLOAT, "1 - test_acc"),
    "test_loss": (FLOAT, "mean cross-entropy (or the configured loss) on the test split"),
    "best_val_acc": (FLOAT, "best validation accuracy over the evaluations (needs a val split)"),
    "best_epoch": (INT, "epoch of best_val_acc"),
    "test_acc_at_best_val": (FLOAT, "test accuracy at the evaluation of best_val_acc"),
    "train_acc": (FLOAT, "accuracy on the training split, final weights"),
    "train_loss": (FLOAT, "loss on the training split, final weights"),
    "diverged_at_step": (INT, "update at which the loss became non-finite, if it did"),
    "pruned_at_epoch": (INT, "last reported epoch of a pruned trial"),
    "params": (INT, "trainable parameters of one network"),
    "pack_size": (INT, "networks trained together in one packed module"),
    "train_samples_per_s": (FLOAT, "training throughput of the whole pack"),
    "train_flops_per_sample": (FLOAT, "training FLOPs per sample of one network"),
    "achieved_flops_per_s": (FLOAT, "train_flops_per_sample x train_samples_per_s"),
    "eval_samples_per_s": (FLOAT, "evaluation throughput of the whole pack"),
    "steps": (INT, "updates done"),
    "budget_steps": (
        INT,
        "updates the trial was asked for: the config's budget, under its step cap",
    ),
    "step_cap": (INT, "--max-steps cap in force, if any"),
    "epochs": (INT, "epochs run"),
    "wall_s": (FLOAT, "seconds from the start of training to the end of evaluation"),
    "device": (TEXT, "the device in words (CPU model and threads, or GPU name)"),
    "accelerator": (TEXT, "cpu or gpu"),
    "update_path": (TEXT, "how updates ran: eager, cuda-graph, ..."),
    "update_fallback": (TEXT, "why the faster update path was not taken, if it was not"),
    "commit": (TEXT, "git commit of the code (with -dirty for uncommitted changes)"),
    "hostname": (TEXT, "machine that ran the trial"),
    "pid": (INT, "worker process id"),
    "version_cnnablate": (TEXT, "cnnablate version"),
    "version_python": (TEXT, "Python version"),
    "version_torch": (TEXT, "torch version"),
    "version_pytorch_lightning": (TEXT, "pytorch-lightning version"),
    "dir": (TEXT, "the trial's folder (result.json, metrics.csv, checkpoints)"),
    "started": (TIME, "when the trial started (Optuna's record, the worker's local time)"),
    "finished": (TIME, "when the trial finished (Optuna's record, the worker's local time)"),
}
# Written by earlier versions: the same facts under a second name, or a repeat of param.*.
RETIRED = {"param.seed": "seed", "host": "hostname", "cell": None}


def trial_row(trial: FrozenTrial, short: str | None = None) -> dict[str, Any]:
    attrs = trial.user_attrs
    result = attrs.get("result") or {}
    row: dict[str, Any] = {
        **{f"{PARAM_PREFIX}{k}": v for k, v in trial.params.items() if k != "seed"},
        **result,
        "trial": trial.number,
        "state": trial.state.name,
        "status": result.get("status", attrs.get("status")),
        "failure": attrs.get("failure"),
        "short": short,
        "seed": result.get("seed", trial.params.get("seed")),
        "hostname": result.get("hostname", attrs.get("host")),
        "dir": attrs.get("dir"),
        "started": trial.datetime_start,
        "finished": trial.datetime_complete,
    }
    if trial.state == TrialState.PRUNED:
        row["status"] = "pruned"
        row["pruned_at_epoch"] = max(trial.intermediate_values, default=None)
    return row


def results_table(study: optuna.Study, plan: Plan) -> pd.DataFrame:
    """The rows the plan tabulates: for a grid one per cell, at the run's budget where done."""
    return conform(pd.DataFrame([trial_row(t, short) for t, short in plan.table_rows(study)]))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """The table in `SCHEMA`'s columns and types, factors first after the trial's identity;
    retired columns of older tables folded in, unknown ones dropped."""
    frame = frame.copy()
    for old, new in RETIRED.items():
        if old in frame and new is not None:
            frame[new] = frame[new].fillna(frame[old]) if new in frame else frame[old]
    params = [c for c in frame.columns if c.startswith(PARAM_PREFIX) and c not in RETIRED]
    columns = {
        name: _typed(frame.get(name), dtype, len(frame)) for name, (dtype, _) in SCHEMA.items()
    }
    columns.update({name: _param_column(frame[name]) for name in params})
    order = ["trial", "state", *params, *(c for c in SCHEMA if c not in ("trial", "state"))]
    return pd.DataFrame(columns, index=range(len(frame)))[order]


def _typed(values: pd.Series | None, dtype: str, length: int) -> pd.Series:
    if values is None:
        values = pd.Series([None] * length, dtype=object)
    values = values.reset_index(drop=True)
    if dtype == TIME:
        return pd.to_datetime(values).astype(TIME)
    if dtype == TEXT:
        return values.map(lambda v: None if _missing(v) else str(v)).astype(TEXT)
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.round().astype(INT) if dtype == INT else numbers.astype(FLOAT)


def _param_column(values: pd.Series) -> pd.Series:
    """A factor's levels: numbers stay numbers (Int64 when all whole), anything else text."""
    values = values.reset_index(drop=True)
    present = [v for v in values if not _missing(v)]
    if present and all(isinstance(v, bool | np.bool_) for v in present):
        return values.astype("boolean")
    if all(isinstance(v, Real) and not isinstance(v, bool | np.bool_) for v in present):
        whole = all(isinstance(v, Integral) for v in present)
        return pd.to_numeric(values, errors="coerce").astype(INT if whole else FLOAT)
    return values.map(lambda v: None if _missing(v) else str(v)).astype(TEXT)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def write_results(out_dir: Path, frame: pd.DataFrame) -> None:
    """`results.parquet` and `results.csv`, each written to a temporary name and renamed."""
    with atomic_path(out_dir / "results.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(out_dir / "results.csv") as tmp:
        frame.to_csv(tmp, index=False)


def read_results(out_dir: Path) -> pd.DataFrame:
    """A results folder's table (one row per finished trial) in `SCHEMA`, also one written by
    an earlier version."""
    return conform(pd.read_parquet(Path(out_dir) / "results.parquet"))
