"""The headline a reader of the lecture wants first: each of its networks' test accuracy in the
lecture beside ours, with our 95% interval, the number of seeds and the budget it ran at."""

from __future__ import annotations

import math

import pandas as pd
from pydantic import ValidationError

from cnnablate.config import DataConfig
from cnnablate.presets import PRESETS
from cnnablate.report.budgets import preset_budget_steps
from cnnablate.report.claims.claim4 import ENSEMBLE
from cnnablate.report.claims.lecture import CLAIMS
from cnnablate.report.claims.outcome import Part
from cnnablate.report.claims.trials import Trials
from cnnablate.report.formatting import percent, percent_interval
from cnnablate.report.metric import as_shown, metric_of
from cnnablate.report.tables import accuracy_interval


def lecture_networks() -> dict[str, list[int]]:
    """Every network the claims compare, in the claims' order, with the claims it serves."""
    networks: dict[str, list[int]] = {}
    for claim in CLAIMS.values():
        for step in claim.steps:
            for name in (step.a, step.b):
                networks.setdefault(name, [])
                if claim.number not in networks[name]:
                    networks[name].append(claim.number)
    return networks


def budget_fraction(trials: Trials, rows: pd.DataFrame, preset: str) -> float:
    """Updates run over the preset's own budget, the mean over the rows' trials."""
    fractions = []
    for index, row in rows.iterrows():
        config = trials.configs[index]
        try:
            data = DataConfig.model_validate(config["data"]) if config else None
        except ValidationError:
            data = None
        own = preset_budget_steps(preset, data) if data is not None else None
        if own and not pd.isna(row.get("steps")):
            fractions.append(min(1.0, float(row["steps"]) / own))
    return sum(fractions) / len(fractions) if fractions else math.nan


def budget_text(fraction: float) -> str:
    if math.isnan(fraction):
        return "unknown"
    return "full" if fraction >= 0.999 else f"† {100 * fraction:.3g}% of it"


def headline_table(trials: Trials, parts: list[Part]) -> pd.DataFrame:
    """One row per lecture network that ran here (and the ensemble of claim 4 if it ran)."""
    rows = []
    for name, claims in lecture_networks().items():
        preset = PRESETS[name]
        matched = trials.of_preset(name)
        if matched.empty or preset.lecture is None:
            continue
        metric = metric_of(name)
        values = metric.values(matched)
        low, high = accuracy_interval(values)
        rows.append(
            {
                "claims": ", ".join(str(c) for c in claims),
                "network": name,
                "dataset": preset.dataset,
                "lecture": preset.claimed,
                "lecture_acc": preset.lecture.acc,
                "measured": float(values.mean()),
                "ci_low": low,
                "ci_high": high,
                "n": len(values),
                "budget": budget_text(budget_fraction(trials, matched, name)),
                "metric": metric.label,
                "as_error": preset.lecture.as_error,
            }
        )
    ensemble = next((p for p in parts if p.topic == ENSEMBLE.topic and p.numbers), None)
    dropout = next((r for r in rows if r["network"] == ENSEMBLE.preset), None)
    if ensemble is not None and dropout is not None:
        rows.append(
            {
                **dropout,
                "claims": str(ensemble.claim),
                "network": ENSEMBLE.name,
                "lecture": f"{100 * ENSEMBLE.acc:.2f}%",
                "lecture_acc": ENSEMBLE.acc,
                "measured": ensemble.numbers["ensemble"],
                "ci_low": math.nan,
                "ci_high": math.nan,
                "n": ensemble.numbers.get("members", dropout["n"]),
                "metric": "test acc of the majority vote",
            }
        )
    return pd.DataFrame(rows)


def for_reading(table: pd.DataFrame) -> pd.DataFrame:
    """The headline as a reader sees it: lecture, ours [95% CI], n, budget; ours as a test
    error where the lecture gives one."""
    rows = [reading_row(row) for row in table.to_dict("records")]
    columns = ["claim", "network", "lecture", "ours", "95% CI", "n", "budget", "measured as"]
    return pd.DataFrame(rows, columns=columns)


def reading_row(row: dict) -> list:
    value, low, high, metric = row["measured"], row["ci_low"], row["ci_high"], row["metric"]
    if row.get("as_error"):
        value, low, high = 1 - value, 1 - high, 1 - low
    metric = as_shown(metric, bool(row.get("as_error")))
    interval = percent_interval(low, high) or "–"
    return [row["claims"], row["network"], row["lecture"], percent(value), interval, row["n"],
            row["budget"], metric]  # fmt: skip
