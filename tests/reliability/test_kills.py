"""SIGKILL `cnnablate run` at random moments, again and again; then let it finish.

Nothing may be lost or doubled: every cell ends with exactly one completed trial, nothing stays
RUNNING or WAITING, and `results.parquet` is the table rebuilt from the storage. The moments are
seeded: some during start-up (imports, study creation, enqueueing), some a little after a trial
started (in the trial, in writing the results, in the next claim).
"""

from __future__ import annotations

import random
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from optuna.trial import TrialState

from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url
from tests.reliability.processes import RunProcess, descendants, survivors
from tests.reliability.study_checks import (
    assert_every_cell_exactly_once,
    assert_results_file_matches_storage,
    load_study,
    temp_leftovers,
)

FINISH_TIMEOUT_S = 240

# Two activations x SEEDS cells of a few hundred updates each: long enough for a kill to land
# inside a trial, many enough that the matrix is still unfinished when the last kill comes.
KILL_SPEC = """
name: kills
base:
  preset: udl-mlp
  set: {{data.num_samples: 600, model.hidden: [16], train.eval_every_epochs: 1}}
factors:
  model.activation: [relu, tanh]
seeds: {seeds}
budget: {{max_steps: 300}}
"""


@dataclass
class KillLog:
    """What the kills hit, for the assertions and the printed summary."""

    landed: int = 0  # the process was still running when killed
    in_trial: int = 0  # ... and one of its processes left a trial RUNNING
    children: int = 0  # processes below the killed one (workers, resource tracker)
    orphans: list[int] = field(default_factory=list)
    moments: Counter = field(default_factory=Counter)


def write_kill_spec(folder: Path, seeds: int) -> Path:
    path = folder / "kills.yaml"
    path.write_text(textwrap.dedent(KILL_SPEC.format(seeds=list(range(seeds)))))
    return path


@pytest.fixture
def kill_spec(tmp_path: Path) -> Path:
    return write_kill_spec(tmp_path, seeds=8)


@pytest.fixture
def eight_cell_kill_spec(tmp_path: Path) -> Path:
    """Half the cells: three kills of a run with workers leave fewer cells to finish."""
    return write_kill_spec(tmp_path, seeds=4)


def wait_for_moment(run: RunProcess, moment: str, rng: random.Random) -> None:
    """Return at the chosen moment: seconds after start, or just after the n-th trial began."""
    if moment == "startup":
        run.wait_up_to(rng.uniform(0.5, 4.0))
    elif run.wait_for_line("starting", count=rng.randint(1, 2), timeout=FINISH_TIMEOUT_S):
        run.wait_up_to(rng.uniform(0.0, 0.8))


def kill_at(run: RunProcess, moment: str, rng: random.Random, out: Path, log: KillLog) -> None:
    wait_for_moment(run, moment, rng)
    children = descendants(run.pid)
    log.children += len(children)
    if run.kill():
        log.landed += 1
        log.moments[moment] += 1
    log.orphans += survivors(children)
    log.in_trial += bool(running_pids(out) & {run.pid, *children})


def running_pids(out: Path) -> set[int]:
    """The processes that the storage says are running a trial."""
    if not (out / "study.db").exists():
        return set()
    try:
        study = load_study(default_storage_url(out), "kills")
    except KeyError:  # killed between making the tables and making the study
        return set()
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return {t.user_attrs.get("pid") for t in running}


def kill_again_and_again(
    spec: Path, out: Path, kills: int, workers: int, seed: int
) -> tuple[KillLog, str]:
    """Kill a run `kills` times at seeded moments (half at start-up), then let one finish."""
    rng = random.Random(seed)
    moments = ["startup", "trial"] * (kills // 2) + ["trial"] * (kills % 2)
    rng.shuffle(moments)
    log = KillLog()
    args = ("run", str(spec), "--out", str(out), "--workers", str(workers))
    for moment in moments:
        kill_at(RunProcess(*args, cwd=out.parent), moment, rng, out, log)
    code, output = RunProcess(*args, cwd=out.parent).finish(timeout=FINISH_TIMEOUT_S)
    assert code == 0, output
    return log, output


def assert_nothing_lost_or_doubled(spec: Path, out: Path) -> None:
    study = load_study(default_storage_url(out), "kills")
    assert_every_cell_exactly_once(study, load_spec(spec))
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert {t.user_attrs.get("failure") for t in failed} <= {"worker lost"}
    assert_results_file_matches_storage(out, study, load_spec(spec))


def test_twelve_random_sigkills_lose_and_double_nothing(kill_spec, tmp_path):
    out = tmp_path / "out"
    log, output = kill_again_and_again(kill_spec, out, kills=12, workers=1, seed=20260520)
    assert "Traceback" not in output
    print(
        f"\nkills landed {log.landed}/12 ({dict(log.moments)}), {log.in_trial} in a trial, "
        f"temp files left by kills: {len(temp_leftovers(out))}"
    )
    assert log.landed >= 10
    assert log.in_trial >= 3
    assert_nothing_lost_or_doubled(kill_spec, out)


def test_killed_parent_takes_its_workers_along(eight_cell_kill_spec, tmp_path):
    kill_spec, out = eight_cell_kill_spec, tmp_path / "out"
    log, output = kill_again_and_again(kill_spec, out, kills=3, workers=2, seed=7)
    assert "Traceback" not in output
    print(
        f"\n--workers 2: kills landed {log.landed}/3, {log.in_trial} in a trial, "
        f"{log.children} child processes killed with their parent, orphans: {log.orphans}"
    )
    assert log.children >= 2  # the kills did find workers to take along
    assert log.orphans == [], f"processes outlived their killed parent: {log.orphans}"
    assert log.landed >= 2
    assert_nothing_lost_or_doubled(kill_spec, out)
