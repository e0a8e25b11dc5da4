"""cnnablate: the lecture's convolutional-network experiments as reproducible ablations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"


def load_results(path: str | Path) -> pd.DataFrame:
    """The results table of a results folder (e.g. `results/mnist1d-quick`) as a DataFrame: one
    row per finished trial, its factor levels in `param.*` columns, its metrics, provenance and
    times (README: "Results")."""
    from cnnablate.runner.results import read_results

    return read_results(Path(path))
