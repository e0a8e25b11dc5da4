"""The command line: listings, help, and bad input answered by one line and exit status 2."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from cnnablate.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_json_lists_all_thirteen_with_counts(capsys):
    code, out, _ = run_cli(capsys, "presets", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 13
    assert {"name", "dataset", "params"} <= set(rows[0])
    assert {r["name"]: r["params"] for r in rows}["nielsen-dropout"] == 1_672_570


@pytest.mark.parametrize("argv", [[], ["presets"], ["train"], ["data"], ["data", "fetch"]])
def test_every_command_has_help(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: cnnablate" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "nosuch"], "unknown preset 'nosuch'; allowed: udl-cnn, udl-fc"),
        (["train", "udl-cnn", "--set", "optim.lrr=1"], "unknown config key 'optim.lrr'"),
        (["train", "udl-cnn", "--set", "data.batch_size=big"], "valid integer"),
        (["train", "udl-cnn", "--set", "optim.lr=-0.1"], "greater than 0"),
        (["train", "udl-cnn", "--set", "model.dropout=1"], "less than 1"),
        (["train", "udl-cnn", "--set", "model.activation=gelu"], "allowed: sigmoid, relu"),
        (["train", "udl-cnn", "--seed", "-1"], "expected an integer >= 0"),
        (["train", "udl-cnn", "--max-steps", "0"], "expected a positive integer"),
        (["train", "udl-cnn", "--max-steps", "5", "--max-epochs", "1"], "not allowed with"),
        (["train", "udl-cnn", "--accelerator", "tpu"], "choose from 'auto', 'cpu', 'gpu'"),
        (["frobnicate"], "invalid choice"),
        (["data", "fetch", "cifar"], "allowed"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cnnablate: error:")
    assert expected in err
    assert "Traceback" not in err + out


def test_missing_mnist_is_a_clean_error_in_a_real_process(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        **os.environ,
        "CNNABLATE_DATA": str(tmp_path / "data"),
        "CNNABLATE_MNIST_SOURCE": str(empty),
        "CNNABLATE_MNIST_MIRRORS": "http://127.0.0.1:9/",
        "CNNABLATE_NO_NPM": "1",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnablate.cli",
            "train",
            "nielsen-shallow",
            "--max-steps",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1  # good input, data not to be had
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "mnist" in proc.stderr.lower()
    assert not (tmp_path / "out").exists()


def test_train_command_writes_results(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, err = run_cli(
        capsys,
        "train",
        "udl-mlp",
        "--max-steps",
        "40",
        "--seed",
        "2",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    assert "udl-mlp seed 2: ok" in out
    assert json.loads((out_dir / "result.json").read_text())["steps"] == 40


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "nope.yaml"], "nope.yaml: no such spec file"),
        (["run", "ablations/mnist1d-quick.yaml", "--workers", "0"], "expected a positive integer"),
        (
            ["run", "ablations/mnist1d-quick.yaml", "--storage", "mysql+nodriver://x/y"],
            "cannot open",
        ),
        (["run", "ablations/mnist1d-quick.yaml", "--out", "/proc/nope"], "not writable"),
        (["status", "nope.yaml"], "no such spec file"),
    ],
)
def test_run_and_status_bad_input(capsys, argv, expected):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and expected in err, err


def test_run_then_status(capsys, tmp_path):
    from tests.runner.conftest import TINY_SPEC

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    out = tmp_path / "res"
    code, run_text, err = run_cli(capsys, "run", str(spec), "--out", str(out), "--max-steps", "8")
    assert code == 0, err
    # The end of a run: each cell's accuracy over its seeds, and the command for the report.
    table = pd.read_parquet(out / "results.parquet")
    for _, cell in table.groupby([c for c in table if c.startswith("param.")]):
        mean = f"{100 * cell['test_acc'].mean():.2f}% ± {100 * cell['test_acc'].std():.2f}%"
        assert mean in run_text, run_text
    assert run_text.rstrip().endswith(f"report: cnnablate report {out}")
    assert "every trial capped at 8 steps (--max-steps): a smoke run" in run_text
    code, out_text, _ = run_cli(capsys, "status", str(out), "--max-steps", "8")
    assert code == 0
    assert "tiny: 6 cells (asked: --max-steps 8): 6 done, 0 short, 0 running" in out_text
    code, out_text, _ = run_cli(capsys, "status", str(out))  # the full budget: all short
    assert "tiny: 6 cells: 0 done, 6 short, 0 running, 0 failed, 0 pending" in out_text


@pytest.mark.parametrize("cap, steps", [(None, 24), ("8", 8)])
def test_a_dry_run_lists_each_cell_with_its_budget_and_trains_nothing(
    capsys, tmp_path, monkeypatch, cap, steps
):
    from tests.runner.conftest import TINY_SPEC

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    argv = ["run", str(spec), "--dry-run", *(["--max-steps", cap] if cap else [])]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    lines = out.splitlines()
    cells = [json.loads(line.split("steps", 1)[1]) for line in lines[:-1]]
    assert sorted((c["model.activation"], c["seed"]) for c in cells) == sorted(
        (activation, seed) for activation in ("relu", "tanh") for seed in (0, 1, 2)
    )
    assert all(line.split()[0] == str(steps) for line in lines[:-1])
    assert "tiny: 6 cells" in lines[-1] and f"{6 * steps} steps in all" in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]  # nothing written


def test_storage_url_from_the_environment(capsys, tmp_path, monkeypatch):
    from tests.runner.conftest import TINY_SPEC

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("CNNABLATE_STORAGE", f"sqlite:///{elsewhere}")
    out = tmp_path / "res"
    code, _, err = run_cli(capsys, "run", str(spec), "--out", str(out), "--max-steps", "4")
    assert code == 0, err
    assert elsewhere.is_file() and not (out / "study.db").exists()
    code, text, _ = run_cli(capsys, "status", str(out), "--max-steps", "4")
    assert code == 0 and "6 cells (asked: --max-steps 4): 6 done" in text
