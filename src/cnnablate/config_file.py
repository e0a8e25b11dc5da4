"""A training run as a file: the config, seed, preset and step cap that made it.

Every trial folder gets one, `config.yaml`, when its training starts; `cnnablate train
--print-config` prints one; `cnnablate train --config FILE` reads one back and reruns it. FILE
may also be a bare config (the keys of `ExperimentConfig`, defaults for the rest, as
LightningCLI's `--config`) or a trial's `result.json` (its config, seed, preset and step cap).
Imports no torch: a bad file is answered at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator

from cnnablate.atomic import write_text
from cnnablate.config import (
    ExperimentConfig,
    StrictModel,
    apply_overrides,
    printable,
    with_budget,
)
from cnnablate.errors import UserError, format_validation_error
from cnnablate.presets import PRESETS, get_preset, recorded_preset

CONFIG_FILE = "config.yaml"
HEADER = "# a cnnablate training run; `cnnablate train --config THIS_FILE` reruns it\n"


class RunFile(StrictModel):
    """What a run file holds (the config in full; the others may be left out)."""

    preset: str | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    step_cap: Annotated[int, Field(gt=0)] | None = None
    config: ExperimentConfig

    @field_validator("preset")
    @classmethod
    def _known(cls, name: str | None) -> str | None:
        if name is not None and name not in PRESETS:
            raise ValueError(f"not a preset; allowed: {', '.join(PRESETS)}")
        return name


RUN_KEYS = tuple(RunFile.model_fields)


@dataclass(frozen=True)
class SavedRun:
    """A run to train: `seed` None where the file names none; `pack_size` > 1 for a trial that
    was trained packed with other seeds (its result.json says so)."""

    config: ExperimentConfig
    seed: int | None = None
    preset: str | None = None
    step_cap: int | None = None
    pack_size: int = 1


def dump_run(run: SavedRun) -> str:
    """The run as YAML that `load_run` reads back to the same run (floats exactly)."""
    body: dict[str, Any] = {"preset": run.preset, "seed": run.seed}
    if run.step_cap is not None:
        body["step_cap"] = run.step_cap
    body["config"] = run.config.model_dump()
    return HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def write_run_configs(
    config: ExperimentConfig,
    seeds: list[int],
    out_dirs: list[Path],
    preset: str | None,
    step_cap: int | None,
) -> None:
    """Each seed's `config.yaml` in its folder, written whole."""
    for seed, out_dir in zip(seeds, out_dirs, strict=True):
        run = SavedRun(config, seed=seed, preset=preset, step_cap=step_cap)
        write_text(Path(out_dir) / CONFIG_FILE, dump_run(run))


def load_run(path: Path) -> SavedRun:
    """A run file, a bare config or a result.json (by its `.json` suffix), checked; errors name
    the file and the key."""
    where = f"--config {printable(str(path))}"
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{where}: cannot read ({error})") from None
    if path.suffix == ".json":
        return _from_result(_json_mapping(text, where), where)
    raw = _yaml_mapping(text, where)
    if not any(key in raw for key in RUN_KEYS):
        raw = {"config": raw}  # a bare config
    return _validated(raw, where)


def _from_result(raw: dict[str, Any], where: str) -> SavedRun:
    if "config" not in raw:
        raise UserError(f"{where}: no 'config' in it; expected a trial's result.json")
    run = _validated({key: raw[key] for key in RUN_KEYS if key in raw}, where)
    pack_size = raw.get("pack_size")
    return replace(run, pack_size=pack_size if isinstance(pack_size, int) else 1)


def _validated(raw: dict[str, Any], where: str) -> SavedRun:
    unknown = [key for key in raw if key not in RUN_KEYS]
    if unknown:  # before pydantic, which would name the missing 'config' of a typo first
        shown = printable(str(unknown[0]))
        raise UserError(f"{where}: unknown key '{shown}' (allowed: {', '.join(RUN_KEYS)})")
    try:
        model = RunFile.model_validate(raw)
    except ValidationError as error:
        raise UserError(format_validation_error(error, where, list(RUN_KEYS))) from None
    return SavedRun(model.config, model.seed, model.preset, model.step_cap)


def _yaml_mapping(text: str, where: str) -> dict[str, Any]:
    from cnnablate.runner.spec import UniqueKeyLoader

    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        raise UserError(f"{where}: not valid YAML{at}: {problem}") from None
    return _mapping(raw, where)


def _json_mapping(text: str, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"{where}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    return _mapping(raw, where)


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UserError(
            f"{where}: expected a mapping of {', '.join(RUN_KEYS)} (a run, as --print-config "
            f"writes it) or of {', '.join(ExperimentConfig.model_fields)} (a config)"
        )
    return raw


@dataclass(frozen=True)
class TrainRequest:
    """The run `cnnablate train` is asked for, the name its folder and progress lines go by (the
    preset named, else "custom"), and a line saying where it came from."""

    run: SavedRun
    label: str = "custom"
    origin: str | None = None


def train_request(
    preset: str | None,
    config_path: str | None,
    sets: list[str],
    max_steps: int | None = None,
    max_epochs: int | None = None,
    seed: int | None = None,
) -> TrainRequest:
    """A preset or a run file (not both), then --set, the budget flags and --seed on top."""
    if preset is not None and config_path is not None:
        raise UserError(
            f"train: a preset ({preset}) and --config {config_path}: give one of the two"
        )
    if preset is None and config_path is None:
        raise UserError("train: give a preset (see `cnnablate presets`) or --config FILE")
    if config_path is None:
        found = get_preset(preset)
        saved = SavedRun(found.config, preset=found.name)
    else:
        saved = load_run(Path(config_path))
    config = with_budget(apply_overrides(saved.config, sets), max_steps, max_epochs)
    chosen_seed = seed if seed is not None else (saved.seed or 0)
    # A user's network (model.factory) in place of the preset's is no lecture preset.
    recorded = recorded_preset(saved.preset, config)
    run = replace(saved, config=config, seed=chosen_seed, preset=recorded)
    label = saved.preset or "custom"
    if config_path is None:
        return TrainRequest(run, label)
    changed = _changes(sets, max_steps, max_epochs, seed, saved.seed)
    return TrainRequest(run, label, _origin(config_path, run, changed))


def _changes(
    sets: list[str],
    max_steps: int | None,
    max_epochs: int | None,
    seed: int | None,
    saved_seed: int | None,
) -> list[str]:
    flags = [f"--set {item}" for item in sets]
    if max_steps is not None:
        flags.append(f"--max-steps {max_steps}")
    if max_epochs is not None:
        flags.append(f"--max-epochs {max_epochs}")
    if seed is not None and seed != saved_seed:
        flags.append(f"--seed {seed}")
    return flags


def _origin(config_path: str, run: SavedRun, changed: list[str]) -> str:
    """One line: what is rerun, and whatever makes it not the run that made the file."""
    cap = f", step cap {run.step_cap}" if run.step_cap is not None else ""
    line = f"{printable(config_path)}: preset {run.preset or '(none)'}, seed {run.seed}{cap}"
    if changed:
        return f"{line}; changed by {printable(' '.join(changed))}: not a rerun of it"
    if run.pack_size > 1 and _draws_randomness(run.config):
        return (
            f"{line}; it was trained packed with {run.pack_size - 1} other seed(s): alone, its "
            "dropout and augmentation draws differ"
        )
    return f"{line}: rerun as it was made"


def _draws_randomness(config: ExperimentConfig) -> bool:
    """Whether training draws dropout masks or augmentation shifts (which packing shares)."""
    dropouts = [config.model.dropout, *(layer.dropout for layer in config.model.conv)]
    return config.data.augment != "none" or any(p > 0 for p in dropouts)
