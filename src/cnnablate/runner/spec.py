"""Ablation specs (`ablations/*.yaml`): parsed, typed and checked before anything trains.

```yaml
name: mnist1d-quick
base: {preset: udl-cnn, set: {optim.lr: 0.05}}
factors:
  model.activation: [sigmoid, relu]         # a config key and its levels
  architecture:                             # a named factor: each level a set of overrides
    cnn: {model.hidden: []}
    mlp: {model.conv: [], model.hidden: [100, 100]}
seeds: [0, 1, 2]
budget: {max_steps: 8000}
mode: grid                                  # or optuna, with an `optuna:` section
```

A factor named `preset` has preset names as levels. Every error names the file, the key path
and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from cnnablate.config import (
    ExperimentConfig,
    StrictModel,
    apply_dict,
    check_one_budget,
    has_key,
    in_open_mapping,
    leaf_keys,
)
from cnnablate.errors import UserError, format_validation_error
from cnnablate.loggers import unknown_logger
from cnnablate.presets import PRESETS, get_preset

Scalar = str | int | float | bool | None
NOT_HASHED = {"loggers"}  # spec keys that leave every result as it is


class Base(StrictModel):
    preset: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)


class Budget(StrictModel):
    max_steps: Annotated[int, Field(gt=0)] | None = None
    max_epochs: Annotated[int, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Budget:
        check_one_budget(self.max_steps, self.max_epochs)
        return self


class ParamBase(StrictModel):
    # The config keys this parameter sets (default: its own name); several keys tie them.
    targets: list[str] | None = None


class FloatParam(ParamBase):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False


class IntParam(ParamBase):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False


class CategoricalParam(ParamBase):
    type: Literal["categorical"]
    choices: list[Scalar] = Field(min_length=1)


SearchParam = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


class OptunaSettings(StrictModel):
    space: dict[str, SearchParam] = Field(min_length=1)
    metric: str = "val_acc"
    direction: Literal["maximize", "minimize"] = "maximize"
    n_trials: Annotated[int, Field(gt=0)] = 20
    sampler_seed: int = 0
    pruner: Literal["median", "hyperband", "none"] = "median"

    @model_validator(mode="after")
    def _ranges(self) -> OptunaSettings:
        for key, param in self.space.items():
            if isinstance(param, FloatParam | IntParam):
                if param.low >= param.high:
                    raise ValueError(f"space.{key}: low must be below high")
                if param.log and param.low <= 0:
                    raise ValueError(f"space.{key}: a log range needs low > 0")
        return self


class SpecModel(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    description: str = ""
    base: Base = Field(default_factory=Base)
    factors: dict[str, list[Any] | dict[str, Any]] = Field(default_factory=dict)
    seeds: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0], min_length=1)
    # Other seeds for the cells having a given level label, e.g. {nielsen-dropout: [0, 1, 2, 3, 4]}
    seeds_for: dict[str, list[Annotated[int, Field(ge=0)]]] = Field(default_factory=dict)
    budget: Budget | None = None  # None: each preset's own budget
    mode: Literal["grid", "optuna"] = "grid"
    optuna: OptunaSettings | None = None
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    stale_after_s: Annotated[float, Field(gt=0)] = 120.0
    checkpoint: bool = False  # keep each trial's best weights (best.ckpt in its folder)
    # What trains together as one packed module (vmap): "cells", trials whose configs share a
    # pack key (pack_keys.py: they may differ in seed, loss, optimiser settings, schedule, dropout
    # rates); "seeds", a cell's seeds; "none"; "auto": as `pack_seeds` says, else cells on a GPU.
    pack: Literal["auto", "cells", "seeds", "none"] = "auto"
    # The older key: true = pack: seeds, false = pack: none.
    pack_seeds: bool | Literal["auto"] = "auto"
    # Experiment loggers of every trial (loggers.LOGGERS); no part of the spec's hash: they
    # change where a run is logged, not its results.
    loggers: list[str] = Field(default_factory=list)

    @field_validator("loggers")
    @classmethod
    def _known_loggers(cls, names: list[str]) -> list[str]:
        for name in names:
            if (problem := unknown_logger(name)) is not None:
                raise ValueError(problem)
        return list(dict.fromkeys(names))

    @model_validator(mode="after")
    def _mode_settings(self) -> SpecModel:
        if self.mode == "optuna" and self.optuna is None:
            raise ValueError("mode optuna needs an 'optuna' section (space, metric, n_trials)")
        if self.mode == "grid" and self.optuna is not None:
            raise ValueError("an 'optuna' section needs mode: optuna")
        if self.pack != "auto" and self.pack_seeds != "auto":
            raise ValueError("give pack or pack_seeds, not both (pack_seeds: true is pack: seeds)")
        for seeds in [self.seeds, *self.seeds_for.values()]:
            if len(set(seeds)) != len(seeds) or not seeds:
                raise ValueError("seeds must be a non-empty list without repeats")
        return self


class Level(BaseModel):
    """One level of a factor: the label stored in Optuna and the overrides it applies."""

    label: Scalar
    overrides: dict[str, Any]
    preset: str | None = None


class Spec:
    """A validated spec: the model plus each factor's levels, all checked against the config.
    Built once by `parse_spec` and not changed after."""

    def __init__(
        self,
        model: SpecModel,
        path: Path | None,
        text: str,
        levels: Mapping[str, list[Level]] | None = None,
    ) -> None:
        self.model = model
        self.path = path
        self.text = text
        # What decides the results; `pack` at its default is left out, as specs without it were.
        unhashed = NOT_HASHED | ({"pack"} if model.pack == "auto" else set())
        results = model.model_dump_json(exclude=unhashed)
        self.hash = hashlib.sha256(results.encode()).hexdigest()[:16]
        self.levels: Mapping[str, list[Level]] = MappingProxyType(dict(levels or {}))

    @property
    def name(self) -> str:
        return self.model.name

    def config_for(self, chosen: dict[str, Level], extra: dict[str, Any] | None = None):
        """The ExperimentConfig of one cell: base, then each factor level, then `extra`."""
        preset = next((lv.preset for lv in chosen.values() if lv.preset), self.model.base.preset)
        config = get_preset(preset).config if preset else ExperimentConfig()
        overrides = {**self.model.base.set}
        for level in chosen.values():
            overrides.update(level.overrides)
        overrides.update(extra or {})
        overrides.update(self.budget_overrides())
        return apply_dict(config, overrides)

    def budget_overrides(self) -> dict[str, Any]:
        budget = self.model.budget
        if budget is None:
            return {}
        return {"train.max_steps": budget.max_steps, "train.max_epochs": budget.max_epochs}

    def seeds_of(self, labels: list[Any]) -> list[int]:
        for label in labels:
            if isinstance(label, str) and label in self.model.seeds_for:
                return self.model.seeds_for[label]
        return self.model.seeds

    def all_seeds(self) -> list[int]:
        seeds = [*self.model.seeds, *(s for v in self.model.seeds_for.values() for s in v)]
        return sorted(set(seeds))


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: otherwise
    the last one silently wins and the first is lost without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges; keys given beside it override, as YAML says
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _label(value: Any) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, separators=(",", ":"))


def _is_config_key(name: str, base: ExperimentConfig) -> bool:
    if in_open_mapping(name):
        return True
    keys = leaf_keys(base)
    return name in keys or any(k.startswith(name + ".") for k in keys)


def _levels_of(name: str, raw: list | dict, base: ExperimentConfig) -> list[Level]:
    if name == "preset":
        names = raw if isinstance(raw, list) else list(raw)
        for preset in names:
            if preset not in PRESETS:
                raise UserError(f"unknown preset '{preset}'; allowed: {', '.join(PRESETS)}")
        return [Level(label=p, overrides={}, preset=p) for p in names]
    if _is_config_key(name, base):
        pairs = raw.items() if isinstance(raw, dict) else ((_label(v), v) for v in raw)
        return [Level(label=label, overrides={name: value}) for label, value in pairs]
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise UserError(
            f"'{name}' is not a config key (e.g. {', '.join(leaf_keys(base)[:4])}, ...); a named "
            "factor needs levels as a mapping LABEL: {KEY: VALUE, ...}"
        )
    return [Level(label=label, overrides=dict(over)) for label, over in raw.items()]


def _check_level(spec: Spec, factor: str, level: Level, where: str) -> None:
    """The level on the base config alone. A level that only sets keyword arguments
    (`model.kwargs.width`) may need another factor's level (`model.factory`): its cells are
    checked whole instead (`grid.check_cells`)."""
    if level.overrides and all(in_open_mapping(key) for key in level.overrides):
        return
    try:
        spec.config_for({factor: level})
    except UserError as error:
        raise UserError(f"{where}: factors.{factor}[{level.label}]: {_strip(error)}") from None
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise UserError(
            f"{where}: factors.{factor}[{level.label}]: bad key path ({error})"
        ) from None


def _strip(error: UserError) -> str:
    return str(error).removeprefix("config: ")


def parse_spec(text: str, where: str = "spec", path: Path | None = None) -> Spec:
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        raise UserError(f"{where}: not valid YAML{at}: {problem}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping with name, factors, seeds, budget, mode")
    try:
        model = SpecModel.model_validate(raw)
    except ValidationError as error:
        raise UserError(
            format_validation_error(error, where, list(SpecModel.model_fields))
        ) from None
    base = _base_config(Spec(model, path, text), where)
    levels = {}
    for factor, raw_levels in model.factors.items():
        try:
            levels[factor] = _levels_of(factor, raw_levels, base)
        except UserError as error:
            raise UserError(f"{where}: factors.{factor}: {error}") from None
        if not levels[factor]:
            raise UserError(f"{where}: factors.{factor}: no levels (an empty grid)")
    spec = Spec(model, path, text, levels)
    for factor, factor_levels in levels.items():
        for level in factor_levels:
            _check_level(spec, factor, level, where)
    _check_seeds_for(spec, where)
    if model.optuna:
        _check_space(spec, base, where)
    return spec


def _base_config(spec: Spec, where: str) -> ExperimentConfig:
    """The config every cell starts from (base preset, base.set, budget), checked."""
    model = spec.model
    try:
        base = get_preset(model.base.preset).config if model.base.preset else ExperimentConfig()
        apply_dict(base, {**model.base.set, **spec.budget_overrides()})
    except UserError as error:
        raise UserError(f"{where}: base: {_strip(error)}") from None
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise UserError(f"{where}: base.set: unknown key path ({error})") from None
    return base


def _check_seeds_for(spec: Spec, where: str) -> None:
    """A `seeds_for` label that is no factor's level would be ignored without a word."""
    labels = [lv.label for levels in spec.levels.values() for lv in levels]
    for label in spec.model.seeds_for:
        if label not in labels:
            allowed = ", ".join(str(lv) for lv in labels if isinstance(lv, str)) or "(none)"
            raise UserError(
                f"{where}: seeds_for.{label}: no factor has a level '{label}'; levels: {allowed}"
            )


def param_targets(name: str, param: Any) -> list[str]:
    return param.targets or [name]


def _check_space(spec: Spec, base: ExperimentConfig, where: str) -> None:
    config = spec.config_for({})
    for name, param in spec.model.optuna.space.items():
        for key in param_targets(name, param):
            if not has_key(config, key):
                raise UserError(
                    f"{where}: optuna.space.{name}: '{key}' is not a config key; allowed e.g. "
                    f"{', '.join(leaf_keys(config)[:6])}, ..."
                )


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such spec file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read ({error})") from None
    return parse_spec(text, where=str(path), path=path)
