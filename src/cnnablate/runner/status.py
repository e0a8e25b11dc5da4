"""`cnnablate status`: what each cell of a matrix is doing at the budget a run asks for, read from
its storage, else (a fresh clone has no study.db) from its results table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna

from cnnablate.budget import asked_steps
from cnnablate.errors import UserError
from cnnablate.record import RESULTS_TABLE
from cnnablate.runner.folder import adopt_table, folder_spec
from cnnablate.runner.plans import Plan, make_plan
from cnnablate.runner.spec import Spec, load_spec, parse_spec
from cnnablate.runner.storage import default_storage_url, open_storage

ORDER = ("done", "short", "running", "failed", "pending")


def locate_study(
    target: str, storage_url: str | None, step_cap: int | None = None
) -> tuple[optuna.Study, Plan]:
    """A spec file (results in results/NAME) or a results folder: its study from the storage, or
    rebuilt in memory from the folder's results table and spec.yaml."""
    path = Path(target)
    if path.is_dir():
        folder, spec = path, None
    else:
        spec = load_spec(path)
        folder = Path("results") / spec.name
    if storage_url is None and not (folder / "study.db").exists():
        spec = spec or folder_spec(folder)
        if spec is None or not (folder / RESULTS_TABLE).is_file():
            where = f"{folder}" if path.is_dir() else f"{target}: not run yet ({folder}"
            raise UserError(
                f"{where}: no study.db, nor results.parquet with spec.yaml"
                + ("" if path.is_dir() else ")")
                + "; name the spec or pass --storage"
            )
        return table_study(spec, folder, step_cap)
    url = storage_url or default_storage_url(folder)
    study, spec = stored_study(url, spec)
    return study, make_plan(spec, step_cap)


def table_study(spec: Spec, folder: Path, step_cap: int | None) -> tuple[optuna.Study, Plan]:
    """An in-memory study holding what the folder's table says is finished."""
    recorded = folder_spec(folder)
    if recorded is not None and recorded.hash != spec.hash:
        raise UserError(f"{folder}: its spec.yaml differs from {spec.path or spec.name}")
    plan = make_plan(spec, step_cap)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=spec.name, sampler=plan.sampler())
    adopt_table(study, plan, folder)
    return study, plan


def stored_study(url: str, spec: Spec | None) -> tuple[optuna.Study, Spec]:
    """The spec's study in the storage at `url` (without a spec: the one study there)."""
    storage = open_storage(url)
    if spec is not None:
        try:
            return optuna.load_study(study_name=spec.name, storage=storage), spec
        except KeyError:
            raise UserError(f"{url}: no study named '{spec.name}'") from None
    summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    if len(summaries) != 1:
        names = ", ".join(s.study_name for s in summaries) or "none"
        raise UserError(f"{url}: expected one study, found: {names}; name the spec instead")
    study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
    if "spec_text" not in study.user_attrs:
        raise UserError(
            f"{url}: study '{study.study_name}' was not made by cnnablate (no stored spec)"
        )
    return study, parse_spec(study.user_attrs["spec_text"], where=f"{url} (stored spec)")


def print_status(study: optuna.Study, plan: Plan, per_cell: bool = True) -> Counter:
    """A line per cell (why, where one is short or failed) and the counts; returns them."""
    counts, lines = plan.status(study)
    for line in lines if per_cell else []:
        print(line)
    summary = ", ".join(f"{counts.get(state, 0)} {state}" for state in ORDER)
    cap = f" (asked: --max-steps {plan.step_cap:,})" if plan.step_cap else ""
    print(f"{plan.spec.name}: {plan.total} {plan.unit}{cap}: {summary}")
    return counts


def print_plan(plan: Plan) -> None:
    """What a run would train, with nothing trained or written: each cell with the updates asked
    of it (its seed is in its key), or a search's trials and the updates each may take."""
    plan.check()
    steps = [asked_steps(config, plan.step_cap) for config in plan.configs()]
    if plan.unit == "cells":
        for cell, asked in zip(plan.cells, steps, strict=True):
            print(f"{asked:>10,} steps  {cell.key}")
        total = f"{sum(steps):,} steps in all"
    else:
        total = f"up to {steps[0]:,} steps each"
    cap = f" (asked: --max-steps {plan.step_cap:,})" if plan.step_cap else ""
    print(f"{plan.spec.name}: {plan.total} {plan.unit}{cap}, {total}; dry run: nothing trained")
