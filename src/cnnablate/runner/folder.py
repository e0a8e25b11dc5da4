"""A results folder: the spec it was made from (`spec.yaml`), and its table as the record of what
is done where the study's storage is not at hand.

A clone of the repository holds `results.parquet` and `spec.yaml` but not `study.db`: a run into
such a folder first adopts the table's finished trials into its new, empty study, so that nothing
done is run again or lost, and `status` reads the same table.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from cnnablate.atomic import write_text
from cnnablate.errors import UserError
from cnnablate.record import RESULTS_TABLE
from cnnablate.runner.grid import SEED
from cnnablate.runner.plans import Plan
from cnnablate.runner.results import PARAM_PREFIX, read_results
from cnnablate.runner.spec import Spec, parse_spec

SPEC_FILE = "spec.yaml"
ADOPTED = "adopted_from"  # study user attr: the table its first trials came from
IDENTITY = ("trial", "state", "failure", "short", "dir", "started", "finished")
KEPT_STATES = {"COMPLETE": TrialState.COMPLETE, "PRUNED": TrialState.PRUNED}


def folder_spec(out_dir: Path) -> Spec | None:
    """The spec recorded in `out_dir`, if one is."""
    path = Path(out_dir) / SPEC_FILE
    if not path.is_file():
        return None
    return parse_spec(path.read_text(), where=str(path), path=path)


def claim_folder(spec: Spec, out_dir: Path) -> None:
    """Refuse a folder that holds another spec's results; record this spec in it."""
    recorded = folder_spec(out_dir)
    if recorded is not None and recorded.hash != spec.hash:
        raise UserError(
            f"{out_dir}: holds the results of a different spec ({out_dir / SPEC_FILE}, "
            f"hash {recorded.hash}; this one {spec.hash}); use another --out"
        )
    if recorded is None and (out_dir / RESULTS_TABLE).is_file() and not _has_study(out_dir):
        raise UserError(
            f"{out_dir}: holds a results table but neither {SPEC_FILE} nor study.db, so its spec "
            "is unknown; use another --out"
        )
    if recorded is None:
        write_text(out_dir / SPEC_FILE, spec.text)


def _has_study(out_dir: Path) -> bool:
    return (out_dir / "study.db").is_file()


def adopt_table(study: optuna.Study, plan: Plan, out_dir: Path) -> int:
    """Into a study without trials, the completed and pruned trials of the folder's table (in
    their order; Optuna numbers them anew). Returns how many; call it under the claim lock."""
    table = Path(out_dir) / RESULTS_TABLE
    if study.get_trials(deepcopy=False) or not table.is_file():
        return 0
    frame = read_results(out_dir)
    frame = frame[frame["state"].isin(list(KEPT_STATES))]
    distributions = plan.distributions()
    for row in frame.to_dict("records"):
        study.add_trial(_frozen(row, plan, distributions))
    study.set_user_attr(ADOPTED, str(table))
    return len(frame)


def _frozen(row: dict[str, Any], plan: Plan, distributions: dict[str, BaseDistribution]):
    params = {
        key.removeprefix(PARAM_PREFIX): _plain(value)
        for key, value in row.items()
        if key.startswith(PARAM_PREFIX)
    }
    if SEED in distributions:
        params[SEED] = int(row[SEED])
    params = {key: _as_choice(value, distributions.get(key)) for key, value in params.items()}
    unknown = sorted(set(params) - set(distributions))
    if unknown:
        raise UserError(f"results table row {row['trial']}: no such factor in the spec: {unknown}")
    attrs = {"result": _result(row), "dir": _plain(row.get("dir")), "adopted_trial": row["trial"]}
    try:
        attrs.update(plan.attrs_for(params))
    except UserError as error:
        raise UserError(f"results table row {row['trial']}: {error}") from None
    state = KEPT_STATES[row["state"]]
    value = _plain(row.get(plan.metric)) if state == TrialState.COMPLETE else None
    return FrozenTrial(
        number=0,
        state=state,
        value=value,
        datetime_start=_time(row.get("started")),
        datetime_complete=_time(row.get("finished")),
        params=params,
        distributions={key: distributions[key] for key in params},
        user_attrs=attrs,
        system_attrs={},
        intermediate_values={},
        trial_id=0,
    )


def _as_choice(value: Any, distribution: BaseDistribution | None) -> Any:
    """A table's value as the level it stands for (the table keeps 1 for 1.0, '0.1' for 0.1)."""
    if not isinstance(distribution, CategoricalDistribution):
        return value
    for choice in distribution.choices:
        if choice == value or str(choice) == str(value):
            return choice
    return value


def _result(row: dict[str, Any]) -> dict[str, Any]:
    result = {
        key: _plain(value)
        for key, value in row.items()
        if key not in IDENTITY and not key.startswith(PARAM_PREFIX)
    }
    if isinstance(result.get("config"), str):  # the table keeps it as JSON text
        result["config"] = json.loads(result["config"])
    return result


def _plain(value: Any) -> Any:
    """A table cell as JSON-able Python: <NA>/NaN as None, numpy scalars as Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _time(value: Any) -> datetime:
    """A recorded time; Optuna needs one for a finished trial, so a missing one is now."""
    if value is None or pd.isna(value):
        return datetime.now()
    return pd.Timestamp(value).to_pydatetime()
