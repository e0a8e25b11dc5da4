"""Time to result, as AlgoPerf reports it: per cell, the seconds a trial took from the start of
its training to its final evaluation (data loading, compile and CUDA-graph capture included),
its evaluation shown apart; the device time of the cell's trials and of the whole run.

A packed trial's wall time is its pack's, shared by the copies: device time counts it once
(`wall_s / pack_size` per trial). Trials of several workers overlap on one machine, so the run's
device time (the sum) and its elapsed time (first start to last end) are both given.
"""

from __future__ import annotations

import math

import pandas as pd

from cnnablate.report.tables import factor_name

COLUMNS = ["n", "device", "wall s per trial", "eval s per trial", "device min"]


def _device_minutes(trials: pd.DataFrame) -> float:
    packs = trials["pack_size"].fillna(1).clip(lower=1) if "pack_size" in trials else 1
    return float((trials["wall_s"] / packs).sum()) / 60.0


def _row(trials: pd.DataFrame) -> dict:
    eval_s = trials["eval_s"] if "eval_s" in trials else pd.Series(dtype=float)
    devices = sorted({str(d) for d in trials.get("device", pd.Series(dtype=str)).dropna()})
    return {
        "n": len(trials),
        "device": "; ".join(devices),
        "wall s per trial": float(trials["wall_s"].mean()),
        "eval s per trial": float(eval_s.mean()) if eval_s.notna().any() else math.nan,
        "device min": _device_minutes(trials),
    }


def elapsed_minutes(trials: pd.DataFrame) -> float:
    if not {"started", "finished"} <= set(trials) or trials["finished"].isna().all():
        return math.nan
    return (trials["finished"].max() - trials["started"].min()).total_seconds() / 60.0


def time_to_result(trials: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per cell and a last row for the whole run (its elapsed minutes beside)."""
    if trials.empty or "wall_s" not in trials or trials["wall_s"].isna().all():
        return pd.DataFrame()
    names = [factor_name(f) for f in factors]
    rows = []
    groups = trials.groupby(factors, sort=False, dropna=False) if factors else [((), trials)]
    for levels, group in groups:
        levels = levels if isinstance(levels, tuple) else (levels,)
        rows.append({**dict(zip(names, levels, strict=True)), **_row(group)})
    total = {name: "" for name in names}
    if names:
        total[names[0]] = "all"
    rows.append({**total, **_row(trials), "elapsed min": elapsed_minutes(trials)})
    return pd.DataFrame(rows)
