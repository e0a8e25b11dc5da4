"""Live logging of a run, one logger set per seed: a Lightning callback that logs each copy's
new history rows at its update count, its hyperparameters once and its final figures, and
ends each logger's run as the training ended (`loggers.py` makes the loggers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl

from cnnablate.config import ExperimentConfig
from cnnablate.errors import Interrupted
from cnnablate.loggers import (
    LogTarget,
    SeedRun,
    finish_logger,
    flat_params,
    make_logger,
    run_id_of,
    seed_runs,
)
from cnnablate.train_options import TrainOptions

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

# The result's figures logged when the run ends, as `final/KEY` at its last update: `train_acc`
# there is the final weights' on the whole training split, not an epoch's running mean.
FINAL_KEYS = (
    "test_acc",
    "test_error",
    "test_loss",
    "train_acc",
    "train_loss",
    "best_val_acc",
    "best_epoch",
    "test_acc_at_best_val",
    "diverged_at_step",
    "steps",
    "epochs",
    "params",
    "train_samples_per_s",
    "wall_s",
)


class SeedLoggers(pl.Callback):
    """The loggers of every copy (seed) of a module, each copy its own run.

    Rows are logged at each epoch end after its validation (`on_train_epoch_end`), the run's
    last row and its final figures when the run is summarised (`summarised`). Which rows are
    logged and which runs they went to is part of the saved training state, so a resumed run
    goes on in the same runs without logging a row twice.
    """

    def __init__(self, names: Sequence[str], runs: list[SeedRun], params: list[dict]) -> None:
        self.names, self.runs, self.params = tuple(names), runs, params
        self.logged = [0] * len(runs)  # history rows logged, per copy
        self.run_ids: list[dict[str, str]] = [{} for _ in runs]  # per copy: logger -> run
        self.sets: list[dict[str, Logger]] = []

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.open()
        self.log_rows(module.histories)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.log_rows(module.histories)

    def open(self) -> None:
        """Start (or resume) each copy's runs; a new run gets its hyperparameters."""
        for run, ids, params in zip(self.runs, self.run_ids, self.params, strict=True):
            loggers = {}
            for name in self.names:
                loggers[name] = make_logger(name, run, ids.get(name))
                if name not in ids:
                    loggers[name].log_hyperparams(params)
                    ids[name] = run_id_of(name, loggers[name])
            self.sets.append(loggers)

    def log_rows(self, histories: list[list[dict[str, Any]]]) -> None:
        if not self.sets:
            self.open()
        for copy, history in enumerate(histories):
            for row in history[self.logged[copy] :]:
                metrics = {k: v for k, v in row.items() if k != "step" and v is not None}
                for logger in self.sets[copy].values():
                    logger.log_metrics(metrics, step=row["step"])
            self.logged[copy] = len(history)

    def summarised(self, histories: list[list[dict]], results: list[dict[str, Any]]) -> None:
        """The rows the fit left unlogged (a last evaluation after it) and the final figures."""
        self.log_rows(histories)
        for loggers, result in zip(self.sets, results, strict=True):
            finals = {
                f"final/{k}": float(result[k]) for k in FINAL_KEYS if result.get(k) is not None
            }
            for logger in loggers.values():
                logger.log_metrics(finals, step=result["steps"])

    def close(self, status: str) -> None:
        for loggers in self.sets:
            for name, logger in loggers.items():
                finish_logger(name, logger, status)
        self.sets = []

    def state_dict(self) -> dict[str, Any]:
        return {"logged": list(self.logged), "run_ids": [dict(ids) for ids in self.run_ids]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logged, self.run_ids = list(state["logged"]), [dict(i) for i in state["run_ids"]]


def seed_params(config: ExperimentConfig, seed: int, options: TrainOptions) -> dict[str, Any]:
    target = options.log_to or LogTarget()
    preset = {"preset": options.preset} if options.preset else {}
    return {**preset, "seed": seed, **target.params, **flat_params(config.model_dump())}


def stop_status(error: BaseException) -> str:
    """`killed` for a run stopped to be resumed (its time limit, Ctrl-C) or pruned by Optuna,
    else `failed`."""
    optuna = sys.modules.get("optuna")  # not imported: nothing was pruned
    stopped = (Interrupted, KeyboardInterrupt, *([optuna.TrialPruned] if optuna else []))
    return "killed" if isinstance(error, stopped) else "failed"


@contextmanager
def seed_logging(
    configs: Sequence[ExperimentConfig],
    seeds: list[int],
    out_dirs: list[Path],
    options: TrainOptions,
) -> Iterator[TrainOptions]:
    """The options with each seed's loggers among the callbacks (unchanged without loggers),
    each logging its own config; their runs end when the block does, as it ended."""
    if not options.loggers:
        yield options
        return
    runs = seed_runs(options.log_to or LogTarget(), out_dirs, options.preset)
    params = [seed_params(c, seed, options) for c, seed in zip(configs, seeds, strict=True)]
    live = SeedLoggers(options.loggers, runs, params)
    try:
        yield replace(options, callbacks=[*options.callbacks, live])
    except BaseException as error:
        live.close(stop_status(error))
        raise
    live.close("success")


def log_summary(options: TrainOptions, histories: list[list[dict]], results: list[dict]) -> None:
    """Tell the run's loggers, if any, its final histories and results."""
    for callback in options.callbacks:
        if isinstance(callback, SeedLoggers):
            callback.summarised(histories, results)
