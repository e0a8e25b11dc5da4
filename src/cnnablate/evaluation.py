"""The one evaluation path of a run: the module's own evaluation steps and metrics
(`Classifier.validation_step`/`test_step`, `EvalTotals`) in a Trainer's `validate` or `test`,
for the validation rows Lightning runs in training and the final metrics alike."""

from __future__ import annotations

import csv
import io
import time
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
import torch

from cnnablate.data.batches import EvalBatches
from cnnablate.module import Classifier

if TYPE_CHECKING:
    from cnnablate.data import TensorDataModule


class EvalTimer(pl.Callback):
    """Samples/s of the first loader of a `trainer.test`, all its batches timed, after an untimed
    warm-up forward pass of `warmup`."""

    def __init__(self, warmup: torch.Tensor | None = None) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None
        self.samples = 0

    def _now(self, module: pl.LightningModule) -> float:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)
        return time.perf_counter()

    def on_test_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.warmup is not None:
            module(self.warmup.to(module.device))

    def on_test_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0) -> None:
        if dataloader_idx == 0 and batch_idx == 0:
            self.start = self._now(module)

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
        if dataloader_idx == 0:
            self.end = self._now(module)
            self.samples += len(batch[1])

    @property
    def samples_per_s(self) -> float | None:
        if self.start is None or self.end is None or self.end <= self.start:
            return None
        return self.samples / (self.end - self.start)


def eval_trainer(
    accelerator: str, progress_bar: bool = False, callbacks: list[pl.Callback] | None = None
) -> pl.Trainer:
    """A Trainer for `validate` and `test` alone: no logger, checkpoints or summary; a progress
    bar only if asked."""
    return pl.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress_bar,
        deterministic=accelerator == "cpu",
        callbacks=callbacks or [],
    )


def evaluate(
    module: Classifier,
    splits: dict[str, EvalBatches],
    accelerator: str,
    stage: str = "test",
    progress_bar: bool = False,
) -> tuple[list[dict[str, float]], float | None]:
    """Each copy's loss and accuracy on `splits` through the module's own evaluation steps and
    metrics, in `trainer.test` (or `trainer.validate`, `stage="validate"`): per copy
    `{f"{split}_loss": ..., f"{split}_acc": ...}`; and the samples/s of the first split (test
    stage only, after an untimed warm-up pass of its first batch; else None). Logs nothing, and
    adds nothing to the histories; the module ends on the trainer's device."""
    loaders = list(splits.values())
    timer = EvalTimer(next(iter(loaders[0]))[0] if stage == "test" else None)
    trainer = eval_trainer(accelerator, progress_bar, [timer])
    module.eval_split_names = list(splits)
    try:
        if stage == "test":
            trainer.test(module, dataloaders=loaders, verbose=False)
        else:
            trainer.validate(module, dataloaders=loaders, verbose=False)
    finally:
        module.eval_split_names = None
        # Lightning hands the module back on the CPU; the run's later steps use the data's device.
        module.to(trainer.strategy.root_device)
    return [dict(metrics) for metrics in module.last_eval], timer.samples_per_s


def completed_histories(
    module: Classifier,
    datamodule: TensorDataModule,
    epochs: int,
    accelerator: str,
    progress_bar: bool = False,
) -> list[list[dict]]:
    """Each copy's validation history, ending at its last update: a run whose last epoch was not
    validated (a step cap between validations) gets a final row, evaluated only then."""
    histories = [list(history) for history in module.histories]
    unvalidated = [
        copy
        for copy, history in enumerate(histories)
        if module.diverged[copy] is None and (not history or history[-1]["step"] != module.updates)
    ]
    if unvalidated:
        finals = final_rows(module, datamodule, epochs, accelerator, progress_bar)
        for copy in unvalidated:
            histories[copy].append(finals[copy])
    return histories


def final_rows(
    module: Classifier,
    datamodule: TensorDataModule,
    epochs: int,
    accelerator: str,
    progress_bar: bool = False,
) -> list[dict]:
    """Each copy's row at its last update: its validation splits through `trainer.validate`."""
    splits = {name: datamodule.eval_batches(name) for name in datamodule.eval_split_names()}
    evaluated, _ = evaluate(module, splits, accelerator, "validate", progress_bar)
    return [{"epoch": epochs, "step": module.updates, **metrics} for metrics in evaluated]


def metrics_csv(history: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def best_validation(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The lecture's rule: the test accuracy at the (first) epoch of best validation accuracy."""
    rows = [row for row in history if row.get("val_acc") is not None]
    if not rows:
        return {"best_val_acc": None, "best_epoch": None, "test_acc_at_best_val": None}
    best = max(rows, key=lambda row: row["val_acc"])
    return {
        "best_val_acc": best["val_acc"],
        "best_epoch": best["epoch"],
        "test_acc_at_best_val": best.get("test_acc"),
    }
