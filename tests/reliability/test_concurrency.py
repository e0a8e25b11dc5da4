"""Many workers, one study: every cell runs exactly once, on SQLite and on PostgreSQL.

The PostgreSQL test plays two machines: two `cnnablate run` processes with their own results
folders (so no shared file lock) and two workers each, pointed at one database and started at
the same moment, so both coordinators reconcile and enqueue together.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest
from optuna.trial import TrialState

from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url
from tests.reliability.processes import RunProcess
from tests.reliability.study_checks import (
    assert_every_cell_exactly_once,
    assert_results_file_matches_storage,
    load_study,
)

RUN_TIMEOUT_S = 300

# The tiny spec with four seeds: eight short cells, enough to keep four workers busy.
EIGHT_CELLS = """
name: eight
base:
  preset: udl-mlp
  set: {data.num_samples: 600, model.hidden: [16], train.eval_every_epochs: 1}
factors:
  model.activation: [relu, tanh]
seeds: [0, 1, 2, 3]
budget: {max_steps: 24}
"""


@pytest.fixture
def eight_cells(tmp_path: Path) -> Path:
    path = tmp_path / "eight.yaml"
    path.write_text(textwrap.dedent(EIGHT_CELLS))
    return path


def workers_of(study) -> Counter:
    """Trials per worker process (host, pid) that ran one."""
    ran = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return Counter((t.user_attrs["host"], t.user_attrs["pid"]) for t in ran)


def test_four_local_workers_on_sqlite_run_every_cell_once(eight_cells, tmp_path):
    out = tmp_path / "out"
    run = RunProcess("run", str(eight_cells), "--out", str(out), "--workers", "4", cwd=tmp_path)
    code, output = run.finish(timeout=RUN_TIMEOUT_S)
    assert code == 0, output
    assert "Traceback" not in output
    study = load_study(default_storage_url(out), "eight")
    assert_every_cell_exactly_once(study, load_spec(eight_cells))
    assert len(study.get_trials()) == 8  # no duplicate, no failed claim
    assert len(workers_of(study)) >= 2
    assert_results_file_matches_storage(out, study, load_spec(eight_cells))


def test_two_machines_of_two_workers_share_a_postgresql_study(eight_cells, tmp_path, postgres_url):
    runs = {
        name: RunProcess(
            "run",
            str(eight_cells),
            "--out",
            str(tmp_path / name),
            "--storage",
            postgres_url,
            "--workers",
            "2",
            cwd=tmp_path,
        )
        for name in ("machine-a", "machine-b")
    }
    finished = {name: run.finish(timeout=RUN_TIMEOUT_S) for name, run in runs.items()}
    for name, (code, output) in finished.items():
        # A machine that ends while the other still runs a trial says so with status 1.
        assert code in (0, 1), f"{name}:\n{output}"
        assert "Traceback" not in output, f"{name}:\n{output}"
    assert 0 in {code for code, _ in finished.values()}

    study = load_study(postgres_url, "eight")
    assert_every_cell_exactly_once(study, load_spec(eight_cells))
    trials = study.get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert not failed, [(t.number, t.user_attrs.get("failure")) for t in failed]
    assert len(trials) == 8
    by_machine = Counter(Path(t.user_attrs["dir"]).parts[-3] for t in trials)
    print(f"\npostgresql: {len(workers_of(study))} workers ran {len(trials)} trials: {by_machine}")
    assert set(by_machine) == {"machine-a", "machine-b"}
