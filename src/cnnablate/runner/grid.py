"""The grid of a spec: every combination of factor levels, times every seed."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from cnnablate.config import ExperimentConfig
from cnnablate.data import data_shape
from cnnablate.errors import UserError
from cnnablate.presets import recorded_preset
from cnnablate.runner.spec import Level, Spec

SEED = "seed"


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: a level per factor and a seed."""

    levels: tuple[tuple[str, Any], ...]  # (factor, label) in spec order
    seed: int

    @property
    def params(self) -> dict[str, Any]:
        """The cell as Optuna parameters (what GridSampler and enqueue_trial see)."""
        return {**dict(self.levels), SEED: self.seed}

    @property
    def key(self) -> str:
        return json.dumps(self.params, sort_keys=True, separators=(",", ":"))

    @property
    def slug(self) -> str:
        text = "_".join(f"{factor.split('.')[-1]}-{label}" for factor, label in self.levels)
        text = re.sub(r"[^A-Za-z0-9.=-]+", "_", f"{text}_seed-{self.seed}".strip("_"))
        return text[:120]


def search_space(spec: Spec) -> dict[str, list[Any]]:
    """Factor labels and seeds: the search space handed to Optuna's GridSampler."""
    space = {factor: [lv.label for lv in levels] for factor, levels in spec.levels.items()}
    return {**space, SEED: spec.all_seeds()}


def enumerate_cells(spec: Spec) -> list[Cell]:
    factors = list(spec.levels)
    combos = itertools.product(*(spec.levels[f] for f in factors)) if factors else [()]
    cells = []
    for combo in combos:
        labels = tuple((f, lv.label) for f, lv in zip(factors, combo, strict=True))
        seeds = spec.seeds_of([label for _, label in labels])
        cells.extend(Cell(labels, seed) for seed in seeds)
    return cells


def chosen_levels(spec: Spec, cell_params: dict[str, Any]) -> dict[str, Level]:
    chosen = {}
    for factor, levels in spec.levels.items():
        chosen[factor] = next(lv for lv in levels if lv.label == cell_params[factor])
    return chosen


def cell_config(spec: Spec, cell_params: dict[str, Any]) -> ExperimentConfig:
    return spec.config_for(chosen_levels(spec, cell_params))


def cell_setup(spec: Spec, params: dict[str, Any]) -> tuple[ExperimentConfig, int, str | None]:
    """A cell's config, seed and the preset its result stands for."""
    chosen = chosen_levels(spec, params)
    base = spec.model.base.preset
    preset = next((level.preset for level in chosen.values() if level.preset), base)
    config = spec.config_for(chosen)
    return config, params[SEED], recorded_preset(preset, config)


def check_cells(spec: Spec, cells: list[Cell]) -> None:
    """Every cell's config validates and its network builds; else one line naming the cell."""
    built: set[str] = set()
    where = str(spec.path or spec.name)
    for cell in cells:
        try:
            config = cell_config(spec, cell.params)
        except UserError as error:
            raise UserError(f"{where}: cell {cell.key}: {error}") from None
        except (KeyError, IndexError, TypeError) as error:
            raise UserError(
                f"{where}: cell {cell.key}: key path not in this config ({error})"
            ) from None
        model_key = json.dumps([config.model.model_dump(), config.data.name], sort_keys=True)
        if model_key not in built:
            check_network(spec, f"cell {cell.key}", config)
            built.add(model_key)


def check_network(spec: Spec, what: str, config: ExperimentConfig) -> None:
    """The network of `config` builds on its data (a user's factory and data module included:
    imported, called, checked); else one line naming the spec, the cell and the key."""
    from cnnablate.models import build_network  # torch, only once a spec is read and checked

    where = str(spec.path or spec.name)
    try:
        build_network(config.model, *data_shape(config.data))
    except UserError as error:
        raise UserError(f"{where}: {what}: {error}") from None
    except (ValueError, RuntimeError) as error:
        message = str(error).splitlines()[0]
        raise UserError(f"{where}: {what}: network does not build: {message}") from None
