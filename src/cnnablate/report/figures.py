"""The report's figures: matplotlib `Figure` objects (no pyplot, so no display or backend
state), seaborn for styling and heat maps.

Each function takes tables the report already computed and returns a figure; saving (PNG for
the HTML, SVG beside it) is `save`'s job.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator, NullFormatter

sns.set_theme(style="whitegrid", context="notebook")
PALETTE = sns.color_palette("colorblind")
MAX_CELLS_SHOWN = 10
LABEL_WIDTH = 28  # characters per line of a long tick label
SORT_ABOVE = 6  # levels shown in the spec's order up to this many, else sorted by the mean
FEW_POINTS = 3  # a series with fewer points gets markers: a line of one point draws nothing


def wrapped(label: Any, width: int = LABEL_WIDTH, hyphens: bool = False) -> str:
    """A long label over several lines (at spaces; `hyphens`: also after hyphens)."""
    return textwrap.fill(str(label), width=width, break_on_hyphens=hyphens)


def _marker(points: int) -> str | None:
    return "o" if points < FEW_POINTS else None


def save(figure: Figure, folder: Path, name: str) -> Path:
    """`folder/name.png` (and `.svg`); returns the PNG's path."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    figure.savefig(png, dpi=100, bbox_inches="tight", metadata={"Software": None})
    # A fixed salt makes the SVG's element ids (random by default) the same on every rebuild.
    with matplotlib.rc_context({"svg.hashsalt": name}):
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
    """Marginal mean test accuracy per level with its 95% interval, a panel per factor; levels
    on the vertical axis (long names stay readable), sorted by the mean when there are many."""
    factors = list(dict.fromkeys(table["factor"]))
    most = max((table["factor"] == f).sum() for f in factors)
    lines = max(wrapped(level).count("\n") + 1 for level in table["level"])
    columns = 1 if most > SORT_ABOVE else 2
    height = 0.3 * (lines + 0.5) * most + 1.4
    figure, axes = _grid(len(factors), width=6.5, height=height, columns=columns)
    for ax, factor in zip(axes, factors, strict=False):
        rows = table[table["factor"] == factor]
        if len(rows) > SORT_ABOVE:
            rows = rows.sort_values("mean")
        y = np.arange(len(rows))
        mean = 100 * rows["mean"].to_numpy(dtype=float)
        low = mean - 100 * rows["ci_low"].to_numpy(dtype=float)
        high = 100 * rows["ci_high"].to_numpy(dtype=float) - mean
        ax.errorbar(mean, y, xerr=np.nan_to_num([low, high]), fmt="o", capsize=4, color=PALETTE[0])
        ax.set_yticks(y, [wrapped(level) for level in rows["level"]])
        ax.set_ylim(-0.5, len(rows) - 0.5)
        ax.set_title(factor)
        ax.set_xlabel("test accuracy (%)")
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
        ax.plot(
            steps,
            100 * by_step.mean().to_numpy(),
            label=wrapped(cell, 40),
            color=color,
            marker=_marker(len(steps)),
        )
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
            label=wrapped(row["label"], 40),
        )
    _log_x(ax, cells[x_column].to_numpy(dtype=float))
    ax.set_xlabel(x_label)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize="small")
    ax.set_title(f"Test accuracy against {x_label}")
    return figure


def throughput(cells: pd.DataFrame) -> Figure:
    labels = [wrapped(label) for label in cells["label"]]
    lines = max(label.count("\n") + 1 for label in labels)
    figure = Figure(figsize=(10, 0.3 * (lines + 0.5) * len(cells) + 1.6), layout="constrained")
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
    axes[0].set_yticks(y, labels)
    axes[0].invert_yaxis()
    return figure


def interaction_heatmaps(table: pd.DataFrame, orders: dict[str, list[Any]]) -> Figure:
    pairs = list(dict.fromkeys(zip(table["factor_a"], table["factor_b"], strict=True)))
    most = max(table.groupby(["factor_a", "factor_b"])["level_b"].nunique())
    figure, axes = _grid(len(pairs), width=max(4.2, 1.4 * most + 1.5), height=3.4)
    for ax, (first, second) in zip(axes, pairs, strict=False):
        rows = table[(table["factor_a"] == first) & (table["factor_b"] == second)]
        grid = rows.pivot_table(index="level_a", columns="level_b", values="mean", sort=False)
        grid = grid.reindex(
            index=_present(orders[first], grid.index),
            columns=_present(orders[second], grid.columns),
        )
        sns.heatmap(100 * grid, annot=True, fmt=".1f", cmap="viridis", cbar=False, ax=ax)
        ax.set_xticks(ax.get_xticks(), [wrapped(c, 14, True) for c in grid.columns], rotation=0)
        ax.set_yticks(ax.get_yticks(), [wrapped(i, 16, True) for i in grid.index], rotation=0)
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
    ax.barh([wrapped(p) for p in table["parameter"]], table["importance"], color=PALETTE[2])
    ax.invert_yaxis()
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title("Parameter importances")
    return figure


def headline(table: pd.DataFrame) -> Figure:
    """Each lecture network: the lecture's test accuracy (a cross) and ours (mean, 95% CI),
    a panel per data set, networks on the vertical axis, short budgets marked †."""
    datasets = list(dict.fromkeys(table["dataset"]))
    most = max((table["dataset"] == d).sum() for d in datasets)
    figure = Figure(figsize=(7.5 * len(datasets), 0.5 * most + 1.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(datasets), squeeze=False).ravel())
    for ax, dataset in zip(axes, datasets, strict=True):
        rows = table[table["dataset"] == dataset]
        y = np.arange(len(rows))
        mean = 100 * rows["measured"].to_numpy(dtype=float)
        err = [
            mean - 100 * rows["ci_low"].to_numpy(dtype=float),
            100 * rows["ci_high"].to_numpy(dtype=float) - mean,
        ]
        ax.errorbar(
            mean, y, xerr=np.nan_to_num(err), fmt="o", capsize=3, color=PALETTE[0], label="ours"
        )
        ax.scatter(
            100 * rows["lecture_acc"].to_numpy(dtype=float),
            y,
            marker="x",
            s=60,
            color=PALETTE[3],
            label="lecture",
            zorder=3,
        )
        labels = [
            wrapped(f"{name}{' †' if budget != 'full' else ''}")
            for name, budget in zip(rows["network"], rows["budget"], strict=True)
        ]
        ax.set_yticks(y, labels)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel("test accuracy (%)")
        ax.set_title(dataset)
        ax.legend(fontsize="small", loc="lower left")
    figure.suptitle("The lecture's numbers and ours († below the lecture's budget)")
    return figure
