"""Optuna's pruning, wired into Lightning with its documented `report` / `should_prune` pattern.

optuna-integration's `PyTorchLightningPruningCallback` imports `lightning.pytorch`, a second
Lightning distribution beside the `pytorch_lightning` that trains here; mixing the two breaks
across versions ("Expected a parent"). This callback is the same few lines on ours.
"""

from __future__ import annotations

import optuna
import pytorch_lightning as pl


class OptunaPruning(pl.Callback):
    """After each validation, report `monitor` to the trial at the epoch; stop when it prunes."""

    def __init__(self, trial: optuna.trial.Trial, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch}: {self.monitor} {float(value):.4f}")
