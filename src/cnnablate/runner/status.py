"""`cnnablate status`: what each cell of a matrix is doing, read from its storage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna
from optuna.trial import TrialState

from cnnablate.errors import UserError
from cnnablate.runner.grid import enumerate_cells
from cnnablate.runner.spec import Spec, load_spec, parse_spec
from cnnablate.runner.storage import default_storage_url, open_storage

ORDER = ("done", "running", "failed", "pending")


def locate_study(target: str, storage_url: str | None) -> tuple[optuna.Study, Spec]:
    """A spec file (results in results/NAME) or a results folder holding study.db."""
    path = Path(target)
    if path.is_dir():
        url = storage_url or default_storage_url(path)
        if storage_url is None and not (path / "study.db").exists():
            raise UserError(f"{path}: no study.db here; name the spec or pass --storage")
        storage = open_storage(url)
        summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
        if len(summaries) != 1:
            names = ", ".join(s.study_name for s in summaries) or "none"
            raise UserError(f"{url}: expected one study, found: {names}; name the spec instead")
        study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
        if "spec_text" not in study.user_attrs:
            raise UserError(
                f"{url}: study '{study.study_name}' was not made by cnnablate (no stored spec)"
            )
        spec = parse_spec(study.user_attrs["spec_text"], where=f"{path} (stored spec)")
        return study, spec
    spec = load_spec(path)
    url = storage_url or default_storage_url(Path("results") / spec.name)
    if storage_url is None and not (Path("results") / spec.name / "study.db").exists():
        raise UserError(f"{target}: not run yet (no results/{spec.name}/study.db)")
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(url))
    except KeyError:
        raise UserError(f"{url}: no study named '{spec.name}'") from None
    return study, spec


def cell_states(study: optuna.Study, spec: Spec) -> dict[str, str]:
    """Per grid cell: done (a completed trial), running, failed (only failures), pending."""
    by_cell: dict[str, set[TrialState]] = {}
    for trial in study.get_trials(deepcopy=False):
        by_cell.setdefault(trial.user_attrs.get("cell"), set()).add(trial.state)
    states = {}
    for cell in enumerate_cells(spec):
        seen = by_cell.get(cell.key, set())
        if TrialState.COMPLETE in seen:
            states[cell.key] = "done"
        elif TrialState.RUNNING in seen:
            states[cell.key] = "running"
        elif TrialState.FAIL in seen and TrialState.WAITING not in seen:
            states[cell.key] = "failed"
        else:
            states[cell.key] = "pending"
    return states


def trial_states(study: optuna.Study, spec: Spec) -> Counter:
    mapping = {
        TrialState.COMPLETE: "done",
        TrialState.PRUNED: "done",
        TrialState.RUNNING: "running",
        TrialState.FAIL: "failed",
        TrialState.WAITING: "pending",
    }
    counts = Counter(mapping[t.state] for t in study.get_trials(deepcopy=False))
    finished = counts["done"]
    counts["pending"] += max(0, spec.model.optuna.n_trials - finished - counts["running"])
    return counts


def print_status(study: optuna.Study, spec: Spec, per_cell: bool = True) -> Counter:
    if spec.model.mode == "grid":
        states = cell_states(study, spec)
        if per_cell:
            for key, state in states.items():
                print(f"{state:<8} {key}")
        counts = Counter(states.values())
        unit = "cells"
    else:
        counts = trial_states(study, spec)
        unit = "trials"
    summary = ", ".join(f"{counts.get(state, 0)} {state}" for state in ORDER)
    print(f"{spec.name}: {sum(counts.values())} {unit}: {summary}")
    return counts
