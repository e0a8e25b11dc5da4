"""`cnnablate compare A B`: has anything changed between two results folders of the same spec?

Per cell (a combination of factor levels): the change in test accuracy B − A with its 95%
interval over seeds (paired by seed where both ran the same seeds, else Welch), an equivalence
verdict at a stated margin by two one-sided tests (TOST, α = 0.05: the 90% interval within
±margin), the training-throughput ratio B/A and both parameter counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cnnablate.errors import UserError
from cnnablate.report.sources import ResultsSource, load_source
from cnnablate.report.tables import t_interval, welch_interval

EQUIVALENT, WORSE, BETTER, UNDECIDED = "equivalent", "worse", "better", "undecided"


@dataclass(frozen=True)
class Difference:
    estimate: float
    low: float  # 95%
    high: float
    tost_low: float  # 90%: the TOST interval
    tost_high: float
    paired: bool


def difference(a: pd.Series, b: pd.Series) -> Difference:
    """b − a of test accuracy; `a`, `b` indexed by seed."""
    if len(a) >= 2 and sorted(a.index) == sorted(b.index):
        diffs = (b - a.reindex(b.index)).to_numpy(dtype=float)
        return Difference(diffs.mean(), *t_interval(diffs), *t_interval(diffs, 0.90), True)
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    both = (*welch_interval(x, y), *welch_interval(x, y, 0.90))
    return Difference(y.mean() - x.mean(), *both, False)


def verdict(diff: Difference, margin: float) -> str:
    """equivalent: the 90% interval lies within ±margin (TOST at α = 0.05); worse / better: the
    95% interval excludes 0 and the change is beyond the margin; else undecided."""
    if -margin < diff.tost_low and diff.tost_high < margin:
        return EQUIVALENT
    if diff.high < 0 and diff.estimate < -margin:
        return WORSE
    if diff.low > 0 and diff.estimate > margin:
        return BETTER
    return UNDECIDED


def comparable(a: ResultsSource, b: ResultsSource) -> list[str]:
    """The shared factor columns, or a UserError when the folders come from different specs."""
    if a.spec_hash and b.spec_hash and a.spec_hash != b.spec_hash and a.name != b.name:
        raise UserError(f"{a.path} and {b.path} come from different specs ({a.name}, {b.name})")
    if set(a.factors) != set(b.factors):
        raise UserError(
            f"{a.path} and {b.path} come from different specs: factors "
            f"{sorted(a.factors)} against {sorted(b.factors)}"
        )
    return a.factors


def compare(path_a: Path, path_b: Path, margin: float) -> pd.DataFrame:
    a, b = load_source(path_a), load_source(path_b)
    factors = comparable(a, b)
    rows = []
    cells_a = _cells(a.finished, factors)
    cells_b = _cells(b.finished, factors)
    common = [key for key in cells_a if key in cells_b]
    if not common:
        raise UserError(f"{path_a} and {path_b} share no finished cell: nothing to compare")
    for key in common:
        ta, tb = cells_a[key], cells_b[key]
        diff = difference(ta.set_index("seed")["test_acc"], tb.set_index("seed")["test_acc"])
        rows.append(
            {
                **dict(zip(factors, key, strict=True)),
                "n_a": len(ta),
                "n_b": len(tb),
                "acc_a": ta["test_acc"].mean(),
                "acc_b": tb["test_acc"].mean(),
                "change": diff.estimate,
                "ci_low": diff.low,
                "ci_high": diff.high,
                "paired": diff.paired,
                "verdict": verdict(diff, margin),
                "speed_ratio": tb["train_samples_per_s"].median()
                / ta["train_samples_per_s"].median(),
                "params_a": int(ta["params"].iloc[0]),
                "params_b": int(tb["params"].iloc[0]),
            }
        )
    return pd.DataFrame(rows)


def _cells(trials: pd.DataFrame, factors: list[str]) -> dict[tuple, pd.DataFrame]:
    if not factors:
        return {(): trials}
    return {
        key if isinstance(key, tuple) else (key,): rows
        for key, rows in trials.groupby(factors, sort=False, dropna=False)
    }


def markdown(table: pd.DataFrame, path_a: Path, path_b: Path, margin: float) -> str:
    factors = [c for c in table.columns if c.startswith("param.")]
    header = [
        *(f.removeprefix("param.") for f in factors),
        "n A/B",
        "test acc A",
        "test acc B",
        "B − A [95% CI]",
        f"±{100 * margin:g} pp",
        "speed B/A",
        "params A/B",
    ]
    lines = [
        f"# {path_b} against {path_a}",
        "",
        f"Test accuracy per cell over seeds (paired by seed where both ran the same ones); "
        f"equivalent when the 90% interval of B − A lies within ±{100 * margin:g} percentage "
        "points (TOST, α = 0.05); worse or better when the 95% interval excludes 0 and the "
        "change is beyond the margin. Speed: median training samples/s, B over A.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for row in table.to_dict("records"):
        cells = [
            *(str(row[f]) for f in factors),
            f"{row['n_a']}/{row['n_b']}",
            f"{100 * row['acc_a']:.2f}%",
            f"{100 * row['acc_b']:.2f}%",
            f"{100 * row['change']:+.2f} pp [{_pp(row['ci_low'])}, {_pp(row['ci_high'])}]",
            row["verdict"],
            f"{row['speed_ratio']:.2f}×",
            f"{row['params_a']:,}/{row['params_b']:,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pp(value: float) -> str:
    return f"{100 * value:+.2f}" if math.isfinite(value) else "n/a"
