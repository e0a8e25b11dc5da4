"""cnnablate from Python (a notebook, a script): `cnnablate.run(spec)`; its siblings
`cnnablate.train(...)` (train.py: `train_table`) and `cnnablate.report(...)` (report/:
`report_table`) live with the work they do (callable_modules.py says why).

Each call is quiet (no progress, no Lightning start-up chatter) and returns a pandas table. In a
script that runs a spec with `workers > 1`, call it under `if __name__ == "__main__":` (the
workers are spawned processes, which import the script again).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cnnablate.runner.spec import Spec, load_spec, parse_spec

if TYPE_CHECKING:
    import pandas as pd


def run(
    spec: str | Path | dict[str, Any],
    *,
    out: str | Path | None = None,
    workers: int = 1,
    max_steps: int | None = None,
    storage: str | None = None,
    loggers: Sequence[str] = (),
) -> pd.DataFrame:
    """Run (or resume) an ablation spec, a YAML file or the same as a dict; the results table,
    one row per finished trial (as `cnnablate.load_results` reads it). `out`: the results folder
    (default results/NAME); `max_steps`: cap every trial (a smoke run, marked as such);
    `storage`: an Optuna storage URL (default: SQLite in the results folder); `loggers`:
    experiment loggers beside the spec's (csv, tensorboard, mlflow, wandb; README "Loggers")."""
    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.loggers import check_loggers
    from cnnablate.runner.execute import RunOptions, run_spec
    from cnnablate.runner.results import read_results
    from cnnablate.runner.storage import default_storage_url

    parsed = as_spec(spec)
    check_loggers(parsed.model.loggers, "spec: loggers")
    extra_loggers = check_loggers(list(loggers), "loggers")
    out_dir = Path(out) if out is not None else Path("results") / parsed.name
    options = RunOptions(
        out_dir=out_dir,
        storage_url=storage or default_storage_url(out_dir),
        workers=workers,
        step_cap=max_steps,
        data_dir=resolve_data_dir(None),
        progress="off",
        loggers=extra_loggers,
    )
    from cnnablate.callbacks import quiet

    with quiet():
        run_spec(parsed, options)
    return read_results(out_dir)


def as_spec(spec: str | Path | dict[str, Any]) -> Spec:
    if isinstance(spec, dict):
        return parse_spec(yaml.safe_dump(spec, sort_keys=False), where="spec")
    return load_spec(spec)
