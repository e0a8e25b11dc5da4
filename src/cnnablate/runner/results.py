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
from cnnablate.record import FLOAT, INT, RESULTS_TABLE, SCHEMA, TEXT, TIME, TrialRecord

if TYPE_CHECKING:
    from cnnablate.runner.plans import Plan

PARAM_PREFIX = "param."

# Written by earlier versions: the same facts under a second name, or a repeat of param.*.
RETIRED = {"param.seed": "seed", "host": "hostname", "cell": None}


def trial_row(trial: FrozenTrial, short: str | None = None) -> dict[str, Any]:
    """A trial of the study as a table row: its factor levels and its `TrialRecord`."""
    attrs = trial.user_attrs
    result = attrs.get("result") or {}
    facts = {
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
        facts["status"] = "pruned"
        facts["pruned_at_epoch"] = max(trial.intermediate_values, default=None)
    params = {f"{PARAM_PREFIX}{k}": v for k, v in trial.params.items() if k != "seed"}
    return {**params, **TrialRecord.model_validate(facts).row()}


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
    with atomic_path(out_dir / RESULTS_TABLE) as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(out_dir / "results.csv") as tmp:
        frame.to_csv(tmp, index=False)


def read_results(out_dir: Path) -> pd.DataFrame:
    """A results folder's table (one row per finished trial) in `SCHEMA`, also one written by
    an earlier version."""
    return conform(pd.read_parquet(Path(out_dir) / RESULTS_TABLE))
