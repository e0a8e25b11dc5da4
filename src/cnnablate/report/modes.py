"""The one place the report asks which kind of study a results folder holds (a grid of cells, or
an Optuna search): `ResultsSource.mode`, as `sources.py` records or guesses it."""

from __future__ import annotations

from cnnablate.report.sources import ResultsSource


def is_grid(source: ResultsSource) -> bool:
    return source.mode == "grid"


def is_search(source: ResultsSource) -> bool:
    return source.mode == "optuna"
