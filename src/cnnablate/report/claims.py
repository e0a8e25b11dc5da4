"""A verdict on each of the lecture's claims 1–8 (docs/lecture.md), from the results at hand.

A claim is tested by one or more parts. A part compares two groups of trials:

- preset against preset: trials whose data, network, loss and optimiser are exactly a preset's
  (budget aside; short budgets are marked), compared as independent groups (Welch);
- level against level of a spec's factor (e.g. `loss` mse → ce): trials paired on every other
  factor and the seed;
- or measures a trained network (claims 6–8, the ensemble of claim 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cnnablate.presets import PRESETS
from cnnablate.report.formatting import percent, points_interval
from cnnablate.report.lecture import LITTLE, TOLERANCE, Step
from cnnablate.report.sources import ResultsSource
from cnnablate.report.tables import SEED, paired_difference, welch_interval
from cnnablate.report.trained import has_conv

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"
PARTLY = "reproduced (partly run)"
# The lecture's direction, clearly (the interval excludes zero), but not its numbers: e.g. a
# CNN that beats the fully connected net by more than the lecture says, or a short budget.
DIRECTION_ONLY = "direction reproduced, size differs"


@dataclass
class Part:
    """One measured comparison or probe behind a claim, on one of its topics."""

    claim: int
    topic: str
    name: str
    verdict: str
    measured: str
    sources: str = ""
    note: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)


# --- which trials are which network ----------------------------------------------------------

Config = dict[str, Any]


def comparable(config: Config) -> Config:
    """What makes two runs the same network and training, budget and evaluation aside."""
    data = {k: v for k, v in config["data"].items() if k != "eval_batch_size"}
    return {
        "data": data,
        "model": config["model"],
        "loss": config["loss"],
        "optim": config["optim"],
    }


def preset_of(config: Config | None, fingerprints: dict[str, Config]) -> str | None:
    if config is None:
        return None
    mine = comparable(config)
    return next((name for name, print_ in fingerprints.items() if print_ == mine), None)


@dataclass
class Trials:
    """Every finished trial of every source, with its config, matched preset and budget note."""

    frame: pd.DataFrame
    configs: list[Config | None]
    sources: list[ResultsSource]

    @classmethod
    def gather(cls, sources: list[ResultsSource], notes: dict[str, pd.Series]) -> Trials:
        fingerprints = {name: comparable(p.config.model_dump()) for name, p in PRESETS.items()}
        frames, configs = [], []
        for index, source in enumerate(sources):
            frame = source.finished.copy()
            frame["source"] = source.name
            frame["source_index"] = index
            frame["budget"] = notes[source.name].to_numpy() if len(frame) else []
            frame["matched_preset"] = [preset_of(c, fingerprints) for c in source.finished_configs]
            frames.append(frame)
            configs.extend(source.finished_configs)
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return cls(frame, configs, sources)

    def of_preset(self, preset: str) -> pd.DataFrame:
        """The preset's trials at its full budget where there are any, else its short ones (a
        one-epoch CPU run is not pooled with the full runs of the same network)."""
        if self.frame.empty:
            return self.frame
        rows = self.frame[self.frame["matched_preset"] == preset]
        full = rows[rows["budget"] == ""]
        return full if not full.empty else rows


def nielsen_metric(rows: pd.DataFrame) -> pd.Series:
    """Nielsen's rule: test accuracy at the epoch of best validation accuracy, where recorded."""
    at_best = rows.get("test_acc_at_best_val")
    return rows["test_acc"] if at_best is None else at_best.fillna(rows["test_acc"])


def _pct(value: float) -> str:
    return percent(value, missing="n/a")


def _interval(low: float, high: float) -> str:
    return points_interval(low, high)


def _budget_remark(rows: pd.DataFrame) -> str:
    notes = sorted({n for n in rows.get("budget", pd.Series(dtype=object)) if n})
    return f"† short budget: {', '.join(notes)}" if notes else ""


def numbers_verdict(
    mean_a: float, mean_b: float, claimed: tuple[float, float], low: float, high: float
) -> str:
    claimed_a, claimed_b = claimed
    if not mean_b > mean_a:
        return NOT_REPRODUCED
    near = abs(mean_a - claimed_a) <= TOLERANCE and abs(mean_b - claimed_b) <= TOLERANCE
    inside = not math.isnan(low) and low <= claimed_b - claimed_a <= high
    if near or inside:
        return REPRODUCED
    return DIRECTION_ONLY if not math.isnan(low) and low > 0 else NOT_REPRODUCED


def direction_verdict(low: float) -> str:
    return REPRODUCED if not math.isnan(low) and low > 0 else NOT_REPRODUCED


# --- parts from presets ----------------------------------------------------------------------


def preset_part(trials: Trials, step: Step) -> Part | None:
    a, b, claimed = step.a, step.b, step.claimed
    rows_a, rows_b = trials.of_preset(a), trials.of_preset(b)
    if rows_a.empty or rows_b.empty:
        return None
    udl = a.startswith("udl")
    values_a = rows_a["test_acc"] if udl else nielsen_metric(rows_a)
    values_b = rows_b["test_acc"] if udl else nielsen_metric(rows_b)
    mean_a, mean_b = values_a.mean(), values_b.mean()
    low, high = welch_interval(values_a.to_numpy(), values_b.to_numpy())
    verdict = numbers_verdict(mean_a, mean_b, claimed, low, high)
    what = "test error" if udl else "test acc at best val"
    shown = (lambda v: _pct(1 - v)) if udl else _pct
    measured = (
        f"{b} {shown(mean_b)} (n={len(rows_b)}) vs {a} {shown(mean_a)} (n={len(rows_a)}) "
        f"{what}; difference {100 * (mean_b - mean_a):+.2f} points, {_interval(low, high)}"
    )
    both = pd.concat([rows_a, rows_b])
    return Part(
        step.claim,
        step.topic,
        f"{a} → {b}",
        verdict,
        measured,
        sources=", ".join(sorted(set(both["source"]))),
        note=_budget_remark(both),
        numbers={"mean_a": mean_a, "mean_b": mean_b, "ci_low": low, "ci_high": high},
    )


# --- parts from a factor's levels ------------------------------------------------------------


@dataclass(frozen=True)
class Contrast:
    claim: int
    topic: str
    name: str
    a: Callable[[Config], bool]
    b: Callable[[Config], bool]
    scope: Callable[[Config], bool] = lambda config: True
    little: bool = False  # the lecture says b adds little over a
    smaller_b: bool = False  # the claim compares b against a net with more parameters


def _data(config: Config) -> str:
    return config["data"]["name"]


def _augmented(config: Config) -> bool:
    return config["data"]["augment"] != "none" or _data(config) == "mnist-expanded"


def _no_conv(config: Config) -> bool:
    return not has_conv(config)


CONTRASTS = [
    Contrast(
        1, "CNN vs fully connected", "no conv → conv (MNIST-1D)", _no_conv, has_conv,
        scope=lambda c: _data(c) == "mnist1d", smaller_b=True,
    ),
    Contrast(
        2, "conv vs MLP", "no conv → conv (MNIST)", _no_conv, has_conv,
        scope=lambda c: _data(c) != "mnist1d",
    ),
    Contrast(
        3, "activation", "sigmoid → ReLU",
        lambda c: c["model"]["activation"] == "sigmoid",
        lambda c: c["model"]["activation"] == "relu",
    ),
    Contrast(
        3, "loss", "MSE → cross-entropy",
        lambda c: c["loss"] == "mse",
        lambda c: c["loss"] == "ce",
    ),
    Contrast(
        4, "augmentation", "no augmentation → augmentation",
        lambda c: not _augmented(c),
        _augmented,
    ),
    Contrast(
        4, "dropout", "no dropout → dropout",
        lambda c: c["model"]["dropout"] == 0,
        lambda c: c["model"]["dropout"] > 0,
    ),
    Contrast(
        5, "L2", "no L2 → L2",
        lambda c: c["optim"]["l2"] == 0,
        lambda c: c["optim"]["l2"] > 0,
        scope=has_conv,
        little=True,
    ),
]  # fmt: skip


def classify_levels(
    rows: pd.DataFrame, configs: list[Config], factor: str, contrast: Contrast
) -> tuple[list[Any], list[Any]]:
    """Levels of `factor` whose every trial is on side a, and those on side b."""
    side_a, side_b = [], []
    for level in dict.fromkeys(rows[factor]):
        members = [configs[i] for i in np.flatnonzero((rows[factor] == level).to_numpy())]
        if all(contrast.a(c) for c in members):
            side_a.append(level)
        elif all(contrast.b(c) for c in members):
            side_b.append(level)
    return side_a, side_b


def contrast_parts(trials: Trials, source: ResultsSource, contrast: Contrast) -> list[Part]:
    frame = trials.frame[trials.frame["source"] == source.name]
    positions = frame.index.to_numpy()
    configs = [trials.configs[i] for i in positions]
    in_scope = [c is not None and contrast.scope(c) for c in configs]
    rows = frame[in_scope].reset_index(drop=True)
    configs = [c for c, keep in zip(configs, in_scope, strict=True) if keep]
    factors = [f for f in source.factors if f != "param.preset" and f in rows]
    parts = []
    for factor in factors:
        side_a, side_b = classify_levels(rows, configs, factor, contrast)
        many = len(side_a[:1]) * len(side_b) > 1
        for level_a in side_a[:1]:
            for level_b in side_b:
                levels = (level_a, level_b)
                parts.append(factor_part(rows, source, factor, factors, levels, contrast, many))
    return parts


def factor_part(
    rows: pd.DataFrame,
    source: ResultsSource,
    factor: str,
    factors: list[str],
    levels: tuple[Any, Any],
    contrast: Contrast,
    many: bool = False,
) -> Part:
    """`many`: one of several parts of this factor, so its name says which two levels."""
    keys = [f for f in factors if f != factor] + ([SEED] if SEED in rows else [])
    metric = "test_acc_at_best_val"
    if metric not in rows or rows[metric].isna().any():
        metric = "test_acc"
    result = paired_difference(rows, factor, levels[0], levels[1], keys, metric=metric)
    low, high, mean = result["ci_low"], result["ci_high"], result["mean_diff"]
    if contrast.little:
        verdict = REPRODUCED if mean < LITTLE else NOT_REPRODUCED
    else:
        verdict = direction_verdict(low)
    name = factor.removeprefix("param.")
    label = f"{name} {levels[0]} → {levels[1]}" if many else name
    p_text = "" if math.isnan(result["p_value"]) else f", p = {result['p_value']:.3g}"
    measured = (
        f"{name} {levels[0]} → {levels[1]}: {_pct(result['mean_a'])} → {_pct(result['mean_b'])} "
        f"({metric}), paired difference {100 * mean:+.2f} points over {result['n_pairs']} pair(s), "
        f"{_interval(low, high)}{p_text}"
    )
    involved = rows[rows[factor].isin(levels)]
    params = [rows.loc[rows[factor] == level, "params"].mean() for level in levels]
    measured += f"; parameters {params[0]:,.0f} → {params[1]:,.0f}"
    notes = [_budget_remark(involved)]
    if contrast.smaller_b and not params[1] < params[0]:
        notes.append("the net without conv layers is not the larger one here")
    return Part(
        contrast.claim,
        contrast.topic,
        f"{contrast.name} [{source.name}: {label}]",
        verdict if result["n_pairs"] else NOT_RUN,
        measured,
        sources=source.name,
        note="; ".join(n for n in notes if n),
        numbers=result,
    )
