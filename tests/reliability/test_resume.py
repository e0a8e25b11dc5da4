"""A trial cut off in mid-run (SIGKILL, or the runner's time limit) resumes from its saved
state and ends with exactly the metrics of a run that was never interrupted."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url
from tests.reliability.processes import RunProcess
from tests.reliability.study_checks import load_study

# One trial of 100 epochs of 8 updates, with dropout (a random stream to restore) and its state
# saved at every epoch end. Long enough (seconds) that a kill soon after the first saved state
# lands in mid-run on a fast, quiet machine too.
STEPS = 800
RESUME_SPEC = f"""
name: resume
base:
  preset: udl-mlp
  set:
    data.num_samples: 1250
    data.val_size: 200
    model.hidden: [64, 64]
    model.dropout: 0.2
    train.eval_every_epochs: 1
    train.steps_per_block: 4
    train.checkpoint_every: 1
seeds: [5]
budget: {{max_steps: {STEPS}}}
"""
METRICS = ("test_acc", "test_loss", "train_acc", "train_loss", "best_epoch", "best_val_acc")


@pytest.fixture(scope="module")
def resume_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "resume.yaml"
    path.write_text(textwrap.dedent(RESUME_SPEC))
    return path


@pytest.fixture(scope="module")
def reference(resume_spec: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """The trial run once, never interrupted."""
    return uninterrupted(resume_spec, tmp_path_factory.mktemp("reference") / "out")


def finished_trial(out: Path) -> tuple[dict, str]:
    study = load_study(default_storage_url(out), "resume")
    (trial,) = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    folder = Path(trial.user_attrs["dir"])
    if not folder.is_absolute():
        folder = out.parent / folder
    result = json.loads((folder / "result.json").read_text())
    assert not (folder / "resume.ckpt").exists()  # removed once the run completed
    return result, (folder / "metrics.csv").read_text()


def uninterrupted(spec: Path, out: Path) -> tuple[dict, str]:
    code, output = RunProcess("run", str(spec), "--out", str(out), cwd=out.parent).finish(240)
    assert code == 0, output
    return finished_trial(out)


def wait_for_saved_state(out: Path, timeout: float = 120.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        saved = list((out / "trials").glob("*/resume.ckpt")) if (out / "trials").exists() else []
        if saved:
            return saved[0]
        time.sleep(0.05)
    raise AssertionError("no resume.ckpt appeared")


def assert_same_run(a: tuple[dict, str], b: tuple[dict, str]) -> None:
    (result_a, metrics_a), (result_b, metrics_b) = a, b
    assert metrics_a == metrics_b  # every epoch's losses and accuracies, to the last bit
    assert {k: result_a[k] for k in METRICS} == {k: result_b[k] for k in METRICS}
    assert result_b["steps"] == STEPS


@pytest.mark.slow
def test_sigkill_in_mid_trial_resumes_to_the_uninterrupted_metrics(
    resume_spec, reference, tmp_path
):
    out = tmp_path / "killed"
    run = RunProcess("run", str(resume_spec), "--out", str(out), cwd=tmp_path)
    saved = wait_for_saved_state(out)
    time.sleep(0.3)  # a few epochs more: the state on disk is behind the run that is killed
    assert run.kill(), "the run ended before it could be killed: make the trial longer"
    code, output = RunProcess("run", str(resume_spec), "--out", str(out), cwd=tmp_path).finish(240)
    assert code == 0, output
    study = load_study(default_storage_url(out), "resume")
    (lost,) = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert lost.user_attrs["failure"] == "worker lost"
    (done,) = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    assert done.user_attrs["dir"] == lost.user_attrs["dir"] == str(saved.parent)  # resumed there
    assert_same_run(reference, finished_trial(out))


def test_time_limit_stops_at_an_epoch_end_and_the_rerun_resumes(
    resume_spec, reference, tmp_path, monkeypatch
):
    spec, out = load_spec(resume_spec), tmp_path / "limited"
    options = RunOptions(out_dir=out, storage_url=default_storage_url(out), progress="off")
    # A deadline already past, yet one trial claimed (the matrix's and the worker's checks let
    # it through): it stops at its first epoch end.
    checks = iter([False, False])
    monkeypatch.setattr(RunOptions, "out_of_time", lambda self, need_s=0.0: next(checks, True))
    run_spec(spec, RunOptions(**{**options.__dict__, "deadline": time.time()}))
    study = load_study(default_storage_url(out), "resume")
    (cut,) = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert cut.user_attrs["failure"].startswith("interrupted: stopped by its time limit after")
    assert (Path(cut.user_attrs["dir"]) / "resume.ckpt").exists()
    monkeypatch.undo()
    run_spec(spec, options)
    assert_same_run(reference, finished_trial(out))
