"""What "nothing lost, nothing doubled" means for a finished matrix, as assertions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from cnnablate.runner.grid import enumerate_cells
from cnnablate.runner.plans import make_plan
from cnnablate.runner.results import results_table
from cnnablate.runner.spec import Spec


def load_study(storage_url: str, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage_url)


def completed_per_cell(study: optuna.Study) -> Counter:
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return Counter(t.user_attrs.get("cell") for t in completed)


def assert_every_cell_exactly_once(study: optuna.Study, spec: Spec) -> None:
    """One COMPLETE trial per cell, none for anything else, nothing left RUNNING or WAITING."""
    expected = Counter({cell.key: 1 for cell in enumerate_cells(spec)})
    assert completed_per_cell(study) == expected
    open_trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    assert not open_trials, [(t.number, t.state.name) for t in open_trials]


def assert_results_file_matches_storage(out_dir: Path, study: optuna.Study, spec: Spec) -> None:
    """`results.parquet` reads back and equals the table rebuilt from the storage alone."""
    stored = pd.read_parquet(out_dir / "results.parquet")
    pd.testing.assert_frame_equal(stored, results_table(study, make_plan(spec)))


def temp_leftovers(out_dir: Path) -> list[Path]:
    """Temporary files of atomic writes (`.NAME.XXXX.tmp`) still lying in the folder tree."""
    return sorted(out_dir.rglob(".*.tmp"))
