"""The runner end to end on tiny budgets: resume after SIGKILL, parallel workers, divergence,
the results table against the storage, and Optuna's own CLI on our storage."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

import cnnablate
from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.grid import enumerate_cells
from cnnablate.runner.results import SCHEMA, read_results
from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url
from tests.reliability.processes import RunProcess


def load(out_dir: Path, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=default_storage_url(out_dir))


def completed_per_cell(study: optuna.Study) -> Counter:
    return Counter(t.user_attrs["cell"] for t in study.get_trials(states=(TrialState.COMPLETE,)))


def cli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cnnablate.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_grid_runs_every_cell_once_and_table_matches_storage(tiny_spec, tmp_path):
    out = tmp_path / "out"
    spec = load_spec(tiny_spec)
    run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    study = load(out)
    cells = {c.key for c in enumerate_cells(spec)}
    assert completed_per_cell(study) == Counter({key: 1 for key in cells})
    table = read_results(out)
    assert table.equals(pd.read_parquet(out / "results.parquet"))
    stored = {t.number: t for t in study.get_trials()}
    assert sorted(table["trial"]) == sorted(stored)
    for row in table.to_dict("records"):
        trial = stored[row["trial"]]
        assert row["test_acc"] == pytest.approx(trial.value)
        assert row["param.model.activation"] == trial.params["model.activation"]
        assert row["seed"] == trial.params["seed"] == trial.user_attrs["result"]["seed"]
        assert set(trial.user_attrs["result"]) <= set(SCHEMA)  # every fact has its column
        assert row["wall_s"] == trial.user_attrs["result"]["wall_s"]
        assert row["started"] == trial.datetime_start  # stored as timestamps, not strings
        assert row["finished"] == trial.datetime_complete
    assert table["started"].dtype.kind == table["finished"].dtype.kind == "M"
    assert cnnablate.load_results(out).equals(table)
    csv = pd.read_csv(out / "results.csv")
    assert list(csv["trial"]) == list(table["trial"])
    assert (out / "trials").is_dir() and len(list((out / "trials").glob("*/result.json"))) == 6

    # A second run finds nothing to do and runs nothing again.
    run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    assert len(load(out).get_trials()) == len(stored)


def test_resume_after_sigkill_leaves_exactly_one_completed_trial_per_cell(tiny_spec, tmp_path):
    # Trials long enough (hundreds of updates) that the kill lands inside the second one.
    tiny_spec.write_text(tiny_spec.read_text().replace("max_steps: 24", "max_steps: 400"))
    out = tmp_path / "out"
    run = RunProcess("run", str(tiny_spec), "--out", str(out), cwd=tmp_path)
    assert run.wait_for_line("starting", count=2, timeout=240), "".join(run.lines)
    assert run.kill(), "the run ended before the kill"
    before = load(out).get_trials()
    assert Counter(t.state for t in before)[TrialState.COMPLETE] >= 1
    assert any(t.state == TrialState.RUNNING for t in before), "killed while a trial ran"

    code, output = RunProcess("run", str(tiny_spec), "--out", str(out), cwd=tmp_path).finish(300)
    assert code == 0, output
    study = load(out)
    spec = load_spec(tiny_spec)
    assert completed_per_cell(study) == Counter({c.key: 1 for c in enumerate_cells(spec)})
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert [t.user_attrs.get("failure") for t in failed] == ["worker lost"]


def test_two_workers_run_each_cell_exactly_once(tiny_spec, tmp_path):
    out = tmp_path / "out"
    proc = cli("run", str(tiny_spec), "--out", str(out), "--workers", "2", cwd=tmp_path)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    study = load(out)
    assert completed_per_cell(study) == Counter(
        {c.key: 1 for c in enumerate_cells(load_spec(tiny_spec))}
    )
    assert len(study.get_trials()) == 6  # no duplicates, no failures
    assert len({t.user_attrs["pid"] for t in study.get_trials()}) == 2  # both workers worked


def test_diverged_trial_is_recorded_and_the_matrix_goes_on(tmp_path):
    spec_path = tmp_path / "div.yaml"
    spec_path.write_text("""
name: div
base: {preset: udl-mlp, set: {data.num_samples: 600, model.hidden: [16]}}
factors:
  optim.lr: [0.1, 1.0e+9]
seeds: [0]
budget: {max_steps: 40}
""")
    out = tmp_path / "out"
    run_spec(load_spec(spec_path), RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    table = read_results(out).set_index("param.optim.lr")
    assert table.loc[1e9, "status"] == "diverged" and table.loc[0.1, "status"] == "ok"
    assert (table["state"] == "COMPLETE").all()


def test_optuna_cli_reads_our_storage(tiny_spec, tmp_path):
    out = tmp_path / "out"
    run_spec(load_spec(tiny_spec), RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    optuna_cli = Path(sys.executable).parent / "optuna"
    proc = subprocess.run(
        [
            str(optuna_cli),
            "trials",
            "--storage",
            default_storage_url(out),
            "--study-name",
            "tiny",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    import json

    trials = json.loads(proc.stdout)
    assert len(trials) == 6 and {t["state"] for t in trials} == {"COMPLETE"}


def test_optuna_mode_with_pruning(tmp_path):
    spec_path = tmp_path / "tune.yaml"
    spec_path.write_text("""
name: tune
base:
  preset: udl-mlp
  set: {data.num_samples: 600, data.val_size: 100, model.hidden: [16], train.eval_every_epochs: 1}
budget: {max_steps: 40}
mode: optuna
optuna:
  metric: best_val_acc
  n_trials: 6
  pruner: median
  space:
    optim.lr: {type: float, low: 0.001, high: 0.5, log: true}
    width: {type: int, low: 4, high: 32, targets: [model.hidden.0]}
""")
    out = tmp_path / "out"
    run_spec(load_spec(spec_path), RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    study = load(out, "tune")
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 6
    assert all(t.intermediate_values for t in finished)  # the pruning callback reported
    assert {"optim.lr", "width"} <= set(finished[0].params)
    table = read_results(out)
    assert len(table) == 6 and set(table["state"]) <= {"COMPLETE", "PRUNED"}
    assert "lightning.pytorch" not in sys.modules  # one Lightning distribution in the process


def test_changed_spec_refuses_the_old_results(tiny_spec, tmp_path):
    from cnnablate.errors import UserError

    out = tmp_path / "out"
    run_spec(load_spec(tiny_spec), RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    before = (out / "results.parquet").read_bytes()
    tiny_spec.write_text(tiny_spec.read_text().replace("seeds: [0, 1, 2]", "seeds: [0, 1]"))
    with pytest.raises(UserError, match="different spec"):
        run_spec(
            load_spec(tiny_spec), RunOptions(out_dir=out, storage_url=default_storage_url(out))
        )
    assert (out / "results.parquet").read_bytes() == before


def test_packed_seeds_run_each_cell_once_as_separate_trials(tiny_spec, tmp_path):
    tiny_spec.write_text(tiny_spec.read_text() + "pack_seeds: true\ncheckpoint: true\n")
    out = tmp_path / "out"
    spec = load_spec(tiny_spec)
    run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    study = load(out)
    assert completed_per_cell(study) == Counter({c.key: 1 for c in enumerate_cells(spec)})
    table = read_results(out)
    assert set(table["pack_size"]) == {3}  # two activations, three seeds packed in each
    assert table.groupby("param.model.activation")["pid"].nunique().eq(1).all()
    assert len(set(table["test_loss"])) == 6
    assert all((Path(d) / "best.ckpt").exists() for d in table["dir"])
