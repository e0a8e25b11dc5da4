"""How the report writes numbers, in one place: accuracies as percentages with two decimals,
differences in percentage points, intervals in brackets."""

from __future__ import annotations

import math


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value: float | None, missing: str = "") -> str:
    """0.98765 → '98.77%'."""
    return missing if _missing(value) else f"{100 * value:.2f}%"


def points(value: float | None, missing: str = "") -> str:
    """A difference of accuracies: 0.0123 → '+1.23'."""
    return missing if _missing(value) else f"{100 * value:+.2f}"


def percent_interval(low: float | None, high: float | None) -> str:
    """'[97.10%, 98.40%]', or '' without an interval."""
    return "" if _missing(low) or _missing(high) else f"[{percent(low)}, {percent(high)}]"


def points_interval(low: float | None, high: float | None) -> str:
    """'95% CI [+0.12, +0.80] points', or 'no interval'."""
    if _missing(low) or _missing(high):
        return "no interval"
    return f"95% CI [{points(low)}, {points(high)}] points"
