"""Which accuracy stands for a network, decided once, by its data set: UDL's MNIST-1D networks
by their final test accuracy, Nielsen's MNIST networks as he measures them, by the test accuracy
at the epoch of best validation accuracy. The headline and the claims both ask `metric_of`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cnnablate.presets import PRESETS

FINAL, AT_BEST_VAL = "test_acc", "test_acc_at_best_val"


@dataclass(frozen=True)
class Metric:
    """A column of the results table and its name in the report."""

    column: str
    label: str

    def values(self, rows: pd.DataFrame) -> pd.Series:
        """The metric per trial; the final test accuracy where a trial did not record it."""
        recorded = rows.get(self.column)
        return rows[FINAL] if recorded is None else recorded.fillna(rows[FINAL])


TEST_ACC = Metric(FINAL, "test acc")
NIELSEN = Metric(AT_BEST_VAL, "test acc at best val")


def dataset_metric(dataset: str) -> Metric:
    return TEST_ACC if dataset == "mnist1d" else NIELSEN


def metric_of(preset: str) -> Metric:
    return dataset_metric(PRESETS[preset].dataset)


def as_shown(label: str, as_error: bool) -> str:
    """The metric's name where the lecture gives a test error and ours is shown as one."""
    return label.replace("test acc", "test error") if as_error else label


def paired_column(rows: pd.DataFrame) -> str:
    """Factor levels are compared pair by pair on one column: accuracy at best validation where
    every trial recorded it, else the final test accuracy for all (a grid may mix data sets)."""
    if AT_BEST_VAL not in rows or rows[AT_BEST_VAL].isna().any():
        return FINAL
    return AT_BEST_VAL
