"""What a report is built from: results folders, each a `results.parquet` and its study.

Everything downstream reads a `ResultsSource`: the trial table with numbers as numbers, the
spec it came from (when the study is at hand), its factors in the spec's order, and each trial's
folder (`result.json`, `metrics.csv`, `best.ckpt`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from pydantic import ValidationError

from cnnablate.config import ExperimentConfig
from cnnablate.errors import UserError
from cnnablate.record import results_table, trial_config
from cnnablate.runner.folder import SPEC_FILE, folder_spec
from cnnablate.runner.results import PARAM_PREFIX, read_results
from cnnablate.runner.spec import Spec, load_spec, parse_spec

NUMERIC_COLUMNS = (
    "seed",
    "params",
    "test_acc",
    "test_error",
    "test_loss",
    "best_val_acc",
    "best_epoch",
    "test_acc_at_best_val",
    "train_acc",
    "train_loss",
    "train_samples_per_s",
    "eval_samples_per_s",
    "steps",
    "budget_steps",
    "step_cap",
    "epochs",
    "wall_s",
    "diverged_at_step",
    "train_flops_per_sample",
    "achieved_flops_per_s",
    "pruned_at_epoch",
)


@dataclass
class ResultsSource:
    """One results folder: its trials (one row each) and, when readable, its spec and study."""

    path: Path
    name: str
    frame: pd.DataFrame
    mode: str
    spec_hash: str | None = None
    spec: Spec | None = None
    study: optuna.Study | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def factors(self) -> list[str]:
        """Factor columns (`param.*` except the seed), in the spec's order where known."""
        columns = [c for c in self.frame.columns if c.startswith(PARAM_PREFIX)]
        if self.spec is None or self.mode != "grid":
            return columns
        ordered = [f"param.{name}" for name in self.spec.levels if f"param.{name}" in columns]
        return ordered + [c for c in columns if c not in ordered]

    def level_order(self, factor: str) -> list[Any]:
        """A factor's levels as the spec lists them (else as they first appear)."""
        present = list(dict.fromkeys(self.frame[factor].dropna()))
        if self.spec is not None and factor.removeprefix("param.") in self.spec.levels:
            labels = [lv.label for lv in self.spec.levels[factor.removeprefix("param.")]]
            return [lv for lv in labels if lv in present] + [v for v in present if v not in labels]
        return present

    @cached_property
    def finished(self) -> pd.DataFrame:
        """Trials that trained to the end and have a test accuracy (diverged ones included)."""
        done = self.frame[(self.frame["state"] == "COMPLETE") & self.frame["test_acc"].notna()]
        return done.reset_index(drop=True)

    @cached_property
    def finished_configs(self) -> list[dict[str, Any] | None]:
        """Each finished trial's config (from its result.json), aligned with `finished`."""
        return [self.trial_config(row) for row in self.finished.to_dict("records")]

    def trial_dir(self, row: pd.Series | dict) -> Path | None:
        """The trial's folder: as recorded, else under this results folder (it may have moved)."""
        recorded = row.get("dir")
        if not isinstance(recorded, str) or not recorded:
            return None
        path = Path(recorded)
        candidates = [path, self.path / "trials" / path.name]
        return next((p for p in candidates if p.is_dir()), None)

    def trial_config(self, row: pd.Series | dict) -> dict[str, Any] | None:
        """The trial's config: from the table (its `config` column), else its result.json, with
        defaults for fields added since; else rebuilt from the spec and its levels."""
        typed = trial_config(row.get("config"))
        if typed is not None:
            return typed.model_dump()
        directory = self.trial_dir(row)
        if directory is None or not (directory / "result.json").is_file():
            return self.config_from_spec(row)
        try:
            raw = json.loads((directory / "result.json").read_text()).get("config")
        except (OSError, ValueError):
            return None
        try:
            return ExperimentConfig.model_validate(raw).model_dump()
        except ValidationError:
            return raw

    def config_from_spec(self, row: pd.Series | dict) -> dict[str, Any] | None:
        """A grid cell's config from the spec: its factor levels (`param.*`) and seed."""
        if self.spec is None or self.mode != "grid":
            return None
        from cnnablate.runner.grid import SEED, cell_config

        params = {f.removeprefix(PARAM_PREFIX): row[f] for f in self.factors}
        params[SEED] = row.get(SEED)
        try:
            return cell_config(self.spec, params).model_dump()
        except (StopIteration, KeyError, UserError):  # a level the spec no longer has
            return None

    def checkpoint(self, row: pd.Series | dict) -> Path | None:
        directory = self.trial_dir(row)
        path = directory / "best.ckpt" if directory else None
        return path if path is not None and path.is_file() else None


def load_source(path: Path) -> ResultsSource:
    path = Path(path)
    table = results_table(path)
    try:
        frame = numeric(read_results(path))
    except (OSError, ValueError) as error:
        raise UserError(f"{table}: cannot read ({error})") from None
    if "test_acc" not in frame.columns:
        frame["test_acc"] = math.nan
    if "state" not in frame.columns:
        raise UserError(f"{table}: not a cnnablate results table (no 'state' column)")
    source = ResultsSource(path=path, name=path.name, frame=frame, mode=_guess_mode(frame))
    _attach_study(source)
    if source.spec is None:
        _attach_recorded_spec(source)
    if source.spec is None:
        _attach_shipped_spec(source)
    return source


def _attach_recorded_spec(source: ResultsSource) -> None:
    """Without its study, the spec the folder records (`spec.yaml`, written by every run)."""
    try:
        spec = folder_spec(source.path)
    except UserError as error:
        source.notes.append(f"{source.path / SPEC_FILE}: does not parse ({error})")
        return
    if spec is not None:
        source.spec, source.spec_hash, source.mode = spec, spec.hash, spec.model.mode


def _attach_shipped_spec(source: ResultsSource) -> None:
    """Without its study, a results folder named after a shipped spec (`ablations/NAME.yaml`,
    from the working folder) takes that spec, said in a note: it names the factors' order
    and rebuilds the configs of trials whose folders are not at hand."""
    path = Path("ablations") / f"{source.name}.yaml"
    if not path.is_file():
        return
    try:
        source.spec = load_spec(path)
    except UserError as error:
        source.notes.append(f"{path}: does not parse ({error}); configs not rebuilt")
        return
    source.mode = source.spec.model.mode
    source.notes.append(f"{source.path}: spec taken from {path}; trial configs rebuilt from it")


def load_sources(paths: list[Path]) -> list[ResultsSource]:
    if not paths:
        raise UserError("name at least one results folder")
    sources = [load_source(Path(p)) for p in paths]
    _unique_names(sources)
    return sources


def numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Metric columns as floats: absent values (None, JSON 'null', <NA>) become NaN."""
    frame = frame.copy()
    for column in NUMERIC_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _guess_mode(frame: pd.DataFrame) -> str:
    """Without the study: Optuna trials' folders are named `NNNN-trial-N`, grid cells' by
    their levels."""
    folders = frame["dir"].dropna().map(lambda d: Path(d).name)
    searched = len(folders) and folders.str.fullmatch(r"\d{4}-trial-\d+").all()
    return "optuna" if searched else "grid"


def _attach_study(source: ResultsSource) -> None:
    """Spec, hash, mode and study from `study.db`; without one, the table alone is used."""
    database = source.path / "study.db"
    if not database.is_file():
        if not (source.path / SPEC_FILE).is_file():
            source.notes.append(
                f"{source.path}: no study.db (another storage?): spec and study not shown"
            )
        return
    url = f"sqlite:///{database.resolve()}"
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.RDBStorage(
            url, skip_compatibility_check=True, skip_table_creation=True
        )
        names = optuna.get_all_study_names(storage)
        study = optuna.load_study(study_name=_study_name(storage, names), storage=storage)
    except Exception as error:  # a foreign or damaged database: report from the table alone
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        source.notes.append(f"{database}: cannot read the study ({first})")
        return
    attrs = study.user_attrs
    source.study = study
    source.name = study.study_name
    source.spec_hash = attrs.get("spec_hash")
    source.mode = attrs.get("mode", source.mode)
    if attrs.get("spec_text"):
        try:
            source.spec = parse_spec(attrs["spec_text"], where=f"{source.path} (stored spec)")
        except UserError as error:
            source.notes.append(f"stored spec no longer parses ({error}); level order as found")


def _study_name(storage: optuna.storages.BaseStorage, names: list[str]) -> str:
    """The study whose stored spec names it (a results folder holds one)."""
    for name in names:
        attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(name))
        if attrs.get("spec_text"):
            return name
    if len(names) != 1:
        raise ValueError(f"expected one study, found {len(names)}")
    return names[0]


def _unique_names(sources: list[ResultsSource]) -> None:
    seen: dict[str, int] = {}
    for source in sources:
        count = seen.get(source.name, 0)
        seen[source.name] = count + 1
        if count:
            source.name = f"{source.name}-{count + 1}"
