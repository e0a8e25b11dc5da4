"""What a claim's evidence comes to: a `Part` (one comparison or probe, with its verdict), the
verdicts a part can have, and the rules that turn measured numbers into one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cnnablate.report.formatting import percent

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"
PARTLY = "reproduced (partly run)"
# The lecture's direction, clearly (the interval excludes zero), but not its numbers: e.g. a
# CNN that beats the fully connected net by more than the lecture says, or a short budget.
DIRECTION_ONLY = "direction reproduced, size differs"
TOLERANCE = 0.02  # two means within 2 percentage points of the lecture's: its numbers hold
SHORT_MARK = "†"


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


def pct(value: float) -> str:
    return percent(value, missing="n/a")


def budget_remark(rows: pd.DataFrame) -> str:
    notes = sorted({n for n in rows.get("budget", pd.Series(dtype=object)) if n})
    return f"{SHORT_MARK} short budget: {', '.join(notes)}" if notes else ""


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


def short(part: Part) -> bool:
    return part.note.startswith(SHORT_MARK)


def outweighed(part: Part, parts: list[Part]) -> bool:
    """A short-budget part on a topic that also has full-budget evidence: shown, not counted
    (one epoch of a network does not overrule its full training)."""
    return short(part) and any(
        p.topic == part.topic and p.verdict != NOT_RUN and not short(p) for p in parts
    )
