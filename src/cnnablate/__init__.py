"""cnnablate: the lecture's convolutional-network experiments as reproducible ablations."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"


def load_results(path: str | Path) -> pd.DataFrame:
    """The results table of a results folder (e.g. `results/mnist1d-quick`) as a DataFrame: one
    row per finished trial, its factor levels in `param.*` columns, its metrics, provenance and
    times (README: "Results")."""
    from cnnablate.runner.results import read_results

    return read_results(Path(path))


def __getattr__(name: str) -> Any:
    """`cnnablate.run(...)` (api.py), `cnnablate.train(...)` and `cnnablate.report(...)` (the
    modules train.py and report/, callable: callable_modules.py), imported on first use so that
    `import cnnablate` stays light."""
    if name == "run":
        from cnnablate.api import run

        return run
    if name in ("train", "report"):
        return import_module(f"cnnablate.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
