"""A contrast of a factor's levels within one grid (e.g. `loss` mse → ce): the levels whose every
trial is on the lecture's side a against those on side b, trials paired on every other factor
and the seed (paired t)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cnnablate.report.claims.outcome import (
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    Part,
    budget_remark,
    direction_verdict,
    pct,
)
from cnnablate.report.claims.trials import Config, Trials
from cnnablate.report.formatting import points_interval
from cnnablate.report.metric import paired_column
from cnnablate.report.sources import ResultsSource
from cnnablate.report.tables import SEED, paired_difference
from cnnablate.report.trained import has_conv


def data_name(config: Config) -> str:
    return config["data"]["name"]


def no_conv(config: Config) -> bool:
    return not has_conv(config)


@dataclass(frozen=True)
class Contrast:
    topic: str
    name: str
    a: Callable[[Config], bool]
    b: Callable[[Config], bool]
    scope: Callable[[Config], bool] = lambda config: True
    little: float | None = None  # the lecture says b adds little over a: a mean gain below this
    smaller_b: bool = False  # the claim compares b against a net with more parameters

    def parts(self, trials: Trials, source: ResultsSource, claim: int) -> list[Part]:
        rows, configs = self.in_scope(trials, source)
        factors = [f for f in source.factors if f != "param.preset" and f in rows]
        parts = []
        for factor in factors:
            side_a, side_b = self.sides(rows, configs, factor)
            many = len(side_a[:1]) * len(side_b) > 1
            for level_a in side_a[:1]:
                for level_b in side_b:
                    pair = Levels(factor, level_a, level_b, many)
                    parts.append(self.part(rows, source, factors, pair, claim))
        return parts

    def in_scope(self, trials: Trials, source: ResultsSource) -> tuple[pd.DataFrame, list[Config]]:
        """The source's trials this contrast looks at, and their configs: networks of the
        builder (a user's `model.factory` network is none of the lecture's kinds)."""
        frame = trials.frame[trials.frame["source"] == source.name]
        configs = [trials.configs[i] for i in frame.index.to_numpy()]
        keep = [c is not None and not c["model"].get("factory") and self.scope(c) for c in configs]
        rows = frame[keep].reset_index(drop=True)
        return rows, [c for c, kept in zip(configs, keep, strict=True) if kept]

    def sides(
        self, rows: pd.DataFrame, configs: list[Config], factor: str
    ) -> tuple[list[Any], list[Any]]:
        """Levels of `factor` whose every trial is on side a, and those on side b."""
        side_a, side_b = [], []
        for level in dict.fromkeys(rows[factor]):
            members = [configs[i] for i in np.flatnonzero((rows[factor] == level).to_numpy())]
            if all(self.a(c) for c in members):
                side_a.append(level)
            elif all(self.b(c) for c in members):
                side_b.append(level)
        return side_a, side_b

    def verdict(self, low: float, mean: float) -> str:
        if self.little is not None:
            return REPRODUCED if mean < self.little else NOT_REPRODUCED
        return direction_verdict(low)

    def part(
        self,
        rows: pd.DataFrame,
        source: ResultsSource,
        factors: list[str],
        pair: Levels,
        claim: int,
    ) -> Part:
        factor, levels = pair.factor, (pair.a, pair.b)
        keys = [f for f in factors if f != factor] + ([SEED] if SEED in rows else [])
        metric = paired_column(rows)
        result = paired_difference(rows, factor, levels[0], levels[1], keys, metric=metric)
        params = [rows.loc[rows[factor] == level, "params"].mean() for level in levels]
        notes = [budget_remark(rows[rows[factor].isin(levels)])]
        if self.smaller_b and not params[1] < params[0]:
            notes.append("the net without conv layers is not the larger one here")
        verdict = self.verdict(result["ci_low"], result["mean_diff"])
        return Part(
            claim,
            self.topic,
            f"{self.name} [{source.name}: {pair.label}]",
            verdict if result["n_pairs"] else NOT_RUN,
            paired_text(pair, result, metric, params),
            sources=source.name,
            note="; ".join(n for n in notes if n),
            numbers=result,
        )


@dataclass(frozen=True)
class Levels:
    """Two levels of a factor; `many`: one of several pairs of this factor, so its label says
    which two levels."""

    factor: str
    a: Any
    b: Any
    many: bool = False

    @property
    def name(self) -> str:
        return self.factor.removeprefix("param.")

    @property
    def label(self) -> str:
        return f"{self.name} {self.a} → {self.b}" if self.many else self.name


def paired_text(pair: Levels, result: dict[str, Any], metric: str, params: list[float]) -> str:
    low, high, mean = result["ci_low"], result["ci_high"], result["mean_diff"]
    p_text = "" if math.isnan(result["p_value"]) else f", p = {result['p_value']:.3g}"
    return (
        f"{pair.name} {pair.a} → {pair.b}: {pct(result['mean_a'])} → {pct(result['mean_b'])} "
        f"({metric}), paired difference {100 * mean:+.2f} points over {result['n_pairs']} pair(s), "
        f"{points_interval(low, high)}{p_text}; parameters {params[0]:,.0f} → {params[1]:,.0f}"
    )
