"""The report's tables against the same numbers computed another way: plain Python
(`statistics`, loops over rows) with t quantiles written out, on a hand-made table and on the
tables of a report built from a real tiny run."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from itertools import product

import pandas as pd
import pytest
from scipy import stats

from cnnablate.report.tables import (
    accuracy_interval,
    cell_table,
    interactions,
    main_effects,
    paired_comparisons,
    t_interval,
    welch_interval,
)

T975 = {1: 12.706204736174705, 2: 4.302652729911275, 3: 3.182446305284263, 5: 2.570581835636315}


def hand_made() -> pd.DataFrame:
    """Factor `a` (2 levels) × factor `b` (3 levels) × 3 seeds, accuracies from a fixed rule."""
    rows = []
    for a, b, seed in product(["x", "y"], ["p", "q", "r"], [0, 1, 2]):
        effect = (0.1 + 0.02 * seed - 0.01 * "pqr".index(b) ** 2) * (a == "y")
        acc = 0.5 + effect + 0.03 * "pqr".index(b) + 0.01 * seed**2 - 0.004 * seed
        rows.append(
            {
                "param.a": a,
                "param.b": b,
                "seed": seed,
                "test_acc": acc,
                "params": 100 + 10 * (a == "y"),
                "wall_s": 1.0 + seed,
                "train_samples_per_s": 1000.0,
                "eval_samples_per_s": 5000.0,
                "status": "ok",
            }
        )
    return pd.DataFrame(rows)


def plain_interval(values: list[float]) -> tuple[float, float]:
    n = len(values)
    half = T975[n - 1] * statistics.stdev(values) / math.sqrt(n)
    return statistics.mean(values) - half, statistics.mean(values) + half


def plain_bounded_interval(values: list[float]) -> tuple[float, float]:
    low, high = plain_interval(values)
    return max(0.0, low), min(1.0, high)


def test_accuracy_intervals_stay_inside_zero_and_one_and_hold_the_mean():
    """A cell with one bad seed: the plain t-interval runs past 100%, the report's stops there."""
    values = [0.97, 0.96, 0.26]
    assert plain_interval(values)[1] > 1
    low, high = accuracy_interval(values)
    assert 0 <= low < statistics.mean(values) < high == 1.0
    assert accuracy_interval([0.91, 0.93, 0.90]) == pytest.approx(
        plain_interval([0.91, 0.93, 0.90])
    )
    assert all(math.isnan(v) for v in accuracy_interval([0.9]))


def test_t_interval_matches_the_textbook_formula_and_needs_two_values():
    values = [0.91, 0.93, 0.90, 0.95]
    assert t_interval(values) == pytest.approx(plain_interval(values))
    assert all(math.isnan(v) for v in t_interval([0.9]))


def test_cell_table_matches_plain_python():
    frame = hand_made()
    cells = cell_table(frame, ["param.a", "param.b"])
    groups = defaultdict(list)
    for row in frame.to_dict("records"):
        groups[(row["param.a"], row["param.b"])].append(row)
    assert len(cells) == len(groups) == 6
    for cell in cells.to_dict("records"):
        rows = groups[(cell["a"], cell["b"])]
        acc = [r["test_acc"] for r in rows]
        assert cell["n_seeds"] == 3
        assert cell["test_acc_mean"] == pytest.approx(statistics.mean(acc))
        assert cell["test_acc_std"] == pytest.approx(statistics.stdev(acc))
        assert (cell["test_acc_ci_low"], cell["test_acc_ci_high"]) == pytest.approx(
            plain_bounded_interval(acc)
        )
        assert cell["test_acc_best"] == max(acc)
        assert cell["test_error_mean"] == pytest.approx(1 - statistics.mean(acc))
        assert cell["params"] == rows[0]["params"]
        assert cell["wall_s"] == pytest.approx(statistics.mean(r["wall_s"] for r in rows))


def welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float]:
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    diff = statistics.mean(b) - statistics.mean(a)
    return diff - half, diff + half


def test_main_effects_are_marginal_means_with_welch_intervals():
    frame = hand_made()
    orders = {"param.a": ["x", "y"], "param.b": ["p", "q", "r"]}
    effects = main_effects(frame, ["param.a", "param.b"], orders).set_index(["factor", "level"])
    for factor, levels in (("a", "xy"), ("b", "pqr")):
        reference = [
            r["test_acc"] for _, r in frame.iterrows() if r[f"param.{factor}"] == levels[0]
        ]
        for level in levels:
            values = [r["test_acc"] for _, r in frame.iterrows() if r[f"param.{factor}"] == level]
            row = effects.loc[(factor, level)]
            assert row["n"] == len(values)
            assert row["mean"] == pytest.approx(statistics.mean(values))
            assert row["diff"] == pytest.approx(
                statistics.mean(values) - statistics.mean(reference)
            )
            if level != levels[0]:
                assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx(
                    welch_by_hand(reference, values)
                )
    assert welch_interval([1.0, 1.0], [2.0, 2.0]) == (1.0, 1.0)


def test_paired_comparison_pairs_cells_equal_in_everything_else():
    frame = hand_made()
    orders = {"param.a": ["x", "y"], "param.b": ["p", "q", "r"]}
    paired = paired_comparisons(frame, ["param.a", "param.b"], orders)
    assert list(paired["factor"]) == ["a"]  # b has three levels: no paired row
    row = paired.iloc[0]
    by_key = {(r["param.a"], r["param.b"], r["seed"]): r["test_acc"] for _, r in frame.iterrows()}
    diffs = [by_key[("y", b, s)] - by_key[("x", b, s)] for b in "pqr" for s in range(3)]
    assert row["n_pairs"] == 9
    assert row["mean_diff"] == pytest.approx(statistics.mean(diffs))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (
            statistics.mean(diffs) - 2.306004135204166 * statistics.stdev(diffs) / 3,
            statistics.mean(diffs) + 2.306004135204166 * statistics.stdev(diffs) / 3,
        )
    )
    after = [by_key[("y", b, s)] for b in "pqr" for s in range(3)]
    before = [by_key[("x", b, s)] for b in "pqr" for s in range(3)]
    assert row["p_value"] == pytest.approx(stats.ttest_rel(after, before).pvalue)


def test_paired_comparison_leaves_out_cells_without_a_partner():
    frame = hand_made()
    frame = frame[~((frame["param.a"] == "y") & (frame["seed"] == 2))]
    orders = {"param.a": ["x", "y"], "param.b": ["p", "q", "r"]}
    row = paired_comparisons(frame, ["param.a", "param.b"], orders).iloc[0]
    assert row["n_pairs"] == 6


def test_interactions_hold_the_mean_of_every_pair_of_levels():
    frame = hand_made()
    table = interactions(frame, ["param.a", "param.b"])
    assert len(table) == 6
    for row in table.to_dict("records"):
        values = [
            r["test_acc"]
            for _, r in frame.iterrows()
            if r["param.a"] == row["level_a"] and r["param.b"] == row["level_b"]
        ]
        assert row["n"] == len(values) == 3
        assert row["mean"] == pytest.approx(statistics.mean(values))


def test_report_cell_table_matches_the_results_table_of_a_real_run(grid_results, grid_report):
    """The written CSV of cells, recomputed from results.parquet row by row."""
    results = pd.read_parquet(grid_results / "results.parquet")
    groups = defaultdict(list)
    for row in results.to_dict("records"):
        if row["state"] == "COMPLETE":
            groups[(row["param.model.activation"], row["param.architecture"])].append(row)
    cells = pd.read_csv(grid_report / "tables" / "tiny-grid-cells.csv")
    assert len(cells) == len(groups) == 4
    for cell in cells.to_dict("records"):
        rows = groups[(cell["model.activation"], cell["architecture"])]
        acc = [r["test_acc"] for r in rows]
        assert cell["n_seeds"] == len(rows) == 2
        assert cell["test_acc_mean"] == pytest.approx(statistics.mean(acc))
        assert cell["test_acc_std"] == pytest.approx(statistics.stdev(acc))
        assert (cell["test_acc_ci_low"], cell["test_acc_ci_high"]) == pytest.approx(
            plain_bounded_interval(acc)
        )
        assert cell["test_acc_best"] == pytest.approx(max(acc))
        assert cell["params"] == rows[0]["params"]
        assert cell["train_samples_per_s"] == pytest.approx(
            statistics.mean(r["train_samples_per_s"] for r in rows)
        )
        assert cell["budget"].startswith("†")  # 20 steps, below udl-mlp's own 6,000


def test_report_paired_table_matches_a_real_run(grid_results, grid_report):
    results = pd.read_parquet(grid_results / "results.parquet")
    acc = {
        (r["param.model.activation"], r["param.architecture"], r["seed"]): r["test_acc"]
        for r in results.to_dict("records")
    }
    paired = pd.read_csv(grid_report / "tables" / "tiny-grid-paired.csv").set_index("factor")
    diffs = [
        acc[("tanh", arch, s)] - acc[("relu", arch, s)] for arch in ("cnn", "mlp") for s in (0, 1)
    ]
    row = paired.loc["model.activation"]
    assert (row["a"], row["b"], row["n_pairs"]) == ("relu", "tanh", 4)
    assert row["mean_diff"] == pytest.approx(statistics.mean(diffs))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(plain_interval(diffs))
