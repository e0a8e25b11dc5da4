"""The report's figures: matplotlib `Figure` objects (no pyplot, so no display or backend
state), seaborn for styling and heat maps.

Each function takes tables the report already computed and returns a figure; saving (PNG for
the HTML, SVG beside it) is `save`'s job.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator, NullFormatter

sns.set_theme(style="whitegrid", context="notebook")
PALETTE = sns.color_palette("colorblind")
MAX_CELLS_SHOWN = 10


def save(figure: Figure, folder: Path, name: str) -> Path:
    """`folder/name.png` (and `.svg`); returns the PNG's path."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    figure.savefig(png, dpi=100, bbox_inches="tight", metadata={"Software": None})
    figure.savefig(folder / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})
    return png


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _log_x(ax: Axes, values: np.ndarray) -> None:
    """A log x axis labelled 1k, 10M, ...; ticks at the data when they span under a decade."""
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if len(values) and values.max() / values.min() < 10:
        ax.set_xticks(np.unique(values))


def _grid(panels: int, width: float = 4.0, height: float = 3.2, columns: int = 3):
    columns = min(columns, panels)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    for ax in axes[panels:]:
        ax.set_visible(False)
    return figure, axes


def _small_multiples(panels: int, columns: int = 8, size: float = 1.5):
    """Many small axes without ticks (a layout engine over dozens of axes is slow to draw)."""
    columns = min(columns, panels)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(size * columns, size * rows + 0.5))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    top = 1 - 0.5 / (size * rows + 0.5)  # half an inch for the title
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=top, wspace=0.1, hspace=0.35)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    for ax in axes[panels:]:
        ax.set_visible(False)
    return figure, axes


def effects(table: pd.DataFrame) -> Figure:
    """Marginal mean test accuracy per level, with 95% intervals, a panel per factor."""
    factors = list(dict.fromkeys(table["factor"]))
    figure, axes = _grid(len(factors))
    for ax, factor in zip(axes, factors, strict=False):
        rows = table[table["factor"] == factor]
        x = np.arange(len(rows))
        mean = 100 * rows["mean"].to_numpy()
        low = mean - 100 * rows["ci_low"].to_numpy()
        high = 100 * rows["ci_high"].to_numpy() - mean
        ax.errorbar(x, mean, yerr=np.nan_to_num([low, high]), fmt="o", capsize=4, color=PALETTE[0])
        ax.set_xticks(x, [str(level) for level in rows["level"]])
        ax.set_title(factor)
        ax.set_ylabel("test accuracy (%)")
    figure.suptitle("Main effects: mean over the other factors and seeds, 95% CI")
    return figure


def learning_curves(curves: pd.DataFrame, metric: str) -> Figure:
    """Mean accuracy per step over seeds, band from lowest to highest seed, one line per cell."""
    figure = Figure(figsize=(9, 5), layout="constrained")
    ax = figure.subplots()
    for index, (cell, rows) in enumerate(curves.groupby("cell", sort=False)):
        by_step = rows.groupby("step")["acc"]
        steps = by_step.mean().index.to_numpy()
        color = PALETTE[index % len(PALETTE)]
        ax.plot(steps, 100 * by_step.mean().to_numpy(), label=cell, color=color)
        ax.fill_between(
            steps,
            100 * by_step.min().to_numpy(),
            100 * by_step.max().to_numpy(),
            color=color,
            alpha=0.2,
            linewidth=0,
        )
    ax.set_xlabel("SGD updates")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title("Learning curves: mean over seeds, band = range over seeds")
    return figure


def accuracy_against(cells: pd.DataFrame, x_column: str, x_label: str) -> Figure:
    """Cell mean test accuracy (95% CI) against a cost on a log axis."""
    figure = Figure(figsize=(8, 5), layout="constrained")
    ax = figure.subplots()
    for index, row in enumerate(cells.to_dict("records")):
        mean = 100 * row["test_acc_mean"]
        err = [[mean - 100 * row["test_acc_ci_low"]], [100 * row["test_acc_ci_high"] - mean]]
        ax.errorbar(
            row[x_column],
            mean,
            yerr=np.nan_to_num(err),
            fmt="o",
            capsize=3,
            color=PALETTE[index % len(PALETTE)],
            label=row["label"],
        )
    _log_x(ax, cells[x_column].to_numpy(dtype=float))
    ax.set_xlabel(x_label)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize="small")
    ax.set_title(f"Test accuracy against {x_label}")
    return figure


def throughput(cells: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(10, 0.45 * len(cells) + 1.6), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    y = np.arange(len(cells))
    for ax, column, title in zip(
        axes,
        ("train_samples_per_s", "eval_samples_per_s"),
        ("training samples/s (steady state)", "evaluation samples/s"),
        strict=True,
    ):
        values = cells[column].fillna(0).to_numpy(dtype=float)
        ax.barh(y, values, color=PALETTE[0])
        ax.set_title(title)
        _log_x(ax, values)
    axes[0].set_yticks(y, cells["label"])
    axes[0].invert_yaxis()
    return figure


def interaction_heatmaps(table: pd.DataFrame, orders: dict[str, list[Any]]) -> Figure:
    pairs = list(dict.fromkeys(zip(table["factor_a"], table["factor_b"], strict=True)))
    figure, axes = _grid(len(pairs), width=4.2, height=3.4)
    for ax, (first, second) in zip(axes, pairs, strict=False):
        rows = table[(table["factor_a"] == first) & (table["factor_b"] == second)]
        grid = rows.pivot_table(index="level_a", columns="level_b", values="mean", sort=False)
        grid = grid.reindex(
            index=_present(orders[first], grid.index),
            columns=_present(orders[second], grid.columns),
        )
        sns.heatmap(100 * grid, annot=True, fmt=".1f", cmap="viridis", cbar=False, ax=ax)
        ax.set_xlabel(second)
        ax.set_ylabel(first)
    figure.suptitle("Interactions: mean test accuracy (%) per pair of levels")
    return figure


def _present(order: list[Any], found: pd.Index) -> list[Any]:
    return [level for level in order if level in found] + [v for v in found if v not in order]


def misclassified(x: np.ndarray, y: np.ndarray, predicted: np.ndarray, shown: int = 24) -> Figure:
    """Test inputs the model gets wrong, titled true → predicted (images or 1-D signals)."""
    wrong = np.flatnonzero(predicted != y)[:shown]
    figure, axes = _small_multiples(max(1, len(wrong)))
    for ax, index in zip(axes, wrong, strict=False):
        sample = x[index]
        if sample.ndim == 3:  # (channels, height, width)
            ax.imshow(sample[0], cmap="gray_r")
        else:
            ax.plot(sample[0], color=PALETTE[0])
        ax.set_title(f"{y[index]} → {predicted[index]}", fontsize="small")
    figure.suptitle(f"Misclassified test inputs (true → predicted), first {len(wrong)}")
    return figure


def kernels(weight: np.ndarray, title: str) -> Figure:
    """First-layer kernels: (out, in, k) as curves, (out, in, k, k) as images (input channel 0),
    on one shared scale."""
    shown = weight[:32]
    figure, axes = _small_multiples(len(shown))
    limit = float(np.abs(shown).max()) or 1.0
    for index, (ax, kernel) in enumerate(zip(axes, shown, strict=False)):
        if kernel.ndim == 3:
            ax.imshow(kernel[0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.axhline(0, color="0.7", linewidth=0.8)
            for channel in kernel:
                ax.plot(channel, marker="o", markersize=2)
            ax.set_ylim(-limit, limit)
        ax.set_title(str(index), fontsize="small")
    figure.suptitle(title)
    return figure


def confusion(y: np.ndarray, predicted: np.ndarray, classes: int = 10) -> Figure:
    counts = np.zeros((classes, classes), dtype=int)
    np.add.at(counts, (y, predicted), 1)
    figure = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = figure.subplots()
    sns.heatmap(
        counts,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=False,
        ax=ax,
        annot_kws={"fontsize": "x-small"},
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix (test accuracy {100 * np.trace(counts) / counts.sum():.2f}%)")
    return figure


def optimisation_history(history: pd.DataFrame, metric: str) -> Figure:
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.subplots()
    done = history[history["state"] == "COMPLETE"]
    ax.scatter(done["trial"], done["objective"], color=PALETTE[0], label="trial")
    if "best" in history:
        ax.step(history["trial"], history["best"], where="post", color=PALETTE[1], label="best")
    others = history[history["state"] != "COMPLETE"]
    for trial in others["trial"]:
        ax.axvline(trial, color="0.8", linewidth=0.8, zorder=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (grey: pruned or failed)")
    ax.set_ylabel(metric)
    ax.legend()
    ax.set_title("Optimisation history")
    return figure


def importances(table: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(7, 0.5 * len(table) + 1.5), layout="constrained")
    ax = figure.subplots()
    ax.barh(table["parameter"], table["importance"], color=PALETTE[2])
    ax.invert_yaxis()
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title("Parameter importances")
    return figure
