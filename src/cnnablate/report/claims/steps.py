"""A step of the lecture: one preset against another with the lecture's accuracies, compared as
independent groups of trials (Welch), each preset measured by its data set's metric."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cnnablate.presets import PRESETS
from cnnablate.report.claims.outcome import Part, budget_remark, numbers_verdict, pct
from cnnablate.report.claims.trials import Trials
from cnnablate.report.formatting import points_interval
from cnnablate.report.metric import as_shown, metric_of
from cnnablate.report.tables import welch_interval


@dataclass(frozen=True)
class Step:
    """b improves on a, as the lecture says."""

    topic: str
    a: str
    b: str

    @property
    def claimed(self) -> tuple[float, float]:
        return PRESETS[self.a].lecture.acc, PRESETS[self.b].lecture.acc

    def part(self, trials: Trials, claim: int) -> Part | None:
        a, b = self.a, self.b
        rows_a, rows_b = trials.of_preset(a), trials.of_preset(b)
        if rows_a.empty or rows_b.empty:
            return None
        metric = metric_of(a)
        values_a, values_b = metric.values(rows_a), metric.values(rows_b)
        mean_a, mean_b = values_a.mean(), values_b.mean()
        low, high = welch_interval(values_a.to_numpy(), values_b.to_numpy())
        as_error = PRESETS[a].lecture.as_error  # ours in the lecture's own measure
        shown = (lambda v: pct(1 - v)) if as_error else pct
        measured = (
            f"{b} {shown(mean_b)} (n={len(rows_b)}) vs {a} {shown(mean_a)} (n={len(rows_a)}) "
            f"{as_shown(metric.label, as_error)}; difference {100 * (mean_b - mean_a):+.2f} "
            f"points, {points_interval(low, high)}"
        )
        both = pd.concat([rows_a, rows_b])
        return Part(
            claim,
            self.topic,
            f"{a} → {b}",
            numbers_verdict(mean_a, mean_b, self.claimed, low, high),
            measured,
            sources=", ".join(sorted(set(both["source"]))),
            note=budget_remark(both),
            numbers={"mean_a": mean_a, "mean_b": mean_b, "ci_low": low, "ci_high": high},
        )
