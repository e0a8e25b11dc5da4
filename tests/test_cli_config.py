"""LightningCLI's and Hydra's habits on the command line: `train --print-config`, `train --config`
rerunning a saved run (result.json or config.yaml) to the same numbers, and `run --set`."""

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cnnablate.cli import main
from cnnablate.config_file import SavedRun, load_run
from cnnablate.presets import get_preset
from cnnablate.runner.spec import parse_spec
from tests.runner.conftest import TINY_SPEC


def run_cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_run(a: Path, b: Path) -> None:
    """Same accuracy and the same metrics.csv rows (floats to a small tolerance)."""
    first, second = (json.loads((d / "result.json").read_text()) for d in (a, b))
    for key in ("test_acc", "test_loss", "train_acc"):
        assert second[key] == pytest.approx(first[key], rel=1e-6, abs=1e-9), key
    for key in ("steps", "budget_steps", "seed", "preset", "step_cap", "config"):
        assert second[key] == first[key], key
    rows_a, rows_b = (pd.read_csv(d / "metrics.csv") for d in (a, b))
    assert list(rows_a.columns) == list(rows_b.columns) and len(rows_a) == len(rows_b) > 0
    pd.testing.assert_frame_equal(rows_a, rows_b, check_exact=False, rtol=1e-6, atol=1e-9)


def test_print_config_prints_what_config_reads_back_and_trains_nothing(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "udl-mlp", "--print-config", "--set", "optim.lr=0.05", "--max-steps", "40"]
    code, out, err = run_cli(capsys, *argv, "--seed", "3")
    assert code == 0, err
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written
    saved = tmp_path / "printed.yaml"
    saved.write_text(out)
    run = load_run(saved)
    assert run.seed == 3 and run.preset == "udl-mlp" and run.step_cap is None
    assert run.config.optim.lr == 0.05 and run.config.train.max_steps == 40
    code, again, _ = run_cli(capsys, "train", "--config", saved, "--print-config")
    assert code == 0 and again == out


def test_train_config_reruns_a_result_json_and_a_config_yaml_to_the_same_numbers(capsys, tmp_path):
    first = tmp_path / "first"
    argv = ["train", "udl-mlp", "--max-steps", "30", "--seed", "2", "--set", "model.hidden=[12]"]
    code, _, err = run_cli(capsys, *argv, "--set", "data.num_samples=1000", "--out", first)
    assert code == 0, err
    assert load_run(first / "config.yaml") == SavedRun(
        load_run(first / "result.json").config, 2, "udl-mlp"
    )
    for source, name in (("result.json", "from-result"), ("config.yaml", "from-config")):
        code, out, err = run_cli(
            capsys, "train", "--config", first / source, "--out", tmp_path / name
        )
        assert code == 0, err
        assert out.splitlines()[0].endswith("preset udl-mlp, seed 2: rerun as it was made")
        assert_same_run(first, tmp_path / name)


def test_a_run_with_set_records_it_and_its_trials_rerun_with_their_step_cap(capsys, tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(textwrap.dedent(TINY_SPEC))
    res = tmp_path / "res"
    sets = ["--set", "optim.lr=0.05", "--set", "model.hidden=[8]"]
    code, out, err = run_cli(capsys, "run", spec, *sets, "--max-steps", "8", "--out", res)
    assert code == 0, err
    assert out.startswith("--set optim.lr=0.05 --set model.hidden=[8]: in the base of every cell")
    # spec.yaml says what ran: the overrides in base.set, and the command in its first line
    recorded = (res / "spec.yaml").read_text()
    assert recorded.startswith(f"# cnnablate run {spec} --set optim.lr=0.05 --set 'model.hidden")
    assert parse_spec(recorded).model.base.set["model.hidden"] == [8]
    code, out, _ = run_cli(capsys, "status", res, "--max-steps", "8")
    assert code == 0 and "tiny: 6 cells (asked: --max-steps 8): 6 done" in out
    code, _, err = run_cli(capsys, "run", spec, "--max-steps", "8", "--out", res)
    assert code == 2 and "holds the results of a different spec" in err  # without the --set
    code, _, err = run_cli(capsys, "run", res / "spec.yaml", "--max-steps", "8", "--out", res)
    assert code == 0, err  # the recorded spec is the same experiment: nothing left to train
    assert len(pd.read_parquet(res / "results.parquet")) == 6

    trial = sorted((res / "trials").iterdir())[4]
    saved = load_run(trial / "config.yaml")
    assert saved.step_cap == 8 and saved.config.optim.lr == 0.05
    assert saved.config.model.hidden == [8] and saved.preset == "udl-mlp"
    code, _, err = run_cli(
        capsys, "train", "--config", trial / "config.yaml", "--out", tmp_path / "x"
    )
    assert code == 0, err
    assert_same_run(trial, tmp_path / "x")


def test_a_dry_run_with_set_lists_the_cells_at_the_overridden_budget(capsys, tmp_path):
    spec = tmp_path / "epochs.yaml"
    spec.write_text(TINY_SPEC.replace("budget: {max_steps: 24}", "budget: {max_epochs: 1}"))
    base = get_preset("udl-mlp").config.data.train_split
    train_samples = int(600 * base)
    code, out, err = run_cli(capsys, "run", spec, "--dry-run", "--set", "data.batch_size=40")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("--set data.batch_size=40: in the base of every cell")
    steps = {int(line.split()[0]) for line in lines[1:-1]}
    assert steps == {train_samples // 40} and len(lines[1:-1]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs.yaml"]
