"""Run a spec to completion with Optuna as the engine, however often it is interrupted.

A grid is a study with `GridSampler` over factors × seeds whose every cell is enqueued once, as
a waiting trial, by one process holding the claim lock; workers pop waiting trials. An Optuna
study asks its sampler (TPE) for new trials until `n_trials` have finished. Both kinds live in
one storage, trials run through the same `train()`, and the results table is rewritten
(atomically) after every trial.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import torch
from optuna.trial import FrozenTrial, Trial, TrialState

from cnnablate.errors import Interrupted, Unavailable, UserError
from cnnablate.runner.grid import (
    Cell,
    cell_config,
    check_cells,
    chosen_levels,
    enumerate_cells,
    search_space,
)
from cnnablate.runner.packing import claim_pack, group_by_combo, packing_enabled, run_pack
from cnnablate.runner.progress import MatrixProgress, trial_label
from cnnablate.runner.results import results_table, write_results
from cnnablate.runner.spec import CategoricalParam, FloatParam, Spec, param_targets, parse_spec
from cnnablate.runner.storage import (
    Heartbeat,
    claim_attrs,
    claim_lock,
    open_storage,
    storage_now,
    worker_is_gone,
)

if TYPE_CHECKING:
    from cnnablate.train import Progress

GRID_METRIC = "test_acc"
# No trial is started this close to the deadline: it could not reach its first epoch end (its
# first saved state) before being stopped, and would only lose its work.
CLAIM_MARGIN_S = 60.0


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    storage_url: str
    workers: int = 1
    step_cap: int | None = None
    accelerator: str | None = None  # None: the spec's
    data_dir: Path | None = None
    progress: Progress = "lines"  # how this process shows the matrix's progress
    deadline: float | None = None  # time.time() by which trials stop, their state saved

    def out_of_time(self, need_s: float = 0.0) -> bool:
        return self.deadline is not None and time.time() + need_s >= self.deadline


# --- the study ------------------------------------------------------------------------------


class CellGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler over cells that the runner enqueues itself.

    Its `after_trial` only stops `study.optimize` (not used here) once the grid is done, and
    raises KeyError('grid_id') for a grid of one cell, since enqueued trials carry no grid id
    (optuna/optuna#6844); the runner knows from the storage when the grid is done.
    """

    def after_trial(self, study, trial, state, values) -> None:
        pass


def make_sampler(spec: Spec) -> optuna.samplers.BaseSampler:
    if spec.model.mode == "grid":
        return CellGridSampler(search_space(spec), seed=0)
    return optuna.samplers.TPESampler(seed=spec.model.optuna.sampler_seed)


def make_pruner(spec: Spec) -> optuna.pruners.BasePruner:
    kind = spec.model.optuna.pruner if spec.model.optuna else "none"
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def open_study(spec: Spec, storage_url: str) -> optuna.Study:
    """Load or create the spec's study; refuse a storage that holds another spec's study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url)
    direction = spec.model.optuna.direction if spec.model.optuna else "maximize"
    try:
        study = optuna.create_study(
            study_name=spec.name,
            storage=storage,
            sampler=make_sampler(spec),
            pruner=make_pruner(spec),
            direction=direction,
            load_if_exists=True,
        )
    except Exception as error:
        raise UserError(f"storage {storage_url!r}: {str(error).splitlines()[0]}") from None
    stored = study.user_attrs.get("spec_hash")
    if stored is None:  # the hash last: a run killed in between sets all three again
        study.set_user_attr("spec_text", spec.text)
        study.set_user_attr("mode", spec.model.mode)
        study.set_user_attr("spec_hash", spec.hash)
    elif stored != spec.hash:
        raise UserError(
            f"study '{spec.name}' in {storage_url} was made from a different spec "
            f"(hash {stored}, this one {spec.hash}); use another --out/--storage or restore it"
        )
    return study


def fail_lost_trials(study: optuna.Study, stale_after_s: float) -> list[FrozenTrial]:
    """Mark RUNNING trials whose worker died or went silent as FAIL; return them."""
    now, lost = storage_now(study._storage), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if worker_is_gone(trial.user_attrs, now, stale_after_s):
            storage = study._storage
            storage.set_trial_user_attr(trial._trial_id, "failure", "worker lost")
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            lost.append(trial)
    return lost


def enqueue_missing_cells(study: optuna.Study, cells: list[Cell]) -> int:
    """Queue every cell that has no completed, waiting or running trial. Call under the lock."""
    live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    covered = {t.user_attrs.get("cell") for t in study.get_trials(deepcopy=False, states=live)}
    missing = [cell for cell in cells if cell.key not in covered]
    for cell in missing:
        study.enqueue_trial(cell.params, user_attrs={"cell": cell.key, "cell_slug": cell.slug})
    return len(missing)


def reconcile(study: optuna.Study, spec: Spec, cells: list[Cell], options: RunOptions) -> int:
    """Fail lost trials and (grid) queue the cells they leave open. Returns cells queued."""
    with claim_lock(options.out_dir, options.storage_url):
        fail_lost_trials(study, spec.model.stale_after_s)
        return enqueue_missing_cells(study, cells) if spec.model.mode == "grid" else 0


# --- one trial ------------------------------------------------------------------------------


def claim_trial(study: optuna.Study, spec: Spec, options: RunOptions) -> Trial | None:
    with claim_lock(options.out_dir, options.storage_url):
        if spec.model.mode == "grid":
            if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                return None
        else:
            counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
            if len(study.get_trials(deepcopy=False, states=counted)) >= spec.model.optuna.n_trials:
                return None
        trial = study.ask()
        # Before the lock opens: a reconcile elsewhere must never see this trial RUNNING
        # without its worker and a heartbeat, or it would take it for lost.
        for key, value in claim_attrs(study._storage).items():
            trial.set_user_attr(key, value)
    if spec.model.mode == "grid" and "cell" not in trial.user_attrs:
        # Another machine popped the last waiting trial between our look and our ask.
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def already_done(study: optuna.Study, trial: Trial) -> FrozenTrial | None:
    cell = trial.user_attrs.get("cell")
    if cell is None:
        return None
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if other.user_attrs.get("cell") == cell:
            return other
    return None


def suggest(trial: Trial, key: str, param: Any) -> Any:
    if isinstance(param, CategoricalParam):
        return trial.suggest_categorical(key, param.choices)
    if isinstance(param, FloatParam):
        return trial.suggest_float(key, param.low, param.high, log=param.log)
    return trial.suggest_int(key, param.low, param.high, log=param.log)


def trial_setup(spec: Spec, trial: Trial) -> tuple[Any, int, str | None]:
    """(config, seed, preset) for a trial, from its grid cell or its sampled parameters."""
    if spec.model.mode == "grid":
        space = search_space(spec)
        params = {key: trial.suggest_categorical(key, choices) for key, choices in space.items()}
        chosen = chosen_levels(spec, params)
        preset = next((lv.preset for lv in chosen.values() if lv.preset), spec.model.base.preset)
        return cell_config(spec, params), params["seed"], preset
    overrides = {}
    for name, param in spec.model.optuna.space.items():
        value = suggest(trial, name, param)
        overrides.update({key: value for key in param_targets(name, param)})
    return spec.config_for({}, overrides), spec.model.seeds[0], spec.model.base.preset


def objective_value(spec: Spec, result: dict[str, Any]) -> float:
    metric = spec.model.optuna.metric if spec.model.optuna else GRID_METRIC
    value = result.get(metric)
    if value is None or not math.isfinite(value):
        raise UserError(f"metric '{metric}' is missing from the result (is there a val split?)")
    return float(value)


def scalar_result(result: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in result.items() if k not in ("config", "versions")}
    flat.update({f"version_{k}": v for k, v in result["versions"].items()})
    return flat


def pruning_callbacks(spec: Spec, trial: Trial) -> list:
    if spec.model.mode != "optuna" or spec.model.optuna.pruner == "none":
        return []
    from cnnablate.runner.pruning import OptunaPruning

    monitor = spec.model.optuna.metric.removeprefix("best_")
    return [OptunaPruning(trial, monitor=monitor)]


def trial_dir(out_dir: Path, trial: Trial, study: optuna.Study) -> Path:
    """The trial's folder: that of an earlier trial of the same cell which was cut off with
    its state saved (it resumes there), else a new one."""
    if (earlier := interrupted_dir(study, trial)) is not None:
        return earlier
    slug = trial.user_attrs.get("cell_slug") or f"trial-{trial.number}"
    return out_dir / "trials" / f"{trial.number:04d}-{slug}"


def interrupted_dir(study: optuna.Study, trial: Trial) -> Path | None:
    from cnnablate.train import RESUME_FILE

    cell = trial.user_attrs.get("cell")
    if cell is None:
        return None
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    for other in sorted(failed, key=lambda t: t.number, reverse=True):
        folder = Path(other.user_attrs.get("dir") or "-")
        if other.user_attrs.get("cell") == cell and (folder / RESUME_FILE).exists():
            return folder
    return None


def tell_interrupted(study: optuna.Study, trial: Trial, error: Interrupted) -> str:
    """A trial stopped by the time limit fails; its cell is queued again and resumes."""
    trial.set_user_attr("failure", f"interrupted: {error}"[:500])
    study.tell(trial, state=TrialState.FAIL)
    return "interrupted"


def run_trial(study: optuna.Study, spec: Spec, trial: Trial, options: RunOptions) -> str:
    """Train one claimed trial and tell Optuna how it ended; returns the outcome."""
    from cnnablate.train import train

    duplicate = already_done(study, trial)
    if duplicate is not None:
        trial.set_user_attr("failure", f"duplicate of trial {duplicate.number}")
        study.tell(trial, state=TrialState.FAIL)
        return "duplicate"
    folder = trial_dir(options.out_dir, trial, study)
    trial.set_user_attr("dir", str(folder))
    with Heartbeat(study._storage, trial._trial_id):
        config, seed, preset = trial_setup(spec, trial)
        try:
            result = train(
                config,
                seed=seed,
                out_dir=folder,
                accelerator=options.accelerator or spec.model.accelerator,
                data_dir=options.data_dir,
                preset=preset,
                callbacks=[*pruning_callbacks(spec, trial), *trial_bar(options)],
                progress=options.progress,
                step_cap=options.step_cap,
                checkpoint=spec.model.checkpoint,
                deadline=options.deadline,
            )
        except Interrupted as error:
            return tell_interrupted(study, trial, error)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            return "pruned"
        except Exception as error:
            trial.set_user_attr("failure", f"{type(error).__name__}: {error}"[:500])
            study.tell(trial, state=TrialState.FAIL)
            if isinstance(error, UserError):
                raise
            return "failed"
        trial.set_user_attr("result", scalar_result(result))
        study.tell(trial, objective_value(spec, result))
    return result["status"]


# --- workers --------------------------------------------------------------------------------


def trial_bar(options: RunOptions) -> list[Any]:
    """Lightning's bar one line down, so the matrix's bar keeps the top line."""
    from pytorch_lightning.callbacks import TQDMProgressBar

    return [TQDMProgressBar(process_position=1)] if options.progress == "bar" else []


def claim_work(study: optuna.Study, spec: Spec, options: RunOptions, pack: bool) -> list[Trial]:
    if pack:
        return claim_pack(study, spec, options)
    trial = claim_trial(study, spec, options)
    return [] if trial is None else [trial]


def run_work(
    study: optuna.Study,
    spec: Spec,
    trials: list[Trial],
    options: RunOptions,
    progress: MatrixProgress,
) -> None:
    for group in group_by_combo(trials):
        outcomes = (
            run_pack(study, spec, group, options)
            if len(group) > 1
            else [run_trial(study, spec, group[0], options)]
        )
        for trial, outcome in zip(group, outcomes, strict=False):
            progress.ended(trial, outcome)


def worker_loop(spec: Spec, options: RunOptions, total: int) -> None:
    study = open_study(spec, options.storage_url)
    pack = packing_enabled(spec, options.accelerator)
    progress = MatrixProgress(spec.name, total, options.workers, options.progress)
    progress.start(study)
    try:
        while not options.out_of_time(CLAIM_MARGIN_S) and (
            trials := claim_work(study, spec, options, pack)
        ):
            progress.starting(study, ", ".join(trial_label(t) for t in trials))
            run_work(study, spec, trials, options, progress)
            progress.refresh(study)
            write_results(options.out_dir, results_table(study))
    finally:
        progress.close()


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when its parent dies, so a killed run leaves no orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _worker_process(spec_text: str, spec_path: str | None, options: RunOptions, total: int) -> None:
    _die_with_parent()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // options.workers))
    from cnnablate.cli import quiet_lightning

    quiet_lightning()
    spec = parse_spec(
        spec_text, where=spec_path or "spec", path=Path(spec_path) if spec_path else None
    )
    try:
        worker_loop(spec, options, total)
    except UserError as error:
        print(f"cnnablate: error: {error}", file=sys.stderr)
        sys.exit(1 if isinstance(error, Unavailable) else 2)


def run_workers(spec: Spec, options: RunOptions, total: int) -> None:
    if options.workers == 1:
        worker_loop(spec, options, total)
        return
    context = mp.get_context("spawn")
    # On a terminal this process owns the bar and the workers stay quiet; in a log each worker
    # writes its own lines.
    child = replace(options, progress="off" if options.progress == "bar" else options.progress)
    path = str(spec.path) if spec.path else None
    processes = [
        context.Process(target=_worker_process, args=(spec.text, path, child, total))
        for _ in range(options.workers)
    ]
    for process in processes:
        process.start()
    if options.progress == "bar":
        watch_workers(spec, options, total, processes)
    for process in processes:
        process.join()
    if any(p.exitcode == 2 for p in processes):
        raise UserError("a worker stopped on bad input (see its message above)")
    if any(p.exitcode == 1 for p in processes):
        raise Unavailable("a worker stopped: what it needed could not be had (see above)")


def watch_workers(spec: Spec, options: RunOptions, total: int, processes: list) -> None:
    """The matrix's bar, fed from the storage while the worker processes run."""
    study = open_study(spec, options.storage_url)
    progress = MatrixProgress(spec.name, total, options.workers, "bar")
    progress.start(study)
    try:
        while any(p.is_alive() for p in processes):
            progress.report_ended(study)
            time.sleep(1.0)
        progress.report_ended(study)
    finally:
        progress.close()


def total_cells(spec: Spec, cells: list[Cell]) -> int:
    return len(cells) if spec.model.mode == "grid" else spec.model.optuna.n_trials


def open_work(study: optuna.Study, spec: Spec) -> int:
    """Trials still to run: waiting cells (grid) or trials short of n_trials (optuna)."""
    if spec.model.mode == "grid":
        return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    return spec.model.optuna.n_trials - len(study.get_trials(deepcopy=False, states=finished))


def check_data(spec: Spec, cells: list[Cell], data_dir: Path | None) -> None:
    """Fetch and verify the files of every data set the matrix reads before anything trains:
    missing or corrupted data is one line naming it, not a failed first trial."""
    from cnnablate.data.fetch import fetch_mnist, resolve_data_dir
    from cnnablate.data.mnist import fashion_mnist_dir

    configs = [cell_config(spec, cell.params) for cell in cells] or [spec.config_for({})]
    names = {config.data.name for config in configs}
    if names & {"mnist", "mnist-expanded"}:
        fetch_mnist(resolve_data_dir(data_dir))
    if "fashion-mnist" in names:
        fashion_mnist_dir(data_dir)


def run_spec(spec: Spec, options: RunOptions) -> optuna.Study:
    """Run (or resume) the whole matrix; returns the study when nothing is left to do here."""
    cells = enumerate_cells(spec) if spec.model.mode == "grid" else []
    check_cells(spec, cells)
    check_data(spec, cells, options.data_dir)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(spec, options.storage_url)
    total = total_cells(spec, cells)
    for _ in range(3):  # a worker that died mid-trial leaves a cell to queue again
        reconcile(study, spec, cells, options)
        if open_work(study, spec) <= 0 or options.out_of_time():
            break
        run_workers(spec, options, total)
    write_results(options.out_dir, results_table(study))
    return study
