"""Claiming and running trials: one path, where a lone trial is a pack of one.

A worker claims the trials its plan allows at once (when packing, trials of one pack group:
cells of one pack key, or a cell's seeds, `packing.py`; else one trial) and trains them with
`train_pack` (stacked parameters and vmap for several), each with its own config; each trial
still gets its own folder, heartbeat, result and `tell`.
"""

from __future__ import annotations

import json
import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from cnnablate.budget import asked_steps
from cnnablate.callbacks import RESUME_FILE
from cnnablate.errors import Interrupted, UserError
from cnnablate.loggers import LogTarget
from cnnablate.runner.grid import SEED
from cnnablate.runner.options import RunOptions
from cnnablate.runner.optuna_access import storage_of, trial_id
from cnnablate.runner.packing import PackMode
from cnnablate.runner.plans import ASKED, CAP, Plan
from cnnablate.runner.progress import trial_label
from cnnablate.runner.storage import Heartbeat, claim_attrs, claim_lock


def claim_trials(
    study: optuna.Study, plan: Plan, options: RunOptions, pack: PackMode
) -> list[Trial]:
    """Ask for the trials the plan allows now, marked with this worker and its heartbeat before
    the lock opens (a reconcile elsewhere must never see them RUNNING without both)."""
    with claim_lock(options.out_dir, options.storage_url):
        trials = [study.ask() for _ in range(plan.claimable(study, pack))]
        attrs = claim_attrs(storage_of(study))
        for trial in trials:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
    claimed = []
    for trial in trials:
        if plan.claimed(trial):
            claimed.append(trial)
        else:
            study.tell(trial, state=TrialState.FAIL)
    return claimed


def run_trials(
    study: optuna.Study, plan: Plan, trials: list[Trial], options: RunOptions
) -> list[str]:
    """Train claimed trials of one pack group together; tell Optuna how each ended.
    Returns each trial's outcome, in order."""
    from cnnablate.train import TrainOptions, train_pack

    outcomes: dict[int, str] = {}
    todo = []
    for trial in trials:
        duplicate = plan.done_trial(study, trial.user_attrs.get("cell", ""))
        if duplicate is None:
            todo.append(trial)
            continue
        trial.set_user_attr("failure", f"duplicate of trial {duplicate.number}")
        study.tell(trial, state=TrialState.FAIL)
        outcomes[trial.number] = "duplicate"
    dirs = [trial_dir(options.out_dir, trial, study) for trial in todo]
    for trial, folder in zip(todo, dirs, strict=True):
        trial.set_user_attr("dir", str(folder))
    with ExitStack() as beats:
        for trial in todo:
            beats.enter_context(Heartbeat(storage_of(study), trial_id(trial)))
        if todo:
            setups = [plan.setup(trial) for trial in todo]
            preset = setups[0][2]  # one preset per pack group
            for trial, (config, _, _) in zip(todo, setups, strict=True):
                trial.set_user_attr(ASKED, asked_steps(config, options.step_cap))
                trial.set_user_attr(CAP, options.step_cap)
            callbacks = plan.callbacks(todo[0]) if len(todo) == 1 else []
            try:
                train_options = TrainOptions(
                    accelerator=options.accelerator or plan.spec.model.accelerator,
                    data_dir=options.data_dir,
                    preset=preset,
                    callbacks=[*callbacks, *trial_bar(options)],
                    progress=options.progress,
                    step_cap=options.step_cap,
                    checkpoint=plan.spec.model.checkpoint,
                    deadline=options.deadline,
                    label=", ".join(trial_label(trial) for trial in todo),
                    loggers=tuple(dict.fromkeys([*plan.spec.model.loggers, *options.loggers])),
                    log_to=log_target(plan, todo[0], options),
                )
                runs = [(c, seed, d) for (c, seed, _), d in zip(setups, dirs, strict=True)]
                results = train_pack(runs, train_options)
            except Exception as error:
                outcomes.update(tell_stopped(study, todo, error))
            else:
                for trial, result in zip(todo, results, strict=True):
                    trial.set_user_attr("result", scalar_result(result))
                    study.tell(trial, objective_value(plan.metric, result))
                    outcomes[trial.number] = result["status"]
    return [outcomes[trial.number] for trial in trials]


def log_target(plan: Plan, trial: Trial, options: RunOptions) -> LogTarget:
    """Where a trial's loggers write: the results folder, the spec's name as experiment (W&B
    project), the cell without its seed as W&B group; each trial a run named by its folder."""
    cell = json.loads(trial.user_attrs.get("cell") or "{}")
    levels = ", ".join(f"{key}={value}" for key, value in cell.items() if key != SEED)
    params = {"spec": plan.spec.name, **({"cell": levels} if levels else {})}
    return LogTarget(options.out_dir, plan.spec.name, levels[:128] or None, params)


def tell_stopped(study: optuna.Study, trials: list[Trial], error: Exception) -> dict[int, str]:
    """Trials stopped by their time limit (queued again, they resume), pruned, or failed; a
    UserError is raised on after the trials are told."""
    if isinstance(error, Interrupted):
        state, outcome, failure = TrialState.FAIL, "interrupted", f"interrupted: {error}"
    elif isinstance(error, optuna.TrialPruned):
        state, outcome, failure = TrialState.PRUNED, "pruned", None
    else:
        state, outcome, failure = TrialState.FAIL, "failed", f"{type(error).__name__}: {error}"
    for trial in trials:
        if failure is not None:
            trial.set_user_attr("failure", failure[:500])
        study.tell(trial, state=state)
    if isinstance(error, UserError):
        raise error
    return {trial.number: outcome for trial in trials}


def objective_value(metric: str, result: dict[str, Any]) -> float:
    value = result.get(metric)
    if value is None or not math.isfinite(value):
        raise UserError(f"metric '{metric}' is missing from the result (is there a val split?)")
    return float(value)


def scalar_result(result: dict[str, Any]) -> dict[str, Any]:
    """A run's result as the study stores it: versions flattened into `version_*`."""
    flat = {k: v for k, v in result.items() if k != "versions"}
    flat.update({f"version_{k}": v for k, v in result["versions"].items()})
    return flat


def trial_dir(out_dir: Path, trial: Trial, study: optuna.Study) -> Path:
    """The trial's folder: that of an earlier trial of the same cell which was cut off with
    its state saved (it resumes there), else a new one."""
    if (earlier := interrupted_dir(study, trial)) is not None:
        return earlier
    slug = trial.user_attrs.get("cell_slug") or f"trial-{trial.number}"
    return out_dir / "trials" / f"{trial.number:04d}-{slug}"


def interrupted_dir(study: optuna.Study, trial: Trial) -> Path | None:
    cell = trial.user_attrs.get("cell")
    if cell is None:
        return None
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    for other in sorted(failed, key=lambda t: t.number, reverse=True):
        folder = Path(other.user_attrs.get("dir") or "-")
        if other.user_attrs.get("cell") == cell and (folder / RESUME_FILE).exists():
            return folder
    return None


def trial_bar(options: RunOptions) -> list[Any]:
    """Lightning's bar one line down, so the matrix's bar keeps the top line."""
    from pytorch_lightning.callbacks import TQDMProgressBar

    return [TQDMProgressBar(process_position=1)] if options.progress == "bar" else []
