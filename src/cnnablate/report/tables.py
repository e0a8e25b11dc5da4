"""The report's tables, computed from the trial table with pandas and scipy.

All intervals are 95%. A mean accuracy's is the t-interval over seeds truncated at 0 and 100%
(`accuracy_interval`); differences get t-intervals over paired differences, and main effects
compare levels with Welch's interval, since their trials are not paired.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cnnablate.report.formatting import percent, percent_interval

METRIC = "test_acc"
CONFIDENCE = 0.95
SEED = "seed"


def factor_name(column: str) -> str:
    return column.removeprefix("param.")


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """95% t-interval of the mean; NaN with fewer than two values."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) < 2:
        return math.nan, math.nan
    half = (
        stats.t.ppf(0.5 + confidence / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data))
    )
    return data.mean() - half, data.mean() + half


def accuracy_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% interval of a mean accuracy, kept inside [0, 1]: the t-interval over seeds truncated
    at the bounds (a cell with one bad seed would otherwise run past 100%). Truncation, not a
    transform: the interval still holds the mean reported beside it."""
    low, high = t_interval(values)
    if math.isnan(low):
        return math.nan, math.nan
    return max(0.0, low), min(1.0, high)


def welch_interval(
    a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """95% interval of mean(b) - mean(a) for independent samples (Welch–Satterthwaite)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    diff = b.mean() - a.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * se
    return diff - half, diff + half


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def _std(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def cell_summary(trials: pd.DataFrame) -> dict[str, Any]:
    acc = trials[METRIC]
    low, high = accuracy_interval(acc)
    row: dict[str, Any] = {
        "n_seeds": len(trials),
        "test_acc_mean": _mean(acc),
        "test_acc_std": _std(acc),
        "test_acc_ci_low": low,
        "test_acc_ci_high": high,
        "test_acc_best": float(acc.max()),
        "test_error_mean": _mean(1.0 - acc),
        "test_error_std": _std(1.0 - acc),
    }
    if "test_acc_at_best_val" in trials and trials["test_acc_at_best_val"].notna().any():
        row["test_acc_at_best_val_mean"] = _mean(trials["test_acc_at_best_val"])
    for column in ("params", "train_samples_per_s", "eval_samples_per_s", "wall_s"):
        row[column] = _mean(trials[column]) if column in trials else math.nan
    if "train_flops" in trials:
        row["train_flops"] = _mean(trials["train_flops"])
    if "status" in trials:
        row["diverged"] = int((trials["status"] == "diverged").sum())
    if "budget" in trials:
        row["budget"] = "; ".join(sorted({n for n in trials["budget"] if n}))
    return row


def cell_table(trials: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per cell (every factor level fixed, seeds pooled)."""
    if not factors:
        return pd.DataFrame([cell_summary(trials)])
    rows = []
    for levels, group in trials.groupby(factors, sort=False, dropna=False):
        levels = levels if isinstance(levels, tuple) else (levels,)
        named = {factor_name(f): lv for f, lv in zip(factors, levels, strict=True)}
        rows.append({**named, **cell_summary(group)})
    return pd.DataFrame(rows)


def main_effects(
    trials: pd.DataFrame, factors: list[str], orders: dict[str, list[Any]]
) -> pd.DataFrame:
    """Per factor and level: marginal mean accuracy (all other factors and seeds pooled) and its
    difference from the factor's first level, with Welch's 95% interval."""
    rows = []
    for factor in factors:
        levels = orders[factor]
        if len(levels) < 2:
            continue
        reference = trials.loc[trials[factor] == levels[0], METRIC].dropna()
        for level in levels:
            values = trials.loc[trials[factor] == level, METRIC].dropna()
            low, high = accuracy_interval(values)
            diff_low, diff_high = welch_interval(reference, values)
            rows.append(
                {
                    "factor": factor_name(factor),
                    "level": level,
                    "reference": levels[0],
                    "n": len(values),
                    "mean": _mean(values),
                    "ci_low": low,
                    "ci_high": high,
                    "diff": _mean(values) - _mean(reference),
                    "diff_ci_low": diff_low if level != levels[0] else math.nan,
                    "diff_ci_high": diff_high if level != levels[0] else math.nan,
                }
            )
    return pd.DataFrame(rows)


def paired_difference(
    trials: pd.DataFrame,
    factor: str,
    level_a: Any,
    level_b: Any,
    keys: list[str],
    metric: str = METRIC,
) -> dict[str, Any]:
    """Mean of (b - a) over pairs of trials equal in every `keys` column (other factors, seed),
    its 95% t-interval, and the paired t-test's two-sided p-value."""
    a = trials[trials[factor] == level_a].set_index(keys)[metric]
    b = trials[trials[factor] == level_b].set_index(keys)[metric]
    a, b = a[~a.index.duplicated()], b[~b.index.duplicated()]
    common = a.index.intersection(b.index)
    diffs = (b.loc[common] - a.loc[common]).dropna().to_numpy(dtype=float)
    low, high = t_interval(diffs)
    p_value = math.nan
    if len(diffs) > 1 and np.ptp(diffs) > 0:
        p_value = float(stats.ttest_1samp(diffs, 0.0).pvalue)
    return {
        "n_pairs": len(diffs),
        "mean_a": float(a.loc[common].mean()) if len(common) else math.nan,
        "mean_b": float(b.loc[common].mean()) if len(common) else math.nan,
        "mean_diff": float(diffs.mean()) if len(diffs) else math.nan,
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
    }


def paired_comparisons(
    trials: pd.DataFrame, factors: list[str], orders: dict[str, list[Any]]
) -> pd.DataFrame:
    """For each two-level factor: cells differing only in it, same seed, paired."""
    rows = []
    for factor in factors:
        levels = orders[factor]
        if len(levels) != 2:
            continue
        keys = [f for f in factors if f != factor] + ([SEED] if SEED in trials else [])
        result = paired_difference(trials, factor, levels[0], levels[1], keys)
        rows.append({"factor": factor_name(factor), "a": levels[0], "b": levels[1], **result})
    return pd.DataFrame(rows)


def interactions(trials: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """Mean accuracy for every pair of levels of every pair of factors (long form)."""
    rows = []
    for first, second in itertools.combinations(factors, 2):
        grouped = trials.groupby([first, second], sort=False, dropna=False)[METRIC]
        for (level_a, level_b), values in grouped:
            rows.append(
                {
                    "factor_a": factor_name(first),
                    "level_a": level_a,
                    "factor_b": factor_name(second),
                    "level_b": level_b,
                    "n": int(values.notna().sum()),
                    "mean": _mean(values),
                }
            )
    return pd.DataFrame(rows)


def cells_for_reading(cells: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """The cell table with fewer, shorter columns: 'mean ± std', '[low, high]'."""
    names = [factor_name(f) for f in factors]
    shown = cells[names].copy() if names else pd.DataFrame(index=cells.index)
    shown["n"] = cells["n_seeds"]
    shown["test acc"] = [
        f"{percent(m)} ± {percent(s)}" if not math.isnan(s) else percent(m)
        for m, s in zip(cells["test_acc_mean"], cells["test_acc_std"], strict=True)
    ]
    shown["95% CI"] = [
        percent_interval(low, high)
        for low, high in zip(cells["test_acc_ci_low"], cells["test_acc_ci_high"], strict=True)
    ]
    shown["best"] = cells["test_acc_best"].map(percent)
    shown["test error"] = cells["test_error_mean"].map(percent)
    if "test_acc_at_best_val_mean" in cells:
        shown["at best val"] = cells["test_acc_at_best_val_mean"].map(percent)
    shown["params"] = cells["params"]
    shown["train samples/s"] = cells["train_samples_per_s"]
    shown["eval samples/s"] = cells["eval_samples_per_s"]
    shown["wall s"] = cells["wall_s"]
    if "diverged" in cells and cells["diverged"].any():
        shown["diverged"] = cells["diverged"]
    if "budget" in cells and (cells["budget"] != "").any():
        shown["budget"] = cells["budget"]
    return shown
