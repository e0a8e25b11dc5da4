"""Cells that differ only in their seed, trained together as one packed module.

A worker claims the waiting trials of one cell-without-seed at once and trains them with
`train_seeds` (stacked parameters, vmap); each trial still gets its own folder, result and
`tell`. Packing pays on a GPU, where many tiny networks leave the device idle between kernel
launches; on a CPU it is off unless the spec asks (`pack_seeds: true`).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import optuna
import torch
from optuna.trial import Trial, TrialState

from cnnablate.errors import Interrupted, UserError
from cnnablate.runner.grid import SEED
from cnnablate.runner.spec import Spec
from cnnablate.runner.storage import Heartbeat, claim_attrs, claim_lock

MAX_PACK = 8


def combo_key(trial: Any) -> str | None:
    """The trial's cell without its seed: trials with equal keys can be packed."""
    cell = trial.user_attrs.get("cell")
    if cell is None:
        return None
    params = {k: v for k, v in json.loads(cell).items() if k != SEED}
    return json.dumps(params, sort_keys=True)


def packing_enabled(spec: Spec, accelerator: str | None) -> bool:
    if spec.model.mode != "grid" or spec.model.pack_seeds is False:
        return False
    if spec.model.pack_seeds is True:
        return True
    wanted = accelerator or spec.model.accelerator
    return wanted == "gpu" or (wanted == "auto" and torch.cuda.is_available())


def claim_pack(study: optuna.Study, spec: Spec, options: Any) -> list[Trial]:
    """Pop the waiting trials of the first waiting cell-without-seed (at most MAX_PACK)."""
    with claim_lock(options.out_dir, options.storage_url):
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not waiting:
            return []
        first = combo_key(min(waiting, key=lambda t: t.number))
        count = min(MAX_PACK, sum(combo_key(t) == first for t in waiting))
        trials = [study.ask() for _ in range(count)]
        attrs = claim_attrs(study._storage)
        for trial in trials:  # as claim_trial: never RUNNING without a worker and a heartbeat
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
    claimed = []
    for trial in trials:
        if "cell" in trial.user_attrs:
            claimed.append(trial)
        else:  # another machine emptied the queue between our look and our ask
            study.tell(trial, state=TrialState.FAIL)
    return claimed


def group_by_combo(trials: list[Trial]) -> list[list[Trial]]:
    groups: dict[str | None, list[Trial]] = {}
    for trial in trials:
        groups.setdefault(combo_key(trial), []).append(trial)
    return list(groups.values())


def run_pack(study: optuna.Study, spec: Spec, trials: list[Trial], options: Any) -> list[str]:
    """Train trials of one cell-without-seed together; tell Optuna how each ended."""
    from cnnablate.runner.execute import (
        already_done,
        objective_value,
        scalar_result,
        tell_interrupted,
        trial_bar,
        trial_dir,
        trial_setup,
    )
    from cnnablate.train import train_seeds

    outcomes, todo = [], []
    for trial in trials:
        duplicate = already_done(study, trial)
        if duplicate is None:
            todo.append(trial)
            continue
        trial.set_user_attr("failure", f"duplicate of trial {duplicate.number}")
        study.tell(trial, state=TrialState.FAIL)
        outcomes.append("duplicate")
    if not todo:
        return outcomes
    dirs = [trial_dir(options.out_dir, trial, study) for trial in todo]
    for trial, folder in zip(todo, dirs, strict=True):
        trial.set_user_attr("dir", str(folder))
    with ExitStack() as beats:
        for trial in todo:
            beats.enter_context(Heartbeat(study._storage, trial._trial_id))
        setups = [trial_setup(spec, trial) for trial in todo]
        config, _, preset = setups[0]
        try:
            results = train_seeds(
                config,
                [seed for _, seed, _ in setups],
                dirs,
                accelerator=options.accelerator or spec.model.accelerator,
                data_dir=options.data_dir,
                preset=preset,
                callbacks=trial_bar(options),
                progress=options.progress,
                step_cap=options.step_cap,
                checkpoint=spec.model.checkpoint,
                deadline=options.deadline,
            )
        except Interrupted as error:
            return [*outcomes, *(tell_interrupted(study, trial, error) for trial in todo)]
        except Exception as error:
            for trial in todo:
                trial.set_user_attr("failure", f"{type(error).__name__}: {error}"[:500])
                study.tell(trial, state=TrialState.FAIL)
            if isinstance(error, UserError):
                raise
            return [*outcomes, *["failed"] * len(todo)]
        for trial, result in zip(todo, results, strict=True):
            trial.set_user_attr("result", scalar_result(result))
            study.tell(trial, objective_value(spec, result))
            outcomes.append(result["status"])
    return outcomes
