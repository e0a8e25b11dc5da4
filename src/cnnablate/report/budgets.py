"""Which trials trained less than their preset asks for, so no short run passes unmarked.

A trial is marked when it ran with a step cap (`cnnablate run --max-steps`) or when its budget
in SGD updates is below the one its preset would have given it (a spec's `budget` overrides the
preset's own).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import ValidationError

from cnnablate.config import DataConfig
from cnnablate.data import batches_per_epoch
from cnnablate.presets import PRESETS
from cnnablate.report.sources import ResultsSource


def preset_budget_steps(preset: str, data: DataConfig) -> int | None:
    """The preset's own budget in SGD updates on this trial's data (None: unknown preset)."""
    if preset not in PRESETS:
        return None
    train = PRESETS[preset].config.train
    if train.max_steps is not None:
        return train.max_steps
    return train.max_epochs * batches_per_epoch(data)


def budget_note(row: dict[str, Any], config: dict[str, Any] | None) -> str:
    """'' for a full-budget trial, else what was cut: the step cap, the shortfall."""
    notes = []
    cap = row.get("step_cap")
    if cap is not None and not pd.isna(cap):
        notes.append(f"step cap {int(cap):,}")
    budget, preset = row.get("budget_steps"), row.get("preset")
    if config is not None and isinstance(preset, str) and not pd.isna(budget):
        try:
            own = preset_budget_steps(preset, DataConfig.model_validate(config["data"]))
        except ValidationError:  # a config from an older version: no comparison
            own = None
        if own is not None and budget < own:
            notes.append(f"{int(budget):,} of {preset}'s {own:,} steps")
    return "; ".join(notes)


def budget_notes(source: ResultsSource) -> pd.Series:
    """A note per finished trial of `source` (index aligned with `source.finished`)."""
    rows = source.finished.to_dict("records")
    notes = [
        budget_note(row, config) for row, config in zip(rows, source.finished_configs, strict=True)
    ]
    return pd.Series(notes, dtype=object)
