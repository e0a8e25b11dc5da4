"""The statistics of an A/B: a time ratio with its 95% interval over paired rounds, and a verdict
that is "slower" or "faster" only when the interval says so at the tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Ratio:
    """Time of the tree under test over the reference's: > 1 is slower."""

    estimate: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width on the log scale, as a fraction (0.03: about ±3%)."""
        return (math.log(self.high) - math.log(self.low)) / 2


def paired_ratio(reference: list[float], tested: list[float]) -> Ratio:
    """Geometric mean of the per-round ratios tested/reference, with a t interval on their logs
    (each round measures both sides back to back, so the machine's drift cancels in the ratio)."""
    logs = [math.log(t / r) for r, t in zip(reference, tested, strict=True)]
    return log_interval(logs)


def unpaired_ratio(reference: list[float], tested: list[float]) -> Ratio:
    """Ratio of geometric means with a Welch interval on the logs (a stored baseline's rounds
    against this run's: nothing pairs them)."""
    a, b = [math.log(v) for v in reference], [math.log(v) for v in tested]
    mean = sum(b) / len(b) - sum(a) / len(a)
    va, vb = _variance(a) / len(a), _variance(b) / len(b)
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se else 1.0
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, dof)
    return Ratio(math.exp(mean), math.exp(mean - t * se), math.exp(mean + t * se), len(b))


def log_interval(logs: list[float]) -> Ratio:
    n = len(logs)
    mean = sum(logs) / n
    se = math.sqrt(_variance(logs) / n) if n > 1 else math.inf
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) if n > 1 else math.inf
    return Ratio(math.exp(mean), math.exp(mean - t * se), math.exp(mean + t * se), n)


def _variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


SLOWER, FASTER, SAME, INCONCLUSIVE = "slower", "faster", "same", "inconclusive"


def verdict(ratio: Ratio, tolerance: float) -> str:
    """- slower: the whole interval lies above 1 + tolerance/2;
    - faster: the whole interval lies below 1 / (1 + tolerance/2);
    - same: the whole interval lies within [1 / (1 + tolerance), 1 + tolerance];
    - inconclusive: none of these (the interval is too wide).

    Why half the tolerance for slower and faster: a slowdown of exactly the tolerance puts the
    interval's centre on 1 + tolerance, so a rule that waited for the whole interval to clear
    1 + tolerance would catch it only half the time. Clearing 1 + tolerance/2 catches it
    whenever the interval is narrower than ±tolerance/2, and unchanged code (centred on 1) is
    called slower only if the interval misses it by more than tolerance/2.
    """
    detect = 1 + tolerance / 2
    if ratio.low > detect:
        return SLOWER
    if ratio.high < 1 / detect:
        return FASTER
    if ratio.low >= 1 / (1 + tolerance) and ratio.high <= 1 + tolerance:
        return SAME
    return INCONCLUSIVE


def rounds_to_settle(ratio: Ratio, tolerance: float) -> int:
    """Rounds after which an interval of this spread would be narrow enough (±tolerance/4 on the
    log scale) to say same, slower or faster: the width shrinks with the root of the rounds."""
    if not math.isfinite(ratio.half_width):
        return 2 * max(ratio.n, 2)
    wanted = math.log(1 + tolerance / 4)
    return max(ratio.n + 1, math.ceil(ratio.n * (ratio.half_width / wanted) ** 2))
