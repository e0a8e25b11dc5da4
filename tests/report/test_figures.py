"""Every figure of the report, drawn from awkward but real-shaped tables: it must show its data
(lines, markers, bars or cells with data in them) and no two tick labels of an axis may overlap.
The tables are those that broke the old figures: ten long preset names on one axis, trials
with a single evaluation, long level names in a heat map."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection, LineCollection, PathCollection
from matplotlib.figure import Figure

from cnnablate.report import figures

PRESETS = [
    "nielsen-mlp30-mse",
    "nielsen-mlp100-mse",
    "nielsen-mlp100-bce",
    "nielsen-shallow",
    "nielsen-conv1",
    "nielsen-conv2",
    "nielsen-conv2-relu",
    "nielsen-expanded",
    "nielsen-fc2",
    "nielsen-dropout",
]


def drawn(figure: Figure) -> dict[Axes, int]:
    """Per visible axes: how many artists carry data (a line of two finite points or with a
    marker, a non-empty collection, a bar of non-zero size)."""
    counts = {}
    for ax in figure.axes:
        if not ax.get_visible():
            continue
        count = 0
        for line in ax.get_lines():
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            finite = int(np.isfinite(x).sum() and np.isfinite(y).sum() and len(x))
            marked = line.get_marker() not in (None, "None", "", " ")
            count += bool(finite and (len(x) >= 2 or marked))
        for collection in ax.collections:
            count += _collection_has_data(collection)
        count += sum(
            p.get_width() * p.get_height() != 0 for p in ax.patches if hasattr(p, "get_width")
        )
        count += len(ax.images)
        counts[ax] = count
    return counts


def _collection_has_data(collection: Collection) -> bool:
    """Markers (a scatter's offsets), line segments of some length and width, or filled
    shapes with an area: a band over a single step has none, and draws nothing."""
    if isinstance(collection, PathCollection):
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        return bool(len(offsets) and np.isfinite(offsets).any())
    if isinstance(collection, LineCollection):
        widths = np.asarray(collection.get_linewidths(), dtype=float)
        segments = collection.get_segments()
        return bool(widths.max(initial=0) > 0 and any(np.ptp(s, axis=0).any() for s in segments))
    return any(
        (box := path.get_extents()).width > 0 and box.height > 0 for path in collection.get_paths()
    )


def overlapping_ticks(figure: Figure) -> list[tuple[str, str]]:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    clashes = []
    for ax in figure.axes:
        if not ax.get_visible():
            continue
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [t for t in labels if t.get_visible() and t.get_text().strip()]
            boxes = [
                (t.get_text(), t.get_window_extent(renderer).expanded(0.98, 0.98)) for t in shown
            ]
            for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
                if box_a.overlaps(box_b):
                    clashes.append((a, b))
    return clashes


def check(figure: Figure) -> None:
    counts = drawn(figure)
    assert counts and all(counts.values()), f"axes without data: {counts}"
    assert overlapping_ticks(figure) == []


def effects_table(levels: list[str]) -> pd.DataFrame:
    means = np.linspace(0.95, 0.995, len(levels))
    return pd.DataFrame(
        {
            "factor": "preset",
            "level": levels,
            "mean": means,
            "ci_low": means - 0.004,
            "ci_high": np.minimum(1, means + 0.004),
        }
    )


def test_effects_of_ten_long_preset_names_are_readable():
    check(figures.effects(effects_table(PRESETS)))


def test_effects_of_several_small_factors():
    table = pd.concat(
        [effects_table(["sigmoid", "relu"]).assign(factor="activation"),
         effects_table(["mse", "bce", "ce"]).assign(factor="loss")]
    )  # fmt: skip
    check(figures.effects(table))


def test_learning_curves_of_trials_with_one_evaluation_still_show_them():
    curves = pd.DataFrame(
        {"cell": PRESETS[:4], "seed": 0, "step": 4000, "acc": [0.9, 0.92, 0.95, 0.97]}
    )
    check(figures.learning_curves(curves, "test_acc"))


def test_learning_curves_of_long_runs():
    steps = np.arange(1, 21) * 100
    curves = pd.DataFrame(
        [
            {"cell": c, "seed": s, "step": t, "acc": 0.5 + t / 5000}
            for c in PRESETS[:3]
            for s in (0, 1)
            for t in steps
        ]
    )
    check(figures.learning_curves(curves, "val_acc"))


def cells(labels: list[str]) -> pd.DataFrame:
    n = len(labels)
    return pd.DataFrame(
        {
            "label": labels,
            "test_acc_mean": np.linspace(0.9, 0.99, n),
            "test_acc_ci_low": np.linspace(0.89, 0.985, n),
            "test_acc_ci_high": np.linspace(0.91, 0.995, n),
            "params": np.geomspace(1e3, 1e6, n),
            "train_flops": np.geomspace(1e10, 1e13, n),
            "train_samples_per_s": np.geomspace(1e3, 3e4, n),
            "eval_samples_per_s": np.geomspace(1e4, 3e5, n),
        }
    )


@pytest.mark.parametrize("column", ["params", "train_flops"])
def test_accuracy_against_cost(column):
    check(figures.accuracy_against(cells(PRESETS), column, column))


def test_throughput_with_long_labels():
    long = [f"architecture=cnn, model.activation=sigmoid, loss={p}" for p in PRESETS]
    check(figures.throughput(cells(long)))


def test_interaction_heat_maps_with_long_level_names():
    rows = [
        {
            "factor_a": "augmentation",
            "level_a": a,
            "factor_b": "architecture",
            "level_b": b,
            "n": 3,
            "mean": 0.9,
        }
        for a in ("none", "shift-one-pixel-random")
        for b in ("convolutional-two-layers", "fully-connected-two-layers", "one-conv-layer")
    ]
    orders = {
        "augmentation": ["none", "shift-one-pixel-random"],
        "architecture": [
            "convolutional-two-layers",
            "fully-connected-two-layers",
            "one-conv-layer",
        ],
    }
    check(figures.interaction_heatmaps(pd.DataFrame(rows), orders))


def test_headline_of_both_data_sets():
    table = pd.DataFrame(
        {
            "network": ["udl-fc", "udl-cnn", *PRESETS[3:]],
            "dataset": ["mnist1d"] * 2 + ["mnist"] * 7,
            "lecture_acc": [0.60, 0.83, 0.978, 0.9878, 0.9906, 0.9923, 0.9937, 0.9943, 0.996],
            "measured": [0.62, 0.85, 0.97, 0.98, 0.985, 0.99, 0.99, 0.992, 0.993],
            "ci_low": [0.6, 0.84, 0.96, 0.975, 0.98, 0.985, 0.985, 0.99, 0.99],
            "ci_high": [0.64, 0.86, 0.975, 0.985, 0.99, 0.993, 0.993, 0.994, 0.995],
            "budget": ["full", "full", "† 1.67% of it", *["full"] * 6],
        }
    )
    check(figures.headline(table))


def test_optuna_figures():
    history = pd.DataFrame(
        {
            "trial": range(6),
            "state": ["COMPLETE"] * 5 + ["PRUNED"],
            "objective": np.linspace(0.5, 0.8, 6),
        }
    )
    history["best"] = history["objective"].cummax()
    check(figures.optimisation_history(history, "val_acc"))
    importances = pd.DataFrame(
        {
            "parameter": ["optim.lr", "model.conv.0.channels-and-a-long-tail"],
            "importance": [0.7, 0.3],
        }
    )
    check(figures.importances(importances))


def test_model_figures():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200)
    predicted = np.where(rng.random(200) < 0.8, y, rng.integers(0, 10, 200))
    check(figures.confusion(y, predicted))
    check(figures.misclassified(rng.random((200, 1, 28, 28)), y, predicted))
    check(figures.kernels(rng.standard_normal((20, 1, 5, 5)), "kernels"))


def test_the_checks_fail_on_an_empty_axes_and_on_overlapping_labels():
    empty = Figure()
    ax = empty.subplots()
    ax.plot([1.0], [2.0])  # one point, no marker: nothing visible
    ax.fill_between([1.0], [1.0], [3.0])  # a band over one step: no area
    assert not all(drawn(empty).values())
    crowded = Figure(figsize=(3, 2))
    ax = crowded.subplots()
    ax.errorbar(range(10), range(10), fmt="o")
    ax.set_xticks(range(10), PRESETS)
    assert overlapping_ticks(crowded)


def test_a_figure_saved_twice_gives_the_same_files(tmp_path):
    def draw() -> Figure:
        figure = Figure(figsize=(3, 2))
        axes = figure.subplots()
        axes.plot([0, 1, 2], [1, 3, 2])
        axes.set_title("clip paths and ids")
        return figure

    for folder in ("a", "b"):
        figures.save(draw(), tmp_path / folder, "curve")
    for suffix in (".png", ".svg"):
        first = (tmp_path / "a" / f"curve{suffix}").read_bytes()
        assert first == (tmp_path / "b" / f"curve{suffix}").read_bytes()
