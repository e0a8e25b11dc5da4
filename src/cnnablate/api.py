"""cnnablate from Python (a notebook, a script): run a spec, train a network, build a report.

Each call is quiet (no progress, no Lightning start-up chatter) and returns a pandas table. In a
script that runs a spec with `workers > 1`, call it under `if __name__ == "__main__":` (the
workers are spawned processes, which import the script again).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cnnablate.config import ExperimentConfig, apply_dict, validate_config, with_budget
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
) -> pd.DataFrame:
    """Run (or resume) an ablation spec, a YAML file or the same as a dict; the results table,
    one row per finished trial (as `cnnablate.load_results` reads it). `out`: the results folder
    (default results/NAME); `max_steps`: cap every trial (a smoke run, marked as such);
    `storage`: an Optuna storage URL (default: SQLite in the results folder)."""
    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.runner.execute import RunOptions, run_spec
    from cnnablate.runner.results import read_results
    from cnnablate.runner.storage import default_storage_url

    parsed = as_spec(spec)
    out_dir = Path(out) if out is not None else Path("results") / parsed.name
    options = RunOptions(
        out_dir=out_dir,
        storage_url=storage or default_storage_url(out_dir),
        workers=workers,
        step_cap=max_steps,
        data_dir=resolve_data_dir(None),
        progress="off",
    )
    with quiet():
        run_spec(parsed, options)
    return read_results(out_dir)


def as_spec(spec: str | Path | dict[str, Any]) -> Spec:
    if isinstance(spec, dict):
        return parse_spec(yaml.safe_dump(spec, sort_keys=False), where="spec")
    return load_spec(spec)


def train(
    preset: str | None = None,
    *,
    config: ExperimentConfig | dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    seeds: Sequence[int] = (0,),
    out: str | Path | None = None,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    accelerator: str = "auto",
) -> pd.DataFrame:
    """Train a preset (or a config, an ExperimentConfig or its dict) with `overrides` (dotted
    keys, as `--set`: {"optim.lr": 0.05, "model.factory": "mynets:wide"}), once per seed; one
    row per seed with its result (test_acc, train_acc, params, throughput, ...). Each seed's
    result.json and metrics.csv go to OUT/seedN (default runs/PRESET)."""
    import pandas as pd

    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.presets import get_preset, recorded_preset
    from cnnablate.train import TrainOptions, train_seeds

    base = resolved_config(preset, config)
    resolved = with_budget(apply_dict(base, overrides or {}), max_steps, max_epochs)
    out_dir = Path(out) if out is not None else Path("runs") / (preset or "custom")
    options = TrainOptions(
        accelerator=accelerator,
        data_dir=resolve_data_dir(None),
        preset=recorded_preset(preset, resolved) if preset else None,
        progress="off",
    )
    if preset is not None:
        get_preset(preset)
    with quiet():
        results = train_seeds(resolved, list(seeds), [out_dir / f"seed{s}" for s in seeds], options)
    return pd.DataFrame([{k: v for k, v in r.items() if k != "config"} for r in results])


def resolved_config(
    preset: str | None, config: ExperimentConfig | dict[str, Any] | None
) -> ExperimentConfig:
    from cnnablate.errors import UserError
    from cnnablate.presets import get_preset

    if (preset is None) == (config is None):
        raise UserError("train: give a preset or a config (exactly one)")
    if preset is not None:
        return get_preset(preset).config
    return config if isinstance(config, ExperimentConfig) else validate_config(config)


def report(results: str | Path | Sequence[str | Path], *, out: str | Path | None = None):
    """Build the report on one or more results folders (default reports/NAME of the first);
    the table of its cells (mean accuracy, interval, parameters, throughput per cell), with
    the report's index.html path in `.attrs["report"]`."""
    import pandas as pd

    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.record import results_table
    from cnnablate.report import build_report

    folders = [Path(results)] if isinstance(results, str | Path) else [Path(r) for r in results]
    for folder in folders:
        results_table(folder)
    out_dir = Path(out) if out is not None else Path("reports") / folders[0].resolve().name
    with quiet():
        build_report(folders, out_dir, data_dir=resolve_data_dir(None))
    tables = sorted((out_dir / "tables").glob("*-cells.csv"))
    frame = pd.concat(
        [pd.read_csv(t).assign(results=t.stem[:-6]) for t in tables], ignore_index=True
    )
    frame.attrs["report"] = str(out_dir / "index.html")
    return frame


@contextmanager
def quiet() -> Iterator[None]:
    """No Lightning banners or advice while inside."""
    from cnnablate.callbacks import quiet_lightning

    quiet_lightning()
    names = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
