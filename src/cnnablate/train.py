"""One training run: config + seed → Lightning Trainer → `result.json` and `metrics.csv`."""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.loggers import CSVLogger

from cnnablate.atomic import write_json, write_text
from cnnablate.callbacks import (
    RESUME_FILE,
    PlainProgress,
    ResumeCheckpoint,
    ThroughputMeter,
    resumable_state,
    resume_meta,
)
from cnnablate.checkpoints import best_checkpoint, offer_final_weights
from cnnablate.config import ExperimentConfig
from cnnablate.data import TensorDataModule, build_datamodule
from cnnablate.data.batches import EvalBatches, to_float
from cnnablate.errors import Interrupted, UserError
from cnnablate.flops import training_flops_per_sample
from cnnablate.machine import describe_device, running_commit, versions
from cnnablate.models import count_params
from cnnablate.module import Classifier

# Lightning's advice about logging intervals and a torch deprecation inside Lightning: noise here.
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")

Progress = Literal["bar", "lines", "off"]


@torch.no_grad()
def evaluate(module: Classifier, batches: EvalBatches) -> list[dict[str, float]]:
    """Loss, accuracy and samples/s of each copy of `module` on a split (one warm-up batch
    not timed)."""
    module.eval()
    device = module.device
    module(next(iter(batches))[0].to(device))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    loss_sum = torch.zeros(module.copies, device=device, dtype=torch.float64)
    correct = torch.zeros(module.copies, device=device, dtype=torch.long)
    n = 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        z = module.per_copy(module(x))
        loss_sum += torch.stack([module.loss_fn(z[c], y) for c in range(module.copies)]) * len(y)
        correct += (z.argmax(-1) == y).sum(-1)
        n += len(y)
    seconds = time.perf_counter() - start
    return [
        {"loss": loss.item() / n, "acc": hits.item() / n, "samples_per_s": n / seconds}
        for loss, hits in zip(loss_sum, correct, strict=True)
    ]


def resolve_accelerator(accelerator: str) -> str:
    if accelerator == "gpu" and not torch.cuda.is_available():
        raise UserError("--accelerator gpu: no CUDA GPU is available here; allowed: auto, cpu")
    if accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return accelerator


def budget_updates(config: ExperimentConfig, batches_per_epoch: int) -> int:
    train = config.train
    return train.max_steps if train.max_steps is not None else train.max_epochs * batches_per_epoch


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


def set_memory_format(module: Classifier, memory_format: str, accelerator: str) -> None:
    """Put 2-D conv weights in channels_last where asked (auto: on the CPU); the activations
    follow the weights' layout. Other tensors, and packed (5-D) weights, are left as they are."""
    if memory_format == "channels_last" or (memory_format == "auto" and accelerator == "cpu"):
        for param in module.net.parameters():
            if param.dim() == 4:
                param.data = param.data.contiguous(memory_format=torch.channels_last)


def build_trainer(
    config: ExperimentConfig,
    accelerator: str,
    max_epochs: int,
    out_dir: Path,
    callbacks: list[pl.Callback],
    progress: Progress,
) -> pl.Trainer:
    checkpointing = any(isinstance(c, Checkpoint) for c in callbacks)
    return pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_epochs=max_epochs,
        check_val_every_n_epoch=config.train.eval_every_epochs,
        num_sanity_val_steps=0,
        # An epoch's length in blocks varies (a capped last epoch is shorter): Lightning reads it
        # anew each epoch, so that every epoch, the last included, ends with its validation.
        reload_dataloaders_every_n_epochs=1,
        logger=CSVLogger(out_dir, name="lightning_logs"),
        enable_checkpointing=checkpointing,
        enable_model_summary=False,
        enable_progress_bar=progress == "bar",
        deterministic=accelerator == "cpu",
        callbacks=callbacks,
    )


def completed_histories(
    module: Classifier, datamodule: TensorDataModule, epochs: int
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
        finals = final_rows(module, datamodule, epochs)
        for copy in unvalidated:
            histories[copy].append(finals[copy])
    return histories


def final_rows(module: Classifier, datamodule: TensorDataModule, epochs: int) -> list[dict]:
    rows: list[dict[str, Any]] = [
        {"epoch": epochs, "step": module.updates} for _ in range(module.copies)
    ]
    for split in datamodule.eval_split_names():
        for row, result in zip(rows, evaluate(module, datamodule.eval_batches(split)), strict=True):
            row[f"{split}_loss"], row[f"{split}_acc"] = result["loss"], result["acc"]
    return rows


def train(
    config: ExperimentConfig,
    seed: int = 0,
    out_dir: Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train `config` with `seed`; write `result.json` and `metrics.csv` into `out_dir`.

    Options as for `train_seeds`.
    """
    out_dir = Path(out_dir or Path("runs") / (options.get("preset") or "custom") / f"seed{seed}")
    return train_seeds(config, [seed], [out_dir], **options)[0]


def train_seeds(
    config: ExperimentConfig,
    seeds: list[int],
    out_dirs: list[Path],
    accelerator: str = "auto",
    data_dir: Path | None = None,
    preset: str | None = None,
    callbacks: list[pl.Callback] | None = None,
    progress: Progress | None = None,
    step_cap: int | None = None,
    checkpoint: bool = False,
    deadline: float | None = None,
    label: str | None = None,
) -> list[dict[str, Any]]:
    """Train `config` once per seed, several seeds packed into one module when more than one.

    Each seed gets its own `result.json` and `metrics.csv` in its `out_dirs` entry. A packed run
    gives each seed the initialisation and data order it would have alone; `train_samples_per_s`
    counts the samples of all seeds (`pack_size` says how many). `step_cap` caps the budget in
    SGD updates (smoke runs); the result records it. `progress`: Lightning's bar, a line per
    evaluation, or nothing (default: the bar on a terminal, lines otherwise). `checkpoint` keeps
    each seed's best weights as a Lightning checkpoint `best.ckpt` in its folder (`BestWeights`).

    The run saves its whole state to `out_dirs[0]/resume.ckpt` every `train.checkpoint_every`
    and resumes from it when started again with the same config, seeds and cap. Given a
    `deadline` (a `time.time()`), it stops at the last epoch end before it, saves, and raises
    `Interrupted`; the file is removed when the run completes.
    """
    started = time.perf_counter()
    commit = running_commit()  # the code this process loaded, not HEAD when the run ends
    accelerator = resolve_accelerator(accelerator)
    out_dirs = [Path(d) for d in out_dirs]
    packed = len(seeds) > 1
    pl.seed_everything(seeds[0], verbose=False)
    datamodule = build_datamodule(
        config.data, seeds if packed else seeds[0], data_dir, config.train.steps_per_block
    )
    datamodule.prepare()
    updates = budget_updates(config, datamodule.batches_per_epoch)
    if step_cap is not None:
        updates = min(updates, step_cap)
    datamodule.max_updates = updates
    max_epochs = math.ceil(updates / datamodule.batches_per_epoch)
    module = Classifier(
        config, datamodule.input_shape, datamodule.num_train, seeds=seeds if packed else None
    )
    set_memory_format(module, config.train.memory_format, accelerator)
    pl.seed_everything(seeds[0], verbose=False)  # dropout streams start as in a lone run
    meter = ThroughputMeter()
    if progress is None:
        progress = "bar" if sys.stderr.isatty() else "lines"
    callbacks = [meter, *(callbacks or [])]
    best = best_checkpoint(datamodule, out_dirs, seeds) if checkpoint else None
    if best is not None:
        callbacks.append(best)
    if progress == "lines":
        callbacks.append(PlainProgress(label or preset or "run", updates))
    meta = resume_meta(config, seeds, step_cap)
    resume_path = out_dirs[0] / RESUME_FILE
    saver = ResumeCheckpoint(
        resume_path,
        config.train.checkpoint_every_updates,
        config.train.checkpoint_every_s,
        deadline,
        meta,
    )
    callbacks.append(saver)
    trainer = build_trainer(config, accelerator, max_epochs, out_dirs[0], callbacks, progress)
    resume_from = resumable_state(resume_path, meta)
    if best is not None and resume_from is None:
        for path in best.paths:  # an earlier run's, which this run might not better
            path.unlink(missing_ok=True)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=False)
    # Lightning hands a GPU module back on the CPU; the final evaluations run where the data is.
    module.to(trainer.strategy.root_device)
    if saver.interrupted:
        raise Interrupted(
            f"stopped by its time limit after epoch {trainer.current_epoch} "
            f"({module.updates} of {updates} updates); its state is in {resume_path}"
        )
    tests = evaluate(module, datamodule.eval_batches("test"))
    trains = evaluate(module, EvalBatches(*_train_tensors(datamodule), 10_000))
    shared = {
        "preset": preset,
        "pack_size": len(seeds),
        "params": count_params(module.net) // module.copies,
        "train_samples_per_s": meter.samples_per_s,
        **flops_figures(module, datamodule, meter.samples_per_s),
        "eval_samples_per_s": tests[0]["samples_per_s"] * module.copies,
        "steps": module.updates,
        "budget_steps": updates,
        "step_cap": step_cap,
        "epochs": trainer.current_epoch,
        "wall_s": time.perf_counter() - started,
        "device": describe_device(module.device),
        "accelerator": accelerator,
        "update_path": module.update_path,
        "update_fallback": module.update_fallback,
        "versions": versions(),
        "commit": commit,
        "hostname": platform.node(),
        "pid": os.getpid(),
        "config": config.model_dump(),
    }
    histories = completed_histories(module, datamodule, trainer.current_epoch)
    if best is not None:
        offer_final_weights(best, module, histories)
    results = []
    for copy, seed in enumerate(seeds):
        history = histories[copy]
        diverged = module.diverged[copy] is not None
        result = {
            "status": "diverged" if diverged else "ok",
            "diverged_at_step": module.diverged[copy],
            "seed": seed,
            "test_acc": tests[copy]["acc"],
            "test_error": 1.0 - tests[copy]["acc"],
            "test_loss": tests[copy]["loss"],
            **best_validation(history),
            "train_acc": trains[copy]["acc"],
            "train_loss": trains[copy]["loss"],
            **shared,
        }
        write_text(out_dirs[copy] / "metrics.csv", metrics_csv(history))
        write_json(out_dirs[copy] / "result.json", result)
        results.append(result)
    resume_path.unlink(missing_ok=True)
    return results


def flops_figures(module: Classifier, datamodule: TensorDataModule, rate: float | None) -> dict:
    """Training FLOPs per sample of one network (one counted step), and the FLOP/s achieved
    (all copies of a packed module together)."""
    x, y = _train_tensors(datamodule)
    batch = datamodule.config.batch_size
    net = module.net.unpack(0) if module.packed else module.net
    net.train()
    per_sample = training_flops_per_sample(net, module.loss_fn, to_float(x[:batch]), y[:batch])
    return {
        "train_flops_per_sample": per_sample,
        "achieved_flops_per_s": per_sample * rate if rate else None,
    }


def _train_tensors(datamodule: TensorDataModule) -> tuple[torch.Tensor, torch.Tensor]:
    train = datamodule.splits["train"]
    return train.x, train.y
