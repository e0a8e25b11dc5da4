"""Run a spec to completion with Optuna as the engine, however often it is interrupted.

A grid is a study with `GridSampler` over factors × seeds whose every cell is enqueued once, as
a waiting trial, by one process holding the claim lock; workers pop waiting trials. An Optuna
study asks its sampler (TPE) for new trials until `n_trials` have finished. Both kinds live in
one storage, differ only in their plan (`plans.py`), run through the same trial path
(`trials.py`), and the results table is rewritten (atomically) after every trial.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from cnnablate.errors import Unavailable, UserError
from cnnablate.runner.folder import adopt_table, claim_folder
from cnnablate.runner.options import CLAIM_MARGIN_S, RunOptions
from cnnablate.runner.optuna_access import fail_trial, storage_of
from cnnablate.runner.packing import pack_mode
from cnnablate.runner.plans import Plan, make_plan
from cnnablate.runner.progress import MatrixProgress, trial_label
from cnnablate.runner.results import results_table, write_results
from cnnablate.runner.spec import Spec, parse_spec
from cnnablate.runner.storage import claim_lock, open_storage, storage_now, worker_is_gone
from cnnablate.runner.trials import claim_trials, run_trials

__all__ = ["RunOptions", "open_study", "run_spec"]


# --- the study ------------------------------------------------------------------------------


def open_study(spec: Spec, storage_url: str, plan: Plan | None = None) -> optuna.Study:
    """Load or create the spec's study; refuse a storage that holds another spec's study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan = plan or make_plan(spec)
    storage = open_storage(storage_url)
    direction = spec.model.optuna.direction if spec.model.optuna else "maximize"
    try:
        study = optuna.create_study(
            study_name=spec.name,
            storage=storage,
            sampler=plan.sampler(),
            pruner=plan.pruner(),
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
    now, lost = storage_now(storage_of(study)), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if worker_is_gone(trial.user_attrs, now, stale_after_s):
            fail_trial(study, trial, "worker lost")
            lost.append(trial)
    return lost


def reconcile(study: optuna.Study, plan: Plan, options: RunOptions) -> int:
    """Adopt the folder's table into a new study, fail lost trials and queue what is open
    (grid cells). Returns trials queued."""
    with claim_lock(options.out_dir, options.storage_url):
        adopt_table(study, plan, options.out_dir)
        fail_lost_trials(study, plan.spec.model.stale_after_s)
        return plan.queue(study, pack_mode(plan.spec, options.accelerator, bool(options.loggers)))


# --- workers --------------------------------------------------------------------------------


def worker_loop(spec: Spec, options: RunOptions) -> None:
    plan = make_plan(spec, options.step_cap)
    study = open_study(spec, options.storage_url, plan)
    pack = pack_mode(spec, options.accelerator, bool(options.loggers))
    progress = MatrixProgress(
        spec.name, plan.total, options.workers, options.progress, counts=plan.counts
    )
    progress.start(study)
    try:
        while not options.out_of_time(CLAIM_MARGIN_S) and (
            trials := claim_trials(study, plan, options, pack)
        ):
            progress.starting(study, ", ".join(trial_label(t) for t in trials))
            for group in plan.pack_groups(trials, pack):
                outcomes = run_trials(study, plan, group, options)
                for trial, outcome in zip(group, outcomes, strict=True):
                    progress.ended(trial, outcome)
            progress.refresh(study)
            write_results(options.out_dir, results_table(study, plan))
    finally:
        progress.close()


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when its parent dies, so a killed run leaves no orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _worker_process(spec_text: str, spec_path: str | None, options: RunOptions) -> None:
    _die_with_parent()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // options.workers))
    from cnnablate.callbacks import quiet_lightning

    quiet_lightning()
    spec = parse_spec(
        spec_text, where=spec_path or "spec", path=Path(spec_path) if spec_path else None
    )
    try:
        worker_loop(spec, options)
    except UserError as error:
        print(f"cnnablate: error: {error}", file=sys.stderr)
        sys.exit(1 if isinstance(error, Unavailable) else 2)


def run_workers(spec: Spec, options: RunOptions, total: int) -> None:
    if options.workers == 1:
        worker_loop(spec, options)
        return
    context = mp.get_context("spawn")
    # On a terminal this process owns the bar and the workers stay quiet; in a log each worker
    # writes its own lines.
    child = replace(options, progress="off" if options.progress == "bar" else options.progress)
    path = str(spec.path) if spec.path else None
    processes = [
        context.Process(target=_worker_process, args=(spec.text, path, child))
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
    plan = make_plan(spec, options.step_cap)
    study = open_study(spec, options.storage_url, plan)
    progress = MatrixProgress(spec.name, total, options.workers, "bar", counts=plan.counts)
    progress.start(study)
    try:
        while any(p.is_alive() for p in processes):
            progress.report_ended(study)
            time.sleep(1.0)
        progress.report_ended(study)
    finally:
        progress.close()


def check_data(plan: Plan, data_dir: Path | None) -> None:
    """Fetch and verify the files of every data set the matrix reads before anything trains:
    missing or corrupted data is one line naming it, not a failed first trial."""
    from cnnablate.data import datamodule_class
    from cnnablate.data.fetch import resolve_data_dir

    for name in sorted({config.data.name for config in plan.configs()}):
        if not datamodule_class(name).generated:
            datamodule_class(name).prepare_files(resolve_data_dir(data_dir))


def run_spec(spec: Spec, options: RunOptions) -> optuna.Study:
    """Run (or resume) the whole matrix; returns the study when nothing is left to do here."""
    plan = make_plan(spec, options.step_cap)
    plan.check()
    check_data(plan, options.data_dir)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    claim_folder(spec, options.out_dir)
    study = open_study(spec, options.storage_url, plan)
    for _ in range(3):  # a worker that died mid-trial leaves a cell to queue again
        reconcile(study, plan, options)
        if plan.open_work(study) <= 0 or options.out_of_time():
            break
        run_workers(spec, options, plan.total)
    write_results(options.out_dir, results_table(study, plan))
    return study
