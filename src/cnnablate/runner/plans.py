"""What each mode of a spec asks of the runner, one plan object per mode.

- `GridPlan`: every cell (factors × seeds) enqueued once as a waiting trial, sampled by a
  GridSampler, scored by its test accuracy; cells that differ only in the seed may be packed.
- `SearchPlan`: Optuna's sampler (TPE) asks for new trials until `n_trials` have finished,
  scored by the spec's metric, pruned by its pruner.

The runner (`execute.py`, `trials.py`) calls the same methods whatever the mode.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
import torch
from optuna.trial import Trial, TrialState

from cnnablate.config import ExperimentConfig
from cnnablate.runner.grid import (
    SEED,
    Cell,
    cell_config,
    check_cells,
    chosen_levels,
    enumerate_cells,
    search_space,
)
from cnnablate.runner.spec import CategoricalParam, FloatParam, Spec, param_targets

GRID_METRIC = "test_acc"
MAX_PACK = 8
Setup = tuple[ExperimentConfig, int, str | None]  # config, seed, preset


class CellGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler over cells that the runner enqueues itself.

    Its `after_trial` only stops `study.optimize` (not used here) once the grid is done, and
    raises KeyError('grid_id') for a grid of one cell, since enqueued trials carry no grid id
    (optuna/optuna#6844); the runner knows from the storage when the grid is done.
    """

    def after_trial(self, study, trial, state, values) -> None:
        pass


class GridPlan:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.cells: list[Cell] = enumerate_cells(spec)
        self.metric = GRID_METRIC
        self.total = len(self.cells)

    def check(self) -> None:
        """Every cell's config and network build (before anything trains)."""
        check_cells(self.spec, self.cells)

    def sampler(self) -> optuna.samplers.BaseSampler:
        return CellGridSampler(search_space(self.spec), seed=0)

    def pruner(self) -> optuna.pruners.BasePruner:
        return optuna.pruners.NopPruner()

    def configs(self) -> list[ExperimentConfig]:
        return [cell_config(self.spec, cell.params) for cell in self.cells]

    def queue(self, study: optuna.Study) -> int:
        """Enqueue every cell with no completed, waiting or running trial (under the claim
        lock); returns how many. Cells cut off with their state saved come first: work in
        flight finishes before new work starts, and fewer saved states wait at a time."""
        live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
        covered = {t.user_attrs.get("cell") for t in study.get_trials(deepcopy=False, states=live)}
        cut_off = {
            t.user_attrs.get("cell")
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if str(t.user_attrs.get("failure", "")).startswith("interrupted")
        }
        missing = [cell for cell in self.cells if cell.key not in covered]
        missing.sort(key=lambda cell: cell.key not in cut_off)  # stable: grid order otherwise
        for cell in missing:
            attrs = {"cell": cell.key, "cell_slug": cell.slug}
            study.enqueue_trial(cell.params, user_attrs=attrs)
        return len(missing)

    def open_work(self, study: optuna.Study) -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))

    def claimable(self, study: optuna.Study, pack: bool) -> int:
        """Trials to ask for now: the waiting ones of the first waiting cell-without-seed (all of
        them, up to MAX_PACK, when packing), or none."""
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not waiting:
            return 0
        if not pack:
            return 1
        first = combo_key(min(waiting, key=lambda t: t.number))
        return min(MAX_PACK, sum(combo_key(t) == first for t in waiting))

    def claimed(self, trial: Trial) -> bool:
        """False when another machine popped the last waiting trial between our look and our
        ask: the sampler then made a trial of no cell."""
        return "cell" in trial.user_attrs

    def setup(self, trial: Trial) -> Setup:
        space = search_space(self.spec)
        params = {key: trial.suggest_categorical(key, choices) for key, choices in space.items()}
        chosen = chosen_levels(self.spec, params)
        base = self.spec.model.base.preset
        preset = next((level.preset for level in chosen.values() if level.preset), base)
        return cell_config(self.spec, params), params[SEED], preset

    def callbacks(self, trial: Trial) -> list[Any]:
        return []

    def packs(self, accelerator: str | None) -> bool:
        """Pack seeds: as the spec says, else on a GPU (where tiny networks leave it idle)."""
        if self.spec.model.pack_seeds != "auto":
            return self.spec.model.pack_seeds
        wanted = accelerator or self.spec.model.accelerator
        return wanted == "gpu" or (wanted == "auto" and torch.cuda.is_available())


class SearchPlan:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.search = spec.model.optuna
        self.metric = self.search.metric
        self.total = self.search.n_trials

    def check(self) -> None:
        """The search space was checked with the spec; nothing more to build."""

    def sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=self.search.sampler_seed)

    def pruner(self) -> optuna.pruners.BasePruner:
        if self.search.pruner == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
        if self.search.pruner == "hyperband":
            return optuna.pruners.HyperbandPruner()
        return optuna.pruners.NopPruner()

    def configs(self) -> list[ExperimentConfig]:
        return [self.spec.config_for({})]

    def queue(self, study: optuna.Study) -> int:
        return 0

    def open_work(self, study: optuna.Study) -> int:
        finished = (TrialState.COMPLETE, TrialState.PRUNED)
        return self.total - len(study.get_trials(deepcopy=False, states=finished))

    def claimable(self, study: optuna.Study, pack: bool) -> int:
        counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        return int(len(study.get_trials(deepcopy=False, states=counted)) < self.total)

    def claimed(self, trial: Trial) -> bool:
        return True

    def setup(self, trial: Trial) -> Setup:
        overrides = {}
        for name, param in self.search.space.items():
            value = suggest(trial, name, param)
            overrides.update({key: value for key in param_targets(name, param)})
        return (
            self.spec.config_for({}, overrides),
            self.spec.model.seeds[0],
            self.spec.model.base.preset,
        )

    def callbacks(self, trial: Trial) -> list[Any]:
        if self.search.pruner == "none":
            return []
        from cnnablate.runner.pruning import OptunaPruning

        return [OptunaPruning(trial, monitor=self.metric.removeprefix("best_"))]

    def packs(self, accelerator: str | None) -> bool:
        return False  # each trial has its own sampled config: nothing to pack


Plan = GridPlan | SearchPlan


def make_plan(spec: Spec) -> Plan:
    return GridPlan(spec) if spec.model.mode == "grid" else SearchPlan(spec)


def suggest(trial: Trial, key: str, param: Any) -> Any:
    if isinstance(param, CategoricalParam):
        return trial.suggest_categorical(key, param.choices)
    if isinstance(param, FloatParam):
        return trial.suggest_float(key, param.low, param.high, log=param.log)
    return trial.suggest_int(key, param.low, param.high, log=param.log)


def combo_key(trial: Any) -> str | None:
    """The trial's cell without its seed: trials with equal keys can be packed."""
    cell = trial.user_attrs.get("cell")
    if cell is None:
        return None
    params = {k: v for k, v in json.loads(cell).items() if k != SEED}
    return json.dumps(params, sort_keys=True)
