"""The results table: one row per finished trial, read from the study's storage only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from cnnablate.atomic import atomic_path

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
TIME_COLUMNS = ("started", "finished")


def trial_row(trial: FrozenTrial) -> dict[str, Any]:
    attrs = trial.user_attrs
    row: dict[str, Any] = {
        "trial": trial.number,
        "state": trial.state.name,
        "cell": attrs.get("cell"),
        **{f"param.{k}": _scalar(v) for k, v in trial.params.items()},
        **(attrs.get("result") or {}),
        "status": (attrs.get("result") or {}).get("status", attrs.get("status")),
        "failure": attrs.get("failure"),
        "dir": attrs.get("dir"),
        "host": attrs.get("host"),
        "started": trial.datetime_start,
        "finished": trial.datetime_complete,
    }
    if trial.state == TrialState.PRUNED:
        row["status"] = "pruned"
        row["pruned_at_epoch"] = max(trial.intermediate_values, default=None)
    return row


def _scalar(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def results_table(study: optuna.Study) -> pd.DataFrame:
    trials = study.get_trials(deepcopy=False, states=FINISHED)
    rows = [trial_row(t) for t in sorted(trials, key=lambda t: t.number)]
    frame = with_timestamps(pd.DataFrame(rows))
    for column in frame.columns:  # mixed None/str/number columns must still round-trip parquet
        if frame[column].dtype == object and frame[column].map(type).nunique() > 1:
            frame[column] = frame[column].map(
                lambda v: v if v is None else json.dumps(v) if not isinstance(v, str) else v
            )
    return frame


def write_results(out_dir: Path, frame: pd.DataFrame) -> None:
    """`results.parquet` and `results.csv`, each written to a temporary name and renamed."""
    with atomic_path(out_dir / "results.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(out_dir / "results.csv") as tmp:
        frame.to_csv(tmp, index=False)


def read_results(out_dir: Path) -> pd.DataFrame:
    """A results folder's table (one row per finished trial), its times as timestamps also in
    tables written before they were stored as such."""
    return with_timestamps(pd.read_parquet(Path(out_dir) / "results.parquet"))


def with_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """`started` and `finished` as timestamps, whatever the rows or an older table hold."""
    for column in TIME_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column])
    return frame
