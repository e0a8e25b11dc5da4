"""What each mode of a spec asks of the runner, one plan object per mode.

- `GridPlan`: every cell (factors × seeds) enqueued once as a waiting trial, sampled by a
  GridSampler, scored by its test accuracy; cells of one pack key, or one cell's seeds, may
  train packed (`packing.py`).
- `SearchPlan`: Optuna's sampler (TPE) asks for new trials until `n_trials` have finished,
  scored by the spec's metric, pruned by its pruner.

A plan is made for one run, with that run's step cap: a finished trial counts as done only when
it was asked for at least the updates this run asks (`budget.py`), so a smoke run's trials never
stand in for a full run's, while a capped run may reuse full ones. The runner (`execute.py`,
`trials.py`), `status` and the results table call the same methods whatever the mode.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, Trial, TrialState

from cnnablate.budget import asked_steps, shortfall
from cnnablate.config import ExperimentConfig
from cnnablate.errors import UserError
from cnnablate.presets import recorded_preset
from cnnablate.runner.grid import (
    Cell,
    cell_config,
    cell_setup,
    check_cells,
    check_network,
    enumerate_cells,
    search_space,
)
from cnnablate.runner.packing import PackMode, group_key, groups_of, leading_run
from cnnablate.runner.schedule import start_order
from cnnablate.runner.spec import CategoricalParam, FloatParam, Spec, param_targets

GRID_METRIC = "test_acc"
ASKED = "asked_steps"  # user attr: the updates a trial was asked for (its budget under its cap)
CAP = "step_cap"  # user attr: the --max-steps cap it ran under
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
Setup = tuple[ExperimentConfig, int, str | None]  # config, seed, preset
Row = tuple[FrozenTrial, str | None]  # a trial of the results table and why it is short, if it is


def reach(trial: FrozenTrial) -> int | None:
    """The updates `trial` was asked for: recorded when it started, else in its result."""
    attrs = trial.user_attrs
    value = attrs.get(ASKED, (attrs.get("result") or {}).get("budget_steps"))
    return None if value is None else int(value)


def cap_of(trial: FrozenTrial) -> int | None:
    value = trial.user_attrs.get(CAP, (trial.user_attrs.get("result") or {}).get("step_cap"))
    return None if value is None else int(value)


def short_of(trial: FrozenTrial, asked: int) -> str | None:
    """Why a finished trial does not count for a run asking `asked` updates, else None."""
    return shortfall(reach(trial), cap_of(trial), asked)


class CellGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler over cells that the runner enqueues itself.

    Its `after_trial` only stops `study.optimize` (not used here) once the grid is done, and
    raises KeyError('grid_id') for a grid of one cell, since enqueued trials carry no grid id
    (optuna/optuna#6844); the runner knows from the storage when the grid is done.
    """

    def after_trial(self, study, trial, state, values) -> None:
        pass


class GridPlan:
    unit = "cells"

    def __init__(self, spec: Spec, step_cap: int | None = None) -> None:
        self.spec = spec
        self.step_cap = step_cap
        self.cells: list[Cell] = enumerate_cells(spec)
        self.metric = GRID_METRIC
        self.total = len(self.cells)

    @cached_property
    def asked(self) -> dict[str, int]:
        """Per cell key, the updates this run asks of it."""
        return {
            cell.key: asked_steps(cell_config(self.spec, cell.params), self.step_cap)
            for cell in self.cells
        }

    def asked_of(self, trial: FrozenTrial | Trial) -> int | None:
        return self.asked.get(trial.user_attrs.get("cell"))

    @cached_property
    def setups(self) -> dict[str, Setup]:
        """Per cell key, its config, seed and preset."""
        return {cell.key: cell_setup(self.spec, cell.params) for cell in self.cells}

    def group_of(self, cell: str | None, pack: PackMode) -> str | None:
        """The pack group of a cell's trials (`packing.group_key`)."""
        return group_key(cell, pack, lambda key: self.setups[key][::2])

    def counts(self, trial: FrozenTrial) -> bool:
        """A completed trial of a cell of this grid, asked for at least what this run asks."""
        asked = self.asked_of(trial)
        return (
            trial.state == TrialState.COMPLETE
            and asked is not None
            and short_of(trial, asked) is None
        )

    def done_trial(self, study: optuna.Study, cell: str) -> FrozenTrial | None:
        """The trial that stands for `cell` in this run: done, asked for the most updates."""
        done = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("cell") == cell and self.counts(t)
        ]
        return max(done, key=lambda t: (reach(t) or 0, t.number), default=None)

    def table_rows(self, study: optuna.Study) -> list[Row]:
        """One row per cell that has finished a trial: the trial done at this run's budget, else
        its latest finished trial with why it falls short (a FAIL says why in `failure`)."""
        by_cell: dict[str, list[FrozenTrial]] = {}
        for trial in study.get_trials(deepcopy=False, states=FINISHED):
            by_cell.setdefault(trial.user_attrs.get("cell"), []).append(trial)
        rows = []
        for cell in self.cells:
            trials = by_cell.get(cell.key, [])
            done = [t for t in trials if self.counts(t)]
            if done:
                rows.append((max(done, key=lambda t: (reach(t) or 0, t.number)), None))
            elif trials:
                latest = max(trials, key=lambda t: t.number)
                short = (
                    None
                    if latest.state == TrialState.FAIL
                    else short_of(latest, self.asked[cell.key])
                )
                rows.append((latest, short))
        return sorted(rows, key=lambda row: row[0].number)

    def distributions(self) -> dict[str, BaseDistribution]:
        return {k: CategoricalDistribution(v) for k, v in search_space(self.spec).items()}

    def attrs_for(self, params: dict[str, Any]) -> dict[str, str]:
        """The user attrs that tie a trial of these parameters to its cell."""
        cell = next((c for c in self.cells if c.params == params), None)
        if cell is None:
            raise UserError(f"{params} is no cell of spec '{self.spec.name}'")
        return {"cell": cell.key, "cell_slug": cell.slug}

    def status(self, study: optuna.Study) -> tuple[Counter, list[str]]:
        """Counts of done / short / running / failed / pending cells, and a line per cell."""
        states = self.cell_states(study)
        lines = [
            f"{state:<8} {key}" + (f"  ({why})" if why else "")
            for key, (state, why) in states.items()
        ]
        return Counter(state for state, _ in states.values()), lines

    def cell_states(self, study: optuna.Study) -> dict[str, tuple[str, str | None]]:
        """Per cell: done, running, short (finished below this run's budget, or cut off by a
        time limit), failed or pending, with why where it is short or failed."""
        by_cell: dict[str, list[FrozenTrial]] = {}
        for trial in study.get_trials(deepcopy=False):
            by_cell.setdefault(trial.user_attrs.get("cell"), []).append(trial)
        return {
            cell.key: self._cell_state(by_cell.get(cell.key, []), cell.key) for cell in self.cells
        }

    def _cell_state(self, trials: list[FrozenTrial], key: str) -> tuple[str, str | None]:
        if any(self.counts(t) for t in trials):
            return "done", None
        states = {t.state for t in trials}
        if TrialState.RUNNING in states:
            return "running", None
        finished = [t for t in trials if t.state in FINISHED]
        latest = max(finished, key=lambda t: t.number, default=None)
        if latest is None:
            return "pending", None
        if latest.state == TrialState.FAIL:
            failure = str(latest.user_attrs.get("failure") or "failed")
            if failure.startswith("interrupted"):
                return "short", failure.removeprefix("interrupted: ")
            return ("pending" if TrialState.WAITING in states else "failed"), failure
        return "short", short_of(latest, self.asked[key])

    def check(self) -> None:
        """Every cell's config and network build (before anything trains)."""
        check_cells(self.spec, self.cells)

    def sampler(self) -> optuna.samplers.BaseSampler:
        return CellGridSampler(search_space(self.spec), seed=0)

    def pruner(self) -> optuna.pruners.BasePruner:
        return optuna.pruners.NopPruner()

    def configs(self) -> list[ExperimentConfig]:
        return [cell_config(self.spec, cell.params) for cell in self.cells]

    def queue(self, study: optuna.Study, pack: PackMode = "none") -> int:
        """Enqueue every cell with no trial done at this run's budget, waiting or running (under
        the claim lock), in the order they should start (schedule.py: cut off first, then the
        longest; packing, the cells of a pack group next to each other, where the first of them
        would start); returns how many."""
        live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
        covered = {
            t.user_attrs.get("cell")
            for t in study.get_trials(deepcopy=False, states=live)
            if t.state != TrialState.COMPLETE or self.counts(t)
        }
        cut_off = {
            t.user_attrs.get("cell")
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if str(t.user_attrs.get("failure", "")).startswith("interrupted")
        }
        missing = [cell for cell in self.cells if cell.key not in covered]
        config_of = lambda cell: cell_config(self.spec, cell.params)  # noqa: E731
        ordered = start_order(missing, config_of, cut_off, self.step_cap)
        groups = groups_of(ordered, lambda cell: self.group_of(cell.key, pack))
        for cell in (cell for group in groups for cell in group):
            attrs = {"cell": cell.key, "cell_slug": cell.slug}
            study.enqueue_trial(cell.params, user_attrs=attrs)
        return len(missing)

    def open_work(self, study: optuna.Study) -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))

    def claimable(self, study: optuna.Study, pack: PackMode) -> int:
        """Trials to ask for now: the first waiting one and, when packing, the waiting ones of
        its pack group that follow it (Optuna hands them out in order), up to MAX_PACK."""
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        waiting.sort(key=lambda t: t.number)
        return leading_run([self.group_of(t.user_attrs.get("cell"), pack) for t in waiting])

    def pack_groups(self, trials: list[Trial], pack: PackMode) -> list[list[Trial]]:
        """Claimed trials in the packs they train in."""
        return groups_of(trials, lambda trial: self.group_of(trial.user_attrs.get("cell"), pack))

    def claimed(self, trial: Trial) -> bool:
        """False when another machine popped the last waiting trial between our look and our
        ask: the sampler then made a trial of no cell."""
        return "cell" in trial.user_attrs

    def setup(self, trial: Trial) -> Setup:
        space = search_space(self.spec)
        params = {key: trial.suggest_categorical(key, choices) for key, choices in space.items()}
        return cell_setup(self.spec, params)

    def callbacks(self, trial: Trial) -> list[Any]:
        return []


class SearchPlan:
    unit = "trials"

    def __init__(self, spec: Spec, step_cap: int | None = None) -> None:
        self.spec = spec
        self.step_cap = step_cap
        self.search = spec.model.optuna
        self.metric = self.search.metric
        self.total = self.search.n_trials

    def config_of(self, values: dict[str, Any]) -> ExperimentConfig:
        """The config of a trial that drew `values` from the search space."""
        overrides = {}
        for name, param in self.search.space.items():
            if name in values:
                overrides.update({key: values[name] for key in param_targets(name, param)})
        return self.spec.config_for({}, overrides)

    def asked_of(self, trial: FrozenTrial | Trial) -> int | None:
        return asked_steps(self.config_of(trial.params), self.step_cap)

    def counts(self, trial: FrozenTrial) -> bool:
        """A completed or pruned trial asked for at least what this run asks."""
        finished = trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
        return finished and short_of(trial, self.asked_of(trial)) is None

    def done_trial(self, study: optuna.Study, cell: str) -> FrozenTrial | None:
        return None  # no cells: every trial is its own

    def distributions(self) -> dict[str, BaseDistribution]:
        return {name: distribution(p) for name, p in self.search.space.items()}

    def attrs_for(self, params: dict[str, Any]) -> dict[str, str]:
        return {}

    def status(self, study: optuna.Study) -> tuple[Counter, list[str]]:
        """Trials done at this run's budget, short, running, failed and still to start."""
        trials = study.get_trials(deepcopy=False)
        done = sum(self.counts(t) for t in trials)
        counts = Counter(
            done=done,
            short=sum(t.state in FINISHED[:2] for t in trials) - done,
            running=sum(t.state == TrialState.RUNNING for t in trials),
            failed=sum(t.state == TrialState.FAIL for t in trials),
        )
        counts["pending"] = max(0, self.total - done - counts["running"])
        return counts, []

    def table_rows(self, study: optuna.Study) -> list[Row]:
        trials = sorted(study.get_trials(deepcopy=False, states=FINISHED), key=lambda t: t.number)
        failed = TrialState.FAIL
        return [(t, None if t.state == failed else short_of(t, self.asked_of(t))) for t in trials]

    def check(self) -> None:
        """The search space was checked with the spec; the base network must build."""
        check_network(self.spec, "base", self.config_of({}))

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

    def queue(self, study: optuna.Study, pack: PackMode = "none") -> int:
        return 0

    def done(self, study: optuna.Study) -> int:
        return sum(self.counts(t) for t in study.get_trials(deepcopy=False, states=FINISHED))

    def open_work(self, study: optuna.Study) -> int:
        return self.total - self.done(study)

    def claimable(self, study: optuna.Study, pack: PackMode) -> int:
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        return int(self.done(study) + running < self.total)

    def claimed(self, trial: Trial) -> bool:
        return True

    def setup(self, trial: Trial) -> Setup:
        values = {name: suggest(trial, name, param) for name, param in self.search.space.items()}
        config = self.config_of(values)
        return (
            config,
            self.spec.model.seeds[0],
            recorded_preset(self.spec.model.base.preset, config),
        )

    def callbacks(self, trial: Trial) -> list[Any]:
        if self.search.pruner == "none":
            return []
        from cnnablate.runner.pruning import OptunaPruning

        return [OptunaPruning(trial, monitor=self.metric.removeprefix("best_"))]

    def pack_groups(self, trials: list[Trial], pack: PackMode) -> list[list[Trial]]:
        return [[trial] for trial in trials]


Plan = GridPlan | SearchPlan


def make_plan(spec: Spec, step_cap: int | None = None) -> Plan:
    """The plan of a run of `spec` under `step_cap` (None: the full budget)."""
    kind = GridPlan if spec.model.mode == "grid" else SearchPlan
    return kind(spec, step_cap)


def distribution(param: Any) -> BaseDistribution:
    if isinstance(param, CategoricalParam):
        return CategoricalDistribution(param.choices)
    kind = FloatDistribution if isinstance(param, FloatParam) else IntDistribution
    return kind(param.low, param.high, log=param.log)


def suggest(trial: Trial, key: str, param: Any) -> Any:
    if isinstance(param, CategoricalParam):
        return trial.suggest_categorical(key, param.choices)
    if isinstance(param, FloatParam):
        return trial.suggest_float(key, param.low, param.high, log=param.log)
    return trial.suggest_int(key, param.low, param.high, log=param.log)
