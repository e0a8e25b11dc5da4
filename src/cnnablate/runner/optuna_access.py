"""Every use of Optuna's private attributes, behind one door, so an Optuna upgrade touches one file.

Optuna's public API has no way to reach the storage of a study or the id of a trial from code that
is not its objective: ask/tell workers need both to write heartbeats and to fail the trials of a
dead worker from another process, and the database's clock needs the storage's engine.
"""

from __future__ import annotations

import optuna
import sqlalchemy
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, Trial, TrialState


def storage_of(study: optuna.Study) -> BaseStorage:
    return study._storage


def trial_id(trial: Trial | FrozenTrial) -> int:
    return trial._trial_id


def engine_of(storage: BaseStorage) -> sqlalchemy.Engine | None:
    """The SQL engine of an RDB storage (a study wraps it in a cache), else None."""
    backend = getattr(storage, "_backend", storage)
    return getattr(backend, "engine", None)


def fail_trial(study: optuna.Study, trial: FrozenTrial, failure: str) -> None:
    """Mark another worker's RUNNING trial as FAIL, saying why."""
    storage = storage_of(study)
    storage.set_trial_user_attr(trial_id(trial), "failure", failure)
    storage.set_trial_state_values(trial_id(trial), TrialState.FAIL)
