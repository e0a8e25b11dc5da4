"""A user's own network and data in an ablation: named by import path in a spec, ablated
against a lecture network in worker processes, reported; a bad one refused before any trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnablate.cli import main
from cnnablate.runner.results import read_results

SPEC = """
name: mine-vs-lecture
base: {preset: udl-cnn, set: {data.num_samples: 600, train.eval_every_epochs: 5}}
factors:
  network:
    udl-cnn: {}
    wide-8: {model.factory: "nets:wide_cnn", model.kwargs.width: 8}
    wide-32: {model.factory: "nets:wide_cnn", model.kwargs.width: 32}
seeds: [0, 1, 2]
budget: {max_steps: 30}
"""


def write_spec(folder: Path, text: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(text)
    return path


def test_a_factory_network_against_a_lecture_network_then_a_report(outside_code, tmp_path, capsys):
    spec, out = write_spec(tmp_path, SPEC), tmp_path / "results"
    assert main(["run", str(spec), "--out", str(out), "--workers", "2"]) == 0
    table = read_results(out)
    assert len(table) == 9 and set(table["state"]) == {"COMPLETE"}
    by_level = table.groupby("param.network")
    assert by_level["seed"].apply(sorted).to_dict() == {
        level: [0, 1, 2] for level in ("udl-cnn", "wide-8", "wide-32")
    }
    params = by_level["params"].first()
    assert params["udl-cnn"] == 2_050 and params["wide-8"] < params["wide-32"]
    presets = by_level["preset"].first()
    assert presets["udl-cnn"] == "udl-cnn"
    assert presets[["wide-8", "wide-32"]].isna().all()  # never passes for the lecture network
    assert (table["train_flops_per_sample"] > 0).all()
    report = tmp_path / "report"
    assert main(["report", str(out), "--out", str(report)]) == 0
    cells = (report / "tables" / "mine-vs-lecture-cells.csv").read_text()
    assert all(level in cells for level in ("udl-cnn", "wide-8", "wide-32"))


def test_a_spec_naming_its_own_data_module(outside_code, tmp_path, capsys):
    text = """
name: blobs
base: {set: {data.module: "blobs:Blobs", model.hidden: [16], train.max_epochs: 3}}
factors:
  model.factory: ["nets:mlp", "nets:wide_cnn"]
seeds: [0]
"""
    out = tmp_path / "results"
    assert main(["run", str(write_spec(tmp_path, text)), "--out", str(out)]) == 0
    table = read_results(out)
    assert sorted(table["param.model.factory"]) == ["nets:mlp", "nets:wide_cnn"]
    # read into memory, its 180 training samples go in batches of data.batch_size (100)
    assert (table["steps"] == 3 * 2).all()
    assert (table["test_acc"] > 0.5).all()


@pytest.mark.parametrize(
    ("level", "says"),
    [
        ('{model.factory: "nets:raises"}', "model.factory 'nets:raises' raised RuntimeError"),
        ('{model.factory: "nets:one_class_too_many"}', "expected logits (2, 10)"),
        ('{model.factory: "absent_pkg:net"}', "cannot import 'absent_pkg'"),
        ('{data.module: "blobs:NoTest"}', "data.module 'blobs:NoTest': defines no test_dataloader"),
    ],
)
def test_a_bad_factory_or_data_module_stops_the_run_before_any_trial(
    outside_code, tmp_path, capsys, level, says
):
    text = SPEC.replace('{model.factory: "nets:wide_cnn", model.kwargs.width: 32}', level)
    out = tmp_path / "results"
    assert main(["run", str(write_spec(tmp_path, text)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and says in err and "cell" in err
    assert not (out / "trials").exists() and not (out / "results.parquet").exists()


def test_a_factory_and_its_kwargs_as_two_factors_make_a_grid(outside_code, tmp_path, capsys):
    text = """
name: grid
base: {preset: udl-cnn, set: {data.num_samples: 600}}
factors:
  model.factory: ["nets:wide_cnn"]
  model.kwargs.width: [8, 16]
budget: {max_steps: 10}
"""
    assert main(["run", str(write_spec(tmp_path, text)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"model.kwargs.width":8' in out and '"model.kwargs.width":16' in out
    assert "2 cells, 20 steps in all" in out


def test_kwargs_on_a_lecture_network_name_the_cell(outside_code, tmp_path, capsys):
    text = "name: bad\nbase: {preset: udl-cnn}\nfactors:\n  model.kwargs.width: [8]\n"
    assert main(["run", str(write_spec(tmp_path, text)), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert 'cell {"model.kwargs.width":8,"seed":0}' in err and "go with model.factory" in err
