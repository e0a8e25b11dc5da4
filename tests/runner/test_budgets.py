"""A cell is done only at the budget the current run asks for: a smoke run never passes for the
full one, a capped run may reuse full rows, a run cut off by its time limit is trained on. Each
sequence checks the steps of every row of the final table."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.trial import TrialState

from cnnablate.budget import asked_steps, budget_steps, shortfall
from cnnablate.cli import main
from cnnablate.presets import PRESETS
from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.results import read_results
from cnnablate.runner.spec import load_spec
from cnnablate.runner.status import locate_study, print_status
from cnnablate.runner.storage import default_storage_url

FULL = 24  # the tiny spec's budget
SMOKE = 6


def run(spec_path: Path, out: Path, cap: int | None = None) -> None:
    options = RunOptions(
        out_dir=out, storage_url=default_storage_url(out), step_cap=cap, progress="off"
    )
    run_spec(load_spec(spec_path), options)


def completed(out: Path) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="tiny", storage=default_storage_url(out))
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def assert_table_at(out: Path, steps: int, cap: int | None) -> None:
    table = read_results(out)
    assert len(table) == 6  # one row per cell
    assert table["steps"].tolist() == [steps] * 6
    assert table["budget_steps"].tolist() == [steps] * 6
    assert table["short"].isna().all()
    assert table["step_cap"].tolist() == [cap] * 6 if cap else table["step_cap"].isna().all()


def test_a_smoke_run_is_trained_on_by_the_full_run(tiny_spec, tmp_path, capsys):
    out = tmp_path / "out"
    run(tiny_spec, out, cap=SMOKE)
    assert_table_at(out, SMOKE, SMOKE)
    assert main(["status", str(out)]) == 0  # judged at the full budget: all short
    said = capsys.readouterr().out
    assert sum(line.startswith("short") for line in said.splitlines()) == 6
    assert "6 short" in said
    assert f"{SMOKE} of the {FULL} steps asked, run with --max-steps {SMOKE}" in said
    assert main(["status", str(out), "--max-steps", str(SMOKE)]) == 0
    assert "6 done" in capsys.readouterr().out

    run(tiny_spec, out)
    assert_table_at(out, FULL, None)
    assert (
        sorted(t.user_attrs["result"]["steps"] for t in completed(out)) == [SMOKE] * 6 + [FULL] * 6
    )


def test_a_capped_run_reuses_the_full_rows(tiny_spec, tmp_path):
    out = tmp_path / "out"
    run(tiny_spec, out)
    run(tiny_spec, out, cap=SMOKE)
    assert len(completed(out)) == 6  # nothing trained again
    assert_table_at(out, FULL, None)


def test_a_run_cut_off_by_its_time_limit_is_trained_on(tiny_spec, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    spec = load_spec(tiny_spec)
    options = RunOptions(out_dir=out, storage_url=default_storage_url(out), progress="off")
    checks = iter([False, False])  # one trial claimed, then the (past) deadline stops it
    monkeypatch.setattr(RunOptions, "out_of_time", lambda self, need_s=0.0: next(checks, True))
    run_spec(spec, RunOptions(**{**options.__dict__, "deadline": time.time()}))
    monkeypatch.undo()
    study, plan = locate_study(str(out), None)
    counts = print_status(study, plan)
    assert counts["short"] == 1 and counts["pending"] == 5
    assert "stopped by its time limit" in capsys.readouterr().out

    run_spec(spec, options)
    assert_table_at(out, FULL, None)


def test_a_clone_without_the_storage_adopts_the_table(tiny_spec, tmp_path, capsys):
    out = tmp_path / "out"
    run(tiny_spec, out, cap=SMOKE)
    run(tiny_spec, out)
    before = read_results(out)
    (out / "study.db").unlink()  # what a clone of the repository has: table and spec.yaml
    assert main(["status", str(out)]) == 0
    assert "tiny: 6 cells: 6 done" in capsys.readouterr().out
    run(tiny_spec, out)
    assert len(completed(out)) == 6  # adopted, not trained again
    after = read_results(out)
    kept = [c for c in before.columns if c not in ("trial", "started", "finished")]
    assert after[kept].equals(before[kept])


def test_a_folder_of_another_spec_is_refused(tiny_spec, tmp_path):
    out = tmp_path / "out"
    run(tiny_spec, out, cap=SMOKE)
    (out / "study.db").unlink()
    other = tiny_spec.with_name("other.yaml")
    other.write_text(tiny_spec.read_text().replace("seeds: [0, 1, 2]", "seeds: [0, 1]"))
    assert main(["run", str(other), "--out", str(out)]) == 2
    assert read_results(out)["steps"].tolist() == [SMOKE] * 6  # nothing lost


GENERATED = sorted(n for n, p in PRESETS.items() if p.config.data.name == "mnist1d")


@pytest.mark.parametrize("name", GENERATED)
def test_budget_steps_is_the_trainers_budget(name):
    from cnnablate.data import build_datamodule

    config = PRESETS[name].config
    datamodule = build_datamodule(config.data, 0, None, config.train.steps_per_block)
    datamodule.prepare()
    epochs = config.train.max_epochs or 0
    expected = config.train.max_steps or epochs * datamodule.batches_per_epoch
    assert budget_steps(config) == expected
    assert asked_steps(config, 5) == min(expected, 5)


@given(
    reach=st.integers(1, 10**7),
    asked=st.integers(1, 10**7),
    cap=st.none() | st.integers(1, 10**7),
)
def test_shortfall_names_what_is_missing(reach, asked, cap):
    why = shortfall(reach, cap, asked)
    assert (why is None) == (reach >= asked)
    if why is not None:
        assert f"{reach:,} of the {asked:,} steps asked" in why
        assert ("--max-steps" in why) == (cap == reach)
