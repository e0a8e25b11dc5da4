"""The experiment loggers: names and packages checked before anything trains, and a `train`'s
runs read back by each logger's own reader (TensorBoard's EventAccumulator, MLflow's client)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnablate.cli import main
from cnnablate.errors import Unavailable, UserError
from cnnablate.loggers import LOGGER_MODULES, LOGGERS, check_loggers, flat_params

ALLOWED = "allowed: csv, tensorboard, mlflow, wandb"
TRAIN = [
    "train",
    "udl-mlp",
    "--set",
    "data.num_samples=600",
    "--set",
    "data.val_size=100",
    "--set",
    "model.hidden=[16]",
    "--set",
    "train.eval_every_epochs=1",
    "--max-steps",
    "12",
]


@given(st.lists(st.sampled_from(LOGGERS)))
def test_the_loggers_named_come_back_once_each_in_order(names):
    assert check_loggers(names) == tuple(dict.fromkeys(names))


@given(st.lists(st.sampled_from(LOGGERS)), st.text(min_size=1).filter(lambda t: t not in LOGGERS))
def test_an_unknown_logger_is_one_line_naming_the_flag_and_the_loggers(names, bad):
    with pytest.raises(UserError) as info:
        check_loggers([*names, bad], where="--logger")
    message = str(info.value)
    assert not isinstance(info.value, Unavailable)
    assert message.startswith("--logger: unknown logger") and message.endswith(ALLOWED)
    assert repr(bad) in message


def test_the_config_becomes_flat_hyperparameters():
    flat = flat_params(
        {"optim": {"lr": 0.1}, "model": {"conv": [{"channels": 8}], "hidden": [16]}, "x": None}
    )
    assert flat == {
        "optim.lr": 0.1,
        "model.conv.0.channels": 8,
        "model.hidden": "[16]",
        "x": "null",
    }


def test_bad_logger_names_stop_train_and_run_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*TRAIN, "--logger", "nope", "--out", str(out)]) == 2
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nbase: {preset: udl-mlp}\nloggers: [tensorboard, nope]\n")
    assert main(["run", str(spec), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and not out.exists()
    assert "argument --logger: invalid choice: 'nope'" in lines[0]
    assert lines[1].startswith(f"cnnablate: error: {spec}: invalid 'loggers'")
    assert lines[1].endswith(f"unknown logger 'nope'; {ALLOWED}")


# Runs the command line with `module` hidden as Python itself hides a module (None in
# sys.modules: its import fails, find_spec finds nothing), then says which heavy modules loaded.
HIDDEN = """
import json, sys
sys.modules[sys.argv[1]] = None
from cnnablate.cli import main
code = main(json.loads(sys.argv[2]))
heavy = sorted(m for m in ("torch", "pytorch_lightning") if m in sys.modules)
print(json.dumps([code, heavy]))
"""


@pytest.mark.parametrize("name", [n for n, module in LOGGER_MODULES.items() if module])
def test_a_logger_whose_package_is_missing_says_which_extra_installs_it(tmp_path, name):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: x\nbase: {{preset: udl-mlp}}\nloggers: [{name}]\n")
    argvs = {
        "train": [*TRAIN, "--logger", name, "--out", str(tmp_path / "out")],
        "run": ["run", str(spec), "--out", str(tmp_path / "out")],
    }
    for command, argv in argvs.items():
        done = subprocess.run(
            [sys.executable, "-c", HIDDEN, LOGGER_MODULES[name], json.dumps(argv)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert json.loads(done.stdout.splitlines()[-1]) == [1, []], (command, done.stderr)
        where = "--logger" if command == "train" else f"{spec}: loggers"
        assert done.stderr == (
            f"cnnablate: error: {where}: logger '{name}' needs the package "
            f"'{LOGGER_MODULES[name]}', which is not installed: pip install 'cnnablate[{name}]'\n"
        )
        assert not (tmp_path / "out").exists()


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def test_train_logs_to_tensorboard_and_mlflow_what_it_writes(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "c2"
    argv = [*TRAIN, "--seed", "3", "--logger", "tensorboard", "--logger", "mlflow"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = rows_of(out / "metrics.csv")
    result = json.loads((out / "result.json").read_text())
    assert [int(r["step"]) for r in rows] == [4, 8, 12]  # 380 examples: 4 batches an epoch

    events = EventAccumulator(str(out / "tensorboard" / "c2"))
    events.Reload()
    scalars = [(e.step, e.value) for e in events.Scalars("val_acc")]
    assert scalars == [(int(r["step"]), pytest.approx(float(r["val_acc"]))) for r in rows]
    assert events.Scalars("final/test_acc")[0].value == pytest.approx(result["test_acc"])

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("udl-mlp").experiment_id])
    assert run.info.run_name == "c2" and run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [
        (int(r["step"]), float(r["val_acc"])) for r in rows
    ]
    params = run.data.params
    assert params["seed"] == "3" and params["preset"] == "udl-mlp"
    assert params["model.hidden"] == "[16]" and float(params["optim.lr"]) == 0.1
    assert run.data.metrics["final/test_acc"] == result["test_acc"]
    assert run.data.metrics["final/test_acc_at_best_val"] == result["test_acc_at_best_val"]


def test_a_logger_that_cannot_start_is_one_line_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # no server there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    out = tmp_path / "out"
    assert main([*TRAIN, "--logger", "mlflow", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cnnablate: error: --logger mlflow: cannot start")
    assert not (out / "result.json").exists()


TWO_SEEDS = textwrap.dedent(
    """
    name: logged
    base:
      preset: udl-mlp
      set: {data.num_samples: 600, model.hidden: [16], train.eval_every_epochs: 1}
    factors:
      model.activation: [relu]
    seeds: [0, 1]
    budget: {max_steps: 9}
    pack_seeds: true
    loggers: [mlflow]
    """
)


def test_packed_seeds_of_a_run_get_a_run_each_where_its_readers_look(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    spec, out = tmp_path / "logged.yaml", tmp_path / "results"
    spec.write_text(TWO_SEEDS)
    logged = ["--logger", "tensorboard", "--logger", "wandb"]
    assert main(["run", str(spec), "--out", str(out), *logged]) == 0
    trials = sorted((out / "trials").iterdir())
    assert [t.name for t in trials] == [f"000{n}-activation-relu_seed-{n}" for n in (0, 1)]
    results = {t.name: json.loads((t / "result.json").read_text()) for t in trials}
    steps = {t.name: [int(r["step"]) for r in rows_of(t / "metrics.csv")] for t in trials}
    assert {r["pack_size"] for r in results.values()} == {2}

    runs = sorted((out / "tensorboard").iterdir())
    assert [r.name for r in runs] == [t.name for t in trials]
    for run in runs:
        events = EventAccumulator(str(run))
        events.Reload()
        assert [e.step for e in events.Scalars("test_acc")] == steps[run.name]

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    mlflow_runs = client.search_runs([client.get_experiment_by_name("logged").experiment_id])
    by_name = {r.info.run_name: r for r in mlflow_runs}
    assert sorted(by_name) == sorted(results)
    for name, result in results.items():
        assert by_name[name].data.params["seed"] == str(result["seed"])
        assert by_name[name].data.params["cell"] == "model.activation=relu"
        assert by_name[name].data.metrics["final/test_acc"] == result["test_acc"]

    wandb_runs = [wandb_summary(d) for d in sorted((out / "wandb").glob("offline-run-*"))]
    assert sorted(r["name"] for r in wandb_runs) == sorted(results)
    for run in wandb_runs:
        result = results[run["name"]]
        assert run["project"] == "logged" and run["state"] == "finished"
        assert run["config"]["seed"] == result["seed"]
        assert run["summary"]["final/test_acc"] == result["test_acc"]
        assert run["history_steps"] == steps[run["name"]] + [result["steps"]]
        assert run["group"] == "model.activation=relu"


def wandb_summary(run_dir: Path) -> dict:
    """An offline W&B run as W&B's own reader of its log (`wandb leet inspect`) tells it."""

    def inspect(*flags: str) -> str:
        command = [sys.executable, "-m", "wandb", "leet", "inspect", *flags, str(run_dir)]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    summary = json.loads(inspect("--summary", "--json"))
    records = [json.loads(line) for line in inspect("--json").splitlines() if line.strip()]
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    [run] = [r["run"] for r in records if r["type"] == "run"]
    summary["history_steps"] = [item["trainer/global_step"] for item in history]
    summary["group"] = run.get("run_group")
    return summary
