"""`cnnablate compare A B` on real results folders of the tiny grid."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cnnablate.cli import main
from cnnablate.report.compare import EQUIVALENT, UNDECIDED, WORSE, Difference, compare, verdict


def copy_with(results: Path, dest: Path, change) -> Path:
    dest.mkdir()
    table = pd.read_parquet(results / "results.parquet")
    change(table)
    table.to_parquet(dest / "results.parquet")
    return dest


def test_a_folder_against_itself_is_equivalent_in_every_cell(grid_results, capsys):
    assert main(["compare", str(grid_results), str(grid_results)]) == 0
    table = compare(grid_results, grid_results, 0.02)
    assert len(table) == 4 and set(table["verdict"]) == {EQUIVALENT}
    assert (table["change"] == 0).all() and table["paired"].all()
    assert (table["speed_ratio"] == 1).all() and (table["params_a"] == table["params_b"]).all()
    assert "| relu | cnn | 2/2 |" in capsys.readouterr().out


def test_a_cell_that_lost_accuracy_on_every_seed_is_worse_and_exits_one(grid_results, tmp_path):
    def lose(table: pd.DataFrame) -> None:
        cell = (table["param.model.activation"] == "relu") & (table["param.architecture"] == "cnn")
        offsets = table["seed"].map({0: 0.30, 1: 0.32})
        table.loc[cell, "test_acc"] -= offsets[cell]

    worse = copy_with(grid_results, tmp_path / "worse", lose)
    table = compare(grid_results, worse, 0.02).set_index(["param.model.activation"])
    assert main(["compare", str(grid_results), str(worse), "--out", str(tmp_path / "c.md")]) == 1
    assert table.loc["relu"].set_index("param.architecture").loc["cnn", "verdict"] == WORSE
    assert "worse" in (tmp_path / "c.md").read_text()


def test_the_verdicts_follow_the_stated_rules():
    assert verdict(Difference(0.0, -0.01, 0.01, -0.008, 0.008, True), 0.02) == EQUIVALENT
    assert verdict(Difference(-0.05, -0.08, -0.02, -0.07, -0.03, True), 0.02) == WORSE
    # significant but within the margin at the point estimate, not equivalent: undecided
    assert verdict(Difference(-0.015, -0.025, -0.005, -0.023, -0.007, True), 0.02) == UNDECIDED


def test_folders_of_different_specs_are_refused(grid_results, optuna_results, tmp_path, capsys):
    assert main(["compare", str(grid_results), str(optuna_results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "come from different specs" in err[0]


@pytest.mark.parametrize("missing", ["nowhere", "empty"])
def test_a_missing_folder_is_one_line(grid_results, tmp_path, capsys, missing):
    other = tmp_path / missing
    if missing == "empty":
        other.mkdir()
    assert main(["compare", str(grid_results), str(other)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_seeds_that_differ_are_compared_unpaired(grid_results, tmp_path):
    shifted = copy_with(
        grid_results, tmp_path / "b", lambda t: t.__setitem__("seed", t["seed"] + 5)
    )
    table = compare(grid_results, shifted, 0.02)
    assert not table["paired"].any() and (table["change"] == 0).all()
    shutil.rmtree(shifted)
